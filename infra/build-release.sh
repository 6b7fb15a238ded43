#!/usr/bin/env bash
# Builds the six Lambda functions as release zips and prints each zip's size.
#
#   infra/build-release.sh [arm64|x86_64|host]     (default: arm64, what both templates deploy)
#
# Output: target/lambda-<arch>/<function>/bootstrap.zip — one folder per architecture, so an arm64 build and
# an x86_64 build never overwrite each other. The CDK app reads target/lambda-arm64 (infra/README.md).
# `host` builds for this machine's architecture with the toolchain already installed (what CI may do): it never
# downloads a Rust target.
#
# Needs: cargo-lambda and zig in the project's .venv/ (`bash scripts/setup.sh`), and for a cross build the Rust
# standard library of the target (`rustup target add aarch64-unknown-linux-gnu`, needs network access to the Rust
# distribution server). The release profile (lto, codegen-units=1, strip, panic=unwind) is in the root Cargo.toml.
set -euo pipefail

FUNCTIONS=(token protected user admin authorizer whoami)
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
  sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

arch="${1:-arm64}"
case "$arch" in
  -h|--help) usage; exit 0 ;;
  host)
    case "$(uname -m)" in
      x86_64|amd64) arch=x86_64 ;;
      aarch64|arm64) arch=arm64 ;;
      *) echo "build-release: unsupported host architecture $(uname -m)" >&2; exit 2 ;;
    esac
    host_build=1
    ;;
  arm64|x86_64) host_build=0 ;;
  *) echo "build-release: unknown architecture '$arch' (want arm64, x86_64 or host)" >&2; usage >&2; exit 2 ;;
esac
if [[ $# -gt 1 ]]; then
  echo "build-release: too many arguments" >&2; usage >&2; exit 2
fi

case "$arch" in
  arm64) triple=aarch64-unknown-linux-gnu; arch_flag=--arm64 ;;
  x86_64) triple=x86_64-unknown-linux-gnu; arch_flag=--x86-64 ;;
esac
lambda_dir="target/lambda-$arch"

# What ships is each function and the crates it links, never the development-only local issuer
# (shared/descope-local, for local runs and tests). `cargo tree` reads the lock file and builds nothing.
for fn in "${FUNCTIONS[@]}"; do
  if (cd "$REPO_ROOT" && cargo tree --locked -q -e normal,build -p "$fn" --prefix none) | grep -q '^descope-local '; then
    echo "build-release: function $fn links descope-local, which is for local runs and tests only" >&2
    exit 1
  fi
done

# The project's Python tools (cargo-lambda, zig) live in .venv/ (scripts/requirements.txt).
[[ -x "$REPO_ROOT/.venv/bin/cargo-lambda" ]] && export PATH="$REPO_ROOT/.venv/bin:$PATH"
if ! cargo lambda --version >/dev/null 2>&1; then
  echo "build-release: cargo-lambda is not installed (bash scripts/setup.sh installs it into .venv/)" >&2
  exit 1
fi
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx "$triple"; then
  if [[ "$host_build" == 1 ]]; then
    echo "build-release: the host target $triple is not installed in the active toolchain" >&2
    exit 1
  fi
  echo "build-release: adding the Rust standard library for $triple (rustup target add)"
  if ! rustup target add "$triple"; then
    echo "build-release: could not download the $triple standard library (no network access to the Rust" >&2
    echo "distribution server?). Run 'rustup target add $triple' where it can, or build with 'host'." >&2
    exit 1
  fi
fi

cd "$REPO_ROOT"
packages=()
for f in "${FUNCTIONS[@]}"; do packages+=(-p "$f"); done

echo "build-release: cargo lambda build --release $arch_flag --output-format zip --lambda-dir $lambda_dir ${packages[*]}"
cargo lambda build --release "$arch_flag" --output-format zip --lambda-dir "$lambda_dir" "${packages[@]}"

echo
printf '%-10s %12s %10s  %s\n' function bytes KiB zip
status=0
for f in "${FUNCTIONS[@]}"; do
  zip="$lambda_dir/$f/bootstrap.zip"
  if [[ ! -s "$zip" ]]; then
    echo "build-release: $zip was not produced" >&2
    status=1
    continue
  fi
  bytes=$(stat -c %s "$zip")
  printf '%-10s %12d %10.1f  %s\n' "$f" "$bytes" "$(awk -v b="$bytes" 'BEGIN { print b / 1024 }')" "$zip"
done
exit "$status"
