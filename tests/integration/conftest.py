"""Shared fixtures: start the real binaries from the build tree on temporary state."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("SHIPYARD_BUILD_DIR", ROOT / "build" / "release"))
SHIP_BIN = BUILD_DIR / "app" / "bin" / "ship"


class ShipProcess:
    """A running `ship` on a temporary workspace, reachable over TCP and a unix socket."""

    def __init__(self, workspace: Path, state: Path, extra_args=(), env=None):
        self.workspace = workspace
        self.socket = state / "ship.sock"
        self.log_path = state / "ship.log"
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "SHIP_STATE_DIR": str(state / "ship-state"),
            "LANG": "C.UTF-8",
        }
        if env:
            full_env.update(env)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(SHIP_BIN), "--listen", "127.0.0.1:0", "--unix", str(self.socket),
             "--workspace", str(workspace), *extra_args],
            stdout=self._log, stderr=subprocess.STDOUT, env=full_env,
        )
        self.port = self._wait_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.url, timeout=60)
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("ship did not become healthy:\n" + self.log())
            time.sleep(0.02)

    def _wait_port(self) -> int:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            m = re.search(r"tcp:(\d+)", self.log())
            if m:
                return int(m.group(1))
            if self.proc.poll() is not None:
                raise RuntimeError("ship exited early:\n" + self.log())
            time.sleep(0.01)
        raise RuntimeError("ship did not report its port:\n" + self.log())

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        # A clean shutdown exits 0; sanitizer findings (leaks at exit) make it fail.
        assert self.proc.returncode == 0, f"ship exited {self.proc.returncode}:\n{self.log()[-4000:]}"


@pytest.fixture
def tmp_state():
    with tempfile.TemporaryDirectory(prefix="shipyard-test-") as d:
        yield Path(d)


@pytest.fixture
def ship_factory(tmp_state):
    """Starts ships on demand; all are stopped at the end of the test."""
    started: list[ShipProcess] = []

    def start(extra_args=(), env=None, workspace: Path | None = None) -> ShipProcess:
        ws = workspace or (tmp_state / f"ws{len(started)}")
        ws.mkdir(exist_ok=True)
        state = tmp_state / f"state{len(started)}"
        state.mkdir(exist_ok=True)
        s = ShipProcess(ws, state, extra_args, env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def ship(ship_factory) -> ShipProcess:
    return ship_factory()


# ---------------------------------------------------------------------------- Bay

BAY_BIN = BUILD_DIR / "bin" / "bay"

TEST_PROFILES = """
profiles:
  - id: python-default
    resources: {cpus: 1.0, memory: "1g"}
    capabilities: [filesystem, shell, python]
    idle_timeout: 300
    env:
      MY_VAR: "some-value"
  - id: python-only
    resources: {cpus: 1.0, memory: "512m"}
    capabilities: [python]
    idle_timeout: 300
  - id: small
    resources: {cpus: 1.0, memory: "128m"}
    capabilities: [filesystem, shell, python]
    idle_timeout: 300
  - id: quick-reclaim
    resources: {cpus: 0.5, memory: "512m"}
    capabilities: [filesystem, shell, python]
    idle_timeout: 2
