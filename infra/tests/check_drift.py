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

Its own test, test_check_drift.py, mutates copies (runtime changed, route removed, a variable added, ...) and fails
unless each adds an error of the expected kind. Usage: check_drift.py --sam T.yaml --cdk Stack.template.json --repo .
"""
from __future__ import annotations

import argparse, json, os, sys  # noqa: E401
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


def load(argv: list[str] | None = None) -> tuple[dict, dict, Inputs]:
    """The two templates and the other inputs, from the command line (shared with test_check_drift.py)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sam", required=True, help="the SAM template (infra/template.yaml)")
    ap.add_argument("--cdk", required=True, help="the CDK synth output (<outdir>/<Stack>.template.json)")
    ap.add_argument("--repo", required=True, help="the repository root (Cargo.toml, shared/*/src, infra/)")
    args = ap.parse_args(argv)
    inputs = Inputs(load_router(os.path.join(args.repo, "Cargo.toml")), env_literals(args.repo),
                    function_packages(args.repo), load_facts(os.path.join(args.repo, "infra")))
    return load_sam(args.sam), load_json(args.cdk), inputs


def main() -> int:
    sam_t, cdk_t, inputs = load()
    print(f"  routes in Cargo.toml (deployed): {', '.join(f'{m} {p}' for m, p in sorted(inputs.router))}")
    print(f"  variables the code reads: {', '.join(sorted(inputs.literals)) or '(none found)'}")
    errors = run_checks(sam_t, cdk_t, inputs)
    for e in errors:
        print(f"  FAIL {e}")
    if not errors:
        print("  ok   SAM and CDK agree with each other, with Cargo.toml and with the code")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
