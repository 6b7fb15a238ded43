#!/usr/bin/env bash
# Installs everything the local run and the tests need, from Debian, PyPI, npm and crates.io only.
# Idempotent: what is already there is only checked. Run as root (CI) or with sudo rights for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== setup: %s\n' "$*"; }

step "Debian packages (chromium for the browser test, curl)"
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

step "Python tools (cargo-lambda, zig, moto server)"
python3 -m pip install --quiet --disable-pip-version-check \
  "cargo-lambda==1.9.2" "ziglang==0.17.1" "moto[server]==5.2.1"

step "Rust components"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo --version

step "npm packages of the end-to-end and interoperability tests"
lock_sum=$(sha256sum tests/package-lock.json | cut -d' ' -f1)
if [[ "$(cat tests/node_modules/.setup-lock 2>/dev/null)" != "$lock_sum" ]]; then
  npm ci --prefix tests --no-audit --no-fund --loglevel=error
  echo "$lock_sum" >tests/node_modules/.setup-lock
fi

step "infrastructure tools"
bash infra/setup.sh

for extra in scripts/setup-fuzz.sh scripts/setup-schemathesis.sh; do
  if [[ -f "$extra" ]]; then step "$extra"; bash "$extra"; fi
done
