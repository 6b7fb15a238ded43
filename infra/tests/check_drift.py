#!/usr/bin/env python3
"""Drift and consistency check for the two deployment paths (SAM template and CDK synth output).

cfn-lint does not look inside SAM function properties for a wrong runtime, a wrong method or a dangling
`!Ref`, and nothing checks that the two templates deploy the same thing. This script does:

  * routes: SAM events == CDK routes == the root Cargo.toml `cargo lambda watch` router (minus the local-only
    page routes, and the routes that only exist behind API Gateway's own auth), each route to the same function
    with the same authorization (none / IAM / the Lambda authorizer); every deployed function has its package;
  * runtime, architecture, handler, memory, timeout, tracing and logging controls of the six functions;
  * environment variables: per function, SAM == CDK (names and values) == the explicit EXPECTED_ENV below; every
    templated variable is one the Rust code reads (an ALL_CAPS string literal in shared/*/src or
    functions/*/src); the variables that must never be set in AWS (secrets) are absent;
  * parameters, conditions and rules: SAM == CDK;
  * every Ref / Fn::GetAtt / Fn::Sub ${...} / DependsOn / Condition target exists;
  * SAM build metadata (rust-cargolambda, Binary = the function's name);
  * the HTTP API: the Lambda authorizer (REQUEST, payload 2.0, simple responses, identity sources Authorization
    AND the route key, TTL at most 300 s), its least-privilege invoke permission, per-route throttling (token
    routes stricter), execute-api disabled exactly when the optional custom domain exists;
  * security invariants in both templates: one role per function, only the token role may read a secret and
    only that secret, every role may write X-Ray traces, private TLS-only bucket read by CloudFront through
    origin access control, /api/* and /m2m/* routed uncached to the API with only the headers the functions
    read, the CSP equal to infra/content-security-policy.txt, the secret in the provider's shape;
  * alarms and the dashboard: every required alarm exists, notifies the optional topic, SAM == CDK alarm by
    alarm; the dashboard body equals infra/dashboard.json in both.

`--self-test` mutates copies of the real inputs (runtime changed, route removed, variable added, dangling Ref,
authorizer cache key without the route, ...) and fails unless every mutant adds an error of the expected kind,
so the check cannot pass vacuously.

Usage: check_drift.py --sam infra/template.yaml --cdk <synth>/Stack.template.json --repo . [--self-test]
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from typing import Any, Callable

from drift_model import (  # noqa: F401  (Model and load_sam are also used by smoke_lambda.py)
    API_TYPES,
    Model as _Model,
    actions_of,
    env_literals,
    flatten_name,
    function_packages,
    load_json,
    load_router,
    load_sam,
    ref_target,
    refs_in,
    resources_of_type,
    walk,
)

# ----------------------------------------------------------------------------------------------- expectations
FUNCTIONS = ("token", "protected", "user", "admin", "authorizer", "whoami")
RUNTIME = "provided.al2023"
ARCHITECTURES = ["arm64"]
HANDLER = "bootstrap"
MEMORY = 128
TIMEOUT = 10
# Routes that exist only behind API Gateway's own authorization (IAM, the Lambda authorizer): `cargo lambda
# watch` runs neither, so the local router need not have them (when it has them, they go to the same function).
DEPLOYED_ONLY_ROUTES = {("POST", "/m2m/token/iam"), ("GET", "/api/whoami")}
EXPECTED_ROUTE_AUTH = {("POST", "/m2m/token/iam"): "iam", ("GET", "/api/whoami"): "authorizer:authorizer"}
TOKEN_ROUTE_KEYS = ("POST /m2m/token", "POST /m2m/token/iam")

# What each function needs in AWS (docs/contract.md section 2), explicitly.
VERIFY_ENV = {
    "DESCOPE_PROJECT_ID", "DESCOPE_BASE_URL", "JWT_AUDIENCE", "JWT_ISSUERS", "JWT_ALGORITHMS", "JWT_LEEWAY_SECONDS",
    "JWKS_CACHE_SECONDS", "JWKS_MAX_STALE_SECONDS", "AUTH_PROVIDER", "OIDC_ISSUER", "METRICS_NAMESPACE",
}
EXPECTED_ENV = {
    "token": VERIFY_ENV | {"CORS_ALLOWED_ORIGINS", "DESCOPE_SECRET_ID", "SECRET_CACHE_SECONDS",
                           "ALLOW_CREDENTIAL_OVERRIDE", "ALLOWED_PROJECT_IDS", "STACK_KEY_PRINCIPALS"},
    "protected": VERIFY_ENV | {"CORS_ALLOWED_ORIGINS"},
    "user": VERIFY_ENV | {"CORS_ALLOWED_ORIGINS"},
    "admin": VERIFY_ENV | {"CORS_ALLOWED_ORIGINS"},
    "authorizer": VERIFY_ENV | {"AUTHORIZER_GRANTS", "AUTHORIZER_RESPONSE"},
    "whoami": set(),
}
# Read by the code for local runs, but in AWS the secret carries them: never in a template.
FORBIDDEN_ENV = {"DESCOPE_ACCESS_KEY", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"}
# X-Ray's write actions take no resource-level permission: "*" is allowed for exactly these.
XRAY_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
# The headers the functions read (the Authorization header travels in the cache policy's key, see below).
API_ORIGIN_HEADERS = {"content-type", "origin", "access-control-request-method", "access-control-request-headers"}
AUTHORIZER_MAX_TTL = 300

# Alarms (name suffix after "<stack>-"), per docs in infra/README.md "Operating it".
JWKS_ALARM_FUNCTIONS = ("token", "protected", "user", "admin", "authorizer")
KEYS_UNAVAILABLE_ALARM_FUNCTIONS = ("protected", "user", "admin", "authorizer")
LATENCY_ALARM_FUNCTIONS = ("protected", "user", "admin")
REQUIRED_ALARMS = (
    [f"{f}-errors" for f in FUNCTIONS] + [f"{f}-throttles" for f in FUNCTIONS]
    + [f"{f}-jwks-fetch-failures" for f in JWKS_ALARM_FUNCTIONS]
    + [f"{f}-keys-unavailable" for f in KEYS_UNAVAILABLE_ALARM_FUNCTIONS]
    + [f"{f}-latency-p99" for f in LATENCY_ALARM_FUNCTIONS] + ["api-5xx-rate"]
)
ALARM_ACTIONS = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
EMF_METRICS = ("Requests", "Latency", "JwksFetches", "JwksFetchFailures", "SecretReadFailures")


def Model(label: str, template: dict, errors: list[str]) -> _Model:  # noqa: N802 (kept for smoke_lambda.py)
    return _Model(label, template, errors, FUNCTIONS)


class Inputs:
    """Everything the check reads besides the two templates."""

    def __init__(self, router: dict, literals: set[str], packages: set[str], csp: str, dashboard: dict):
        self.router, self.literals, self.packages, self.csp, self.dashboard = router, literals, packages, csp, dashboard

    def copy(self) -> "Inputs":
        return Inputs(dict(self.router), set(self.literals), set(self.packages), self.csp, copy.deepcopy(self.dashboard))


# ----------------------------------------------------------------------------------------------- references
def check_refs(label: str, t: dict, errors: list[str]) -> None:
    params = set((t.get("Parameters") or {}).keys())
    resources = set((t.get("Resources") or {}).keys())
    conditions = set((t.get("Conditions") or {}).keys())
    valid = params | resources
    for section in ("Globals", "Resources", "Outputs", "Conditions", "Rules"):
        for path, d in walk(t.get(section) or {}, section):
            for target in refs_in({k: v for k, v in d.items() if k in ("Ref", "Fn::GetAtt", "Fn::Sub")}):
                if target.startswith("AWS::"):
                    continue
                if target.split(".", 1)[0] not in valid:
                    errors.append(f"{label}: {path}: reference to '{target}', which is neither a parameter nor a resource")
            if "Fn::If" in d:
                cond = d["Fn::If"][0] if isinstance(d["Fn::If"], list) and d["Fn::If"] else None
                if cond not in conditions:
                    errors.append(f"{label}: {path}: Fn::If on unknown condition '{cond}'")
            if "Condition" in d and isinstance(d["Condition"], str) and section == "Conditions":
                if d["Condition"] not in conditions:
                    errors.append(f"{label}: {path}: unknown condition '{d['Condition']}'")
    for lid, r in (t.get("Resources") or {}).items():
        deps = r.get("DependsOn", [])
        for dep in deps if isinstance(deps, list) else [deps]:
            if dep not in resources:
                errors.append(f"{label}: {lid}: DependsOn unknown resource '{dep}'")
        if "Condition" in r and r["Condition"] not in conditions:
            errors.append(f"{label}: {lid}: unknown condition '{r['Condition']}'")
    for name, out in (t.get("Outputs") or {}).items():
        if "Condition" in out and out["Condition"] not in conditions:
            errors.append(f"{label}: output {name}: unknown condition '{out['Condition']}'")


# ----------------------------------------------------------------------------------------------- functions
def check_functions(m: _Model, inputs: Inputs) -> None:
    for name, f in m.functions.items():
        p, lid = f["props"], f["id"]
        if p.get("Runtime") != RUNTIME:
            m.err(f"{name}: runtime {p.get('Runtime')!r}, want {RUNTIME!r}")
        if p.get("Architectures") != ARCHITECTURES:
            m.err(f"{name}: architectures {p.get('Architectures')!r}, want {ARCHITECTURES!r}")
        if p.get("Handler") != HANDLER:
            m.err(f"{name}: handler {p.get('Handler')!r}, want {HANDLER!r}")
        if str(p.get("MemorySize")) != str(MEMORY):
            m.err(f"{name}: memory {p.get('MemorySize')!r}, want {MEMORY}")
        if str(p.get("Timeout")) != str(TIMEOUT):
            m.err(f"{name}: timeout {p.get('Timeout')!r}, want {TIMEOUT}")
        tracing = p.get("Tracing") if "Tracing" in p else (p.get("TracingConfig") or {}).get("Mode")
        if tracing != "Active":
            m.err(f"{name}: tracing {tracing!r}, want Active (X-Ray)")
        logging = p.get("LoggingConfig") or {}
        for key, want in (("LogFormat", "JSON"), ("SystemLogLevel", "WARN"),
                          ("ApplicationLogLevel", {"Ref": "ApplicationLogLevel"})):
            if logging.get(key) != want:
                m.err(f"{name}: LoggingConfig.{key} {logging.get(key)!r}, want {want!r}")
        env = set(((p.get("Environment") or {}).get("Variables") or {}).keys())
        for var in sorted(env & FORBIDDEN_ENV):
            m.err(f"{name}: sets {var}, which must never be set in AWS (the secret carries it)")
        for var in sorted(env - inputs.literals):
            m.err(f"{name}: sets {var}, which the Rust code never reads (no \"{var}\" literal in the sources)")
        for var in sorted(EXPECTED_ENV[name] - env):
            m.err(f"{name}: does not set {var}, which it needs in AWS")
        for var in sorted(env - EXPECTED_ENV[name] - FORBIDDEN_ENV):
            m.err(f"{name}: sets unexpected {var} (not in EXPECTED_ENV[{name!r}])")
        r = f["resource"]
        if r.get("Type") == "AWS::Serverless::Function":
            meta = r.get("Metadata") or {}
            if meta.get("BuildMethod") != "rust-cargolambda":
                m.err(f"{name}: Metadata.BuildMethod {meta.get('BuildMethod')!r}, want 'rust-cargolambda'")
            binary = (meta.get("BuildProperties") or {}).get("Binary")
            if binary != name:
                m.err(f"{name}: BuildProperties.Binary {binary!r} builds the wrong binary")
        # Log group: explicit, named after the function, with retention.
        lg_id = ref_target(logging.get("LogGroup"))
        lg = m.resources.get(lg_id or "", {})
        if lg.get("Type") != "AWS::Logs::LogGroup":
            m.err(f"{name}: LoggingConfig.LogGroup does not Ref an AWS::Logs::LogGroup of the template")
        else:
            lg_props = lg.get("Properties") or {}
            if not lg_props.get("RetentionInDays"):
                m.err(f"{name}: log group {lg_id} has no RetentionInDays")
            if flatten_name(lg_props.get("LogGroupName")) != "/aws/lambda/" + flatten_name(p.get("FunctionName")):
                m.err(f"{name}: log group {lg_id} is not named /aws/lambda/<function name>")


def statements_of_role(m: _Model, role_id: str) -> list[dict]:
    role = m.resources.get(role_id) or {}
    out = []
    for policy in (role.get("Properties") or {}).get("Policies") or []:
        out.extend((policy.get("PolicyDocument") or {}).get("Statement") or [])
    for r in m.resources.values():
        if r.get("Type") == "AWS::IAM::Policy":
            roles = [ref_target(x) for x in (r.get("Properties") or {}).get("Roles") or []]
            if role_id in roles:
                out.extend(((r.get("Properties") or {}).get("PolicyDocument") or {}).get("Statement") or [])
    return out


# ----------------------------------------------------------------------------------------------- security
def check_iam(m: _Model) -> None:
    res = m.resources
    secret_ids = {lid for lid, r in res.items() if r.get("Type") == "AWS::SecretsManager::Secret"}
    if len(secret_ids) != 1:
        m.err(f"want exactly one AWS::SecretsManager::Secret, found {len(secret_ids)}")
    # One role per function; only the token role touches Secrets Manager, only GetSecretValue on the secret.
    role_of = {}
    for name, f in m.functions.items():
        role_id = ref_target(f["props"].get("Role"))
        if (res.get(role_id or "") or {}).get("Type") != "AWS::IAM::Role":
            m.err(f"{name}: Role is not a GetAtt of an AWS::IAM::Role in the template")
            continue
        if role_id in role_of.values():
            m.err(f"{name}: shares its role {role_id} with another function")
        role_of[name] = role_id
        if (res[role_id].get("Properties") or {}).get("ManagedPolicyArns"):
            m.err(f"{name}: role {role_id} has managed policies")
        statements = statements_of_role(m, role_id)
        xray = set()
        for s in statements:
            actions = actions_of(s)
            for a in actions:
                if "*" in a:
                    m.err(f"{name}: role {role_id} allows wildcard action {a}")
            if s.get("Resource") in ("*", ["*"]):
                if set(actions) <= XRAY_ACTIONS:
                    xray |= set(actions)
                else:
                    m.err(f"{name}: role {role_id} has a statement on every resource ({actions})")
        if xray != XRAY_ACTIONS:
            m.err(f"{name}: role {role_id} may not write X-Ray traces (has {sorted(xray)})")
    secret_readers = []
    for lid, r in res.items():
        if r.get("Type") != "AWS::IAM::Role":
            continue
        for s in statements_of_role(m, lid):
            if any(a.lower().startswith("secretsmanager:") for a in actions_of(s)):
                secret_readers.append((lid, s))
    token_role = role_of.get("token")
    if len(secret_readers) != 1:
        m.err(f"want exactly one IAM statement on Secrets Manager, found {len(secret_readers)} "
              f"({', '.join(lid for lid, _ in secret_readers) or 'none'})")
    for lid, s in secret_readers:
        if lid != token_role:
            m.err(f"role {lid} (not the token function's) may use Secrets Manager")
        if actions_of(s) != ["secretsmanager:GetSecretValue"]:
            m.err(f"role {lid}: Secrets Manager actions {actions_of(s)}, want only GetSecretValue")
        targets = refs_in(s.get("Resource"))
        if not targets or not targets <= (secret_ids | {"ExistingSecretArn"}):
            m.err(f"role {lid}: Secrets Manager statement is not limited to the one secret ({s.get('Resource')})")


def check_secret(m: _Model) -> None:
    """The created secret has the provider's shape: clientId/clientSecret for oidc, projectId/accessKey else."""
    for lid, r in resources_of_type(m.t, "AWS::SecretsManager::Secret").items():
        value = (r.get("Properties") or {}).get("SecretString")
        branches = (value or {}).get("Fn::If") if isinstance(value, dict) else None
        if not branches or branches[0] != "IsOidc":
            m.err(f"secret {lid}: SecretString is not chosen by the IsOidc condition (provider's shape)")
            continue
        def keys_of(v: Any) -> list[set[str]]:
            if isinstance(v, dict) and "Fn::If" in v:
                return keys_of(v["Fn::If"][1]) + keys_of(v["Fn::If"][2])
            text = flatten_name(v) if isinstance(v, dict) else v
            try:
                return [set(json.loads(text))]
            except (TypeError, ValueError):
                return [set()]
        if any(k != {"clientId", "clientSecret"} for k in keys_of(branches[1])):
            m.err(f"secret {lid}: with AuthProvider=oidc it is not {{\"clientId\", \"clientSecret\"}}")
        if any(k != {"projectId", "accessKey"} for k in keys_of(branches[2])):
            m.err(f"secret {lid}: with AuthProvider=descope it is not {{\"projectId\", \"accessKey\"}}")
    conditions = m.t.get("Conditions") or {}
    if conditions.get("IsOidc") != {"Fn::Equals": [{"Ref": "AuthProvider"}, "oidc"]}:
        m.err("condition IsOidc is not AuthProvider == oidc")


