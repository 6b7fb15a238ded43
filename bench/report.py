#!/usr/bin/env python3
"""Turns criterion's estimates (and, when present, the Node comparison and the cold-start results) into the
ratio table of BENCHMARKS.md and an SVG bar chart. Standard library only.

    python3 bench/report.py [--criterion target/perf/criterion] [--out bench/results]
"""

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (group, bench, label, goal as a ratio to the floor or None)
CASES = [
    ("auth", "verify_grants_repeated", "(1) verify + grants, token presented again (cache hit)", 0.1),
    ("auth", "verify_grants_new", "(1) verify + grants, new token (miss, insertion, eviction)", 1.03),
    ("auth", "verify_grants_no_cache", "(1) verify + grants, cache off (the full check alone)", None),
    ("auth", "refused_bad_signature", "(4) refused: bad signature", None),
    ("auth", "refused_garbage", "(4) refused: garbage (no crypto)", 0.05),
    ("auth", "refused_bad_header", "(4) refused: header not JSON (no crypto)", 0.05),
    ("api", "protected_handler", "(2) protected handler, token presented again", 0.35),
    ("api", "user_handler", "(2) user handler (scope read:data), token presented again", 0.35),
    ("api", "protected_handler_new_token", "(2) protected handler, new token", None),
    ("api", "protected_handler_no_cache", "(2) protected handler, cache off", None),
    ("api", "protected_invocation_event_to_json", "(2b) event JSON -> API GW response JSON", None),
    ("api", "protected_refused_bad_signature", "(4) handler, bad signature -> 401", None),
    ("api", "protected_refused_garbage", "(4) handler, garbage -> 401", None),
    ("api", "token_handler_incl_loopback_exchange", "(3) token handler incl. loopback exchange", None),
    ("api", "exchange_roundtrip_only", "(3) of which: loopback exchange round trip", None),
    ("api", "observability_per_request", "(5) request log line + EMF metrics line, per request", 0.1),
    ("api", "authorizer_v2_simple", "(6) authorizer, payload 2.0 event -> simple answer (goal: <= 1.1x protected handler)", None),
    ("api", "authorizer_rest_token_policy", "(6) authorizer, REST TOKEN event -> whole-API policy", None),
    ("api", "verifier_direct", "(7) verifier called directly (bearer + verify + grant)", None),
    ("api", "require_grant_layer", "(7) the same through RequireGrant (goal: <= direct + 0.05x floor)", None),
]


def estimate(directory, group, bench):
    path = os.path.join(directory, group, bench, "new", "estimates.json")
    with open(path) as f:
        data = json.load(f)
    median = data["median"]
    return {
        "ns": median["point_estimate"],
        "low": median["confidence_interval"]["lower_bound"],
        "high": median["confidence_interval"]["upper_bound"],
        "mean": data["mean"]["point_estimate"],
    }


def floor(directory, group):
    first = estimate(directory, group, "floor_first")
    last = estimate(directory, group, "floor_last")
    return {"ns": (first["ns"] + last["ns"]) / 2, "first": first["ns"], "last": last["ns"],
            "drift": last["ns"] / first["ns"] - 1}


def rows(directory):
    floors = {group: floor(directory, group) for group in ("auth", "api")}
    out = []
    for group, bench, label, goal in CASES:
        try:
            e = estimate(directory, group, bench)
        except FileNotFoundError:
            continue
        f = floors[group]["ns"]
        out.append({"group": group, "bench": bench, "label": label, "goal": goal, "ns": e["ns"],
                    "low": e["low"], "high": e["high"], "ratio": e["ns"] / f,
                    "ratio_low": e["low"] / f, "ratio_high": e["high"] / f})
    by_name = {r["bench"]: r for r in out}
    total = by_name.get("token_handler_incl_loopback_exchange")
    trip = by_name.get("exchange_roundtrip_only")
    if total and trip:
        f = floors["api"]["ns"]
        own = total["ns"] - trip["ns"]
        out.append({"group": "api", "bench": "token_handler_own_work", "label": "(3) token handler own work (difference)",
                    "goal": None, "ns": own, "low": total["low"] - trip["high"], "high": total["high"] - trip["low"],
                    "ratio": own / f, "ratio_low": (total["low"] - trip["high"]) / f,
                    "ratio_high": (total["high"] - trip["low"]) / f})
    return floors, out


