//! The floor every benchmark is divided by, defined once for the benches of `m2m-auth` and `m2m-api` (each
//! includes this file) so that both runs measure exactly the same thing: what any RS256 verifier must do at
//! least — aws-lc-rs parsing the public key (`UnparsedPublicKey`) and checking the RSA-2048 PKCS#1 v1.5
//! SHA-256 signature of the token's own signing input.

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::hint::black_box;

/// The floor's benchmark routine for `token` signed by the key whose PKCS#1 DER is `der`.
pub fn floor<'a>(der: &'a [u8], token: &'a str) -> impl FnMut(&mut criterion::Bencher) + 'a {
    let (signing_input, signature) = token.rsplit_once('.').expect("a compact JWS");
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .expect("a base64url signature");
    move |b| {
        b.iter(|| {
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, black_box(der))
                .verify(black_box(signing_input.as_bytes()), black_box(&signature))
                .unwrap()
        })
    }
}
