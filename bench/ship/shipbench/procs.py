"""Starting and stopping Ship, finding its kernel child, reading /proc memory figures.

Every Ship started here is registered so that `cleanup_all()` (called from a `finally`,
an atexit hook and the SIGTERM/SIGHUP handlers) stops it and the processes it started,
even when the run is interrupted. Processes are only ever signalled by pid, and a pid is
re-checked against its start time before it is signalled, so a recycled pid is never hit.
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from .httpc import HttpConn, HttpError, build_request

_PORT_RE = re.compile(rb" on(?: [a-z]+:\S+)*? tcp:(\d+)")
_live: set["Ship"] = set()
_live_lock = threading.Lock()


class ShipError(Exception):
    pass


# ---------------------------------------------------------------- /proc helpers


def _start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time in ticks), None if gone or a zombie."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    if rest[0] in ("Z", "X"):
        return None
    return int(rest[19])


def children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                out += [int(x) for x in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
            except OSError:
                pass
    except OSError:
        pass
    return sorted(set(out))


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def status_kib(pid: int) -> dict[str, int]:
    """Vm*/Rss* lines of /proc/<pid>/status in KiB, plus Threads."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        if k.startswith(("Vm", "Rss")) or k == "Threads":
            out[k] = int(v.split()[0])
    return out