def check_bucket(m: _Model) -> None:
    res = m.resources
    buckets = [(lid, r) for lid, r in res.items() if r.get("Type") == "AWS::S3::Bucket"]
    if len(buckets) != 1:
        m.err(f"want exactly one bucket, found {len(buckets)}")
    for lid, b in buckets:
        bp = b.get("Properties") or {}
        pab = bp.get("PublicAccessBlockConfiguration") or {}
        for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
            if pab.get(k) is not True:
                m.err(f"bucket {lid}: PublicAccessBlockConfiguration.{k} is not true")
        if not bp.get("BucketEncryption"):
            m.err(f"bucket {lid}: no BucketEncryption")
        rules = (bp.get("OwnershipControls") or {}).get("Rules") or []
        if [r.get("ObjectOwnership") for r in rules] != ["BucketOwnerEnforced"]:
            m.err(f"bucket {lid}: ObjectOwnership is not BucketOwnerEnforced")
        policies = [r for r in res.values() if r.get("Type") == "AWS::S3::BucketPolicy"
                    and ref_target((r.get("Properties") or {}).get("Bucket")) == lid]
        statements = [s for p in policies for s in (p["Properties"].get("PolicyDocument") or {}).get("Statement", [])]
        if not any(s.get("Effect") == "Deny" and (s.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport")
                   == "false" for s in statements):
            m.err(f"bucket {lid}: no Deny on aws:SecureTransport false")
        for s in statements:
            if s.get("Effect") == "Allow":
                if s.get("Principal") != {"Service": "cloudfront.amazonaws.com"}:
                    m.err(f"bucket {lid}: allows principal {s.get('Principal')}")
                if not (s.get("Condition") or {}).get("StringEquals", {}).get("AWS:SourceArn"):
                    m.err(f"bucket {lid}: CloudFront access not scoped to the distribution (AWS:SourceArn)")


def _lower(items: Any) -> set[str]:
    return {str(h).lower() for h in items or []}


def check_cloudfront(m: _Model, inputs: Inputs) -> None:
    res = m.resources
    dists = [r for r in res.values() if r.get("Type") == "AWS::CloudFront::Distribution"]
    if len(dists) != 1:
        m.err(f"want exactly one CloudFront distribution, found {len(dists)}")
        return
    cfg = (dists[0].get("Properties") or {}).get("DistributionConfig") or {}
    origins = {o.get("Id"): o for o in cfg.get("Origins") or []}
    s3_origins = [o for o in origins.values() if "S3OriginConfig" in o]
    if len(s3_origins) != 1 or (res.get(ref_target(s3_origins[0].get("OriginAccessControlId")) or "") or {}).get(
        "Type"
    ) != "AWS::CloudFront::OriginAccessControl":
        m.err("the S3 origin does not use an origin access control of the template")
    behaviours = {b.get("PathPattern"): b for b in cfg.get("CacheBehaviors") or []}
    for pattern in ("/api/*", "/m2m/*"):
        b = behaviours.get(pattern)
        if b is None:
            m.err(f"CloudFront has no {pattern} behaviour")
            continue
        origin = origins.get(b.get("TargetOriginId")) or {}
        domain = m.norm(origin.get("DomainName"))
        want_domain = {"Fn::If": ["HasApiDomain", {"Ref": "ApiDomainName"},
                                  {"Fn::Sub": "${<api>}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}]}
        if domain != want_domain:
            m.err(f"CloudFront {pattern} does not go to the HTTP API (its custom domain when set): {domain}")
        # Authorization: in the cache policy's key (an origin request policy may not name it), nothing cached.
        cache = (res.get(ref_target(b.get("CachePolicyId")) or "") or {})
        cp = ((cache.get("Properties") or {}).get("CachePolicyConfig") or {})
        key = cp.get("ParametersInCacheKeyAndForwardedToOrigin") or {}
        headers = key.get("HeadersConfig") or {}
        if cache.get("Type") != "AWS::CloudFront::CachePolicy":
            m.err(f"CloudFront {pattern}: cache policy is not the template's (Authorization in its key)")
        else:
            if headers.get("HeaderBehavior") != "whitelist" or _lower(headers.get("Headers")) != {"authorization"}:
                m.err(f"CloudFront {pattern}: cache policy does not forward exactly Authorization ({headers})")
            if str(cp.get("DefaultTTL")) != "0" or str(cp.get("MinTTL")) != "0" or int(cp.get("MaxTTL", 99)) > 1:
                m.err(f"CloudFront {pattern}: the API cache policy caches (TTLs {cp.get('MinTTL')}/"
                      f"{cp.get('DefaultTTL')}/{cp.get('MaxTTL')}, want 0/0/<=1)")
            if (key.get("CookiesConfig") or {}).get("CookieBehavior") != "none" or (
                    key.get("QueryStringsConfig") or {}).get("QueryStringBehavior") != "none":
                m.err(f"CloudFront {pattern}: the API cache policy keys on cookies or query strings")
        orp = (res.get(ref_target(b.get("OriginRequestPolicyId")) or "") or {})
        oc = ((orp.get("Properties") or {}).get("OriginRequestPolicyConfig") or {})
        oh = oc.get("HeadersConfig") or {}
        if orp.get("Type") != "AWS::CloudFront::OriginRequestPolicy":
            m.err(f"CloudFront {pattern}: origin request policy is not the template's header list")
        elif oh.get("HeaderBehavior") != "whitelist" or _lower(oh.get("Headers")) != API_ORIGIN_HEADERS:
            m.err(f"CloudFront {pattern}: origin request policy forwards {oh}, want exactly {sorted(API_ORIGIN_HEADERS)}")
        elif (oc.get("CookiesConfig") or {}).get("CookieBehavior") != "none" or (
                oc.get("QueryStringsConfig") or {}).get("QueryStringBehavior") != "none":
            m.err(f"CloudFront {pattern}: origin request policy forwards cookies or query strings")
        if "POST" not in (b.get("AllowedMethods") or []) or "OPTIONS" not in (b.get("AllowedMethods") or []):
            m.err(f"CloudFront {pattern}: POST and OPTIONS are not both allowed")
        if not b.get("ResponseHeadersPolicyId"):
            m.err(f"CloudFront {pattern}: no response headers policy")
    if not (cfg.get("DefaultCacheBehavior") or {}).get("ResponseHeadersPolicyId"):
        m.err("CloudFront default behaviour: no response headers policy")
    # The CSP: the template of infra/content-security-policy.txt, ${ApiOrigin} from PageApiBaseUrl.
    headers_policies = resources_of_type(m.t, "AWS::CloudFront::ResponseHeadersPolicy")
    csps = [m.norm(((h["Properties"]["ResponseHeadersPolicyConfig"].get("SecurityHeadersConfig") or {})
                    .get("ContentSecurityPolicy") or {}).get("ContentSecurityPolicy")) for h in headers_policies.values()]
    want_csp = {"Fn::Sub": [inputs.csp, {"ApiOrigin": {"Fn::If": [
        "HasPageApiBaseUrl",
        {"Fn::Join": ["", [" https://", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "PageApiBaseUrl"}]}]}]]},
        ""]}}]}
    if want_csp not in csps:
        m.err(f"no response headers policy with the Content-Security-Policy of infra/content-security-policy.txt "
              f"(connect-src with PageApiBaseUrl's origin): {csps}")


