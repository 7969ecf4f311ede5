"""Starts the real `bay` once per session and gives each test an SDK client against it.

The start-up follows tests/integration/conftest.py (`BayProcess`): temporary data
directory (mode 0711, sandboxes run as unprivileged host uids), port 0 parsed from the
"listening on" log line, GC off, one API key. Every sandbox is deleted after each test
and again at the end; runtimes a crash left behind are killed.

Server features that are still being built (`/v1/cargos`, `/v1/skills/*`, idempotency)
are probed once; tests needing them skip with the reason until the server has them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from shipyard_neo import BayClient

ROOT = Path(__file__).resolve().parents[4]
_BUILD_DIR_ENV = os.environ.get("SHIPYARD_BUILD_DIR")
BUILD_DIR = Path(_BUILD_DIR_ENV) if _BUILD_DIR_ENV else ROOT / "build" / "release"
BAY_BIN = BUILD_DIR / "bin" / "bay"
API_KEY = "sdk-e2e-key"

CONFIG = """
profiles:
  - id: python-default
    resources: {cpus: 1.0, memory: "1g"}
    capabilities: [filesystem, shell, python]
    idle_timeout: 300
  - id: python-only
    resources: {cpus: 1.0, memory: "512m"}
    capabilities: [python]
    idle_timeout: 300
"""


@dataclass
class BayServer:
    url: str
    api_key: str
    data_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes]
    admin: httpx.Client
    features: dict[str, str | None] = field(default_factory=dict)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def delete_all_sandboxes(self) -> None:
        """Deletes every sandbox of the test owner (all pages)."""
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": 200}
            if cursor:
                params["cursor"] = cursor
            r = self.admin.get("/v1/sandboxes", params=params)
            if r.status_code != 200:
                return
            body = r.json()
            for item in body.get("items", []):
                self.admin.delete(f"/v1/sandboxes/{item['id']}")
            cursor = body.get("next_cursor")
            if not cursor:
                return

    def delete_external_cargos(self) -> None:
        r = self.admin.get("/v1/cargos", params={"limit": 200})
        if r.status_code == 200:
            for item in r.json().get("items", []):
                self.admin.delete(f"/v1/cargos/{item['id']}")


def _wait_listening(proc: subprocess.Popen[bytes], log_path: Path) -> int:
    deadline = time.monotonic() + 60
    while True:
        text = log_path.read_text(errors="replace") if log_path.exists() else ""
        m = re.search(r"listening on http://[^:]+:(\d+)", text)
        if m:
            return int(m.group(1))
        if proc.poll() is not None:
            raise RuntimeError("bay exited early:\n" + text[-4000:])
        if time.monotonic() > deadline:
            raise RuntimeError("bay did not start:\n" + text[-4000:])
        time.sleep(0.02)


def _kill_leftover_runtimes(data_dir: Path) -> None:
    """Sandbox processes outlive Bay by design; kill those a failure left behind."""
    for meta in (data_dir / "sessions").glob("*/*.json"):
        try:
            pid = int(json.loads(meta.read_text()).get("pid", 0))
            if pid > 0:
                os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass


def _probe_features(server: BayServer) -> dict[str, str | None]:
    """None = supported; otherwise the reason tests needing the feature are skipped."""
    features: dict[str, str | None] = {}
    for name, path in (("cargos", "/v1/cargos"), ("skills", "/v1/skills/candidates")):
        status = server.admin.get(path).status_code
        features[name] = (
            f"server has no {name} API yet (GET {path} answered {status})"
            if status in (404, 405)
            else None
        )
    key = f"sdk-e2e-probe-{uuid.uuid4().hex}"
    ids = []
    for _ in range(2):
        r = server.admin.post("/v1/sandboxes", headers={"Idempotency-Key": key})
        if r.status_code == 201:
            ids.append(r.json()["id"])
    for sid in set(ids):
        server.admin.delete(f"/v1/sandboxes/{sid}")
    features["idempotency"] = (
        None
        if len(ids) == 2 and ids[0] == ids[1]
        else "server does not replay Idempotency-Key yet (two POST /v1/sandboxes with one "
        "key created two sandboxes)"
    )
    return features


@pytest.fixture(scope="session")
def bay_server() -> Iterator[BayServer]:
    if not BAY_BIN.is_file():
        if _BUILD_DIR_ENV:
            pytest.fail(f"bay binary missing: {BAY_BIN}")
        pytest.skip(f"bay binary not built ({BAY_BIN}); set SHIPYARD_BUILD_DIR")
    tmp = Path(tempfile.mkdtemp(prefix="shipyard-sdk-e2e-"))
    # Sandboxes run as unprivileged host uids that must traverse to their cargo.
    os.chmod(tmp, 0o711)
    data_dir = tmp / "data"
    data_dir.mkdir(mode=0o711)
    config = tmp / "config.yaml"
    config.write_text(CONFIG)
    log_path = tmp / "bay.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "BAY_CONFIG_FILE": str(config),
        "BAY_DATA_DIR": str(data_dir),
        "BAY_SERVER__HOST": "127.0.0.1",
        "BAY_SERVER__PORT": "0",
        "BAY_GC__ENABLED": "false",
        "BAY_GC__INSTANCE_ID": f"sdk-e2e-{uuid.uuid4().hex[:8]}",
        "BAY_API_KEY": API_KEY,
        "HOSTNAME": "sdk-e2e",
    }
    for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if name in os.environ:
            env[name] = os.environ[name]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([str(BAY_BIN)], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        port = _wait_listening(proc, log_path)
        url = f"http://127.0.0.1:{port}"
        admin = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=120
        )
        server = BayServer(url, API_KEY, data_dir, log_path, proc, admin)
        server.features = _probe_features(server)
        yield server
        server.delete_all_sandboxes()
        server.delete_external_cargos()
        admin.close()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _kill_leftover_runtimes(data_dir)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def bay_url(bay_server: BayServer) -> Iterator[str]:
    """The server's URL; every sandbox a test leaves behind is deleted afterwards."""
    yield bay_server.url
    bay_server.delete_all_sandboxes()


@pytest.fixture
async def client(bay_url: str, bay_server: BayServer) -> AsyncIterator[BayClient]:
    async with BayClient(bay_url, bay_server.api_key) as c:
        yield c


def _require(bay_server: BayServer, feature: str) -> None:
    reason = bay_server.features.get(feature)
    if reason:
        pytest.skip(reason)


@pytest.fixture
def needs_cargos(bay_server: BayServer) -> None:
    _require(bay_server, "cargos")


@pytest.fixture
def needs_skills(bay_server: BayServer) -> None:
    _require(bay_server, "skills")


@pytest.fixture
def needs_idempotency(bay_server: BayServer) -> None:
    _require(bay_server, "idempotency")
