"""The warm pool (docs/warm-pool.md): pre-started runtimes claimed by new sandboxes,
invisible through the API until the first call, bound to their sandbox, cleaned up on
delete, shutdown and restart."""

from __future__ import annotations

import json
import os
import re
import time

from conftest import TEST_PROFILES

WARM_PROFILES = TEST_PROFILES.replace(
    "  - id: python-default\n",
    "  - id: python-default\n    warm_pool_size: 2\n", 1)


def wait_for(pred, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def ready_lines(bay) -> int:
    """Slots that became ready since this Bay process started."""
    return len(re.findall(r"warm pool python-default: runtime \S+ ready",
                          bay.log()[bay._log_offset:]))


def live_runtime_pids(bay) -> list[int]:
    """Pids of the runtimes whose records are in this Bay's session directory and alive."""
    pids = []
    for meta in (bay.data_dir / "sessions").glob("*/*.json"):
        # runtime_id is "proc:<bwrap pid>:<start time>:<init pid>:<start time>:<session>".
        try:
            pid = int(json.loads(meta.read_text())["runtime_id"].split(":")[1])
        except (ValueError, OSError, KeyError, IndexError):
            continue
        if pid > 0 and os.path.exists(f"/proc/{pid}"):
            pids.append(pid)
    return pids


def test_claimed_runtime_is_invisible_until_first_call(bay_factory):
    bay = bay_factory(config_text=WARM_PROFILES)
    wait_for(lambda: ready_lines(bay) >= 2, what="the pool to fill")
    sb = bay.create()
    # Invisible: idle, no containers, no extra sandboxes in the list.
    assert sb["status"] == "idle"
    got = bay.client.get(f"/v1/sandboxes/{sb['id']}").json()
    assert got["status"] == "idle" and got["containers"] is None
    items = bay.client.get("/v1/sandboxes").json()["items"]
    assert [s["id"] for s in items] == [sb["id"]]
    # Keepalive does not start (or reveal) a session.
    assert bay.client.post(f"/v1/sandboxes/{sb['id']}/keepalive").status_code == 200
    assert bay.client.get(f"/v1/sandboxes/{sb['id']}").json()["status"] == "idle"

    r = bay.python(sb["id"], "import os\nprint(os.environ['BAY_SANDBOX_ID'])")
    assert r["success"] and r["output"].strip() == sb["id"], r
    assert "adopting warm session" in bay.log()
    got = bay.client.get(f"/v1/sandboxes/{sb['id']}").json()
    assert got["status"] == "ready" and got["containers"]
    # Shell commands see the bound sandbox id too; the first cell was execution 1.
    r = bay.shell(sb["id"], "echo $BAY_SANDBOX_ID; echo $BAY_SESSION_ID; pwd")
    lines = r["output"].split()
    assert lines[0] == sb["id"] and lines[1].startswith("sess-") and lines[2] == "/workspace"
    r = bay.python(sb["id"], "x = 41\nx + 1")
    assert r["output"].strip() == "42" and r["data"]["execution_count"] == 2, r


def test_claimed_storage_is_the_managed_cargo(bay_factory):
    bay = bay_factory(config_text=WARM_PROFILES)
    wait_for(lambda: ready_lines(bay) >= 2, what="the pool to fill")
    warm_before = set(live_runtime_pids(bay))
    assert len(warm_before) == 2
    sb = bay.create()
    cargo = bay.client.get(f"/v1/cargos/{sb['cargo_id']}").json()
    assert cargo["managed"] is True and cargo["managed_by_sandbox_id"] == sb["id"]
    bay.python(sb["id"], "open('/workspace/from_kernel.txt', 'w').write('warm')")
    r = bay.client.get(f"/v1/sandboxes/{sb['id']}/filesystem/files",
                       params={"path": "from_kernel.txt"})
    assert r.status_code == 200 and r.json()["content"] == "warm", r.text
    # Deleting the sandbox removes its cargo storage and its runtime.
    # The sandbox's runtime is one of the two the pool had before the create (its record
    # keeps the empty sandbox id of a warm start).
    assert bay.client.delete(f"/v1/sandboxes/{sb['id']}").status_code == 204
    assert bay.client.get(f"/v1/cargos/{sb['cargo_id']}").status_code == 404
    wait_for(lambda: not (bay.data_dir / "cargos" / sb["cargo_id"]).exists(),
             what="the cargo storage to go")
    wait_for(lambda: len(warm_before - set(live_runtime_pids(bay))) == 1,
             what="the sandbox's runtime to go")
    # The pool refills after the claim.
    wait_for(lambda: ready_lines(bay) >= 3, what="a refill")


def test_code_inside_cannot_rebind(bay_factory):
    bay = bay_factory(config_text=WARM_PROFILES)
    wait_for(lambda: ready_lines(bay) >= 1, what="the pool to fill")
    sb = bay.create()
    code = (
        "import urllib.request, urllib.error\n"
        "req = urllib.request.Request('http://127.0.0.1:8123/internal/bind', method='POST',\n"
        "    data=b'{\"env\": {\"BAY_SANDBOX_ID\": \"sandbox-evil\"}}',\n"
        "    headers={'Content-Type': 'application/json'})\n"
        "try:\n"
        "    print(urllib.request.urlopen(req).status)\n"
        "except urllib.error.HTTPError as e:\n"
        "    print(e.code)\n")
    r = bay.python(sb["id"], code)
    assert r["output"].strip() == "403", r
    r = bay.shell(sb["id"], "echo $BAY_SANDBOX_ID")
    assert r["output"].strip() == sb["id"]


def test_external_cargo_starts_cold(bay_factory):
    bay = bay_factory(config_text=WARM_PROFILES)
    wait_for(lambda: ready_lines(bay) >= 2, what="the pool to fill")
    cargo = bay.client.post("/v1/cargos", json={}).json()
    sb = bay.create(cargo_id=cargo["id"])
    r = bay.python(sb["id"], "import os; print(os.environ['BAY_SANDBOX_ID'])")
    assert r["output"].strip() == sb["id"]
    assert "adopting warm session" not in bay.log()


def test_shutdown_and_restart_leave_no_warm_runtime(bay_factory):
    bay = bay_factory(config_text=WARM_PROFILES)
    wait_for(lambda: ready_lines(bay) >= 2, what="the pool to fill")
    used = bay.create()
    bay.python(used["id"], "print(1)")
    wait_for(lambda: len(live_runtime_pids(bay)) == 3, what="2 warm + the adopted one")
    bay.stop()
    # A clean stop destroys the warm runtimes; the sandbox's session keeps running.
    wait_for(lambda: len(live_runtime_pids(bay)) == 1, what="warm runtimes to go")
    bay.start()
    wait_for(lambda: ready_lines(bay) >= 2, what="the pool to refill after restart")
    wait_for(lambda: len(live_runtime_pids(bay)) == 3, what="1 session + 2 warm")
    # The re-attached session still answers; warm storage of no cargo was swept.
    assert bay.python(used["id"], "print(2)")["output"].strip() == "2"
    cargos = {p.name for p in (bay.data_dir / "cargos").iterdir() if not p.name.startswith(".")}
    assert len(cargos) == 3  # the used sandbox's cargo and the two warm slots


def test_restart_after_crash_removes_previous_warm_runtimes(bay_factory):
    bay = bay_factory(config_text=WARM_PROFILES)
    wait_for(lambda: ready_lines(bay) >= 2, what="the pool to fill")
    old = set(live_runtime_pids(bay))
    old_storage = {p.name for p in (bay.data_dir / "cargos").iterdir()
                   if not p.name.startswith(".")}
    assert len(old) == 2 and len(old_storage) == 2
    bay.proc.kill()
    bay.proc.wait()
    bay._log.close()
    bay.client.close()
    bay.start()
    wait_for(lambda: not (old & set(live_runtime_pids(bay))), what="old warm runtimes to go")
    wait_for(lambda: len(live_runtime_pids(bay)) == 2, what="a fresh pool")
    storage = {p.name for p in (bay.data_dir / "cargos").iterdir() if not p.name.startswith(".")}
    assert not (storage & old_storage), "storage of the previous warm slots was not swept"
