//! The attack table: every case is one hostile token or request, built against the local issuer's real keys
//! (or keys of our own that a local issuer serves), sent through the real handlers, with the status and the
//! error text the contract fixes, and the anchor it comes from (an RFC section, a CVE, or a test of another
//! verifier whose idea it borrows). Then properties (proptest): verification never panics, and no mutation
//! of a valid token is accepted unless it decodes to the very same header, claims and signature.
//!
//! The kit (keys, DER/PEM/JWK builders, token minting) is `attacks/kit.rs`, the rows are by family in
//! `attacks/{signatures,encoding,claims,requests}.rs`, the runner is `attacks/runner.rs`.
//!
//! `cargo test -p m2m-tests -- attacks::runner --nocapture` prints the count of cases by class.
//! `cargo test -p m2m-tests -- --ignored generate_fuzz_seeds` rewrites the fuzzers' key fixture and seed
//! corpus (fuzz/keys, fuzz/corpus).

mod claims;
mod encoding;
mod kit;
mod properties;
mod requests;
mod runner;
mod signatures;

use kit::Ctx;

// ---------------------------------------------------------------------------------------------------------
// The table's vocabulary
// ---------------------------------------------------------------------------------------------------------

/// Which configuration of the protected functions a case runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Env {
    /// The local issuer's own keys, default settings (RS256, leeway 5 s, no audience).
    Default,
    /// As Default, with `JWT_AUDIENCE=https://api.example/m2m`.
    Audience,
    /// As Default, with `JWT_AUDIENCE` set to "" (as CloudFormation sets an empty parameter): no audience.
    EmptyAudience,
    /// As Default, with `JWT_ISSUERS=https://issuer.example/x`.
    ExtraIssuer,
    /// As Default, with every asymmetric family accepted: `JWT_ALGORITHMS=RS256,PS256,ES256,EdDSA`.
    AllAlgs,
    /// Our own keys (a local issuer serves their JWKS), default settings (RS256).
    Own,
    /// Our own keys with `JWT_ALGORITHMS=RS256,ES256,EdDSA`.
    OwnAll,
    /// Our own keys with `JWT_ALGORITHMS=ES256` (only the EC key is usable).
    OwnEs,
}

const ENVS: [Env; 8] = [
    Env::Default,
    Env::Audience,
    Env::EmptyAudience,
    Env::ExtraIssuer,
    Env::AllAlgs,
    Env::Own,
    Env::OwnAll,
    Env::OwnEs,
];
const AUDIENCE: &str = "https://api.example/m2m";
const EXTRA_ISSUER: &str = "https://issuer.example/x";

/// Where the input goes.
#[derive(Clone, Copy, Debug)]
enum Via {
    Protected,
    User,
    Admin,
    /// `Verifier::verify_at(token, t0)` of the env's protected function with a fixed clock, mapped to the
    /// status and message exactly as the handlers map it (`ApiError`): exact time boundaries.
    At,
    /// `POST /m2m/token` with the input as its body.
    Token,
    /// `POST /m2m/token/iam` with the input as its body, as API Gateway hands it over from the IAM route:
    /// signed by this principal (`requestContext.authorizer.iam.userArn`). The token function lists
    /// [`IAM_PRINCIPALS`].
    Iam(&'static str),
}

/// The `STACK_KEY_PRINCIPALS` of the `Via::Iam` rows: a role with every grant of the stack's key, a role on
/// a path that may receive `read:data`, and a user that may receive `read:data`.
const IAM_PRINCIPALS: &str = r#"{"arn:aws:iam::123456789012:role/reporting-job": ["*"],
    "arn:aws:iam::123456789012:role/team/reader": ["read:data"],
    "arn:aws:iam::123456789012:user/alice": ["read:data"]}"#;

#[derive(Clone)]
enum Input {
    Bearer(String),
    /// Raw `Authorization` header values (each one a header).
    Authorization(Vec<String>),
    Body(Vec<u8>),
}

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// 200.
    Pass,
    /// 401, `JWT verification failed: <reason>`.
    Invalid(&'static str),
    /// 401, `Missing or invalid Authorization header`.
    NoAuth,
    /// 403, `Missing required scope: '<scope>'`.
    Forbidden(&'static str),
    /// 400, the error names this text (a field).
    BadRequest(&'static str),
    /// 403 from the token function, `Scope not granted to this access key: '<scope>'`.
    NotGranted(&'static str),
    /// 401 from the token function: the provider refused the key.
    AuthFailed,
    /// 401 from the token function: a public caller sent no key (`An access key is required`).
    KeyRequired,
    /// 403 from the token function: `This IAM principal may not use the stack's key`.
    PrincipalRefused,
    /// 403 from the token function, `Scope not granted to this IAM principal: '<scope>'`.
    PrincipalNotGranted(&'static str),
}

struct Case {
    id: &'static str,
    class: &'static str,
    anchor: &'static str,
    env: Env,
    via: Via,
    input: fn(&Ctx) -> Input,
    expect: Expect,
}

fn case(
    id: &'static str,
    class: &'static str,
    anchor: &'static str,
    input: fn(&Ctx) -> Input,
    expect: Expect,
) -> Case {
    Case {
        id,
        class,
        anchor,
        env: Env::Default,
        via: Via::Protected,
        input,
        expect,
    }
}

impl Case {
    fn env(mut self, env: Env) -> Self {
        self.env = env;
        self
    }
    fn via(mut self, via: Via) -> Self {
        self.via = via;
        self
    }
}

fn tok(token: String) -> Input {
    Input::Bearer(token)
}

fn body(text: impl Into<Vec<u8>>) -> Input {
    Input::Body(text.into())
}

/// Every case, family by family.
fn table() -> Vec<Case> {
    [
        signatures::cases(),
        encoding::cases(),
        claims::cases(),
        requests::cases(),
        requests::iam_cases(),
    ]
    .into_iter()
    .flatten()
    .collect()
}
