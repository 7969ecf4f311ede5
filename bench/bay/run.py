#!/usr/bin/env python3
"""Bay benchmark: create → first exec (cold and warm pool), warm round trips, a 100-sandbox
burst, idle memory and capacity, API throughput and 1 GiB transfers through Bay.

    bench/bay/run.py [--build-dir DIR] [--out DIR] [--quick] [--only SECTION,...]
                     [--capacity-max N] [--mem-floor-gib G] [--perf]

Starts a fresh `bay` (process driver, SQLite, temporary data directory, loopback only) from
the build directory, measures, deletes every sandbox it made, stops Bay and writes
bay-<date>-<sha>.json and .md to --out (default bench/results/). Needs root (bwrap,
cgroups, cargo images). Targets are reported as met / NOT MET; a miss never makes the exit
status non-zero (1 only when a section could not be measured). See bench/README.md.
Compare two result files with bench/compare.py A.json B.json.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "bench/ship"))
sys.path.insert(0, str(HERE))

from shipbench import machine, wrk  # noqa: E402
from shipbench.procs import system_busy  # noqa: E402
from shipbench.report import Results, fmt  # noqa: E402

from baybench import report  # noqa: E402
from baybench.api import Api  # noqa: E402
from baybench.bayproc import API_KEY, BayProcess, cleanup_all, sweep_leftovers  # noqa: E402
from baybench.benchmarks import (PROFILE, Bench, Plan, delete_many, profiles,  # noqa: E402
                                 run_async, seed_history_api, seed_history_sqlite)
from baybench.capacity import capacity  # noqa: E402

SECTIONS = ("cold", "warm", "latency", "burst", "api", "transfer", "capacity")

METHOD = [
    "Bay: a fresh `bay` from the build directory on a temporary data directory (process "
    "driver: bwrap + cgroups, SQLite store, automatic GC off, cargo size limits as configured "
    "— `auto` gives every cargo its own ext4 image), port 0, API key auth. Profiles `bench` "
    "(1 CPU, 1 GiB, filesystem/shell/python) and `bench-warm` (the same with "
    "`warm_pool_size`).",
    "Clients: a raw HTTP/1.1 client (blocking, or asyncio for concurrent work) on loopback "
    "keep-alive connections, a few tens of µs per request of its own; wrk (one thread) for "
    "throughput. GC off while timing sequential samples.",
    "Create → first print: POST /v1/sandboxes then python/exec `print('hi')` on one "
    "connection; the clock runs from before the POST to the exec's answer; sequential, 2 "
    "unmeasured first samples; sandboxes are deleted after the series (and the teardown "
    "awaited) so deletes do not overlap the timing.",
    "Warm pool: Bay started with a `bench-warm` profile (`warm_pool_size` N); the harness "
    "waits until N runtimes exist (runtime records under <data>/sessions, bounded wait), then "
    "paces the samples: before each one it waits for the pool's replacement runtime "
    "(bounded, 5 s) and at least max(100 ms, cold p50) since the previous sample.",
    "Warm round trips: one sandbox with a running session, sequential requests on one "
    "keep-alive connection after 50 unmeasured ones.",
    "Burst: N connections opened first, then N create → first print sequences started "
    "at once (asyncio); wall time from the start to the last answer.",
    "Idle memory and capacity: see bench/bay/baybench/capacity.py — PSS from "
    "/proc/<pid>/smaps_rollup of every process of every sandbox (bwrap process tree plus the "
    "session cgroups), ramp in steps with a MemAvailable floor and a probe-latency stop, "
    "extrapolation (labelled) when the ramp stopped before 1000.",
    "API throughput: wrk -t1 at 8 and 64 connections after a 1 s warm-up; Bay CPU per request "
    "from /proc/<bay>/stat. GET of a sandbox without a session (pure Bay + SQLite), of one "
    "with a running session (Bay probes Ship's /meta and /health, §6.4), the list (limit "
    "50), and a history page (limit 100) of a sandbox with 100k entries.",
    "History seeding: python/exec calls through the API from 16 connections for a bounded "
    "time (which also gives the exec throughput on one sandbox); the rest of the 100k "
    "entries are inserted into Bay's SQLite `executions` table while Bay is stopped.",
    "Transfers: an external cargo large enough for the file, a multipart upload generated on "
    "the fly from one random 4 MiB block (`path` first), and a download into a reused "
    "buffer; sizes and the first block verified. GB = 10^9 bytes.",
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=str(REPO / "build/release"),
                    help="build directory with bin/bay and app/ (default build/release)")
    ap.add_argument("--out", default=str(REPO / "bench/results"), help="output directory")
    ap.add_argument("--quick", action="store_true",
                    help="small counts (20 samples, 40 idle sandboxes, 3 s wrk, 256 MiB)")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help=f"comma-separated subset of {','.join(SECTIONS)}")
    ap.add_argument("--capacity-max", type=int, default=None,
                    help="most idle sandboxes the capacity ramp creates (default 1000, quick 40)")
    ap.add_argument("--mem-floor-gib", type=float, default=6.0,
                    help="stop the capacity ramp before MemAvailable falls below this (6)")
    ap.add_argument("--cargo-size-limits", default="auto", choices=("auto", "image", "off"),
                    help="Bay's cargo.size_limits (default auto, Bay's default)")
    ap.add_argument("--perf", action="store_true",
                    help="perf record Bay during GET at 64 connections (needs perf)")
    ap.add_argument("--tmp-dir", default=None, help="where the temporary data directory goes")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the temporary directory (logs)")
    return ap.parse_args(argv)


def _raise_interrupt(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def build_info(build_dir: Path) -> dict:
    bay = build_dir / "bin/bay"
    b = machine.build(str(bay), REPO)
    b["bay_version"] = b.pop("ship_version")
    try:
        b["ship_version"] = subprocess.run([str(build_dir / "app/bin/ship"), "--version"],
                                           capture_output=True, text=True,
                                           timeout=10).stdout.strip()
    except OSError:
        b["ship_version"] = None
    b["build_dir"] = str(build_dir)
    return b


def config_text(pool: int, size_limits: str) -> str:
    import json
    return json.dumps({"cargo": {"size_limits": size_limits}, "profiles": profiles(pool)},
                      indent=2) + "\n"


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    if unknown := only - set(SECTIONS):
        print(f"unknown sections: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    build_dir = Path(args.build_dir).resolve()
    bay_bin = build_dir / "bin/bay"
    if not bay_bin.is_file() or not (build_dir / "app/bin/ship").is_file():
        print(f"{bay_bin} or app/bin/ship not found; build with ./scripts/build.sh release",
              file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("the Bay benchmark needs root (process driver: bwrap, cgroups, cargo images)",
              file=sys.stderr)
        return 2
    if "api" in only and not wrk.available():
        print("wrk not found (apt-get install wrk); skipping api", file=sys.stderr)
        only.discard("api")
    if args.perf and not shutil.which("perf"):
        print("perf not found; --perf ignored", file=sys.stderr)
        args.perf = False

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    atexit.register(cleanup_all)

    plan = Plan.make(args.quick, args.capacity_max, args.mem_floor_gib)
    res = Results()
    started = time.monotonic()
    date = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
    load_before = [round(x, 2) for x in os.getloadavg()]
    busy_before = system_busy(1.0)
    tmp = Path(tempfile.mkdtemp(prefix="baybench-", dir=args.tmp_dir))
    os.chmod(tmp, 0o711)  # sandboxes run as unprivileged uids that traverse to their cargo
    data = tmp / "data"
    data.mkdir(mode=0o711)
    section_load: list[dict] = []
    res.details["section_load"] = section_load

    def log(msg: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {msg}", file=sys.stderr, flush=True)

    def section(name: str, fn) -> None:
        log(name)
        before = [round(x, 2) for x in os.getloadavg()]
        t0 = time.monotonic()
        try:
            fn()
        except KeyboardInterrupt:
            raise
        except Exception as e:  # noqa: BLE001 - a failed section must not lose the others
            res.error(name, f"{type(e).__name__}: {e}")
            log(f"  FAILED: {type(e).__name__}: {e}")
            traceback.print_exc(file=sys.stderr)
        section_load.append({"section": name, "before": before,
                             "after": [round(x, 2) for x in os.getloadavg()],
                             "seconds": round(time.monotonic() - t0, 1)})

    bay: BayProcess | None = None
    bench: Bench | None = None
    history_sid = None
    leftovers = None
    try:
        # -- phase 1: a Bay without warm pool makes the 100k-entry history sandbox
        if "api" in only:
            def seed():
                nonlocal history_sid
                b = BayProcess(str(bay_bin), data, config_text(0, args.cargo_size_limits),
                               tmp / "bay-seed.log")
                b.start()
                try:
                    api = Api(b.port, API_KEY)
                    history_sid = api.create(PROFILE)
                    api.python(history_sid, "1")
                    log(f"  python/exec on one sandbox, 16 connections, up to "
                        f"{plan.history_api_budget_s:.0f} s")
                    a = seed_history_api(b.port, history_sid, plan.history_n,
                                         plan.history_api_budget_s)
                    res.fig("history.seed.api_exec_per_s", a["per_s"], "req/s",
                            "python/exec throughput on one sandbox, 16 connections",
                            better="higher")
                    api.stop_session(history_sid)
                    api.close()
                    deadline = time.monotonic() + 30
                    while b.runtime_records() and time.monotonic() < deadline:
                        time.sleep(0.05)
                finally:
                    b.stop()
                info = {"api": a}
                rest = plan.history_n - a["entries"] - 1
                if rest > 0:
                    dbs = sorted(data.glob("*.db"))
                    if not dbs:
                        raise RuntimeError(f"no SQLite database in {data}")
                    log(f"  inserting {rest:,} entries into {dbs[0].name} (Bay stopped)")
                    info["sqlite"] = seed_history_sqlite(str(dbs[0]), history_sid, rest)
                res.details["history_seed"] = info
            section("seed history (100k entries)", seed)

        # -- phase 2: the measured Bay
        bay = BayProcess(str(bay_bin), data,
                         config_text(plan.warm_pool_size if "warm" in only else 0,
                                     args.cargo_size_limits),
                         tmp / "bay.log")
        log("start bay")
        bay.start()
        log(f"  bay pid {bay.pid} on port {bay.port} ({bay.start_ms:.0f} ms to listening)")
        bench = Bench(bay, plan, res, str(tmp), log=log)
        bench.history_sid = history_sid
        bench.perf = args.perf
        bench.bay_memory("start")
        if "warm" in only:
            section("wait for the warm pool", bench.wait_pool)
        else:
            bench.pool_active = False
        if "cold" in only:
            section("cold create → first print", bench.cold)
        if "warm" in only:
            section("warm-pool create → first print", bench.warm)
        if "latency" in only:
            section("warm round trips", bench.latency)
        if "burst" in only:
            section("burst", bench.burst)
        if "api" in only:
            section("API throughput", bench.api_throughput)
        if "transfer" in only:
            section("transfers", bench.transfers)
        if "capacity" in only:
            section("idle memory and capacity", lambda: capacity(bench))
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        res.error("run", "interrupted")
    finally:
        if bay is not None and bay.proc is not None and bay.proc.poll() is None:
            try:
                api = Api(bay.port, API_KEY, timeout=30)
                ids = api.list_ids()
                api.close()
                log(f"clean-up: deleting {len(ids)} remaining sandboxes")
                errs = run_async(delete_many(bay.port, ids))
                if errs:
                    res.error("clean-up", f"{len(errs)} deletes failed: {errs[:2]}")
                pool = plan.warm_pool_size if bench is not None and bench.pool_active else 0
                deadline = time.monotonic() + 60
                while len(bay.runtime_records()) > pool and time.monotonic() < deadline:
                    time.sleep(0.1)
                if (n := len(bay.runtime_records())) > pool:
                    log(f"  {n} runtimes still recorded after the deletes")
            except Exception as e:  # noqa: BLE001 - the sweep below still runs
                res.error("clean-up", f"{type(e).__name__}: {e}")
        if bay is not None:
            rc = bay.stop()
            log(f"bay stopped (exit status {rc})")
        leftovers = sweep_leftovers(str(data))
        if leftovers.killed or leftovers.unmounted:
            log(f"swept {len(leftovers.killed)} leftover processes (warm pool or unfinished "
                f"teardowns), {len(leftovers.unmounted)} mounts")
        if args.keep_tmp:
            log(f"temporary files kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    res.details["leftovers_swept"] = {"processes": len(leftovers.killed) if leftovers else None,
                                      "mounts": len(leftovers.unmounted) if leftovers else None}
    doc = {
        "schema": report.SCHEMA,
        "date": date,
        "duration_s": round(time.monotonic() - started, 1),
        "loadavg_before": load_before,
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_busy_before_pct": round(busy_before, 1),
        "cpu_busy_after_pct": round(system_busy(1.0), 1),
        "machine": machine.machine(),
        "build": build_info(build_dir),
        "config": {"quick": plan.quick, "sections": sorted(only), "plan": vars(plan),
                   "cargo_size_limits": args.cargo_size_limits,
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
        print(f"  {t['result']:7}  {t['target']}: {fmt(t['value'], t['unit'])} "
              f"({t['op']} {fmt(t['threshold'], t['unit'])})")
    print(f"\nwrote {jp}\n      {mp}")
    return 1 if res.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
