#!/usr/bin/env bash
# Runs the criterion benches (issue 7, cases 1-4) and prints every case as a ratio to the RSA-2048 verify
# floor measured in the same run; writes bench/results/ratios.{md,json,svg}.
#
#   bash bench/run.sh              # both bench binaries, criterion defaults (~2 min on 2 cores)
#   bash bench/run.sh --quick      # shorter measurement (for a look, not for the record)
#
# Builds into target/perf (its own cargo lock, so other builds in the workspace are not blocked).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/perf}"
# Measured as shipped: the release profile's settings, not the quicker ones `cargo bench --no-run` uses.
export CARGO_PROFILE_BENCH_LTO=true CARGO_PROFILE_BENCH_CODEGEN_UNITS=1
extra=()
if [[ "${1:-}" == "--quick" ]]; then
  extra=(--warm-up-time 1 --measurement-time 2)
fi
# A stale estimate of a renamed or removed case must not reach the table.
rm -rf "$CARGO_TARGET_DIR/criterion/auth" "$CARGO_TARGET_DIR/criterion/api"
cargo bench -p m2m-auth --bench verify -- --noplot "${extra[@]}"
cargo bench -p m2m-api --bench handlers -- --noplot "${extra[@]}"
python3 bench/report.py --criterion "$CARGO_TARGET_DIR/criterion" --out bench/results
