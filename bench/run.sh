#!/usr/bin/env bash
# Produces every number of BENCHMARKS.md on this machine, into bench/results/:
#
#   1. criterion benches (cases 1-4), each as a ratio to the RSA-2048 verify floor of the same run
#      -> ratios.{md,json,svg}
#   2. the same token verified by Node's jose, jsonwebtoken and aws-jwt-verify, as ratios to the Rust hot path
#      -> node.json
#   3. cold start of the four release binaries under a local Lambda Runtime API, 30 runs each, and peak RSS
#      through a 10,000-invocation run -> coldstart.json
#   3b. CPU per warm invocation (the process's own on-CPU time) of the release `user` function under a local
#      Lambda Runtime API, a token presented again and a new token per event, next to a trivial lambda_http
#      function and Node 20 + aws-jwt-verify -> invocation_cpu.json
#   3c. when valgrind is installed: instructions per warm invocation in user space, the count the machine's
#      noise cannot move -> invocation_instructions.json
#   4. the release zips of the four functions (arm64 when its Rust target is installed, else this machine's
#      architecture) -> sizes.json
#   5. summary.md: all of the above as the tables BENCHMARKS.md holds
#
#   bash bench/run.sh            # everything (about 15 minutes on 2 cores; keep the machine otherwise idle)
#   bash bench/run.sh --quick    # shorter criterion measurement, 5 cold-start runs, 1,000 invocations
#
# Builds into target/perf (its own cargo lock, so other builds in the workspace are not blocked).
set -euo pipefail
cd "$(dirname "$0")/.."
# cargo-lambda and zig (for the release zips) from the project's .venv/ (scripts/requirements.txt).
source scripts/tools.sh
use_project_venv cargo-lambda ziglang
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/perf}"
# Measured as shipped: the release profile's settings, not the quicker ones `cargo bench --no-run` uses.
export CARGO_PROFILE_BENCH_LTO=true CARGO_PROFILE_BENCH_CODEGEN_UNITS=1
out=bench/results
mkdir -p "$out"

criterion_args=()
runs=30
invocations=10000
cpu_args=(--n 3000 --rounds 3)
if [[ "${1:-}" == "--quick" ]]; then
  criterion_args=(--warm-up-time 1 --measurement-time 2)
  runs=5
  invocations=1000
  cpu_args=(--n 1000 --rounds 1)
fi
step() { printf '\n== bench: %s\n' "$*" >&2; }

step "criterion: verification and handlers"
# A stale estimate of a renamed or removed case must not reach the table.
rm -rf "$CARGO_TARGET_DIR/criterion/auth" "$CARGO_TARGET_DIR/criterion/api"
cargo bench --locked -p m2m-auth --bench verify -- --noplot "${criterion_args[@]}"
cargo bench --locked -p m2m-token --bench handlers -- --noplot "${criterion_args[@]}"
python3 bench/report.py --criterion "$CARGO_TARGET_DIR/criterion" --out "$out" >/dev/null

step "release binaries (this machine's architecture) for the cold-start and Node runs"
cargo build --locked --release -p token -p protected -p user -p admin -p authorizer -p descope-local
# The runtime's floor for the CPU-per-invocation step: an example target, never deployed.
cargo build --locked --release -p m2m-api --example trivial_lambda
bin_dir="$CARGO_TARGET_DIR/release"

step "Node libraries on the same token"
npm ci --prefix bench/node-compare --no-audit --no-fund --loglevel=error
work=$(mktemp -d)
"$bin_dir/descope-local" --port 0 --ttl 86400 >"$work/issuer.out" 2>/dev/null &
issuer=$!
trap 'kill $issuer 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q listening "$work/issuer.out" && break; sleep 0.1; done
base_url=$(sed -n 's/.* on \(http[^ ]*\).*/\1/p' "$work/issuer.out")
project=P2LocalDevProject
curl -sf -X POST "$base_url/v1/auth/accesskey/exchange" -H "Authorization: Bearer $project:dev-admin-key" \
  -H 'content-type: application/json' -d '{}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["sessionJwt"])' >"$work/token"
curl -sf "$base_url/$project/.well-known/jwks.json" >"$work/jwks.json"
rust_ns=$(python3 -c 'import json,sys; c={r["bench"]: r for r in json.load(open(sys.argv[1]))["cases"]}; print(c["verify_grants_new"]["ns"])' "$out/ratios.json")
issuer_claim=$(python3 -c 'import base64,json,sys; p=open(sys.argv[1]).read().split(".")[1]; print(json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))["iss"])' "$work/token")
node bench/node-compare/compare.mjs --token "$work/token" --jwks "$work/jwks.json" \
  --issuer "$issuer_claim" --rust-ns "$rust_ns" --n 20000 --json "$out/node.json"
kill $issuer 2>/dev/null || true

step "cold start and memory under a local Lambda Runtime API"
python3 bench/coldstart.py --runs "$runs" --rss "$invocations" --bin-dir "$bin_dir" --json "$out/coldstart.json"

step "CPU per warm invocation under a local Lambda Runtime API"
python3 bench/invocation_cpu.py "${cpu_args[@]}" --bin-dir "$bin_dir" --json "$out/invocation_cpu.json"
if command -v valgrind >/dev/null; then
  step "instructions per warm invocation (callgrind)"
  python3 bench/invocation_instructions.py --bin-dir "$bin_dir" --json "$out/invocation_instructions.json"
fi

step "release zips"
arch=host
rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$' && arch=arm64
bash infra/build-release.sh "$arch"
[[ "$arch" == host ]] && arch=$(uname -m | sed 's/aarch64/arm64/')
python3 - "$arch" "$out/sizes.json" <<'EOF'
import json, os, sys
arch, path = sys.argv[1], sys.argv[2]
sizes = {f: os.path.getsize(f"target/lambda-{arch}/{f}/bootstrap.zip") for f in ("token", "protected", "user", "admin")}
json.dump({"arch": arch, "zip_bytes": sizes}, open(path, "w"), indent=2)
EOF

step "summary"
python3 bench/report.py --criterion "$CARGO_TARGET_DIR/criterion" --out "$out" --summary
