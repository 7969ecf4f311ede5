"""Starting and stopping Bay, finding the processes of its sandboxes, cleaning up after it.

Bay is started like tests/integration/conftest.py's BayProcess: a temporary data
directory, a config file with the benchmark's profiles, BAY_API_KEY, port 0, and the port
parsed from the "listening on" log line. Sessions outlive Bay on purpose, so stopping
Bay is not enough: `BayProcess.cleanup()` deletes every sandbox through the API first,
and `sweep_leftovers()` (also run at exit) kills runtimes that are still recorded under
<data>/sessions and unmounts the per-cargo filesystems below the data directory.
Processes are only ever signalled by pid after a start-time check.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from shipbench.procs import _start_time, children, kill_verified, wait_gone

_LISTEN_RE = re.compile(r"listening on http://[^:\s]+:(\d+)")
_live: set["BayProcess"] = set()
_data_dirs: set[str] = set()
_lock = threading.Lock()

API_KEY = "bench-key-0123456789"


class BayError(Exception):
    pass


def profiles_yaml(profiles: list[dict]) -> str:
    """A config file with just the given profiles (JSON is valid YAML)."""
    return json.dumps({"profiles": profiles}, indent=2) + "\n"


class BayProcess:
    def __init__(self, binary: str, data_dir: Path, config_text: str, log_path: Path,
                 extra_env: dict | None = None):
        self.binary = binary
        self.data_dir = data_dir
        self.config_path = data_dir.parent / (data_dir.name + ".yaml")
        self.config_path.write_text(config_text)
        self.log_path = log_path
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "BAY_CONFIG_FILE": str(self.config_path),
            "BAY_DATA_DIR": str(data_dir),
            "BAY_SERVER__HOST": "127.0.0.1",
            "BAY_SERVER__PORT": "0",
            # No automatic reclaim while sandboxes sit idle for the capacity test.
            "BAY_GC__ENABLED": "false",
            "BAY_GC__RUN_ON_STARTUP": "false",
            "BAY_GC__INSTANCE_ID": "bench-" + data_dir.name,
            "BAY_API_KEY": API_KEY,
            "BAY_LOGGING__LEVEL": "info",
            "HOSTNAME": "bench",
        }
        if extra_env:
            self.env.update(extra_env)
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.start_ms: float | None = None
        with _lock:
            _data_dirs.add(str(data_dir))

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> None:
        log = open(self.log_path, "ab")
        offset = self.log_path.stat().st_size
        with _lock:
            _live.add(self)
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([self.binary], stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, env=self.env, close_fds=True)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()[offset:]
            if m := _LISTEN_RE.search(text):
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                raise BayError(f"bay exited with {self.proc.returncode} at start-up:\n{text[-3000:]}")
            if time.monotonic() > deadline:
                raise BayError(f"bay did not report its port within {timeout}s:\n{text[-3000:]}")
            time.sleep(0.01)
        self.start_ms = (time.perf_counter() - t0) * 1000

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        with _lock:
            _live.discard(self)
        return self.proc.returncode

    # ------------------------------------------------------------ sandbox processes

    def runtime_records(self) -> list[dict]:
        """runtime.json of every session the process driver has started and not removed."""
        out = []
        sessions = self.data_dir / "sessions"
        if not sessions.is_dir():
            return out
        for rec in sessions.glob("*/runtime.json"):
            try:
                r = json.loads(rec.read_text())
            except (OSError, ValueError):
                continue
            parts = str(r.get("runtime_id", "")).split(":")
            if len(parts) == 6 and parts[0] == "proc":
                r["pid"], r["start_time"] = int(parts[1]), int(parts[2])
                r["init_pid"], r["init_start_time"] = int(parts[3]), int(parts[4])
            out.append(r)
        return out


def sandbox_pids(record: dict) -> list[int]:
    """Every live process of one runtime: the outer bwrap, its descendants, and whatever
    sits in the session's cgroups (a process that left the tree is still counted)."""
    pids: set[int] = set()
    root = record.get("pid")
    if root and _start_time(root) == record.get("start_time"):
        stack = [root]
        while stack:
            p = stack.pop()
            if p in pids:
                continue
            pids.add(p)
            stack.extend(children(p))
    for cg in record.get("cgroups", []):
        try:
            pids.update(int(x) for x in Path(cg, "cgroup.procs").read_text().split())
        except (OSError, ValueError):
            pass
    return sorted(p for p in pids if _start_time(p) is not None)


# ---------------------------------------------------------------- clean-up


@dataclass
class SweepReport:
    killed: list[int] = field(default_factory=list)
    unmounted: list[str] = field(default_factory=list)


def sweep_leftovers(data_dir: str) -> SweepReport:
    """Kills runtimes still recorded under <data>/sessions (verified by start time) and
    lazily unmounts the cargo filesystems below the data directory."""
    rep = SweepReport()
    sessions = Path(data_dir) / "sessions"
    if sessions.is_dir():
        for rec in sessions.glob("*/runtime.json"):
            try:
                parts = json.loads(rec.read_text()).get("runtime_id", "").split(":")
                cgroups = json.loads(rec.read_text()).get("cgroups", [])
            except (OSError, ValueError):
                continue
            if len(parts) != 6 or parts[0] != "proc":
                continue
            targets = [(int(parts[1]), int(parts[2])), (int(parts[3]), int(parts[4]))]
            for cg in cgroups:
                try:
                    for p in Path(cg, "cgroup.procs").read_text().split():
                        targets.append((int(p), _start_time(int(p))))
                except (OSError, ValueError):
                    pass
            for pid, start in targets:
                if kill_verified(pid, start, signal.SIGKILL):
                    rep.killed.append(pid)
                    wait_gone(pid, start, 2.0)
            for cg in cgroups:
                # A cgroup whose last task just died can refuse rmdir for a moment.
                deadline = time.monotonic() + 2
                while os.path.isdir(cg) and time.monotonic() < deadline:
                    try:
                        os.rmdir(cg)
                    except OSError:
                        time.sleep(0.02)
    prefix = str(Path(data_dir).resolve()) + "/"
    try:
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f if line.split()[4].startswith(prefix)]
    except OSError:
        points = []
    for p in sorted(points, reverse=True):
        subprocess.run(["umount", "-l", p], check=False, capture_output=True)
        rep.unmounted.append(p)
    return rep


def cleanup_all() -> None:
    """Last resort (atexit, signals): stop every Bay started here, then sweep its data."""
    with _lock:
        bays = list(_live)
        dirs = list(_data_dirs)
    for b in bays:
        try:
            b.stop(timeout=5)
        except Exception:  # noqa: BLE001 - best effort during teardown
            pass
    for d in dirs:
        try:
            sweep_leftovers(d)
        except Exception:  # noqa: BLE001
            pass