# ----------------------------------------------------------------------------------------------- the API
def check_api(m: _Model, params: dict) -> None:
    # The Lambda authorizer.
    lambda_authorizers = {n: a for n, a in m.authorizers.items() if a["type"] == "REQUEST"}
    if len(lambda_authorizers) != 1:
        m.err(f"want exactly one Lambda REQUEST authorizer, found {sorted(lambda_authorizers)}")
    for name, a in lambda_authorizers.items():
        if a["function"] != "authorizer":
            m.err(f"authorizer {name} invokes {a['function']!r}, not the authorizer function")
        if a["payload"] != "2.0" or not a["simple"]:
            m.err(f"authorizer {name}: payload {a['payload']}, simple responses {a['simple']}; want 2.0 and simple")
        if set(a["identity"]) != {"$request.header.Authorization", "$context.routeKey", "$context.httpMethod",
                                  "$context.path"}:
            m.err(f"authorizer {name}: identity sources {a['identity']}; the cache key must be the Authorization "
                  f"header AND the route ($context.routeKey) AND the request's method and path ($context.httpMethod, "
                  f"$context.path, which the decision depends on), or an allow for one request opens another")
        ttl = a["ttl"]
        spec = params.get(ref_target(ttl) or "") or {}
        if not (isinstance(ttl, dict) and spec and int(spec.get("MaxValue", 10**9)) <= AUTHORIZER_MAX_TTL
                and int(spec.get("Default", 10**9)) <= AUTHORIZER_MAX_TTL):
            m.err(f"authorizer {name}: result TTL {ttl} is not a parameter bounded by {AUTHORIZER_MAX_TTL} s")
        if a["invoke_role"] or a["default_permissions"]:
            m.err(f"authorizer {name}: invoked through a role or SAM's default permission, not the scoped one")
    # Its invoke permission: API Gateway, this API's authorizers only.
    perms = [r.get("Properties") or {} for r in resources_of_type(m.t, "AWS::Lambda::Permission").values()
             if m.norm((r.get("Properties") or {}).get("FunctionName")) in ("<fn:authorizer>.Arn", "<fn:authorizer>")]
    want_arn = {"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${<api>}/authorizers/*"}
    if len(perms) != 1:
        m.err(f"want exactly one lambda:InvokeFunction permission on the authorizer, found {len(perms)}")
    for p in perms:
        if (p.get("Action"), p.get("Principal")) != ("lambda:InvokeFunction", "apigateway.amazonaws.com") or \
                m.norm(p.get("SourceArn")) != want_arn:
            m.err(f"the authorizer's invoke permission is not API Gateway on this API's authorizers only: "
                  f"{m.norm(p.get('SourceArn'))}")
    # Route authorization.
    for key, want in EXPECTED_ROUTE_AUTH.items():
        if m.route_auth.get(key) != want:
            m.err(f"route {key[0]} {key[1]}: authorization {m.route_auth.get(key)!r}, want {want!r}")
    for key, auth in m.route_auth.items():
        if key not in EXPECTED_ROUTE_AUTH and auth != "none":
            m.err(f"route {key[0]} {key[1]}: authorization {auth!r}, want none (the function checks the token)")
    # Throttling: the token routes stricter than the protected ones.
    stage = m.stage_settings()
    default = stage.get("DefaultRouteSettings") or {}
    if default.get("ThrottlingRateLimit") != {"Ref": "ThrottlingRateLimit"} or \
            default.get("ThrottlingBurstLimit") != {"Ref": "ThrottlingBurstLimit"}:
        m.err(f"stage: default route throttling is not the ThrottlingRateLimit/BurstLimit parameters: {default}")
    routes = stage.get("RouteSettings") or {}
    for key in TOKEN_ROUTE_KEYS:
        s = routes.get(key) or {}
        if s.get("ThrottlingRateLimit") != {"Ref": "TokenThrottlingRateLimit"} or \
                s.get("ThrottlingBurstLimit") != {"Ref": "TokenThrottlingBurstLimit"}:
            m.err(f"stage: route {key} is not throttled by the TokenThrottling* parameters: {s}")
    for a, b in (("TokenThrottlingRateLimit", "ThrottlingRateLimit"), ("TokenThrottlingBurstLimit", "ThrottlingBurstLimit")):
        if not float((params.get(a) or {}).get("Default", 10**9)) < float((params.get(b) or {}).get("Default", 0)):
            m.err(f"parameters: {a} default is not below {b} default (token routes must be stricter)")
    # execute-api disabled exactly when the custom domain (CloudFront's origin then) exists.
    want = {"Fn::If": ["HasApiDomain", True, False]}
    if m.api_property("DisableExecuteApiEndpoint") != want:
        m.err(f"HTTP API: DisableExecuteApiEndpoint {m.api_property('DisableExecuteApiEndpoint')}, want {want}")
    domains = resources_of_type(m.t, "AWS::ApiGatewayV2::DomainName")
    mappings = resources_of_type(m.t, "AWS::ApiGatewayV2::ApiMapping")
    if len(domains) != 1 or len(mappings) != 1 or any(r.get("Condition") != "HasApiDomain"
                                                      for r in [*domains.values(), *mappings.values()]):
        m.err("want one API custom domain and one mapping, both under the HasApiDomain condition")
    for r in mappings.values():
        p = m.norm(r.get("Properties") or {})
        if p.get("ApiId") != "<api>" or p.get("Stage") != "<stage>":
            m.err(f"the API mapping does not map this API's stage: {p}")


