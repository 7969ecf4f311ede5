"""Targets and the markdown report of a Bay benchmark run (compare: bench/compare.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from shipbench.report import fmt

SCHEMA = "shipyard-bench-bay/1"

# Issue #9. A miss is reported, never turned into a failing exit status.
TARGETS = [
    ("cold create → first print p50", "create.cold.p50", "<=", 40.0),
    ("cold create → first print p99", "create.cold.p99", "<=", 100.0),
    ("warm pool create → first print p50", "create.warm_pool.p50", "<=", 5.0),
    ("warm print('hi') round trip p50", "latency.print.p50", "<=", 1.0),
    ("idle sandbox PSS (Ship + kernel + bwrap)", "memory.idle.pss_per_sandbox", "<=", 15.0),
    ("idle sandboxes per host", "capacity.estimate", ">=", 1000),
    ("100-sandbox burst to first exec, wall time", "burst.wall", "<=", 1000.0),
    ("Bay GET /v1/sandboxes/{id} (best of 8/64 connections)", "api.get.best.req_s", ">=", 20000.0),
    ("1 GiB download through Bay (curl client)", "transfer.download_curl.gb_s", ">=", 2.0),
]


def evaluate_targets(figures: dict) -> list[dict]:
    res = []
    for name, key, op, threshold in TARGETS:
        f = figures.get(key)
        value = f["value"] if f else None
        if value is None or (isinstance(value, float) and math.isnan(value)):
            verdict = "N/A"
        elif op == "<=":
            verdict = "met" if value <= threshold else "NOT MET"
        else:
            verdict = "met" if value >= threshold else "NOT MET"
        res.append({"target": name, "figure": key, "op": op, "threshold": threshold,
                    "unit": f["unit"] if f else None, "value": value, "result": verdict})
    return res


def _rows(figures: dict, prefix: str) -> list[str]:
    return [f"| {f['label']} | {fmt(f['value'], f['unit'])} | `{k}` |"
            for k, f in figures.items() if k.startswith(prefix)]


def _notes(doc: dict) -> list[str]:
    d = doc.get("details", {})
    figs = doc["figures"]
    notes = []
    wp = d.get("warm_pool")
    if wp is not None:
        ratio = wp.get("ratio_to_cold_p50")
        if not wp.get("pool_active"):
            notes.append("**Warm pool:** no pre-started runtime appeared after Bay started "
                         f"with `warm_pool_size: {d.get('warm_pool_fill', {}).get('pool_size')}`; "
                         "the pool is not active in this build, so the warm-pool figure is a "
                         "cold start" + (f" ({ratio:.2f}x the cold p50)." if ratio else "."))
        elif ratio is not None and ratio > 0.8:
            notes.append(f"**Warm pool:** pre-started runtimes were seen, but the figure is "
                         f"{ratio:.2f}x the cold p50: the pool does not (yet) shorten the path.")
        elif ratio is not None:
            notes.append(f"**Warm pool:** {ratio:.2f}x the cold p50.")
    h = d.get("history_seed")
    if h:
        api_n = h.get("api", {}).get("entries", 0)
        sql_n = h.get("sqlite", {}).get("inserted", 0)
        if sql_n:
            notes.append(f"**History:** {api_n:,} entries were made through the API "
                         f"(python/exec, {h['api']['per_s']:.0f}/s at "
                         f"{h['api']['connections']} connections); the other {sql_n:,} were "
                         "written straight into Bay's SQLite `executions` table while Bay "
                         "was stopped (100k API calls would have taken "
                         f"~{100_000 / max(1, h['api']['per_s']):.0f} s).")
        else:
            notes.append(f"**History:** all {api_n:,} entries were made through the API.")
    cap = d.get("capacity")
    if cap and cap.get("steps"):
        s = (f"**Capacity:** the ramp stopped at {cap['held']} idle sandboxes: "
             f"{cap['stop_reason']}.")
        if cap.get("capacity_is_extrapolation"):
            s += (f" The capacity figure ({figs.get('capacity.estimate', {}).get('value')}) is an "
                  f"EXTRAPOLATION: {cap['held']} + (MemAvailable left − 1 GiB) / "
                  f"{cap['cost_per_sandbox_mib']:.1f} MiB per sandbox (PSS plus the "
                  "unreclaimable kernel memory that grew with the sandboxes). From the raw "
                  f"MemAvailable drop ({cap.get('cost_memavailable_per_sandbox_mib')} MiB per "
                  "sandbox, which includes other work on this shared machine) it would be "
                  f"{cap.get('extrapolated_from_memavailable_drop')}.")
        notes.append(s)
    return notes


def markdown(doc: dict) -> str:
    m, b, c = doc["machine"], doc["build"], doc["config"]
    figs = doc["figures"]
    L = [f"# Bay benchmark — {doc['date']} — {b.get('git_commit')}", ""]
    L.append(f"* **Build:** `{b.get('bay_version')}` / `{b.get('ship_version')}`, commit "
             f"`{b.get('git_commit')}`{' (working tree dirty)' if b.get('git_dirty') else ''}, "
             f"build type `{b.get('build_type')}`, build dir `{b.get('build_dir')}`, bay binary "
             f"built {b.get('binary_mtime')}")
    if b.get("binary_predates_commit"):
        L.append("* **Note:** the binaries are older than the commit above (HEAD when the run "
                 "was made); they were built from an earlier tree.")
    L.append(f"* **Machine:** {m['cpu_model']}, {m['cores']} cores"
             f"{' (VM)' if m.get('virtualised') else ''}, {m['memory_gib']} GiB, Linux "
             f"{m['kernel']}, {m['os']}")
    L.append(f"* **Run:** {'quick' if c['quick'] else 'full'} mode, {doc['duration_s']:.0f} s; "
             f"process driver (bwrap + cgroups), SQLite store, cargo size limits "
             f"`{c.get('cargo_size_limits')}`; clients on the same machine (loopback); wrk "
             f"`{c.get('wrk_version')}`")
    L.append(f"* **Load:** load average before {doc['loadavg_before']}, after "
             f"{doc['loadavg_after']}; CPU {doc.get('cpu_busy_before_pct')}% busy in the second "
             f"before the run, {doc.get('cpu_busy_after_pct')}% after")
    if max(doc["loadavg_before"][0], doc["loadavg_after"][0]) > 0.5 * m["cores"]:
        L.append("* **Warning:** the machine is shared and was loaded by other work during the "
                 "run (see the per-section load averages below); latency and throughput "
                 "figures are likely pessimistic.")
    L += ["", "## Targets", "", "| target | measured | target | result |", "|---|---|---|---|"]
    for t in doc["targets"]:
        L.append(f"| {t['target']} | {fmt(t['value'], t['unit'])} | {t['op']} "
                 f"{fmt(t['threshold'], t['unit'])} | **{t['result']}** |")
    notes = _notes(doc)
    if notes:
        L += [""] + [f"* {n}" for n in notes]
    sections = [
        ("Create → first `print` (sequential)", "create."),
        ("Warm round trips through Bay (one keep-alive connection)", "latency."),
        ("Burst", "burst."),
        ("Idle memory and capacity", ("memory.idle", "capacity.")),
        ("Bay API throughput (wrk, one client thread)", "api."),
        ("History seeding", "history."),
        ("Transfers through Bay", "transfer."),
        ("Bay's own memory", "memory.bay"),
    ]
    for title, prefix in sections:
        rows = _rows(figs, prefix)
        if rows:
            L += ["", f"## {title}", "", "| figure | value | key |", "|---|---|---|", *rows]
    d = doc.get("details", {})
    cap = d.get("capacity", {})
    if cap.get("steps"):
        L += ["", "### Capacity ramp", "",
              "| idle sandboxes | PSS/sandbox MiB | USS/sandbox MiB | kernel/sandbox MiB | "
              "cgroup/sandbox MiB | MemAvailable MiB | MemAvailable drop/sandbox MiB | "
              "probe print p50 ms | step s | load |",
              "|---|---|---|---|---|---|---|---|---|---|"]
        for s in cap["steps"]:
            L.append(f"| {s['sandboxes']} | {s['pss_per_sandbox_mib']} | {s['uss_per_sandbox_mib']}"
                     f" | {s['kernel_unreclaimable_per_sandbox_mib']} | "
                     f"{s['cgroup_usage_per_sandbox_mib']} | {s['mem_available_mib']} | "
                     f"{s['mem_available_drop_per_sandbox_mib']} | "
                     f"{s['probe_print_p50_ms']} | {s['step_seconds']} | {s['loadavg'][0]} |")
        last = cap["steps"][-1]
        L += ["", f"Growth of /proc/meminfo per sandbox at {last['sandboxes']} (MiB; "
              "AnonPages/Cached include the rest of the machine): " +
              ", ".join(f"{k} {v}" for k, v in last["meminfo_delta_per_sandbox_mib"].items())]
        for key, title in (("capacity_first_step_roles", "first step"),
                           ("capacity_last_roles", "last step")):
            roles = d.get(key)
            if roles:
                L += ["", f"Where an idle sandbox's memory is ({title}, MiB per sandbox):", "",
                      "| process | PSS | USS | processes |", "|---|---|---|---|"]
                for r, v in sorted(roles.items(), key=lambda kv: -kv[1]["pss"]):
                    L.append(f"| {r} | {v['pss']:.2f} | {v['uss']:.2f} | {v['processes']:.1f} |")
    for key, title in (("perf_get_c64", "GET /v1/sandboxes/{id} at 64 connections"),
                       ("perf_history_c8", "GET …/history?limit=100 at 8 connections")):
        perf = d.get("api", {}).get(key)
        if perf:
            L += ["", f"### perf: Bay during {title} (self time, dso and symbol)", "", "```",
                  *perf, "```"]
    if d.get("section_load"):
        L += ["", "## Load average per section", "", "| section | before | after | seconds |",
              "|---|---|---|---|"]
        for s in d["section_load"]:
            L.append(f"| {s['section']} | {s['before']} | {s['after']} | {s['seconds']} |")
    L += ["", "## Method", ""]
    L += [f"* {line}" for line in doc.get("method", [])]
    if doc["errors"]:
        L += ["", "## Errors", ""]
        L += [f"* **{e['section']}**: {e['error']}" for e in doc["errors"]]
    return "\n".join(L) + "\n"


def write(doc: dict, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"bay-{doc['date'][:10]}-{doc['build'].get('git_commit') or 'nogit'}"
    n, name = 1, stem
    while (out_dir / f"{name}.json").exists() or (out_dir / f"{name}.md").exists():
        n += 1
        name = f"{stem}-{n}"
    jp, mp = out_dir / f"{name}.json", out_dir / f"{name}.md"
    jp.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    mp.write_text(markdown(doc))
    return jp, mp
