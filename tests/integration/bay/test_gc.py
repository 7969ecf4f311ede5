"""Garbage collection (bay-api-v1.md §13)."""

from __future__ import annotations

import json
import signal
import threading
import time


def gc(bay, tasks=None):
    body = None if tasks is None else {"tasks": tasks}
    r = bay.client.post("/v1/admin/gc/run", json=body) if body else bay.client.post("/v1/admin/gc/run")
    assert r.status_code == 200, r.text
    return r.json()


# Status reflects the configuration; a run reports every task it ran.
def test_status_and_shape(bay):
    st = bay.client.get("/v1/admin/gc/status").json()
    assert st["enabled"] is False and st["is_running"] is False
    assert st["instance_id"].startswith("test-") and st["interval_seconds"] == 300
    assert st["tasks"] == {"idle_session": {"enabled": True}, "expired_sandbox": {"enabled": True},
                           "orphan_cargo": {"enabled": True}, "orphan_container": {"enabled": False}}
    report = gc(bay)
    assert [t["task_name"] for t in report["results"]] == ["idle_session", "expired_sandbox", "orphan_cargo"]
    assert report["total_cleaned"] == 0 and report["total_errors"] == 0
    assert isinstance(report["duration_ms"], int)
    only = gc(bay, ["orphan_container", "bogus", "idle_session"])
    assert [t["task_name"] for t in only["results"]] == ["idle_session", "orphan_container"]
    assert bay.client.post("/v1/admin/gc/run", json={"tasks": [5]}).status_code == 422


# Expired sandboxes are deleted with their managed cargo.
def test_expired_sandbox(bay):
    sb = bay.create(ttl=1)
    keep = bay.create(ttl=600)
    bay.python(sb["id"], "1")
    time.sleep(1.3)
    report = gc(bay, ["expired_sandbox"])
    assert report["results"][0]["cleaned_count"] == 1
    assert bay.client.get(f"/v1/sandboxes/{sb['id']}").status_code == 404
    assert bay.client.get(f"/v1/cargos/{sb['cargo_id']}").status_code == 404
    assert bay.client.get(f"/v1/sandboxes/{keep['id']}").status_code == 200


# Idle sessions are reclaimed; files stay; the next call resumes transparently.
def test_idle_session(bay):
    sb = bay.create(profile="quick-reclaim")["id"]
    bay.shell(sb, "echo kept > f.txt")
    bay.python(sb, "x = 1")
    time.sleep(2.3)
    report = gc(bay, ["idle_session"])
    assert report["results"][0]["cleaned_count"] == 1
    got = bay.client.get(f"/v1/sandboxes/{sb}").json()
    assert got["status"] == "idle" and got["idle_expires_at"] is None and got["containers"] is None
    assert bay.shell(sb, "cat f.txt")["output"] == "kept"
    assert "NameError" in bay.python(sb, "x")["error"]


# A session with a call in flight is never reclaimed, even past its idle deadline.
def test_idle_skips_inflight(bay):
    sb = bay.create(profile="quick-reclaim")["id"]
    bay.python(sb, "1")
    result = {}
    t = threading.Thread(target=lambda: result.update(
        r=bay.client.post(f"/v1/sandboxes/{sb}/python/exec", json={"code": "import time; time.sleep(4); 'done'"})))
    t.start()
    time.sleep(3)  # past the 2 s idle timeout
    report = gc(bay, ["idle_session"])
    assert report["results"][0]["cleaned_count"] == 0
    t.join(30)
    assert result["r"].status_code == 200 and result["r"].json()["output"] == "'done'"
    assert bay.client.get(f"/v1/sandboxes/{sb}").json()["status"] == "ready"


# Runtimes this Bay no longer knows are destroyed by orphan_container.
def test_orphan_runtimes(bay):
    sb = bay.create()["id"]
    bay.python(sb, "1")
    runtime = next((bay.data_dir / "sessions").glob("*/runtime.json"))
    pid = json.loads(runtime.read_text())["pid"] if "pid" in json.loads(runtime.read_text()) else None
    # Forget everything: kill Bay and drop its database; the sandbox runtime keeps running.
    bay.stop(signal.SIGKILL)
    for f in bay.data_dir.glob("bay.db*"):
        f.unlink()
    bay.start()
    assert runtime.exists()
    report = gc(bay, ["orphan_container"])
    assert report["results"][0]["cleaned_count"] == 1, report
    deadline = time.monotonic() + 5
    while runtime.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not runtime.exists()
    del pid


# With gc.enabled the scheduler runs at start-up on its own.
def test_scheduler(bay_factory):
    b = bay_factory(extra_env={"BAY_GC__ENABLED": "true", "BAY_GC__INTERVAL_SECONDS": "1"})
    sb = b.create(ttl=1)
    deadline = time.monotonic() + 10
    while b.client.get(f"/v1/sandboxes/{sb['id']}").status_code != 404:
        assert time.monotonic() < deadline, "scheduled GC never removed the expired sandbox"
        time.sleep(0.2)
