"""Shared helpers of the API-side security battery (tenancy, input validation, escapes,
durability, races, API limits): a Bay with two owners, planted marker secrets and the
checks every attack ends with (nothing leaked, Bay healthy)."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import time
from pathlib import Path

import httpx

from shipyard_integration_conftest import TEST_PROFILES  # noqa: E402  (set up by conftest)

ALICE_KEY = "key-alice-" + secrets.token_hex(8)
BOB_KEY = "key-bob-" + secrets.token_hex(8)


def multi_owner_config(limits: dict | None = None) -> str:
    """The integration profiles plus two owners (alice, bob) and optional limits."""
    text = TEST_PROFILES + f"""
security:
  api_keys:
    - {{key: "{ALICE_KEY}", owner: alice}}
    - {{key: "{BOB_KEY}", owner: bob}}
"""
    if limits:
        text += "limits:\n" + "".join(f"  {k}: {v}\n" for k, v in limits.items())
    return text


def client(bay, key: str | None, **headers) -> httpx.Client:
    h = dict(headers)
    if key is not None:
        h["Authorization"] = f"Bearer {key}"
    return httpx.Client(base_url=bay.url, headers=h, timeout=120)


class Markers:
    """Random secrets planted where an attacker must never read them."""

    def __init__(self):
        self.host = "HOSTSECRET-" + secrets.token_hex(12)
        self.victim = "VICTIMSECRET-" + secrets.token_hex(12)
        self.extra: list[str] = []

    def all(self) -> list[str]:
        return [self.host, self.victim, *self.extra]

    def check(self, data, what: str = "response") -> None:
        if isinstance(data, httpx.Response):
            data = data.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        for m in self.all():
            assert m.encode() not in data, f"marker {m} leaked in {what}"


def plant_host_secret(markers: Markers, tmp_dir: Path) -> Path:
    """A world-readable file on the host, outside every cargo and outside Bay's data dir."""
    d = tmp_dir / "host-only"
    d.mkdir(exist_ok=True)
    os.chmod(d, 0o755)
    p = d / "host-secret.txt"
    p.write_text(markers.host + "\n")
    os.chmod(p, 0o644)
    return p


def healthy(bay) -> None:
    """Bay still serves: process alive, /health fast, and an authenticated read works."""
    assert bay.proc.poll() is None, "bay died:\n" + bay.log()[-4000:]
    t0 = time.monotonic()
    r = httpx.get(bay.url + "/health", timeout=5)
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert time.monotonic() - t0 < 2
    assert bay.client.get("/v1/profiles").status_code == 200


def raw_http(bay, data: bytes, read_timeout: float = 10.0) -> bytes:
    """Sends raw bytes on a fresh connection and returns whatever comes back."""
    with socket.create_connection(("127.0.0.1", bay.port), timeout=read_timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
                if b"\r\n\r\n" in out and _complete(out):
                    break
        except (socket.timeout, ConnectionResetError):
            pass
        return out


def _complete(resp: bytes) -> bool:
    head, _, body = resp.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return True


def status_of(resp: bytes) -> int:
    assert resp.startswith(b"HTTP/1."), resp[:200]
    return int(resp.split(b" ", 2)[1])


def session_pids(bay) -> list[int]:
    """Pids of the runtimes this Bay recorded (sessions/<sid>/*.json), alive or not."""
    import json

    pids = []
    for meta in (bay.data_dir / "sessions").glob("*/*.json"):
        try:
            pid = int(json.loads(meta.read_text()).get("pid", 0))
        except Exception:
            continue
        if pid > 0:
            pids.append(pid)
    return pids


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); look at its state.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_until(pred, timeout: float = 10.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def kill9(bay) -> None:
    bay.proc.send_signal(signal.SIGKILL)
    bay.proc.wait(10)
