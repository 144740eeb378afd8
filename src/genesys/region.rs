//! Region codes to API and login URLs (SPEC 8.1).

// `Error` is the public, structured error of the client (HTTP status, Genesys code,
// message, ids); it is returned rarely, so its size is not worth boxing it.
#![allow(clippy::result_large_err)]

use super::{Endpoint, Error, Result};

/// Genesys Cloud regions: AWS-style code and the org domain.
pub const REGIONS: [(&str, &str); 18] = [
    ("us-east-1", "mypurecloud.com"),
    ("us-east-2", "use2.us-gov-pure.cloud"),
    ("us-west-2", "usw2.pure.cloud"),
    ("ca-central-1", "cac1.pure.cloud"),
    ("eu-west-1", "mypurecloud.ie"),
    ("eu-west-2", "euw2.pure.cloud"),
    ("eu-central-1", "mypurecloud.de"),
    ("eu-central-2", "euc2.pure.cloud"),
    ("mx-central-1", "mxc1.pure.cloud"),
    ("ap-southeast-2", "mypurecloud.com.au"),
    ("ap-northeast-1", "mypurecloud.jp"),
    ("ap-northeast-2", "apne2.pure.cloud"),
    ("ap-northeast-3", "apne3.pure.cloud"),
    ("ap-south-1", "aps1.pure.cloud"),
    ("ap-southeast-1", "apse1.pure.cloud"),
    ("sa-east-1", "sae1.pure.cloud"),
    ("me-central-1", "mec1.pure.cloud"),
    ("eusc-de-east-1", "edee1.eusc-pure.cloud"),
];

/// The endpoint of a region code such as `us-east-1` (case and surrounding blanks ignored).
pub fn endpoint_for_region(code: &str) -> Result<Endpoint> {
    let wanted = code.trim().to_ascii_lowercase();
    match REGIONS.iter().find(|(c, _)| *c == wanted) {
        Some((_, domain)) => Ok(Endpoint {
            api_url: format!("https://api.{domain}"),
            token_url: format!("https://login.{domain}/oauth/token"),
        }),
        None => Err(Error::UnknownRegion(
            code.to_string(),
            REGIONS
                .iter()
                .map(|(c, _)| *c)
                .collect::<Vec<_>>()
                .join(", "),
        )),
    }
}

/// The endpoint for an explicit API URL: a host `api.<domain>` logs in at
/// `https://login.<domain>/oauth/token`; any other host (an emulator, a gateway) at
/// `<api-url>/oauth/token`.
pub fn endpoint_for_api_url(api_url: &str) -> Endpoint {
    let api_url = api_url.trim().trim_end_matches('/').to_string();
    let (scheme, rest) = match api_url.split_once("://") {
        Some((s, r)) => (s, r),
        None => ("https", api_url.as_str()),
    };
    // The authority ends at the first '/', '?' or '#'; user info and port are not the host.
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let token_url = match host_port.strip_prefix("api.") {
        Some(domain_port) if !domain_port.is_empty() => {
            format!("{scheme}://login.{domain_port}/oauth/token")
        }
        _ => format!("{api_url}/oauth/token"),
    };
    Endpoint { api_url, token_url }
}

