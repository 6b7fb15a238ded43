#!/usr/bin/env python3
"""Drift check of the two deployment paths (SAM template, CDK synth output): what each tool writes its own way.

The facts both share (parameters, each function's description and environment, alarms, dashboard, CSP) are in
infra/stack.json: infra/generate_sam.py writes them into the SAM template (test.sh fails when it is stale) and the
CDK app reads them. The rules the stack must follow are asserted on the CDK app (infra/cdk/test) and on SAM's
transform (check_sam_transform.py). This check closes the loop: SAM == CDK for everything, normalised (routes and
their authorization, the functions' settings, logging and roles' statements, CloudFront, the bucket and its
policy, the cache/origin/headers policies, the secret, the authorizer and its permission, throttling, execute-api,
the custom domain, conditions, rules, parameters, environments, alarms, dashboard); both == the root Cargo.toml
watch router; every reference resolves; SAM builds the right binaries; stack.json's variables are read by the
Rust code (that none is a secret, and the bounds of its values, are asserted on the CDK app).

`--self-test` mutates copies (runtime changed, route removed, a variable added, ...) and fails unless each adds
an error of the expected kind. Usage: check_drift.py --sam T.yaml --cdk Stack.template.json --repo . [--self-test]
"""
from __future__ import annotations

import argparse, copy, json, os, sys  # noqa: E401
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from drift_model import (Model as _Model, actions_of, env_literals, flatten_name, function_packages,  # noqa: E402
                         load_json, load_router, load_sam, ref_target, refs_in, resources_of_type, walk)
from generate_sam import function_environment, load_facts  # noqa: E402

FUNCTIONS = tuple(load_facts()["functions"])  # token, protected, user, admin, authorizer, whoami
DEPLOYED_ONLY_ROUTES = {("POST", "/m2m/token/iam"), ("GET", "/api/whoami")}  # behind API Gateway's own auth only
SAME_RESOURCES = ("AWS::S3::Bucket", "AWS::S3::BucketPolicy", "AWS::CloudFront::CachePolicy",
                  "AWS::CloudFront::OriginRequestPolicy", "AWS::CloudFront::ResponseHeadersPolicy",
                  "AWS::SecretsManager::Secret", "AWS::ApiGatewayV2::DomainName", "AWS::ApiGatewayV2::ApiMapping")


def Model(label: str, template: dict, errors: list[str]) -> _Model:  # noqa: N802
    return _Model(label, template, errors, FUNCTIONS)


class Inputs:
    """Everything the check reads besides the two templates."""

    def __init__(self, router: dict, literals: set[str], packages: set[str], facts: dict):
        self.router, self.literals, self.packages, self.facts = router, literals, packages, facts

    def copy(self) -> "Inputs":
        return Inputs(dict(self.router), set(self.literals), set(self.packages), copy.deepcopy(self.facts))


def check_refs(label: str, t: dict, errors: list[str]) -> None:
    valid, conditions = set(t.get("Parameters") or {}) | set(t.get("Resources") or {}), set(t.get("Conditions") or {})
    for section in ("Globals", "Resources", "Outputs", "Conditions", "Rules"):
        for path, d in walk(t.get(section) or {}, section):
            for target in refs_in({k: v for k, v in d.items() if k in ("Ref", "Fn::GetAtt", "Fn::Sub")}):
                if not target.startswith("AWS::") and target.split(".", 1)[0] not in valid:
                    errors.append(f"{label}: {path}: reference to '{target}', which is neither a parameter nor a resource")
            if "Fn::If" in d and d["Fn::If"][0] not in conditions:
                errors.append(f"{label}: {path}: Fn::If on unknown condition '{d['Fn::If'][0]}'")
    for lid, r in list((t.get("Resources") or {}).items()) + list((t.get("Outputs") or {}).items()):
        deps = r.get("DependsOn", [])
        for dep in (deps if isinstance(deps, list) else [deps]):
            if dep not in (t.get("Resources") or {}):
                errors.append(f"{label}: {lid}: DependsOn unknown resource '{dep}'")
        if "Condition" in r and r["Condition"] not in conditions:
            errors.append(f"{label}: {lid}: unknown condition '{r['Condition']}'")


def check_code(inputs: Inputs, errors: list[str]) -> None:
    """stack.json and the Cargo.toml router against the code (the rules on its values: infra/cdk/test)."""
    for fn in FUNCTIONS:
        for var in sorted(set(function_environment(inputs.facts, fn)) - inputs.literals):
            errors.append(f"stack.json: {fn} sets {var}, which the Rust code never reads (no \"{var}\" literal)")
    for fn in sorted(set(FUNCTIONS) - inputs.packages):
        errors.append(f"code: function {fn} is deployed but functions/{fn}/Cargo.toml does not exist")
    for fn in sorted(set(inputs.router.values()) - set(FUNCTIONS)):
        errors.append(f"Cargo.toml: router names function {fn!r}, which is not deployed")


