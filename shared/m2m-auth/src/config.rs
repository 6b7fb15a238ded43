use crate::algorithm::{Algorithm, parse_algorithm};
use crate::budget::KEY_FETCH;
use crate::fetch::Discovery;
use crate::verify::KeySource;
use std::sync::Arc;
use std::time::Duration;

/// Who issues the tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    /// Descope: keys at `{base_url}/v2/keys/{project_id}`. The project is optional here because the token
    /// function can take it from the request or the secret; the protected functions require it.
    Descope {
        base_url: String,
        project_id: Option<String>,
    },
    /// Any OAuth 2.0 / OpenID Connect provider, found by discovery under `issuer`.
    Oidc { issuer: String },
}

/// What differs between the providers for verification (m2m-token adds the exchange's), one match a fact.
impl Provider {
    /// Whose key set verifies the tokens exchanged for `id` (a project or client id): the project's own
    /// (Descope), or the issuer's whichever client asks (OIDC).
    pub fn key_owner<'a>(&'a self, id: &'a str) -> &'a str {
        match self {
            Provider::Descope { .. } => id,
            Provider::Oidc { issuer } => issuer,
        }
    }

    /// The key owner configured up front: the project, if any (Descope), or the issuer (OIDC).
    pub fn configured_key_owner(&self) -> Option<&str> {
        match self {
            Provider::Descope { project_id, .. } => project_id.as_deref(),
            Provider::Oidc { issuer } => Some(issuer),
        }
    }

    /// Where the keys of `owner` (a [`Provider::key_owner`]) are fetched from.
    pub fn key_source(&self, client: reqwest::Client, owner: &str) -> KeySource {
        match self {
            Provider::Descope { base_url, .. } => KeySource::DescopeProject {
                client,
                base_url: base_url.clone(),
                project_id: owner.to_owned(),
            },
            Provider::Oidc { .. } => KeySource::Discovery {
                discovery: Arc::new(Discovery::new(client.clone(), owner, KEY_FETCH)),
                client,
            },
        }
    }
}

/// Verification settings (docs/contract.md section 2), read once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    pub provider: Provider,
    pub audience: Option<String>,
    pub extra_issuers: Vec<String>,
    pub algorithms: Vec<Algorithm>,
    pub leeway: Duration,
    pub jwks_cache_ttl: Duration,
    /// `JWKS_MAX_STALE_SECONDS`: while every refresh fails, how long after the last successful fetch the
    /// cached keys are still trusted. Past it a key that may have been revoked is no longer accepted.
    pub jwks_max_stale: Duration,
    /// How many verified tokens a verifier remembers (`VERIFIED_TOKEN_CACHE_ENTRIES`; 0 turns it off).
    pub verified_token_cache_entries: usize,
}

/// A configuration variable holds a value the functions cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {variable}: {reason}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub reason: String,
}

impl ConfigError {
    pub fn new(variable: &'static str, reason: impl Into<String>) -> Self {
        ConfigError {
            variable,
            reason: reason.into(),
        }
    }
}

pub const DEFAULT_BASE_URL: &str = "https://api.descope.com";
/// A day: long enough to ride out a provider outage, short enough that a revoked key stops working.
const DEFAULT_JWKS_MAX_STALE_SECONDS: u64 = 86_400;