def smaps_rollup_kib(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        k, _, v = line.partition(":")
        parts = v.split()
        if parts and parts[-1] == "kB":
            out[k] = int(parts[0])
    return out


def top_mappings(pid: int, n: int = 10) -> list[dict]:
    """RSS/PSS per mapped object (file path or [heap]/[stack]/anon), largest first."""
    agg: dict[str, dict[str, int]] = {}
    name = "?"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        first = line.split(None, 5)
        if len(first) >= 5 and "-" in first[0] and ":" not in first[0]:
            name = first[5].strip() if len(first) == 6 else "[anon]"
            agg.setdefault(name, {"rss_kib": 0, "pss_kib": 0, "private_dirty_kib": 0})
            continue
        k, _, v = line.partition(":")
        if k == "Rss":
            agg[name]["rss_kib"] += int(v.split()[0])
        elif k == "Pss":
            agg[name]["pss_kib"] += int(v.split()[0])
        elif k == "Private_Dirty":
            agg[name]["private_dirty_kib"] += int(v.split()[0])
    rows = [{"mapping": k, **v} for k, v in agg.items() if v["rss_kib"] > 0]
    rows.sort(key=lambda r: -r["rss_kib"])
    return rows[:n]


def memory_snapshot(pid: int, mappings: int = 0) -> dict:
    st = status_kib(pid)
    sm = smaps_rollup_kib(pid)
    snap = {
        "vm_rss_kib": st.get("VmRSS"),
        "vm_hwm_kib": st.get("VmHWM"),
        "rss_anon_kib": st.get("RssAnon"),
        "rss_file_kib": st.get("RssFile"),
        "rss_shmem_kib": st.get("RssShmem"),
        "vm_size_kib": st.get("VmSize"),
        "threads": st.get("Threads"),
        "pss_kib": sm.get("Pss"),
        "pss_anon_kib": sm.get("Pss_Anon"),
        "pss_file_kib": sm.get("Pss_File"),
        "private_dirty_kib": sm.get("Private_Dirty"),
        "uss_kib": sm.get("Private_Clean", 0) + sm.get("Private_Dirty", 0),
    }
    if mappings:
        snap["top_mappings"] = top_mappings(pid, mappings)
    return snap


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> dict[str, float]:
    """CPU time of `pid` itself and of its reaped children (utime+stime, cutime+cstime)."""
    data = Path(f"/proc/{pid}/stat").read_text()
    f = data[data.rindex(")") + 2:].split()
    return {"self": (int(f[11]) + int(f[12])) / _TICK, "children": (int(f[13]) + int(f[14])) / _TICK}


def system_busy(seconds: float = 1.0) -> float:
    """Percentage of all CPUs busy (not idle/iowait) over `seconds`, from /proc/stat."""
    def sample():
        f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return sum(f), f[3] + f[4]
    t0, i0 = sample()
    time.sleep(seconds)
    t1, i1 = sample()
    return 100.0 * (1 - (i1 - i0) / max(1, t1 - t0))


def kill_verified(pid: int, start: int | None, sig: int) -> bool:
    """Signals `pid` only if it is still the process that started at `start`."""
    if start is None or _start_time(pid) != start:
        return False
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def wait_gone(pid: int, start: int | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if start is None or _start_time(pid) != start:
            return True
        time.sleep(0.005)
    return start is None or _start_time(pid) != start


# ---------------------------------------------------------------- Ship


class Ship:
    """One Ship process on 127.0.0.1:<ephemeral port> serving `workspace`.

    start() returns the spawn -> first `/health` 200 time. The port comes from Ship's start-up
    log line ("... on tcp:<port>"), read from a pipe: waiting on the pipe costs Ship no CPU,
    unlike polling connect() on a 2-core machine.
    """

    def __init__(self, binary: str, workspace: str, state_dir: str, *, eager_kernel: bool = True,
                 log_path: str | None = None, extra_args: tuple[str, ...] = ()):
        self.binary = binary
        self.workspace = workspace
        self.state_dir = state_dir
        self.eager_kernel = eager_kernel
        self.log_path = log_path
        self.extra_args = extra_args
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.log_head: list[bytes] = []
        self.known_children: dict[int, int | None] = {}
        self._drain: threading.Thread | None = None
        self.t_log_ms: float | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def argv(self) -> list[str]:
        a = [self.binary, "--listen", "127.0.0.1:0", "--workspace", self.workspace,
             "--state-dir", self.state_dir, *self.extra_args]
        if not self.eager_kernel:
            a.append("--no-eager-kernel")
        return a

    def start(self, timeout: float = 15.0) -> float:
        argv = self.argv()
        with _live_lock:
            _live.add(self)
        t0 = time.perf_counter_ns()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, close_fds=True)
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        pending = b""
        while self.port is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ShipError(f"no start-up log line within {timeout}s: {self._head_text()}")
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                rc = self.proc.wait(timeout=5)
                raise ShipError(f"ship exited with status {rc} at start-up: {self._head_text()}")
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self.log_head.append(line)
                if m := _PORT_RE.search(line):
                    self.port = int(m.group(1))
        self.t_log_ms = (time.perf_counter_ns() - t0) / 1e6
        request = build_request("GET", "/health", f"127.0.0.1:{self.port}")
        while True:
            try:
                with HttpConn("127.0.0.1", self.port, timeout=max(0.1, deadline - time.monotonic())) as c:
                    if c.roundtrip(request).status == 200:
                        break
            except (OSError, HttpError):
                pass
            if time.monotonic() > deadline:
                raise ShipError("/health did not answer 200 in time")
            time.sleep(0.0005)
        elapsed_ms = (time.perf_counter_ns() - t0) / 1e6
        self.log_head.append(pending)
        self._start_drain()
        return elapsed_ms

    def _head_text(self) -> str:
        return b"\n".join(self.log_head).decode(errors="replace")[-2000:]

    def _start_drain(self) -> None:
        # Ship's later log lines must be consumed (a full pipe would block Ship); keep them
        # in a file for post-mortems.
        out = open(self.log_path, "ab") if self.log_path else None
        if out:
            out.write(b"\n".join(self.log_head) + b"\n")
        stream = self.proc.stdout

        def drain():
            try:
                while chunk := stream.read1(65536):
                    if out:
                        out.write(chunk)
            except (OSError, ValueError):
                pass
            finally:
                if out:
                    out.close()

        self._drain = threading.Thread(target=drain, daemon=True)
        self._drain.start()

    def remember_children(self) -> list[int]:
        if self.proc is None or self.proc.poll() is not None:
            return []
        for c in children(self.proc.pid):
            if c not in self.known_children:
                self.known_children[c] = _start_time(c)
        return list(self.known_children)

    def kernel_pid(self) -> int | None:
        """The Python kernel: the child of Ship running shipyard_kernel.py."""
        self.remember_children()
        for c in children(self.pid):
            # `python3 -c <launcher> <dir> shipyard_kernel ...` (or the script itself).
            if any(a.endswith("shipyard_kernel.py") or a == "shipyard_kernel"
                   for a in cmdline(c)):
                return c
        return None

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc is None:
            return
        self.remember_children()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        # Ship stops its kernels on SIGTERM; make sure, and never leave orphans behind.
        for pid, start in self.known_children.items():
            if not wait_gone(pid, start, 2.0):
                kill_verified(pid, start, signal.SIGKILL)
                wait_gone(pid, start, 2.0)
        if self._drain is not None:
            self._drain.join(timeout=2)
        try:
            self.proc.stdout.close()
        except OSError:
            pass
        with _live_lock:
            _live.discard(self)


def cleanup_all() -> None:
    with _live_lock:
        ships = list(_live)
    for s in ships:
        try:
            s.stop(timeout=3)
        except Exception:  # noqa: BLE001 - best effort during teardown
            pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