# ----------------------------------------------------------------------------------------------- observability
def alarms_of(m: _Model) -> dict[str, dict]:
    out = {}
    for lid, r in resources_of_type(m.t, "AWS::CloudWatch::Alarm").items():
        p = m.norm(r.get("Properties") or {})
        name = flatten_name(p.get("AlarmName")).removeprefix("${AWS::StackName}-")
        if name in out:
            m.err(f"two alarms named <stack>-{name}")
        out[name] = p
    return out


def check_alarms(m: _Model) -> None:
    alarms = alarms_of(m)
    for name in REQUIRED_ALARMS:
        if name not in alarms:
            m.err(f"alarm <stack>-{name} is missing")
    for name, p in alarms.items():
        for key in ("AlarmActions", "OKActions"):
            if p.get(key) != ALARM_ACTIONS:
                m.err(f"alarm {name}: {key} {p.get(key)}, want the AlarmTopicArn topic under HasAlarmTopic")
        if p.get("TreatMissingData") != "notBreaching":
            m.err(f"alarm {name}: TreatMissingData {p.get('TreatMissingData')!r}, want notBreaching")
    def dims(p: dict) -> dict:
        return {d["Name"]: d["Value"] for d in p.get("Dimensions") or []}
    for f in FUNCTIONS:
        for metric in ("Errors", "Throttles"):
            p = alarms.get(f"{f}-{metric.lower()}") or {}
            if p and (p.get("Namespace"), p.get("MetricName"), dims(p)) != ("AWS/Lambda", metric, {"FunctionName": f"<fn:{f}>"}):
                m.err(f"alarm {f}-{metric.lower()} does not watch AWS/Lambda {metric} of the {f} function")
    emf = {"Ref": "MetricsNamespace"}
    for f in JWKS_ALARM_FUNCTIONS:
        p = alarms.get(f"{f}-jwks-fetch-failures") or {}
        if p and (p.get("Namespace"), p.get("MetricName"), dims(p)) != (emf, "JwksFetchFailures", {"Function": f"<fn:{f}>"}):
            m.err(f"alarm {f}-jwks-fetch-failures does not watch the EMF JwksFetchFailures of the {f} function")
    for f in KEYS_UNAVAILABLE_ALARM_FUNCTIONS:
        p = alarms.get(f"{f}-keys-unavailable") or {}
        if p and (p.get("Namespace"), p.get("MetricName"), dims(p)) != (
                emf, "Requests", {"Function": f"<fn:{f}>", "Outcome": "keys_unavailable"}):
            m.err(f"alarm {f}-keys-unavailable does not watch EMF Requests/keys_unavailable of the {f} function")
    for f in LATENCY_ALARM_FUNCTIONS:
        p = alarms.get(f"{f}-latency-p99") or {}
        if p and (p.get("Namespace"), p.get("MetricName"), p.get("ExtendedStatistic"), dims(p)) != (
                emf, "Latency", "p99", {"Function": f"<fn:{f}>"}):
            m.err(f"alarm {f}-latency-p99 does not watch the p99 of the EMF Latency of the {f} function")
    p = alarms.get("api-5xx-rate") or {}
    stats = {q.get("Id"): ((q.get("MetricStat") or {}).get("Metric") or {}) for q in p.get("Metrics") or []}
    if p and not ({"Namespace": "AWS/ApiGateway", "MetricName": "5xx", "Dimensions": [{"Name": "ApiId", "Value": "<api>"}]}
                  in stats.values() and {"Namespace": "AWS/ApiGateway", "MetricName": "Count",
                                         "Dimensions": [{"Name": "ApiId", "Value": "<api>"}]} in stats.values()):
        m.err(f"alarm api-5xx-rate is not 5xx / Count of this API: {stats}")


