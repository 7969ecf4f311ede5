"""Result container, targets, the markdown report and the compare mode."""

from __future__ import annotations

import json
import math
from pathlib import Path

SCHEMA = "shipyard-bench-ship/1"

# A miss is reported, never turned into a failing exit status: this is a benchmark.
TARGETS = [
    ("cold start p50, default (eager kernel)", "cold_start.eager.p50", "<=", 20.0),
    ("cold start p50, --no-eager-kernel", "cold_start.no_eager.p50", "<=", 20.0),
    ("idle RSS of Ship (VmRSS)", "memory.idle.ship.vm_rss", "<=", 5.0),
    ("shell/exec echo p50 (sequential)", "latency.echo.p50", "<=", 3.0),
    ("shell/exec echo throughput, 8 connections", "throughput.echo.c8.req_s", ">=", 1000.0),
    ("read_file 1 KiB throughput (best of 8/32 connections)", "throughput.read_file_1k.best.req_s",
     ">=", 20000.0),
    ("download 1 GiB", "transfer.download.gb_s", ">=", 2.0),
    ("upload 1 GiB", "transfer.upload.gb_s", ">=", 1.0),
    ("ipython print round trip p50", "latency.ipython_print.p50", "<=", 1.0),
]


class Results:
    def __init__(self):
        self.figures: dict[str, dict] = {}
        self.details: dict = {}
        self.errors: list[dict] = []

    def fig(self, key: str, value, unit: str, label: str, better: str = "lower") -> None:
        if isinstance(value, float):
            value = round(value, 4 if abs(value) < 10 else 2)
        self.figures[key] = {"value": value, "unit": unit, "better": better, "label": label}

    def error(self, section: str, message: str) -> None:
        self.errors.append({"section": section, "error": message})


def evaluate_targets(figures: dict) -> list[dict]:
    out = []
    for name, key, op, threshold in TARGETS:
        f = figures.get(key)
        value = f["value"] if f else None
        if value is None or (isinstance(value, float) and math.isnan(value)):
            verdict = "N/A"
        elif op == "<=":
            verdict = "PASS" if value <= threshold else "FAIL"
        else:
            verdict = "PASS" if value >= threshold else "FAIL"
        out.append({"target": name, "figure": key, "op": op, "threshold": threshold,
                    "unit": f["unit"] if f else None, "value": value, "result": verdict})
    return out


def fmt(v, unit: str | None = None) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        if math.isnan(v):
            return "—"
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


def _section_rows(figures: dict, prefix: str) -> list[str]:
    rows = []
    for k, f in figures.items():
        if k.startswith(prefix):
            rows.append(f"| {f['label']} | {fmt(f['value'], f['unit'])} | `{k}` |")
    return rows


