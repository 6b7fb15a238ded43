"""What an operator gets from the deployed functions: with Lambda's logging controls as the template sets them
(JSON format) every line is JSON with an RFC 3339 millisecond `timestamp` and a `level`; each request gives an
INFO `request` line (hidden at WARN) with the request id and trace id, and one CloudWatch Embedded Metric
Format line that validates, whose counts match the requests sent (granted and refused told apart) and whose
dimension values are the function's name and a fixed outcome, never anything from a request or a token.

Used by deployed_shape.py on the real release binaries under the test's Lambda Runtime API.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone
from typing import Any, Callable

from lambda_harness import http_api_event

LEVELS = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
OUTCOMES = {
    "granted", "issued", "preflight", "missing_authorization", "access_key_required", "invalid_token_expired",
    "invalid_token_signature", "invalid_token_claims", "invalid_token_malformed", "insufficient_grant",
    "keys_unavailable", "bad_request", "authentication_failed", "provider_error", "provider_timeout",
    "secret_unavailable", "method_not_allowed", "not_found", "principal_not_allowed", "internal_error",
}
METRICS = {"Requests": "Count", "Latency": "Milliseconds", "JwksFetches": "Count", "JwksFetchFailures": "Count",
           "SecretReadFailures": "Count", "VerifiedTokenCacheHits": "Count", "VerifiedTokenCacheMisses": "Count",
           "VerifiedTokenCacheEvictions": "Count", "IssuedTokenCacheHits": "Count",
           "IssuedTokenCacheMisses": "Count"}
#: The AWS credentials the harness gives every function: no line at any level may hold them.
AWS_CREDENTIALS = ["deployed-shape-not-a-secret", "deployed-shape-session"]


def json_line(line: str) -> dict:
    """`line` parsed, with a parsable millisecond timestamp (within a day of now) and a known level."""
    try:
        document = json.loads(line)
    except ValueError:
        raise AssertionError(f"not a JSON line: {line[:300]}") from None
    assert isinstance(document, dict), line[:300]
    stamp = document.get("timestamp")
    assert isinstance(stamp, str) and TIMESTAMP.fullmatch(stamp), f"timestamp {stamp!r}: {line[:300]}"
    at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert abs((datetime.now(timezone.utc) - at).total_seconds()) < 86400, line[:300]
    assert document.get("level") in LEVELS, f"level {document.get('level')!r}: {line[:300]}"
    return document


def emf(document: dict, function: str, namespace: str) -> dict:
    """Checks `document` as an EMF document of `function` (the specification's structure, our names)."""
    metadata = document.get("_aws")
    assert isinstance(metadata, dict), document
    assert isinstance(metadata.get("Timestamp"), int), document
    assert abs(metadata["Timestamp"] / 1000 - time.time()) < 3600, document
    declared: dict[str, str] = {}
    for directive in metadata.get("CloudWatchMetrics") or []:
        assert directive.get("Namespace") == namespace, document
        for dimensions in directive["Dimensions"]:
            assert set(dimensions) <= {"Function", "Outcome"}, document
            for name in dimensions:
                assert isinstance(document.get(name), str), document
        for metric in directive["Metrics"]:
            declared[metric["Name"]] = metric["Unit"]
            assert isinstance(document.get(metric["Name"]), (int, float)), document
    assert declared == METRICS, declared
    # Every member: the metadata, the two dimensions, the metrics. Nothing else can carry request data.
    assert set(document) == {"_aws", "timestamp", "level", "Function", "Outcome", *METRICS}, sorted(document)
    assert document["Function"] == function, document
    assert document["Outcome"] in OUTCOMES, document
    return document


def wait_for_lines(process: Any, count: int, seconds: float = 5) -> list[str]:
    """The process's output lines once there are at least `count` (they arrive through a reader thread)."""
    deadline = time.monotonic() + seconds
    while len(process.lines) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return list(process.lines)


def observability_checks(stack: Any, check: Callable[[str, Callable[[], None]], None], level: str,
                         token_event: Callable[..., dict], api_event: Callable[..., dict], page_key: str) -> None:
    """Known requests to the protected function, then its lines and metrics; `level` is the stack's
    application log level (INFO as the templates set it, or WARN)."""
    label = stack.label

    def lines_and_metrics() -> None:
        answer = stack.function("token").invoke(token_event(stack, {"accessKey": page_key}))
        assert answer.status == 200, answer
        jwt = answer.body["jwt"]
        protected = stack.function("protected")
        name = "protected"
        function = f"DescopeM2M-{name}"
        namespace = stack.environment(name).get("METRICS_NAMESPACE") or "M2MAuth"
        sent = [(jwt, "granted"), (jwt, "granted"), ("not-a-jwt", "invalid_token_malformed"),
                (None, "missing_authorization"), (jwt[:-4] + ("AAAA" if not jwt.endswith("AAAA") else "BBBB"),
                                                  "invalid_token_signature")]
        before = len(wait_for_lines(protected, 0, 0))
        metrics_before = sum(1 for line in protected.lines[:before] if '"_aws"' in line)
        for token, _ in sent:
            protected.invoke(api_event(stack, "/api/protected", token))
        lines = wait_for_lines(protected, before + len(sent) * (2 if level == "INFO" else 1))
        documents = [json_line(line) for line in lines if line.strip()]
        new = [json_line(line) for line in lines[before:] if line.strip()]
        metrics = [emf(d, function, namespace) for d in new if "_aws" in d]
        assert [m["Outcome"] for m in metrics] == [outcome for _, outcome in sent], metrics
        assert all(m["Requests"] == 1 and m["level"] == level for m in metrics), metrics
        all_metrics = [emf(d, function, namespace) for d in documents if "_aws" in d]
        assert len(all_metrics) == metrics_before + len(sent)
        # The first request of the process fetched the keys; later ones used the cache.
        assert sum(m["JwksFetches"] for m in all_metrics) >= 1, all_metrics
        assert sum(m["JwksFetchFailures"] for m in all_metrics) == 0, all_metrics
        for text in lines:
            if '"_aws"' in text:
                assert jwt not in text and jwt.split(".")[1][:20] not in text, text
        requests = [d for d in new if d.get("message") == "request"]
        if level == "INFO":
            assert [r["outcome"] for r in requests] == [outcome for _, outcome in sent], requests
            for line in requests:
                assert line["level"] == "INFO" and line["requestId"] and line["xrayTraceId"].startswith("Root=1-"), line
        else:
            assert not requests, f"{level} shows request lines: {requests}"
            assert all(d["level"] not in ("TRACE", "DEBUG", "INFO") for d in new), new
    check(f"{label}: JSON lines with timestamp and level; at {level} the request lines "
          f"{'carry the request and trace ids' if level == 'INFO' else 'are hidden'}; the EMF metrics validate "
          "and count the requests sent by outcome", lines_and_metrics)

    def whoami_lines_and_metrics() -> None:
        # whoami has no ApiLayer (no CORS, GET): its own RequestLog must still log and count each answer.
        whoami = stack.function("whoami")
        namespace = stack.environment("whoami").get("METRICS_NAMESPACE") or "M2MAuth"
        behind_authorizer = http_api_event("GET", "/api/whoami")
        behind_authorizer["requestContext"]["authorizer"] = {
            "lambda": {"sub": "K2Deployed", "grants": "read:data", "exp": 1796116200}}
        sent = [(behind_authorizer, 200, "granted"), (http_api_event("GET", "/api/whoami"), 401, "missing_authorization")]
        before = len(wait_for_lines(whoami, 0, 0))
        for event, status, _ in sent:
            answer = whoami.invoke(event)
            assert answer.status == status, answer
        lines = wait_for_lines(whoami, before + len(sent) * (2 if level == "INFO" else 1))
        new = [json_line(line) for line in lines[before:] if line.strip()]
        outcomes = [outcome for *_, outcome in sent]
        metrics = [emf(d, "DescopeM2M-whoami", namespace) for d in new if "_aws" in d]
        assert [m["Outcome"] for m in metrics] == outcomes, metrics
        requests = [d for d in new if d.get("message") == "request"]
        assert [r["outcome"] for r in requests] == (outcomes if level == "INFO" else []), requests
    check(f"{label}: whoami's answers (with and without the authorizer's context) each give a request line and "
          "an EMF line", whoami_lines_and_metrics)

    def every_line_is_json() -> None:
        for name, process in stack.processes.items():
            for line in process.lines:
                if line.strip():
                    json_line(line)
    check(f"{label}: every line of every function is JSON with a parsable timestamp and a level",
          every_line_is_json)


def no_aws_credentials(stack: Any, check: Callable[[str, Callable[[], None]], None]) -> None:
    def scan() -> None:
        for name, process in stack.processes.items():
            output = process.output()
            for credential in AWS_CREDENTIALS:
                assert credential not in output, f"{name}'s logs hold its AWS credentials"
    check(f"{stack.label}: no AWS credential (the SDK's signing lines) in any log line", scan)
