"""Idle memory per sandbox and how many idle sandboxes the host holds.

Ramps up idle sandboxes (each with a running session: created, one `print` so its Ship
and kernel are up) in steps. After every step it measures:
  * PSS of every process of every sandbox (outer bwrap, the sandbox's init bwrap, Ship,
    the Python kernel; found from the runtime records Bay keeps under <data>/sessions:
    the bwrap process tree plus the session's cgroups), summed per sandbox and per role;
  * MemAvailable of the host, and its drop per sandbox since the start (this includes
    what PSS cannot see: page tables, kernel objects, cgroups, the cargo's ext4 mount);
  * the latency of a probe `print` on an older sandbox (p50 of 20).
It stops at the maximum count, when MemAvailable would fall below the floor (default
6 GiB: the machine is shared), when the probe p50 is 10x its starting value, or when
creates fail. If it stopped before the maximum, the capacity is extrapolated from the
measured cost per sandbox and the MemAvailable left, and labelled as an extrapolation.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from shipbench.procs import cmdline, smaps_rollup_kib
from shipbench.stats import summary

from .api import AConn, Api
from .bayproc import API_KEY, sandbox_pids
from .benchmarks import PRINT, PROFILE, Bench, create_and_print, meminfo_kib, run_async

MIB = 1024.0


def _role(argv: list[str]) -> str:
    if not argv:
        return "other"
    a0 = argv[0].rsplit("/", 1)[-1]
    if a0 == "bwrap":
        return "bwrap"
    if a0 == "ship":
        return "ship"
    # Started as `python3 -c <launcher> <dir> shipyard_kernel ...` (or as the script).
    if any(x.endswith("shipyard_kernel.py") or x == "shipyard_kernel" for x in argv):
        return "kernel"
    return a0


def measure_sandboxes(bench: Bench, sandbox_ids: set[str]) -> dict:
    """PSS/USS per sandbox over all processes of the given sandboxes' runtimes."""
    per_sb, roles, nproc = [], {}, 0
    uss_tot = 0.0
    for rec in bench.bay.runtime_records():
        if rec.get("sandbox_id") not in sandbox_ids:
            continue
        pss = uss = 0
        for pid in sandbox_pids(rec):
            try:
                sm = smaps_rollup_kib(pid)
                role = _role(cmdline(pid))
            except OSError:
                continue
            nproc += 1
            pss += sm.get("Pss", 0)
            u = sm.get("Private_Clean", 0) + sm.get("Private_Dirty", 0)
            uss += u
            r = roles.setdefault(role, {"pss_kib": 0, "uss_kib": 0, "count": 0})
            r["pss_kib"] += sm.get("Pss", 0)
            r["uss_kib"] += u
            r["count"] += 1
        per_sb.append(pss)
        uss_tot += uss
    n = max(1, len(per_sb))
    return {
        "sandboxes": len(per_sb),
        "processes": nproc,
        "pss_per_sandbox_mib": sum(per_sb) / n / MIB,
        "uss_per_sandbox_mib": uss_tot / n / MIB,
        "pss_max_mib": max(per_sb, default=0) / MIB,
        "roles_per_sandbox_mib": {k: {"pss": v["pss_kib"] / n / MIB, "uss": v["uss_kib"] / n / MIB,
                                      "processes": v["count"] / n} for k, v in roles.items()},
    }


# /proc/meminfo fields whose growth per sandbox shows where memory goes outside the
# processes' PSS; the unreclaimable kernel part counts towards the capacity estimate.
KERNEL_KEYS = ("AnonPages", "Shmem", "Buffers", "Cached", "SReclaimable", "SUnreclaim",
               "PageTables", "KernelStack", "Percpu")
UNRECLAIMABLE = ("SUnreclaim", "PageTables", "KernelStack", "Percpu", "Shmem")


def cgroup_usage_mib(bench: Bench, sandbox_ids: set[str]) -> float | None:
    """Mean memory charged to the sessions' memory cgroups (v1 memory.usage_in_bytes or
    v2 memory.current): processes, their page cache and (if accounted) kernel memory."""
    vals = []
    for rec in bench.bay.runtime_records():
        if rec.get("sandbox_id") not in sandbox_ids:
            continue
        for cg in rec.get("cgroups", []):
            for name in ("memory.usage_in_bytes", "memory.current"):
                try:
                    vals.append(int(Path(cg, name).read_text()))
                    break
                except (OSError, ValueError):
                    continue
    return round(sum(vals) / len(vals) / (1 << 20), 2) if vals else None


def probe_latency(api: Api, sid: str, n: int = 20) -> float:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        api.python(sid, PRINT)
        samples.append((time.perf_counter() - t0) * 1000)
    return summary(samples)["p50"]