def check_sam_build(m: _Model) -> None:
    for name, f in m.functions.items():
        meta = f["resource"].get("Metadata") or {}
        if f["resource"]["Type"] == "AWS::Serverless::Function" and (meta.get("BuildMethod"), (meta.get(
                "BuildProperties") or {}).get("Binary")) != ("rust-cargolambda", name):
            m.err(f"{name}: Metadata builds the wrong binary (want rust-cargolambda, Binary {name})")


def statements_of_role(m: _Model, role_id: str) -> list[dict]:
    out = [s for pol in ((m.resources.get(role_id) or {}).get("Properties") or {}).get("Policies") or []
           for s in (pol.get("PolicyDocument") or {}).get("Statement") or []]
    for r in resources_of_type(m.t, "AWS::IAM::Policy").values():
        if role_id in [ref_target(x) for x in r["Properties"].get("Roles") or []]:
            out += r["Properties"]["PolicyDocument"].get("Statement") or []
    return out


def strip(v: Any) -> Any:
    """A value without names, tags and statement ids (SAM names resources after the stack parameter, CDK after the
    synth-time name or its construct path; CDK tags what its custom resources own); Principal "*" as {"AWS": "*"}."""
    if isinstance(v, list):
        return [strip(x) for x in v]
    if not isinstance(v, dict):
        return v
    return {k: {"AWS": "*"} if (k, x) == ("Principal", "*") else strip(x) for k, x in v.items()
            if k not in ("Name", "Tags", "Sid")}


def summary(m: _Model) -> dict[str, Any]:
    """What both templates must say the same way, normalised (the rules it must follow: infra/cdk/test)."""
    out: dict[str, Any] = {t.removeprefix("AWS::"): sorted(json.dumps(strip(m.norm({k: r.get(k) for k in (
        "Properties", "Condition", "DeletionPolicy")})), sort_keys=True) for r in resources_of_type(m.t, t).values())
        for t in SAME_RESOURCES}
    for name, f in m.functions.items():
        p, lg_id = f["props"], ref_target((f["props"].get("LoggingConfig") or {}).get("LogGroup"))
        lg = (m.resources.get(lg_id or "") or {}).get("Properties") or {}
        role = ref_target(p.get("Role"))
        out[f"function {name}"] = {
            **{k: str(p.get(k)) for k in ("Runtime", "Architectures", "Handler", "MemorySize", "Timeout")},
            "Tracing": p.get("Tracing") or (p.get("TracingConfig") or {}).get("Mode"),
            "LoggingConfig": m.norm(p.get("LoggingConfig")),
            "log group /aws/lambda/<function>, retention": [flatten_name(lg.get("LogGroupName")) == "/aws/lambda/"
                                                           + flatten_name(p.get("FunctionName")), m.norm(lg.get("RetentionInDays"))],
            "role": sorted({(s.get("Effect"), a, json.dumps(m.norm(res))) for s in statements_of_role(m, role)
                            for a in actions_of(s) for res in (s["Resource"] if isinstance(s["Resource"], list)
                                                                else [s["Resource"]])}),
            "role's managed policies": ((m.resources.get(role or "") or {}).get("Properties") or {}).get("ManagedPolicyArns"),
            "role shared": [ref_target(g["props"].get("Role")) for g in m.functions.values()].count(role) > 1,
            "Description": p.get("Description"), "Environment": m.norm((p.get("Environment") or {}).get("Variables"))}
    out["parameters"] = {k: {p: [str(x) for x in v] if isinstance(v, list) else str(v) for p, v in s.items()}
                         for k, s in (m.t.get("Parameters") or {}).items() if k != "BootstrapVersion"}  # 5 == "5"
    out["alarms"] = {flatten_name(m.norm(r["Properties"].get("AlarmName"))).removeprefix("${AWS::StackName}-"):
                     m.norm(r["Properties"]) for r in resources_of_type(m.t, "AWS::CloudWatch::Alarm").values()}
    out["dashboard"] = [(json.loads(b["Fn::Sub"][0]), b["Fn::Sub"][1]) for b in (m.norm(r["Properties"].get(
        "DashboardBody")) for r in resources_of_type(m.t, "AWS::CloudWatch::Dashboard").values())]
    out["statements on Secrets Manager"] = sum(any(a.lower().startswith("secretsmanager:") for a in actions_of(s))
                                               for lid in resources_of_type(m.t, "AWS::IAM::Role")
                                               for s in statements_of_role(m, lid))
    for d in resources_of_type(m.t, "AWS::CloudFront::Distribution").values():
        cfg = m.norm(d["Properties"]["DistributionConfig"])
        origins = {o.pop("Id"): o for o in cfg.pop("Origins")}
        for b in [cfg.get("DefaultCacheBehavior") or {}] + (cfg.get("CacheBehaviors") or []):
            b["TargetOriginId"], _ = origins.get(b.get("TargetOriginId")), b.pop("CachedMethods", None)
        out["CloudFront"] = {k: v for k, v in cfg.items() if k != "Comment"}
    api = (m.resources.get(m.api_id or "") or {}).get("Properties") or {}
    out["DisableExecuteApiEndpoint"] = m.norm(api.get("DisableExecuteApiEndpoint"))
    out["authorizers"] = {n: {k: v for k, v in a.items() if k != "id"} for n, a in m.authorizers.items()}
    out["authorizer invoke permissions"] = [m.norm(r["Properties"]) for r in resources_of_type(
        m.t, "AWS::Lambda::Permission").values() if str(m.norm(r["Properties"].get("FunctionName"))).startswith(
        "<fn:authorizer>")]
    out["route authorization"] = {" ".join(k): v for k, v in m.route_auth.items()}
    out["stage settings"] = m.stage_settings()
    for section in ("Conditions", "Rules"):
        out.update({f"{section[:-1].lower()} {k}": v for k, v in (m.t.get(section) or {}).items()
                    if k != "CheckBootstrapVersion"})
    return out


