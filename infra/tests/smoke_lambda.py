#!/usr/bin/env python3
"""Smoke test of built Lambda zips: runs each function's `bootstrap` against a fake Lambda Runtime API on
127.0.0.1, with the environment the SAM template gives it (parameter defaults), and checks its answers.

The same fake server stands in for Secrets Manager (AWS_ENDPOINT_URL) and for Descope (DESCOPE_BASE_URL), so
nothing leaves the machine. An arm64 zip on an x86_64 machine runs under qemu-aarch64 when it is installed
(`apt-get install qemu-user libc6-arm64-cross`); otherwise that zip is skipped.

  smoke_lambda.py --zip-dir target/lambda-arm64 --sam infra/template.yaml

Checks (docs/contract.md sections 1 and 6):
  * protected/user/admin start with the templated configuration and answer 401 with a `WWW-Authenticate:
    Bearer` challenge (`error="invalid_token"` for a malformed token) and JSON `success: false`;
  * token on the public route: no access key -> 401 without reading the secret (the stack's key is for IAM
    callers only); the caller's own key with the configured project (what the page sends) reaches Descope, whose
    401 becomes 401 without echoing the key; another project -> 400 (overrides off by default);
  * token on the IAM route (an event whose request context carries an IAM identity): reads the stack's
    credentials from the secret named by DESCOPE_SECRET_ID (GetSecretValue through AWS_ENDPOINT_URL), sends them
    to Descope and maps Descope's 401 to 401; with the placeholder secret the stack creates, a clear JSON error;
  * authorizer: a payload 2.0 authorizer event without a token -> a simple response `isAuthorized: false`.
  (whoami is not run: it answers the authorizer's context, which only API Gateway supplies.)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_drift import Model, load_sam  # noqa: E402

PROJECT_ID = "P2smokeTestProject0001"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:descope-m2m-AbCdEf"
ROUTES = {"token": "/m2m/token", "token-iam": "/m2m/token/iam", "protected": "/api/protected", "user": "/api/user",
          "admin": "/api/admin"}
# What API Gateway puts into requestContext.authorizer for a SigV4-authenticated caller (AWS_IAM route).
IAM_IDENTITY = {"iam": {"accessKey": "ASIAXAMPLEXAMPLEXAMP", "accountId": "123456789012",
                        "callerId": "AROAEXAMPLEEXAMPLE:worker", "cognitoIdentity": None, "principalOrgId": None,
                        "userArn": "arn:aws:sts::123456789012:assumed-role/worker/session",
                        "userId": "AROAEXAMPLEEXAMPLE:worker"}}


class Fake:
    """State shared with the request handler."""

    def __init__(self) -> None:
        self.events: "queue.Queue[tuple[str, dict]]" = queue.Queue()
        self.responses: "queue.Queue[tuple[str, str, dict]]" = queue.Queue()
        self.secret_string = "{}"
        self.calls: list[str] = []
        self.stop = threading.Event()


def make_handler(fake: Fake):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, body: dict | str, headers: dict | None = None) -> None:
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", (headers or {}).get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:
            if self.path == "/2018-06-01/runtime/invocation/next":
                while not fake.stop.is_set():
                    try:
                        request_id, event = fake.events.get(timeout=0.2)
                        break
                    except queue.Empty:
                        continue
                else:
                    return
                self._send(200, event, {
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 10_000),
                    "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:smoke",
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
                })
                return
            self._send(404, {"message": "not found"})

        def do_POST(self) -> None:
            body = self._body()
            fake.calls.append(f"POST {self.path} {self.headers.get('X-Amz-Target', '')}".strip())
            if self.path.startswith("/2018-06-01/runtime/"):
                parts = self.path.split("/")
                kind = parts[-1]  # response | error
                request_id = parts[-2] if "invocation" in self.path else "init"
                try:
                    payload = json.loads(body or b"null")
                except ValueError:
                    payload = {"raw": body.decode(errors="replace")}
                fake.responses.put((request_id, kind, payload))
                self._send(202, {"status": "OK"})
                return
            if self.headers.get("X-Amz-Target") == "secretsmanager.GetSecretValue":
                request = json.loads(body or b"{}")
                if request.get("SecretId") != SECRET_ARN:
                    self._send(400, {"__type": "ResourceNotFoundException", "message": "no such secret"},
                               {"Content-Type": "application/x-amz-json-1.1"})
                    return
                self._send(200, {"ARN": SECRET_ARN, "Name": "descope-m2m", "VersionId": "v1",
                                 "SecretString": fake.secret_string, "CreatedDate": 1.7e9},
                           {"Content-Type": "application/x-amz-json-1.1"})
                return
            # Anything else: Descope rejecting the access key.
            self._send(401, {"errorCode": "E061102", "errorDescription": "Invalid access key",
                             "errorMessage": "Access key is invalid", "message": "Access key is invalid"})

    return Handler


def authorizer_event(headers: dict | None = None) -> dict:
    """A REQUEST authorizer event of an HTTP API, payload 2.0, as API Gateway sends it for GET /api/whoami."""
    return {
        "version": "2.0", "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/$default/GET/api/whoami",
        "identitySource": [v for k, v in (headers or {}).items() if k == "authorization"],
        "routeKey": "GET /api/whoami", "rawPath": "/api/whoami", "rawQueryString": "",
        "headers": {"host": "abc123.execute-api.us-east-1.amazonaws.com", **(headers or {})},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123", "requestId": "smoke-authorizer", "routeKey": "GET /api/whoami", "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 1767225600000,
            "http": {"method": "GET", "path": "/api/whoami", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": "infra-smoke"},
        },
    }


def event(name: str, headers: dict | None = None, body: str = "{}", authorizer: dict | None = None) -> dict:
    path = ROUTES[name]
    context_extra = {"authorizer": authorizer} if authorizer else {}
    return {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "abc123.execute-api.us-east-1.amazonaws.com",
                    **(headers or {})},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123", "requestId": "smoke-request", "routeKey": f"POST {path}", "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 1767225600000,
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": "infra-smoke"},
            **context_extra,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def template_env(sam_path: str) -> dict[str, dict[str, str]]:
    """Each function's environment as the SAM template sets it with parameter defaults."""
    template = load_sam(sam_path)
    errors: list[str] = []
    model = Model("SAM", template, errors)
    params = template.get("Parameters") or {}
    values = {k: str(v.get("Default", "")) for k, v in params.items()}
    values["ProjectId"] = PROJECT_ID

    def resolve(v) -> str:
        if isinstance(v, str):
            return v
        if isinstance(v, dict) and "Ref" in v:
            return values[v["Ref"]]
        if isinstance(v, dict) and "Fn::If" in v:  # the secret: created by the stack, or an existing ARN
            return SECRET_ARN
        raise ValueError(f"cannot resolve {v!r}")

    out = {}
    for name, f in model.functions.items():
        variables = (f["props"].get("Environment") or {}).get("Variables") or {}
        out[name] = {k: resolve(v) for k, v in variables.items()}
    return out


