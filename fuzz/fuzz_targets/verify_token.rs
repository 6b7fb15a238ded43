//! `Verifier::verify_at` on arbitrary input, against a fixed in-memory key set (RS256, ES256 and EdDSA keys,
//! every supported algorithm accepted) and a fixed clock. It must never panic, never wait, and accept only
//! what the contract allows (docs/contract.md section 3). The seeds in `corpus/verify_token` are real tokens signed
//! by the keys of `keys/fixture.json`; both are written by
//! `cargo test -p m2m-tests -- --ignored generate_fuzz_seeds`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use m2m_auth::{AuthConfig, KeySource, MAX_TOKEN_BYTES, SUPPORTED_ALGORITHMS, Verifier};
use serde_json::Value;
use std::sync::OnceLock;

const FIXTURE: &str = include_str!("../keys/fixture.json");

struct Fixture {
    verifier: Verifier,
    now: f64,
}

fn fixture() -> &'static Fixture {
    static FIXTURE_CELL: OnceLock<Fixture> = OnceLock::new();
    FIXTURE_CELL.get_or_init(|| {
        let fixture: Value = serde_json::from_str(FIXTURE).expect("fixture.json is JSON");
        let text = |name: &str| fixture[name].as_str().expect("fixture member").to_owned();
        let mut config = AuthConfig::descope(&text("baseUrl"), &text("projectId"));
        config.algorithms = SUPPORTED_ALGORITHMS.to_vec();
        let keys = KeySource::Preloaded {
            jwks: fixture["jwks"].clone(),
            base_url: text("baseUrl"),
            project_id: text("projectId"),
        };
        let verifier = Verifier::new(&config, keys);
        assert_eq!(verifier.keys().len(), 3, "the fixture's three keys are usable");
        Fixture {
            verifier,
            now: fixture["now"].as_f64().expect("fixture now"),
        }
    })
}


fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let token = String::from_utf8_lossy(data);
    match fixture.verifier.verify_held_at(&token, fixture.now) {
        Ok(verified) => {
            // Accepted: a compact JWS within the size limit, with the claims the contract requires.
            assert!(token.len() <= MAX_TOKEN_BYTES);
            let parts: Vec<&str> = token.split('.').collect();
            assert_eq!(parts.len(), 3);
            assert!(parts.iter().all(|part| !part.is_empty()));
            assert!(parts.iter().all(|part| {
                part.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }));
            assert!(verified.claims.get("exp").is_some_and(Value::is_number));
            assert!(verified.header.get("kid").is_some_and(Value::is_string));
            for name in ["crit", "b64", "cty"] {
                assert!(!verified.header.contains_key(name));
            }
        }
        Err(error) => {
            // The reason is returned to callers: it must never carry input verbatim.
            let reason = error.to_string();
            assert!(reason.len() < 100, "{reason}");
        }
    }
});
