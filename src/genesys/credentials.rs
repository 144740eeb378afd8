//! Credentials from the environment (SPEC section 2). (Stub: filled in by the client issue.)

use super::{Credentials, Error, Result};

/// Reads credentials from the environment. `id_var`/`secret_var` override the
/// default variable names (per-target names from speechops.yaml).
pub fn credentials_from_env(id_var: Option<&str>, secret_var: Option<&str>) -> Result<Credentials> {
    let _ = (id_var, secret_var);
    Err(Error::MissingCredentials)
}
