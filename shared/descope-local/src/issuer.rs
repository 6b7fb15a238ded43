//! The issuer's shared state: configuration, signing keys, token minting, fault injection and counters.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest::{SHA256, digest};
use serde_json::{Map, Value, json};

use crate::claims::validate_custom_claims;
use crate::config::{AccessKey, IssuerConfig, IssuerError, RESERVED_CLAIMS};
use crate::keys::SigningKey;

/// How many signing keys stay published (the current one and the previous ones).
pub const MAX_PUBLISHED_KEYS: usize = 3;

/// Base URL used for `iss` by [`LocalIssuer::mint`] before any server was started (and without
/// [`LocalIssuer::set_base_url`]).
pub const UNSTARTED_BASE_URL: &str = "http://127.0.0.1:0";

/// An HTTP endpoint whose behaviour can be faulted and whose requests are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /v1/auth/accesskey/exchange`.
    Exchange,
    /// Both JWKS routes: `GET /v2/keys/{projectId}` and `GET /{projectId}/.well-known/jwks.json`.
    Keys,
}

impl Endpoint {
    fn index(self) -> usize {
        match self {
            Endpoint::Exchange => 0,
            Endpoint::Keys => 1,
        }
    }
}

/// A misbehaviour injected into an endpoint; it applies to every request until cleared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// That status with a Descope-style JSON error body (`errorCode` non-empty).
    Status(u16),
    /// 200, `content-type: application/json`, a body that is not JSON.
    Garbage,
    /// 200, `content-type: text/html`, an HTML page.
    Html,
    /// Never answers (until the server is stopped).
    Hang,
    /// Answers normally after the delay.
    Delay(Duration),
    /// 302 with this `Location`.
    Redirect(String),
    /// Any status, content type and body, verbatim.
    Body {
        status: u16,
        content_type: String,
        body: Vec<u8>,
    },
    /// Exchange: a normal-looking `sessionJwt` (header `kid` = the current published kid) signed by a key that
    /// is NOT published. On the keys endpoint this fault has no effect.
    ForeignSignature,
}

/// The local issuer's shared state (`Send + Sync`); serve it with [`LocalIssuer::start`].
pub struct LocalIssuer {
    config: IssuerConfig,
    /// SHA-256 of each access key's secret, same order as `config.access_keys`.
    secret_digests: Vec<[u8; 32]>,
    /// Published signing keys, newest (the signer) first.
    keys: RwLock<VecDeque<Arc<SigningKey>>>,
    /// The unpublished key behind [`Fault::ForeignSignature`].
    foreign: OnceLock<SigningKey>,
    faults: Mutex<[Option<Fault>; 2]>,
    counts: [AtomicU64; 2],
    base_url: RwLock<Option<String>>,
}

impl std::fmt::Debug for LocalIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalIssuer")
            .field("project_id", &self.config.project_id)
            .field("current_kid", &self.current_kid())
            .finish_non_exhaustive()
    }
}

impl LocalIssuer {
    /// Creates the issuer with a fresh RSA-2048 signing key (random `kid`).
    pub fn new(config: IssuerConfig) -> Arc<LocalIssuer> {
        let secret_digests = config
            .access_keys
            .iter()
            .map(|k| sha256(k.secret.as_bytes()))
            .collect();
        for key in &config.access_keys {
            for name in key.claims.keys() {
                if RESERVED_CLAIMS.contains(&name.as_str()) {
                    tracing::warn!(
                        key_id = %key.id,
                        claim = %name,
                        "access key claim uses a reserved name; it is ignored"
                    );
                }
            }
        }
        Arc::new(LocalIssuer {
            config,
            secret_digests,
            keys: RwLock::new(VecDeque::from([Arc::new(SigningKey::generate())])),
            foreign: OnceLock::new(),
            faults: Mutex::new([None, None]),
            counts: [AtomicU64::new(0), AtomicU64::new(0)],
            base_url: RwLock::new(None),
        })
    }

    /// The project this issuer serves.
    pub fn project_id(&self) -> &str {
        &self.config.project_id
    }

    /// The configuration it was created with.
    pub fn config(&self) -> &IssuerConfig {
        &self.config
    }

    /// A new key becomes the signer; the previous keys stay published (at most [`MAX_PUBLISHED_KEYS`] in all).
    /// Returns the new `kid`.
    pub fn rotate_signing_key(&self) -> String {
        let key = Arc::new(SigningKey::generate());
        let kid = key.kid.clone();
        let mut keys = self.keys.write().expect("keys lock");
        keys.push_front(key);
        keys.truncate(MAX_PUBLISHED_KEYS);
        kid
    }

    /// The `kid` of the key that signs now.
    pub fn current_kid(&self) -> String {
        self.current_key().kid.clone()
    }

