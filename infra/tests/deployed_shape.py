#!/usr/bin/env python3
"""The deployed shape: the release binaries, configured exactly as each template configures them, fed events
as API Gateway sends them after CloudFront's header policy.

For each template (the SAM template, and the CDK synth output when given) and each function, the function's
environment and logging settings are read from the template with every parameter at its default (only the
project id and the Descope base URL point at the local issuer, and the secret the stack creates lives in moto
server, filled as infra/README.md tells users to fill it). The binary runs under a Lambda Runtime API served
here (lambda_harness.py), one warm process for many events, and proves:

  * a caller without an access key gets no token on the public route (401), whatever else it sends;
  * a caller API Gateway authenticated with IAM (SigV4) gets a token for the stack's own key on its route;
  * the web page's request (the configured project id and a key the person typed) gets a token;
  * hostile header values get an answer in the contract's error shape, and the same process answers the next
    request (no panic takes the container down);
  * at the most verbose log level nothing the function prints holds an access key, the secret or a token;
  * for each AuthProvider (descope; oidc with its parameters at oidc-provider, tests/interop/oidc-provider.mjs),
    the secret the template creates, filled as infra/README.md says, gets that provider's token on the IAM
    route and the user function accepts it; unfilled or in the other provider's shape it is a generic 500
    (secret_shape.py).

  deployed_shape.py --zip-dir target/lambda-x86_64 --sam infra/template.yaml [--cdk synth.template.json]
                    --issuer target/debug/descope-local [--oidc-provider tests/interop/oidc-provider.mjs]
                    [--readme infra/README.md]

Prints one line per check and ends with "N passed, N failed".
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_drift import load_json, load_sam  # noqa: E402
from lambda_harness import (  # noqa: E402
    ACCOUNT, STACK_KEY_PRINCIPALS, Invocation, LambdaProcess, TemplateValues, function_ids, http_api_event,
    iam_identity, logging_config, template_environment, unpack_bootstrap,
)
from observability_checks import no_aws_credentials, observability_checks  # noqa: E402
from secret_shape import secret_shape_checks, template_secret_string  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROJECT_ID = "P2LocalDevProject"
STACK_KEY = "dev-admin-key"  # the stack's own key, in the secret
PAGE_KEY = "dev-reader-key"  # what a person types into the page
SECRETS = [STACK_KEY, PAGE_KEY, "dev-nogrants-key"]


def session(role: str, name: str = "i-0abc") -> dict:
    """The IAM identity of a session of `role` (an assumed-role ARN carries no role path)."""
    return iam_identity(f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{name}")
HOSTILE_HEADERS = [
    {"x-forwarded-proto": "evil, https"},
    {"x-forwarded-proto": "a b"},
    {"x-forwarded-proto": "1"},
    {"host": "bad host"},
    {"host": "a:b:c"},
    {"x-forwarded-proto": "https", "host": "[::1"},
]
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
# What a browser on the deployed page sends with its token request.
BROWSER_HEADERS = {
    "accept": "*/*", "accept-encoding": "gzip, deflate, br", "accept-language": "en-GB,en;q=0.9",
    "content-type": "application/json", "origin": "https://d111111abcdef8.cloudfront.net",
    "referer": "https://d111111abcdef8.cloudfront.net/", "sec-fetch-mode": "cors", "sec-fetch-site": "same-origin",
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0", "cookie": "session=unrelated",
}
# Added by CloudFront to what it forwards to the origin.
CLOUDFRONT_ADDED = {"via": "2.0 0123456789abcdef.cloudfront.net (CloudFront)", "x-amz-cf-id": "Abc-cf-id=="}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, what: str, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early ({proc.returncode})")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port} within {seconds} s")


class Services:
    """The local issuer and moto server, on free loopback ports, stopped on exit."""

    def __init__(self, issuer_binary: str, moto_binary: str) -> None:
        self.procs: list[subprocess.Popen] = []
        issuer = subprocess.Popen([issuer_binary, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        self.procs.append(issuer)
        assert issuer.stdout is not None
        line = issuer.stdout.readline().decode()
        if "listening on " not in line:
            raise RuntimeError(f"the local issuer did not start: {line!r}")
        self.issuer_url = line.split("listening on ", 1)[1].split()[0]
        port = free_port()
        moto = subprocess.Popen([moto_binary, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(moto)
        wait_for_port(port, moto, "moto_server")
        self.moto_url = f"http://127.0.0.1:{port}"

    def secrets_manager(self):
        import boto3  # from the infra virtual environment (SAM CLI depends on it)
        return boto3.client("secretsmanager", endpoint_url=self.moto_url, region_name="us-east-1",
                            aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="deployed-shape")

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def forwarded_headers(template: dict, values: TemplateValues, path_pattern: str) -> Callable[[dict], dict]:
    """What CloudFront's behaviour for `path_pattern` forwards of the viewer's headers to the API."""
    distribution = next((r for r in (template.get("Resources") or {}).values()
                         if r.get("Type") == "AWS::CloudFront::Distribution"), None)
    if distribution is None:
        return lambda headers: headers
    config = values.value(distribution["Properties"]["DistributionConfig"])
    behaviour = next(b for b in config.get("CacheBehaviors", []) if b.get("PathPattern") == path_pattern)
    resources = template.get("Resources") or {}

    def policy_headers(policy_id, config_key: str, headers_key: str) -> tuple[bool, set[str]]:
        # A resource of this template (resolved to "<LogicalId>") or a managed policy id.
        if isinstance(policy_id, str) and policy_id.startswith("<"):
            resource = resources[policy_id.strip("<>")]
            policy = values.value(resource["Properties"])
            cfg = next(iter(v for k, v in policy.items() if k.endswith("Config")))
            headers = cfg.get(headers_key) or {}
            behavior = headers.get("HeaderBehavior", "none")
            if behavior == "allViewer":
                return True, set()
            if behavior in ("whitelist", "allViewerAndWhitelistCloudFront"):
                return behavior != "whitelist", {h.lower() for h in headers.get("Headers", [])}
            return False, set()
        return policy_id == ALL_VIEWER_EXCEPT_HOST, set()

    all_viewer, names = policy_headers(behaviour.get("OriginRequestPolicyId"), "OriginRequestPolicyConfig",
                                       "HeadersConfig")
    _, cache_names = policy_headers(behaviour.get("CachePolicyId"), "CachePolicyConfig",
                                    "HeadersConfig") if str(behaviour.get("CachePolicyId", "")).startswith("<") \
        else (False, set())
    if str(behaviour.get("CachePolicyId", "")).startswith("<"):
        policy = values.value(resources[behaviour["CachePolicyId"].strip("<>")]["Properties"])
        keys = policy["CachePolicyConfig"].get("ParametersInCacheKeyAndForwardedToOrigin") or {}
        cache_names = {h.lower() for h in (keys.get("HeadersConfig") or {}).get("Headers", [])}
    allowed = names | cache_names

    def apply(headers: dict) -> dict:
        kept = {k: v for k, v in headers.items() if k != "host" and (all_viewer or k in allowed)}
        return {**kept, **CLOUDFRONT_ADDED}

    return apply


class Stack:
    """One template's functions, started lazily, each a warm process."""

    def __init__(self, label: str, template: dict, zips: str, work: str, services: Services,
                 secret_arn: str, verbose_logs: bool, log_level: str | None = None,
                 parameters: dict[str, str] | None = None) -> None:
        self.label = label
        self.template = template
        # The parameters a user deploys with (default: Descope's, the project and base URL at the local issuer).
        params = parameters or {"ProjectId": PROJECT_ID, "DescopeBaseUrl": services.issuer_url,
                                "StackKeyPrincipals": STACK_KEY_PRINCIPALS}
        missing = set(params) - set(template.get("Parameters") or {})
        if missing:
            raise AssertionError(f"{label}: no parameter {sorted(missing)}")

        def resource(lid: str, r: dict) -> str:
            if r.get("Type") == "AWS::SecretsManager::Secret":
                return secret_arn
            return f"<{lid}>"

        self.values = TemplateValues(template, params, resource)
        self.ids = function_ids(template, self.values)
        self.zips, self.work, self.services = zips, work, services
        self.verbose_logs = verbose_logs
        # An application log level an operator set instead of the template's (None: the template's).
        self.log_level = log_level
        self.processes: dict[str, LambdaProcess] = {}
        self.via_cloudfront = forwarded_headers(template, self.values, "/m2m/*")
        self.via_cloudfront_api = forwarded_headers(template, self.values, "/api/*")

    def environment(self, name: str) -> dict[str, str]:
        env = template_environment(self.template, self.ids[name], self.values)
        env["AWS_ENDPOINT_URL"] = self.services.moto_url
        return env

    def function(self, name: str) -> LambdaProcess:
        if name not in self.processes:
            binary = unpack_bootstrap(os.path.join(self.zips, name, "bootstrap.zip"),
                                      os.path.join(self.work, self.label, name))
            options = logging_config(self.template, self.ids[name], self.values)
            env = self.environment(name)
            if self.verbose_logs:
                # The most verbose setting an operator can choose, through either control.
                options["log_level"] = "TRACE"
                env["RUST_LOG"] = "trace"
            elif self.log_level:
                options["log_level"] = self.log_level
            self.processes[name] = LambdaProcess(binary, f"DescopeM2M-{name}", env, **options)
        return self.processes[name]

    def close(self) -> None:
        for process in self.processes.values():
            process.close()