impl AuthConfig {
    /// Settings for a Descope project with every other value at its default.
    pub fn descope(base_url: &str, project_id: &str) -> Self {
        AuthConfig {
            provider: Provider::Descope {
                base_url: base_url.trim_end_matches('/').to_owned(),
                project_id: Some(project_id.to_owned()),
            },
            audience: None,
            extra_issuers: Vec::new(),
            algorithms: vec![Algorithm::RS256],
            leeway: Duration::from_secs(5),
            jwks_cache_ttl: Duration::from_secs(600),
            jwks_max_stale: Duration::from_secs(DEFAULT_JWKS_MAX_STALE_SECONDS),
            verified_token_cache_entries: crate::DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES,
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, in production). Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = trimmed(&lookup);
        let provider = match get("AUTH_PROVIDER").as_deref().unwrap_or("descope") {
            "descope" => Provider::Descope {
                base_url: parse_base_url(
                    "DESCOPE_BASE_URL",
                    get("DESCOPE_BASE_URL")
                        .as_deref()
                        .unwrap_or(DEFAULT_BASE_URL),
                )?,
                project_id: get("DESCOPE_PROJECT_ID")
                    .map(|id| validate_identifier("DESCOPE_PROJECT_ID", id))
                    .transpose()?,
            },
            "oidc" => {
                let issuer = get("OIDC_ISSUER").ok_or_else(|| {
                    ConfigError::new("OIDC_ISSUER", "required when AUTH_PROVIDER=oidc")
                })?;
                parse_base_url("OIDC_ISSUER", &issuer)?;
                Provider::Oidc { issuer }
            }
            _ => {
                return Err(ConfigError::new(
                    "AUTH_PROVIDER",
                    "must be 'descope' or 'oidc'",
                ));
            }
        };
        let audience = get("JWT_AUDIENCE");
        if matches!(provider, Provider::Oidc { .. }) && audience.is_none() {
            // An access token minted for another resource server of the same provider must not be accepted
            // here (RFC 9068 section 4); without a project id to fall back on, the audience is mandatory.
            return Err(ConfigError::new(
                "JWT_AUDIENCE",
                "required when AUTH_PROVIDER=oidc",
            ));
        }
        let extra_issuers = get("JWT_ISSUERS")
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let algorithms = match get("JWT_ALGORITHMS") {
            None => vec![Algorithm::RS256],
            Some(list) => parse_algorithms(&list)?,
        };
        let leeway = parse_seconds(get("JWT_LEEWAY_SECONDS"), "JWT_LEEWAY_SECONDS", 5, 0..=300)?;
        let jwks_cache_ttl = parse_seconds(
            get("JWKS_CACHE_SECONDS"),
            "JWKS_CACHE_SECONDS",
            600,
            1..=86_400,
        )?;
        let jwks_max_stale = parse_seconds(
            get("JWKS_MAX_STALE_SECONDS"),
            "JWKS_MAX_STALE_SECONDS",
            DEFAULT_JWKS_MAX_STALE_SECONDS,
            1..=604_800,
        )?;
        if jwks_max_stale < jwks_cache_ttl {
            return Err(ConfigError::new(
                "JWKS_MAX_STALE_SECONDS",
                "must be at least JWKS_CACHE_SECONDS (keys are trusted that long after any fetch)",
            ));
        }
        let verified_token_cache_entries = parse_count(
            get("VERIFIED_TOKEN_CACHE_ENTRIES"),
            "VERIFIED_TOKEN_CACHE_ENTRIES",
            crate::DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES,
            0..=MAX_VERIFIED_TOKEN_CACHE_ENTRIES,
        )?;
        Ok(AuthConfig {
            provider,
            audience,
            extra_issuers,
            algorithms,
            leeway,
            jwks_cache_ttl,
            jwks_max_stale,
            verified_token_cache_entries,
        })
    }
}

fn parse_algorithms(list: &str) -> Result<Vec<Algorithm>, ConfigError> {
    let mut algorithms = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let alg = parse_algorithm(name).ok_or_else(|| {
            ConfigError::new(
                "JWT_ALGORITHMS",
                format!("'{name}' is not supported (use RS*, PS*, ES256, ES384, EdDSA)"),
            )
        })?;
        if !algorithms.contains(&alg) {
            algorithms.push(alg);
        }
    }
    if algorithms.is_empty() {
        return Err(ConfigError::new("JWT_ALGORITHMS", "names no algorithm"));
    }
    Ok(algorithms)
}

/// The most entries `VERIFIED_TOKEN_CACHE_ENTRIES` may ask for (the byte bound caps what they hold anyway).
const MAX_VERIFIED_TOKEN_CACHE_ENTRIES: usize = 1_000_000;

