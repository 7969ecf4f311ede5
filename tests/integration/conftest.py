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
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


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
