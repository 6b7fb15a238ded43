"""What a template deploys, reduced to one shape for the SAM template (before its transform) and the CDK synth
output, so that check_drift.py can compare the two and check both against the project's rules.

Normalisation: references to the deployed functions, the HTTP API, its stage and the Lambda authorizer become
"<fn:NAME>", "<log:NAME>" (its log group), "<api>", "<stage>", "<authorizer>", and a resource the only one of its
type "<TYPE>" (the two templates give them different logical ids; SAM's ids, which infra/stack.json uses, map to
the same); a Fn::Join of literals and references becomes its Fn::Sub string.
"""
from __future__ import annotations

import glob
import json
import os
import re
import tomllib
from typing import Any

import yaml

API_TYPES = {"AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api"}
FUNCTION_TYPES = {"AWS::Serverless::Function", "AWS::Lambda::Function"}
LOCAL_ONLY_PATHS = {"/", "/{*path}"}  # served by the `page` binary under `cargo lambda watch` only
SUB_VAR = re.compile(r"\$\{([^!}][^}]*)\}")


class CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short-form tags (!Ref, !Sub, ...) into their long form."""


def _construct_tag(loader: CfnLoader, suffix: str, node: yaml.Node) -> Any:
    value: Any = (loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else loader.construct_sequence(
        node, deep=True) if isinstance(node, yaml.SequenceNode) else loader.construct_mapping(node, deep=True))
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value.split(".", 1) if suffix == "GetAtt" and isinstance(
        value, str) else value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_sam(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)


def load_json(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load_router(cargo_toml: str) -> dict[tuple[str, str], str]:
    """(METHOD, path) -> function, from [workspace.metadata.lambda.watch.router], local-only routes excluded."""
    with open(cargo_toml, "rb") as f:
        router = tomllib.load(f)["workspace"]["metadata"]["lambda"]["watch"]["router"]
    return {(str(e.get("method", "ANY")).upper(), path): e["function"] for path, entries in router.items()
            if path not in LOCAL_ONLY_PATHS for e in (entries if isinstance(entries, list) else [entries])}


ENV_LITERAL = re.compile(
    r'"((?:DESCOPE|JWT|JWKS|SECRET|ALLOW|ALLOWED|CORS|AUTH|AUTHORIZER|OIDC|METRICS|RUST|STACK|ISSUED)_[A-Z_]*)"')


def env_literals(repo: str) -> set[str]:
    names: set[str] = set()
    for part in ("shared", "functions"):
        for path in glob.glob(os.path.join(repo, part, "*", "src", "**", "*.rs"), recursive=True):
            with open(path, encoding="utf-8") as f:
                names.update(ENV_LITERAL.findall(f.read().split("#[cfg(test)]")[0]))  # unit tests: at the end
    return names


def function_packages(repo: str) -> set[str]:
    """The function binaries the repository has: functions/<name>/Cargo.toml."""
    return {os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(repo, "functions", "*", "Cargo.toml"))}


def walk(node: Any, path: str = ""):
    """Yield (path, dict) for every mapping in a template."""
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from walk(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}/{i}")


def ref_target(value: Any) -> str | None:
    """The logical id a Ref / Fn::GetAtt names (SAM's `Api.Stage` style references: the part before the dot)."""
    if not isinstance(value, dict):
        return None
    target = value["Ref"] if isinstance(value.get("Ref"), str) else value.get("Fn::GetAtt")
    return target.split(".", 1)[0] if isinstance(target, str) else target[0] if isinstance(target, list) and target else None


def refs_in(value: Any) -> set[str]:
    """Every logical id / parameter a value refers to (Ref, GetAtt, Sub variables)."""
    found: set[str] = set()
    for _, d in walk(value):
        if t := ref_target(d):
            found.add(t)
        if "Fn::Sub" in d:
            sub = d["Fn::Sub"]
            text, local = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1] if len(sub) > 1 else {})
            found |= {v.split(".", 1)[0] for v in SUB_VAR.findall(text) if v.split(".", 1)[0] not in local}
    return found


