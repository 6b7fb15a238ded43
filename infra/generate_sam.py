#!/usr/bin/env python3
"""Writes the parts of infra/template.yaml that come from infra/stack.json, the facts the SAM template and the CDK
app share: the parameters, each function's description and environment, the alarms, the dashboard body and the
CloudFront Content-Security-Policy. Each part sits between two marker comments in the template,

    # >>> generated from stack.json (WHAT) by generate_sam.py: edit stack.json, then run it
    # <<< generated (WHAT)

and is replaced as a whole; the rest of the template is written by hand (as the CDK app is).

Usage: generate_sam.py            rewrite infra/template.yaml
       generate_sam.py --check [--template FILE]   fail (and show the diff) when FILE is not what it would write
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
from typing import Any

INFRA = os.path.dirname(os.path.abspath(__file__))
WIDTH = 118
TAGS = {"Ref": "!Ref", "Fn::If": "!If", "Fn::Sub": "!Sub", "Fn::Join": "!Join", "Fn::Select": "!Select",
        "Fn::Split": "!Split", "Fn::GetAtt": "!GetAtt"}
PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9 _./:@()'-]*$")
RESERVED = {"true", "false", "yes", "no", "on", "off", "y", "n", "null"}
BEGIN = re.compile(r"^(?P<indent> *)# >>> generated from stack\.json \((?P<what>[^)]+)\)")


# ----------------------------------------------------------------------------------------------- the facts
def load_facts(infra: str = INFRA) -> dict:
    with open(os.path.join(infra, "stack.json"), encoding="utf-8") as f:
        return json.load(f)


def stem(name: str) -> str:
    """token -> Token, api-5xx-rate -> Api5xxRate (the logical-id stem)."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("-"))


def function_environment(facts: dict, name: str) -> dict[str, Any]:
    env: dict[str, Any] = {}
    for part in facts["functions"][name]["environment"]:
        env.update(facts["environment"][part] if isinstance(part, str) else part)
    return env


def _fill(value: Any, fn: str) -> Any:
    if isinstance(value, str):
        return value.replace("{fn}", fn).replace("{Fn}", stem(fn))
    if isinstance(value, list):
        return [_fill(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, fn) for k, v in value.items()}
    return value


def alarms(facts: dict) -> list[tuple[str, str, dict]]:
    """(logical id, name after "<stack>-", properties without AlarmName) of every alarm."""
    out = []
    for spec in facts["alarms"]["alarms"]:
        for fn in spec.get("for", [""]):
            name = _fill(spec["name"], fn)
            out.append((stem(name) + "Alarm", name, {**_fill(spec["properties"], fn), **facts["alarms"]["every"]}))
    return out


def sub_of_file(facts: dict, key: str, infra: str = INFRA) -> dict:
    """{"Fn::Sub": [text, variables]} of the dashboard ("dashboard") or the CSP ("contentSecurityPolicy")."""
    spec = facts[key]
    path = os.path.join(infra, spec.get("body") or spec["template"])
    with open(path, encoding="utf-8") as f:
        if key == "dashboard":  # one widget a line: the same JSON as the file, readable in the template
            widgets = json.load(f)["widgets"]
            text = '{"widgets": [\n' + ",\n".join("  " + json.dumps(w, ensure_ascii=False) for w in widgets) + "\n]}\n"
        else:
            text = f.read().strip()
    return {"Fn::Sub": [text, spec["variables"]]}


