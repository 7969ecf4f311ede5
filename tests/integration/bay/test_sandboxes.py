"""Sandbox lifecycle (bay-api-v1.md §6)."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timedelta

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(\+00:00|Z)$")


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


# Create is lazy: idle, no containers, a managed cargo, exact id formats and timestamps.
def test_create_is_lazy(bay):
    sb = bay.create(ttl=600)
    assert re.fullmatch(r"sandbox-[0-9a-f]{12}", sb["id"])
    assert re.fullmatch(r"ws-[0-9a-f]{12}", sb["cargo_id"])
    assert sb["status"] == "idle" and sb["containers"] is None and sb["idle_expires_at"] is None
    assert sb["profile"] == "python-default"
    assert sb["capabilities"] == ["filesystem", "shell", "python"]
    assert TS.match(sb["created_at"]) and TS.match(sb["expires_at"])
    assert parse(sb["expires_at"]) - parse(sb["created_at"]) == timedelta(seconds=600)
    got = bay.client.get(f"/v1/sandboxes/{sb['id']}").json()
    assert got["status"] == "idle" and got["containers"] is None
    # No runtime was started.
    assert not list((bay.data_dir / "sessions").glob("*")) if (bay.data_dir / "sessions").exists() else True
    # No body at all is accepted too; ttl null/0 means no expiry.
    r = bay.client.post("/v1/sandboxes")
    assert r.status_code == 201 and r.json()["expires_at"] is None
    assert bay.create(ttl=0)["expires_at"] is None


# The first capability call starts a session; GET then shows it ready with a container.
def test_cold_start_and_get(bay):
    sb = bay.create()
    r = bay.python(sb["id"], "x = 40\nx + 2")
    assert r["success"] is True and r["output"] == "42"
    got = bay.client.get(f"/v1/sandboxes/{sb['id']}").json()
    assert got["status"] == "ready"
    assert TS.match(got["idle_expires_at"])
    c = got["containers"]
    assert len(c) == 1 and c[0]["name"] == "ship" and c[0]["status"] == "running"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", c[0]["version"]) and c[0]["healthy"] is True
    assert c[0]["capabilities"] == ["filesystem", "python", "shell"]
    # Lists never include containers.
    listed = bay.client.get("/v1/sandboxes").json()["items"]
    assert all(s.get("containers") is None for s in listed)


# Stop drops the session but keeps files; the next call resumes transparently.
def test_stop_and_resume(bay):
    sb = bay.create()
    bay.python(sb["id"], "x = 1")
    bay.shell(sb["id"], "echo kept > kept.txt")
    r = bay.client.post(f"/v1/sandboxes/{sb['id']}/stop")
    assert r.status_code == 200 and r.json() == {"status": "stopped"}
    got = bay.client.get(f"/v1/sandboxes/{sb['id']}").json()
    assert got["status"] == "idle" and got["containers"] is None and got["idle_expires_at"] is None
    assert got["cargo_id"] == sb["cargo_id"]
    assert bay.client.post(f"/v1/sandboxes/{sb['id']}/stop").status_code == 200
    r = bay.python(sb["id"], "x")
    assert r["success"] is False and "NameError" in r["error"]
    assert bay.shell(sb["id"], "cat kept.txt")["output"] == "kept"


# Delete removes the sandbox and its managed cargo storage; repeated delete is 204.
def test_delete(bay):
    sb = bay.create()
    bay.shell(sb["id"], "echo x > f")
    cargo_dirs = list((bay.data_dir / "cargos").glob(sb["cargo_id"]))
    assert cargo_dirs
    assert bay.client.delete(f"/v1/sandboxes/{sb['id']}").status_code == 204
    assert bay.client.get(f"/v1/sandboxes/{sb['id']}").status_code == 404
    assert bay.client.delete(f"/v1/sandboxes/{sb['id']}").status_code == 204
    assert bay.client.delete("/v1/sandboxes/sandbox-000000000000").status_code == 404
    deadline = time.monotonic() + 5
    while cargo_dirs[0].exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not cargo_dirs[0].exists()


# Cursor pagination returns every sandbox once, in creation order; bad cursors are 400.
def test_list_pagination(bay):
    ids = [bay.create()["id"] for _ in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = bay.client.get("/v1/sandboxes", params=params).json()
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    assert bay.client.get("/v1/sandboxes", params={"cursor": "garbage!"}).status_code == 400
    assert bay.client.get("/v1/sandboxes", params={"limit": 0}).status_code == 422
    assert bay.client.get("/v1/sandboxes", params={"limit": 201}).status_code == 422
    bay.python(ids[0], "1")
    ready = bay.client.get("/v1/sandboxes", params={"status": "ready"}).json()["items"]
    assert [s["id"] for s in ready] == [ids[0]]
    idle = bay.client.get("/v1/sandboxes", params={"status": "idle"}).json()["items"]
    assert ids[0] not in [s["id"] for s in idle] and len(idle) == 4
    every = bay.client.get("/v1/sandboxes", params={"status": "bogus"}).json()["items"]
    assert len(every) == 5


# extend_ttl: validation, infinite TTL, accumulation, expiry.
def test_extend_ttl(bay):
    sb = bay.create(ttl=100)
    url = f"/v1/sandboxes/{sb['id']}/extend_ttl"
    assert bay.client.post(url, json={}).status_code == 422
    assert bay.client.post(url, json={"extend_by": "x"}).status_code == 422
    r = bay.client.post(url, json={"extend_by": 0})
    assert r.status_code == 400 and r.json()["error"]["code"] == "validation_error"
    r = bay.client.post(url, json={"extend_by": 50})
    assert r.status_code == 200
    assert parse(r.json()["expires_at"]) == parse(sb["expires_at"]) + timedelta(seconds=50)
    forever = bay.create()
    r = bay.client.post(f"/v1/sandboxes/{forever['id']}/extend_ttl", json={"extend_by": 5})
    assert r.status_code == 409 and r.json()["error"]["code"] == "sandbox_ttl_infinite"
    assert r.json()["error"]["details"] == {"sandbox_id": forever["id"]}
    assert bay.client.post("/v1/sandboxes/sandbox-000000000000/extend_ttl",
                           json={"extend_by": 5}).status_code == 404


# A sandbox with ttl 2 reads expired 2 s later, refuses extend_ttl and capability calls.
def test_ttl_expiry(bay):
    sb = bay.create(ttl=2)
    time.sleep(2.2)
    got = bay.client.get(f"/v1/sandboxes/{sb['id']}").json()
    assert got["status"] == "expired"
    r = bay.client.post(f"/v1/sandboxes/{sb['id']}/extend_ttl", json={"extend_by": 10})
    assert r.status_code == 409 and r.json()["error"]["code"] == "sandbox_expired"
    assert set(r.json()["error"]["details"]) == {"sandbox_id", "expires_at"}
    r = bay.client.post(f"/v1/sandboxes/{sb['id']}/python/exec", json={"code": "1"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "sandbox_expired"
    assert not (bay.data_dir / "sessions").exists() or not any((bay.data_dir / "sessions").iterdir())


# keepalive never starts compute, and refreshes idle expiry of a running session.
def test_keepalive(bay):
    sb = bay.create()
    r = bay.client.post(f"/v1/sandboxes/{sb['id']}/keepalive")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    got = bay.client.get(f"/v1/sandboxes/{sb['id']}").json()
    assert got["status"] == "idle" and got["idle_expires_at"] is None
    bay.python(sb["id"], "1")
    before = bay.client.get(f"/v1/sandboxes/{sb['id']}").json()["idle_expires_at"]
    time.sleep(0.05)
    # GET never moves it.
    assert bay.client.get(f"/v1/sandboxes/{sb['id']}").json()["idle_expires_at"] == before
    bay.client.post(f"/v1/sandboxes/{sb['id']}/keepalive")
    after = bay.client.get(f"/v1/sandboxes/{sb['id']}").json()["idle_expires_at"]
    assert parse(after) > parse(before)


# Concurrent first calls start exactly one session and all succeed.
def test_concurrent_first_calls(bay):
    sb = bay.create()
    results = []

    def call(i):
        r = bay.client.post(f"/v1/sandboxes/{sb['id']}/python/exec",
                            json={"code": f"import os; print(os.environ['BAY_SESSION_ID'], {i})"})
        results.append(r)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    sessions = {r.json()["output"].split()[0] for r in results}
    assert len(sessions) == 1, sessions
    assert bay.client.get(f"/v1/sandboxes/{sb['id']}").status_code == 200


# Stop and delete answer within 5 s while a cell is running.
def test_stop_delete_while_busy(bay):
    for action in ("stop", "delete"):
        sb = bay.create()
        bay.python(sb["id"], "1")
        t = threading.Thread(target=lambda: bay.client.post(
            f"/v1/sandboxes/{sb['id']}/python/exec", json={"code": "import time; time.sleep(60)",
                                                           "timeout": 120}))
        t.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        if action == "stop":
            assert bay.client.post(f"/v1/sandboxes/{sb['id']}/stop").status_code == 200
        else:
            assert bay.client.delete(f"/v1/sandboxes/{sb['id']}").status_code == 204
        assert time.monotonic() - t0 < 5
        t.join(30)
        assert not t.is_alive()
