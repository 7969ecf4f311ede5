#!/usr/bin/env python3
"""Ship benchmark: start-up, memory, latency, throughput and transfer figures for one build.

    bench/ship/run.py [--ship PATH] [--out DIR] [--quick] [--only SECTION,...]
    bench/ship/run.py compare A.json B.json

Starts fresh Ship processes on temporary workspaces (loopback only), measures, and writes
ship-<date>-<sha>.json and .md to --out (default bench/results/). Targets are reported as
PASS/FAIL but a miss never makes the exit status non-zero; the status is 1 only when a
section could not be measured. See bench/README.md.
"""

from __future__ import annotations

import argparse
import atexit
import shutil
import signal
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from shipbench import machine, report, wrk  # noqa: E402
from shipbench.benchmarks import Bench, Plan  # noqa: E402
from shipbench.procs import cleanup_all, system_busy  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SECTIONS = ("cold", "memory", "latency", "throughput", "transfer")

METHOD = [
    "Cold start: a fresh `ship --listen 127.0.0.1:0 --workspace <new tmp dir>` per sample; the "
    "clock runs from just before the spawn until a `/health` 200 arrives. The port is taken "
    "from Ship's start-up log line, read from a pipe (no connect polling). Page cache is warm "
    "(3 unmeasured starts first); `floor.*` rows show spawn costs that are not Ship's.",
    "Memory: VmRSS/RssAnon/RssFile from /proc/<pid>/status and PSS from "
    "/proc/<pid>/smaps_rollup, once the default kernel is alive and both RSS figures were "
    "unchanged for ~1 s, before any other request. The kernel is Ship's child running "
    "shipyard_kernel.py.",
    "Sequential latency: one keep-alive TCP connection, a minimal raw-socket HTTP/1.1 client "
    "(~20-40 µs own overhead per request, GC off while timing), after a warm-up.",
    "Throughput: wrk with one client thread (so the client uses at most one of the machine's "
    "cores) and a Lua script for the JSON POST body, after a short warm-up run.",
    "Transfers: upload = a streamed multipart body generated on the fly from one 4 MiB random "
    "block (file_path field first), timed from the first byte sent to the JSON answer; "
    "download = read and discard into a 4 MiB buffer, timed from the request to the last "
    "byte. Sizes verified (announced, received, on disk; first/last block compared). "
    "`sync` before each upload; right before it, the same bytes are written twice into a "
    "plain file on the workspace filesystem as a reference (the first write after a sync uses "
    "fresh page-cache pages, which on this VM is several times slower than reusing freed "
    "ones: `file_write_cold` vs `file_write`). GB = 10^9 bytes.",
    "CPU per request: utime+stime of Ship and of the children it reaped (bash), from "
    "/proc/<pid>/stat, over the wrk run divided by the requests; robust against other load, "
    "unlike req/s.",
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ship", default=str(REPO / "build/release/app/bin/ship"),
                    help="ship binary (default: the release build)")
    ap.add_argument("--out", default=str(REPO / "bench/results"), help="output directory")
    ap.add_argument("--quick", action="store_true", help="shorter runs (wrk 3 s, 1 transfer each)")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help=f"comma-separated subset of {','.join(SECTIONS)}")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                    help="first wait up to SECONDS for the machine to be idle")
    ap.add_argument("--idle-below", type=float, default=15, metavar="PCT",
                    help="CPU busy percentage counted as idle by --wait-quiet (default 15)")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the temporary directory (logs)")
    return ap.parse_args(argv)


def _raise_interrupt(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def wait_quiet(seconds: float, idle_below: float) -> None:
    deadline = time.monotonic() + seconds
    last_note = 0.0
    while (busy := system_busy(1.0)) >= idle_below and time.monotonic() < deadline:
        if time.monotonic() - last_note >= 30:
            print(f"machine {busy:.0f}% busy; waiting for it to be idle", file=sys.stderr,
                  flush=True)
            last_note = time.monotonic()


def main(argv: list[str]) -> int:
    if argv[:1] == ["compare"]:
        if len(argv) != 3:
            print("usage: run.py compare A.json B.json", file=sys.stderr)
            return 2
        print(report.compare(argv[1], argv[2]))
        return 0
    args = parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    if unknown := only - set(SECTIONS):
        print(f"unknown sections: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    binary = str(Path(args.ship).resolve())
    if not Path(binary).is_file():
        print(f"{binary} not found; build it with ./scripts/build.sh release", file=sys.stderr)
        return 2
    if "throughput" in only and not wrk.available():
        print("wrk not found (apt-get install wrk); skipping throughput", file=sys.stderr)
        only.discard("throughput")

    # Also when started with SIGINT ignored (a background job of a script): Ctrl-C and
    # kill -INT must still stop the run and its processes.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    atexit.register(cleanup_all)
    if args.wait_quiet > 0:
        try:
            wait_quiet(args.wait_quiet, args.idle_below)
        except KeyboardInterrupt:
            return 130
    try:
        load_before = machine.loadavg()
        busy_before = system_busy(1.0)
    except KeyboardInterrupt:
        return 130
    plan = Plan.make(args.quick)
    res = report.Results()
    started = time.monotonic()
    date = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
    tmp = tempfile.mkdtemp(prefix="shipbench-")

    def log(msg: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {msg}", file=sys.stderr, flush=True)

    bench = Bench(binary, tmp, plan, res, log=log)

    def section(name: str, fn) -> None:
        log(name)
        try:
            fn()
        except KeyboardInterrupt:
            raise
        except Exception as e:  # noqa: BLE001 - a failed section must not lose the others
            res.error(name, f"{type(e).__name__}: {e}")
            log(f"  FAILED: {type(e).__name__}: {e}")
            traceback.print_exc(file=sys.stderr)

    try:
        if "cold" in only:
            section("cold start", bench.cold_start)
        main_needed = only & {"memory", "latency", "throughput", "transfer"}
        if main_needed:
            section("start main instance", bench.start_main)
            if bench.ship is not None:
                if "memory" in only:
                    section("idle memory", bench.idle_memory)
                if only & {"latency", "throughput"}:
                    section("prepare files", bench.prepare_files)
                if "latency" in only:
                    section("sequential latency", bench.latency)
                if "throughput" in only:
                    section("throughput", bench.throughput)
                if "transfer" in only:
                    section("transfers", bench.transfers)
                if "memory" in only:
                    section("memory after load", bench.memory_after_load)
                bench.stop_main()
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    finally:
        cleanup_all()
        if args.keep_tmp:
            log(f"temporary files kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    doc = {
        "schema": report.SCHEMA,
        "date": date,
        "duration_s": round(time.monotonic() - started, 1),
        "loadavg_before": load_before,
        "loadavg_after": machine.loadavg(),
        "cpu_busy_before_pct": round(busy_before, 1),
        "cpu_busy_after_pct": round(system_busy(1.0), 1),
        "machine": machine.machine(),
        "build": machine.build(binary, REPO),
        "config": {"quick": plan.quick, "sections": sorted(only), "plan": vars(plan),
                   "wrk_version": wrk.version()},
        "figures": res.figures,
        "targets": report.evaluate_targets(res.figures),
        "details": res.details,
        "errors": res.errors,
        "method": METHOD,
    }
    jp, mp = report.write(doc, Path(args.out))
    print()
    for t in doc["targets"]:
        print(f"  {t['result']:4}  {t['target']}: {report.fmt(t['value'], t['unit'])} "
              f"({t['op']} {report.fmt(t['threshold'], t['unit'])})")
    print(f"\nwrote {jp}\n      {mp}")
    return 1 if res.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
