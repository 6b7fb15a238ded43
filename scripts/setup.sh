#!/usr/bin/env bash
# Installs everything the local run and the tests need, from Debian, PyPI, npm and crates.io only:
#   * checks first: Rust (the workspace's rust-version or newer), Node.js 20+, Python 3.10+;
#   * Debian packages (apt-get, through sudo when not root): chromium, curl, git, python3-venv, a C/C++ compiler;
#   * every Python tool in the project's virtual environment .venv/ (scripts/requirements.txt), never system-wide;
#   * rustfmt and clippy, cargo-fuzz and cargo-nextest (pinned), the npm packages of tests/ and of infra/cdk/.
# Idempotent: what is already there is only checked (a second run takes seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh

started=$SECONDS
step_started=$SECONDS
step() {
  ((SECONDS - step_started < 1)) || printf '   (%ds)\n' $((SECONDS - step_started))
  step_started=$SECONDS
  printf '\n== setup: %s\n' "$*"
}

step "prerequisites: Rust $(rust_min_version)+, Node.js $NODE_MIN_VERSION+, Python $PYTHON_MIN_VERSION+"
require_rust
require_node
require_python
echo "rustc $(rustc --version | cut -d' ' -f2), node $(node --version), $(python3 --version) ($(command -v python3))"

step "Debian packages (chromium for the browser test, curl, git, a C++ compiler for the fuzzer)"
ensure_commands curl=curl git=git c++=g++
# The browser test drives Debian's chromium, or the browser CHROMIUM_PATH names (Ubuntu's chromium is a snap).
if [[ -n "${CHROMIUM_PATH:-}" ]]; then
  [[ -x "$CHROMIUM_PATH" ]] || fail "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable file"
else
  ensure_commands chromium=chromium
fi

step "Python tools in .venv/ (scripts/requirements.txt)"
use_project_venv
cargo lambda --version
moto_server --help >/dev/null && echo "moto_server $(python -c 'import importlib.metadata as m; print(m.version("moto"))')"
schemathesis --version

step "Rust components (rustfmt, clippy), cargo-fuzz $CARGO_FUZZ_VERSION and cargo-nextest $CARGO_NEXTEST_VERSION"
ensure_rust_components
ensure_cargo_fuzz
ensure_cargo_nextest
cargo --version
cargo fuzz --version
cargo nextest --version | head -1

step "npm packages of the end-to-end and interoperability tests"
lock_sum=$(sha256sum tests/package-lock.json | cut -d' ' -f1)
if [[ "$(cat tests/node_modules/.setup-lock 2>/dev/null)" != "$lock_sum" ]]; then
  npm ci --prefix tests --no-audit --no-fund --loglevel=error
  echo "$lock_sum" >tests/node_modules/.setup-lock
else
  echo "tests/node_modules matches package-lock.json"
fi

step "infrastructure tools (infra/setup.sh)"
bash infra/setup.sh

step "done"
echo "setup took $((SECONDS - started))s"
