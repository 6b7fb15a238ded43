#!/usr/bin/env bash
# Installs what infra/test.sh needs, from PyPI and npm only (no AWS account, no Docker):
#   * AWS SAM CLI, cfn-lint, and cargo-lambda with zig (what `sam build` and build-release.sh call), at the
#     versions pinned in scripts/requirements.txt, in the project's one virtual environment .venv/ at the
#     repository root (scripts/tools.sh; never the system's Python);
#   * infra/cdk/node_modules: `npm ci` from the committed package-lock.json (aws-cdk-lib, the cdk CLI,
#     typescript 5).
# Idempotent: a second run only checks. Called by the project's setup script (scripts/setup.sh).
set -euo pipefail

INFRA="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$INFRA/../scripts/tools.sh"

tools=(aws-sam-cli cfn-lint cargo-lambda ziglang)
echo "infra/setup: Python tools in .venv/: $(requirement_lines "${tools[@]}" | tr '\n' ' ')"
use_project_venv "${tools[@]}"
"$M2M_VENV/bin/sam" --version
"$M2M_VENV/bin/cfn-lint" --version

require_node
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
