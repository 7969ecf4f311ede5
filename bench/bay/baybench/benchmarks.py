"""The Bay measurements. Each section records figures into a Results and raises on failure.

Sandbox bookkeeping: every sandbox a section creates is deleted by that section (or, if
the section fails half-way, by the final clean-up in run.py, which deletes whatever the
API still lists).
"""

from __future__ import annotations

import asyncio
import gc
import os
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from shipbench import wrk
from shipbench.procs import memory_snapshot
from shipbench.report import Results
from shipbench.stats import summary

from . import transfer
from .api import AConn, Api, request_bytes
from .bayproc import API_KEY, BayProcess

MIB = 1024.0
PRINT = "print('hi')"
PROFILE = "bench"
WARM_PROFILE = "bench-warm"


@dataclass
class Plan:
    quick: bool
    cold_n: int
    warm_n: int
    warm_pool_size: int
    print_n: int
    echo_n: int
    burst_n: int
    wrk_seconds: float
    history_n: int
    history_api_budget_s: float
    transfer_size: int
    transfer_reps: int
    capacity_max: int
    capacity_step: int
    mem_floor_gib: float
    list_fill: int

    @staticmethod
    def make(quick: bool, capacity_max: int | None, mem_floor_gib: float) -> "Plan":
        if quick:
            return Plan(True, 20, 20, 4, 300, 200, 20, 3, 10_000, 5, 256 << 20, 1,
                        capacity_max or 40, 10, mem_floor_gib, 60)
        return Plan(False, 100, 100, 8, 2000, 1000, 100, 10, 100_000, 20, 1 << 30, 3,
                    capacity_max or 1000, 50, mem_floor_gib, 60)


def profiles(warm_pool_size: int) -> list[dict]:
    common = {"capabilities": ["filesystem", "shell", "python"], "idle_timeout": 7200,
              "resources": {"cpus": 1.0, "memory": "1g"}}
    out = [{"id": "python-default", **common}, {"id": PROFILE, **common}]
    if warm_pool_size > 0:
        out.append({"id": WARM_PROFILE, **common, "warm_pool_size": warm_pool_size})
    return out


def meminfo_kib() -> dict[str, int]:
    out = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        k, _, v = line.partition(":")
        out[k] = int(v.split()[0])
    return out


def run_async(coro):
    return asyncio.run(coro)


async def create_and_print(port: int, profile: str, conn: AConn | None = None) -> dict:
    """POST /v1/sandboxes then the first python/exec; times in ms from before the create."""
    own = conn is None
    c = conn or await AConn(port, API_KEY).open()
    try:
        t0 = time.perf_counter()
        sb = await c.ok("POST", "/v1/sandboxes", {"profile": profile}, expect=(201,))
        t1 = time.perf_counter()
        r = await c.ok("POST", f"/v1/sandboxes/{sb['id']}/python/exec", {"code": PRINT})
        t2 = time.perf_counter()
    finally:
        if own:
            await c.close()
    if r.get("output") != "hi":
        raise RuntimeError(f"first print answered {r!r}")
    return {"id": sb["id"], "create_ms": (t1 - t0) * 1000, "exec_ms": (t2 - t1) * 1000,
            "total_ms": (t2 - t0) * 1000, "t_end": t2}


async def delete_many(port: int, ids: list[str], concurrency: int = 8) -> list[str]:
    """Deletes concurrently; returns the messages of the deletes that failed."""
    queue = list(ids)
    errors: list[str] = []

    async def worker():
        c = await AConn(port, API_KEY).open()
        try:
            while queue:
                sid = queue.pop()
                try:
                    await c.ok("DELETE", f"/v1/sandboxes/{sid}", expect=(204, 404))
                except Exception as e:  # noqa: BLE001 - collect, keep deleting the rest
                    errors.append(f"{sid}: {e}")
                    await c.close()
                    c = await AConn(port, API_KEY).open()
        finally:
            await c.close()

    await asyncio.gather(*[worker() for _ in range(min(concurrency, max(1, len(ids))))])
    return errors