def token_event(stack: Stack, body: dict | str | None, headers: dict | None = None, route: str = "/m2m/token",
                iam: dict | None = None, through_cloudfront: bool = True) -> dict:
    text = body if isinstance(body, str) or body is None else json.dumps(body)
    viewer = {"content-type": "application/json", **(headers or {})}
    forwarded = stack.via_cloudfront(viewer) if through_cloudfront else viewer
    return http_api_event("POST", route, forwarded, text, iam=iam)


def api_event(stack: Stack, path: str, token: str | None, headers: dict | None = None,
              through_cloudfront: bool = True) -> dict:
    viewer = dict(headers or {})
    if token is not None:
        viewer["authorization"] = f"Bearer {token}"
    forwarded = stack.via_cloudfront_api(viewer) if through_cloudfront else viewer
    return http_api_event("POST", path, forwarded, "")


def contract_error(answer: Invocation) -> None:
    assert answer.kind == "response", f"invocation error instead of an HTTP answer: {answer}"
    assert answer.headers.get("content-type", "").startswith("application/json"), answer
    body = answer.body
    assert isinstance(body, dict) and body.get("success") is False and isinstance(body.get("error"), str), answer
    assert "panicked" not in answer.raw.decode(errors="replace"), answer


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def run_checks(stack: Stack, check: Callable[[str, Callable[[], None]], None]) -> list[str]:
    """Every check against one template; returns the tokens it saw (for the log scan)."""
    tokens: list[str] = []
    label = stack.label

    def anonymous() -> None:
        token = stack.function("token")
        for body in [None, "", {}, {"tenant": "T2Acme"}, {"scopes": ["admin"]}, {"projectId": PROJECT_ID}]:
            answer = token.invoke(token_event(stack, body))
            assert answer.status in (400, 401), f"{body!r}: status {answer.status}: {answer}"
            contract_error(answer)
            assert "jwt" not in answer.body, f"{body!r}: a token was issued"
        answer = token.invoke(token_event(stack, {}))
        assert answer.status == 401 and answer.body["error"] == "An access key is required", answer
        # The IAM route's event without an IAM identity (a misrouted or forged request) is public too.
        answer = token.invoke(token_event(stack, {}, route="/m2m/token/iam"))
        assert answer.status == 401, answer
    check(f"{label}: a caller without an access key gets no token (401)", anonymous)

    def iam_caller() -> None:
        token = stack.function("token")
        answer = token.invoke(token_event(stack, {"scopes": ["admin"]}, route="/m2m/token/iam", iam=iam_identity(),
                                          through_cloudfront=False))
        assert answer.status == 200, answer
        body = answer.body
        claims = jwt_claims(body["jwt"])
        assert "admin" in claims.get("roles", []) and body["scopes"] == ["admin"], body
        tokens.append(body["jwt"])
    check(f"{label}: an IAM-authenticated caller gets the stack key's token", iam_caller)

    def principals() -> None:
        token = stack.function("token")

        def iam(body: dict, identity: dict, route: str = "/m2m/token/iam") -> Invocation:
            return token.invoke(token_event(stack, body, route=route, iam=identity, through_cloudfront=False))
        # Unlisted: another role, a listed role's name in another account, a user: 403 and no exchange.
        exchanged = token.quiet_output().count('"token exchanged"')
        for identity in [session("someone-else"), iam_identity(f"arn:aws:sts::210987654321:assumed-role/reporting-job/x"),
                         iam_identity(f"arn:aws:iam::{ACCOUNT}:user/reporting-job")]:
            answer = iam({}, identity)
            assert answer.status == 403, answer
            assert answer.body["error"] == "This IAM principal may not use the stack's key", answer
            contract_error(answer)
        assert token.quiet_output().count('"token exchanged"') == exchanged, "an unlisted principal caused an exchange"
        assert "principal_not_allowed" in token.output(), "the refusal is logged and counted under its outcome"
        # A session of role team/readers (its ARN names no path): narrowed to read:data.
        answer = iam({}, session("readers"))
        assert answer.status == 200, answer
        assert answer.body["scopes"] == ["read:data"], answer.body
        assert jwt_claims(answer.body["jwt"])["nsec"]["scope"] == "read:data", answer.body
        tokens.append(answer.body["jwt"])
        answer = iam({"scopes": ["admin"]}, session("readers"))
        assert answer.status == 403, answer
        assert answer.body["error"] == "Scope not granted to this IAM principal: 'admin'", answer
        # An IAM identity that arrives with another route is no IAM caller.
        answer = iam({}, session("reporting-job"), route="/m2m/token")
        assert answer.status == 401 and answer.body["error"] == "An access key is required", answer
    check(f"{label}: STACK_KEY_PRINCIPALS: listed, unlisted, assumed-role, narrowed, IAM context elsewhere",
          principals)

    def one_exchange_per_lifetime() -> None:
        token = stack.function("token")
        before = token.quiet_output().count('"token exchanged"')
        jwts = set()
        for call in range(100):
            identity = session("reporting-job", f"task-{call % 10}")
            answer = token.invoke(token_event(stack, {"scopes": ["read:data"]}, route="/m2m/token/iam", iam=identity,
                                              through_cloudfront=False))
            assert answer.status == 200, answer
            jwts.add(answer.body["jwt"])
        exchanges = token.quiet_output().count('"token exchanged"') - before
        assert exchanges == 1 and len(jwts) == 1, f"100 calls from 10 principals: {exchanges} exchanges, {len(jwts)} tokens"
        tokens.extend(jwts)
    check(f"{label}: 100 IAM calls from 10 principals asking the same grants cost one exchange",
          one_exchange_per_lifetime)

    def malformed_events() -> None:
        token = stack.function("token")
        for mutate in [lambda e: e.__setitem__("rawQueryString", 'a="b"'),
                       lambda e: e.__setitem__("rawQueryString", "a=<b> c"),
                       lambda e: e.__setitem__("rawQueryString", "a=\x7f"),
                       lambda e: e.update({"isBase64Encoded": True, "body": "not base64!"})]:
            event = token_event(stack, {"accessKey": PAGE_KEY})
            mutate(event)
            seen = len(token.quiet_output())
            answer = token.invoke(event)
            assert answer.status == 400, answer
            contract_error(answer)
            new_lines = token.quiet_output()[seen:]
            assert new_lines.count('"message":"request"') == 1, f"the 400 has its request line: {new_lines[-3000:]}"
            assert '"error":"malformed_request"' in new_lines, new_lines[-2000:]
        # More headers than an HTTP request can hold (a direct invocation only): that invocation fails alone.
        event = token_event(stack, {"accessKey": PAGE_KEY})
        event["headers"].update({f"x-h{i}": "v" for i in range(33_000)})
        answer = token.invoke(event)
        assert answer.kind == "error", answer
        assert token.alive(), "the process died"
        follow_up = token.invoke(token_event(stack, {"accessKey": PAGE_KEY}))
        assert follow_up.status == 200, follow_up
    check(f"{label}: malformed events are a counted 400; 33,000 headers fail that invocation alone", malformed_events)

    def page_request() -> None:
        token = stack.function("token")
        body = {"projectId": PROJECT_ID, "accessKey": PAGE_KEY, "scopes": ["read:data"]}
        answer = token.invoke(token_event(stack, body, BROWSER_HEADERS))
        assert answer.status == 200, answer
        assert answer.headers.get("cache-control") == "no-store", answer.headers
        jwt = answer.body["jwt"]
        tokens.append(jwt)
        user = stack.function("user").invoke(api_event(stack, "/api/user", jwt, BROWSER_HEADERS))
        assert user.status == 200, user
        admin = stack.function("admin").invoke(api_event(stack, "/api/admin", jwt, BROWSER_HEADERS))
        assert admin.status == 403 and 'insufficient_scope' in admin.headers.get("www-authenticate", ""), admin
        protected = stack.function("protected").invoke(api_event(stack, "/api/protected", jwt))
        assert protected.status == 200, protected
        # Another project: refused with the templates' defaults (overrides off), and no token.
        other = token.invoke(token_event(stack, {"projectId": "P2SomeoneElse", "accessKey": PAGE_KEY}))
        assert other.status == 400 and "jwt" not in (other.body or {}), other
    check(f"{label}: the page's request (configured project id + typed key) gets a token", page_request)

    def hostile_headers() -> None:
        jwt = tokens[-1] if tokens else None
        for name, path in [("token", "/m2m/token"), ("user", "/api/user")]:
            function = stack.function(name)
            for hostile in HOSTILE_HEADERS:
                if name == "token":
                    event = token_event(stack, {"accessKey": PAGE_KEY}, hostile, through_cloudfront=False)
                else:
                    event = api_event(stack, path, jwt, hostile, through_cloudfront=False)
                answer = function.invoke(event)
                assert answer.kind == "response", f"{name} {hostile}: {answer}"
                assert answer.status in (200, 400), f"{name} {hostile}: {answer}"
                if answer.status != 200:
                    contract_error(answer)
                assert function.alive(), f"{name} died after {hostile}"
                follow_up = function.invoke(token_event(stack, {"accessKey": PAGE_KEY}) if name == "token"
                                            else api_event(stack, path, jwt))
                assert follow_up.status == 200, f"{name} after {hostile}: {follow_up}"
    check(f"{label}: hostile header values get a contract answer; the same process serves the next", hostile_headers)

    def refused_tokens() -> None:
        for name, path in [("protected", "/api/protected"), ("admin", "/api/admin")]:
            function = stack.function(name)
            for token in [None, "not-a-jwt", "a.b.c", (tokens[-1][:-4] + "AAAA") if tokens else "x.y.z"]:
                answer = function.invoke(api_event(stack, path, token))
                assert answer.status == 401, f"{name} {token!r}: {answer}"
                contract_error(answer)
    check(f"{label}: missing, malformed and forged tokens are a 401 in the contract's shape", refused_tokens)
    return tokens