def flatten_name(value: Any) -> str:
    """A name as text: a literal, a Fn::Sub string, or a Fn::Join of literals and references."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Fn::Sub" in value:
            return value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        if "Fn::Join" in value:
            return value["Fn::Join"][0].join(flatten_name(p) for p in value["Fn::Join"][1])
        if t := ref_target(value):
            return "${" + t + "}"
    return ""


def actions_of(statement: dict) -> list[str]:
    a = statement.get("Action", [])
    return a if isinstance(a, list) else [a]


def resources_of_type(t: dict, *types: str) -> dict[str, dict]:
    return {lid: r for lid, r in (t.get("Resources") or {}).items() if r.get("Type") in types}


class Model:
    """What a template deploys, in a shape both templates reduce to."""

    def __init__(self, label: str, template: dict, errors: list[str], functions: tuple[str, ...]):
        self.label, self.t, self.errors = label, template, errors
        self.resources: dict[str, dict] = template.get("Resources", {}) or {}
        self.functions: dict[str, dict] = {}  # name -> {"id", "props", "resource"}
        self.routes: dict[tuple[str, str], str] = {}  # (METHOD, path) -> function
        self.route_auth: dict[tuple[str, str], str] = {}  # (METHOD, path) -> none | iam | authorizer:<fn>, payload
        self.authorizers: dict[str, dict] = {}  # name -> normalised settings
        apis = [lid for lid, r in self.resources.items() if r.get("Type") in API_TYPES]
        self.api_id = apis[0] if len(apis) == 1 else self.err(f"want exactly one HTTP API, found {len(apis)}")
        glob_fn = ((template.get("Globals") or {}).get("Function") or {})
        for lid, r in self.resources.items():
            props = {**glob_fn, **(r.get("Properties") or {})}
            m = re.search(r"-([a-z]+)$", flatten_name(props.get("FunctionName")))
            if r.get("Type") in FUNCTION_TYPES and m and m.group(1) in functions:
                self.functions[m.group(1)] = {"id": lid, "props": props, "resource": r}
        for name in set(functions) - set(self.functions):
            self.err(f"no function named <stack>-{name}")
        self.ph = {"HttpApi": "<api>", self.api_id: "<api>"}
        for name, f in self.functions.items():
            self.ph[f["id"]] = self.ph[name.capitalize() + "Function"] = f"<fn:{name}>"
            self.ph[ref_target((f["props"].get("LoggingConfig") or {}).get("LogGroup"))] = f"<log:{name}>"
        types, short = [r.get("Type") for r in self.resources.values()], {
            "AWS::ApiGatewayV2::Stage": "<stage>", "AWS::ApiGatewayV2::Authorizer": "<authorizer>"}
        for lid, r in self.resources.items():  # the only one of its type: named by it
            if types.count(r.get("Type")) == 1 or r.get("Type") in short:
                self.ph.setdefault(lid, short.get(r.get("Type"), f"<{r.get('Type')}>"))
        self.ph.pop(None, None)
        self._find_authorizers()
        self._find_routes()

    def err(self, msg: str) -> None:
        self.errors.append(f"{self.label}: {msg}")

    def fn_name(self, lid: str | None) -> str | None:
        return next((name for name, f in self.functions.items() if f["id"] == lid), None)

    def _sub_text(self, var: str) -> str:
        base, _, attr = var.partition(".")
        p = "<stage>" if attr == "Stage" and self.ph.get(base) == "<api>" else self.ph.get(base)
        return "${" + (p + (f".{attr}" if attr and p != "<stage>" else "") if p else var) + "}"

    def norm(self, value: Any) -> Any:
        """A template value with logical ids that differ between SAM and CDK replaced by placeholders."""
        if isinstance(value, list):
            return [self.norm(v) for v in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"} and isinstance(value["Ref"], str) and self.ph.get(value["Ref"].split(".")[0]):
            return self._sub_text(value["Ref"])[2:-1]
        if set(value) == {"Fn::GetAtt"} and self.ph.get(ref_target(value)):
            g = value["Fn::GetAtt"]
            return self._sub_text(".".join(g) if isinstance(g, list) else g)[2:-1]
        if set(value) == {"Fn::Join"} and value["Fn::Join"][0] == "" and all(
                isinstance(p, str) or ref_target(p) for p in value["Fn::Join"][1]):
            return {"Fn::Sub": "".join(p if isinstance(p, str) else self._sub_text(
                ".".join(p["Fn::GetAtt"]) if isinstance(p.get("Fn::GetAtt"), list) else ref_target(p))
                for p in value["Fn::Join"][1])}
        if set(value) == {"Fn::Sub"}:
            sub = value["Fn::Sub"]
            if isinstance(sub, str):
                return {"Fn::Sub": SUB_VAR.sub(lambda m: self._sub_text(m.group(1)), sub)}
            return {"Fn::Sub": [sub[0], {k: self.norm(v) for k, v in (sub[1] if len(sub) > 1 else {}).items()}]}
        return {k: self.norm(v) for k, v in value.items()}

    def _find_authorizers(self) -> None:
        api = (self.resources.get(self.api_id or "") or {}).get("Properties") or {}
        for name, a in ((api.get("Auth") or {}).get("Authorizers") or {}).items():  # SAM: the HttpApi's Auth
            identity = a.get("Identity") or {}
            self.authorizers[name] = {
                "function": self.fn_name(ref_target(a.get("FunctionArn"))), "type": "REQUEST",
                "payload": str(a.get("AuthorizerPayloadFormatVersion")), "simple": a.get("EnableSimpleResponses") is True,
                "identity": [f"$request.header.{h}" for h in identity.get("Headers") or []]
                + [f"$context.{c}" for c in identity.get("Context") or []],
                "ttl": self.norm(identity.get("ReauthorizeEvery")),
                "invoke_role": a.get("FunctionInvokeRole") or a.get("EnableFunctionDefaultPermissions")}
        for lid, r in resources_of_type(self.t, "AWS::ApiGatewayV2::Authorizer").items():  # CDK
            p = r.get("Properties") or {}
            self.authorizers[str(p.get("Name", lid))] = {
                "function": next(filter(None, map(self.fn_name, refs_in(p.get("AuthorizerUri")))), None),
                "type": p.get("AuthorizerType"), "payload": str(p.get("AuthorizerPayloadFormatVersion")),
                "simple": p.get("EnableSimpleResponses") is True, "identity": list(p.get("IdentitySource") or []),
                "ttl": self.norm(p.get("AuthorizerResultTtlInSeconds")),
                "invoke_role": p.get("AuthorizerCredentialsArn"), "id": lid}

    def _add_route(self, method: str, path: str, fn: str | None, kind: str | None, authorizer: str | None,
                   payload: Any) -> None:
        a = self.authorizers.get(authorizer or "")
        auth = ("none" if kind in (None, "NONE") else "iam" if kind == "AWS_IAM" else
                f"authorizer:{a['function']}" if a else f"unknown authorizer {authorizer!r}")
        self.routes[(method.upper(), path)], self.route_auth[(method.upper(), path)] = fn or "?", f"{auth}, {payload}"

    def _find_routes(self) -> None:
        for lid, r in resources_of_type(self.t, "AWS::Serverless::Function").items():  # SAM: HttpApi events
            for event in ((r.get("Properties") or {}).get("Events") or {}).values():
                p = event.get("Properties") or {}
                authorizer = (p.get("Auth") or {}).get("Authorizer")
                self._add_route(str(p.get("Method", "ANY")), str(p.get("Path")), self.fn_name(lid) if event.get(
                    "Type") == "HttpApi" and ref_target(p.get("ApiId")) == self.api_id else None, authorizer if authorizer
                    in (None, "NONE", "AWS_IAM") else "CUSTOM", authorizer, p.get("PayloadFormatVersion", "2.0"))
        names = {a.get("id"): name for name, a in self.authorizers.items() if a.get("id")}
        for r in resources_of_type(self.t, "AWS::ApiGatewayV2::Route").values():  # CDK: Route -> Integration
            p = r.get("Properties") or {}
            integ = (self.resources.get(next(iter(refs_in(p.get("Target"))), "")) or {}).get("Properties") or {}
            method, _, path = str(p.get("RouteKey", "")).partition(" ")
            self._add_route(method, path, self.fn_name(ref_target(integ.get("IntegrationUri"))), p.get(
                "AuthorizationType"), names.get(ref_target(p.get("AuthorizerId"))), integ.get("PayloadFormatVersion"))

    def stage_settings(self) -> dict:
        """Throttling and access logs of the API's stage, normalised."""
        api = self.resources.get(self.api_id or "") or {}
        p = api.get("Properties") or {}
        if api.get("Type") != "AWS::Serverless::HttpApi":
            p = next((r["Properties"] for r in resources_of_type(self.t, "AWS::ApiGatewayV2::Stage").values()
                      if ref_target(r["Properties"].get("ApiId")) == self.api_id), {})
        out = {k: self.norm(p.get(k)) for k in ("DefaultRouteSettings", "RouteSettings", "AccessLogSettings")}
        if isinstance((out.get("AccessLogSettings") or {}).get("Format"), str):
            out["AccessLogSettings"]["Format"] = json.loads(out["AccessLogSettings"]["Format"].replace("\n", ""))
        return out