class Bench:
    def __init__(self, bay: BayProcess, plan: Plan, res: Results, tmp: str, log=print):
        self.bay = bay
        self.plan = plan
        self.res = res
        self.tmp = tmp
        self.log = log
        self.api = Api(bay.port, API_KEY)
        self.port = bay.port
        self.history_sid: str | None = None
        self.probe_sid: str | None = None
        self.cold_p50: float | None = None
        self.pool_active: bool | None = None
        self.perf: bool = False

    # ------------------------------------------------------------ helpers

    def delete_all(self, ids: list[str]) -> None:
        errs = run_async(delete_many(self.port, ids))
        if errs:
            raise RuntimeError(f"{len(errs)} deletes failed: {errs[:3]}")
        self.wait_runtimes_at_most(self.expected_runtimes())

    def expected_runtimes(self) -> int:
        """Runtimes that should remain: the probe sandbox's plus the warm pool."""
        n = 1 if self.probe_sid else 0
        return n + (self.plan.warm_pool_size if self.pool_active else 0)

    def wait_runtimes_at_most(self, n: int, timeout: float = 60) -> int:
        # DELETE answers before the teardown has finished (bay-api-v1.md §6.9); wait for it
        # so that one section's clean-up does not run into the next section's timing.
        deadline = time.monotonic() + timeout
        while (k := len(self.bay.runtime_records())) > n and time.monotonic() < deadline:
            time.sleep(0.05)
        return k

    # ------------------------------------------------------------ warm pool fill

    def wait_pool(self) -> None:
        size = self.plan.warm_pool_size
        bound = 10 + 1.5 * size
        t0 = time.monotonic()
        while len(self.bay.runtime_records()) < size and time.monotonic() - t0 < bound:
            time.sleep(0.05)
        n = len(self.bay.runtime_records())
        self.pool_active = n >= size
        waited = time.monotonic() - t0
        if self.pool_active:
            time.sleep(1.0)  # the last runtimes' kernels finish starting
        self.log(f"  warm pool: {n} pre-started runtimes after {waited:.1f}s "
                 f"({'active' if self.pool_active else 'not active in this build'})")
        self.res.details["warm_pool_fill"] = {"pool_size": size, "runtimes_seen": n,
                                              "waited_s": round(waited, 2),
                                              "active": self.pool_active}

    # ------------------------------------------------------------ 1. cold / warm create

    def _create_series(self, key: str, profile: str, n: int, paced: bool) -> dict:
        ids, samples, refill_timeouts = [], [], 0
        conn_holder: list[AConn] = []

        async def one() -> dict:
            if not conn_holder:
                conn_holder.append(await AConn(self.port, API_KEY).open())
            return await create_and_print(self.port, profile, conn_holder[0])

        async def series():
            nonlocal refill_timeouts
            base = len(self.bay.runtime_records())
            last = 0.0
            for i in range(n + 2):  # 2 unmeasured: first-use costs of this profile
                if paced:
                    # The pool refills in the background: wait for a replacement runtime
                    # (one more record per sample taken), then give its kernel a moment.
                    deadline = time.monotonic() + 5
                    while len(self.bay.runtime_records()) < base + i and time.monotonic() < deadline:
                        await asyncio.sleep(0.01)
                    if time.monotonic() >= deadline:
                        refill_timeouts += 1
                    gap = max(0.1, (self.cold_p50 or 100) / 1000)
                    await asyncio.sleep(max(0.0, last + gap - time.monotonic()))
                gc.disable()
                try:
                    s = await one()
                finally:
                    gc.enable()
                last = time.monotonic()
                ids.append(s["id"])
                if i >= 2:
                    samples.append(s)
            for c in conn_holder:
                await c.close()

        try:
            run_async(series())
        finally:
            self.delete_all(ids)
        tot = summary([s["total_ms"] for s in samples])
        cre = summary([s["create_ms"] for s in samples])
        exe = summary([s["exec_ms"] for s in samples])
        return {"total": tot, "create": cre, "first_exec": exe, "refill_timeouts": refill_timeouts}

    def cold(self) -> None:
        n = self.plan.cold_n
        self.log(f"  cold create -> first print x{n} (sequential, one connection)")
        d = self._create_series("cold", PROFILE, n, paced=False)
        self.res.details["cold"] = d
        self.cold_p50 = d["total"]["p50"]
        r = self.res
        r.fig("create.cold.p50", d["total"]["p50"], "ms", "create → first print p50 (cold)")
        r.fig("create.cold.p99", d["total"]["p99"], "ms", "create → first print p99 (cold)")
        r.fig("create.cold.create_p50", d["create"]["p50"], "ms", "POST /v1/sandboxes alone p50")
        r.fig("create.cold.first_exec_p50", d["first_exec"]["p50"], "ms",
              "first python/exec (session start + print) p50")

    def warm(self) -> None:
        n = self.plan.warm_n
        if self.pool_active is None:
            self.wait_pool()
        self.log(f"  warm-pool create -> first print x{n} (pool size "
                 f"{self.plan.warm_pool_size}, paced: {bool(self.pool_active)})")
        d = self._create_series("warm", WARM_PROFILE, n, paced=bool(self.pool_active))
        d["pool_active"] = self.pool_active
        if self.cold_p50:
            d["ratio_to_cold_p50"] = d["total"]["p50"] / self.cold_p50
        self.res.details["warm_pool"] = d
        r = self.res
        r.fig("create.warm_pool.p50", d["total"]["p50"], "ms",
              f"create → first print p50 (warm pool of {self.plan.warm_pool_size})")
        r.fig("create.warm_pool.p99", d["total"]["p99"], "ms",
              f"create → first print p99 (warm pool of {self.plan.warm_pool_size})")
        r.fig("create.warm_pool.first_exec_p50", d["first_exec"]["p50"], "ms",
              "first python/exec through the warm pool p50")

    # ------------------------------------------------------------ 2. warm round trips

    def ensure_probe(self) -> str:
        if self.probe_sid is None:
            sid = self.api.create(PROFILE)
            self.probe_sid = sid
            self.api.python(sid, "x = 1")
        return self.probe_sid

    def _sequential(self, request: bytes, n: int, check=None) -> dict:
        api = Api(self.port, API_KEY)
        try:
            for _ in range(min(50, n)):
                api.raw(request)
            samples = []
            gc.disable()
            try:
                for _ in range(n):
                    t0 = time.perf_counter_ns()
                    resp = api.raw(request)
                    samples.append((time.perf_counter_ns() - t0) / 1e6)
                    if resp.status != 200 or (check and not check(resp)):
                        raise RuntimeError(f"unexpected answer {resp.status}: {resp.body[:200]!r}")
            finally:
                gc.enable()
        finally:
            api.close()
        return summary(samples)

    def latency(self) -> None:
        sid = self.ensure_probe()
        p = self.plan
        rb = lambda m, t, body=None: request_bytes(m, t, self.port, API_KEY, body)  # noqa: E731
        cases = [
            ("health", "GET /health (HTTP floor)", rb("GET", "/health"), 2000, None),
            ("get_sandbox", "GET /v1/sandboxes/{id} (running session, probes Ship)",
             rb("GET", f"/v1/sandboxes/{sid}"), 500, None),
            ("print", "python/exec print('hi')",
             rb("POST", f"/v1/sandboxes/{sid}/python/exec", {"code": PRINT}), p.print_n,
             lambda r: r.json().get("output") == "hi"),
            ("echo", "shell/exec echo hi",
             rb("POST", f"/v1/sandboxes/{sid}/shell/exec", {"command": "echo hi"}), p.echo_n,
             lambda r: r.json().get("output") == "hi"),
        ]
        det = {}
        for key, label, req, n, check in cases:
            self.log(f"  {label} x{n}")
            s = self._sequential(req, n, check)
            det[key] = s
            self.res.fig(f"latency.{key}.p50", s["p50"], "ms", f"{label} p50")
            self.res.fig(f"latency.{key}.p99", s["p99"], "ms", f"{label} p99")
        self.res.details["latency"] = det

    # ------------------------------------------------------------ 3. burst

    def burst(self) -> None:
        n = self.plan.burst_n
        self.log(f"  {n} sandboxes created concurrently to first print")

        async def go():
            # Connections are opened before the clock starts: the figure is Bay's, not
            # the client's connect() storm.
            conns = await asyncio.gather(*[AConn(self.port, API_KEY).open() for _ in range(n)])
            t0 = time.perf_counter()
            res = await asyncio.gather(*[create_and_print(self.port, PROFILE, c) for c in conns],
                                       return_exceptions=True)
            for c in conns:
                await c.close()
            return t0, res

        t0, res = run_async(go())
        ok = [r for r in res if isinstance(r, dict)]
        bad = [repr(r) for r in res if not isinstance(r, dict)]
        self.delete_all([r["id"] for r in ok])
        if bad:
            self.res.details["burst_errors"] = bad[:10]
        wall = (max(r["t_end"] for r in ok) - t0) * 1000 if ok else float("nan")
        per = summary([r["total_ms"] for r in ok])
        self.res.details["burst"] = {"n": n, "ok": len(ok), "failed": len(bad), "wall_ms": wall,
                                     "per_sandbox_ms": per}
        self.res.fig("burst.wall", wall, "ms", f"{n} concurrent create → first print: wall time")
        self.res.fig("burst.per_sandbox_p50", per.get("p50"), "ms", "burst: per-sandbox p50")
        self.res.fig("burst.failed", len(bad), "calls", "burst: failed sandboxes")
        if bad:
            raise RuntimeError(f"{len(bad)} of {n} burst sandboxes failed: {bad[0]}")

    # ------------------------------------------------------------ 4. API throughput

    def api_throughput(self) -> None:
        if not wrk.available():
            raise RuntimeError("wrk not found (apt-get install wrk)")
        idle_sid = self.api.create(PROFILE)
        fillers = [idle_sid]
        try:
            have = len(self.api.list_ids())
            for _ in range(max(0, self.plan.list_fill - have)):
                fillers.append(self.api.create(PROFILE))
            n_live = len(self.api.list_ids())
            hist_total = None
            if self.history_sid:
                hist_total = self.api.ok(
                    "GET", f"/v1/sandboxes/{self.history_sid}/history?limit=1").json()["total"]
            self.res.details["api_state"] = {"sandboxes_listed": n_live,
                                             "history_entries": hist_total}
            cases = [("get", "GET /v1/sandboxes/{id} (no session)", f"/v1/sandboxes/{idle_sid}"),
                     ("list", f"GET /v1/sandboxes?limit=50 ({n_live} sandboxes)",
                      "/v1/sandboxes?limit=50")]
            if self.probe_sid:
                cases.append(("get_running", "GET /v1/sandboxes/{id} (running session)",
                              f"/v1/sandboxes/{self.probe_sid}"))
            if self.history_sid:
                cases.append(("history", f"GET …/history?limit=100 ({hist_total:,} entries)",
                              f"/v1/sandboxes/{self.history_sid}/history?limit=100"))
            det = {}
            for key, label, target in cases:
                script = _get_script(self.tmp, key)
                url = f"http://127.0.0.1:{self.port}{target}"
                wrk.run(url, script, connections=8, threads=1, seconds=1)  # warm-up
                for conns in (8, 64):
                    self.log(f"  wrk {label} c{conns}")
                    cpu0 = _cpu(self.bay.pid)
                    profiled = self.perf and (key, conns) in (("get", 64), ("history", 8))
                    perf = self._perf_start(key) if profiled else None
                    w = wrk.run(url, script, connections=conns, threads=1,
                                seconds=self.plan.wrk_seconds)
                    if perf:
                        det[f"perf_{key}_c{conns}"] = self._perf_finish(perf)
                    cpu = _cpu(self.bay.pid) - cpu0
                    w["bay_cpu_us_per_req"] = cpu * 1e6 / max(1, w["requests"])
                    det[f"{key}.c{conns}"] = w
                    pre = f"api.{key}.c{conns}"
                    self.res.fig(f"{pre}.req_s", w["req_per_s"], "req/s",
                                 f"{label} at {conns} connections", better="higher")
                    self.res.fig(f"{pre}.p99", w["latency_ms"]["p99"], "ms",
                                 f"{label} at {conns} connections: latency p99")
                    self.res.fig(f"{pre}.bay_cpu_us", w["bay_cpu_us_per_req"], "µs/req",
                                 f"{label} at {conns} connections: Bay CPU per request")
                    if w["non_2xx"] or any(w["errors"].values()):
                        det[f"{key}.c{conns}"]["warning"] = "errors or non-2xx answers"
                best = max(det[f"{key}.c8"]["req_per_s"], det[f"{key}.c64"]["req_per_s"])
                self.res.fig(f"api.{key}.best.req_s", best, "req/s",
                             f"{label}: best of 8/64 connections", better="higher")
            self.res.details["api"] = det
        finally:
            self.delete_all(fillers)

    def _perf_start(self, key: str):
        out = os.path.join(self.tmp, f"perf-{key}.data")
        p = subprocess.Popen(["perf", "record", "-F", "499", "-g", "-o", out, "-p",
                              str(self.bay.pid)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        return p, out

    def _perf_finish(self, perf) -> list[str]:
        p, out = perf
        p.send_signal(2)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        r = subprocess.run(["perf", "report", "-i", out, "--no-children", "--stdio", "-g", "none",
                            "--percent-limit", "0.7", "--sort", "dso,symbol"],
                           capture_output=True, text=True, timeout=120)
        rows = []
        for line in r.stdout.splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split()
            while parts and parts[-1] == "-":  # perf pads with spaces and dashes
                parts.pop()
            rows.append(" ".join(parts))
        return rows[:40]

    # ------------------------------------------------------------ 5. transfer

    def transfers(self) -> None:
        size = self.plan.transfer_size
        limit_mb = (size >> 20) * 2 + 512
        cargo = self.api.ok("POST", "/v1/cargos", {"size_limit_mb": limit_mb},
                            expect=(201,)).json()["id"]
        sid = None
        try:
            sid = self.api.create(PROFILE, cargo_id=cargo)
            self.api.python(sid, "1")
            block = os.urandom(transfer.BLOCK)
            ups, downs, curls = [], [], []
            for i in range(self.plan.transfer_reps):
                subprocess.run(["sync"], check=False)
                self.log(f"  upload {size >> 20} MiB #{i + 1}")
                ups.append(transfer.upload(self.port, API_KEY, sid, "big.bin", size, block))
                self.log(f"  download {size >> 20} MiB #{i + 1}")
                downs.append(transfer.download(self.port, API_KEY, sid, "big.bin", size, block))
                self.log(f"  download {size >> 20} MiB #{i + 1} with curl")
                curls.append(transfer.download_curl(self.port, API_KEY, sid, "big.bin", size))
            self.res.details["transfer"] = {"upload": ups, "download": downs,
                                            "download_curl": curls,
                                            "cargo_size_limit_mb": limit_mb}
            label = f"{size / (1 << 30):g} GiB"
            for key, runs in (("upload", ups), ("download", downs), ("download_curl", curls)):
                best = max(r["gb_per_s"] for r in runs)
                med = sorted(r["gb_per_s"] for r in runs)[len(runs) // 2]
                self.res.fig(f"transfer.{key}.gb_s", best, "GB/s", f"{key} {label}: best of "
                             f"{len(runs)}", better="higher")
                self.res.fig(f"transfer.{key}.median_gb_s", med, "GB/s", f"{key} {label}: median",
                             better="higher")
        finally:
            if sid:
                self.api.delete(sid)
            self.wait_runtimes_at_most(self.expected_runtimes())
            r = self.api.req("DELETE", f"/v1/cargos/{cargo}")
            if r.status not in (200, 204, 404):
                self.log(f"  deleting cargo {cargo}: HTTP {r.status}")

    # ------------------------------------------------------------ Bay's own memory

    def bay_memory(self, when: str) -> None:
        snap = memory_snapshot(self.bay.pid)
        self.res.details.setdefault("bay_memory", {})[when] = snap
        self.res.fig(f"memory.bay.{when}.rss", snap["vm_rss_kib"] / MIB, "MiB",
                     f"Bay VmRSS ({when.replace('_', ' ')})")


def _cpu(pid: int) -> float:
    data = Path(f"/proc/{pid}/stat").read_text()
    f = data[data.rindex(")") + 2:].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


_GET_LUA = """\
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer {key}"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {{"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_status":%d,"err_timeout":%d,"lat_mean_us":%.1f,"lat_p50_us":%d,' ..
    '"lat_p90_us":%d,"lat_p99_us":%d,"lat_max_us":%d}}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
"""


def _get_script(directory: str, name: str) -> str:
    path = Path(directory) / f"get-{name}.lua"
    path.write_text(_GET_LUA.format(key=API_KEY))
    return str(path)


# ---------------------------------------------------------------- history seeding


def seed_history_api(port: int, sid: str, target: int, budget_s: float,
                     connections: int = 16) -> dict:
    """python/exec calls on one sandbox from `connections` clients until `target` entries
    or `budget_s` seconds; returns the count and the rate."""
    done = [0]
    stop_at = time.monotonic() + budget_s

    async def worker():
        c = await AConn(port, API_KEY).open()
        try:
            while done[0] < target and time.monotonic() < stop_at:
                done[0] += 1
                await c.ok("POST", f"/v1/sandboxes/{sid}/python/exec", {"code": PRINT})
        finally:
            await c.close()

    async def go():
        t0 = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(connections)])
        return time.perf_counter() - t0

    secs = run_async(go())
    return {"entries": done[0], "seconds": secs, "per_s": done[0] / secs, "connections": connections}


def seed_history_sqlite(db_path: str, sid: str, count: int) -> dict:
    """Inserts `count` python entries for `sid` straight into Bay's executions table (Bay
    must be stopped). Rows look like the API-made ones (src/bay/store/sqlite_schema.cpp)."""
    import random
    t0 = time.perf_counter()
    con = sqlite3.connect(db_path)
    try:
        owner, = con.execute("SELECT owner FROM sandboxes WHERE id = ?", (sid,)).fetchone()
        row = con.execute("SELECT session_id FROM executions WHERE sandbox_id = ? LIMIT 1",
                          (sid,)).fetchone()
        session = row[0] if row else None
        existing = {r[0] for r in con.execute("SELECT id FROM executions")}
        now_us = int(time.time() * 1e6)
        rng = random.Random(12345)

        def rows():
            made = 0
            while made < count:
                eid = f"exec-{rng.getrandbits(48):012x}"
                if eid in existing:
                    continue
                existing.add(eid)
                # Older than the API-made entries, 1 ms apart, every 10th a shell entry.
                kind = "shell" if made % 10 == 9 else "python"
                code = "echo hi" if kind == "shell" else PRINT
                yield (eid, owner, sid, session, kind, code, 1, 1, "hi", None, None, None,
                       None, None, 0, None, None, None, now_us - (count - made) * 1000)
                made += 1

        with con:
            con.executemany(
                "INSERT INTO executions (id, owner, sandbox_id, session_id, exec_type, code, "
                "success, execution_time_ms, output, error, payload_ref, description, tags, "
                "notes, learn_enabled, learn_status, learn_error, learn_processed_at, "
                "created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows())
        total, = con.execute("SELECT COUNT(*) FROM executions WHERE sandbox_id = ?",
                             (sid,)).fetchone()
    finally:
        con.close()
    return {"inserted": count, "seconds": time.perf_counter() - t0, "total_for_sandbox": total}
