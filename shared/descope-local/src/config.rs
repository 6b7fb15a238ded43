//! The key file: which project the issuer serves, how long sessions live and which access keys exist.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The key file shipped with the crate (`dev-keys.json`), used by [`IssuerConfig::dev`] and by the binary when no
/// `--keys` file is given.
pub const DEV_KEYS_JSON: &str = include_str!("../dev-keys.json");

/// Session lifetime when the key file does not set `sessionTtlSeconds`.
pub const DEFAULT_SESSION_TTL_SECONDS: u64 = 600;

/// Longest accepted session lifetime (30 days).
pub const MAX_SESSION_TTL_SECONDS: u64 = 30 * 24 * 3600;

/// Claims the issuer sets itself; an access key's admin-configured `claims` never overwrite them.
pub const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "iat",
    "exp",
    "drn",
    "roles",
    "permissions",
    "tenants",
    "dct",
    "nsec",
    "aud",
    "nbf",
];

/// Everything that can go wrong loading a key file or minting a token.
#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    /// The key file could not be read.
    #[error("cannot read key file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The key file is not JSON of the expected shape.
    #[error("key file is not valid JSON of the expected shape: {0}")]
    Parse(String),
    /// The key file parsed but breaks a rule (duplicate ids, bad project id, ...).
    #[error("key file is invalid: {0}")]
    Invalid(String),
    /// `mint` was asked for an access key id the issuer does not know.
    #[error("unknown access key id '{0}'")]
    UnknownAccessKey(String),
    /// The selected tenant is not one of the access key's tenants.
    #[error("selected tenant is not associated with access key '{0}'")]
    TenantNotAssociated(String),
    /// Custom claims break Descope's limits (key ≤ 60 chars, string value ≤ 500 chars, ≤ 100 keys).
    #[error("invalid customClaims: {0}")]
    InvalidCustomClaims(String),
}

/// Roles and permissions an access key holds in one tenant.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct TenantGrants {
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
}

/// One access key as configured in the key file.
///
/// `Debug` never prints the secret.
#[derive(Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessKey {
    /// The access key id; becomes the token's `sub` and the exchange's `keyId`.
    pub id: String,
    /// What a caller presents (`Bearer <projectId>:<secret>`).
    pub secret: String,
    #[serde(default)]
    pub name: String,
    /// Project-level roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Project-level permissions.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Per-tenant roles and permissions.
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantGrants>,
    /// When the key stops working (unix seconds); `None` = never.
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub disabled: bool,
    /// Admin-configured custom claims, placed at the token's top level (reserved claims are never overwritten).
    #[serde(default)]
    pub claims: Map<String, Value>,
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .field("name", &self.name)
            .field("roles", &self.roles)
            .field("permissions", &self.permissions)
            .field("tenants", &self.tenants)
            .field("expires_at", &self.expires_at)
            .field("disabled", &self.disabled)
            .field("claims", &self.claims)
            .finish()
    }
}

/// The issuer's configuration: the project, the session lifetime and the access keys.
#[derive(Clone, Debug)]
pub struct IssuerConfig {
    pub project_id: String,
    pub session_ttl: Duration,
    pub access_keys: Vec<AccessKey>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeyFile {
    project_id: String,
    #[serde(default)]
    session_ttl_seconds: Option<u64>,
    #[serde(default)]
    access_keys: Vec<AccessKey>,
}

impl IssuerConfig {
    /// Parses and validates a key file:
    ///
    /// ```json
    /// { "projectId": "P2LocalDevProject", "sessionTtlSeconds": 600,
    ///   "accessKeys": [ {"id": "K2LocalAdmin", "secret": "dev-admin-key", "roles": ["admin"]} ] }
    /// ```
    pub fn from_json(text: &str) -> Result<IssuerConfig, IssuerError> {
        let file: KeyFile =
            serde_json::from_str(text).map_err(|e| IssuerError::Parse(e.to_string()))?;
        let ttl = file
            .session_ttl_seconds
            .unwrap_or(DEFAULT_SESSION_TTL_SECONDS);
        let config = IssuerConfig {
            project_id: file.project_id,
            session_ttl: Duration::from_secs(ttl),
            access_keys: file.access_keys,
        };
        config.validate()?;
        Ok(config)
    }

