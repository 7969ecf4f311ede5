#!/usr/bin/env python3
"""Puts two benchmark result files side by side with ratios.

    bench/compare.py A.json B.json [--markdown] [--all]

Works for Ship (bench/ship/run.py) and Bay (bench/bay/run.py) result files; both files
must come from the same benchmark. Every figure of either file is listed with B/A; a
change of at least 5 % is marked `better` or `WORSE` according to the figure's direction
(lower latency, higher throughput, ...). Then each target's verdict A -> B. Standard
library only.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
from pathlib import Path


def fmt(v, unit: str | None = None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, float):
        if unit == "req/s" or abs(v) >= 1000:
            s = f"{v:,.0f}"
        elif abs(v) >= 100:
            s = f"{v:.1f}"
        elif abs(v) >= 1:
            s = f"{v:.2f}"
        else:
            s = f"{v:.3f}"
    else:
        s = f"{v:,}" if isinstance(v, int) else str(v)
    return f"{s} {unit}" if unit else s


def _load(path: str) -> dict:
    try:
        d = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise SystemExit(f"{path}: {e}")
    if not str(d.get("schema", "")).startswith("shipyard-bench-") or "figures" not in d:
        raise SystemExit(f"{path}: not a Shipyard benchmark result (schema {d.get('schema')!r})")
    return d


def _describe(d: dict, path: str) -> str:
    b = d.get("build", {})
    load = d.get("loadavg_before")
    mode = "quick" if d.get("config", {}).get("quick") else "full"
    return (f"{path}  ({b.get('git_commit')}{'+dirty' if b.get('git_dirty') else ''}, "
            f"{d.get('date')}, {mode}, load {load[0] if load else '?'})")


def rows(a: dict, b: dict, changed_only: bool = False) -> list[tuple]:
    out = []
    keys = list(a["figures"]) + [k for k in b["figures"] if k not in a["figures"]]
    for k in keys:
        fa, fb = a["figures"].get(k), b["figures"].get(k)
        f = fa or fb
        va = fa["value"] if fa else None
        vb = fb["value"] if fb else None
        ratio, mark = "", ""
        if (isinstance(va, (int, float)) and isinstance(vb, (int, float)) and va
                and not (isinstance(va, float) and math.isnan(va))
                and not (isinstance(vb, float) and math.isnan(vb))):
            r = vb / va
            ratio = f"{r:.2f}x"
            if abs(r - 1) >= 0.05:
                better = (r < 1) == (f.get("better", "lower") == "lower")
                mark = "better" if better else "WORSE"
        if changed_only and not mark and fa and fb:
            continue
        out.append((k, f.get("unit") or "", fmt(va), fmt(vb), ratio, mark))
    return out


def compare(path_a: str, path_b: str, markdown: bool = False, changed_only: bool = False) -> str:
    a, b = _load(path_a), _load(path_b)
    if a["schema"] != b["schema"]:
        raise SystemExit(f"different benchmarks: {a['schema']} vs {b['schema']}")
    lines = [f"A: {_describe(a, path_a)}", f"B: {_describe(b, path_b)}"]
    if a.get("machine", {}).get("cpu_model") != b.get("machine", {}).get("cpu_model"):
        lines.append("note: different CPUs — ratios compare machines as much as builds")
    if a.get("config", {}).get("quick") != b.get("config", {}).get("quick"):
        lines.append("note: one run is quick, the other full — sample counts differ")
    lines.append("")
    header = ("figure", "unit", "A", "B", "B/A", "verdict")
    body = rows(a, b, changed_only)
    if markdown:
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(f"`{r[0]}`" if i == 0 else str(c) for i, c in
                                     enumerate(r)) + " |" for r in body]
    else:
        table = [header, *body]
        widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
        for i, r in enumerate(table):
            lines.append("  ".join(str(c).rjust(widths[j]) if j in (2, 3, 4)
                                   else str(c).ljust(widths[j]) for j, c in enumerate(r)).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
    lines += ["", "targets (A -> B):"]
    ta = {t["figure"]: t for t in a.get("targets", [])}
    for t in b.get("targets", []):
        before = ta.get(t["figure"], {})
        lines.append(f"  {t['target']}: {before.get('result', '—')} "
                     f"({fmt(before.get('value'), t.get('unit'))}) -> {t['result']} "
                     f"({fmt(t.get('value'), t.get('unit'))})")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `compare.py A B | head` ends quietly
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", help="baseline result (.json)")
    ap.add_argument("b", help="result to compare with the baseline (.json)")
    ap.add_argument("--markdown", action="store_true", help="a markdown table instead of text")
    ap.add_argument("--changed", action="store_true",
                    help="only figures that changed by 5 % or more")
    args = ap.parse_args(argv)
    print(compare(args.a, args.b, args.markdown, args.changed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
