#!/usr/bin/env python3
"""The stdout lines of bench/metrics-crate-variant, deployed and `metrics_cloudwatch_embedded`, for a few events:
the same token three times (granted), no token (missing_authorization), the same token again (granted).
Run from the repository root: python3 bench/results/session9/capture_metrics_lines.py --bin-dir DIR [--level WARN]
"""
import argparse
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from coldstart import Run, RuntimeApiServer, function_env, start_issuer  # noqa: E402
from invocation_cpu import distinct_token, feed, user_event  # noqa: E402
import json  # noqa: E402
from coldstart import api_gateway_event  # noqa: E402


def lines_of(command, env, events):
    run = Run([])
    server = RuntimeApiServer(run)
    env = {**env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        for event in events:  # one at a time, so the lines come in the events' order
            feed(run, [event], 60)
        # The crate's layer flushes after the runtime has posted the answer: let the last flush happen.
        time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
        run.events.put(None)
        server.shutdown()
    return out.decode()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--level", help="AWS_LAMBDA_LOG_LEVEL")
    args = parser.parse_args()
    issuer, base_url = start_issuer(args.bin_dir)
    try:
        token = distinct_token(base_url, -1)
        granted = user_event(token)
        refused = json.dumps(api_gateway_event("/api/user", {}, None)).encode()
        events = [granted, granted, granted, refused, granted]
        env = function_env("user", base_url, None)
        if args.level:
            env["AWS_LAMBDA_LOG_LEVEL"] = args.level
        command = [os.path.join(args.bin_dir, "metrics-crate-variant")]
        for variant in ["deployed", "metrics_cloudwatch_embedded"]:
            print(f"### USER_VARIANT={variant}" + (f" AWS_LAMBDA_LOG_LEVEL={args.level}" if args.level else ""))
            print(lines_of(command, {**env, "USER_VARIANT": variant}, events), end="")
    finally:
        issuer.terminate()


if __name__ == "__main__":
    sys.exit(main())
