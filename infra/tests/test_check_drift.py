#!/usr/bin/env python3
"""The drift check's own test: each mutant (a copy of a template or of the other inputs, broken one way) must
ADD an error of the expected kind to what check_drift.py finds in the real inputs.

Usage: test_check_drift.py --sam T.yaml --cdk Stack.template.json --repo .  (check_drift.py's arguments)
"""
from __future__ import annotations

import copy, json, os, sys  # noqa: E401
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_drift import Inputs, load, run_checks  # noqa: E402

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
        s, c = copy.deepcopy(sam_t), copy.deepcopy(cdk_t)
        i = Inputs(dict(inputs.router), set(inputs.literals), set(inputs.packages), copy.deepcopy(inputs.facts))
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


if __name__ == "__main__":
    sam_t, cdk_t, inputs = load()
    failures = self_test(sam_t, cdk_t, inputs)
    for f in failures:
        print(f"  FAIL {f}")
    sys.exit(1 if failures else 0)