"""


class BayProcess:
    """A running `bay` with the process driver on a temporary data directory."""

    def __init__(self, data_dir: Path, api_key: str | None = "test-key", extra_env=None,
                 config_text: str = TEST_PROFILES):
        self.data_dir = data_dir
        self.api_key = api_key
        self.config_path = data_dir.parent / (data_dir.name + ".yaml")
        self.config_path.write_text(config_text)
        self.log_path = data_dir.parent / (data_dir.name + ".log")
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "BAY_CONFIG_FILE": str(self.config_path),
            "BAY_DATA_DIR": str(data_dir),
            "BAY_SERVER__HOST": "127.0.0.1",
            "BAY_SERVER__PORT": "0",
            "BAY_GC__ENABLED": "false",
            "BAY_GC__INSTANCE_ID": "test-" + data_dir.name,
            "HOSTNAME": "test",
        }
        if api_key:
            self.env["BAY_API_KEY"] = api_key
        if extra_env:
            self.env.update(extra_env)
        self.proc = None
        self.start()

    def start(self):
        self._log = open(self.log_path, "ab")
        self._log_offset = self.log_path.stat().st_size
        self.proc = subprocess.Popen([str(BAY_BIN)], stdout=self._log, stderr=subprocess.STDOUT,
                                     env=self.env)
        deadline = time.monotonic() + 30
        while True:
            text = self.log()[self._log_offset:]
            m = re.search(r"listening on http://[^:]+:(\d+)", text)
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                raise RuntimeError("bay exited early:\n" + self.log())
            if time.monotonic() > deadline:
                raise RuntimeError("bay did not start:\n" + self.log())
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}"
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=120)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        self.client.close()
        already_dead = self.proc.poll() is not None
        if not already_dead:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        if sig == signal.SIGTERM and not already_dead:
            # A clean shutdown exits 0; sanitizer findings (leaks at exit) make it fail.
            assert self.proc.returncode == 0, f"bay exited {self.proc.returncode}:\n{self.log()[-4000:]}"

    def restart(self):
        self.stop()
        self.start()

    # convenience
    def create(self, **body) -> dict:
        r = self.client.post("/v1/sandboxes", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def python(self, sid: str, code: str, **kw) -> dict:
        r = self.client.post(f"/v1/sandboxes/{sid}/python/exec", json={"code": code, **kw})
        assert r.status_code == 200, r.text
        return r.json()

    def shell(self, sid: str, command: str, **kw) -> dict:
        r = self.client.post(f"/v1/sandboxes/{sid}/shell/exec", json={"command": command, **kw})
        assert r.status_code == 200, r.text
        return r.json()

    def destroy_all(self):
        """Deletes every sandbox of the test owner so no runtime outlives the test."""
        try:
            r = self.client.get("/v1/sandboxes", params={"limit": 200})
            for s in r.json().get("items", []):
                self.client.delete(f"/v1/sandboxes/{s['id']}")
        except Exception:
            pass


def _unmount_cargos(data_dir: Path):
    """Unmounts the per-cargo filesystems a Bay mounted (they outlive Bay on purpose)."""
    prefix = str(data_dir) + "/"
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f if line.split()[4].startswith(prefix)]
    for p in sorted(points, reverse=True):
        subprocess.run(["umount", "-l", p], check=False)


def _kill_leftover_runtimes(data_dir: Path):
    """Kills sandbox processes a test left behind (they outlive Bay on purpose) and
    removes their cgroups, so that no test run leaks host resources."""
    import json as _json
    sessions = data_dir / "sessions"
    if not sessions.is_dir():
        return
    cgroups: list[str] = []
    for meta in sessions.glob("*/*.json"):
        try:
            rec = _json.loads(meta.read_text())
        except Exception:
            continue
        cgroups += [c for c in rec.get("cgroups", []) if isinstance(c, str)]
        # runtime_id is "proc:<bwrap pid>:<start>:<init pid>:<start>:<session>".
        try:
            for pid in (int(p) for p in str(rec.get("runtime_id", "")).split(":")[1:5:2]):
                if pid > 0:
                    os.kill(pid, signal.SIGKILL)
        except Exception:
            pass
    for cg in cgroups:
        procs = Path(cg) / "cgroup.procs"
        # Everything in the cgroup goes (the kill above may leave stragglers), then it.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                pids = [int(p) for p in procs.read_text().split()]
            except OSError:
                break
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            try:
                os.rmdir(cg)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.05)


@pytest.fixture
def bay_factory(tmp_state):
    started: list[BayProcess] = []

    # Sandboxes run as unprivileged host uids that must traverse to their cargo.
    os.chmod(tmp_state, 0o711)

    def start(**kw) -> BayProcess:
        d = tmp_state / f"bay{len(started)}"
        d.mkdir(mode=0o711)
        b = BayProcess(d, **kw)
        started.append(b)
        return b

    yield start
    for b in started:
        if b.proc and b.proc.poll() is None:
            b.destroy_all()
        b.stop()
        _kill_leftover_runtimes(b.data_dir)
        _unmount_cargos(b.data_dir)


@pytest.fixture
def bay(bay_factory) -> BayProcess:
    return bay_factory()
