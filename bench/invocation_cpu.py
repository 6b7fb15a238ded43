#!/usr/bin/env python3
"""CPU per warm invocation, as Lambda runs a function: the process's own on-CPU time per event.

Serves the Lambda Runtime API on 127.0.0.1 (bench/coldstart.py's harness), starts a function process,
hands it --warmup API Gateway HTTP API (payload 2.0) events, then reads the process's on-CPU time (the sum of
the first field of /proc/PID/task/*/schedstat: every thread's, in nanoseconds), hands it --n more events and
reads it again. The difference divided by --n is the function's CPU per warm invocation: its runtime loop
(HTTP to the Runtime API, event parsing, response serialisation), its handler and its log line, and nothing
of the harness's, which runs in another process. Each case runs --rounds times in a fresh process; the
median round is reported.

Cases:
  trivial         a lambda_http function on a current-thread runtime answering a constant 200 (the
                  runtime's floor; the `trivial_lambda` example of m2m-api, never deployed)
  trivial_same_answer
                  the same function answering, as a constant, the very answer `user` gives (its seven
                  headers and the claims it echoes): what the answer alone costs the runtime
  user_repeated   the release `user` function, one token presented again and again (verified-token cache hit)
  user_new        the `user` function, a different valid token in every event (every one a full check:
                  miss and signature, and an insertion while the cache has room; once it is full, the
                  doorkeeper keeps a token seen once out)
  user_no_cache   the `user` function with VERIFIED_TOKEN_CACHE_ENTRIES=0 and the tokens of user_new (the path
                  every token took before the cache)
  user_lambda_http_adapter, user_tracing_request_line
                  the `user` function with one piece swapped for the crate's own, token presented again (the
                  `user_variants` example of m2m-api, never deployed): `lambda_http::run` without the guard
                  around its `Adapter`, and the request line written by tracing's JSON layer (the EMF line
                  on its own)
  user_metrics_crate_deployed, user_metrics_crate_metrics_cloudwatch_embedded
                  bench/metrics-crate-variant (built on its own: cargo build --release --manifest-path
                  bench/metrics-crate-variant/Cargo.toml): the `user` function as deployed, and with its
                  metrics written by the metrics_cloudwatch_embedded crate instead of m2m-telemetry's writer
  user_variants_deployed
                  that example as deployed (nothing swapped): the same as user_repeated, its control
  node_repeated   Node 20 + aws-jwt-verify in a minimal Runtime API loop (bench/node-compare/runtime-loop.mjs),
  node_new        with one token again and again, or a new token per event (it remembers nothing)

    python3 bench/invocation_cpu.py [--n 3000] [--warmup 300] [--rounds 3]
                                    [--bin-dir target/perf/release] [--json out.json]
"""

import argparse
import base64
import glob
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coldstart import (  # noqa: E402  (the shared Runtime API harness)
    ACCESS_KEY, PROJECT, ROOT, Run, RuntimeApiServer, api_gateway_event, function_env, start_issuer)

# A client reuses its token for the token's lifetime: 10 minutes at 10 requests/s.
TYPICAL_REQUESTS_PER_TOKEN = 10 * 60 * 10


def cpu_ns(pid):
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that just ended
    return total


def distinct_token(base_url, n):
    """A token that differs from every other one minted for this run: a custom claim of its own (Descope puts
    it under `nsec`; it grants nothing)."""
    body = json.dumps({"loginOptions": {"customClaims": {"bench": n}}}).encode()
    request = urllib.request.Request(f"{base_url}/v1/auth/accesskey/exchange", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {PROJECT}:{ACCESS_KEY}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)["sessionJwt"]


def user_event(token):
    return json.dumps(api_gateway_event("/api/user", {"authorization": f"Bearer {token}"}, None)).encode()


def feed(run, events, timeout):
    run.done.clear()
    run.expected = run.responses + len(events)
    for event in events:
        run.events.put(event)
    if not run.done.wait(timeout):
        raise RuntimeError(f"no response after {run.responses} of {run.expected} events")
    if run.errors:
        raise RuntimeError(f"the function reported an error: {run.errors[0]}")


def measure(command, env, warmup_events, events, timeout=600):
    """CPU nanoseconds per event of `events`, handed over after `warmup_events`, in one fresh process."""
    return measure_answering(command, env, warmup_events, events, timeout)[0]