def bad_cors_setting(stack: Stack, check: Callable[[str, Callable[[], None]], None]) -> None:
    """CORS_ALLOWED_ORIGINS set to what a browser origin never is: an init error naming it, no panic."""
    def refused() -> None:
        for name in ("token", "user"):
            for value in ("*", "null", "https://app.example/path"):
                binary = unpack_bootstrap(os.path.join(stack.zips, name, "bootstrap.zip"),
                                          os.path.join(stack.work, stack.label, f"{name}-cors"))
                env = {**stack.environment(name), "CORS_ALLOWED_ORIGINS": value}
                proc = subprocess.run([binary], env={**env, "PATH": os.environ.get("PATH", "")},
                                      capture_output=True, timeout=20)
                output = (proc.stdout + proc.stderr).decode(errors="replace")
                assert proc.returncode != 0, f"{name} started with CORS_ALLOWED_ORIGINS={value!r}"
                assert "CORS_ALLOWED_ORIGINS" in output and "panicked" not in output, f"{name} {value!r}: {output}"
    check(f"{stack.label}: CORS_ALLOWED_ORIGINS '*', 'null' or a path is an init error naming it", refused)


def placeholder_secret(stack: Stack, check: Callable[[str, Callable[[], None]], None]) -> None:
    """The secret as the stack creates it before anyone fills it in (an empty key)."""

    def unfilled() -> None:
        answer = stack.function("token").invoke(
            token_event(stack, {}, route="/m2m/token/iam", iam=iam_identity(), through_cloudfront=False))
        assert answer.status == 500, answer
        contract_error(answer)
        assert answer.body["error"] == "Server misconfigured; see the function's logs", answer
        # The page's request does not need the secret at all.
        page = stack.function("token").invoke(token_event(stack, {"accessKey": PAGE_KEY}, BROWSER_HEADERS))
        assert page.status == 200, page
    check(f"{stack.label}: the stack's unfilled secret is a generic 500 for IAM callers, the page still works",
          unfilled)