def differences(a: Any, b: Any, path: str) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in differences(a.get(k), b.get(k), f"{path}/{k}")]
    return [] if json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) else [f"{path[1:]} differs: SAM {a}, CDK {b}"]


def compare(sam: _Model, cdk: _Model, inputs: Inputs, errors: list[str]) -> None:
    for label, m in (("SAM", sam), ("CDK", cdk)):
        for key in sorted(set(inputs.router) | set(m.routes)):
            want, got = inputs.router.get(key), m.routes.get(key)
            if want is None and key not in DEPLOYED_ONLY_ROUTES:
                errors.append(f"{label}: route {key[0]} {key[1]} -> {got} is not in the Cargo.toml watch router")
            elif want and got is None:
                errors.append(f"{label}: route {key[0]} {key[1]} (-> {want} in Cargo.toml) is missing")
            elif want and want != got:
                errors.append(f"{label}: route {key[0]} {key[1]} goes to {got}, Cargo.toml says {want}")
    for key in sorted(set(sam.routes) ^ set(cdk.routes)):
        errors.append(f"route {key[0]} {key[1]} exists only in {'SAM' if key in sam.routes else 'CDK'}")
    errors += differences(summary(sam), summary(cdk), "")


def run_checks(sam_t: dict, cdk_t: dict, inputs: Inputs) -> list[str]:
    errors: list[str] = []
    check_code(inputs, errors)
    check_refs("SAM", sam_t, errors)
    check_refs("CDK", cdk_t, errors)
    sam, cdk = Model("SAM", sam_t, errors), Model("CDK", cdk_t, errors)
    check_sam_build(sam)
    compare(sam, cdk, inputs, errors)
    return errors


DEL = object()


def mutate(doc: Any, path: str, value: Any) -> None:
    """Set (or with DEL remove) what a path "A|B|0|{Type~text}" names; {Type~text}: the resource of that type
    whose JSON holds text."""
    *parents, last = path.split("|")
    def key(node: Any, seg: str) -> Any:  # noqa: E306
        if seg.startswith("{"):
            rtype, _, text = seg[1:-1].partition("~")
            return next(k for k, v in node.items() if v.get("Type") == rtype and text in json.dumps(v))
        return int(seg) if isinstance(node, list) else seg
    for seg in parents:
        doc = doc[key(doc, seg)]
    k = key(doc, last)
    doc.pop(k) if value is DEL else doc.append(value) if k == len(doc) else doc.__setitem__(k, value)


