//! The in-process tests, one binary (tests/Cargo.toml says why): `cargo nextest run -p m2m-tests`, or one
//! file's tests by their module, e.g. `cargo nextest run -p m2m-tests attacks::`.

mod attacks;
mod authorizer;
mod crates;
mod exchange;
mod faults;
mod keys;
mod layer;
mod load;
mod logs;
mod observability;
mod oidc;
mod protected;
mod reference;
mod secrets;
mod token_cache;