/// A whole number within `range`, or `default` when unset; the error names `variable`.
pub fn parse_count(
    value: Option<String>,
    variable: &'static str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, ConfigError> {
    parse_in(value, variable, default, range, "")
}

/// The configuration lookup rule, written once for every function: a value is trimmed, and an empty value
/// counts as unset (CloudFormation sets a variable to "" for an empty parameter).
pub fn trimmed<L: Fn(&str) -> Option<String>>(lookup: &L) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| {
        lookup(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }
}

/// A whole number of seconds within `range`, or `default` when unset; the error names `variable`.
pub fn parse_seconds(
    value: Option<String>,
    variable: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    parse_in(value, variable, default, range, " of seconds").map(Duration::from_secs)
}

fn parse_in<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
    value: Option<String>,
    variable: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
    unit: &str,
) -> Result<T, ConfigError> {
    let Some(value) = value else {
        return Ok(default);
    };
    match value.parse::<T>() {
        Ok(number) if range.contains(&number) => Ok(number),
        _ => Err(ConfigError::new(
            variable,
            format!(
                "must be a whole number{unit} from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// Accepts `https://host[:port][/path]`, and plain `http` only on a loopback host (the local issuer).
pub fn parse_base_url(variable: &'static str, url: &str) -> Result<String, ConfigError> {
    let url = url.trim_end_matches('/');
    let rest = if let Some(rest) = url.strip_prefix("https://") {
        rest
    } else if let Some(rest) = url.strip_prefix("http://") {
        let loopback = ["localhost", "127.0.0.1", "[::1]"].iter().any(|host| {
            (rest.strip_prefix(host))
                .is_some_and(|after| after.is_empty() || after.starts_with([':', '/']))
        });
        if !loopback {
            return Err(ConfigError::new(
                variable,
                "must use https (plain http only on a loopback host)",
            ));
        }
        rest
    } else {
        return Err(ConfigError::new(variable, "must be an https URL"));
    };
    if rest.is_empty() || rest.starts_with('/') || rest.contains(['?', '#', '@', ' ']) {
        return Err(ConfigError::new(
            variable,
            "must be a plain URL with a host and no query",
        ));
    }
    Ok(url.to_owned())
}

/// Project ids and tenant ids: 1–128 characters of `A-Za-z0-9_-`.
pub fn validate_identifier(variable: &'static str, value: String) -> Result<String, ConfigError> {
    if is_identifier(&value) {
        Ok(value)
    } else {
        Err(ConfigError::new(
            variable,
            "must be 1-128 characters of A-Z, a-z, 0-9, '_' or '-'",
        ))
    }
}

/// The identifier rule of docs/contract.md section 1 (project and tenant ids), the one place it is written.
pub fn is_identifier(value: &str) -> bool {
    (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<AuthConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        AuthConfig::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_follow_the_contract() {
        let cfg = config(&[("DESCOPE_PROJECT_ID", "P2abc")]).unwrap();
        assert_eq!(cfg.provider.configured_key_owner(), Some("P2abc"));
        assert_eq!(cfg.algorithms, vec![Algorithm::RS256]);
        assert_eq!(cfg.leeway, Duration::from_secs(5));
        assert_eq!(cfg.jwks_cache_ttl, Duration::from_secs(600));
        assert_eq!(cfg.jwks_max_stale, Duration::from_secs(86_400));
        assert_eq!(cfg.verified_token_cache_entries, 1024);
        let off = config(&[("VERIFIED_TOKEN_CACHE_ENTRIES", "0")]).unwrap();
        assert_eq!(off.verified_token_cache_entries, 0);
        assert_eq!(
            cfg.provider,
            Provider::Descope {
                base_url: DEFAULT_BASE_URL.into(),
                project_id: Some("P2abc".into())
            }
        );
    }

    #[test]
    fn rejects_unsafe_or_malformed_values_naming_the_variable() {
        for (vars, variable) in [
            (&[("JWT_ALGORITHMS", "HS256")][..], "JWT_ALGORITHMS"),
            (&[("JWT_ALGORITHMS", "none")], "JWT_ALGORITHMS"),
            (&[("JWT_ALGORITHMS", " , ")], "JWT_ALGORITHMS"),
            (&[("JWT_LEEWAY_SECONDS", "-1")], "JWT_LEEWAY_SECONDS"),
            (&[("JWKS_CACHE_SECONDS", "0")], "JWKS_CACHE_SECONDS"),
            (&[("JWKS_MAX_STALE_SECONDS", "0")], "JWKS_MAX_STALE_SECONDS"),
            (
                &[
                    ("JWKS_CACHE_SECONDS", "900"),
                    ("JWKS_MAX_STALE_SECONDS", "600"),
                ],
                "JWKS_MAX_STALE_SECONDS",
            ),
            (
                &[("VERIFIED_TOKEN_CACHE_ENTRIES", "-1")],
                "VERIFIED_TOKEN_CACHE_ENTRIES",
            ),
            (
                &[("VERIFIED_TOKEN_CACHE_ENTRIES", "lots")],
                "VERIFIED_TOKEN_CACHE_ENTRIES",
            ),
            (
                &[("VERIFIED_TOKEN_CACHE_ENTRIES", "1000001")],
                "VERIFIED_TOKEN_CACHE_ENTRIES",
            ),
            (
                &[("DESCOPE_BASE_URL", "http://api.descope.com")],
                "DESCOPE_BASE_URL",
            ),
            (&[("DESCOPE_BASE_URL", "ftp://x")], "DESCOPE_BASE_URL"),
            (&[("DESCOPE_PROJECT_ID", "bad id")], "DESCOPE_PROJECT_ID"),
            (&[("AUTH_PROVIDER", "cognito")], "AUTH_PROVIDER"),
            (&[("AUTH_PROVIDER", "oidc")], "OIDC_ISSUER"),
            (
                &[
                    ("AUTH_PROVIDER", "oidc"),
                    ("OIDC_ISSUER", "https://id.example"),
                ],
                "JWT_AUDIENCE",
            ),
        ] {
            let error = config(vars).unwrap_err();
            assert_eq!(error.variable, variable, "{vars:?}");
        }
    }

    #[test]
    fn each_provider_names_whose_keys_verify() {
        let oidc = Provider::Oidc {
            issuer: "https://id.example".into(),
        };
        assert_eq!(oidc.key_owner("client"), "https://id.example");
        assert_eq!(oidc.configured_key_owner(), Some("https://id.example"));
        let descope = config(&[("DESCOPE_PROJECT_ID", "P2abc")]).unwrap().provider;
        assert_eq!(descope.key_owner("P2other"), "P2other");
        assert_eq!(descope.configured_key_owner(), Some("P2abc"));
    }

    #[test]
    fn reads_lists_and_loopback_urls() {
        let cfg = config(&[
            ("DESCOPE_BASE_URL", "http://127.0.0.1:4000/"),
            ("JWT_ALGORITHMS", "RS256, ES256,RS256"),
            ("JWT_ISSUERS", "https://a.example, ,b"),
        ])
        .unwrap();
        assert_eq!(cfg.algorithms, vec![Algorithm::RS256, Algorithm::ES256]);
        assert_eq!(cfg.extra_issuers, vec!["https://a.example", "b"]);
        assert!(
            matches!(cfg.provider, Provider::Descope { ref base_url, .. } if base_url == "http://127.0.0.1:4000")
        );
    }

    #[test]
    fn plain_http_only_on_a_loopback_host() {
        for url in [
            "http://localhost",
            "http://127.0.0.1:4000/x",
            "http://[::1]:8080",
            "http://[::1]",
        ] {
            assert!(parse_base_url("V", url).is_ok(), "{url}");
        }
        for url in [
            "http://[::1]evil.example",
            "http://localhost.evil.example",
            "http://127.0.0.1.nip.io",
        ] {
            assert!(parse_base_url("V", url).is_err(), "{url}");
        }
    }
}