def table(floors, out):
    lines = []
    for group, f in floors.items():
        lines.append(f"floor ({group} run): {f['ns'] / 1000:.2f} µs  (first {f['first'] / 1000:.2f}, last "
                     f"{f['last'] / 1000:.2f}, drift {f['drift'] * 100:+.1f}%)")
    lines.append("")
    lines.append("| case | median | 95% CI of median | × floor | goal | met |")
    lines.append("|---|---:|---:|---:|---:|:---:|")
    for r in out:
        goal = f"≤ {r['goal']:g}×" if r["goal"] is not None else ""
        met = "" if r["goal"] is None else ("yes" if r["ratio"] <= r["goal"] else "**no**")
        lines.append(f"| {r['label']} | {r['ns'] / 1000:.3f} µs | {r['low'] / 1000:.3f}–{r['high'] / 1000:.3f} µs | "
                     f"{r['ratio']:.3f} ({r['ratio_low']:.3f}–{r['ratio_high']:.3f}) | {goal} | {met} |")
    return "\n".join(lines)


def svg(out, node=None):
    """Horizontal bars of ratio to the floor (log-free, clipped at 6×, with the value printed)."""
    bars = [(r["label"], r["ratio"], r["goal"]) for r in out]
    if node:
        for n in node["results"]:
            bars.append((f"Node: {n['name']}", n["ns"] / node["floorNs"], None))
    width, left, right, row = 980, 420, 70, 24
    top = 40
    height = top + row * len(bars) + 40
    scale_max = max(1.5, min(6.0, max(b[1] for b in bars) * 1.05))
    plot = width - left - right

    def x(v):
        return left + plot * min(v, scale_max) / scale_max

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
             '<rect width="100%" height="100%" fill="#fff"/>',
             f'<text x="10" y="20" font-size="14" font-weight="bold">Time as a multiple of the RSA-2048 '
             'verify floor (same run; lower is better)</text>']
    for tick in [t / 2 for t in range(0, int(scale_max * 2) + 1)]:
        tx = x(tick)
        parts.append(f'<line x1="{tx:.1f}" y1="{top - 6}" x2="{tx:.1f}" y2="{height - 34}" stroke="#ddd"/>')
        parts.append(f'<text x="{tx:.1f}" y="{height - 20}" text-anchor="middle" fill="#555">{tick:g}×</text>')
    fx = x(1.0)
    parts.append(f'<line x1="{fx:.1f}" y1="{top - 6}" x2="{fx:.1f}" y2="{height - 34}" stroke="#c00" '
                 'stroke-dasharray="4 3"/>')
    for i, (label, ratio, goal) in enumerate(bars):
        y = top + i * row
        colour = "#2b6cb0" if not label.startswith("Node") else "#888"
        if goal is not None:
            colour = "#2f855a" if ratio <= goal else "#c53030"
        label = label.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        parts.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{label}</text>')
        parts.append(f'<rect x="{left}" y="{y + 4}" width="{max(1.0, x(ratio) - left):.1f}" height="{row - 8}" '
                     f'fill="{colour}"/>')
        if goal is not None:
            gx = x(goal)
            parts.append(f'<line x1="{gx:.1f}" y1="{y + 1}" x2="{gx:.1f}" y2="{y + row - 1}" stroke="#000" '
                         'stroke-width="2"/>')
        clipped = "+" if ratio > scale_max else ""
        parts.append(f'<text x="{x(ratio) + 4:.1f}" y="{y + 15}">{ratio:.2f}×{clipped}</text>')
    parts.append(f'<text x="10" y="{height - 4}" fill="#555">green/red: case with a goal (black tick = goal); '
                 'blue: informative; grey: Node libraries on the same token (same floor)</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def node_table(node):
    lines = [f"Node {node['node']}; Rust hot path (case 1) {node['rustNs'] / 1000:.2f} µs; {node['n']} verifications "
             "per library, median of 5 rounds (min–max)", "",
             "| library | per verification | rounds | × Rust |", "|---|---:|---:|---:|"]
    for r in node["results"]:
        lines.append(f"| {r['name']} | {r['ns'] / 1000:.2f} µs | {r['min'] / 1000:.2f}–{r['max'] / 1000:.2f} µs | "
                     f"{r['ratio']:.2f}× |")
    return "\n".join(lines)


def coldstart_table(cold):
    def cell(s):
        return f"{s['median']:.2f} ms ({s['p10']:.2f}–{s['p90']:.2f})"
    lines = [f"{cold['runs']} runs per function; median (p10–p90); peak RSS through {cold['rss_invocations']:,} "
             "invocations of one process", "",
             "| function | init (spawn → first /next) | first invocation (spawn → response) | VmHWM | VmRSS after |",
             "|---|---:|---:|---:|---:|"]
    for name, entry in cold["functions"].items():
        rss = entry.get("rss", {})
        hwm = f"{rss['VmHWM_kB'] / 1024:.1f} MiB" if rss else ""
        now = f"{rss['VmRSS_kB'] / 1024:.1f} MiB" if rss else ""
        lines.append(f"| {name} | {cell(entry['init_ms'])} | {cell(entry['first_invocation_ms'])} | {hwm} | {now} |")
    return "\n".join(lines)


CPU_LABELS = {
    "trivial": "trivial `lambda_http` function (the runtime's floor)",
    "user_repeated": "`user`, token presented again (cache hit)",
    "user_new": "`user`, a new token per event (miss, insertion, eviction)",
    "user_no_cache": "`user`, `VERIFIED_TOKEN_CACHE_ENTRIES=0` (the full check, as before the cache)",
    "node_repeated": "Node 20 + aws-jwt-verify, token presented again (it caches nothing)",
    "node_new": "Node 20 + aws-jwt-verify, a new token per event",
    "trivial_same_answer": "trivial function answering `user`'s own answer as a constant",
}


def cpu_table(cpu):
    lines = [f"On-CPU time of the function's process per warm invocation, {cpu['n']:,} events after "
             f"{cpu['warmup']:,} of warm-up, median of {cpu['rounds']} rounds (min–max)", "",
             "| function | CPU per invocation | rounds | × trivial (medians) | × trivial (within rounds) |",
             "|---|---:|---:|---:|---:|"]
    for name, entry in cpu["cases"].items():
        ratio = f"{entry['x_trivial']:.3f}×" if "x_trivial" in entry else ""
        paired = f"{entry['x_trivial_paired']:.3f}×" if "x_trivial_paired" in entry else ""
        lines.append(f"| {CPU_LABELS.get(name, name)} | {entry['us']:.1f} µs | {entry['min']:.1f}–{entry['max']:.1f} µs "
                     f"| {ratio} | {paired} |")
    if "typical_client_us" in cpu:
        trivial = cpu["cases"].get("trivial", {}).get("us")
        ratio = f"{cpu['typical_client_us'] / trivial:.3f}×" if trivial else ""
        lines.append(f"| `user`, typical client: one token for 6,000 requests (10 min at 10 req/s) | "
                     f"{cpu['typical_client_us']:.1f} µs | | {ratio} | |")
    return "\n".join(lines)


def sizes_table(sizes):
    goals = {"token": 3.0, "protected": 1.5, "user": 1.5, "admin": 1.5}
    lines = [f"Release zips ({sizes['arch']}), `infra/build-release.sh`", "",
             "| function | zip | goal |", "|---|---:|---:|"]
    for name, size in sizes["zip_bytes"].items():
        lines.append(f"| {name} | {size / 1e6:.2f} MB | ≤ {goals[name]} MB |")
    return "\n".join(lines)


def load(directory, name):
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--criterion", default=os.path.join(ROOT, "target", "perf", "criterion"))
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    parser.add_argument("--summary", action="store_true", help="also write summary.md with every table")
    args = parser.parse_args()
    floors, out = rows(args.criterion)
    os.makedirs(args.out, exist_ok=True)
    text = table(floors, out)
    if not args.summary:
        print(text)
    node = None
    node_path = os.path.join(args.out, "node.json")
    if os.path.exists(node_path):
        with open(node_path) as f:
            node = json.load(f)
        node["floorNs"] = floors["auth"]["ns"]  # charted against the same floor as the Rust cases
    with open(os.path.join(args.out, "ratios.json"), "w") as f:
        json.dump({"floors": floors, "cases": out}, f, indent=2)
    with open(os.path.join(args.out, "ratios.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(args.out, "ratios.svg"), "w") as f:
        f.write(svg(out, node) + "\n")
    if args.summary:
        sections = ["## Hot path (criterion)", text]
        for title, name, render in [("## Node libraries on the same token", "node.json", node_table),
                                    ("## Cold start and memory", "coldstart.json", coldstart_table),
                                    ("## CPU per warm invocation", "invocation_cpu.json", cpu_table),
                                    ("## Artefacts", "sizes.json", sizes_table)]:
            data = load(args.out, name)
            if data is not None:
                sections += [title, render(data)]
        summary = "\n\n".join(sections) + "\n"
        with open(os.path.join(args.out, "summary.md"), "w") as f:
            f.write(summary)
        print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
