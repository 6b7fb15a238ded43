#!/usr/bin/env bash
# Runs infra/upload-page.sh against a stub `aws` command (no AWS account, no network) and checks what it would
# upload: ui/ without config.json, a generated config.json for the stack's project, and a CloudFront invalidation.
set -euo pipefail
INFRA="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/bin"
cat >"$TMP/bin/aws" <<'STUB'
#!/usr/bin/env bash
echo "aws $*" >>"$STUB_LOG"
case "$1 $2" in
  "cloudformation describe-stacks")
    case "$*" in
      *"OutputKey=='BucketName'"*) echo "${STUB_BUCKET:-None}" ;;
      *"OutputKey=='DistributionId'"*) echo "E2TESTDIST" ;;
      *"OutputKey=='SiteUrl'"*) echo "https://d111111abcdef8.cloudfront.net" ;;
      *"ParameterKey=='ProjectId'"*) echo "P2testProject" ;;
      *"ParameterKey=='PageApiBaseUrl'"*) echo "${STUB_API_BASE:-}" ;;
      *) echo "None" ;;
    esac ;;
  "s3 cp") cp "$3" "$STUB_DIR/uploaded-$(basename "$4")" ;;
esac
STUB
chmod +x "$TMP/bin/aws"
export STUB_LOG="$TMP/calls.log" STUB_DIR="$TMP" PATH="$TMP/bin:$PATH"

fail() { echo "upload-page test: $*" >&2; cat "$STUB_LOG" >&2 || true; exit 1; }

STUB_BUCKET=test-bucket "$INFRA/upload-page.sh" my-stack >"$TMP/out.log" 2>&1 || { cat "$TMP/out.log"; fail "exit $?"; }
grep -q "^aws cloudformation describe-stacks --stack-name my-stack " "$STUB_LOG" || fail "stack name not used"
grep -Eq "^aws s3 sync .*/ui/ s3://test-bucket/ --delete --exclude config.json" "$STUB_LOG" || fail "no s3 sync of ui/"
grep -q "^aws s3 cp .*config.json s3://test-bucket/config.json --content-type application/json" "$STUB_LOG" \
  || fail "config.json not uploaded"
grep -q "^aws cloudfront create-invalidation --distribution-id E2TESTDIST --paths /\*" "$STUB_LOG" \
  || fail "no invalidation"
python3 - "$TMP/uploaded-config.json" <<'PY' || fail "config.json content"
import json, sys
got = json.load(open(sys.argv[1]))
assert got == {"projectId": "P2testProject", "apiBaseUrl": ""}, got
PY
# A stack whose page calls the API on another origin: config.json carries PageApiBaseUrl.
STUB_BUCKET=test-bucket STUB_API_BASE=https://api.example.com "$INFRA/upload-page.sh" my-stack >"$TMP/out3.log" 2>&1 \
  || { cat "$TMP/out3.log"; fail "exit $? with PageApiBaseUrl"; }
python3 - "$TMP/uploaded-config.json" <<'PY' || fail "config.json content with PageApiBaseUrl"
import json, sys
got = json.load(open(sys.argv[1]))
assert got == {"projectId": "P2testProject", "apiBaseUrl": "https://api.example.com"}, got
PY
# A value the template would never accept is refused, not written into JSON.
if STUB_BUCKET=test-bucket STUB_API_BASE='https://x", "evil": "1' "$INFRA/upload-page.sh" my-stack >"$TMP/out4.log" 2>&1; then
  fail "accepted a malformed PageApiBaseUrl"
fi
grep -q "unexpected PageApiBaseUrl" "$TMP/out4.log" || fail "unclear error: $(cat "$TMP/out4.log")"
: >"$STUB_LOG"
if "$INFRA/upload-page.sh" missing-stack >"$TMP/out2.log" 2>&1; then fail "succeeded without a bucket"; fi
grep -q "could not read bucket" "$TMP/out2.log" || fail "unclear error: $(cat "$TMP/out2.log")"
if grep -q "^aws s3" "$STUB_LOG"; then fail "uploaded although the stack could not be read"; fi
echo "upload-page.sh: sync, config.json (same origin and PageApiBaseUrl) and invalidation as expected"