async def _create_idle(port: int, count: int, concurrency: int = 8) -> tuple[list[str], list[str]]:
    ids, errors = [], []
    left = [count]

    async def worker():
        c = await AConn(port, API_KEY).open()
        try:
            while left[0] > 0:
                left[0] -= 1
                try:
                    r = await create_and_print(port, PROFILE, c)
                    ids.append(r["id"])
                except Exception as e:  # noqa: BLE001 - counted; the ramp stops on errors
                    errors.append(f"{type(e).__name__}: {e}")
                    await c.close()
                    c = await AConn(port, API_KEY).open()
        finally:
            await c.close()

    await asyncio.gather(*[worker() for _ in range(min(concurrency, count))])
    return ids, errors


def capacity(bench: Bench) -> None:
    p = bench.plan
    res = bench.res
    log = bench.log
    api = bench.api
    probe = bench.ensure_probe()
    floor_kib = int(p.mem_floor_gib * (1 << 20))
    mem0 = meminfo_kib()
    avail0 = mem0["MemAvailable"]
    probe0 = probe_latency(api, probe, 30)
    bench.bay_memory("before_ramp")
    log(f"  MemAvailable {avail0 / MIB / 1024:.1f} GiB, floor {p.mem_floor_gib} GiB, "
        f"probe print p50 {probe0:.2f} ms, max {p.capacity_max} sandboxes")
    ids: list[str] = []
    steps = []
    stop_reason = f"reached the maximum of {p.capacity_max}"
    cost_kib = 40 * 1024  # first guess per sandbox until one is measured
    try:
        while len(ids) < p.capacity_max:
            avail = meminfo_kib()["MemAvailable"]
            step = min(p.capacity_step, p.capacity_max - len(ids))
            # Never step below the floor: shrink the step to what the last cost allows.
            room = int((avail - floor_kib) / max(cost_kib, 1))
            if room < step:
                step = room
            if step <= 0:
                stop_reason = (f"MemAvailable {avail / MIB:.0f} MiB: another step would go "
                               f"below the {p.mem_floor_gib} GiB floor")
                break
            t0 = time.perf_counter()
            new, errors = run_async(_create_idle(bench.port, step))
            step_s = time.perf_counter() - t0
            ids += new
            time.sleep(1.0)  # let the new kernels go idle
            m = measure_sandboxes(bench, set(ids))
            mi = meminfo_kib()
            lat = probe_latency(api, probe)
            if lat > 10 * probe0:
                # The machine is shared: confirm a slow probe before stopping on it.
                time.sleep(2.0)
                lat = probe_latency(api, probe, 50)
            drop = (avail0 - mi["MemAvailable"]) / max(1, len(ids))
            kdelta = {k: round((mi.get(k, 0) - mem0.get(k, 0)) / max(1, len(ids)) / MIB, 3)
                      for k in KERNEL_KEYS}
            kernel_kib = sum(kdelta[k] for k in UNRECLAIMABLE) * MIB
            cost_kib = max(drop, m["pss_per_sandbox_mib"] * MIB + kernel_kib)
            cg = cgroup_usage_mib(bench, set(ids))
            row = {"sandboxes": len(ids), "step_seconds": round(step_s, 2),
                   "create_per_s": round(len(new) / step_s, 1) if step_s else None,
                   "mem_available_mib": round(mi["MemAvailable"] / MIB),
                   "mem_available_drop_per_sandbox_mib": round(drop / MIB, 2),
                   "pss_per_sandbox_mib": round(m["pss_per_sandbox_mib"], 2),
                   "uss_per_sandbox_mib": round(m["uss_per_sandbox_mib"], 2),
                   "measured_sandboxes": m["sandboxes"], "processes": m["processes"],
                   "kernel_unreclaimable_per_sandbox_mib": round(kernel_kib / MIB, 2),
                   "meminfo_delta_per_sandbox_mib": kdelta,
                   "cgroup_usage_per_sandbox_mib": cg,
                   "probe_print_p50_ms": round(lat, 3), "errors": len(errors),
                   "loadavg": [round(x, 2) for x in os.getloadavg()]}
            steps.append(row)
            if len(steps) == 1:
                res.details["capacity_first_step_roles"] = m["roles_per_sandbox_mib"]
            res.details["capacity_last_roles"] = m["roles_per_sandbox_mib"]
            log(f"  {len(ids)} idle: PSS {row['pss_per_sandbox_mib']} MiB/sandbox, "
                f"MemAvailable {row['mem_available_mib']} MiB "
                f"(-{row['mem_available_drop_per_sandbox_mib']} MiB/sandbox), probe "
                f"{lat:.2f} ms, step {step_s:.1f}s")
            if errors:
                res.details["capacity_errors"] = errors[:10]
                stop_reason = f"{len(errors)} creates failed at ~{len(ids)} sandboxes: {errors[0]}"
                break
            if lat > 10 * probe0:
                stop_reason = f"probe print p50 {lat:.1f} ms > 10x the start ({probe0:.2f} ms)"
                break
            if mi["MemAvailable"] < floor_kib:
                stop_reason = f"MemAvailable below the {p.mem_floor_gib} GiB floor"
                break
        bench.bay_memory("after_ramp")
    finally:
        log(f"  deleting {len(ids)} sandboxes")
        t0 = time.perf_counter()
        bench.delete_all(ids)
        res.details["capacity_delete_seconds"] = round(time.perf_counter() - t0, 1)

    last = steps[-1] if steps else None
    reached = last["sandboxes"] if last else 0
    d = {"steps": steps, "stop_reason": stop_reason, "mem_available_start_mib": round(avail0 / MIB),
         "probe_start_p50_ms": probe0, "floor_gib": p.mem_floor_gib}
    if last:
        # Cost per sandbox as the host sees it: the larger of PSS and the MemAvailable drop
        # (the drop is noisy on a shared machine; PSS misses kernel memory).
        # Two costs per sandbox: PSS plus the unreclaimable kernel memory that grew with the
        # sandboxes (page tables, slab, per-cpu, kernel stacks, shmem), and the raw
        # MemAvailable drop (includes whatever else the shared machine did meanwhile).
        cost = last["pss_per_sandbox_mib"] + last["kernel_unreclaimable_per_sandbox_mib"]
        cost_avail = last["mem_available_drop_per_sandbox_mib"]
        left = last["mem_available_mib"]
        # Extrapolated to 1 GiB of MemAvailable left (below that the host starts reclaiming
        # page cache hard and everything slows down).
        extrapolated = int(reached + max(0, left - 1024) / cost) if cost > 0 else None
        extrapolated_avail = (int(reached + max(0, left - 1024) / cost_avail)
                              if cost_avail > 0 else None)
        d.update({"held": reached, "cost_per_sandbox_mib": cost,
                  "cost_memavailable_per_sandbox_mib": cost_avail,
                  "extrapolated_from_memavailable_drop": extrapolated_avail,
                  "extrapolated_to_1gib_available": extrapolated,
                  "extrapolated_to_floor": int(reached + max(0, left - p.mem_floor_gib * 1024) / cost)
                  if cost > 0 else None,
                  "capacity_is_extrapolation": reached < 1000})
        res.fig("memory.idle.pss_per_sandbox", last["pss_per_sandbox_mib"], "MiB",
                f"idle sandbox PSS (Ship + kernel + bwrap), mean over {reached}")
        res.fig("memory.idle.uss_per_sandbox", last["uss_per_sandbox_mib"], "MiB",
                f"idle sandbox USS (private pages), mean over {reached}")
        res.fig("memory.idle.pss_per_sandbox_first_step", steps[0]["pss_per_sandbox_mib"], "MiB",
                f"idle sandbox PSS, mean over the first {steps[0]['sandboxes']}")
        res.fig("memory.idle.mem_available_drop_per_sandbox",
                last["mem_available_drop_per_sandbox_mib"], "MiB",
                "MemAvailable drop per idle sandbox (incl. kernel memory; noisy)")
        res.fig("memory.idle.kernel_per_sandbox", last["kernel_unreclaimable_per_sandbox_mib"],
                "MiB", "unreclaimable kernel memory per idle sandbox (meminfo growth)")
        if last["cgroup_usage_per_sandbox_mib"] is not None:
            res.fig("memory.idle.cgroup_usage_per_sandbox", last["cgroup_usage_per_sandbox_mib"],
                    "MiB", "memory charged to a sandbox's cgroup (incl. page cache)")
        if extrapolated_avail is not None and reached < 1000:
            res.fig("capacity.estimate_memavailable", max(reached, extrapolated_avail),
                    "sandboxes", "idle sandboxes, EXTRAPOLATED from the MemAvailable drop "
                    "(pessimistic on a shared machine)", better="higher")
        res.fig("capacity.held", reached, "sandboxes", "idle sandboxes held (measured)",
                better="higher")
        estimate = max(reached, extrapolated or 0)
        res.fig("capacity.estimate", estimate, "sandboxes",
                "idle sandboxes the host holds (" +
                ("measured" if estimate == reached else
                 f"{reached:,} held, the rest EXTRAPOLATED from cost per sandbox and "
                 "MemAvailable left") + ")",
                better="higher")
        res.fig("capacity.probe_p50_at_max", last["probe_print_p50_ms"], "ms",
                f"probe print p50 with {reached} idle sandboxes")
    res.details["capacity"] = d