def markdown(doc: dict) -> str:
    m, b, c = doc["machine"], doc["build"], doc["config"]
    figs = doc["figures"]
    L = [f"# Ship benchmark — {doc['date']} — {b.get('git_commit')}", ""]
    L.append(f"* **Build:** `{b.get('ship_version')}`, commit `{b.get('git_commit')}`"
             f"{' (working tree dirty)' if b.get('git_dirty') else ''}, build type "
             f"`{b.get('build_type')}`, binary `{b.get('binary')}` ({b.get('binary_bytes'):,} bytes,"
             f" built {b.get('binary_mtime')})")
    if b.get("binary_predates_commit"):
        L.append("* **Note:** the binary is older than the commit above (HEAD when the run "
                 "was made); it was built from an earlier tree.")
    L.append(f"* **Machine:** {m['cpu_model']}, {m['cores']} cores"
             f"{' (VM)' if m.get('virtualised') else ''}, {m['memory_gib']} GiB, Linux "
             f"{m['kernel']}, {m['os']}")
    L.append(f"* **Run:** {'quick' if c['quick'] else 'full'} mode, {doc['duration_s']:.0f} s; "
             f"load average before {doc['loadavg_before']}, after {doc['loadavg_after']}; "
             f"wrk `{c.get('wrk_version')}`, clients on the same machine (loopback)")
    busy = max(doc.get("cpu_busy_before_pct", 0), doc.get("cpu_busy_after_pct", 0))
    L.append(f"* **Other load:** CPU {doc.get('cpu_busy_before_pct')}% busy in the second before "
             f"the run, {doc.get('cpu_busy_after_pct')}% after it")
    if busy > 15:
        L.append(f"* **Warning:** other processes kept the machine {busy:.0f}% busy around the "
                 "run; latency and throughput figures are likely pessimistic.")
    L += ["", "## Targets", "", "| target | measured | target | result |", "|---|---|---|---|"]
    for t in doc["targets"]:
        L.append(f"| {t['target']} | {fmt(t['value'], t['unit'])} | {t['op']} "
                 f"{fmt(t['threshold'], t['unit'])} | **{t['result']}** |")
    sections = [
        ("Cold start (spawn → first `/health` 200)", "cold_start."),
        ("Memory", "memory."),
        ("Sequential latency (one keep-alive connection)", "latency."),
        ("Throughput (wrk)", "throughput."),
        ("1 GiB transfers", "transfer."),
    ]
    for title, prefix in sections:
        rows = _section_rows(figs, prefix)
        if rows:
            L += ["", f"## {title}", "", "| figure | value | key |", "|---|---|---|", *rows]
    d = doc.get("details", {})
    tops = d.get("memory", {}).get("idle", {}).get("ship", {}).get("top_mappings")
    if tops:
        L += ["", "### Where Ship's idle RSS is (largest mappings)", "",
              "| mapping | RSS KiB | PSS KiB | private dirty KiB |", "|---|---|---|---|"]
        for r in tops:
            L.append(f"| `{r['mapping']}` | {r['rss_kib']} | {r['pss_kib']} | "
                     f"{r['private_dirty_kib']} |")
    L += ["", "## Method", ""]
    L += [f"* {line}" for line in doc.get("method", [])]
    if doc["errors"]:
        L += ["", "## Errors", ""]
        L += [f"* **{e['section']}**: {e['error']}" for e in doc["errors"]]
    return "\n".join(L) + "\n"


def write(doc: dict, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"ship-{doc['date'][:10]}-{doc['build'].get('git_commit') or 'nogit'}"
    n, name = 1, stem
    while (out_dir / f"{name}.json").exists() or (out_dir / f"{name}.md").exists():
        n += 1
        name = f"{stem}-{n}"
    jp, mp = out_dir / f"{name}.json", out_dir / f"{name}.md"
    jp.write_text(json.dumps(doc, indent=2) + "\n")
    mp.write_text(markdown(doc))
    return jp, mp


# ---------------------------------------------------------------- compare


def compare(path_a: str, path_b: str) -> str:
    a = json.loads(Path(path_a).read_text())
    b = json.loads(Path(path_b).read_text())
    for d, p in ((a, path_a), (b, path_b)):
        if d.get("schema") != SCHEMA:
            raise SystemExit(f"{p}: not a Ship benchmark result (schema {d.get('schema')!r})")
    keys = list(a["figures"]) + [k for k in b["figures"] if k not in a["figures"]]
    rows = [("figure", "unit", "A", "B", "B/A", "verdict")]
    for k in keys:
        fa, fb = a["figures"].get(k), b["figures"].get(k)
        f = fa or fb
        va = fa["value"] if fa else None
        vb = fb["value"] if fb else None
        ratio, mark = "", ""
        if isinstance(va, (int, float)) and isinstance(vb, (int, float)) and va:
            r = vb / va
            ratio = f"{r:.2f}x"
            if abs(r - 1) >= 0.05:
                better = (r < 1) == (f["better"] == "lower")
                mark = "better" if better else "WORSE"
        rows.append((k, f["unit"], fmt(va), fmt(vb), ratio, mark))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = [f"A: {path_a}  ({a['build'].get('git_commit')}, {a['date']}, "
             f"{'quick' if a['config']['quick'] else 'full'})",
             f"B: {path_b}  ({b['build'].get('git_commit')}, {b['date']}, "
             f"{'quick' if b['config']['quick'] else 'full'})"]
    if a["machine"].get("cpu_model") != b["machine"].get("cpu_model"):
        lines.append("note: different CPUs — ratios compare machines as much as builds")
    lines.append("")
    for i, r in enumerate(rows):
        lines.append("  ".join(str(c).rjust(widths[j]) if j in (2, 3, 4) else str(c).ljust(widths[j])
                               for j, c in enumerate(r)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines += ["", "targets (A -> B):"]
    ta = {t["figure"]: t for t in a.get("targets", [])}
    for t in b.get("targets", []):
        before = ta.get(t["figure"], {}).get("result", "—")
        lines.append(f"  {t['target']}: {before} -> {t['result']}")
    return "\n".join(lines)
