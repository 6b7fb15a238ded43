#!/usr/bin/env python3
"""Drift and consistency check for the two deployment paths (SAM template and CDK synth output).

cfn-lint does not look inside SAM function properties for a wrong runtime, a wrong method or a dangling
`!Ref`, and nothing checks that the two templates deploy the same thing. This script does:

  * routes: SAM events == CDK routes == the root Cargo.toml `cargo lambda watch` router (minus the local-only
    page routes `/` and `/{*path}`), each route to the same function;
  * runtime, architecture, handler, memory and timeout of the four functions, in both templates;
  * environment variables: per function, SAM == CDK == the explicit EXPECTED_ENV below; every templated
    variable is one the Rust code reads (an ALL_CAPS string literal in shared/*/src or functions/*/src); the
    variables that must never be set in AWS (secrets) are absent;
  * every Ref / Fn::GetAtt / Fn::Sub ${...} / DependsOn / Condition target exists;
  * SAM build metadata (rust-cargolambda, Binary = the function's name);
  * security invariants in both templates: one role per function, only the token role may read a secret and
    only that secret, private TLS-only bucket read by CloudFront through origin access control, /api/* and
    /m2m/* routed uncached to the HTTP API, log groups with retention.

`--self-test` mutates copies of the real inputs (runtime changed, route removed, variable added, dangling Ref,
...) and fails unless every mutant is caught, so the check cannot pass vacuously.

Usage: check_drift.py --sam infra/template.yaml --cdk <synth>/Stack.template.json --repo . [--self-test]
"""
from __future__ import annotations

import argparse
import copy
import glob
import json
import os
import re
import sys
import tomllib
from typing import Any, Callable

import yaml

# ----------------------------------------------------------------------------------------------- expectations
FUNCTIONS = ("token", "protected", "user", "admin")
RUNTIME = "provided.al2023"
ARCHITECTURES = ["arm64"]
HANDLER = "bootstrap"
MEMORY = 128
TIMEOUT = 10
LOCAL_ONLY_PATHS = {"/", "/{*path}"}  # served by the `page` binary under `cargo lambda watch` only

