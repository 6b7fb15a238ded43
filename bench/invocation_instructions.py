#!/usr/bin/env python3
"""Instructions per warm invocation, in user space, counted by valgrind's callgrind: the measure this machine's
noise cannot move (bench/invocation_cpu.py's on-CPU time varies by a few percent from round to round, and the
kernel's share of it, the Runtime API's loopback TCP, is the same for every function).

The same harness, events and cases as bench/invocation_cpu.py: each function runs under callgrind, is handed
--warmup events, its counts are zeroed, it is handed --n more and its counts dumped; the total divided by --n
is what one warm invocation executes (the runtime loop, event parsing, the handler, the answer, the log line).
Needs valgrind (`apt-get install valgrind`); about a minute per case.

Cases: those of bench/invocation_cpu.py but Node's (trivial, trivial_same_answer, user_repeated, user_new,
user_no_cache, user_variants_deployed, user_lambda_http_adapter, user_tracing_request_line,
user_metrics_crate_deployed, user_metrics_crate_metrics_cloudwatch_embedded).

    python3 bench/invocation_instructions.py [--n 1000] [--warmup 50] [--bin-dir target/release]
                                             [--cases trivial,trivial_same_answer,user_repeated]
                                             [--json out.json]
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coldstart import ROOT, Run, RuntimeApiServer, function_env, start_issuer  # noqa: E402
from invocation_cpu import (  # noqa: E402
    distinct_token, feed, same_answer_env, save, user_event, variant_plans)


def instructions(command, env, warmup_events, events, work):
    """User-space instructions per event of `events`, handed over after `warmup_events`, in one process."""
    run = Run([])
    server = RuntimeApiServer(run)
    out = os.path.join(work, "callgrind.out")
    env = {**env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}"}
    process = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        feed(run, warmup_events, 600)
        subprocess.run(["callgrind_control", "--zero", str(process.pid)], check=True, capture_output=True)
        feed(run, events, 600)
        subprocess.run(["callgrind_control", "--dump", str(process.pid)], check=True, capture_output=True)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        run.events.put(None)
        server.shutdown()
    dumps = sorted(p for p in os.listdir(work) if p.startswith("callgrind.out."))
    if not dumps:
        raise RuntimeError(f"callgrind wrote no dump for {command[-1]}")
    text = open(os.path.join(work, dumps[-1])).read()
    for name in dumps:
        os.remove(os.path.join(work, name))
    total = re.search(r"^summary:\s+(\d+)", text, re.M) or re.search(r"^totals:\s+(\d+)", text, re.M)
    return int(total.group(1)) / len(events)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="measured events")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--bin-dir", default=os.path.join(ROOT, "target", "release"))
    parser.add_argument("--cases", default="trivial,trivial_same_answer,user_repeated")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    cases = args.cases.split(",")
    issuer, base_url = start_issuer(args.bin_dir)
    work = tempfile.mkdtemp()
    try:
        total = args.warmup + args.n
        token = distinct_token(base_url, -1)
        repeated = [user_event(token)] * total
        new = [user_event(distinct_token(base_url, n)) for n in range(total)] \
            if any(case in cases for case in ("user_new", "user_no_cache")) else []
        env = function_env("user", base_url, None)
        trivial = [os.path.join(args.bin_dir, "examples", "trivial_lambda")]
        user = [os.path.join(args.bin_dir, "user")]
        same_answer = same_answer_env(user, env, repeated) if "trivial_same_answer" in cases else {}
        plans = {
            "trivial": (trivial, env, repeated),
            "trivial_same_answer": (trivial, {**env, **same_answer}, repeated),
            "user_repeated": (user, env, repeated),
            "user_new": (user, env, new),
            "user_no_cache": (user, {**env, "VERIFIED_TOKEN_CACHE_ENTRIES": "0"}, new),
            **variant_plans(args.bin_dir, env, repeated),
        }
        results = {"n": args.n, "warmup": args.warmup, "cases": {}}
        for case in cases:
            command, case_env, events = plans[case]
            count = instructions(command, case_env, events[:args.warmup], events[args.warmup:], work)
            results["cases"][case] = {"instructions": count}
    finally:
        issuer.terminate()
        shutil.rmtree(work, ignore_errors=True)
    floor = results["cases"].get("trivial", {}).get("instructions")
    for case, entry in results["cases"].items():
        if floor:
            entry["x_trivial"] = entry["instructions"] / floor
        print(f"{case:19} {entry['instructions']:9,.0f} instructions per invocation"
              + (f"  {entry['x_trivial']:.3f}× trivial" if floor else ""))
    save(results, args.json)


if __name__ == "__main__":
    sys.exit(main())
