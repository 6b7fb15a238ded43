#!/usr/bin/env bash
# Runs each cargo-fuzz target (fuzz/fuzz_targets) for a while:
#
#   bash scripts/fuzz.sh          # 40 s per target (the test command's two minutes, split over three targets)
#   bash scripts/fuzz.sh 3600     # an hour per target
#
# Installs cargo-fuzz at its pinned version (scripts/tools.sh) when missing. cargo-fuzz needs nightly compiler
# flags (sanitizers, coverage instrumentation); RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them. New
# inputs go to fuzz/work/ (not committed), the committed seeds in fuzz/corpus/ are read only, and a crash is
# written to fuzz/artifacts/<target>/ and stops the run with a non-zero status.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
require_rust
ensure_cargo_fuzz
cd fuzz

seconds=${1:-40}
targets=(verify_token verify_reference token_request)

export RUSTC_BOOTSTRAP=1

cargo fuzz build
for target in "${targets[@]}"; do
  mkdir -p "work/$target" "artifacts/$target"
  echo "== $target: ${seconds}s" >&2
  # libFuzzer reports every new input; its log is kept in work/ and shown in full only when it fails.
  log="work/$target.log"
  if ! cargo fuzz run "$target" "work/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=12000 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 80 "$log" >&2
    echo "fuzz: $target failed; the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  grep -E '^(Done|stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb))' "$log" >&2
done