COMMON_ENV = {
    "DESCOPE_PROJECT_ID",
    "DESCOPE_BASE_URL",
    "JWT_ISSUERS",
    "JWT_ALGORITHMS",
    "JWT_LEEWAY_SECONDS",
    "JWKS_CACHE_SECONDS",
    "CORS_ALLOWED_ORIGINS",
    "AUTH_PROVIDER",
    "OIDC_ISSUER",
}
# What each function needs in AWS (docs/contract.md section 2), explicitly.
EXPECTED_ENV = {
    "token": COMMON_ENV | {"DESCOPE_SECRET_ID", "SECRET_CACHE_SECONDS", "ALLOW_CREDENTIAL_OVERRIDE", "JWT_AUDIENCE"},
    "protected": COMMON_ENV | {"JWT_AUDIENCE"},
    "user": COMMON_ENV | {"JWT_AUDIENCE"},
    "admin": COMMON_ENV | {"JWT_AUDIENCE"},
}
# Read by the code for local runs, but in AWS the secret carries them: never in a template.
FORBIDDEN_ENV = {"DESCOPE_ACCESS_KEY", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"}
ENV_LITERAL = re.compile(r'"((?:DESCOPE|JWT|JWKS|SECRET|ALLOW|CORS|AUTH|OIDC|RUST)_[A-Z_]*)"')

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
API_TYPES = {"AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api"}
FUNCTION_TYPES = {"AWS::Serverless::Function", "AWS::Lambda::Function"}


# ----------------------------------------------------------------------------------------------- loading
class CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short-form tags (!Ref, !Sub, ...) into their long form."""


def _construct_tag(loader: CfnLoader, suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_sam(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)


def load_json(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load_router(cargo_toml: str) -> dict[tuple[str, str], str]:
    """(METHOD, path) -> function, from [workspace.metadata.lambda.watch.router], local-only routes excluded."""
    with open(cargo_toml, "rb") as f:
        doc = tomllib.load(f)
    router = doc["workspace"]["metadata"]["lambda"]["watch"]["router"]
    routes: dict[tuple[str, str], str] = {}
    for path, entries in router.items():
        if path in LOCAL_ONLY_PATHS:
            continue
        for entry in entries if isinstance(entries, list) else [entries]:
            routes[(str(entry.get("method", "ANY")).upper(), path)] = entry["function"]
    return routes


def strip_test_modules(source: str) -> str:
    """Drop `#[cfg(test)] mod ... { ... }` blocks: a variable named only in a unit test is not read."""
    out, i = [], 0
    pattern = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{")
    while True:
        m = pattern.search(source, i)
        if not m:
            out.append(source[i:])
            return "".join(out)
        out.append(source[i : m.start()])
        depth, j = 1, m.end()
        while j < len(source) and depth:
            depth += {"{": 1, "}": -1}.get(source[j], 0)
            j += 1
        i = j


def env_literals(repo: str) -> set[str]:
    names: set[str] = set()
    files = glob.glob(os.path.join(repo, "shared", "*", "src", "**", "*.rs"), recursive=True)
    files += glob.glob(os.path.join(repo, "functions", "*", "src", "**", "*.rs"), recursive=True)
    for path in files:
        with open(path, encoding="utf-8") as f:
            names.update(ENV_LITERAL.findall(strip_test_modules(f.read())))
    return names


# ----------------------------------------------------------------------------------------------- helpers
def walk(node: Any, path: str = ""):
    """Yield (path, dict) for every mapping in a template."""
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from walk(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}/{i}")


def ref_target(value: Any) -> str | None:
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            return value["Ref"]
        getatt = value.get("Fn::GetAtt")
        if isinstance(getatt, list) and getatt:
            return getatt[0]
        if isinstance(getatt, str):
            return getatt.split(".", 1)[0]
    return None


def refs_in(value: Any) -> set[str]:
    """Every logical id / parameter a value refers to (Ref, GetAtt, Sub variables)."""
    found: set[str] = set()
    for _, d in walk(value):
        t = ref_target(d)
        if t:
            found.add(t)
        if "Fn::Sub" in d:
            sub = d["Fn::Sub"]
            text, local = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1] if len(sub) > 1 else {})
            for var in re.findall(r"\$\{([^!}][^}]*)\}", text):
                name = var.split(".", 1)[0]
                if name not in local:
                    found.add(name)
    return found


def flatten_name(value: Any) -> str:
    """A FunctionName as text: a literal, a Fn::Sub string, or a Fn::Join of literals and references."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Fn::Sub" in value:
            sub = value["Fn::Sub"]
            return sub if isinstance(sub, str) else sub[0]
        if "Fn::Join" in value:
            sep, parts = value["Fn::Join"]
            return sep.join(flatten_name(p) for p in parts)
        t = ref_target(value)
        if t:
            return "${" + t + "}"
    return ""


def actions_of(statement: dict) -> list[str]:
    a = statement.get("Action", [])
    return a if isinstance(a, list) else [a]


# ----------------------------------------------------------------------------------------------- model
class Model:
    """What a template deploys, in a shape both templates reduce to."""

    def __init__(self, label: str, template: dict, errors: list[str]):
        self.label = label
        self.t = template
        self.resources: dict[str, dict] = template.get("Resources", {}) or {}
        self.errors = errors
        self.functions: dict[str, dict] = {}  # name -> {"id", "props"}
        self.routes: dict[tuple[str, str], str] = {}
        self._find_functions()
        self._find_routes()

    def err(self, msg: str) -> None:
        self.errors.append(f"{self.label}: {msg}")

    def _globals(self) -> dict:
        return ((self.t.get("Globals") or {}).get("Function") or {}) if "Globals" in self.t else {}

    def effective_props(self, props: dict) -> dict:
        merged = copy.deepcopy(self._globals())
        for k, v in props.items():
            if k == "Environment":
                variables = dict((merged.get("Environment") or {}).get("Variables") or {})
                variables.update((v or {}).get("Variables") or {})
                merged["Environment"] = {"Variables": variables}
            else:
                merged[k] = v
        return merged

    def _find_functions(self) -> None:
        for lid, r in self.resources.items():
            if r.get("Type") not in FUNCTION_TYPES:
                continue
            props = self.effective_props(r.get("Properties") or {})
            name_text = flatten_name(props.get("FunctionName"))
            m = re.search(r"-([a-z]+)$", name_text)
            name = m.group(1) if m else None
            if name in FUNCTIONS:
                if name in self.functions:
                    self.err(f"two functions named *-{name}: {self.functions[name]['id']} and {lid}")
                self.functions[name] = {"id": lid, "props": props, "resource": r}
            elif r.get("Type") == "AWS::Serverless::Function" or str(props.get("Runtime", "")).startswith(
                "provided"
            ):
                self.err(f"function {lid} ({name_text or 'no FunctionName'}) is not one of {FUNCTIONS}")
        for name in FUNCTIONS:
            if name not in self.functions:
                self.err(f"no function named <stack>-{name}")

    def _name_of_function_id(self, lid: str | None) -> str | None:
        for name, f in self.functions.items():
            if f["id"] == lid:
                return name
        return None

    def _add_route(self, method: str, path: str, fn: str | None, where: str) -> None:
        key = (method.upper(), path)
        if key in self.routes:
            self.err(f"route {method} {path} declared twice ({where})")
        self.routes[key] = fn or "?"

    def _find_routes(self) -> None:
        # SAM: HttpApi events on the functions.
        for lid, r in self.resources.items():
            if r.get("Type") != "AWS::Serverless::Function":
                continue
            fn = self._name_of_function_id(lid)
            for ename, event in ((r.get("Properties") or {}).get("Events") or {}).items():
                if event.get("Type") != "HttpApi":
                    self.err(f"{lid} event {ename} is {event.get('Type')}, not HttpApi")
                    continue
                p = event.get("Properties") or {}
                api = ref_target(p.get("ApiId"))
                if api is None or (self.resources.get(api) or {}).get("Type") != "AWS::Serverless::HttpApi":
                    self.err(f"{lid} event {ename}: ApiId does not Ref the template's AWS::Serverless::HttpApi")
                if str(p.get("PayloadFormatVersion", "2.0")) != "2.0":
                    self.err(f"{lid} event {ename}: payload format {p.get('PayloadFormatVersion')}, want 2.0")
                self._add_route(str(p.get("Method", "ANY")), str(p.get("Path")), fn, f"{lid}.{ename}")
        # CloudFormation / CDK: AWS::ApiGatewayV2::Route -> Integration -> function.
        for lid, r in self.resources.items():
            if r.get("Type") != "AWS::ApiGatewayV2::Route":
                continue
            p = r.get("Properties") or {}
            method, _, path = str(p.get("RouteKey", "")).partition(" ")
            integration = next((t for t in refs_in(p.get("Target")) if t in self.resources), None)
            integ = (self.resources.get(integration) or {}).get("Properties") or {}
            if integration is None:
                self.err(f"route {lid} has no integration target")
            elif str(integ.get("PayloadFormatVersion")) != "2.0":
                self.err(f"route {p.get('RouteKey')}: payload format {integ.get('PayloadFormatVersion')}, want 2.0")
            fn = self._name_of_function_id(ref_target(integ.get("IntegrationUri")))
            self._add_route(method, path, fn, lid)


# ----------------------------------------------------------------------------------------------- checks
def check_refs(label: str, t: dict, errors: list[str]) -> None:
    params = set((t.get("Parameters") or {}).keys())
    resources = set((t.get("Resources") or {}).keys())
    conditions = set((t.get("Conditions") or {}).keys())
    valid = params | resources
    for section in ("Globals", "Resources", "Outputs", "Conditions"):
        for path, d in walk(t.get(section) or {}, section):
            for target in refs_in({k: v for k, v in d.items() if k in ("Ref", "Fn::GetAtt", "Fn::Sub")}):
                if target.startswith("AWS::"):
                    continue
                if target not in valid:
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


def check_functions(m: Model, literals: set[str]) -> None:
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
        env = set(((p.get("Environment") or {}).get("Variables") or {}).keys())
        for var in sorted(env & FORBIDDEN_ENV):
            m.err(f"{name}: sets {var}, which must never be set in AWS (the secret carries it)")
        for var in sorted(env - literals):
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
        lg_id = ref_target((p.get("LoggingConfig") or {}).get("LogGroup"))
        lg = m.resources.get(lg_id or "", {})
        if lg.get("Type") != "AWS::Logs::LogGroup":
            m.err(f"{name}: LoggingConfig.LogGroup does not Ref an AWS::Logs::LogGroup of the template")
        else:
            lg_props = lg.get("Properties") or {}
            if not lg_props.get("RetentionInDays"):
                m.err(f"{name}: log group {lg_id} has no RetentionInDays")
            if flatten_name(lg_props.get("LogGroupName")) != "/aws/lambda/" + flatten_name(p.get("FunctionName")):
                m.err(f"{name}: log group {lg_id} is not named /aws/lambda/<function name>")


def statements_of_role(m: Model, role_id: str) -> list[dict]:
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


def check_security(m: Model) -> None:
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
        for s in statements_of_role(m, role_id):
            for a in actions_of(s):
                if "*" in a:
                    m.err(f"{name}: role {role_id} allows wildcard action {a}")
            if s.get("Resource") == "*" or s.get("Resource") == ["*"]:
                m.err(f"{name}: role {role_id} has a statement on every resource")
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
    # The bucket: private, encrypted, owner-enforced, TLS-only, read only by CloudFront via OAC.
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
    # CloudFront.
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
    api_ids = {lid for lid, r in res.items() if r.get("Type") in API_TYPES}
    behaviours = {b.get("PathPattern"): b for b in cfg.get("CacheBehaviors") or []}
    for pattern in ("/api/*", "/m2m/*"):
        b = behaviours.get(pattern)
        if b is None:
            m.err(f"CloudFront has no {pattern} behaviour")
            continue
        origin = origins.get(b.get("TargetOriginId")) or {}
        if not refs_in(origin.get("DomainName")) & api_ids:
            m.err(f"CloudFront {pattern} does not go to the HTTP API")
        if b.get("CachePolicyId") != CACHING_DISABLED:
            m.err(f"CloudFront {pattern}: cache policy is not Managed-CachingDisabled")
        if b.get("OriginRequestPolicyId") != ALL_VIEWER_EXCEPT_HOST_HEADER:
            m.err(f"CloudFront {pattern}: origin request policy is not Managed-AllViewerExceptHostHeader")
        if "POST" not in (b.get("AllowedMethods") or []):
            m.err(f"CloudFront {pattern}: POST is not allowed")
    headers = [r for r in res.values() if r.get("Type") == "AWS::CloudFront::ResponseHeadersPolicy"]
    csp = [((h["Properties"]["ResponseHeadersPolicyConfig"].get("SecurityHeadersConfig") or {})
            .get("ContentSecurityPolicy") or {}).get("ContentSecurityPolicy") for h in headers]
    if CSP not in csp:
        m.err("no response headers policy with the contract's Content-Security-Policy")


def compare(sam: Model, cdk: Model, router: dict, errors: list[str]) -> None:
    for label, m in (("SAM", sam), ("CDK", cdk)):
        for key in sorted(set(router) | set(m.routes)):
            want, got = router.get(key), m.routes.get(key)
            if want is None:
                errors.append(f"{label}: route {key[0]} {key[1]} -> {got} is not in the Cargo.toml watch router")
            elif got is None:
                errors.append(f"{label}: route {key[0]} {key[1]} (-> {want} in Cargo.toml) is missing")
            elif want != got:
                errors.append(f"{label}: route {key[0]} {key[1]} goes to {got}, Cargo.toml says {want}")
    for name in FUNCTIONS:
        a, b = sam.functions.get(name), cdk.functions.get(name)
        if not a or not b:
            continue
        for prop in ("Runtime", "Architectures", "Handler", "MemorySize", "Timeout"):
            if str(a["props"].get(prop)) != str(b["props"].get(prop)):
                errors.append(f"{name}: {prop} differs: SAM {a['props'].get(prop)!r}, CDK {b['props'].get(prop)!r}")
        env_a = set(((a["props"].get("Environment") or {}).get("Variables") or {}))
        env_b = set(((b["props"].get("Environment") or {}).get("Variables") or {}))
        if env_a != env_b:
            errors.append(f"{name}: environment differs: only in SAM {sorted(env_a - env_b)}, "
                          f"only in CDK {sorted(env_b - env_a)}")


def run_checks(sam_t: dict, cdk_t: dict, router: dict, literals: set[str]) -> list[str]:
    errors: list[str] = []
    for var in sorted(set().union(*EXPECTED_ENV.values()) - literals):
        errors.append(f"code: {var} is expected in AWS but no source reads it (no \"{var}\" literal)")
    for fn in sorted(set(router.values()) - set(FUNCTIONS)):
        errors.append(f"Cargo.toml: router names function {fn!r}, which is not deployed")
    check_refs("SAM", sam_t, errors)
    check_refs("CDK", cdk_t, errors)
    sam, cdk = Model("SAM", sam_t, errors), Model("CDK", cdk_t, errors)
    for m in (sam, cdk):
        check_functions(m, literals)
        check_security(m)
    compare(sam, cdk, router, errors)
    return errors


# ----------------------------------------------------------------------------------------------- self-test
def self_test(sam_t: dict, cdk_t: dict, router: dict, literals: set[str]) -> list[str]:
    """Every mutant must be reported with a message containing the expected fragment."""

    def sam_fn(t: dict, name: str) -> dict:
        return t["Resources"][f"{name.capitalize()}Function"]

    def cdk_fn(t: dict, name: str) -> dict:
        for r in t["Resources"].values():
            if r.get("Type") == "AWS::Lambda::Function" and flatten_name(
                    r["Properties"].get("FunctionName")).endswith("-" + name):
                return r
        raise KeyError(name)

    def cdk_route(t: dict, key: str) -> str:
        return next(lid for lid, r in t["Resources"].items()
                    if r.get("Type") == "AWS::ApiGatewayV2::Route" and r["Properties"]["RouteKey"] == key)

    def set_env(fn: dict, var: str, value: Any) -> None:
        fn["Properties"].setdefault("Environment", {}).setdefault("Variables", {})[var] = value

    def role_of(t: dict, fn: dict) -> str:
        return ref_target(fn["Properties"]["Role"])

    Mut = Callable[[dict, dict, dict, set], None]
    mutants: list[tuple[str, str, Mut]] = [
        ("SAM token runtime provided.al2", "runtime",
         lambda s, c, r, l: sam_fn(s, "token")["Properties"].__setitem__("Runtime", "provided.al2")),
        ("SAM global runtime python3.13", "runtime",
         lambda s, c, r, l: s["Globals"]["Function"].__setitem__("Runtime", "python3.13")),
        ("SAM user route removed", "missing",
         lambda s, c, r, l: sam_fn(s, "user")["Properties"].pop("Events")),
        ("SAM admin method GET", "route",
         lambda s, c, r, l: next(iter(sam_fn(s, "admin")["Properties"]["Events"].values()))["Properties"]
         .__setitem__("Method", "GET")),
        ("SAM protected path typo", "route",
         lambda s, c, r, l: next(iter(sam_fn(s, "protected")["Properties"]["Events"].values()))["Properties"]
         .__setitem__("Path", "/api/protect")),
        ("SAM architecture x86_64", "architectures",
         lambda s, c, r, l: sam_fn(s, "user")["Properties"].__setitem__("Architectures", ["x86_64"])),
        ("SAM access key in the environment", "never be set",
         lambda s, c, r, l: set_env(sam_fn(s, "token"), "DESCOPE_ACCESS_KEY", "x")),
        ("SAM variable the code does not read", "never reads",
         lambda s, c, r, l: set_env(sam_fn(s, "admin"), "JWT_AUDIENCES", "x")),
        ("SAM JWT_AUDIENCE dropped from protected", "does not set JWT_AUDIENCE",
         lambda s, c, r, l: sam_fn(s, "protected")["Properties"]["Environment"]["Variables"].pop("JWT_AUDIENCE")),
        ("SAM dangling !Ref in a function's environment", "neither a parameter nor a resource",
         lambda s, c, r, l: set_env(sam_fn(s, "user"), "JWT_AUDIENCE", {"Ref": "JwtAudiance"})),
        ("SAM dangling !GetAtt role", "neither a parameter nor a resource",
         lambda s, c, r, l: sam_fn(s, "admin")["Properties"].__setitem__("Role", {"Fn::GetAtt": ["NoRole", "Arn"]})),
        ("SAM dangling ${} in a Sub", "neither a parameter nor a resource",
         lambda s, c, r, l: sam_fn(s, "token")["Properties"].__setitem__("FunctionName",
                                                                          {"Fn::Sub": "${StackNam}-token"})),
        ("SAM wrong Binary", "wrong binary",
         lambda s, c, r, l: sam_fn(s, "user")["Metadata"]["BuildProperties"].__setitem__("Binary", "admin")),
        ("SAM protected role may read the secret", "not the token function",
         lambda s, c, r, l: s["Resources"][role_of(s, sam_fn(s, "protected"))]["Properties"]["Policies"].append(
             copy.deepcopy(s["Resources"][role_of(s, sam_fn(s, "token"))]["Properties"]["Policies"][-1]))),
        ("SAM bucket public", "PublicAccessBlockConfiguration",
         lambda s, c, r, l: next(x for x in s["Resources"].values() if x["Type"] == "AWS::S3::Bucket")
         ["Properties"]["PublicAccessBlockConfiguration"].__setitem__("RestrictPublicBuckets", False)),
        ("SAM /api/* cached", "CachingDisabled",
         lambda s, c, r, l: next(x for x in s["Resources"].values() if x["Type"] == "AWS::CloudFront::Distribution")
         ["Properties"]["DistributionConfig"]["CacheBehaviors"][1].__setitem__(
             "CachePolicyId", "658327ea-f89d-4fab-a63d-7e88639e58f6")),
        ("SAM log group without retention", "RetentionInDays",
         lambda s, c, r, l: s["Resources"][ref_target(sam_fn(s, "user")["Properties"]["LoggingConfig"]["LogGroup"])]
         ["Properties"].pop("RetentionInDays")),
        ("CDK token runtime provided.al2", "runtime",
         lambda s, c, r, l: cdk_fn(c, "token")["Properties"].__setitem__("Runtime", "provided.al2")),
        ("CDK admin route removed", "missing",
         lambda s, c, r, l: c["Resources"].pop(cdk_route(c, "POST /api/admin"))),
        ("CDK extra environment variable", "differs",
         lambda s, c, r, l: set_env(cdk_fn(c, "user"), "JWT_ISSUERS_EXTRA", "x")),
        ("CDK memory 256", "memory",
         lambda s, c, r, l: cdk_fn(c, "protected")["Properties"].__setitem__("MemorySize", 256)),
        ("Cargo.toml route the templates lack", "is missing",
         lambda s, c, r, l: r.__setitem__(("POST", "/api/extra"), "protected")),
        ("code stops reading CORS_ALLOWED_ORIGINS", "never reads",
         lambda s, c, r, l: l.discard("CORS_ALLOWED_ORIGINS")),
    ]
    failures = []
    for title, fragment, mutate in mutants:
        s, c, r, l = copy.deepcopy(sam_t), copy.deepcopy(cdk_t), dict(router), set(literals)
        try:
            mutate(s, c, r, l)
        except Exception as e:  # the mutation itself no longer applies: the self-test needs updating
            failures.append(f"self-test: mutant '{title}' could not be applied: {e!r}")
            continue
        errors = run_checks(s, c, r, l)
        if not errors:
            failures.append(f"self-test: mutant '{title}' was NOT detected (the check passed vacuously)")
        elif not any(fragment.lower() in e.lower() for e in errors):
            failures.append(f"self-test: mutant '{title}' detected, but not by the expected check "
                            f"('{fragment}'): {errors[:3]}")
        else:
            print(f"  ok   mutant detected: {title}")
    print(f"  {len(mutants) - len(failures)}/{len(mutants)} mutants detected")
    return failures


# ----------------------------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sam", required=True, help="the SAM template (infra/template.yaml)")
    ap.add_argument("--cdk", required=True, help="the CDK synth output (<outdir>/<Stack>.template.json)")
    ap.add_argument("--repo", required=True, help="the repository root (Cargo.toml, shared/*/src)")
    ap.add_argument("--self-test", action="store_true", help="also check that broken copies are caught")
    args = ap.parse_args()

    sam_t, cdk_t = load_sam(args.sam), load_json(args.cdk)
    router = load_router(os.path.join(args.repo, "Cargo.toml"))
    literals = env_literals(args.repo)
    print(f"  routes in Cargo.toml (deployed): {', '.join(f'{m} {p}' for m, p in sorted(router))}")
    print(f"  variables the code reads: {', '.join(sorted(literals)) or '(none found)'}")

    errors = run_checks(sam_t, cdk_t, router, literals)
    for e in errors:
        print(f"  FAIL {e}")
    if not errors:
        print("  ok   SAM and CDK agree with each other, with Cargo.toml and with the code")
    failures = list(errors)
    if args.self_test:
        failures += self_test(sam_t, cdk_t, router, literals)
        for f in failures[len(errors):]:
            print(f"  FAIL {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
