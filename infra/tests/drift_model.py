"""What a template deploys, reduced to one shape for the SAM template (before its transform) and the CDK synth
output, so that check_drift.py can compare the two and check both against the project's rules.

Normalisation: references to the deployed functions, the HTTP API, its stage and the Lambda authorizer become
the placeholders "<fn:NAME>", "<api>", "<stage>", "<authorizer>" (the two templates give them different logical
ids); a Fn::Join of literals and references becomes the Fn::Sub string it stands for.
"""
from __future__ import annotations

import copy
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


# ----------------------------------------------------------------------------------------------- loading
class CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short-form tags (!Ref, !Sub, ...) into their long form."""


def _construct_tag(loader: CfnLoader, suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


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
        doc = tomllib.load(f)
    router = doc["workspace"]["metadata"]["lambda"]["watch"]["router"]
    routes: dict[tuple[str, str], str] = {}
    for path, entries in router.items():
        if path in LOCAL_ONLY_PATHS:
            continue
        for entry in entries if isinstance(entries, list) else [entries]:
            routes[(str(entry.get("method", "ANY")).upper(), path)] = entry["function"]
    return routes


def strip_test_modules(source: str) -> str:
    """Drop `#[cfg(test)] mod ... { ... }` blocks: a variable named only in a unit test is not read."""
    out, i = [], 0
    pattern = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{")
    while True:
        m = pattern.search(source, i)
        if not m:
            out.append(source[i:])
            return "".join(out)
        out.append(source[i : m.start()])
        depth, j = 1, m.end()
        while j < len(source) and depth:
            depth += {"{": 1, "}": -1}.get(source[j], 0)
            j += 1
        i = j


ENV_LITERAL = re.compile(
    r'"((?:DESCOPE|JWT|JWKS|SECRET|ALLOW|ALLOWED|CORS|AUTH|AUTHORIZER|OIDC|METRICS|RUST|STACK|ISSUED)_[A-Z_]*)"'
)


def env_literals(repo: str) -> set[str]:
    names: set[str] = set()
    files = glob.glob(os.path.join(repo, "shared", "*", "src", "**", "*.rs"), recursive=True)
    files += glob.glob(os.path.join(repo, "functions", "*", "src", "**", "*.rs"), recursive=True)
    for path in files:
        with open(path, encoding="utf-8") as f:
            names.update(ENV_LITERAL.findall(strip_test_modules(f.read())))
    return names


def function_packages(repo: str) -> set[str]:
    """The function binaries the repository has: functions/<name>/Cargo.toml."""
    return {os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(repo, "functions", "*", "Cargo.toml"))}


# ----------------------------------------------------------------------------------------------- helpers
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
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            return value["Ref"]
        getatt = value.get("Fn::GetAtt")
        if isinstance(getatt, list) and getatt:
            return getatt[0]
        if isinstance(getatt, str):
            return getatt.split(".", 1)[0]
    return None


def refs_in(value: Any) -> set[str]:
    """Every logical id / parameter a value refers to (Ref, GetAtt, Sub variables)."""
    found: set[str] = set()
    for _, d in walk(value):
        t = ref_target(d)
        if t:
            found.add(t)
        if "Fn::Sub" in d:
            sub = d["Fn::Sub"]
            text, local = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1] if len(sub) > 1 else {})
            for var in re.findall(r"\$\{([^!}][^}]*)\}", text):
                name = var.split(".", 1)[0]
                if name not in local:
                    found.add(name)
    return found


def flatten_name(value: Any) -> str:
    """A name as text: a literal, a Fn::Sub string, or a Fn::Join of literals and references."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Fn::Sub" in value:
            sub = value["Fn::Sub"]
            return sub if isinstance(sub, str) else sub[0]
        if "Fn::Join" in value:
            sep, parts = value["Fn::Join"]
            return sep.join(flatten_name(p) for p in parts)
        t = ref_target(value)
        if t:
            return "${" + t + "}"
    return ""


def actions_of(statement: dict) -> list[str]:
    a = statement.get("Action", [])
    return a if isinstance(a, list) else [a]


