#!/usr/bin/env bash
# Runs every test of the project: formatting and lints, the Rust tests (in-process against the local
# issuer, Secrets Manager against moto, OIDC against oidc-provider), the browser and HTTP tests through
# `cargo lambda watch`, the interoperability tests, the infrastructure checks, a short fuzzing run and the
# API contract test. Installs what it needs first (scripts/setup.sh), and checks that the setup also works in
# a fresh clone on the distribution's own Python (scripts/stock-machine-check.sh --setup).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
export CARGO_TERM_COLOR=never

step() { printf '\n== test: %s\n' "$*"; }

bash scripts/setup.sh
# Every Python tool (moto_server for the Rust tests, cargo-lambda, sam, schemathesis) from .venv/.
use_project_venv

# Inside stock-machine-check.sh --all this very run is already the fresh clone on a reduced PATH.
if [[ -z "${M2M_STOCK_MACHINE_CHECK:-}" ]]; then
  step "the setup step in a fresh clone, on the distribution's PATH (scripts/stock-machine-check.sh --setup)"
  bash scripts/stock-machine-check.sh --setup
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build the binaries (the node tests start them)"
cargo build --workspace --bins --locked

step "Rust tests (cargo nextest: a process per test), then the doctests, which nextest does not run"
cargo nextest run --workspace --locked
cargo test --workspace --doc --locked

step "benchmarks build (their timings are not judged here: bench/run.sh measures)"
# With the test profile, on the dependencies the tests just built: `cargo bench --no-run` would build every
# dependency once more with optimisations, minutes of CI, to prove no more than that the benchmarks link.
cargo test --workspace --benches --no-run --locked
# The metrics crate's bench variant sits outside the workspace (bench/metrics-crate-variant/Cargo.toml says why).
cargo fmt --manifest-path bench/metrics-crate-variant/Cargo.toml -- --check
cargo clippy --manifest-path bench/metrics-crate-variant/Cargo.toml --target-dir target --locked -- -D warnings

step "browser, HTTP and interoperability tests (node --test)"
# One local stack (issuer + cargo lambda watch) for the HTTP and browser tests, stopped on exit.
stack_out=$(mktemp)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
# A second origin, allowed by CORS_ALLOWED_ORIGINS, for the cross-origin browser test (tests/e2e/cors.test.mjs).
export M2M_SECOND_ORIGIN_PORT
M2M_SECOND_ORIGIN_PORT=$(free_port)
M2M_PORT=$port M2M_CORS_ORIGINS="http://127.0.0.1:$M2M_SECOND_ORIGIN_PORT" setsid bash scripts/local-stack.sh >"$stack_out" 2>"$stack_out.err" &
stack_pid=$!
trap 'kill -TERM -- -$stack_pid 2>/dev/null || true; wait $stack_pid 2>/dev/null || true; rm -f "$stack_out" "$stack_out.err"' EXIT
for _ in $(seq 1800); do
  grep -q '^READY ' "$stack_out" && break
  kill -0 "$stack_pid" 2>/dev/null || { cat "$stack_out.err"; exit 1; }
  sleep 0.5
done
grep -q '^READY ' "$stack_out" || { echo "the local stack did not come up"; tail -50 "$stack_out.err"; exit 1; }
export M2M_BASE_URL
M2M_BASE_URL=$(sed -n 's/^READY //p' "$stack_out")
node_suites=(tests/e2e/)
[[ -d tests/interop ]] && node_suites+=(tests/interop/)
node --test --test-concurrency=1 "${node_suites[@]}"
kill -TERM -- -"$stack_pid" 2>/dev/null || true

step "release zips for this machine's architecture (infra/build-release.sh host)"
bash infra/build-release.sh host

step "infrastructure checks, and the deployed shape: those zips configured by each template"
bash infra/test.sh

for extra in scripts/fuzz.sh scripts/schemathesis.sh; do
  if [[ -f "$extra" ]]; then step "$extra"; bash "$extra"; fi
done

printf '\n== test: all suites passed\n'
