//! The time budget of one invocation, in one place. Every function runs with a 10 s Lambda timeout (both
//! templates); each outside call has a limit of its own well inside it, and the request deadline bounds
//! their sum, so a slow dependency is answered with a clear 503/504 instead of a Lambda timeout.
//!
//! | what                                   | limit |
//! |----------------------------------------|-------|
//! | the function (template `Timeout`)      | 10 s  |
//! | one request, end to end                |  8 s  |
//! | one call to the provider (exchange)    |  5 s  |
//! | one key-set fetch, one discovery fetch |  3 s  |
//! | one secret read, retries included      |  3 s  |
//! | a new TCP + TLS connection             |  2 s  |
//! | the keys and secret read during init   |  4 s  |

use std::time::Duration;

/// The Lambda timeout both templates give every function.
pub const FUNCTION_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest one request may take end to end (`FUNCTION_TIMEOUT` less a margin for the answer itself).
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(8);
/// One call to the identity provider's token endpoint, body included.
pub const PROVIDER_CALL: Duration = Duration::from_secs(5);
/// One fetch of the key set or of the discovery document.
pub const KEY_FETCH: Duration = Duration::from_secs(3);
/// One `GetSecretValue`, client set-up and retries included.
pub const SECRET_READ: Duration = Duration::from_secs(3);
/// One attempt of the secret read (two attempts fit in [`SECRET_READ`]).
pub const SECRET_READ_ATTEMPT: Duration = Duration::from_secs(2);
/// A new connection (TCP and TLS) to any of them.
pub const CONNECT: Duration = Duration::from_secs(2);
/// The warm-up of a function's init (the keys' `hydrate`, the first read of the secret, side by side): well
/// inside Lambda's 10 s init limit, and never fatal.
pub const INIT_WARM_UP: Duration = Duration::from_secs(4);
/// The secret read's connection, shorter so that a retry still fits.
pub const SECRET_CONNECT: Duration = Duration::from_secs(1);

// The limits nest: the compiler checks it, so a change that breaks the budget does not build.
const _: () = {
    assert!(REQUEST_DEADLINE.as_secs() < FUNCTION_TIMEOUT.as_secs());
    assert!(PROVIDER_CALL.as_secs() + KEY_FETCH.as_secs() <= REQUEST_DEADLINE.as_secs());
    assert!(SECRET_READ.as_secs() + PROVIDER_CALL.as_secs() <= REQUEST_DEADLINE.as_secs());
    assert!(SECRET_READ_ATTEMPT.as_secs() < SECRET_READ.as_secs());
    assert!(KEY_FETCH.as_secs() < INIT_WARM_UP.as_secs());
    assert!(SECRET_READ.as_secs() < INIT_WARM_UP.as_secs());
};
