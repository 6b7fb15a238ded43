#!/usr/bin/env python3
"""Cold start and memory of the functions (the four HTTP ones and the authorizer), measured as Lambda sees them.

Serves the Lambda Runtime API on 127.0.0.1, spawns a function's release binary the way the Lambda service
does (AWS_LAMBDA_RUNTIME_API and the standard AWS_LAMBDA_* variables, plus the function's configuration) and
hands it one API Gateway HTTP API (payload 2.0) event. For each run it records

  init  = spawn -> the function's first GET /2018-06-01/runtime/invocation/next
  first = spawn -> the function's POST .../invocation/{id}/response (the first invocation, including the
          JWKS fetch from the local issuer on loopback; for the token function also the secret read from
          moto and the exchange with the local issuer)
  after init = first - init: the first answer of a function started ahead of traffic (provisioned
          concurrency), which gets its first event only once its init is done; what init fetched ahead
          (the key set, the secret) is not in it

over --runs runs (default 30) and prints median, p10/p90 and min/max. With --rss N it then drives one process
through N invocations over the Runtime API loop and reads VmHWM / VmRSS from /proc/<pid>/status.

Python standard library only (boto3 is used, when installed, to create the secret in moto).

    python3 bench/coldstart.py [--runs 30] [--rss 10000] [--functions protected,user,admin,token,authorizer]
                               [--bin-dir target/perf/release] [--json out.json]
"""

import argparse
import http.client
import json
import os
import queue
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

PROJECT = "P2LocalDevProject"
ACCESS_KEY = "dev-admin-key"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROUTES = {"protected": "/api/protected", "user": "/api/user", "admin": "/api/admin", "token": "/m2m/token",
          "authorizer": "/api/admin"}
# The authorizer gets the HTTP API payload 2.0 authorizer event (tests/events/authorizer-http-v2.json).
AUTHORIZER_EVENT = os.path.join(ROOT, "tests", "events", "authorizer-http-v2.json")
AUTHORIZER_GRANTS = '{"POST /api/user": "read:data", "POST /api/admin": "admin"}'


def now_ns():
    return time.perf_counter_ns()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api_gateway_event(path, headers, body):
    return {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "api.example.com", "content-type": "application/json", **headers},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com", "domainPrefix": "api",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1",
                     "userAgent": "coldstart"},
            "requestId": "req", "routeKey": f"POST {path}", "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 1767225600000,
        },
        "body": body,
        "isBase64Encoded": False,
    }


class Run:
    """One function process: the events it is to get and the times its Runtime API calls arrive."""

    def __init__(self, events):
        self.events = queue.Queue()
        for event in events:
            self.events.put(event)
        self.first_next = None
        self.first_response = None
        self.responses = 0
        self.errors = []
        self.done = threading.Event()
        self.expected = len(events)
        self.bodies = []


class RuntimeApiServer:
    """The Runtime API for one function process (a fresh port per process, so that a request of a killed
    process can never reach the next run). Plain sockets: a request's time is taken when its first bytes
    arrive, before any parsing, and answers are written at once, so the harness adds as little as it can."""

    def __init__(self, run):
        self.run = run
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.server_address = self.listener.getsockname()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection):
        buffer = b""
        try:
            while True:
                arrived = None
                while b"\r\n\r\n" not in buffer:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    if arrived is None:
                        arrived = now_ns()
                    buffer += chunk
                arrived = arrived or now_ns()
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                lines = head.split(b"\r\n")
                method, path = lines[0].split(b" ")[:2]
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                body, buffer = buffer[:length], buffer[length:]
                if not self._answer(connection, method, path.decode(), body, arrived):
                    return
        except OSError:
            return
        finally:
            connection.close()

    def _answer(self, connection, method, path, body, arrived):
        run = self.run
        if method == b"GET" and path.endswith("/runtime/invocation/next"):
            if run.first_next is None:
                run.first_next = arrived
            event = run.events.get()
            if event is None:  # the harness is done with this process
                return False
            headers = (
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                f"Lambda-Runtime-Aws-Request-Id: {uuid.uuid4()}\r\n"
                f"Lambda-Runtime-Deadline-Ms: {int(time.time() * 1000) + 10_000}\r\n"
                "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:bench\r\n"
                "Lambda-Runtime-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1\r\n"
                f"Content-Length: {len(event)}\r\n\r\n"
            )
            connection.sendall(headers.encode() + event)
            return True
        accepted = b'HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"status":"OK"}'
        if method == b"POST" and "/invocation/" in path and path.endswith("/response"):
            if run.first_response is None:
                run.first_response = arrived
            run.responses += 1
            if run.responses <= 3:
                run.bodies.append(body)
            connection.sendall(accepted)
            if run.responses >= run.expected:
                run.done.set()
            return True
        if method == b"POST":  # init or invocation error
            run.errors.append((path, body[:500]))
            connection.sendall(accepted)
            run.done.set()
            return True
        connection.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        return True

    def shutdown(self):
        self.closed = True
        self.listener.close()