def resources_of_type(t: dict, *types: str) -> dict[str, dict]:
    return {lid: r for lid, r in (t.get("Resources") or {}).items() if r.get("Type") in types}


# ----------------------------------------------------------------------------------------------- model
class Model:
    """What a template deploys, in a shape both templates reduce to."""

    def __init__(self, label: str, template: dict, errors: list[str], functions: tuple[str, ...]):
        self.label = label
        self.t = template
        self.resources: dict[str, dict] = template.get("Resources", {}) or {}
        self.errors = errors
        self.expected_functions = functions
        self.functions: dict[str, dict] = {}  # name -> {"id", "props", "resource"}
        self.routes: dict[tuple[str, str], str] = {}  # (METHOD, path) -> function
        self.route_auth: dict[tuple[str, str], str] = {}  # (METHOD, path) -> none | iam | authorizer:<fn>
        self.authorizers: dict[str, dict] = {}  # name -> normalised settings
        apis = [lid for lid, r in self.resources.items() if r.get("Type") in API_TYPES]
        self.api_id = apis[0] if len(apis) == 1 else None
        if self.api_id is None:
            self.err(f"want exactly one HTTP API, found {len(apis)}")
        self._find_functions()
        self._find_authorizers()
        self._find_routes()

    def err(self, msg: str) -> None:
        self.errors.append(f"{self.label}: {msg}")

    def _globals(self) -> dict:
        return ((self.t.get("Globals") or {}).get("Function") or {}) if "Globals" in self.t else {}

    def effective_props(self, props: dict) -> dict:
        merged = copy.deepcopy(self._globals())
        for k, v in props.items():
            if k == "Environment":
                variables = dict((merged.get("Environment") or {}).get("Variables") or {})
                variables.update((v or {}).get("Variables") or {})
                merged["Environment"] = {"Variables": variables}
            else:
                merged[k] = v
        return merged

    # ------------------------------------------------------------------- normalisation
    def placeholder(self, lid: str | None) -> str | None:
        if lid is None:
            return None
        base = lid.split(".", 1)[0]
        for name, f in self.functions.items():
            if f["id"] == base:
                return f"<fn:{name}>"
        if base == self.api_id:
            return "<stage>" if lid.endswith(".Stage") else "<api>"
        r = self.resources.get(base) or {}
        if r.get("Type") == "AWS::ApiGatewayV2::Stage":
            return "<stage>"
        if r.get("Type") == "AWS::ApiGatewayV2::Authorizer":
            return "<authorizer>"
        return None

    def norm(self, value: Any) -> Any:
        """A template value with logical ids that differ between SAM and CDK replaced by placeholders."""
        if isinstance(value, list):
            return [self.norm(v) for v in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"} and isinstance(value["Ref"], str):
            p = self.placeholder(value["Ref"])
            return p if p else value
        if set(value) == {"Fn::GetAtt"}:
            lid = ref_target(value)
            p = self.placeholder(lid)
            if p:
                attr = value["Fn::GetAtt"][1] if isinstance(value["Fn::GetAtt"], list) else lid.split(".", 1)[1]
                return f"{p}.{attr}"
            return value
        if set(value) == {"Fn::Join"} and value["Fn::Join"][0] == "" and all(
            isinstance(p, str) or (isinstance(p, dict) and ref_target(p)) for p in value["Fn::Join"][1]
        ):
            text = "".join(p if isinstance(p, str) else self._sub_var(p) for p in value["Fn::Join"][1])
            return {"Fn::Sub": text}
        if set(value) == {"Fn::Sub"}:
            sub = value["Fn::Sub"]
            if isinstance(sub, str):
                return {"Fn::Sub": re.sub(r"\$\{([^!}][^}]*)\}", lambda m: self._sub_text(m.group(1)), sub)}
            return {"Fn::Sub": [sub[0], {k: self.norm(v) for k, v in (sub[1] if len(sub) > 1 else {}).items()}]}
        return {k: self.norm(v) for k, v in value.items()}

    def _sub_var(self, ref: dict) -> str:
        lid = ref_target(ref)
        if isinstance(ref.get("Fn::GetAtt"), list):
            lid = ".".join(ref["Fn::GetAtt"])
        return self._sub_text(lid)

    def _sub_text(self, var: str) -> str:
        base, _, attr = var.partition(".")
        p = self.placeholder(base)
        if p:
            return "${" + p + (f".{attr}" if attr else "") + "}"
        return "${" + var + "}"

    # ------------------------------------------------------------------- discovery
    def _find_functions(self) -> None:
        for lid, r in self.resources.items():
            if r.get("Type") not in FUNCTION_TYPES:
                continue
            props = self.effective_props(r.get("Properties") or {})
            name_text = flatten_name(props.get("FunctionName"))
            m = re.search(r"-([a-z]+)$", name_text)
            name = m.group(1) if m else None
            if name in self.expected_functions:
                if name in self.functions:
                    self.err(f"two functions named *-{name}: {self.functions[name]['id']} and {lid}")
                self.functions[name] = {"id": lid, "props": props, "resource": r}
            elif r.get("Type") == "AWS::Serverless::Function" or str(props.get("Runtime", "")).startswith(
                "provided"
            ):
                self.err(f"function {lid} ({name_text or 'no FunctionName'}) is not one of {self.expected_functions}")
        for name in self.expected_functions:
            if name not in self.functions:
                self.err(f"no function named <stack>-{name}")

    def name_of_function_id(self, lid: str | None) -> str | None:
        for name, f in self.functions.items():
            if f["id"] == lid:
                return name
        return None

    def _function_in(self, value: Any) -> str | None:
        for target in refs_in(value):
            name = self.name_of_function_id(target)
            if name:
                return name
        return None

    def _find_authorizers(self) -> None:
        # SAM: Auth.Authorizers of the AWS::Serverless::HttpApi.
        api = self.resources.get(self.api_id or "") or {}
        if api.get("Type") == "AWS::Serverless::HttpApi":
            auth = (api.get("Properties") or {}).get("Auth") or {}
            for name, a in (auth.get("Authorizers") or {}).items():
                identity = a.get("Identity") or {}
                sources = [f"$request.header.{h}" for h in identity.get("Headers") or []]
                sources += [f"$request.querystring.{q}" for q in identity.get("QueryStrings") or []]
                sources += [f"$stageVariables.{s}" for s in identity.get("StageVariables") or []]
                sources += [f"$context.{c}" for c in identity.get("Context") or []]
                self.authorizers[name] = {
                    "function": self._function_in(a.get("FunctionArn")),
                    "type": "REQUEST" if a.get("FunctionArn") else "JWT",
                    "payload": str(a.get("AuthorizerPayloadFormatVersion")),
                    "simple": a.get("EnableSimpleResponses") is True,
                    "identity": sources,
                    "ttl": self.norm(identity.get("ReauthorizeEvery")),
                    "invoke_role": a.get("FunctionInvokeRole"),
                    "default_permissions": a.get("EnableFunctionDefaultPermissions"),
                }
        # CloudFormation / CDK: AWS::ApiGatewayV2::Authorizer.
        for lid, r in resources_of_type(self.t, "AWS::ApiGatewayV2::Authorizer").items():
            p = r.get("Properties") or {}
            self.authorizers[str(p.get("Name", lid))] = {
                "function": self._function_in(p.get("AuthorizerUri")),
                "type": p.get("AuthorizerType"),
                "payload": str(p.get("AuthorizerPayloadFormatVersion")),
                "simple": p.get("EnableSimpleResponses") is True,
                "identity": list(p.get("IdentitySource") or []),
                "ttl": self.norm(p.get("AuthorizerResultTtlInSeconds")),
                "invoke_role": p.get("AuthorizerCredentialsArn"),
                "default_permissions": None,
                "id": lid,
            }

    def _add_route(self, method: str, path: str, fn: str | None, auth: str, where: str) -> None:
        key = (method.upper(), path)
        if key in self.routes:
            self.err(f"route {method} {path} declared twice ({where})")
        self.routes[key] = fn or "?"
        self.route_auth[key] = auth

    def _authorizer_label(self, name: str | None) -> str:
        a = self.authorizers.get(name or "")
        return f"authorizer:{a['function']}" if a else f"unknown authorizer {name!r}"

    def _find_routes(self) -> None:
        # SAM: HttpApi events on the functions.
        for lid, r in self.resources.items():
            if r.get("Type") != "AWS::Serverless::Function":
                continue
            fn = self.name_of_function_id(lid)
            for ename, event in ((r.get("Properties") or {}).get("Events") or {}).items():
                if event.get("Type") != "HttpApi":
                    self.err(f"{lid} event {ename} is {event.get('Type')}, not HttpApi")
                    continue
                p = event.get("Properties") or {}
                api = ref_target(p.get("ApiId"))
                if api is None or (self.resources.get(api) or {}).get("Type") != "AWS::Serverless::HttpApi":
                    self.err(f"{lid} event {ename}: ApiId does not Ref the template's AWS::Serverless::HttpApi")
                if str(p.get("PayloadFormatVersion", "2.0")) != "2.0":
                    self.err(f"{lid} event {ename}: payload format {p.get('PayloadFormatVersion')}, want 2.0")
                authorizer = (p.get("Auth") or {}).get("Authorizer")
                auth = ("none" if authorizer in (None, "NONE") else "iam" if authorizer == "AWS_IAM"
                        else self._authorizer_label(authorizer))
                self._add_route(str(p.get("Method", "ANY")), str(p.get("Path")), fn, auth, f"{lid}.{ename}")
        # CloudFormation / CDK: AWS::ApiGatewayV2::Route -> Integration -> function.
        authorizer_names = {a.get("id"): name for name, a in self.authorizers.items() if a.get("id")}
        for lid, r in resources_of_type(self.t, "AWS::ApiGatewayV2::Route").items():
            p = r.get("Properties") or {}
            method, _, path = str(p.get("RouteKey", "")).partition(" ")
            integration = next((t for t in refs_in(p.get("Target")) if t in self.resources), None)
            integ = (self.resources.get(integration) or {}).get("Properties") or {}
            if integration is None:
                self.err(f"route {lid} has no integration target")
            elif str(integ.get("PayloadFormatVersion")) != "2.0":
                self.err(f"route {p.get('RouteKey')}: payload format {integ.get('PayloadFormatVersion')}, want 2.0")
            fn = self.name_of_function_id(ref_target(integ.get("IntegrationUri")))
            kind = p.get("AuthorizationType", "NONE")
            auth = ("none" if kind == "NONE" else "iam" if kind == "AWS_IAM"
                    else self._authorizer_label(authorizer_names.get(ref_target(p.get("AuthorizerId"))))
                    if kind == "CUSTOM" else f"unsupported {kind}")
            self._add_route(method, path, fn, auth, lid)

    # ------------------------------------------------------------------- stage settings
    def stage_settings(self) -> dict:
        """Throttling and access logs of the API's stage, normalised."""
        api = self.resources.get(self.api_id or "") or {}
        if api.get("Type") == "AWS::Serverless::HttpApi":
            p = api.get("Properties") or {}
            source = {"DefaultRouteSettings": p.get("DefaultRouteSettings"), "RouteSettings": p.get("RouteSettings"),
                      "AccessLogSettings": p.get("AccessLogSettings")}
        else:
            stages = [r for r in resources_of_type(self.t, "AWS::ApiGatewayV2::Stage").values()
                      if ref_target((r.get("Properties") or {}).get("ApiId")) == self.api_id]
            p = (stages[0].get("Properties") or {}) if stages else {}
            source = {"DefaultRouteSettings": p.get("DefaultRouteSettings"), "RouteSettings": p.get("RouteSettings"),
                      "AccessLogSettings": p.get("AccessLogSettings")}
        out = {k: self.norm(v) for k, v in source.items()}
        fmt = (out.get("AccessLogSettings") or {}).get("Format")
        if isinstance(fmt, str):
            try:
                out["AccessLogSettings"]["Format"] = json.loads(fmt.replace("\n", ""))
            except ValueError:
                pass
        return out

    def api_property(self, name: str) -> Any:
        api = self.resources.get(self.api_id or "") or {}
        return self.norm((api.get("Properties") or {}).get(name))
