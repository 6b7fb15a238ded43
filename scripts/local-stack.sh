#!/usr/bin/env bash
# Runs the whole thing locally: the local Descope-compatible issuer, the four functions and the web page
# behind `cargo lambda watch`, wired to each other on 127.0.0.1.
#
#   bash scripts/local-stack.sh            # http://127.0.0.1:9000
#   M2M_PORT=9100 bash scripts/local-stack.sh
#
# With DESCOPE_PROJECT_ID and DESCOPE_ACCESS_KEY set (in the environment or in .env), the functions use
# real Descope instead of the local issuer. Prints `READY <url>` once every route answers; Ctrl-C (or
# SIGTERM) stops everything it started.
#
# Needs Rust (the workspace's rust-version or newer) and Python 3.10+; installs what else it needs: curl
# (apt-get) and cargo-lambda, into the project's virtual environment .venv/ (scripts/tools.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source scripts/tools.sh
require_rust
require_python
ensure_commands curl=curl
use_project_venv cargo-lambda

if [[ -f .env ]]; then
  set -a; source .env; set +a
fi
port=${M2M_PORT:-9000}
state=$(mktemp -d)
pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "building the functions and the local issuer..." >&2
cargo build --quiet --bins
# Where cargo put them: target/ unless CARGO_TARGET_DIR (or build.target-dir) points elsewhere.
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

if [[ -n "${DESCOPE_ACCESS_KEY:-}" && -n "${DESCOPE_PROJECT_ID:-}" ]]; then
  mode="Descope (${DESCOPE_BASE_URL:-https://api.descope.com})"
  project=$DESCOPE_PROJECT_ID
  base_url=${DESCOPE_BASE_URL:-https://api.descope.com}
  demo_key=""
else
  mode="local issuer"
  project=P2LocalDevProject
  setsid "$target_dir/debug/descope-local" --port 0 >"$state/issuer.out" 2>"$state/issuer.log" &
  pids+=($!)
  for _ in $(seq 100); do
    grep -q "listening on" "$state/issuer.out" 2>/dev/null && break
    sleep 0.1
  done
  base_url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$state/issuer.out")
  [[ -n "$base_url" ]] || { echo "the local issuer did not start:" >&2; cat "$state/issuer.log" >&2; exit 1; }
  demo_key=dev-reader-key
fi

# STACK_KEY_CALLERS=any: nothing authenticates callers on this machine, so the development stack lets anyone
# have the configured key exchanged (in AWS only IAM-authenticated callers may). M2M_CORS_ORIGINS lets a page
# on another origin call the API (the browser test uses it).
cat >"$state/functions.env" <<ENV
DESCOPE_PROJECT_ID=$project
DESCOPE_BASE_URL=$base_url
RUST_LOG=${RUST_LOG:-info}
UI_DIR=$root/ui
STACK_KEY_CALLERS=any
CORS_ALLOWED_ORIGINS=${M2M_CORS_ORIGINS:-}
ENV
if [[ -n "$demo_key" ]]; then
  cat >>"$state/functions.env" <<ENV
DESCOPE_ACCESS_KEY=$demo_key
UI_DEMO_ACCESS_KEY_HINT=$demo_key
UI_DEMO_ACCESS_KEYS='[{"key":"dev-admin-key","label":"admin + read:data"},{"key":"dev-reader-key","label":"user + read:data"},{"key":"dev-nogrants-key","label":"no grants"},{"key":"dev-tenant-key","label":"admin inside tenant T2Acme"},{"key":"dev-expired-key","label":"expired"},{"key":"dev-disabled-key","label":"disabled"}]'
ENV
else
  echo "DESCOPE_ACCESS_KEY=$DESCOPE_ACCESS_KEY" >>"$state/functions.env"
fi

setsid cargo lambda watch -A 127.0.0.1 -P "$port" --disable-cors --env-file "$state/functions.env" \
  >"$state/watch.log" 2>&1 &
pids+=($!)
url="http://127.0.0.1:$port"

# Each function compiles and starts on its first request; wait until every route answers.
answers() { curl -s -o /dev/null -w '%{http_code}' --max-time 120 "$@" || true; }
ready=""
for _ in $(seq 600); do
  if [[ "$(answers "$url/config.json")" == 200 ]]; then ready=1; break; fi
  if ! kill -0 "${pids[-1]}" 2>/dev/null; then break; fi
  sleep 0.5
done
[[ -n "$ready" ]] || { echo "cargo lambda watch did not come up:" >&2; tail -40 "$state/watch.log" >&2; exit 1; }
for route in /m2m/token /api/protected /api/user /api/admin; do
  code=$(answers -X POST "$url$route" -H 'content-type: application/json' -d '{}')
  if [[ "$route" == /m2m/token && "$code" != 200 && -n "$demo_key" ]] || [[ "$code" == 000 || "$code" == 404 ]]; then
    echo "$route did not answer as expected (status $code):" >&2; tail -40 "$state/watch.log" >&2; exit 1
  fi
done

cat >&2 <<INFO

  M2M functions are running against the $mode (project $project).
  Web page:  $url/

  Try it:
    TOKEN=\$(curl -s -X POST $url/m2m/token -H 'content-type: application/json' \\
      -d '{"accessKey":"${demo_key:-<your access key>}","scopes":["read:data"]}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["jwt"])')
    curl -s -X POST $url/api/protected -H "Authorization: Bearer \$TOKEN"
    curl -s -X POST $url/api/user      -H "Authorization: Bearer \$TOKEN"
    curl -s -X POST $url/api/admin     -H "Authorization: Bearer \$TOKEN"    # 403: read:data only

  Logs: $state/watch.log  ·  Ctrl-C stops everything.
INFO
echo "READY $url"
tail -f "$state/watch.log" >&2 &
pids+=($!)
wait "${pids[1]}"
