"""Runs release `bootstrap` binaries the way AWS Lambda does, for the deployed-shape tests and benchmarks.

* `RuntimeApi` serves the Lambda Runtime API (2018-06-01) on 127.0.0.1: `invoke(event)` queues one event for
  the function's long poll and waits for its `/response` or `/error`.
* `LambdaProcess` starts one binary against it with the standard `AWS_LAMBDA_*` variables plus a function's
  environment, keeps every line it prints, and is reused across invocations (a warm container), so a test can
  tell that the same process answered the next request.
* `template_environment` reads each function's environment out of the SAM template or the CDK synth output,
  with parameters at their defaults, so the binaries run with the configuration the stack deploys.
* `http_api_event` builds an API Gateway HTTP API (payload 2.0) event as API Gateway sends it.

Everything listens on 127.0.0.1 on free ports and is stopped by whoever started it (`with` blocks).
"""
from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import threading
import time
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

RUNTIME_PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:{name}"


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # a stopped function's broken pipe is expected
        pass


class Invocation:
    """What the function reported for one event."""

    def __init__(self, kind: str, payload: Any, raw: bytes) -> None:
        self.kind = kind  # "response" or "error"
        self.payload = payload
        self.raw = raw

    @property
    def status(self) -> int | None:
        return self.payload.get("statusCode") if isinstance(self.payload, dict) else None

    @property
    def headers(self) -> dict[str, str]:
        if not isinstance(self.payload, dict):
            return {}
        return {k.lower(): v for k, v in (self.payload.get("headers") or {}).items()}

    @property
    def body(self) -> Any:
        text = self.payload.get("body") if isinstance(self.payload, dict) else None
        try:
            return json.loads(text) if text else None
        except ValueError:
            return text

    def __repr__(self) -> str:
        return f"Invocation({self.kind}, {self.raw[:400]!r})"


