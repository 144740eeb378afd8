//! Credentials from the environment (SPEC section 2). Never from flags or files.

// `Error` is the public, structured error of the client (HTTP status, Genesys code,
// message, ids); it is returned rarely, so its size is not worth boxing it.
#![allow(clippy::result_large_err)]

use super::{Credentials, Error, Result, Secret};

/// The variable names the Genesys Terraform provider uses.
pub const CLIENT_ID_VAR: &str = "GENESYSCLOUD_OAUTHCLIENT_ID";
pub const CLIENT_SECRET_VAR: &str = "GENESYSCLOUD_OAUTHCLIENT_SECRET";
pub const ACCESS_TOKEN_VAR: &str = "GENESYSCLOUD_ACCESS_TOKEN";
/// The origin tutorial's names, accepted as aliases.
pub const ALIAS_CLIENT_ID_VAR: &str = "GENESYS_CLIENT_ID";
pub const ALIAS_CLIENT_SECRET_VAR: &str = "GENESYS_CLIENT_SECRET";

/// Reads credentials from the environment. `id_var`/`secret_var` override the
/// default variable names (per-target names from speechops.yaml).
///
/// Order: the per-target pair when given; else `GENESYSCLOUD_OAUTHCLIENT_ID`/`_SECRET`;
/// else `GENESYS_CLIENT_ID`/`_SECRET`; else `GENESYSCLOUD_ACCESS_TOKEN`. Empty values
/// count as unset; an id without its secret (or the reverse) is an error naming the
/// missing variable rather than a silent fall-through to another pair.
pub fn credentials_from_env(id_var: Option<&str>, secret_var: Option<&str>) -> Result<Credentials> {
    credentials_from(id_var, secret_var, &|name| std::env::var(name).ok())
}

