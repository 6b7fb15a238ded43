#!/usr/bin/env bash
# Infrastructure tests: no AWS account, no Docker, no network, no Rust build. Needs infra/setup.sh first
# (its SAM CLI and cfn-lint are in the project's .venv/).
#
#   0. the SAM template's generated parts are up to date with infra/stack.json (infra/generate_sam.py --check),
#      and a copy with a generated part edited by hand fails that check
#   1. cfn-lint on the SAM template
#   2. sam validate --lint, and plain sam validate (offline, dummy credentials)
#   3. the CDK app compiles (tsc) and `cdk synth` succeeds, with dummy function zips in a temp folder
#   4. cfn-lint on the CDK synth output
#   5. CDK assertion tests (aws-cdk-lib/assertions under node --test)
#   6. drift check: SAM == CDK (what each tool writes its own way, normalised) == Cargo.toml router, Ref targets,
#      stack.json's variables read by the Rust code; its own test (test_check_drift.py: mutated copies must
#      fail) and broken-file runs that must fail with their own error
#   7. SAM's own transform (offline): the generated OpenAPI body has the routes, authorization, authorizer,
#      endpoint setting, throttling and permissions intended (and broken copies fail)
#   8. build-release.sh argument handling (no build); upload-page.sh against a stub `aws` command
#   9. when release zips exist: the deployed shape (infra/tests/deployed_shape.py): the real binaries under a
#      Lambda Runtime API, configured by each template, with moto server and the local issuer; and for each
#      AuthProvider the secret the template creates, filled as infra/README.md says, against the local issuer
#      and oidc-provider (tests/interop/oidc-provider.mjs: needs node and `npm ci --prefix tests`)
#
# Prints PASS/FAIL per step and ends with "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail

INFRA="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$INFRA/.." && pwd)"
# The project's one Python environment (scripts/requirements.txt), made by scripts/setup.sh or infra/setup.sh.
VENV="$REPO/.venv"
CDK="$INFRA/cdk"
STACK=DescopeM2M

passed=0
failed=0
failures=()
TMP="$(mktemp -d "${TMPDIR:-/tmp}/infra-test.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

# Offline and credential-free: nothing may reach AWS (no instance metadata, no STS, no telemetry).
export AWS_EC2_METADATA_DISABLED=true
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_CONFIG_FILE="$TMP/aws-config" AWS_SHARED_CREDENTIALS_FILE="$TMP/aws-credentials"
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
export SAM_CLI_TELEMETRY=0 CDK_DISABLE_VERSION_CHECK=1 CDK_DISABLE_CLI_TELEMETRY=true
export CDK_DEFAULT_REGION=us-east-1
export NO_COLOR=1 FORCE_COLOR=0

# step NAME COMMAND...: runs the command, keeps its output in a log, prints it only on failure.
step() {
  local name="$1"; shift
  local log="$TMP/step-$((passed + failed)).log"
  local start=$SECONDS
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1))
    printf 'PASS  %-60s (%ds)\n' "$name" $((SECONDS - start))
  else
    failed=$((failed + 1))
    failures+=("$name")
    printf 'FAIL  %-60s (%ds)\n' "$name" $((SECONDS - start))
    sed 's/^/      | /' "$log" | tail -n 60
  fi
}

# Shows the output of a step that passed too (for the drift check's summary).
step_verbose() {
  local name="$1"; shift
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1)); printf 'PASS  %-60s (%ds)\n' "$name" $((SECONDS - start))
  else
    failed=$((failed + 1)); failures+=("$name"); printf 'FAIL  %-60s (%ds)\n' "$name" $((SECONDS - start))
  fi
}