/// An `--api-url` (or `apiUrl`, `GENESYSCLOUD_API_URL`) as given by a user: its
/// endpoint, and the URL without anything secret, which names the target in the
/// lockfile, plan files and audit log. Credentials or tokens in the URL (user info, a
/// query, a fragment) are refused: they would persist in those files. The error shows
/// the URL with those parts masked.
pub fn checked_api_url(raw: &str) -> std::result::Result<(String, Endpoint), String> {
    let trimmed = raw.trim();
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_string()
    } else {
        format!("https://{trimmed}")
    };
    let url = reqwest::Url::parse(&with_scheme)
        .map_err(|e| format!("--api-url is not a valid URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "--api-url must be an http or https URL, not {}:",
            url.scheme()
        ));
    }
    let host = url.host_str().unwrap_or_default();
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = url.path().trim_end_matches('/');
    let clean = format!("{}://{host}{port}{path}", url.scheme());
    let mut found = Vec::new();
    if !url.username().is_empty() || url.password().is_some() {
        found.push("user info (user:password@)");
    }
    if url.query().is_some() {
        found.push("a query (?…)");
    }
    if url.fragment().is_some() {
        found.push("a fragment (#…)");
    }
    if !found.is_empty() {
        return Err(format!(
            "--api-url {clean} (shown without them) carries {}: credentials and tokens \
belong in GENESYSCLOUD_OAUTHCLIENT_ID/SECRET or GENESYSCLOUD_ACCESS_TOKEN, never in the \
URL, which is written to the lockfile, plan files and audit log",
            found.join(" and ")
        ));
    }
    Ok((clean.clone(), endpoint_for_api_url(&clean)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_lists_every_region() {
        use clap::CommandFactory;
        let mut cmd = crate::cli::Cli::command();
        cmd.build();
        let help = cmd
            .find_subcommand_mut("plan")
            .map(|c| c.render_long_help().to_string())
            .unwrap_or_default();
        for (code, _) in REGIONS {
            assert!(help.contains(code), "{code} missing from `plan --help`");
        }
    }

    #[test]
    fn api_urls_with_credentials_are_refused_without_echoing_them() {
        for raw in [
            "https://user:hunter2@api.example.com",
            "https://api.example.com/?access_token=tok-123",
            "https://api.example.com/#tok-123",
        ] {
            let e = checked_api_url(raw).unwrap_err();
            assert!(!e.contains("hunter2") && !e.contains("tok-123"), "{e}");
            assert!(e.contains("https://api.example.com"), "{e}");
        }
        let (name, endpoint) = checked_api_url("http://127.0.0.1:8080/").unwrap();
        assert_eq!(name, "http://127.0.0.1:8080");
        assert_eq!(endpoint.api_url, "http://127.0.0.1:8080");
        assert!(checked_api_url("ftp://x").is_err());
    }

    #[test]
    fn every_region_maps_to_api_and_login_hosts() {
        let e = endpoint_for_region("us-east-1").unwrap();
        assert_eq!(e.api_url, "https://api.mypurecloud.com");
        assert_eq!(e.token_url, "https://login.mypurecloud.com/oauth/token");
        let e = endpoint_for_region("eusc-de-east-1").unwrap();
        assert_eq!(e.api_url, "https://api.edee1.eusc-pure.cloud");
        assert_eq!(
            e.token_url,
            "https://login.edee1.eusc-pure.cloud/oauth/token"
        );
        let e = endpoint_for_region(" AP-SOUTHEAST-2 ").unwrap();
        assert_eq!(e.api_url, "https://api.mypurecloud.com.au");
        for (code, domain) in REGIONS {
            let e = endpoint_for_region(code).unwrap();
            assert_eq!(e.api_url, format!("https://api.{domain}"));
            assert_eq!(e.token_url, format!("https://login.{domain}/oauth/token"));
        }
    }

    #[test]
    fn unknown_region_lists_the_known_codes() {
        let e = endpoint_for_region("mars-north-1").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("mars-north-1"), "{msg}");
        assert!(
            msg.contains("us-east-1") && msg.contains("eusc-de-east-1"),
            "{msg}"
        );
    }

    #[test]
    fn api_host_gets_the_login_host() {
        let e = endpoint_for_api_url("https://api.mypurecloud.ie/");
        assert_eq!(e.api_url, "https://api.mypurecloud.ie");
        assert_eq!(e.token_url, "https://login.mypurecloud.ie/oauth/token");
        let e = endpoint_for_api_url("https://api.example.test:8443");
        assert_eq!(e.token_url, "https://login.example.test:8443/oauth/token");
    }

    #[test]
    fn other_hosts_log_in_under_the_api_url() {
        let e = endpoint_for_api_url("http://127.0.0.1:4567");
        assert_eq!(e.api_url, "http://127.0.0.1:4567");
        assert_eq!(e.token_url, "http://127.0.0.1:4567/oauth/token");
        let e = endpoint_for_api_url("https://gateway.example.com/genesys/");
        assert_eq!(e.api_url, "https://gateway.example.com/genesys");
        assert_eq!(
            e.token_url,
            "https://gateway.example.com/genesys/oauth/token"
        );
        // "api" must be a whole first label.
        let e = endpoint_for_api_url("https://apis.example.com");
        assert_eq!(e.token_url, "https://apis.example.com/oauth/token");
    }
}
