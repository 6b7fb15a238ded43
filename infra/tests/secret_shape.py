"""Each provider's secret, as each template creates it and infra/README.md tells users to fill it.

For each template and each `AuthProvider` (descope against the local issuer, oidc against panva's certified
`oidc-provider` run by tests/interop/oidc-provider.mjs), the stack's parameters are set as a user deploying
with that provider sets them, the secret is created in moto server with the SecretString the template itself
gives it, and the real token function (IAM route, `POST /m2m/token/iam`) proves:

  * the secret unfilled, or filled in the *other* provider's shape, is the contract's generic 500, and neither
    the answer nor the function's log holds the secret;
  * filled with `put-secret-value` exactly as infra/README.md's "The secret" shows for that provider (the
    members are read from the README's commands), it gets an access token issued by that provider, which the
    user function of the same template accepts (200), while a token-less call is a 401;
  * filled by editing the values of the members the template created (as in the console), it works too.

With oidc, the page's request (the template's ProjectId as `projectId` and a client secret a person typed) gets
that client's token on the public route with the templates' defaults: a client id is no credential override.

A template or README that gives a provider the other's shape fails here. Used by deployed_shape.py.
"""
from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
from typing import Any, Callable

from lambda_harness import STACK_KEY_PRINCIPALS, Invocation, TemplateValues, http_api_event, iam_identity

#: The resource (audience) oidc-provider issues tokens for, and its clients (tests/interop/oidc-provider.mjs).
OIDC_AUDIENCE = "https://api.m2m.local/"
OIDC_CLIENT = ("m2m-full", "full-secret:with/special+chars%")  # the stack's own client, in the secret
OIDC_PAGE_CLIENT = ("m2m-reader", "reader-secret")  # ProjectId, and what a person types into the page
GENERIC_500 = "Server misconfigured; see the function's logs"
PROVIDERS = ("descope", "oidc")