# ------------------------------------------------------------------------------------------------ prerequisites
missing=()
[[ -x "$VENV/bin/cfn-lint" ]] || missing+=(".venv/bin/cfn-lint")
[[ -x "$VENV/bin/sam" ]] || missing+=(".venv/bin/sam")
[[ -d "$CDK/node_modules/aws-cdk-lib" ]] || missing+=("infra/cdk/node_modules")
if ((${#missing[@]})); then
  echo "FAIL  prerequisites: missing ${missing[*]} - run bash infra/setup.sh (or bash scripts/setup.sh) first"
  echo "0 passed, 1 failed"
  exit 1
fi

echo "== infra tests (SAM template, CDK app, drift) =="

# ------------------------------------------------------------------------------------------------ SAM
generated() { "$VENV/bin/python" "$INFRA/generate_sam.py" --check --template "$1"; }
step "SAM template's generated parts up to date with stack.json" generated "$INFRA/template.yaml"
generated_rejects() {  # a hand edit of a generated part (a parameter's default) must fail the check
  sed 's/^    Default: 86400$/    Default: 60/' "$INFRA/template.yaml" >"$TMP/hand-edited.yaml"
  cmp -s "$INFRA/template.yaml" "$TMP/hand-edited.yaml" && { echo "the sed no longer applies"; return 1; }
  if generated "$TMP/hand-edited.yaml" >"$TMP/hand-edited.log" 2>&1; then echo "expected a failure"; return 1; fi
  grep -q "is not what infra/stack.json gives" "$TMP/hand-edited.log" || { cat "$TMP/hand-edited.log"; return 1; }
}
step "generate_sam.py --check rejects a hand-edited generated part" generated_rejects
step "cfn-lint infra/template.yaml" "$VENV/bin/cfn-lint" "$INFRA/template.yaml"
sam_validate() {
  AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=dummy-not-a-secret \
    "$VENV/bin/sam" validate "$@" --template-file "$INFRA/template.yaml"
}
step "sam validate --lint" sam_validate --lint
step "sam validate" sam_validate

# ------------------------------------------------------------------------------------------------ CDK
# Dummy function code: an empty zip per function. The app never compiles Rust (it only reads zips).
mkdir -p "$TMP/lambda"
for f in token protected user admin authorizer whoami; do
  mkdir -p "$TMP/lambda/$f"
  printf 'PK\005\006\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0' >"$TMP/lambda/$f/bootstrap.zip"
done
cdk_build() { cd "$CDK" && rm -rf build && npx --no-install tsc -p tsconfig.json; }
cdk_synth() {
  cd "$CDK" && npx --no-install cdk synth "$STACK" --no-notices --quiet --ci \
    -c lambdaDir="$TMP/lambda" -c stackName="$STACK" -o "$TMP/cdk.out"
}
step "CDK app compiles (tsc, typescript 5)" cdk_build
step "cdk synth (dummy zips, no Rust build)" cdk_synth
CDK_TEMPLATE="$TMP/cdk.out/$STACK.template.json"
# W3005 (DependsOn already implied): CDK always adds DependsOn on a function's role and default policy; CDK's
# own synth-time validator ignores W3005 for the same reason.
step "cfn-lint on the CDK synth output" "$VENV/bin/cfn-lint" --ignore-checks W3005 -- "$CDK_TEMPLATE"
cdk_tests() { cd "$CDK" && node --test build/test/; }
step "CDK assertion tests (node --test)" cdk_tests

# ------------------------------------------------------------------------------------------------ drift
drift() { "$VENV/bin/python" "$INFRA/tests/check_drift.py" --sam "$1" --cdk "$CDK_TEMPLATE" --repo "$REPO" "${@:2}"; }
step_verbose "drift check SAM vs CDK vs Cargo.toml vs code" drift "$INFRA/template.yaml"
step_verbose "drift check's own test (mutated copies must fail)" "$VENV/bin/python" "$INFRA/tests/test_check_drift.py" \
  --sam "$INFRA/template.yaml" --cdk "$CDK_TEMPLATE" --repo "$REPO"
# The same check on deliberately broken files must fail with an error the real template does not have (so these
# steps cannot pass just because the real inputs already fail, e.g. before other branches are merged).
must_fail() { if "$@"; then echo "expected a failure, got success"; return 1; fi; return 0; }
drift "$INFRA/template.yaml" >"$TMP/drift-real.log" 2>&1 || true
drift_rejects() {  # FILE PATTERN
  local out="$TMP/drift-$(basename "$1").log"
  if drift "$1" >"$out" 2>&1; then echo "expected a failure, got success"; return 1; fi
  if ! grep -q -- "$2" "$out"; then echo "no error matching '$2':"; cat "$out"; return 1; fi
  if grep -q -- "$2" "$TMP/drift-real.log"; then echo "the real template already has '$2'"; return 1; fi
}
sed 's/Runtime: provided.al2023/Runtime: provided.al2/' "$INFRA/template.yaml" >"$TMP/broken-runtime.yaml"
step "drift check rejects a copy with the runtime changed" drift_rejects "$TMP/broken-runtime.yaml" "Runtime differs: SAM provided.al2,"
sed 's#Path: /api/user$#Path: /api/users#' "$INFRA/template.yaml" >"$TMP/broken-route.yaml"
step "drift check rejects a copy with a route changed" drift_rejects "$TMP/broken-route.yaml" "/api/users"
sed 's/ApiId: !Ref HttpApi$/ApiId: !Ref HttpApiTypo/' "$INFRA/template.yaml" >"$TMP/broken-ref.yaml"
step "drift check rejects a copy with a dangling !Ref" drift_rejects "$TMP/broken-ref.yaml" "reference to 'HttpApiTypo'"
sed 's/Context: \[routeKey, httpMethod, path\]/Context: []/' "$INFRA/template.yaml" >"$TMP/broken-authorizer.yaml"
step "drift check rejects an authorizer cached without the route" drift_rejects "$TMP/broken-authorizer.yaml" "routeKey"

# What SAM's own transform makes of the HTTP API (the OpenAPI body it generates), offline.
sam_transform() { "$VENV/bin/python" "$INFRA/tests/check_sam_transform.py" "$1"; }
step "SAM transform: routes, authorization, authorizer, endpoint, throttling" sam_transform "$INFRA/template.yaml"
transform_rejects() {  # FILE PATTERN
  local out="$TMP/transform-$(basename "$1").log"
  if sam_transform "$1" >"$out" 2>&1; then echo "expected a failure, got success"; return 1; fi
  grep -q -- "$2" "$out" || { echo "no error matching '$2':"; cat "$out"; return 1; }
}
step "SAM transform check rejects an authorizer cached without the route" \
  transform_rejects "$TMP/broken-authorizer.yaml" "identitySource"
sed 's#Path: /m2m/token/iam#Path: /m2m/token/sigv4#' "$INFRA/template.yaml" >"$TMP/broken-iam-path.yaml"
step "SAM transform check rejects a renamed IAM route" transform_rejects "$TMP/broken-iam-path.yaml" "/m2m/token/iam"

# ------------------------------------------------------------------------------------------------ build script
step "build-release.sh --help" "$INFRA/build-release.sh" --help
step "build-release.sh rejects an unknown architecture" must_fail "$INFRA/build-release.sh" sparc
step "build-release.sh is valid bash" bash -n "$INFRA/build-release.sh"
step "upload-page.sh (SAM page upload) against a stub aws CLI" bash "$INFRA/tests/test_upload_page.sh"

# ------------------------------------------------------------------------------------------------ deployed shape
# Only when release zips exist (infra/build-release.sh host): the real bootstrap binaries under a Lambda
# Runtime API served by the test, configured from the SAM template and from the CDK synth output (parameters at
# their defaults), the secret in moto server, events as API Gateway sends them after CloudFront's header
# policy (infra/tests/deployed_shape.py); then each provider's secret, as each template creates it and
# infra/README.md says to fill it, with AuthProvider=oidc against oidc-provider (infra/tests/secret_shape.py).
# Never builds anything; needs the local issuer (cargo build --bins) and node with `npm ci --prefix tests` (the
# OIDC checks fail, with a message saying so, without them).
zip_dir="$REPO/target/lambda-$(uname -m | sed 's/aarch64/arm64/')"
issuer_bin="$REPO/target/debug/descope-local"
if ls "$zip_dir"/{token,protected,user,admin}/bootstrap.zip >/dev/null 2>&1 && [[ -x "$issuer_bin" ]]; then
  step_verbose "deployed shape: release zips in ${zip_dir#"$REPO"/} with SAM's and CDK's environment" \
    "$VENV/bin/python" "$INFRA/tests/deployed_shape.py" --zip-dir "$zip_dir" --sam "$INFRA/template.yaml" \
    --cdk "$CDK_TEMPLATE" --issuer "$issuer_bin" --oidc-provider "$REPO/tests/interop/oidc-provider.mjs" \
    --readme "$INFRA/README.md"
else
  echo "SKIP  deployed shape (no release zips for this machine or no descope-local: run infra/build-release.sh host and cargo build --bins)"
fi

echo
if ((failed)); then
  echo "failed: ${failures[*]}"
fi
echo "infra: $passed passed, $failed failed"
((failed == 0))