def measure_answering(command, env, warmup_events, events, timeout=600):
    """`measure`, and the last answer the function gave (as the Runtime API received it)."""
    run = Run([])
    server = RuntimeApiServer(run)
    env = {**env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        feed(run, warmup_events, timeout)
        time.sleep(0.2)  # let the process settle (a lazily started thread, a GC) before the count starts
        before = cpu_ns(process.pid)
        feed(run, events, timeout)
        after = cpu_ns(process.pid)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        run.events.put(None)
        server.shutdown()
    for body in run.bodies:
        answer = json.loads(body)
        if answer.get("statusCode") != 200:
            raise RuntimeError(f"{command[-1]} answered {answer.get('statusCode')}: {answer}")
    return (after - before) / len(events), json.loads(run.bodies[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3000, help="measured events per round")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bin-dir", default=os.path.join(ROOT, "target", "perf", "release"))
    parser.add_argument("--cases", default="trivial,trivial_same_answer,user_repeated,user_new,user_no_cache,"
                                           "node_repeated,node_new")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    cases = args.cases.split(",")

    issuer, base_url = start_issuer(args.bin_dir)
    work = tempfile.mkdtemp()
    try:
        total = args.warmup + args.n
        fresh = [distinct_token(base_url, n) for n in range(total)] if any(c.endswith("_new") for c in cases) else []
        assert len(set(fresh)) == len(fresh), "the tokens of user_new must all differ"
        token = distinct_token(base_url, -1)
        repeated = [user_event(token)] * total
        new = [user_event(t) for t in fresh]
        env = function_env("user", base_url, None)
        payload = token.split(".")[1]
        issuer_claim = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["iss"]
        jwks_file = os.path.join(work, "jwks.json")
        with urllib.request.urlopen(f"{base_url}/{PROJECT}/.well-known/jwks.json") as response:
            open(jwks_file, "wb").write(response.read())
        node = shutil.which("node")
        user = [os.path.join(args.bin_dir, "user")]
        same_answer = same_answer_env(user, env, repeated) if "trivial_same_answer" in cases else {}
        plans = {
            "trivial": ([os.path.join(args.bin_dir, "examples", "trivial_lambda")], env, repeated),
            "trivial_same_answer": ([os.path.join(args.bin_dir, "examples", "trivial_lambda")],
                                    {**env, **same_answer}, repeated),
            "user_repeated": ([os.path.join(args.bin_dir, "user")], env, repeated),
            "user_new": ([os.path.join(args.bin_dir, "user")], env, new),
            "user_no_cache": ([os.path.join(args.bin_dir, "user")],
                              {**env, "VERIFIED_TOKEN_CACHE_ENTRIES": "0"}, new),
            **variant_plans(args.bin_dir, env, repeated),
            "node_repeated": ([node, os.path.join(ROOT, "bench", "node-compare", "runtime-loop.mjs")],
                              {**env, "JWKS_FILE": jwks_file, "JWT_ISSUER": issuer_claim}, repeated),
            "node_new": ([node, os.path.join(ROOT, "bench", "node-compare", "runtime-loop.mjs")],
                         {**env, "JWKS_FILE": jwks_file, "JWT_ISSUER": issuer_claim}, new),
        }
        rounds = {case: [] for case in cases}
        for _ in range(args.rounds):  # rounds interleaved, so that a slow spell of the machine hits every case
            for case in cases:
                command, case_env, events = plans[case]
                rounds[case].append(measure(command, case_env, events[:args.warmup], events[args.warmup:]) / 1000)
    finally:
        issuer.terminate()
        shutil.rmtree(work, ignore_errors=True)

    results = {"n": args.n, "warmup": args.warmup, "rounds": args.rounds, "cases": {},
               "per_round_us": rounds}
    for case in cases:
        values = sorted(rounds[case])
        results["cases"][case] = {"us": statistics.median(values), "min": values[0], "max": values[-1]}
    floor = results["cases"].get("trivial", {}).get("us")
    for case, entry in results["cases"].items():
        if floor:
            entry["x_trivial"] = entry["us"] / floor
            # The machine's speed drifts from minute to minute; each round ran every case back to back, so the
            # ratio within a round is the steadier one.
            entry["x_trivial_paired"] = statistics.median(
                mine / theirs for mine, theirs in zip(rounds[case], rounds["trivial"]))
        print(f"{case:19} {entry['us']:7.1f} µs CPU per invocation (rounds {entry['min']:.1f}–{entry['max']:.1f})"
              + (f"  {entry['x_trivial']:.3f}× trivial, {entry['x_trivial_paired']:.3f}× within rounds"
                 if floor else ""))
    c = results["cases"]
    if "user_repeated" in c and "user_new" in c:
        typical = (c["user_new"]["us"] + (TYPICAL_REQUESTS_PER_TOKEN - 1) * c["user_repeated"]["us"]) \
            / TYPICAL_REQUESTS_PER_TOKEN
        results["typical_client_us"] = typical
        print(f"typical client (one token for {TYPICAL_REQUESTS_PER_TOKEN} requests): {typical:.1f} µs per request"
              + (f"  {typical / floor:.3f}× trivial" if floor else ""))
    save(results, args.json)


def variant_plans(bin_dir, env, events):
    """The cases of the `user_variants` example: as deployed, and with one piece swapped for the crate's own."""
    command = [os.path.join(bin_dir, "examples", "user_variants")]
    return {
        "user_variants_deployed": (command, {**env, "USER_VARIANT": "deployed"}, events),
        **{f"user_{variant}": (command, {**env, "USER_VARIANT": variant}, events)
           for variant in ["lambda_http_adapter", "tracing_request_line"]},
        # Its own binary (bench/metrics-crate-variant, outside the workspace), control included.
        **{f"user_metrics_crate_{variant}": ([os.path.join(bin_dir, "metrics-crate-variant")],
                                             {**env, "USER_VARIANT": variant}, events)
           for variant in ["deployed", "metrics_cloudwatch_embedded"]},
    }


def same_answer_env(user, env, events):
    """The environment that makes the trivial function answer what `user` answers to `events`."""
    _, answer = measure_answering(user, env, events[:5], events[5:10])
    return {"TRIVIAL_ANSWER": json.dumps({"headers": answer["headers"], "body": answer["body"]})}


def save(results, path):
    if path:
        with open(path, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
