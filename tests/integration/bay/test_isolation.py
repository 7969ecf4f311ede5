"""What code inside a sandbox observes (bay-api-v1.md §14) and runtime recovery (§6.10)."""

from __future__ import annotations

import os
import signal
import time

import pytest


# The sandbox identity, filesystem and tools match §14.1-§14.3.
def test_identity_and_filesystem(bay):
    sb = bay.create()["id"]
    sh = lambda c: bay.shell(sb, c)
    assert sh("id")["output"].startswith("uid=1000(shipyard) gid=1000(shipyard)")
    assert sh("whoami")["output"] == "shipyard"
    passwd = sh("cat /etc/passwd")["output"]
    assert passwd.startswith("root:") and "shipyard:x:1000:1000::/workspace:/bin/bash" in passwd
    assert sh("echo $HOME; pwd")["output"] == "/workspace\n/workspace"
    assert sh("stat -c '%U' /workspace")["output"] == "shipyard"
    r = sh("echo x > /etc/evil")
    assert r["success"] is False
    assert "Permission denied" in r["error"] or "Read-only file system" in r["error"]
    assert sh("touch /usr/evil")["success"] is False
    assert "ID=" in sh("cat /etc/os-release")["output"]
    assert sh("test -e /var/run/docker.sock && echo yes || echo no")["output"] == "no"
    # Only the sandbox's own processes are visible.
    procs = sh("ps -eo comm --no-headers")["output"].split()
    assert "ship" in procs and "systemd" not in procs and "bay" not in procs
    assert len(procs) < 15, procs


# Ship is reachable inside at localhost:8123 on the sandbox's own loopback.
def test_runtime_inside(bay):
    a = bay.create()["id"]
    b = bay.create()["id"]
    out_a = bay.shell(a, "curl -s http://localhost:8123/health")["output"]
    assert '"status":"healthy"' in out_a
    # Each sandbox reaches its own Ship: the session env differs.
    sa = bay.shell(a, "curl -s http://127.0.0.1:8123/shell/exec -d '{\"command\":\"echo $BAY_SANDBOX_ID\"}'")
    sb_ = bay.shell(b, "curl -s http://127.0.0.1:8123/shell/exec -d '{\"command\":\"echo $BAY_SANDBOX_ID\"}'")
    assert a in sa["output"] and b in sb_["output"]
    # Only loopback exists (network: none).
    ifaces = bay.shell(a, "tail -n +3 /proc/net/dev | cut -d: -f1")["output"].split()
    assert ifaces == ["lo"]


# Tools of §14.2 are on PATH and python3 -m venv works in the workspace.
def test_tools(bay):
    sb = bay.create()["id"]
    out = bay.shell(sb, "python3 --version; node --version; git --version; curl --version | head -1; "
                        "tar --version | head -1; gzip --version | head -1; pnpm --version; npm --version")
    assert out["success"], out
    lines = out["output"].splitlines()
    assert lines[0].startswith("Python 3.") and lines[1].startswith("v")
    assert lines[2].startswith("git version")
    r = bay.shell(sb, "python3 -m venv /workspace/.venv && test -x .venv/bin/python && test -f .venv/bin/activate",
                  timeout=120)
    assert r["success"], r


# Files written in the sandbox belong to the cargo's host uid, not to root.
def test_cargo_ownership(bay):
    sbx = bay.create()
    bay.shell(sbx["id"], "echo hi > mine.txt")
    path = bay.data_dir / "cargos" / sbx["cargo_id"] / "mine.txt"
    st = path.stat()
    assert st.st_uid >= 65536 and st.st_uid != 0
    assert path.read_text() == "hi\n"


# A 128 MiB profile cannot allocate 500 MiB; the sandbox survives and keeps working.
def test_memory_limit(bay):
    sb = bay.create(profile="small")["id"]
    bay.python(sb, "keep = 1")
    r = bay.client.post(f"/v1/sandboxes/{sb}/python/exec",
                        json={"code": "x = bytearray(500 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096])",
                              "timeout": 60})
    if r.status_code == 200:
        assert r.json()["success"] is False
    else:
        assert r.status_code >= 500
    assert bay.client.get(f"/v1/sandboxes/{sb}").status_code == 200
    r2 = bay.python(sb, "2 + 2")
    assert r2["output"] == "4"
    assert bay.shell(sb, "echo alive")["output"] == "alive"


# A runtime killed from outside is noticed and replaced on the next call.
def test_dead_runtime_replaced(bay):
    sb = bay.create()["id"]
    bay.shell(sb, "echo persisted > p.txt")
    # Kill every process of the sandbox from inside (pid 1 of its namespace is bwrap's init).
    bay.client.post(f"/v1/sandboxes/{sb}/shell/exec", json={"command": "kill -9 -1", "timeout": 5})
    deadline = time.monotonic() + 15
    while True:
        r = bay.client.post(f"/v1/sandboxes/{sb}/shell/exec", json={"command": "cat p.txt"})
        if r.status_code == 200 and r.json()["output"] == "persisted":
            break
        assert r.status_code in (200, 502, 503), r.text
        assert time.monotonic() < deadline, r.text
        time.sleep(0.2)
    assert bay.client.get(f"/v1/sandboxes/{sb}").json()["status"] == "ready"


# A Bay restart keeps live sessions: Python variables survive.
def test_restart_keeps_sessions(bay):
    sb = bay.create()["id"]
    bay.python(sb, "survivor = 'still here'")
    bay.restart()
    assert bay.client.get(f"/v1/sandboxes/{sb}").json()["status"] == "ready"
    assert bay.python(sb, "survivor")["output"] == "'still here'"
    # And a stopped one stays stopped.
    bay.client.post(f"/v1/sandboxes/{sb}/stop")
    bay.restart()
    assert bay.client.get(f"/v1/sandboxes/{sb}").json()["status"] == "idle"


# A Bay killed with SIGKILL re-attaches too.
def test_kill9_restart(bay):
    sb = bay.create()["id"]
    bay.python(sb, "v = 7")
    bay.stop(signal.SIGKILL)
    bay.start()
    assert bay.python(sb, "v * 6")["output"] == "42"
