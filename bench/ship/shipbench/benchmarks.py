"""The measurements. Each section records figures into a Results and raises on failure."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

from . import transfer, wrk
from .httpc import HttpConn, HttpError, build_request, json_request
from .procs import Ship, cpu_seconds, memory_snapshot
from .report import Results
from .stats import summary

MIB = 1024.0


@dataclass
class Plan:
    """How much of everything to do; `quick` trades precision for time."""

    quick: bool
    cold_reps: int
    echo_n: int
    read_n: int
    print_n: int
    health_n: int
    wrk_seconds: float
    wrk_warmup: float
    transfer_size: int
    transfer_reps: int
    curl_crosscheck: bool

    @staticmethod
    def make(quick: bool) -> "Plan":
        if quick:
            return Plan(True, 30, 500, 2000, 1000, 2000, 3, 1, 1 << 30, 1, False)
        return Plan(False, 40, 1000, 5000, 2000, 5000, 10, 1, 1 << 30, 3, True)


class Bench:
    def __init__(self, binary: str, tmp: str, plan: Plan, res: Results, log=print):
        self.binary = binary
        self.tmp = tmp
        self.plan = plan
        self.res = res
        self.log = log
        self.ship: Ship | None = None

    def _new_dirs(self, prefix: str) -> tuple[str, str, str]:
        d = tempfile.mkdtemp(dir=self.tmp, prefix=prefix)
        ws = os.path.join(d, "workspace")
        os.mkdir(ws)
        return d, ws, os.path.join(d, "state")

    # ------------------------------------------------------------ 1. cold start

    def cold_start(self) -> None:
        reps = self.plan.cold_reps
        floors = {}
        for name, argv in (("true_exit", ["/bin/true"]), ("version_exit", [self.binary, "--version"])):
            samples = []
            for _ in range(reps):
                t0 = time.perf_counter_ns()
                subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               check=True, timeout=10)
                samples.append((time.perf_counter_ns() - t0) / 1e6)
            floors[name] = summary(samples)
        details = {"floors": floors}
        for eager in (True, False):
            key = "eager" if eager else "no_eager"
            self.log(f"  cold start ({key}) x{reps}")
            to_200, to_log = [], []
            for i in range(reps + 3):  # 3 unmeasured: page cache, Python's own first-use costs
                d, ws, state = self._new_dirs(f"cold-{key}-{i}-")
                ship = Ship(self.binary, ws, state, eager_kernel=eager)
                try:
                    ms = ship.start(timeout=10)
                    if i >= 3:
                        to_200.append(ms)
                        to_log.append(ship.t_log_ms)
                finally:
                    ship.stop()
                    shutil.rmtree(d, ignore_errors=True)
            s, sl = summary(to_200), summary(to_log)
            details[key] = {"to_health_200_ms": s, "to_log_line_ms": sl}
            what = "default, eager kernel" if eager else "--no-eager-kernel"
            self.res.fig(f"cold_start.{key}.p50", s["p50"], "ms", f"spawn → /health 200 p50 ({what})")
            self.res.fig(f"cold_start.{key}.p99", s["p99"], "ms", f"spawn → /health 200 p99 ({what})")
            self.res.fig(f"cold_start.{key}.log_line_p50", sl["p50"], "ms",
                         f"spawn → start-up log line p50 ({what})")
        self.res.fig("cold_start.floor.version_exit_p50", floors["version_exit"]["p50"], "ms",
                     "floor: `ship --version` spawn → exit p50 (exec, dynamic linking, static init)")
        self.res.fig("cold_start.floor.true_exit_p50", floors["true_exit"]["p50"], "ms",
                     "floor: `/bin/true` spawn → exit p50 (the harness's spawn cost)")
        self.res.details["cold_start"] = details

    # ------------------------------------------------------------ main instance

    def start_main(self) -> None:
        d, ws, state = self._new_dirs("main-")
        self.main_dir = d
        self.workspace = ws
        ship = Ship(self.binary, ws, state, eager_kernel=True,
                    log_path=os.path.join(self.tmp, "ship-main.log"))
        try:
            ship.start(timeout=15)
        except BaseException:
            ship.stop()
            raise
        self.ship = ship
        self.port = ship.port
        self.host = f"127.0.0.1:{self.port}"

    def stop_main(self) -> None:
        if self.ship:
            self.ship.stop()
            self.ship = None

    # ------------------------------------------------------------ 2. memory

    def idle_memory(self) -> None:
        ship = self.ship
        # Settled = the kernel exists, reports alive, and neither RSS moved for ~1 s.
        deadline = time.monotonic() + 20
        prev, stable = None, 0
        with HttpConn("127.0.0.1", self.port) as c:
            while time.monotonic() < deadline:
                k = ship.kernel_pid()
                alive = k is not None and c.get("/ipython/kernel/status").json().get("status") == "alive"
                try:
                    cur = (memory_snapshot(ship.pid)["vm_rss_kib"],
                           memory_snapshot(k)["vm_rss_kib"] if k else None)
                except OSError:
                    cur = None
                stable = stable + 1 if (alive and cur == prev) else 0
                if stable >= 4:
                    break
                prev = cur
                time.sleep(0.25)
            else:
                raise RuntimeError("Ship/kernel memory did not settle within 20 s")
        k = ship.kernel_pid()
        s_mem = memory_snapshot(ship.pid, mappings=12)
        k_mem = memory_snapshot(k, mappings=8)
        self.res.details.setdefault("memory", {})["idle"] = {"ship": s_mem, "kernel": k_mem,
                                                             "kernel_pid_parent": ship.pid}
        for who, m in (("ship", s_mem), ("kernel", k_mem)):
            name = "Ship" if who == "ship" else "Python kernel"
            self.res.fig(f"memory.idle.{who}.vm_rss", m["vm_rss_kib"] / MIB, "MiB", f"{name} idle VmRSS")
            self.res.fig(f"memory.idle.{who}.pss", m["pss_kib"] / MIB, "MiB", f"{name} idle PSS")
            self.res.fig(f"memory.idle.{who}.uss", m["uss_kib"] / MIB, "MiB",
                         f"{name} idle USS (pages no other process maps)")
            self.res.fig(f"memory.idle.{who}.rss_anon", m["rss_anon_kib"] / MIB, "MiB",
                         f"{name} idle RssAnon (private heap/stacks)")
            self.res.fig(f"memory.idle.{who}.rss_file", m["rss_file_kib"] / MIB, "MiB",
                         f"{name} idle RssFile (mapped binary and libraries)")
        self.res.fig("memory.idle.ship.threads", s_mem["threads"], "threads", "Ship threads when idle")

    def memory_after_load(self) -> None:
        m = memory_snapshot(self.ship.pid)
        self.res.details.setdefault("memory", {})["after_load"] = {"ship": m}
        self.res.fig("memory.after_load.ship.vm_rss", m["vm_rss_kib"] / MIB, "MiB",
                     "Ship VmRSS after the whole run")
        self.res.fig("memory.after_load.ship.vm_hwm", m["vm_hwm_kib"] / MIB, "MiB",
                     "Ship peak RSS (VmHWM) over the whole run")

    # ------------------------------------------------------------ 3 + 5. latency

    def _seq(self, request: bytes, n: int, warmup: int, check) -> dict:
        with HttpConn("127.0.0.1", self.port) as c:
            check(c.roundtrip(request))
            for _ in range(warmup):
                c.roundtrip(request)
            samples = []
            bad = 0
            gc.disable()  # client-side pauses would show up as server latency
            try:
                for _ in range(n):
                    t0 = time.perf_counter_ns()
                    r = c.roundtrip(request)
                    samples.append((time.perf_counter_ns() - t0) / 1e6)
                    bad += r.status != 200
            finally:
                gc.enable()
        if bad:
            raise HttpError(f"{bad} of {n} requests did not answer 200")
        return summary(samples)

    def prepare_files(self) -> None:
        content = ("0123456789abcdef" * 63 + "0123456789abcde\n")  # 1024 bytes
        assert len(content) == 1024
        with HttpConn("127.0.0.1", self.port) as c:
            r = c.post_json("/fs/write_file", {"path": "bench/1k.txt", "content": content})
            if r.status != 200 or r.json().get("size") != 1024:
                raise HttpError(f"write_file answered {r.status}: {r.body[:200]!r}")

    def latency(self) -> None:
        p = self.plan

        def ok(r):
            if r.status != 200:
                raise HttpError(f"answered {r.status}: {r.body[:200]!r}")

        def echo_ok(r):
            ok(r)
            j = r.json()
            if not j.get("success") or j.get("stdout") != "hi":
                raise HttpError(f"unexpected echo answer {j}")

        def read_ok(r):
            ok(r)
            j = r.json()
            if j.get("size") != 1024 or len(j.get("content", "")) != 1024:
                raise HttpError(f"unexpected read_file answer {r.body[:200]!r}")

        def print_ok(r):
            ok(r)
            j = r.json()
            if not j.get("success") or j.get("output", {}).get("text") != "hi":
                raise HttpError(f"unexpected ipython answer {j}")

        cases = [
            ("health", "GET /health (HTTP floor)", build_request("GET", "/health", self.host),
             p.health_n, 200, ok),
            ("echo", "POST /shell/exec echo hi",
             json_request("/shell/exec", self.host, {"command": "echo hi"}), p.echo_n, 30, echo_ok),
            ("read_file_1k", "POST /fs/read_file 1 KiB",
             json_request("/fs/read_file", self.host, {"path": "bench/1k.txt"}), p.read_n, 200,
             read_ok),
            ("ipython_print", "POST /ipython/exec print('hi')",
             json_request("/ipython/exec", self.host, {"code": "print('hi')"}), p.print_n, 50,
             print_ok),
        ]
        det = self.res.details.setdefault("latency", {})
        for key, label, req, n, warm, check in cases:
            self.log(f"  latency {key} x{n}")
            s = self._seq(req, n, warm, check)
            det[key] = {"ms": s}
            self.res.fig(f"latency.{key}.p50", s["p50"], "ms", f"{label} p50")
            self.res.fig(f"latency.{key}.p99", s["p99"], "ms", f"{label} p99")

    # ------------------------------------------------------------ 4. throughput

    def throughput(self) -> None:
        p = self.plan
        scripts = {
            "echo": ("/shell/exec", wrk.write_script(self.tmp, "echo", '{"command":"echo hi"}')),
            "read_file_1k": ("/fs/read_file",
                             wrk.write_script(self.tmp, "read", '{"path":"bench/1k.txt"}')),
        }
        det = self.res.details.setdefault("throughput", {})
        for key, (path, script) in scripts.items():
            url = f"http://{self.host}{path}"
            wrk.run(url, script, connections=8, threads=1, seconds=p.wrk_warmup)
            best = 0.0
            for conns in (8, 32):
                self.log(f"  wrk {key} c{conns} {p.wrk_seconds:.0f}s")
                # One wrk thread: the client then uses at most one of the machine's cores.
                c0 = cpu_seconds(self.ship.pid)
                r = wrk.run(url, script, connections=conns, threads=1, seconds=p.wrk_seconds)
                c1 = cpu_seconds(self.ship.pid)
                n = max(1, r["requests"])
                # Ship's CPU and that of the processes it started and reaped (bash), per
                # request: what bounds throughput on a small machine, independent of load.
                r["server_cpu_ms_per_req"] = {
                    "ship": (c1["self"] - c0["self"]) * 1000 / n,
                    "children": (c1["children"] - c0["children"]) * 1000 / n,
                }
                r["client_cpu_ms_per_req"] = r["client_cpu_s"] * 1000 / n
                det.setdefault(key, {})[f"c{conns}"] = r
                if r["non_2xx"] or any(r["errors"].values()):
                    self.res.error("throughput", f"{key} c{conns}: errors {r['errors']}")
                best = max(best, r["req_per_s"])
                self.res.fig(f"throughput.{key}.c{conns}.req_s", r["req_per_s"], "req/s",
                             f"{path} {key} at {conns} connections", better="higher")
                self.res.fig(f"throughput.{key}.c{conns}.p99", r["latency_ms"]["p99"], "ms",
                             f"{path} {key} at {conns} connections: latency p99")
                cpu = r["server_cpu_ms_per_req"]
                self.res.fig(f"throughput.{key}.c{conns}.server_cpu_us",
                             (cpu["ship"] + cpu["children"]) * 1000, "µs/req",
                             f"{path} {key} at {conns} connections: CPU per request, Ship + "
                             "the processes it reaped")
                self.res.fig(f"throughput.{key}.c{conns}.ship_cpu_us", cpu["ship"] * 1000, "µs/req",
                             f"{path} {key} at {conns} connections: CPU per request, Ship alone")
            self.res.fig(f"throughput.{key}.best.req_s", best, "req/s",
                         f"{path} {key}: best of 8/32 connections", better="higher")

    # ------------------------------------------------------------ 6. transfers

    def transfers(self) -> None:
        p = self.plan
        size = p.transfer_size
        block = transfer.make_block()
        det = self.res.details.setdefault("transfer", {})
        ups, downs, refs = [], [], []
        rel = None
        for i in range(p.transfer_reps):
            # Same starting point for every run: no dirty pages being written back meanwhile
            # (an earlier upload, another process). Uploads go to fresh names because
            # replacing a 1 GiB file makes the final rename pay for freeing the old one.
            os.sync()
            if rel:
                os.remove(os.path.join(self.workspace, rel))
            # Reference: the same bytes written into a plain file on this filesystem. On a VM
            # the first use of fresh guest memory is several times slower than reusing freed
            # page-cache pages, so write twice: the first write warms the pages (reported as
            # "cold"), the second is the reference, and the upload then reuses warm pages too.
            ref_path = os.path.join(self.workspace, "bench/ref.bin")
            cold = transfer.file_write_ceiling(ref_path, size, block)
            warm = transfer.file_write_ceiling(ref_path, size, block)
            refs.append({"cold": cold, "warm": warm})
            rel = f"bench/up-{i}.bin"
            self.log(f"  upload {size >> 20} MiB ({i + 1}/{p.transfer_reps})")
            ups.append(transfer.upload(self.port, rel, size, block))
            transfer.verify_file(os.path.join(self.workspace, rel), size, block)
        for i in range(p.transfer_reps):
            self.log(f"  download {size >> 20} MiB ({i + 1}/{p.transfer_reps})")
            downs.append(transfer.download(self.port, rel, size, block))
        det["upload_raw"], det["download_raw"] = ups, downs
        up = summary([u["gb_per_s"] for u in ups])
        down = summary([d["gb_per_s"] for d in downs])
        self.res.fig("transfer.upload.gb_s", up["p50"], "GB/s",
                     f"upload 1 GiB, streamed multipart, median of {len(ups)}", better="higher")
        self.res.fig("transfer.upload.best_gb_s", up["max"], "GB/s", "upload 1 GiB, best run",
                     better="higher")
        self.res.fig("transfer.download.gb_s", down["p50"], "GB/s",
                     f"download 1 GiB, median of {len(downs)}", better="higher")
        self.res.fig("transfer.download.best_gb_s", down["max"], "GB/s", "download 1 GiB, best run",
                     better="higher")
        if p.curl_crosscheck and transfer.curl_available():
            self.log("  curl cross-check (upload + download)")
            src = os.path.join(self.workspace, rel)
            os.sync()
            cu = transfer.curl_upload(self.port, src, "bench/big-curl.bin", size)
            os.remove(os.path.join(self.workspace, "bench/big-curl.bin"))
            cd = transfer.curl_download(self.port, rel, size)
            det["curl_upload"], det["curl_download"] = cu, cd
            self.res.fig("transfer.curl.upload_gb_s", cu["gb_per_s"], "GB/s",
                         "cross-check: `curl -F file=@…` upload", better="higher")
            self.res.fig("transfer.curl.download_gb_s", cd["gb_per_s"], "GB/s",
                         "cross-check: `curl -o /dev/null` download", better="higher")
        os.remove(os.path.join(self.workspace, rel))
        os.sync()
        ceiling = transfer.loopback_ceiling(size, block)
        det["loopback_ceiling"] = ceiling
        self.res.fig("transfer.ref.loopback_gb_s", ceiling["gb_per_s"], "GB/s",
                     "reference: Python → Python over loopback TCP, no server", better="higher")
        det["file_write_ceiling"] = refs
        fsw = summary([r["warm"]["gb_per_s"] for r in refs])
        fsc = summary([r["cold"]["gb_per_s"] for r in refs])
        self.res.fig("transfer.ref.file_write_gb_s", fsw["p50"], "GB/s",
                     "reference: Python write() of 1 GiB into the workspace filesystem right "
                     "before each upload (page cache, no fsync), median", better="higher")
        self.res.fig("transfer.ref.file_write_cold_gb_s", fsc["p50"], "GB/s",
                     "reference: the same, first write after sync (fresh page-cache pages)",
                     better="higher")
        self.res.fig("transfer.upload.vs_file_write", up["p50"] / fsw["p50"], "x",
                     "upload rate / plain file write rate (1.0 = Ship adds nothing)",
                     better="higher")
