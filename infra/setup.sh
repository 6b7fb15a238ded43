#!/usr/bin/env bash
# Installs what infra/test.sh needs, from PyPI and npm only (no AWS account, no Docker):
#   * infra/.venv: a Python virtualenv with AWS SAM CLI and cfn-lint at pinned versions (kept apart from the
#     machine's own Python packages: SAM CLI pins its own boto3 and aws-sam-translator);
#   * infra/cdk/node_modules: `npm ci` from the committed package-lock.json (aws-cdk-lib, the cdk CLI,
#     typescript 5).
# Idempotent: a second run only checks. Called by the project's setup script.
set -euo pipefail

SAM_CLI_VERSION=1.170.0
CFN_LINT_VERSION=1.58.0

INFRA="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$INFRA/.venv"
PY="${PYTHON:-python3}"

echo "infra/setup: Python tools (aws-sam-cli==$SAM_CLI_VERSION, cfn-lint==$CFN_LINT_VERSION) in infra/.venv"
if [[ ! -x "$VENV/bin/python" ]]; then
  "$PY" -m venv "$VENV"
fi
want_sam="$SAM_CLI_VERSION" want_lint="$CFN_LINT_VERSION"
have_sam="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("aws-sam-cli"))' 2>/dev/null || true)"
have_lint="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("cfn-lint"))' 2>/dev/null || true)"
if [[ "$have_sam" != "$want_sam" || "$have_lint" != "$want_lint" ]]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "aws-sam-cli==$SAM_CLI_VERSION" "cfn-lint==$CFN_LINT_VERSION"
fi
"$VENV/bin/sam" --version
"$VENV/bin/cfn-lint" --version

echo "infra/setup: npm ci in infra/cdk"
cd "$INFRA/cdk"
lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ -f node_modules/.infra-setup-lock ]] && [[ "$(cat node_modules/.infra-setup-lock)" == "$lock_sum" ]]; then
  echo "infra/setup: node_modules matches package-lock.json"
else
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > node_modules/.infra-setup-lock
fi
npx --no-install tsc --version
echo "infra/setup: done"
