#!/usr/bin/env bash
# Uploads the web page of a SAM-deployed stack: ui/ (without its config.json) plus a config.json generated for
# the stack ({"projectId": "<its ProjectId>", "apiBaseUrl": "<its PageApiBaseUrl>"}; an empty apiBaseUrl = the
# API on the page's own origin through CloudFront), then invalidates the CloudFront cache. (The CDK app does the
# same itself with BucketDeployment.)
#
#   infra/upload-page.sh [STACK_NAME]        (default: descope-m2m; uses the aws CLI and its usual credentials)
set -euo pipefail

STACK="${1:-descope-m2m}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UI_DIR="$REPO_ROOT/ui"

case "$STACK" in
  -h|--help) sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
[[ -f "$UI_DIR/index.html" ]] || { echo "upload-page: $UI_DIR/index.html not found" >&2; exit 1; }

output() {
  aws cloudformation describe-stacks --stack-name "$STACK" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
parameter() {
  aws cloudformation describe-stacks --stack-name "$STACK" \
    --query "Stacks[0].Parameters[?ParameterKey=='$1'].ParameterValue" --output text
}

bucket="$(output BucketName)"
distribution="$(output DistributionId)"
project_id="$(parameter ProjectId)"
api_base_url="$(parameter PageApiBaseUrl)"
[[ "$api_base_url" == "None" ]] && api_base_url=""   # a stack deployed before the parameter existed
for v in bucket distribution project_id; do
  if [[ -z "${!v}" || "${!v}" == "None" ]]; then
    echo "upload-page: could not read $v of stack $STACK" >&2
    exit 1
  fi
done
if [[ ! "$project_id" =~ ^[A-Za-z0-9_-]{1,128}$ ]]; then
  echo "upload-page: unexpected ProjectId '$project_id'" >&2
  exit 1
fi
# The template's own AllowedPattern for PageApiBaseUrl: safe to write into JSON as is.
if [[ -n "$api_base_url" && ! "$api_base_url" =~ ^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$ ]]; then
  echo "upload-page: unexpected PageApiBaseUrl '$api_base_url'" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
printf '{"projectId": "%s", "apiBaseUrl": "%s"}\n' "$project_id" "$api_base_url" >"$tmp/config.json"

echo "upload-page: ui/ -> s3://$bucket/"
aws s3 sync "$UI_DIR/" "s3://$bucket/" --delete --exclude config.json --exclude '.*'
echo "upload-page: config.json (projectId $project_id, apiBaseUrl '${api_base_url}' - empty: same origin)"
aws s3 cp "$tmp/config.json" "s3://$bucket/config.json" \
  --content-type application/json --cache-control 'no-cache'
echo "upload-page: invalidating CloudFront distribution $distribution"
aws cloudfront create-invalidation --distribution-id "$distribution" --paths '/*' >/dev/null
echo "upload-page: done - $(output SiteUrl)"