class OidcProvider:
    """`node tests/interop/oidc-provider.mjs --exit-with-stdin` on a free 127.0.0.1 port; its standard input
    stays open until `close`, so it also ends when this process dies."""

    def __init__(self, script: str, seconds: float = 60) -> None:
        self.errors = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(["node", script, "--exit-with-stdin"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self.errors, start_new_session=True)
        except OSError as error:
            raise AssertionError(f"cannot run node ({error}): needs Node.js 20+ and `npm ci --prefix tests`") \
                from None
        ready: "queue.Queue[str]" = queue.Queue()
        threading.Thread(target=lambda: ready.put(self.proc.stdout.readline().decode()), daemon=True).start()
        try:
            line = ready.get(timeout=seconds)
        except queue.Empty:
            line = ""
        if not line.startswith("READY "):
            self.close(keep_errors=True)
            self.errors.seek(0)
            stderr = self.errors.read()[-2000:].decode(errors="replace")
            self.errors.close()
            raise AssertionError(f"{script} did not print READY (are the npm packages installed: `npm ci "
                                 f"--prefix tests`?): {line!r} {stderr}")
        self.issuer = line.split()[1]

    def close(self, keep_errors: bool = False) -> None:
        self.proc.stdin.close()  # --exit-with-stdin: it stops itself
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc.stdout.close()
        if not keep_errors:
            self.errors.close()


def template_secret_string(template: dict, parameters: dict[str, str]) -> str:
    """The SecretString the template gives the secret it creates, with these parameters."""
    values = TemplateValues(template, parameters)
    secret = next(r for r in template["Resources"].values() if r.get("Type") == "AWS::SecretsManager::Secret")
    props = secret["Properties"]
    if "SecretString" in props:
        return str(values.value(props["SecretString"]))
    generated = props["GenerateSecretString"]  # a template that lets Secrets Manager generate the value
    return str(values.value(generated["SecretStringTemplate"]))


def documented_members(readme: str, provider: str) -> list[str]:
    """The members infra/README.md's "The secret" fills with `put-secret-value` for `provider`, in order."""
    section = readme.split("### The secret", 1)[-1].split("\n### ", 1)[0]
    found = re.search(rf"# AuthProvider={provider}\n\s*aws secretsmanager put-secret-value[^']*"
                      r"--secret-string '([^']*)'", section)
    assert found, f"infra/README.md's 'The secret' has no put-secret-value command for AuthProvider={provider}"
    members = list(json.loads(found.group(1)))
    assert len(members) == 2, f"README, AuthProvider={provider}: {found.group(1)}"
    return members


def filled(members: list[str], credentials: tuple[str, str]) -> str:
    """The secret's value with the (id, key) credentials in these members, id first as the README writes it."""
    return json.dumps(dict(zip(members, credentials)))


def deployable(template: dict, parameters: dict[str, str]) -> None:
    """CloudFormation would accept these values (AllowedValues, AllowedPattern), local http URLs aside."""
    declared = template.get("Parameters") or {}
    missing = set(parameters) - set(declared)
    assert not missing, f"the template has no parameter {sorted(missing)}"
    for name, value in parameters.items():
        spec = declared[name]
        if "AllowedValues" in spec:
            assert value in [str(v) for v in spec["AllowedValues"]], f"{name}={value!r}: {spec['AllowedValues']}"
        if "AllowedPattern" in spec and not value.startswith("http://127.0.0.1:"):
            assert re.fullmatch(spec["AllowedPattern"], value), f"{name}={value!r}: {spec['AllowedPattern']}"


def secret_shape_checks(templates: list[tuple[str, dict]], new_stack: Callable[..., Any], client: Any,
                        check: Callable[[str, Callable[[], None]], None], descope: dict[str, Any],
                        provider_script: str, readme_path: str) -> None:
    """Every check, for each template and provider. `new_stack(label, template, secret_arn, parameters)` makes
    a deployed_shape.Stack; `descope` gives the local issuer's `url`, `project_id` and the stack's `key`."""
    with open(readme_path, encoding="utf-8") as f:
        readme = f.read()
    provider: OidcProvider | None = None

    def start() -> None:
        nonlocal provider
        provider = OidcProvider(provider_script)
    check("the OIDC provider (tests/interop/oidc-provider.mjs) starts on 127.0.0.1", start)
    try:
        for label, template in templates:
            for name in PROVIDERS:
                if name == "oidc" and provider is None:
                    continue  # the provider's own check failed, and with it the run
                try:
                    one_stack(label, template, name, provider, new_stack, client, check, descope, readme)
                except Exception as error:  # noqa: BLE001 - a stack that cannot start is one failed check
                    def fail(error: Exception = error) -> None:
                        raise error
                    check(f"{label}, AuthProvider={name}: the stack starts", fail)
    finally:
        if provider is not None:
            provider.close()


def one_stack(label: str, template: dict, name: str, provider: OidcProvider | None, new_stack: Callable[..., Any],
              client: Any, check: Callable[[str, Callable[[], None]], None], descope: dict[str, Any],
              readme: str) -> None:
    """One template deployed with one provider: its parameters, its created secret, three checks."""
    if name == "oidc":
        assert provider is not None
        parameters = {"ProjectId": OIDC_PAGE_CLIENT[0], "AuthProvider": "oidc", "OidcIssuer": provider.issuer,
                      "JwtAudience": OIDC_AUDIENCE, "StackKeyPrincipals": STACK_KEY_PRINCIPALS}
        credentials = OIDC_CLIENT
    else:
        parameters = {"ProjectId": descope["project_id"], "DescopeBaseUrl": descope["url"],
                      "StackKeyPrincipals": STACK_KEY_PRINCIPALS}
        credentials = (descope["project_id"], descope["key"])
    title = f"{label}, AuthProvider={name}"
    other = next(p for p in PROVIDERS if p != name)
    deployable(template, parameters)
    created = template_secret_string(template, parameters)
    arn = client.create_secret(Name=f"descope-m2m-{label.lower()}-{name}-shape", SecretString=created)["ARN"]
    stack = new_stack(title, template, arn, parameters)

    def iam_exchange(value: str) -> tuple[Invocation, str]:
        """The secret set to `value`, then the IAM route's answer from a new token container (a warm one keeps
        what it read for SecretCacheSeconds), and that container's log."""
        client.put_secret_value(SecretId=arn, SecretString=value)
        old = stack.processes.pop("token", None)
        if old is not None:
            old.close()
        event = http_api_event("POST", "/m2m/token/iam", {"content-type": "application/json"},
                               json.dumps({"scopes": ["read:data"]}), iam=iam_identity())
        answer = stack.function("token").invoke(event)
        return answer, stack.processes["token"].quiet_output()

    def refused() -> None:
        for value in [created, filled(documented_members(readme, other), credentials)]:
            answer, log = iam_exchange(value)
            assert answer.kind == "response" and answer.status == 500, f"{value[:40]}: {answer}"
            assert (answer.body or {}).get("error") == GENERIC_500 and "jwt" not in answer.body, answer
            for where, text in [("answer", answer.raw.decode(errors="replace")), ("log", log)]:
                assert credentials[1] not in text, f"the {where} holds the secret"

    def granted(value: str) -> None:
        answer, _ = iam_exchange(value)
        assert answer.status == 200, answer
        jwt = answer.body["jwt"]
        claims = answer.body["decodedPayload"]
        if name == "oidc":
            assert provider is not None
            assert claims.get("iss") == provider.issuer and claims.get("aud") == OIDC_AUDIENCE, claims
            assert claims.get("client_id") == credentials[0], f"not the secret's client: {claims}"
        else:
            assert claims.get("iss", "").startswith(descope["url"]), claims
            assert credentials[0] in claims.get("iss", ""), claims
        user = stack.function("user")
        answer = user.invoke(http_api_event("POST", "/api/user", {"authorization": f"Bearer {jwt}"}, ""))
        assert answer.status == 200, answer
        answer = user.invoke(http_api_event("POST", "/api/user", {}, ""))
        assert answer.status == 401 and answer.body.get("success") is False, answer

    def page_request() -> None:
        """The page sends config.json's projectId (the template's ProjectId) with the client secret a person
        typed, on the public route: with the templates' defaults (no overrides) that client's own token."""
        body = json.dumps({"projectId": OIDC_PAGE_CLIENT[0], "accessKey": OIDC_PAGE_CLIENT[1],
                           "scopes": ["read:data"]})
        answer = stack.function("token").invoke(
            http_api_event("POST", "/m2m/token", {"content-type": "application/json"}, body))
        assert answer.status == 200, answer
        assert answer.body["decodedPayload"].get("client_id") == OIDC_PAGE_CLIENT[0], answer.body

    try:
        if name == "oidc":
            check(f"{title}: the page's request (ProjectId and a typed client secret) gets that client's token",
                  page_request)
        check(f"{title}: the created secret unfilled, or in the {other} shape, is a generic 500 without the secret",
              refused)
        check(f"{title}: the secret filled as infra/README.md says gets the provider's token on the IAM route; "
              "user accepts it, 401 without", lambda: granted(filled(documented_members(readme, name), credentials)))
        check(f"{title}: the created secret with its own members' values filled in (console) works too",
              lambda: granted(filled(list(json.loads(created)), credentials)))
    finally:
        stack.close()