class RuntimeApi:
    """The Lambda Runtime API for one function process."""

    def __init__(self, deadline_ms: int = 10_000) -> None:
        self.deadline_ms = deadline_ms
        self._events: "queue.Queue[tuple[str, bytes, str]]" = queue.Queue()
        self._results: dict[str, "queue.Queue[Invocation]"] = {}
        self.init_errors: list[Any] = []
        self.polls = 0
        self._stop = threading.Event()
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler())
        self.address = f"127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path != f"{RUNTIME_PREFIX}/invocation/next":
                    self._send(404, b'{"message":"not found"}')
                    return
                api.polls += 1
                while not api._stop.is_set():
                    try:
                        request_id, body, trace_id = api._events.get(timeout=0.1)
                        break
                    except queue.Empty:
                        continue
                else:
                    return
                self._send(200, body, {
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + api.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN.format(name="deployed-shape"),
                    "Lambda-Runtime-Trace-Id": trace_id,
                })

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path[len(RUNTIME_PREFIX):].strip("/").split("/")
                try:
                    payload = json.loads(raw or b"null")
                except ValueError:
                    payload = None
                if parts == ["init", "error"]:
                    api.init_errors.append(payload)
                elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    waiting = api._results.get(parts[1])
                    if waiting is not None:
                        waiting.put(Invocation(parts[2], payload, raw))
                self._send(202, b'{"status":"OK"}')

        return Handler

    def invoke(self, event: dict, timeout: float = 30) -> Invocation:
        request_id = str(uuid.uuid4())
        trace_id = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=1"
        waiting: "queue.Queue[Invocation]" = queue.Queue()
        self._results[request_id] = waiting
        self._events.put((request_id, json.dumps(event).encode(), trace_id))
        try:
            return waiting.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no answer to the event within {timeout} s") from None
        finally:
            self._results.pop(request_id, None)

    def close(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()


def lambda_environment(name: str, runtime_api: str, function_env: dict[str, str],
                       log_format: str = "JSON", log_level: str = "INFO") -> dict[str, str]:
    """What the Lambda service sets for a function, plus the function's own configuration."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TMPDIR")}
    return {
        **base,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef",
        "AWS_LAMBDA_LOG_FORMAT": log_format,
        "AWS_LAMBDA_LOG_LEVEL": log_level,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "deployed-shape-not-a-secret",
        "AWS_SESSION_TOKEN": "deployed-shape-session",
        "AWS_EC2_METADATA_DISABLED": "true",
        **function_env,
    }


class LambdaProcess:
    """One function binary serving events from its own RuntimeApi, as a warm Lambda container does."""

    def __init__(self, binary: str, name: str, function_env: dict[str, str], **lambda_options: str) -> None:
        self.api = RuntimeApi()
        self.lines: list[str] = []
        env = lambda_environment(name, self.api.address, function_env, **lambda_options)
        self.proc = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.decode(errors="replace").rstrip("\n"))

    def invoke(self, event: dict, timeout: float = 30) -> Invocation:
        if self.proc.poll() is not None:
            raise AssertionError(f"the function exited ({self.proc.returncode}): {self.output()[-1500:]}")
        return self.api.invoke(event, timeout)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return "\n".join(self.lines)

    def quiet_output(self, interval: float = 0.2, timeout: float = 5.0) -> str:
        """The output once no line has arrived for `interval` seconds: every line of the invocations answered so
        far read from the pipe (a line written just before an answer may arrive after it)."""
        deadline = time.monotonic() + timeout
        seen = len(self.lines)
        while time.monotonic() < deadline:
            time.sleep(interval)
            if len(self.lines) == seen:
                break
            seen = len(self.lines)
        return self.output()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        self.api.close()

    def __enter__(self) -> "LambdaProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def unpack_bootstrap(zip_path: str, folder: str) -> str:
    """The `bootstrap` of a deployment zip, unpacked and executable."""
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(folder)
    binary = os.path.join(folder, "bootstrap")
    os.chmod(binary, 0o755)
    return binary


# ----------------------------------------------------------------------------------------------- templates
class TemplateValues:
    """Resolves CloudFormation values with every parameter at its default (or an override), conditions
    evaluated, and `Ref`s to resources replaced by what `resources` gives for their logical id."""

    def __init__(self, template: dict, parameters: dict[str, str] | None = None,
                 resources: Callable[[str, dict], str] | None = None) -> None:
        self.t = template
        self.params = {k: str(v.get("Default", "")) for k, v in (template.get("Parameters") or {}).items()}
        self.params.update(parameters or {})
        self.params.setdefault("AWS::Region", "us-east-1")
        self.params.setdefault("AWS::AccountId", "123456789012")
        self.params.setdefault("AWS::StackName", "DescopeM2M")
        self.params.setdefault("AWS::URLSuffix", "amazonaws.com")
        self.params.setdefault("AWS::Partition", "aws")
        self.resources = resources or (lambda lid, r: f"<{lid}>")

    def condition(self, name: str) -> bool:
        return bool(self.value((self.t.get("Conditions") or {})[name]))

    def value(self, v: Any) -> Any:
        if isinstance(v, (str, int, float, bool)) or v is None:
            return v
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if not isinstance(v, dict):
            return v
        (fn, arg), = v.items() if len(v) == 1 else ((None, None),)
        if fn != "Ref" and fn != "Condition" and not str(fn).startswith("Fn::"):
            return {k: self.value(x) for k, x in v.items()}
        if fn == "Ref":
            if arg in self.params:
                return self.params[arg]
            resource = (self.t.get("Resources") or {}).get(arg)
            if resource is None:
                raise ValueError(f"Ref to unknown {arg}")
            return self.resources(arg, resource)
        if fn == "Fn::If":
            name, yes, no = arg
            return self.value(yes if self.condition(name) else no)
        if fn == "Fn::Equals":
            a, b = (self.value(x) for x in arg)
            return str(a) == str(b)
        if fn == "Fn::Not":
            return not self.value(arg[0])
        if fn == "Fn::And":
            return all(self.value(x) for x in arg)
        if fn == "Fn::Or":
            return any(self.value(x) for x in arg)
        if fn == "Condition":
            return self.condition(arg)
        if fn == "Fn::Join":
            sep, items = arg
            return sep.join(str(self.value(x)) for x in self.value(items))
        if fn == "Fn::Select":
            index, items = arg
            return self.value(items)[int(self.value(index))]
        if fn == "Fn::Split":
            sep, text = arg
            return str(self.value(text)).split(sep)
        if fn == "Fn::Sub":
            text, names = (arg, {}) if isinstance(arg, str) else arg
            def sub(match) -> str:
                key = match.group(1)
                if key in names:
                    return str(self.value(names[key]))
                return str(self.value({"Ref": key}) if "." not in key else f"<{key}>")
            return re.sub(r"\$\{([^}!]+)\}", sub, text)
        if fn == "Fn::GetAtt":
            return f"<{'.'.join(arg) if isinstance(arg, list) else arg}>"
        raise ValueError(f"cannot resolve {fn}")


def template_environment(template: dict, function_logical_id: str, values: TemplateValues) -> dict[str, str]:
    """The environment one function gets from a template (SAM Globals merged in)."""
    resource = template["Resources"][function_logical_id]
    props = resource.get("Properties") or {}
    variables: dict[str, Any] = {}
    globals_env = (((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {})
    variables.update(globals_env.get("Variables") or {})
    variables.update(((props.get("Environment") or {}).get("Variables")) or {})
    resolved = {k: values.value(v) for k, v in variables.items()}
    # CloudFormation drops nothing, but Lambda treats "" as set-and-empty: our code reads empty as unset.
    return {k: str(v) for k, v in resolved.items() if not (isinstance(v, dict) and "Ref" in v)}


def logging_config(template: dict, function_logical_id: str, values: TemplateValues) -> dict[str, str]:
    """AWS_LAMBDA_LOG_FORMAT / AWS_LAMBDA_LOG_LEVEL as Lambda derives them from the function's LoggingConfig."""
    props = template["Resources"][function_logical_id].get("Properties") or {}
    globals_fn = (template.get("Globals") or {}).get("Function") or {}
    config = values.value(props.get("LoggingConfig") or globals_fn.get("LoggingConfig") or {})
    log_format = config.get("LogFormat", "Text")
    options = {"log_format": "JSON" if log_format == "JSON" else "Text"}
    if log_format == "JSON":
        options["log_level"] = config.get("ApplicationLogLevel", "INFO")
    return options


def function_ids(template: dict, values: TemplateValues) -> dict[str, str]:
    """Function name (the binary: token, protected, ...) -> logical id, from the `<stack>-<name>` FunctionName."""
    out: dict[str, str] = {}
    for lid, r in (template.get("Resources") or {}).items():
        if r.get("Type") not in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            continue
        name = str(values.value((r.get("Properties") or {}).get("FunctionName") or ""))
        prefix = values.params["AWS::StackName"] + "-"
        if name.startswith(prefix):
            out[name[len(prefix):]] = lid
    return out


# ----------------------------------------------------------------------------------------------- events
def http_api_event(method: str, path: str, headers: dict[str, str] | None = None, body: str | None = None,
                   route_key: str | None = None, iam: dict | None = None, source_ip: str = "203.0.113.7") -> dict:
    """An API Gateway HTTP API payload 2.0 event, with the headers API Gateway adds itself."""
    domain = "abc123.execute-api.us-east-1.amazonaws.com"
    all_headers = {
        "host": domain,
        "x-forwarded-for": source_ip,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        "x-amzn-trace-id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}",
        "content-length": str(len(body or "")),
    }
    all_headers.update({k.lower(): v for k, v in (headers or {}).items()})
    context: dict[str, Any] = {
        "accountId": "123456789012", "apiId": "abc123", "domainName": domain, "domainPrefix": "abc123",
        "requestId": uuid.uuid4().hex[:16], "routeKey": route_key or f"{method} {path}", "stage": "$default",
        "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": int(time.time() * 1000),
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                 "userAgent": all_headers.get("user-agent", "deployed-shape-test")},
    }
    if iam is not None:
        context["authorizer"] = {"iam": iam}
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": route_key or f"{method} {path}", "rawPath": path, "rawQueryString": "",
        "headers": all_headers, "requestContext": context, "isBase64Encoded": False,
    }
    if body is not None:
        event["body"] = body
    return event


ACCOUNT = "123456789012"
#: StackKeyPrincipals as an operator sets it: the default IAM caller below (a session of role reporting-job)
#: gets every grant of the stack's key, the sessions of role team/readers read:data only.
STACK_KEY_PRINCIPALS = json.dumps({f"arn:aws:iam::{ACCOUNT}:role/reporting-job": ["*"],
                                   f"arn:aws:iam::{ACCOUNT}:role/team/readers": ["read:data"]})


def iam_identity(user_arn: str = "arn:aws:sts::123456789012:assumed-role/reporting-job/i-0abc") -> dict:
    """requestContext.authorizer.iam as API Gateway writes it for a SigV4-signed request."""
    return {
        "accessKey": "ASIAEXAMPLEEXAMPLE01", "accountId": "123456789012", "callerId": "AROAEXAMPLE:i-0abc",
        "cognitoIdentity": None, "principalOrgId": None, "userArn": user_arn, "userId": "AROAEXAMPLE:i-0abc",
    }