def elf_machine(path: str) -> str:
    with open(path, "rb") as f:
        header = f.read(20)
    return {0x3E: "x86_64", 0xB7: "aarch64"}.get(int.from_bytes(header[18:20], "little"), "unknown")


def runner_for(binary: str) -> list[str] | None:
    machine, host = elf_machine(binary), platform.machine()
    if machine == host or (machine == "aarch64" and host == "arm64"):
        return []
    if machine == "aarch64" and shutil.which("qemu-aarch64") and os.path.isdir("/usr/aarch64-linux-gnu"):
        return ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]
    return None


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # a killed function's broken pipe is expected
        pass


class Server:
    """A fake Runtime API + Secrets Manager + Descope for one invocation (a fresh one each time, so a killed
    process's pending long-poll can never swallow the next test's event)."""

    def __init__(self, secret_string: str) -> None:
        self.fake = Fake()
        self.fake.secret_string = secret_string
        self.httpd = QuietServer(("127.0.0.1", 0), make_handler(self.fake))
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.fake.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def invoke(cmd: list[str], env: dict[str, str], ev: dict, secret_string: str = "{}",
           timeout: float = 60) -> tuple[dict, list[str]]:
    """Starts the function, hands it one event, returns its response and the calls it made, stops it."""
    server = Server(secret_string)
    fake, port = server.fake, server.port
    request_id = f"req-{time.time_ns()}"
    fake.events.put((request_id, ev))
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TMPDIR")}
    full_env = {
        **base,
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": "smoke",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "INFO",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "smoke-test-not-a-secret",
        "AWS_SESSION_TOKEN": "smoke",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        **env,
        "DESCOPE_BASE_URL": f"http://127.0.0.1:{port}",
    }
    proc = subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        got_id, kind, payload = fake.responses.get(timeout=timeout)
    except queue.Empty:
        proc.kill()
        out = proc.communicate()[0].decode(errors="replace")
        raise AssertionError(f"no response within {timeout}s; output:\n{out[-2000:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        server.close()
    if kind != "response" or got_id != request_id:
        raise AssertionError(f"function reported {kind} for {got_id}: {payload}")
    return payload, list(fake.calls)


def headers_of(response: dict) -> dict:
    return {k.lower(): v for k, v in (response.get("headers") or {}).items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zip-dir", required=True)
    ap.add_argument("--sam", required=True)
    args = ap.parse_args()

    envs = template_env(args.sam)
    passed = failed = skipped = 0
    work = tempfile.mkdtemp(prefix="infra-smoke-")

    def check(title: str, fn) -> None:
        nonlocal passed, failed
        try:
            fn()
            passed += 1
            print(f"  ok   {title}")
        except AssertionError as e:
            failed += 1
            print(f"  FAIL {title}: {e}")

    try:
        for name in ("protected", "user", "admin", "authorizer", "token"):
            zip_path = os.path.join(args.zip_dir, name, "bootstrap.zip")
            if not os.path.isfile(zip_path):
                print(f"  skip {name}: {zip_path} not built")
                skipped += 1
                continue
            folder = os.path.join(work, name)
            with zipfile.ZipFile(zip_path) as z:
                z.extractall(folder)
            binary = os.path.join(folder, "bootstrap")
            os.chmod(binary, 0o755)
            prefix = runner_for(binary)
            if prefix is None:
                print(f"  skip {name}: {elf_machine(binary)} binary, no qemu-aarch64 + /usr/aarch64-linux-gnu here")
                skipped += 1
                continue
            cmd = prefix + [binary]
            env = dict(envs[name])
            how = " ".join(prefix) or "native"

            if name == "authorizer":
                def authorizer_check(cmd=cmd, env=env):
                    r, _ = invoke(cmd, env, authorizer_event())
                    assert r.get("isAuthorized") is False, f"no token: {r}"
                    r, _ = invoke(cmd, env, authorizer_event({"authorization": "Bearer not.a-token"}))
                    assert r.get("isAuthorized") is False, f"malformed token: {r}"
                check(f"authorizer: no token / a malformed token -> isAuthorized false ({how})", authorizer_check)
                continue

            if name != "token":
                def protected_check(cmd=cmd, env=env, name=name):
                    r, _ = invoke(cmd, env, event(name))
                    assert r.get("statusCode") == 401, f"status {r.get('statusCode')}: {r}"
                    www = headers_of(r).get("www-authenticate", "")
                    assert www.startswith("Bearer"), f"WWW-Authenticate {www!r}"
                    r, _ = invoke(cmd, env, event(name, {"authorization": "Bearer not.a-token"}))
                    assert r.get("statusCode") == 401, f"status {r.get('statusCode')}: {r}"
                    www = headers_of(r).get("www-authenticate", "")
                    assert 'error="invalid_token"' in www, f"WWW-Authenticate {www!r}"
                    body = json.loads(r.get("body") or "{}")
                    assert body.get("success") is False and body.get("error"), body
                check(f"{name}: no token / a malformed token -> 401 Bearer ({how})", protected_check)
                continue

            stack_secret = json.dumps({"projectId": PROJECT_ID, "accessKey": "K2smokeStackKeyNotReal"})

            def token_anonymous_refused(cmd=cmd, env=env):
                r, calls = invoke(cmd, env, event("token", body="{}"), stack_secret)
                assert r.get("statusCode") == 401, f"status {r.get('statusCode')}: {r}"
                assert not any("secretsmanager.GetSecretValue" in c for c in calls), f"secret read: {calls}"
                body = json.loads(r.get("body") or "{}")
                assert body.get("success") is False and "jwt" not in body, body
            check("token, public route: no access key -> 401, the stack's key is not used", token_anonymous_refused)

            def token_page_request(cmd=cmd, env=env):
                body = json.dumps({"projectId": PROJECT_ID, "accessKey": "K2smokeCallerKeyNotReal"})
                r, calls = invoke(cmd, env, event("token", body=body), stack_secret)
                assert r.get("statusCode") == 401, f"status {r.get('statusCode')}: {r}"
                assert any(c.startswith("POST /v1/auth/accesskey/exchange") for c in calls), f"no exchange: {calls}"
                assert not any("secretsmanager.GetSecretValue" in c for c in calls), f"secret read: {calls}"
                body = json.loads(r.get("body") or "{}")
                assert body.get("success") is False and "Authentication failed" in body.get("error", ""), body
                assert "K2smokeCallerKeyNotReal" not in json.dumps(r), "the access key is echoed"
            check("token, public route: the page's request (own key + configured project) reaches Descope -> 401",
                  token_page_request)

            def token_other_project_refused(cmd=cmd, env=env):
                body = json.dumps({"projectId": "P2someOtherProject", "accessKey": "K2other"})
                r, _ = invoke(cmd, env, event("token", body=body), stack_secret)
                assert r.get("statusCode") == 400, f"status {r.get('statusCode')}: {r}"
                assert json.loads(r.get("body") or "{}").get("success") is False
            check("token: another project with overrides off (template default) -> 400", token_other_project_refused)

            def token_iam_uses_stack_key(cmd=cmd, env=env):
                r, calls = invoke(cmd, env, event("token-iam", body="{}", authorizer=IAM_IDENTITY), stack_secret)
                assert any("secretsmanager.GetSecretValue" in c for c in calls), f"secret not read: {calls}"
                assert r.get("statusCode") == 401, f"status {r.get('statusCode')}: {r}"
                body = json.loads(r.get("body") or "{}")
                assert body.get("success") is False and "Authentication failed" in body.get("error", ""), body
                assert "K2smokeStackKeyNotReal" not in json.dumps(r), "the stack's key is echoed"
            check("token, IAM route: secret read, Descope's 401 -> 401 Authentication failed", token_iam_uses_stack_key)

            def token_placeholder_secret(cmd=cmd, env=env):
                secret = json.dumps({"projectId": PROJECT_ID, "accessKey": ""})
                r, _ = invoke(cmd, env, event("token-iam", body="{}", authorizer=IAM_IDENTITY), secret)
                status = r.get("statusCode")
                assert status in (400, 500), f"status {status}: {r}"
                assert json.loads(r.get("body") or "{}").get("success") is False
                print(f"       (placeholder secret with an empty accessKey -> {status})")
            check("token, IAM route: the stack's placeholder secret -> a clear error, no crash", token_placeholder_secret)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"smoke: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