def scan_logs(stack: Stack, tokens: list[str], secret_string: str) -> None:
    secrets = set(SECRETS) | {secret_string}
    for token in tokens:
        secrets |= {token, token.split(".")[2], ".".join(token.split(".")[:2])}
    for name, process in stack.processes.items():
        output = process.quiet_output()
        assert output.strip(), f"{name} printed nothing at the most verbose level"
        for secret in secrets:
            assert secret not in output, f"{name}'s logs hold a secret or token ({secret[:6]}...)"
        assert "authorization" not in output.lower() or "bearer " not in output.lower(), \
            f"{name}'s logs hold an Authorization header"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zip-dir", required=True)
    ap.add_argument("--sam", required=True)
    ap.add_argument("--cdk")
    ap.add_argument("--issuer", required=True, help="the local issuer binary (descope-local)")
    ap.add_argument("--oidc-provider", default=os.path.join(REPO, "tests", "interop", "oidc-provider.mjs"),
                    help="the OIDC provider script (needs node and `npm ci --prefix tests`)")
    ap.add_argument("--readme", default=os.path.join(REPO, "infra", "README.md"), help="whose 'The secret' to follow")
    ap.add_argument("--moto", default=os.environ.get("MOTO_SERVER") or shutil.which("moto_server") or "moto_server")
    args = ap.parse_args()

    templates = [("SAM", load_sam(args.sam))]
    if args.cdk:
        templates.append(("CDK", load_json(args.cdk)))
    passed = failed = 0

    def check(title: str, fn: Callable[[], None]) -> None:
        nonlocal passed, failed
        try:
            fn()
            passed += 1
            print(f"  ok   {title}", flush=True)
        except Exception as error:  # noqa: BLE001 - every failure is reported, then the run goes on
            failed += 1
            detail = str(error) if isinstance(error, AssertionError) else traceback.format_exc()
            print(f"  FAIL {title}: {detail[:3000]}", flush=True)

    work = tempfile.mkdtemp(prefix="deployed-shape-")
    services = Services(args.issuer, args.moto)
    try:
        client = services.secrets_manager()
        secret_string = json.dumps({"projectId": PROJECT_ID, "accessKey": STACK_KEY})
        for label, template in templates:
            for verbose in (False, True):
                name = f"descope-m2m-{label.lower()}-{int(verbose)}"
                arn = client.create_secret(Name=name, SecretString=secret_string)["ARN"]
                run_label = f"{label}{' (TRACE logs)' if verbose else ''}"
                stack = Stack(run_label, template, args.zip_dir, work, services, arn, verbose)
                try:
                    tokens = run_checks(stack, check)
                    if verbose:
                        check(f"{run_label}: no access key, secret or token in any log line",
                              lambda: scan_logs(stack, tokens, secret_string))
                        no_aws_credentials(stack, check)
                    else:
                        level = logging_config(template, stack.ids["protected"], stack.values).get("log_level")
                        observability_checks(stack, check, level or "INFO", token_event, api_event, PAGE_KEY)
                        bad_cors_setting(stack, check)
                finally:
                    stack.close()
            # An operator raises the application log level to WARN: request lines go, metrics stay.
            arn = client.create_secret(Name=f"descope-m2m-{label.lower()}-warn", SecretString=secret_string)["ARN"]
            stack = Stack(f"{label} (WARN logs)", template, args.zip_dir, work, services, arn, False, "WARN")
            try:
                observability_checks(stack, check, "WARN", token_event, api_event, PAGE_KEY)
            finally:
                stack.close()
            # The secret exactly as the template creates it, before it is filled in.
            created = template_secret_string(template, {"ProjectId": PROJECT_ID})
            arn = client.create_secret(Name=f"descope-m2m-{label.lower()}-unfilled", SecretString=created)["ARN"]
            stack = Stack(f"{label} (unfilled secret)", template, args.zip_dir, work, services, arn, False)
            try:
                placeholder_secret(stack, check)
            finally:
                stack.close()

        # Each provider's secret as each template creates it, filled as infra/README.md says (secret_shape.py).
        def deployed(label: str, template: dict, arn: str, parameters: dict[str, str]) -> Stack:
            return Stack(label, template, args.zip_dir, work, services, arn, False, parameters=parameters)
        secret_shape_checks(templates, deployed, client, check,
                            {"url": services.issuer_url, "project_id": PROJECT_ID, "key": STACK_KEY},
                            args.oidc_provider, args.readme)
    finally:
        services.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"deployed shape: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