def check_dashboard(m: _Model, inputs: Inputs) -> None:
    boards = resources_of_type(m.t, "AWS::CloudWatch::Dashboard")
    if len(boards) != 1:
        m.err(f"want exactly one CloudWatch dashboard, found {len(boards)}")
        return
    body = m.norm((next(iter(boards.values())).get("Properties") or {}).get("DashboardBody"))
    sub = (body or {}).get("Fn::Sub") if isinstance(body, dict) else None
    if not isinstance(sub, list) or len(sub) != 2:
        m.err("dashboard body is not a Fn::Sub of infra/dashboard.json with its variables")
        return
    try:
        parsed = json.loads(sub[0])
    except ValueError as e:
        m.err(f"dashboard body is not JSON: {e}")
        return
    if parsed != inputs.dashboard:
        m.err("dashboard body differs from infra/dashboard.json")
    want = {"ApiId": "<api>", **{f"{f[0].upper()}{f[1:]}FunctionName": f"<fn:{f}>" for f in FUNCTIONS}}
    if sub[1] != want:
        m.err(f"dashboard variables {sub[1]}, want {want}")
    text = json.dumps(inputs.dashboard)
    for metric in EMF_METRICS + ("5xx", "Errors", "Throttles"):
        if f'"{metric}"' not in text and f'\\"{metric}\\"' not in text:
            m.err(f"dashboard shows no {metric} metric")


