#!/usr/bin/env bash
# Checks the running API against its own contract, openapi.yaml, with schemathesis (property-based):
# no answer is a server error, and every answer has a documented status, content type, headers and body.
#
#   bash scripts/schemathesis.sh                 # 50 examples per operation, at most 4 minutes of testing
#   MAX_EXAMPLES=200 MAX_TIME=900 bash scripts/schemathesis.sh
#
# Installs schemathesis (pinned in scripts/requirements.txt) into the project's .venv/ when missing, starts
# the local stack (scripts/local-stack.sh: the local issuer and the four functions behind
# `cargo lambda watch`) on a free port, runs the checks, and stops the stack again whatever happens. Exits with schemathesis' status.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
use_project_venv schemathesis

max_examples=${MAX_EXAMPLES:-50}
max_time=${MAX_TIME:-240}
stack_timeout=${STACK_TIMEOUT:-1800}

port=${M2M_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
work=$(mktemp -d)
# The stack runs in a session (and process group) of its own, so that it can be stopped as a whole.
setsid env M2M_PORT="$port" bash scripts/local-stack.sh >"$work/stack.out" 2>"$work/stack.err" </dev/null &
stack=$!
cleanup() {
  trap - EXIT INT TERM
  kill -TERM -- "-$stack" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$stack" 2>/dev/null || break; sleep 0.2; done
  kill -KILL -- "-$stack" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "starting the local stack on port $port (the first run builds the functions)..." >&2
url=""
deadline=$((SECONDS + stack_timeout))
while ((SECONDS < deadline)); do
  url=$(sed -n 's/^READY //p' "$work/stack.out")
  [[ -n "$url" ]] && break
  if ! kill -0 "$stack" 2>/dev/null; then
    echo "the local stack stopped before it was ready:" >&2
    tail -40 "$work/stack.err" >&2
    exit 1
  fi
  sleep 1
done
[[ -n "$url" ]] || { echo "the local stack was not ready within ${stack_timeout}s" >&2; tail -40 "$work/stack.err" >&2; exit 1; }
echo "local stack ready at $url" >&2

# A token of the reader key (read:data): /api/protected and /api/user answer 200, /api/admin 403, and every
# answer is checked against the schema. Requests without it, or with broken ones, are tests/rust/attacks.rs.
token=$(curl -sf -X POST "$url/m2m/token" -H 'content-type: application/json' \
  -d '{"accessKey":"dev-reader-key","scopes":["read:data"]}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["jwt"])')

status=0
PYTHONPATH="$PWD/scripts${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=schemathesis_hooks \
schemathesis run openapi.yaml \
  --url "$url" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --max-examples "$max_examples" \
  --max-time "$max_time" \
  --workers 1 \
  --request-timeout 20 \
  --seed "${SCHEMATHESIS_SEED:-20261129}" \
  --report junit --report-dir "${SCHEMATHESIS_REPORT_DIR:-target/schemathesis}" || status=$?
exit "$status"