def start_issuer(bin_dir):
    process = subprocess.Popen([os.path.join(bin_dir, "descope-local"), "--port", "0", "--ttl", "86400"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    # "descope-local listening on http://127.0.0.1:PORT project=..."
    base_url = line.split(" on ")[1].split()[0]
    return process, base_url


def exchange(base_url):
    request = urllib.request.Request(f"{base_url}/v1/auth/accesskey/exchange", data=b"{}", method="POST",
                                     headers={"Authorization": f"Bearer {PROJECT}:{ACCESS_KEY}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)["sessionJwt"]


def start_moto():
    """moto_server with the secret the token function reads; None when moto is not installed."""
    if shutil.which("moto_server") is None:
        return None
    port = free_port()
    process = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=0.5).read()
            break
        except Exception:
            time.sleep(0.05)
    secret_id = "m2m/descope"
    body = json.dumps({"Name": secret_id,
                       "SecretString": json.dumps({"projectId": PROJECT, "accessKey": ACCESS_KEY})})
    try:
        import boto3  # noqa: F401  (optional: the raw call below needs no SDK)
        client = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="test", aws_secret_access_key="test")
        client.create_secret(Name=secret_id, SecretString=json.loads(body)["SecretString"])
    except ImportError:
        moto_call(endpoint, "CreateSecret", body)
    return process, endpoint, secret_id


def moto_call(endpoint, action, body):
    host = endpoint.split("//")[1]
    connection = http.client.HTTPConnection(host)
    connection.request("POST", "/", body=body, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"secretsmanager.{action}",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/secretsmanager/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def function_env(name, base_url, moto):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_REGION": "us-east-1",
        "DESCOPE_BASE_URL": base_url,
        "DESCOPE_PROJECT_ID": PROJECT,
    }
    if name == "authorizer":
        env["AUTHORIZER_GRANTS"] = AUTHORIZER_GRANTS
    if name == "token" and moto is not None:
        _, endpoint, secret_id = moto
        env.update({
            "DESCOPE_SECRET_ID": secret_id,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_SESSION_TOKEN": "test",
            # The IAM event's assumed-role session (event_for) may have the stack's key.
            "STACK_KEY_PRINCIPALS": json.dumps({"arn:aws:iam::123456789012:role/coldstart": ["*"]}),
        })
    return env


def event_for(name, token, moto):
    path = ROUTES[name]
    if name == "authorizer":
        with open(AUTHORIZER_EVENT) as shipped:
            text = shipped.read()
        return text.replace("REPLACE-WITH-A-TOKEN", token).encode()
    if name == "token":
        if moto is None:
            return json.dumps(api_gateway_event(path, {}, json.dumps({"accessKey": ACCESS_KEY}))).encode()
        # The stack's key (the secret) serves IAM-authenticated callers only: the IAM route's event.
        event = api_gateway_event("/m2m/token/iam", {}, "{}")
        event["requestContext"]["authorizer"] = {"iam": {
            "accountId": "123456789012", "callerId": "AROAEXAMPLE:coldstart",
            "userArn": "arn:aws:sts::123456789012:assumed-role/coldstart/bench", "userId": "AROAEXAMPLE:coldstart"}}
        return json.dumps(event).encode()
    return json.dumps(api_gateway_event(path, {"authorization": f"Bearer {token}"}, None)).encode()


def run_process(binary, env, events, timeout=30):
    """Spawns the function, feeds it `events`; returns the Run and the process status read at the end."""
    run = Run(events)
    server = RuntimeApiServer(run)
    env = {**env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}"}
    started = now_ns()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finished = run.done.wait(timeout)
    status = None
    if finished:
        with open(f"/proc/{process.pid}/status") as f:
            status = {k: v.strip() for k, v in (line.split(":", 1) for line in f if ":" in line)}
    process.send_signal(signal.SIGKILL)
    process.wait()
    run.events.put(None)
    server.shutdown()
    if not finished:
        raise RuntimeError(f"{os.path.basename(binary)}: no response within {timeout}s")
    if run.errors:
        raise RuntimeError(f"{os.path.basename(binary)} reported an error: {run.errors[0]}")
    for body in run.bodies:
        answer = json.loads(body)
        # The HTTP functions answer an API Gateway response; the authorizer a simple response.
        if answer.get("statusCode") != 200 and answer.get("isAuthorized") is not True:
            raise RuntimeError(f"{os.path.basename(binary)} answered {answer.get('statusCode')}: {answer}")
    return run, started, status


def summary(values):
    ordered = sorted(values)
    deciles = statistics.quantiles(ordered, n=10, method="inclusive")
    return {"median": statistics.median(ordered), "p10": deciles[0], "p90": deciles[-1],
            "min": ordered[0], "max": ordered[-1], "n": len(ordered)}


def fmt(s):
    return f"{s['median']:6.2f} ms (p10 {s['p10']:.2f}, p90 {s['p90']:.2f}, min {s['min']:.2f}, max {s['max']:.2f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--rss", type=int, default=10_000, help="invocations of the memory run (0: skip)")
    parser.add_argument("--functions", default="protected,user,admin,token,authorizer")
    parser.add_argument("--bin-dir", default=os.path.join(ROOT, "target", "perf", "release"))
    parser.add_argument("--no-moto", action="store_true", help="token: send the access key in the body")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    issuer, base_url = start_issuer(args.bin_dir)
    moto = None if args.no_moto else start_moto()
    results = {"runs": args.runs, "rss_invocations": args.rss, "moto": moto is not None, "functions": {}}
    try:
        if moto is not None:
            body = json.dumps({"SecretId": moto[2]})
            moto_call(moto[1], "GetSecretValue", body)
            times = []
            for _ in range(args.runs):
                t = now_ns()
                moto_call(moto[1], "GetSecretValue", body)
                times.append((now_ns() - t) / 1e6)
            results["moto_get_secret_value_ms"] = summary(times)
            t_ex = []
            for _ in range(args.runs):
                t = now_ns()
                exchange(base_url)
                t_ex.append((now_ns() - t) / 1e6)
            results["issuer_exchange_ms"] = summary(t_ex)
            print(f"moto GetSecretValue from Python (new connection): {fmt(results['moto_get_secret_value_ms'])}")
            print(f"local issuer exchange from Python (new connection): {fmt(results['issuer_exchange_ms'])}")
        for name in args.functions.split(","):
            binary = os.path.join(args.bin_dir, name)
            env = function_env(name, base_url, moto)
            token = exchange(base_url)
            event = event_for(name, token, moto)
            run_process(binary, env, [event])  # page cache warm-up, not counted
            inits, firsts, after_inits = [], [], []
            for _ in range(args.runs):
                run, started, _ = run_process(binary, env, [event])
                inits.append((run.first_next - started) / 1e6)
                firsts.append((run.first_response - started) / 1e6)
                after_inits.append((run.first_response - run.first_next) / 1e6)
            entry = {"init_ms": summary(inits), "first_invocation_ms": summary(firsts),
                     "first_answer_after_init_ms": summary(after_inits),
                     "binary_bytes": os.path.getsize(binary)}
            print(f"{name:9} init        {fmt(entry['init_ms'])}")
            print(f"{name:9} first resp. {fmt(entry['first_invocation_ms'])}")
            print(f"{name:9} after init  {fmt(entry['first_answer_after_init_ms'])}")
            if args.rss:
                run, started, status = run_process(binary, env, [event] * args.rss, timeout=600)
                elapsed = (run.first_response and (now_ns() - started) / 1e9)
                entry["rss"] = {"invocations": args.rss, "VmHWM_kB": int(status["VmHWM"].split()[0]),
                                "VmRSS_kB": int(status["VmRSS"].split()[0]), "seconds": elapsed}
                print(f"{name:9} after {args.rss} invocations: VmHWM {status['VmHWM']}, VmRSS {status['VmRSS']}"
                      f" ({elapsed:.1f} s)")
            results["functions"][name] = entry
    finally:
        issuer.terminate()
        if moto is not None:
            moto[0].terminate()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