# ----------------------------------------------------------------------------------------------- comparison
def compare(sam: _Model, cdk: _Model, inputs: Inputs, errors: list[str]) -> None:
    router = inputs.router
    for label, m in (("SAM", sam), ("CDK", cdk)):
        for key in sorted(set(router) | set(m.routes)):
            want, got = router.get(key), m.routes.get(key)
            if want is None and key in DEPLOYED_ONLY_ROUTES:
                continue
            if want is None:
                errors.append(f"{label}: route {key[0]} {key[1]} -> {got} is not in the Cargo.toml watch router")
            elif got is None:
                errors.append(f"{label}: route {key[0]} {key[1]} (-> {want} in Cargo.toml) is missing")
            elif want != got:
                errors.append(f"{label}: route {key[0]} {key[1]} goes to {got}, Cargo.toml says {want}")
    for key in sorted(set(sam.routes) ^ set(cdk.routes)):
        errors.append(f"route {key[0]} {key[1]} exists only in {'SAM' if key in sam.routes else 'CDK'}")
    if sam.route_auth != cdk.route_auth:
        errors.append(f"route authorization differs: SAM {sorted(set(sam.route_auth.items()) - set(cdk.route_auth.items()))}, "
                      f"CDK {sorted(set(cdk.route_auth.items()) - set(sam.route_auth.items()))}")
    for name in FUNCTIONS:
        a, b = sam.functions.get(name), cdk.functions.get(name)
        if not a or not b:
            continue
        for prop in ("Runtime", "Architectures", "Handler", "MemorySize", "Timeout", "Description"):
            if str(a["props"].get(prop)) != str(b["props"].get(prop)):
                errors.append(f"{name}: {prop} differs: SAM {a['props'].get(prop)!r}, CDK {b['props'].get(prop)!r}")
        env_a = sam.norm((a["props"].get("Environment") or {}).get("Variables") or {})
        env_b = cdk.norm((b["props"].get("Environment") or {}).get("Variables") or {})
        if set(env_a) != set(env_b):
            errors.append(f"{name}: environment differs: only in SAM {sorted(set(env_a) - set(env_b))}, "
                          f"only in CDK {sorted(set(env_b) - set(env_a))}")
        for var in sorted(set(env_a) & set(env_b)):
            if env_a[var] != env_b[var]:
                errors.append(f"{name}: {var} differs: SAM {env_a[var]}, CDK {env_b[var]}")
        log_a = {k: v for k, v in (a["props"].get("LoggingConfig") or {}).items() if k != "LogGroup"}
        log_b = {k: v for k, v in (b["props"].get("LoggingConfig") or {}).items() if k != "LogGroup"}
        if log_a != log_b:
            errors.append(f"{name}: LoggingConfig differs: SAM {log_a}, CDK {log_b}")
    # Parameters, conditions, rules: identical.
    def text(v: Any) -> Any:  # SAM writes 5 where CDK writes "5" (CloudFormation reads both as the same value)
        return [str(x) for x in v] if isinstance(v, list) else str(v)
    pa = {k: {p: text(v) for p, v in spec.items()} for k, spec in (sam.t.get("Parameters") or {}).items()}
    pb = {k: {p: text(v) for p, v in spec.items()} for k, spec in (cdk.t.get("Parameters") or {}).items()
          if k != "BootstrapVersion"}
    for k in sorted(set(pa) | set(pb)):
        if pa.get(k) != pb.get(k):
            errors.append(f"parameter {k} differs: SAM {pa.get(k)}, CDK {pb.get(k)}")
    for section in ("Conditions", "Rules"):
        ca = sam.t.get(section) or {}
        cb = {k: v for k, v in (cdk.t.get(section) or {}).items() if k != "CheckBootstrapVersion"}  # CDK's own
        for k in sorted(set(ca) | set(cb)):
            if json.dumps(ca.get(k), sort_keys=True) != json.dumps(cb.get(k), sort_keys=True):
                errors.append(f"{section[:-1].lower()} {k} differs: SAM {ca.get(k)}, CDK {cb.get(k)}")
    # The API: authorizer, stage settings, secret, alarms.
    auth_a = {n: {k: v for k, v in a.items() if k != "id"} for n, a in sam.authorizers.items()}
    auth_b = {n: {k: v for k, v in a.items() if k != "id"} for n, a in cdk.authorizers.items()}
    if auth_a != auth_b:
        errors.append(f"authorizers differ: SAM {auth_a}, CDK {auth_b}")
    st_a, st_b = sam.stage_settings(), cdk.stage_settings()
    for key in ("DefaultRouteSettings", "RouteSettings"):
        if st_a.get(key) != st_b.get(key):
            errors.append(f"stage {key} differs: SAM {st_a.get(key)}, CDK {st_b.get(key)}")
    fmt_a, fmt_b = (st_a.get("AccessLogSettings") or {}).get("Format"), (st_b.get("AccessLogSettings") or {}).get("Format")
    if fmt_a != fmt_b:
        errors.append(f"access log format differs: SAM {fmt_a}, CDK {fmt_b}")
    secrets = [{k: m.norm(v) for k, v in ((r.get("Properties") or {}).items())}
               for m in (sam, cdk) for r in resources_of_type(m.t, "AWS::SecretsManager::Secret").values()]
    if len(secrets) == 2 and secrets[0] != secrets[1]:
        errors.append(f"the secret differs: SAM {secrets[0]}, CDK {secrets[1]}")
    al_a, al_b = alarms_of(sam), alarms_of(cdk)
    for name in sorted(set(al_a) | set(al_b)):
        if name not in al_a or name not in al_b:
            errors.append(f"alarm <stack>-{name} exists only in {'SAM' if name in al_a else 'CDK'}")
        elif al_a[name] != al_b[name]:
            diff = {k for k in set(al_a[name]) | set(al_b[name]) if al_a[name].get(k) != al_b[name].get(k)}
            errors.append(f"alarm <stack>-{name} differs in {sorted(diff)}: SAM "
                          f"{ {k: al_a[name].get(k) for k in diff} }, CDK { {k: al_b[name].get(k) for k in diff} }")


def run_checks(sam_t: dict, cdk_t: dict, inputs: Inputs) -> list[str]:
    errors: list[str] = []
    for var in sorted(set().union(*EXPECTED_ENV.values()) - inputs.literals):
        errors.append(f"code: {var} is expected in AWS but no source reads it (no \"{var}\" literal)")
    for fn in sorted(set(FUNCTIONS) - inputs.packages):
        errors.append(f"code: function {fn} is deployed but functions/{fn}/Cargo.toml does not exist")
    for fn in sorted(set(inputs.router.values()) - set(FUNCTIONS)):
        errors.append(f"Cargo.toml: router names function {fn!r}, which is not deployed")
    check_refs("SAM", sam_t, errors)
    check_refs("CDK", cdk_t, errors)
    sam, cdk = Model("SAM", sam_t, errors), Model("CDK", cdk_t, errors)
    for m in (sam, cdk):
        check_functions(m, inputs)
        check_iam(m)
        check_secret(m)
        check_bucket(m)
        check_cloudfront(m, inputs)
        check_api(m, m.t.get("Parameters") or {})
        check_alarms(m)
        check_dashboard(m, inputs)
    compare(sam, cdk, inputs, errors)
    return errors


