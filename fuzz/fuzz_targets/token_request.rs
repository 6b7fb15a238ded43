//! `TokenRequest::parse` on arbitrary bytes: it must never panic, and whatever it accepts must hold to the
//! contract's bounds (docs/contract.md section 1).
#![no_main]

use libfuzzer_sys::fuzz_target;
use m2m_token::{MAX_BODY_BYTES, TokenRequest};

fuzz_target!(|body: &[u8]| {
    let Ok(request) = TokenRequest::parse(body) else {
        return;
    };
    assert!(body.len() <= MAX_BODY_BYTES);
    let identifier = |text: &str| {
        (1..=128).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if let Some(project) = &request.project_id {
        assert!(identifier(project), "projectId {project:?}");
    }
    if let Some(tenant) = &request.tenant {
        assert!(identifier(tenant), "tenant {tenant:?}");
    }
    if let Some(key) = &request.access_key {
        assert!((1..=1024).contains(&key.len()));
        assert!(key.bytes().all(|b| b.is_ascii_graphic()));
    }
    assert!(request.scopes.len() <= 32);
    for scope in &request.scopes {
        assert!((1..=128).contains(&scope.len()));
        assert!(
            scope
                .bytes()
                .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
        );
    }
});
