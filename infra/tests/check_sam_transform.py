#!/usr/bin/env python3
"""What the SAM template becomes after SAM's own transform (aws-sam-translator, offline), checked where the drift
check can only read SAM's shorthand: the HTTP API's OpenAPI body that SAM generates.

  * every route, its function and its authorization: none, AWS_IAM (SigV4) for POST /m2m/token/iam, the Lambda
    authorizer for GET /api/whoami; no API Gateway CORS (the functions answer preflights);
  * the authorizer as API Gateway receives it: REQUEST, payload 2.0, simple responses, identity sources the
    Authorization header AND the route key, the TTL parameter, the authorizer function;
  * execute-api disabled exactly with the custom domain; the token routes' stricter stage settings;
  * one invoke permission on the authorizer (the template's own, scoped to this API's authorizers), none added by SAM.

Usage: check_sam_transform.py infra/template.yaml    (needs AWS_DEFAULT_REGION; no credentials, no network)
"""
from __future__ import annotations

import sys

from drift_model import load_sam, refs_in

EXPECTED = {  # (method, path) -> (function logical id, authorization)
    ("post", "/m2m/token"): ("TokenFunction", None),
    ("options", "/m2m/token"): ("TokenFunction", None),
    ("post", "/m2m/token/iam"): ("TokenFunction", "AWS_IAM"),
    ("post", "/api/protected"): ("ProtectedFunction", None),
    ("options", "/api/protected"): ("ProtectedFunction", None),
    ("post", "/api/user"): ("UserFunction", None),
    ("options", "/api/user"): ("UserFunction", None),
    ("post", "/api/admin"): ("AdminFunction", None),
    ("options", "/api/admin"): ("AdminFunction", None),
    ("get", "/api/whoami"): ("WhoamiFunction", "M2MAuthorizer"),
}


class NoManagedPolicies:
    """The template uses no managed policies, so the translator needs no IAM lookup."""

    def load(self) -> dict:
        return {}


def transformed(path: str) -> dict:
    from samtranslator.translator.transform import transform

    template = load_sam(path)
    # The transform wants an S3 CodeUri; the code location does not matter here.
    template["Globals"]["Function"]["CodeUri"] = "s3://bucket/code.zip"
    return transform(template, {}, NoManagedPolicies())


def check(t: dict) -> list[str]:
    errors: list[str] = []
    res = t["Resources"]
    api = res.get("HttpApi", {})
    if api.get("Type") != "AWS::ApiGatewayV2::Api":
        return [f"HttpApi became {api.get('Type')}, not AWS::ApiGatewayV2::Api"]
    body = api["Properties"]["Body"]
    routes = {}
    for path, ops in body.get("paths", {}).items():
        for method, op in ops.items():
            if method.startswith("x-"):
                continue
            security = [name for s in op.get("security") or [] for name in s]
            uri = (op.get("x-amazon-apigateway-integration") or {}).get("uri")
            fn = next((r for r in refs_in(uri) if res.get(r, {}).get("Type") == "AWS::Lambda::Function"), None)
            routes[(method, path)] = (fn, security[0] if security else None)
            if (op.get("x-amazon-apigateway-integration") or {}).get("payloadFormatVersion") != "2.0":
                errors.append(f"{method.upper()} {path}: payload format is not 2.0")
    for key in sorted(set(EXPECTED) | set(routes)):
        if routes.get(key) != EXPECTED.get(key):
            errors.append(f"{key[0].upper()} {key[1]}: (function, authorization) {routes.get(key)}, "
                          f"want {EXPECTED.get(key)}")
    if "x-amazon-apigateway-cors" in body:
        errors.append("API Gateway CORS is configured: it would answer preflights without the functions' allow list")
    schemes = (body.get("components") or {}).get("securitySchemes") or {}
    if (schemes.get("AWS_IAM") or {}).get("x-amazon-apigateway-authtype") != "awsSigv4":
        errors.append(f"AWS_IAM is not SigV4: {schemes.get('AWS_IAM')}")
    auth = (schemes.get("M2MAuthorizer") or {}).get("x-amazon-apigateway-authorizer") or {}
    want = {"type": "request", "authorizerPayloadFormatVersion": "2.0", "enableSimpleResponses": True,
            "identitySource": ["$request.header.Authorization", "$context.routeKey", "$context.httpMethod",
                               "$context.path"],
            "authorizerResultTtlInSeconds": {"Ref": "AuthorizerCacheSeconds"}}
    for k, v in want.items():
        if auth.get(k) != v:
            errors.append(f"authorizer {k}: {auth.get(k)!r}, want {v!r}")
    if "AuthorizerFunction" not in refs_in(auth.get("authorizerUri")) or "authorizerCredentials" in auth:
        errors.append("the authorizer does not invoke AuthorizerFunction directly")
    endpoint = [s.get("x-amazon-apigateway-endpoint-configuration") for s in body.get("servers") or []]
    if endpoint != [{"disableExecuteApiEndpoint": {"Fn::If": ["HasApiDomain", True, False]}}]:
        errors.append(f"execute-api endpoint configuration {endpoint}, want disabled exactly with HasApiDomain")
    stages = [r for r in res.values() if r["Type"] == "AWS::ApiGatewayV2::Stage"]
    settings = (stages[0]["Properties"].get("RouteSettings") if len(stages) == 1 else None) or {}
    for key in ("POST /m2m/token", "POST /m2m/token/iam"):
        if settings.get(key) != {"ThrottlingRateLimit": {"Ref": "TokenThrottlingRateLimit"},
                                 "ThrottlingBurstLimit": {"Ref": "TokenThrottlingBurstLimit"}}:
            errors.append(f"stage route settings for {key}: {settings.get(key)}")
    perms = [lid for lid, r in res.items() if r["Type"] == "AWS::Lambda::Permission"
             and "AuthorizerFunction" in refs_in(r["Properties"].get("FunctionName"))]
    if perms != ["AuthorizerInvokePermission"]:
        errors.append(f"invoke permissions on the authorizer: {perms}, want only AuthorizerInvokePermission")
    return errors


def main() -> int:
    from samtranslator.model.exceptions import InvalidDocumentException

    try:
        errors = check(transformed(sys.argv[1]))
    except InvalidDocumentException as e:
        errors = [f"SAM refuses the template: {'; '.join(str(c) for c in e.causes)}"]
    for e in errors:
        print(f"  FAIL {e}")
    if not errors:
        print(f"  ok   SAM's transform: {len(EXPECTED)} routes with their authorization, the authorizer, the endpoint, "
              "throttling and permissions as intended")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
