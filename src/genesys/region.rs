//! Region codes to API and login URLs (SPEC 8.1). (Stub: filled in by the client issue.)

use super::{Endpoint, Error, Result};

/// The endpoint of a region code such as `us-east-1`.
pub fn endpoint_for_region(code: &str) -> Result<Endpoint> {
    Err(Error::UnknownRegion(code.to_string(), String::new()))
}

/// The endpoint for an explicit API URL (token URL derived per SPEC 8.1).
pub fn endpoint_for_api_url(api_url: &str) -> Endpoint {
    let api_url = api_url.trim_end_matches('/').to_string();
    Endpoint { token_url: format!("{api_url}/oauth/token"), api_url }
}