    /// `{"keys": [...]}`: every published key, newest first — what `GET /v2/keys/{projectId}` returns.
    pub fn public_jwks(&self) -> Value {
        let keys = self.keys.read().expect("keys lock");
        json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() })
    }

    /// PKCS#1 `RSAPublicKey` DER of the current signing key.
    pub fn current_public_key_der(&self) -> Vec<u8> {
        self.current_key().public_key_der()
    }

    /// RS256-signs `header` and `claims` verbatim with the current key (tests craft hostile tokens with it).
    pub fn sign_raw(&self, header: &Value, claims: &Value) -> String {
        self.current_key().sign_compact(header, claims)
    }

    /// The token the exchange would issue for the access key `key_id` (no HTTP): same claims, same checks on the
    /// tenant and custom claims. The key's `disabled`/`expiresAt` are NOT checked, so tests can mint for any key.
    /// `iss` uses the base URL of the last started server (or [`LocalIssuer::set_base_url`]).
    pub fn mint(
        &self,
        key_id: &str,
        custom_claims: Option<Map<String, Value>>,
        tenant: Option<&str>,
    ) -> Result<String, IssuerError> {
        let key = self
            .config
            .access_keys
            .iter()
            .find(|k| k.id == key_id)
            .ok_or_else(|| IssuerError::UnknownAccessKey(key_id.to_owned()))?;
        let base_url = self.base_url();
        let (jwt, _) = self.issue(key, &base_url, custom_claims.as_ref(), tenant, false)?;
        Ok(jwt)
    }

    /// The base URL `mint` puts in `iss` (`{base}/v1/apps/{projectId}`): the last started server's, unless set.
    pub fn base_url(&self) -> String {
        self.base_url
            .read()
            .expect("base_url lock")
            .clone()
            .unwrap_or_else(|| UNSTARTED_BASE_URL.to_owned())
    }

    /// Overrides the base URL `mint` uses for `iss` (a started server sets it to its own address).
    pub fn set_base_url(&self, base_url: &str) {
        *self.base_url.write().expect("base_url lock") =
            Some(base_url.trim_end_matches('/').to_owned());
    }

    /// The `iss` of tokens minted by [`LocalIssuer::mint`]: `{base_url}/v1/apps/{projectId}`.
    pub fn issuer_url(&self) -> String {
        format!("{}/v1/apps/{}", self.base_url(), self.config.project_id)
    }

    /// Injects (`Some`) or clears (`None`) a fault on every later request of `endpoint`.
    pub fn set_fault(&self, endpoint: Endpoint, fault: Option<Fault>) {
        self.faults.lock().expect("faults lock")[endpoint.index()] = fault;
    }

    /// How many requests `endpoint` received (faulted ones included).
    pub fn request_count(&self, endpoint: Endpoint) -> u64 {
        self.counts[endpoint.index()].load(Ordering::SeqCst)
    }

    // ---- crate-internal ----

    pub(crate) fn fault(&self, endpoint: Endpoint) -> Option<Fault> {
        self.faults.lock().expect("faults lock")[endpoint.index()].clone()
    }

    pub(crate) fn count_request(&self, endpoint: Endpoint) {
        self.counts[endpoint.index()].fetch_add(1, Ordering::SeqCst);
    }

    fn current_key(&self) -> Arc<SigningKey> {
        self.keys.read().expect("keys lock")[0].clone()
    }

    /// Finds the access key whose secret equals `secret`, comparing against every key in constant time.
    pub(crate) fn find_key_by_secret(&self, secret: &str) -> Option<&AccessKey> {
        let presented = sha256(secret.as_bytes());
        let mut found = None;
        for (index, stored) in self.secret_digests.iter().enumerate() {
            let equal =
                aws_lc_rs::constant_time::verify_slices_are_equal(stored, &presented).is_ok();
            if equal && found.is_none() {
                found = Some(index);
            }
        }
        found.map(|i| &self.config.access_keys[i])
    }

    /// Builds and signs the session JWT for `key`. Returns the token and its `exp`.
    pub(crate) fn issue(
        &self,
        key: &AccessKey,
        base_url: &str,
        custom_claims: Option<&Map<String, Value>>,
        tenant: Option<&str>,
        foreign_signature: bool,
    ) -> Result<(String, i64), IssuerError> {
        if tenant.is_some_and(|t| !key.tenants.contains_key(t)) {
            return Err(IssuerError::TenantNotAssociated(key.id.clone()));
        }
        if let Some(claims) = custom_claims {
            validate_custom_claims(claims)?;
        }
        let iat = now_unix();
        let exp = iat.saturating_add(self.config.session_ttl.as_secs() as i64);
        let mut claims = Map::new();
        claims.insert(
            "iss".into(),
            json!(format!("{base_url}/v1/apps/{}", self.config.project_id)),
        );
        claims.insert("sub".into(), json!(key.id));
        claims.insert("iat".into(), json!(iat));
        claims.insert("exp".into(), json!(exp));
        claims.insert("drn".into(), json!("DS"));
        claims.insert("roles".into(), json!(key.roles));
        claims.insert("permissions".into(), json!(key.permissions));
        claims.insert("tenants".into(), json!(key.tenants));
        if let Some(tenant) = tenant {
            claims.insert("dct".into(), json!(tenant));
        }
        if let Some(custom) = custom_claims.filter(|c| !c.is_empty()) {
            claims.insert("nsec".into(), Value::Object(custom.clone()));
        }
        for (name, value) in &key.claims {
            if !RESERVED_CLAIMS.contains(&name.as_str()) {
                claims.insert(name.clone(), value.clone());
            }
        }
        let current = self.current_key();
        let header = json!({ "alg": "RS256", "kid": current.kid, "typ": "JWT" });
        let claims = Value::Object(claims);
        let jwt = if foreign_signature {
            self.foreign
                .get_or_init(SigningKey::generate)
                .sign_compact(&header, &claims)
        } else {
            current.sign_compact(&header, &claims)
        };
        Ok((jwt, exp))
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = digest(&SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn payload(jwt: &str) -> Value {
        let part = jwt.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    fn header(jwt: &str) -> Value {
        let part = jwt.split('.').next().unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn shared_state_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<LocalIssuer>();
        assert_send_sync::<Arc<LocalIssuer>>();
        assert_send_sync::<crate::RunningIssuer>();
    }

    #[test]
    fn mint_builds_descope_claims() {
        let issuer = LocalIssuer::new(IssuerConfig::dev());
        issuer.set_base_url("http://127.0.0.1:4000/");
        let jwt = issuer.mint("K2LocalAdmin", None, None).unwrap();
        let claims = payload(&jwt);
        assert_eq!(
            claims["iss"],
            "http://127.0.0.1:4000/v1/apps/P2LocalDevProject"
        );
        assert_eq!(claims["iss"], issuer.issuer_url().as_str());
        assert_eq!(claims["sub"], "K2LocalAdmin");
        assert_eq!(claims["drn"], "DS");
        assert_eq!(claims["roles"], json!(["admin"]));
        assert_eq!(claims["permissions"], json!(["read:data", "write:data"]));
        assert_eq!(claims["tenants"], json!({}));
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            600
        );
        for absent in ["dct", "nsec", "aud", "nbf"] {
            assert!(claims.get(absent).is_none(), "{absent}");
        }
        assert_eq!(
            header(&jwt),
            json!({"alg": "RS256", "kid": issuer.current_kid(), "typ": "JWT"})
        );
    }

    #[test]
    fn admin_claims_go_top_level_but_never_overwrite_reserved_ones() {
        let mut config = IssuerConfig::dev();
        let key = &mut config.access_keys[0];
        key.claims.insert("department".into(), json!("ops"));
        key.claims.insert("roles".into(), json!(["superuser"]));
        key.claims.insert("sub".into(), json!("someone-else"));
        key.claims.insert("nsec".into(), json!({"scope": "admin"}));
        let issuer = LocalIssuer::new(config);
        let claims = payload(&issuer.mint("K2LocalAdmin", None, None).unwrap());
        assert_eq!(claims["department"], "ops");
        assert_eq!(claims["roles"], json!(["admin"]));
        assert_eq!(claims["sub"], "K2LocalAdmin");
        assert!(claims.get("nsec").is_none());
    }

    #[test]
    fn mint_checks_tenant_and_custom_claims() {
        let issuer = LocalIssuer::new(IssuerConfig::dev());
        assert!(matches!(
            issuer.mint("K2Nope", None, None),
            Err(IssuerError::UnknownAccessKey(_))
        ));
        assert!(matches!(
            issuer.mint("K2LocalTenant", None, Some("T2Nope")),
            Err(IssuerError::TenantNotAssociated(_))
        ));
        let claims = payload(&issuer.mint("K2LocalTenant", None, Some("T2Acme")).unwrap());
        assert_eq!(claims["dct"], "T2Acme");
        assert_eq!(claims["tenants"]["T2Acme"]["roles"], json!(["admin"]));
        assert_eq!(
            claims["tenants"]["T2Other"]["permissions"],
            json!(["write:data"])
        );
        let mut custom = Map::new();
        custom.insert("scope".into(), json!("admin read:data"));
        custom.insert("roles".into(), json!(["admin"]));
        let claims = payload(&issuer.mint("K2LocalReader", Some(custom), None).unwrap());
        assert_eq!(claims["nsec"]["scope"], "admin read:data");
        assert_eq!(claims["roles"], json!(["user"]));
        assert!(claims.get("scope").is_none());
    }

    #[test]
    fn rotation_keeps_at_most_three_keys() {
        let issuer = LocalIssuer::new(IssuerConfig::dev());
        let first = issuer.current_kid();
        let second = issuer.rotate_signing_key();
        assert_eq!(issuer.current_kid(), second);
        let kids = |issuer: &LocalIssuer| -> Vec<String> {
            issuer.public_jwks()["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["kid"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(kids(&issuer), vec![second.clone(), first.clone()]);
        let third = issuer.rotate_signing_key();
        let fourth = issuer.rotate_signing_key();
        assert_eq!(kids(&issuer), vec![fourth, third, second]);
    }

    #[test]
    fn secret_lookup() {
        let issuer = LocalIssuer::new(IssuerConfig::dev());
        assert_eq!(
            issuer.find_key_by_secret("dev-reader-key").unwrap().id,
            "K2LocalReader"
        );
        assert!(issuer.find_key_by_secret("dev-reader-ke").is_none());
        assert!(issuer.find_key_by_secret("").is_none());
    }
}