# ----------------------------------------------------------------------------------------------- self-test
def self_test(sam_t: dict, cdk_t: dict, inputs: Inputs) -> list[str]:
    """Every mutant must ADD an error containing the expected fragment (errors the real inputs already have,
    e.g. variables other branches have not added yet, do not count)."""
    baseline = set(run_checks(sam_t, cdk_t, inputs))
    R = "Resources"

    def sam_fn(t: dict, name: str) -> dict:
        return t[R][f"{name.capitalize()}Function"]

    def cdk_fn(t: dict, name: str) -> dict:
        for r in t[R].values():
            if r.get("Type") == "AWS::Lambda::Function" and flatten_name(
                    r["Properties"].get("FunctionName")).endswith("-" + name):
                return r
        raise KeyError(name)

    def cdk_res(t: dict, rtype: str, pred: Callable[[dict], bool] = lambda p: True) -> dict:
        return next(r for r in t[R].values() if r.get("Type") == rtype and pred(r.get("Properties") or {}))

    def cdk_route_id(t: dict, key: str) -> str:
        return next(lid for lid, r in t[R].items()
                    if r.get("Type") == "AWS::ApiGatewayV2::Route" and r["Properties"]["RouteKey"] == key)

    def sam_event(t: dict, name: str, method: str) -> dict:
        return next(e["Properties"] for e in sam_fn(t, name)["Properties"]["Events"].values()
                    if e["Properties"]["Method"] == method)

    def set_env(fn: dict, var: str, value: Any) -> None:
        fn["Properties"].setdefault("Environment", {}).setdefault("Variables", {})[var] = value

    def sam_alarm(t: dict, lid: str) -> dict:
        return t[R][lid]["Properties"]

    def cdk_alarm(t: dict, suffix: str) -> dict:
        return cdk_res(t, "AWS::CloudWatch::Alarm", lambda p: flatten_name(p.get("AlarmName")).endswith("-" + suffix))

    def sam_authorizer(t: dict) -> dict:
        return t[R]["HttpApi"]["Properties"]["Auth"]["Authorizers"]["M2MAuthorizer"]

    def dist(t: dict) -> dict:
        return cdk_res(t, "AWS::CloudFront::Distribution")["Properties"]["DistributionConfig"]

    Mut = Callable[[dict, dict, Inputs], Any]
    mutants: list[tuple[str, str, Mut]] = [
        ("SAM token runtime provided.al2", "runtime",
         lambda s, c, i: sam_fn(s, "token")["Properties"].__setitem__("Runtime", "provided.al2")),
        ("SAM global runtime python3.13", "runtime",
         lambda s, c, i: s["Globals"]["Function"].__setitem__("Runtime", "python3.13")),
        ("SAM user routes removed", "missing",
         lambda s, c, i: sam_fn(s, "user")["Properties"].pop("Events")),
        ("SAM admin method GET", "route",
         lambda s, c, i: sam_event(s, "admin", "POST").__setitem__("Method", "GET")),
        ("SAM protected path typo", "route",
         lambda s, c, i: sam_event(s, "protected", "POST").__setitem__("Path", "/api/protect")),
        ("SAM protected preflight route removed", "OPTIONS /api/protected",
         lambda s, c, i: sam_fn(s, "protected")["Properties"]["Events"].pop("ProtectedPreflight")),
        ("SAM architecture x86_64", "architectures",
         lambda s, c, i: sam_fn(s, "user")["Properties"].__setitem__("Architectures", ["x86_64"])),
        ("SAM access key in the environment", "never be set",
         lambda s, c, i: set_env(sam_fn(s, "token"), "DESCOPE_ACCESS_KEY", "x")),
        ("SAM variable the code does not read", "never reads",
         lambda s, c, i: set_env(sam_fn(s, "admin"), "JWT_AUDIENCES", "x")),
        ("SAM JWT_AUDIENCE dropped from protected", "does not set JWT_AUDIENCE",
         lambda s, c, i: sam_fn(s, "protected")["Properties"]["Environment"]["Variables"].pop("JWT_AUDIENCE")),
        ("SAM whoami gets a verification variable", "unexpected",
         lambda s, c, i: set_env(sam_fn(s, "whoami"), "DESCOPE_PROJECT_ID", {"Ref": "ProjectId"})),
        ("SAM dangling !Ref in a function's environment", "neither a parameter nor a resource",
         lambda s, c, i: set_env(sam_fn(s, "user"), "JWT_AUDIENCE", {"Ref": "JwtAudiance"})),
        ("SAM dangling !GetAtt role", "neither a parameter nor a resource",
         lambda s, c, i: sam_fn(s, "admin")["Properties"].__setitem__("Role", {"Fn::GetAtt": ["NoRole", "Arn"]})),
        ("SAM dangling ${} in a Sub", "neither a parameter nor a resource",
         lambda s, c, i: sam_fn(s, "token")["Properties"].__setitem__("FunctionName", {"Fn::Sub": "${StackNam}-token"})),
        ("SAM wrong Binary", "wrong binary",
         lambda s, c, i: sam_fn(s, "user")["Metadata"]["BuildProperties"].__setitem__("Binary", "admin")),
        ("SAM authorizer role may read the secret", "not the token function",
         lambda s, c, i: s[R]["AuthorizerRole"]["Properties"]["Policies"].append(
             copy.deepcopy(s[R]["TokenRole"]["Properties"]["Policies"][-1]))),
        ("SAM a role with a non-X-Ray statement on every resource", "every resource",
         lambda s, c, i: s[R]["UserRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]
         .__setitem__("Resource", "*")),
        ("SAM whoami role without X-Ray", "X-Ray",
         lambda s, c, i: s[R]["WhoamiRole"]["Properties"]["Policies"].pop(1)),
        ("SAM tracing off", "tracing",
         lambda s, c, i: s["Globals"]["Function"].pop("Tracing")),
        ("SAM system log level INFO", "SystemLogLevel",
         lambda s, c, i: sam_fn(s, "admin")["Properties"]["LoggingConfig"].__setitem__("SystemLogLevel", "INFO")),
        ("SAM bucket public", "PublicAccessBlockConfiguration",
         lambda s, c, i: s[R]["SiteBucket"]["Properties"]["PublicAccessBlockConfiguration"]
         .__setitem__("RestrictPublicBuckets", False)),
        ("SAM /api/* cached with the managed policy", "cache policy",
         lambda s, c, i: s[R]["Distribution"]["Properties"]["DistributionConfig"]["CacheBehaviors"][1]
         .__setitem__("CachePolicyId", "658327ea-f89d-4fab-a63d-7e88639e58f6")),
        ("SAM API cache policy without Authorization", "exactly Authorization",
         lambda s, c, i: s[R]["ApiCachePolicy"]["Properties"]["CachePolicyConfig"]
         ["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"].__setitem__("Headers", ["Origin"])),
        ("SAM API cache policy caching for an hour", "caches",
         lambda s, c, i: s[R]["ApiCachePolicy"]["Properties"]["CachePolicyConfig"].__setitem__("DefaultTTL", 3600)),
        ("SAM origin request policy forwarding all viewer headers", "origin request policy",
         lambda s, c, i: s[R]["Distribution"]["Properties"]["DistributionConfig"]["CacheBehaviors"][0]
         .__setitem__("OriginRequestPolicyId", "b689b0a8-53d0-40ab-baf2-68738e2966ac")),
        ("SAM origin request policy adding x-forwarded-proto", "forwards",
         lambda s, c, i: s[R]["ApiOriginRequestPolicy"]["Properties"]["OriginRequestPolicyConfig"]["HeadersConfig"]
         ["Headers"].append("x-forwarded-proto")),
        ("SAM CSP without the page's API origin", "Content-Security-Policy",
         lambda s, c, i: s[R]["SecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
         ["SecurityHeadersConfig"]["ContentSecurityPolicy"].__setitem__("ContentSecurityPolicy", "default-src 'self'")),
        ("CSP file changed, templates not", "Content-Security-Policy",
         lambda s, c, i: setattr(i, "csp", i.csp.replace("img-src 'self' data:", "img-src 'self'"))),
        ("SAM log group without retention", "RetentionInDays",
         lambda s, c, i: s[R]["UserLogGroup"]["Properties"].pop("RetentionInDays")),
        ("SAM oidc secret in the Descope shape", "clientId",
         lambda s, c, i: s[R]["DescopeSecret"]["Properties"]["SecretString"]["Fn::If"]
         .__setitem__(1, '{"projectId":"","accessKey":""}')),
        ("SAM whoami route without the authorizer", "authorization",
         lambda s, c, i: sam_event(s, "whoami", "GET").pop("Auth")),
        ("SAM IAM route without IAM", "authorization",
         lambda s, c, i: next(e for e in sam_fn(s, "token")["Properties"]["Events"].values()
                              if e["Properties"]["Path"] == "/m2m/token/iam")["Properties"].pop("Auth")),
        ("SAM authorizer cache key without the route", "routeKey",
         lambda s, c, i: sam_authorizer(s)["Identity"].pop("Context")),
        ("SAM authorizer TTL parameter up to an hour", "TTL",
         lambda s, c, i: s["Parameters"]["AuthorizerCacheSeconds"].__setitem__("MaxValue", 3600)),
        ("SAM authorizer without simple responses", "simple",
         lambda s, c, i: sam_authorizer(s).pop("EnableSimpleResponses")),
        ("SAM authorizer permission for every API route", "authorizers only",
         lambda s, c, i: s[R]["AuthorizerInvokePermission"]["Properties"].__setitem__(
             "SourceArn", {"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*"})),
        ("SAM token route throttled like the protected ones", "TokenThrottling",
         lambda s, c, i: s[R]["HttpApi"]["Properties"]["RouteSettings"].pop("POST /m2m/token")),
        ("SAM token throttling default above the protected one", "stricter",
         lambda s, c, i: s["Parameters"]["TokenThrottlingRateLimit"].__setitem__("Default", 500)),
        ("SAM execute-api always disabled", "DisableExecuteApiEndpoint",
         lambda s, c, i: s[R]["HttpApi"]["Properties"].__setitem__("DisableExecuteApiEndpoint", True)),
        ("SAM CloudFront always on execute-api", "custom domain",
         lambda s, c, i: s[R]["Distribution"]["Properties"]["DistributionConfig"]["Origins"][1].__setitem__(
             "DomainName", {"Fn::Sub": "${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"})),
        ("SAM alarm without OK notifications", "OKActions",
         lambda s, c, i: sam_alarm(s, "TokenErrorsAlarm").pop("OKActions")),
        ("SAM JWKS alarm on the wrong metric", "JwksFetchFailures",
         lambda s, c, i: sam_alarm(s, "UserJwksFetchFailuresAlarm").__setitem__("MetricName", "JwksFetches")),
        ("SAM latency alarm removed", "admin-latency-p99",
         lambda s, c, i: s[R].pop("AdminLatencyP99Alarm")),
        ("SAM dashboard body edited", "dashboard.json",
         lambda s, c, i: s[R]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"].__setitem__(0, '{"widgets": []}')),
        ("SAM parameter default changed", "parameter JwksMaxStaleSeconds",
         lambda s, c, i: s["Parameters"]["JwksMaxStaleSeconds"].__setitem__("Default", 60)),
        ("CDK token runtime provided.al2", "runtime",
         lambda s, c, i: cdk_fn(c, "token")["Properties"].__setitem__("Runtime", "provided.al2")),
        ("CDK admin route removed", "missing",
         lambda s, c, i: c[R].pop(cdk_route_id(c, "POST /api/admin"))),
        ("CDK IAM route without IAM", "authorization",
         lambda s, c, i: c[R][cdk_route_id(c, "POST /m2m/token/iam")]["Properties"].__setitem__(
             "AuthorizationType", "NONE")),
        ("CDK extra environment variable", "differs",
         lambda s, c, i: set_env(cdk_fn(c, "user"), "JWT_ISSUERS_EXTRA", "x")),
        ("CDK environment value differs", "ALLOWED_PROJECT_IDS differs",
         lambda s, c, i: set_env(cdk_fn(c, "token"), "ALLOWED_PROJECT_IDS", "P2other")),
        ("CDK memory 256", "memory",
         lambda s, c, i: cdk_fn(c, "protected")["Properties"].__setitem__("MemorySize", 256)),
        ("CDK tracing off", "tracing",
         lambda s, c, i: cdk_fn(c, "authorizer")["Properties"].pop("TracingConfig")),
        ("CDK authorizer TTL literal", "TTL",
         lambda s, c, i: cdk_res(c, "AWS::ApiGatewayV2::Authorizer")["Properties"].__setitem__(
             "AuthorizerResultTtlInSeconds", 3600)),
        ("CDK alarm threshold changed", "differs",
         lambda s, c, i: cdk_alarm(c, "protected-errors")["Properties"].__setitem__("Threshold", 5)),
        ("CDK alarm removed", "exists only in SAM",
         lambda s, c, i: c[R].pop(next(lid for lid, r in c[R].items() if r.get("Type") == "AWS::CloudWatch::Alarm"
                                       and flatten_name(r["Properties"]["AlarmName"]).endswith("-api-5xx-rate")))),
        ("CDK /m2m/* without POST", "POST",
         lambda s, c, i: next(b for b in dist(c)["CacheBehaviors"] if b["PathPattern"] == "/m2m/*").__setitem__(
             "AllowedMethods", ["GET", "HEAD"])),
        ("CDK condition changed", "condition HasApiDomain differs",
         lambda s, c, i: c["Conditions"].__setitem__("HasApiDomain", {"Fn::Equals": [{"Ref": "ApiDomainName"}, "x"]})),
        ("Cargo.toml route the templates lack", "is missing",
         lambda s, c, i: i.router.__setitem__(("POST", "/api/extra"), "protected")),
        ("Cargo.toml routes the IAM route elsewhere", "Cargo.toml says",
         lambda s, c, i: i.router.__setitem__(("POST", "/m2m/token/iam"), "protected")),
        ("code stops reading CORS_ALLOWED_ORIGINS", "never reads",
         lambda s, c, i: i.literals.discard("CORS_ALLOWED_ORIGINS")),
        ("a deployed function without its package", "functions/token/Cargo.toml",
         lambda s, c, i: i.packages.discard("token")),
    ]
    failures = []
    for title, fragment, mutate in mutants:
        s, c, i = copy.deepcopy(sam_t), copy.deepcopy(cdk_t), inputs.copy()
        try:
            mutate(s, c, i)
        except Exception as e:  # the mutation itself no longer applies: the self-test needs updating
            failures.append(f"self-test: mutant '{title}' could not be applied: {e!r}")
            continue
        new = [e for e in run_checks(s, c, i) if e not in baseline]
        if not new:
            failures.append(f"self-test: mutant '{title}' was NOT detected (the check passed vacuously)")
        elif not any(fragment.lower() in e.lower() for e in new):
            failures.append(f"self-test: mutant '{title}' detected, but not by the expected check "
                            f"('{fragment}'): {new[:3]}")
        else:
            print(f"  ok   mutant detected: {title}")
    print(f"  {len(mutants) - len(failures)}/{len(mutants)} mutants detected")
    return failures


# ----------------------------------------------------------------------------------------------- main
def load_inputs(repo: str, infra: str) -> Inputs:
    with open(os.path.join(infra, "content-security-policy.txt"), encoding="utf-8") as f:
        csp = f.read().strip()
    return Inputs(
        router=load_router(os.path.join(repo, "Cargo.toml")),
        literals=env_literals(repo),
        packages=function_packages(repo),
        csp=csp,
        dashboard=load_json(os.path.join(infra, "dashboard.json")),
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sam", required=True, help="the SAM template (infra/template.yaml)")
    ap.add_argument("--cdk", required=True, help="the CDK synth output (<outdir>/<Stack>.template.json)")
    ap.add_argument("--repo", required=True, help="the repository root (Cargo.toml, shared/*/src, infra/)")
    ap.add_argument("--self-test", action="store_true", help="also check that broken copies are caught")
    args = ap.parse_args()

    sam_t, cdk_t = load_sam(args.sam), load_json(args.cdk)
    inputs = load_inputs(args.repo, os.path.join(args.repo, "infra"))
    print(f"  routes in Cargo.toml (deployed): {', '.join(f'{m} {p}' for m, p in sorted(inputs.router))}")
    print(f"  variables the code reads: {', '.join(sorted(inputs.literals)) or '(none found)'}")
    print(f"  function packages: {', '.join(sorted(inputs.packages))}")

    errors = run_checks(sam_t, cdk_t, inputs)
    pending = [e for e in errors if e.startswith(("code:", "Cargo.toml:")) or "watch router" in e
               or "never reads" in e or "in Cargo.toml" in e]
    for e in errors:
        print(f"  FAIL {e}")
    if not errors:
        print("  ok   SAM and CDK agree with each other, with Cargo.toml and with the code")
    elif len(pending) == len(errors):
        print(f"  ({len(errors)} failures, all about the Rust code or the Cargo.toml router; the templates agree)")
    failures = list(errors)
    if args.self_test:
        failures += self_test(sam_t, cdk_t, inputs)
        for f in failures[len(errors):]:
            print(f"  FAIL {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