def sam_parts(facts: dict, infra: str = INFRA) -> dict[str, Any]:
    """What each generated part holds, as CloudFormation values (long form)."""
    parts: dict[str, Any] = {"parameters": facts["parameters"], "csp": sub_of_file(facts, "contentSecurityPolicy", infra),
                             "dashboard": sub_of_file(facts, "dashboard", infra)}
    for name, spec in facts["functions"].items():
        parts[f"function {name}"] = {"Description": spec["description"], "Environment": function_environment(facts, name)}
    parts["alarms"] = {lid: {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": {"Fn::Sub": "${AWS::StackName}-" + name}, **props}} for lid, name, props in alarms(facts)}
    return parts


# ----------------------------------------------------------------------------------------------- YAML
def is_intrinsic(v: Any) -> bool:
    return isinstance(v, dict) and len(v) == 1 and next(iter(v)) in TAGS


def multiline(v: Any) -> bool:
    if isinstance(v, str):
        return "\n" in v
    items = v.values() if isinstance(v, dict) else v if isinstance(v, list) else ()
    return any(multiline(x) for x in items)


def scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if PLAIN.match(v) and ": " not in v and not v.endswith(" ") and v.lower() not in RESERVED:
        return v
    return json.dumps(v, ensure_ascii=False)


def flow(v: Any) -> str:
    if is_intrinsic(v):
        tag, arg = next(iter(v.items()))
        return f"{TAGS[tag]} {flow(arg)}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {flow(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(flow(x) for x in v) + "]"
    return scalar(v)


def folded(text: str, indent: int) -> list[str]:
    lines, line = [], ""
    for word in text.split(" "):
        if line and indent + len(line) + 1 + len(word) > WIDTH:
            lines.append(" " * indent + line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + [" " * indent + line]


def block_list(items: list, indent: int) -> list[str]:
    out, pad = [], " " * indent
    for item in items:
        if isinstance(item, str) and "\n" in item:
            out.append(pad + ("- |" if item.endswith("\n") and not item.endswith("\n\n") else "- |-"))
            out += [(" " * (indent + 2) + line).rstrip() for line in item.rstrip("\n").split("\n")]
        elif isinstance(item, dict) and not is_intrinsic(item):
            lines = block_map(item, indent + 2)
            out += [pad + "- " + lines[0].lstrip()] + lines[1:]
        else:
            out.append(pad + "- " + flow(item))
    return out


def block(key: str, v: Any, indent: int) -> list[str]:
    pad, text = " " * indent, flow(v)
    if isinstance(v, str) and indent + len(key) + 2 + len(text) > WIDTH and "\n" not in v and "  " not in v \
            and v == v.strip():
        return [f"{pad}{key}: >-"] + folded(v, indent + 2)
    if not multiline(v) and (indent + len(key) + 2 + len(text) <= WIDTH or not isinstance(v, (dict, list))):
        return [f"{pad}{key}: {text}"]
    if is_intrinsic(v) and isinstance(next(iter(v.values())), list):
        tag, arg = next(iter(v.items()))
        return [f"{pad}{key}: {TAGS[tag]}"] + block_list(arg, indent + 2)
    if isinstance(v, dict) and not is_intrinsic(v):
        return [f"{pad}{key}:"] + block_map(v, indent + 2)
    if isinstance(v, list):
        return [f"{pad}{key}:"] + block_list(v, indent + 2)
    return [f"{pad}{key}: {text}"]


def block_map(d: dict, indent: int) -> list[str]:
    return [line for k, v in d.items() for line in block(k, v, indent)]


def render(what: str, value: Any, indent: int) -> list[str]:
    if what == "parameters":
        return ["Parameters:"] + block_map(value, indent + 2)
    if what.startswith("function "):
        out = block("Description", value["Description"], indent)
        if value["Environment"]:
            return out + block("Environment", {"Variables": value["Environment"]}, indent)
        return out + [" " * indent + "# No Environment: stack.json gives this function no variables."]
    if what == "csp":
        return block("ContentSecurityPolicy", value, indent)
    if what == "dashboard":
        return block("DashboardBody", value, indent)
    if what == "alarms":
        return block_map(value, indent)
    raise KeyError(f"unknown generated part {what!r}")


def generate(template_text: str, facts: dict, infra: str = INFRA) -> str:
    parts, lines, out, seen = sam_parts(facts, infra), template_text.split("\n"), [], []
    i = 0
    while i < len(lines):
        out.append(lines[i])
        m = BEGIN.match(lines[i])
        i += 1
        if not m:
            continue
        what, end = m.group("what"), f"{m.group('indent')}# <<< generated ({m.group('what')})"
        j = next((k for k in range(i, len(lines)) if lines[k] == end), None)
        if j is None:
            raise SystemExit(f"generate_sam: no '{end.strip()}' after the marker of {what!r}")
        out += render(what, parts[what], len(m.group("indent"))) + [end]
        seen.append(what)
        i = j + 1
    missing = sorted(set(parts) - set(seen))
    if missing:
        raise SystemExit(f"generate_sam: the template has no marker for {missing}")
    text = "\n".join(out)
    verify(text, parts)
    return text


def verify(text: str, parts: dict) -> None:
    """The written YAML reads back as the facts (a string this emitter quoted wrongly would not)."""
    sys.path.insert(0, os.path.join(INFRA, "tests"))
    from drift_model import CfnLoader  # noqa: E402  (PyYAML with CloudFormation's tags)
    import yaml
    t = yaml.load(text, Loader=CfnLoader)
    res = t.get("Resources") or {}
    got = {"parameters": t.get("Parameters"), "alarms": {k: res.get(k) for k in parts["alarms"]},
           "csp": res["SecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"][
               "ContentSecurityPolicy"]["ContentSecurityPolicy"],
           "dashboard": res["Dashboard"]["Properties"]["DashboardBody"]}
    for what in parts:
        if what.startswith("function "):
            p = res[what[9:].capitalize() + "Function"]["Properties"]
            got[what] = {"Description": p.get("Description"), "Environment": (p.get("Environment") or {}).get("Variables") or {}}
    for what in parts:
        if json.dumps(got[what], sort_keys=True) != json.dumps(parts[what], sort_keys=True):
            raise SystemExit(f"generate_sam: the template's {what} does not read back as stack.json's (emitter bug)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 when the template is not up to date")
    ap.add_argument("--template", default=os.path.join(INFRA, "template.yaml"))
    args = ap.parse_args()
    with open(args.template, encoding="utf-8") as f:
        current = f.read()
    wanted = generate(current, load_facts())
    if not args.check:
        if wanted != current:
            with open(args.template, "w", encoding="utf-8") as f:
                f.write(wanted)
        print(f"generate_sam: {os.path.relpath(args.template)} {'rewritten' if wanted != current else 'up to date'}")
        return 0
    if wanted == current:
        print(f"generate_sam: {args.template} is up to date with infra/stack.json")
        return 0
    sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), wanted.splitlines(True),
                                               args.template, "generated from infra/stack.json"))
    print(f"\ngenerate_sam: {args.template} is not what infra/stack.json gives: run .venv/bin/python "
          f"infra/generate_sam.py (and edit infra/stack.json, not the generated parts)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