/// [`credentials_from_env`] over any variable lookup (tests use a map).
pub fn credentials_from(
    id_var: Option<&str>,
    secret_var: Option<&str>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Credentials> {
    let get = |name: &str| {
        lookup(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };

    if id_var.is_some() || secret_var.is_some() {
        let id_name = id_var.unwrap_or(CLIENT_ID_VAR);
        let secret_name = secret_var.unwrap_or(CLIENT_SECRET_VAR);
        return match pair(&get, id_name, secret_name)? {
            Some(c) => Ok(c),
            None => Err(Error::Credentials(format!(
                "no Genesys credentials for this target: set {id_name} and {secret_name} \
(named by the target in speechops.yaml)"
            ))),
        };
    }
    if let Some(c) = pair(&get, CLIENT_ID_VAR, CLIENT_SECRET_VAR)? {
        return Ok(c);
    }
    if let Some(c) = pair(&get, ALIAS_CLIENT_ID_VAR, ALIAS_CLIENT_SECRET_VAR)? {
        return Ok(c);
    }
    if let Some(token) = get(ACCESS_TOKEN_VAR) {
        return Ok(Credentials::AccessToken(Secret::new(token)));
    }
    Err(Error::MissingCredentials)
}

/// Both halves of a client-credentials pair, nothing, or an error naming the missing half.
fn pair(
    get: &dyn Fn(&str) -> Option<String>,
    id_name: &str,
    secret_name: &str,
) -> Result<Option<Credentials>> {
    match (get(id_name), get(secret_name)) {
        (Some(client_id), Some(secret)) => Ok(Some(Credentials::ClientCredentials {
            client_id,
            client_secret: Secret::new(secret),
        })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(Error::Credentials(format!(
            "{id_name} is set but {secret_name} is not: set both (the client id and its secret)"
        ))),
        (None, Some(_)) => Err(Error::Credentials(format!(
            "{secret_name} is set but {id_name} is not: set both (the client id and its secret)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn with(vars: &[(&str, &str)], id: Option<&str>, secret: Option<&str>) -> Result<Credentials> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        credentials_from(id, secret, &move |k| map.get(k).cloned())
    }

    fn client(c: Credentials) -> (String, String) {
        match c {
            Credentials::ClientCredentials {
                client_id,
                client_secret,
            } => (client_id, client_secret.expose().to_string()),
            Credentials::AccessToken(_) => panic!("expected client credentials"),
        }
    }

    #[test]
    fn terraform_names_win_over_aliases_and_token() {
        let c = with(
            &[
                (CLIENT_ID_VAR, "a"),
                (CLIENT_SECRET_VAR, "b"),
                (ALIAS_CLIENT_ID_VAR, "c"),
                (ALIAS_CLIENT_SECRET_VAR, "d"),
                (ACCESS_TOKEN_VAR, "t"),
            ],
            None,
            None,
        )
        .unwrap();
        assert_eq!(client(c), ("a".into(), "b".into()));
    }

    #[test]
    fn aliases_then_token() {
        let c = with(
            &[
                (ALIAS_CLIENT_ID_VAR, "c"),
                (ALIAS_CLIENT_SECRET_VAR, "d"),
                (ACCESS_TOKEN_VAR, "t"),
            ],
            None,
            None,
        )
        .unwrap();
        assert_eq!(client(c), ("c".into(), "d".into()));
        match with(&[(ACCESS_TOKEN_VAR, "t")], None, None).unwrap() {
            Credentials::AccessToken(t) => assert_eq!(t.expose(), "t"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_values_count_as_unset() {
        let c = with(
            &[
                (CLIENT_ID_VAR, ""),
                (CLIENT_SECRET_VAR, "  "),
                (ACCESS_TOKEN_VAR, "t"),
            ],
            None,
            None,
        )
        .unwrap();
        assert!(matches!(c, Credentials::AccessToken(_)));
    }

    #[test]
    fn nothing_set_names_the_variables_and_the_sandbox() {
        let msg = with(&[], None, None).unwrap_err().to_string();
        for needle in [
            CLIENT_ID_VAR,
            CLIENT_SECRET_VAR,
            ACCESS_TOKEN_VAR,
            "--sandbox",
        ] {
            assert!(msg.contains(needle), "{msg}");
        }
    }

    #[test]
    fn half_set_names_the_missing_variable() {
        let msg = with(&[(CLIENT_ID_VAR, "a"), (ACCESS_TOKEN_VAR, "t")], None, None)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains(CLIENT_SECRET_VAR) && msg.contains("is not"),
            "{msg}"
        );
        let msg = with(&[(ALIAS_CLIENT_SECRET_VAR, "d")], None, None)
            .unwrap_err()
            .to_string();
        assert!(msg.contains(ALIAS_CLIENT_ID_VAR), "{msg}");
    }

    #[test]
    fn per_target_names_are_used_exclusively() {
        let vars = [
            ("STAGING_ID", "s"),
            ("STAGING_SECRET", "x"),
            (CLIENT_ID_VAR, "a"),
            (CLIENT_SECRET_VAR, "b"),
        ];
        let c = with(&vars, Some("STAGING_ID"), Some("STAGING_SECRET")).unwrap();
        assert_eq!(client(c), ("s".into(), "x".into()));
        let msg = with(
            &[(CLIENT_ID_VAR, "a"), (CLIENT_SECRET_VAR, "b")],
            Some("STAGING_ID"),
            Some("STAGING_SECRET"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            msg.contains("STAGING_ID") && msg.contains("STAGING_SECRET"),
            "{msg}"
        );
        let msg = with(
            &[("STAGING_ID", "s")],
            Some("STAGING_ID"),
            Some("STAGING_SECRET"),
        )
        .unwrap_err()
        .to_string();
        assert!(msg.contains("STAGING_SECRET"), "{msg}");
    }

    #[test]
    fn errors_never_show_values() {
        let msg = with(&[(CLIENT_SECRET_VAR, "hunter2-secret")], None, None)
            .unwrap_err()
            .to_string();
        assert!(!msg.contains("hunter2"), "{msg}");
    }
}