    /// Reads and validates a key file (see [`IssuerConfig::from_json`]).
    pub fn from_file(path: &Path) -> Result<IssuerConfig, IssuerError> {
        let text = std::fs::read_to_string(path).map_err(|source| IssuerError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        IssuerConfig::from_json(&text)
    }

    /// The shipped dev key file (`dev-keys.json`): project `P2LocalDevProject`, 600 s sessions, the dev keys.
    pub fn dev() -> IssuerConfig {
        IssuerConfig::from_json(DEV_KEYS_JSON).expect("the shipped dev-keys.json is valid")
    }

    /// Checks the rules a key file must follow; [`IssuerConfig::from_json`] calls it, call it again after
    /// editing a config by hand.
    pub fn validate(&self) -> Result<(), IssuerError> {
        validate_project_id(&self.project_id)?;
        let ttl = self.session_ttl.as_secs();
        if ttl == 0 || ttl > MAX_SESSION_TTL_SECONDS {
            return Err(IssuerError::Invalid(format!(
                "sessionTtlSeconds must be between 1 and {MAX_SESSION_TTL_SECONDS}, got {ttl}"
            )));
        }
        let mut ids = HashSet::new();
        let mut secrets = HashSet::new();
        for (index, key) in self.access_keys.iter().enumerate() {
            let at = format!("accessKeys[{index}]");
            if key.id.is_empty()
                || key.id.len() > 128
                || !key.id.bytes().all(|b| b.is_ascii_graphic())
            {
                return Err(IssuerError::Invalid(format!(
                    "{at}: id must be 1-128 printable ASCII characters without spaces"
                )));
            }
            let at = format!("{at} (id '{}')", key.id);
            if !ids.insert(key.id.as_str()) {
                return Err(IssuerError::Invalid(format!(
                    "{at}: duplicate access key id"
                )));
            }
            if key.secret.is_empty() {
                return Err(IssuerError::Invalid(format!("{at}: secret is empty")));
            }
            if key.secret.len() > 1024 {
                return Err(IssuerError::Invalid(format!(
                    "{at}: secret is longer than 1024 characters"
                )));
            }
            if !key
                .secret
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b':')
            {
                return Err(IssuerError::Invalid(format!(
                    "{at}: secret must be printable ASCII without spaces or ':'"
                )));
            }
            if !secrets.insert(key.secret.as_str()) {
                return Err(IssuerError::Invalid(format!(
                    "{at}: duplicate secret (two access keys share a secret)"
                )));
            }
            if key.tenants.keys().any(|t| t.is_empty()) {
                return Err(IssuerError::Invalid(format!("{at}: empty tenant id")));
            }
        }
        Ok(())
    }
}

/// A project id is 1–128 characters of `A-Za-z0-9_-`.
pub fn validate_project_id(project_id: &str) -> Result<(), IssuerError> {
    if project_id.is_empty()
        || project_id.len() > 128
        || !project_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(IssuerError::Invalid(
            "projectId must be 1-128 characters of A-Za-z0-9_-".to_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(keys: &str) -> String {
        format!(r#"{{"projectId": "P2Test", "accessKeys": [{keys}]}}"#)
    }

    fn invalid(text: &str) -> String {
        match IssuerConfig::from_json(text) {
            Err(IssuerError::Invalid(msg)) => msg,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn dev_file_holds_exactly_the_documented_keys() {
        let config = IssuerConfig::dev();
        assert_eq!(config.project_id, "P2LocalDevProject");
        assert_eq!(config.session_ttl, Duration::from_secs(600));
        let pairs: Vec<(&str, &str)> = config
            .access_keys
            .iter()
            .map(|k| (k.id.as_str(), k.secret.as_str()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("K2LocalAdmin", "dev-admin-key"),
                ("K2LocalReader", "dev-reader-key"),
                ("K2LocalNoGrants", "dev-nogrants-key"),
                ("K2LocalExpired", "dev-expired-key"),
                ("K2LocalDisabled", "dev-disabled-key"),
                ("K2LocalTenant", "dev-tenant-key"),
                ("K2LocalHostile", "dev-hostile-key"),
            ]
        );
        let by_id = |id: &str| config.access_keys.iter().find(|k| k.id == id).unwrap();
        let admin = by_id("K2LocalAdmin");
        assert_eq!(admin.roles, ["admin"]);
        assert_eq!(admin.permissions, ["read:data", "write:data"]);
        let reader = by_id("K2LocalReader");
        assert_eq!(reader.roles, ["user"]);
        assert_eq!(reader.permissions, ["read:data"]);
        let none = by_id("K2LocalNoGrants");
        assert!(none.roles.is_empty() && none.permissions.is_empty() && none.tenants.is_empty());
        assert_eq!(by_id("K2LocalExpired").expires_at, Some(1_700_000_000));
        assert!(by_id("K2LocalDisabled").disabled);
        let tenant = by_id("K2LocalTenant");
        assert!(tenant.roles.is_empty() && tenant.permissions.is_empty());
        assert_eq!(tenant.tenants["T2Acme"].roles, ["admin"]);
        assert_eq!(tenant.tenants["T2Acme"].permissions, ["read:data"]);
        assert_eq!(tenant.tenants["T2Other"].permissions, ["write:data"]);
        let hostile = by_id("K2LocalHostile");
        assert_eq!(hostile.roles, ["<img src=x onerror=alert(1)>"]);
        assert_eq!(
            hostile.tenants["<img src=x onerror=alert(2)>"].roles,
            ["<script>alert(3)</script>"]
        );
    }

    #[test]
    fn defaults_apply_to_everything_but_id_and_secret() {
        let config = IssuerConfig::from_json(&file(r#"{"id": "K1", "secret": "s1"}"#)).unwrap();
        assert_eq!(config.session_ttl, Duration::from_secs(600));
        let key = &config.access_keys[0];
        assert!(key.name.is_empty() && key.roles.is_empty() && key.claims.is_empty());
        assert_eq!(key.expires_at, None);
        assert!(!key.disabled);
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let config =
            IssuerConfig::from_json(&file(r#"{"id": "K1", "secret": "super-secret"}"#)).unwrap();
        let text = format!("{config:?}");
        assert!(!text.contains("super-secret"), "{text}");
    }

    #[test]
    fn rejects_duplicate_ids() {
        let msg = invalid(&file(
            r#"{"id": "K1", "secret": "a"}, {"id": "K1", "secret": "b"}"#,
        ));
        assert!(msg.contains("duplicate access key id"), "{msg}");
    }

    #[test]
    fn rejects_duplicate_secrets_without_printing_them() {
        let msg = invalid(&file(
            r#"{"id": "K1", "secret": "same-secret"}, {"id": "K2", "secret": "same-secret"}"#,
        ));
        assert!(msg.contains("duplicate secret"), "{msg}");
        assert!(!msg.contains("same-secret"), "{msg}");
    }

    #[test]
    fn rejects_bad_secrets() {
        for secret in ["", "has space", "has:colon", "tab\there", "caf\u{e9}"] {
            let text = file(&format!(
                r#"{{"id": "K1", "secret": {}}}"#,
                serde_json::to_string(secret).unwrap()
            ));
            let msg = invalid(&text);
            assert!(msg.contains("secret"), "{secret:?}: {msg}");
        }
        let long = "x".repeat(1025);
        let msg = invalid(&file(&format!(r#"{{"id": "K1", "secret": "{long}"}}"#)));
        assert!(msg.contains("1024"), "{msg}");
    }

    #[test]
    fn rejects_bad_project_ids() {
        for project in ["", "has space", "a/b", "P2.x", &"p".repeat(129)] {
            let text = format!(
                r#"{{"projectId": {}, "accessKeys": []}}"#,
                serde_json::to_string(project).unwrap()
            );
            let msg = invalid(&text);
            assert!(msg.contains("projectId"), "{project:?}: {msg}");
        }
        assert!(IssuerConfig::from_json(r#"{"projectId": "Ok_project-1"}"#).is_ok());
    }

    #[test]
    fn rejects_bad_ids_and_ttls() {
        let msg = invalid(&file(r#"{"id": "", "secret": "a"}"#));
        assert!(msg.contains("id must be"), "{msg}");
        let msg = invalid(r#"{"projectId": "P", "sessionTtlSeconds": 0}"#);
        assert!(msg.contains("sessionTtlSeconds"), "{msg}");
        let msg = invalid(&file(r#"{"id": "K", "secret": "a", "tenants": {"": {}}}"#));
        assert!(msg.contains("tenant"), "{msg}");
    }

    #[test]
    fn rejects_shape_errors_clearly() {
        for text in [
            "not json",
            r#"{"accessKeys": []}"#,
            r#"{"projectId": "P", "accessKeys": [{"id": "K"}]}"#,
            r#"{"projectId": "P", "accessKeys": [{"id": "K", "secret": "s", "role": ["x"]}]}"#,
            r#"{"projectId": "P", "accessKeys": [{"id": "K", "secret": "s", "roles": "admin"}]}"#,
            r#"{"projectId": "P", "sessionTtlSeconds": -1}"#,
        ] {
            match IssuerConfig::from_json(text) {
                Err(IssuerError::Parse(msg)) => assert!(!msg.is_empty()),
                other => panic!("{text}: expected Parse, got {other:?}"),
            }
        }
    }

    #[test]
    fn from_file_reports_the_path() {
        let err = IssuerConfig::from_file(Path::new("/nonexistent/keys.json")).unwrap_err();
        assert!(matches!(err, IssuerError::Io { .. }));
        assert!(err.to_string().contains("/nonexistent/keys.json"));
    }
}