FN, ROUTE, R = "Resources|{AWS::Lambda::Function~-%s\"}|Properties|", "Resources|{AWS::ApiGatewayV2::Route~%s\"}", "Resources|"
AUTH, SECURITY = R + "HttpApi|Properties|Auth|Authorizers|M2MAuthorizer|", "|Properties|ResponseHeadersPolicyConfig|SecurityHeadersConfig"
MUTANTS = [  # title, expected error fragment, s(AM) / c(DK) / i(nputs), path or function, value
    ("SAM token runtime provided.al2", "function token/Runtime", "s", R + "TokenFunction|Properties|Runtime", "provided.al2"),
    ("SAM user routes removed", "missing", "s", R + "UserFunction|Properties|Events", DEL),
    ("SAM protected preflight removed", "OPTIONS /api/protected", "s", R + "ProtectedFunction|Properties|Events|ProtectedPreflight", DEL),
    ("SAM dangling !Ref in an environment", "neither a parameter", "s", R + "UserFunction|Properties|Environment|Variables|JWT_AUDIENCE",
     {"Ref": "JwtAudiance"}),
    ("SAM dangling !GetAtt role", "neither a parameter", "s", R + "AdminFunction|Properties|Role", {"Fn::GetAtt": ["NoRole", "Arn"]}),
    ("SAM dangling ${} in a Sub", "neither a parameter", "s", R + "TokenFunction|Properties|FunctionName", {"Fn::Sub": "${StackNam}-token"}),
    ("SAM wrong Binary", "wrong binary", "s", R + "UserFunction|Metadata|BuildProperties|Binary", "admin"),
    ("SAM authorizer role may read the secret", "function authorizer/role", "s", R + "AuthorizerRole|Properties|Policies|2",
     {"PolicyName": "x", "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                                                           "Resource": {"Ref": "DescopeSecret"}}]}}),
    ("SAM whoami role without X-Ray", "function whoami/role", "s", R + "WhoamiRole|Properties|Policies|1", DEL),
    ("SAM tracing off", "Tracing differs", "s", "Globals|Function|Tracing", DEL),
    ("SAM log group without retention", "retention", "s", R + "UserLogGroup|Properties|RetentionInDays", DEL),
    ("SAM bucket public", "S3::Bucket differs", "s", R + "SiteBucket|Properties|PublicAccessBlockConfiguration|RestrictPublicBuckets", False),
    ("SAM bucket without the TLS-only Deny", "S3::BucketPolicy", "s", R + "SiteBucketPolicy|Properties|PolicyDocument|Statement|0", DEL),
    ("SAM API cache policy caching for an hour", "CachePolicy differs", "s", R + "ApiCachePolicy|Properties|CachePolicyConfig|DefaultTTL", 3600),
    ("SAM oidc secret in the Descope shape", "Secret differs", "s", R + "DescopeSecret|Properties|SecretString|Fn::If|1",
     '{"projectId":"","accessKey":""}'),
    ("SAM origin request policy adding x-forwarded-proto", "OriginRequestPolicy differs", "s",
     R + "ApiOriginRequestPolicy|Properties|OriginRequestPolicyConfig|HeadersConfig|Headers|4", "x-forwarded-proto"),
    ("SAM CSP without the page's API origin", "ResponseHeadersPolicy differs", "s",
     R + "SecurityHeadersPolicy" + SECURITY + "|ContentSecurityPolicy|ContentSecurityPolicy", "default-src 'self'"),
    ("SAM whoami route without the authorizer", "route authorization", "s", R + "WhoamiFunction|Properties|Events|Whoami|Properties|Auth", DEL),
    ("SAM authorizer cache key without the route", "routeKey", "s", AUTH + "Identity|Context", DEL),
    ("SAM authorizer permission for every API route", "authorizer invoke permissions", "s",
     R + "AuthorizerInvokePermission|Properties|SourceArn", {"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*"}),
    ("SAM token route throttled like the protected ones", "stage settings", "s", R + "HttpApi|Properties|RouteSettings|POST /m2m/token", DEL),
    ("SAM execute-api always disabled", "DisableExecuteApiEndpoint", "s", R + "HttpApi|Properties|DisableExecuteApiEndpoint", True),
    ("SAM CloudFront always on execute-api", "CloudFront/CacheBehaviors", "s", R + "Distribution|Properties|DistributionConfig|Origins|1|DomainName",
     {"Fn::Sub": "${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}),
    ("SAM alarm without OK notifications", "alarms/token-errors", "s", R + "TokenErrorsAlarm|Properties|OKActions", DEL),
    ("SAM dashboard body edited", "dashboard", "s", R + "Dashboard|Properties|DashboardBody|Fn::Sub|0", '{"widgets": []}'),
    ("SAM parameter default changed", "parameters/JwksMaxStaleSeconds", "s", "Parameters|JwksMaxStaleSeconds|Default", 60),
    ("CDK token runtime provided.al2", "function token/Runtime", "c", FN % "token" + "Runtime", "provided.al2"),
    ("CDK admin route removed", "missing", "c", ROUTE % "POST /api/admin", DEL),
    ("CDK IAM route without IAM", "route authorization", "c", ROUTE % "POST /m2m/token/iam" + "|Properties|AuthorizationType", "NONE"),
    ("CDK environment value differs", "ALLOWED_PROJECT_IDS", "c", FN % "token" + "Environment|Variables|ALLOWED_PROJECT_IDS", "P2other"),
    ("CDK authorizer TTL literal", "M2MAuthorizer/ttl", "c", R + "{AWS::ApiGatewayV2::Authorizer}|Properties|AuthorizerResultTtlInSeconds", 3600),
    ("CDK alarm threshold changed", "protected-errors", "c", R + "{AWS::CloudWatch::Alarm~-protected-errors\"}|Properties|Threshold", 5),
    ("CDK /m2m/* without POST", "CloudFront/CacheBehaviors", "c",
     R + "{AWS::CloudFront::Distribution}|Properties|DistributionConfig|CacheBehaviors|0|AllowedMethods", ["GET", "HEAD"]),
    ("CDK condition changed", "condition HasApiDomain", "c", "Conditions|HasApiDomain", {"Fn::Equals": [{"Ref": "ApiDomainName"}, "x"]}),
    ("stack.json: a variable the code does not read", "never reads", "i",
     lambda i: i.facts["functions"]["admin"]["environment"].append({"JWT_AUDIENCES": "x"}), None),
    ("Cargo.toml route the templates lack", "is missing", "i", lambda i: i.router.__setitem__(("POST", "/api/extra"), "protected"), None),
    ("Cargo.toml routes the IAM route elsewhere", "Cargo.toml says", "i",
     lambda i: i.router.__setitem__(("POST", "/m2m/token/iam"), "protected"), None),
    ("code stops reading CORS_ALLOWED_ORIGINS", "never reads", "i", lambda i: i.literals.discard("CORS_ALLOWED_ORIGINS"), None),
    ("a deployed function without its package", "functions/token/Cargo.toml", "i", lambda i: i.packages.discard("token"), None),
]


def self_test(sam_t: dict, cdk_t: dict, inputs: Inputs) -> list[str]:
    """Every mutant must ADD an error containing the expected fragment (errors of the real inputs do not count)."""
    baseline, failures = set(run_checks(sam_t, cdk_t, inputs)), []
    for title, fragment, target, path, value in MUTANTS:
        s, c, i = copy.deepcopy(sam_t), copy.deepcopy(cdk_t), inputs.copy()
        try:
            path(i) if target == "i" else mutate(s if target == "s" else c, path, value)
        except Exception as e:  # the mutation no longer applies: the self-test needs updating
            failures.append(f"self-test: mutant '{title}' could not be applied: {e!r}")
            continue
        new = [e for e in run_checks(s, c, i) if e not in baseline]
        if any(fragment.lower() in e.lower() for e in new):
            print(f"  ok   mutant detected: {title}")
        else:
            failures.append(f"self-test: mutant '{title}' not detected by the expected check ('{fragment}'): {new[:3]}")
    print(f"  {len(MUTANTS) - len(failures)}/{len(MUTANTS)} mutants detected")
    return failures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sam", required=True, help="the SAM template (infra/template.yaml)")
    ap.add_argument("--cdk", required=True, help="the CDK synth output (<outdir>/<Stack>.template.json)")
    ap.add_argument("--repo", required=True, help="the repository root (Cargo.toml, shared/*/src, infra/)")
    ap.add_argument("--self-test", action="store_true", help="also check that broken copies are caught")
    args = ap.parse_args()
    sam_t, cdk_t = load_sam(args.sam), load_json(args.cdk)
    infra = os.path.join(args.repo, "infra")
    inputs = Inputs(load_router(os.path.join(args.repo, "Cargo.toml")), env_literals(args.repo),
                    function_packages(args.repo), load_facts(infra))
    print(f"  routes in Cargo.toml (deployed): {', '.join(f'{m} {p}' for m, p in sorted(inputs.router))}")
    print(f"  variables the code reads: {', '.join(sorted(inputs.literals)) or '(none found)'}")
    errors = run_checks(sam_t, cdk_t, inputs)
    for e in errors:
        print(f"  FAIL {e}")
    if not errors:
        print("  ok   SAM and CDK agree with each other, with Cargo.toml and with the code")
    failures = errors + (self_test(sam_t, cdk_t, inputs) if args.self_test else [])
    for f in failures[len(errors):]:
        print(f"  FAIL {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
