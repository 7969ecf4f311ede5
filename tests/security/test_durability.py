"""Bay killed with SIGKILL in the middle of creates and executions, then restarted:
nothing acknowledged is lost, nothing is stuck, and no runtime outlives its sandbox.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time

import httpx

from _apisec import alive, healthy, kill9, session_pids, wait_until


def _client(bay) -> httpx.Client:
    return httpx.Client(base_url=bay.url, headers={"Authorization": f"Bearer {bay.api_key}"},
                        timeout=60)


def _settle(bay) -> None:
    """After a restart every sandbox answers GET with a valid status and runs a call."""
    items = bay.client.get("/v1/sandboxes", params={"limit": 200}).json()["items"]
    for s in items:
        g = bay.client.get(f"/v1/sandboxes/{s['id']}")
        assert g.status_code == 200
        assert g.json()["status"] in ("idle", "ready", "failed", "starting")


# SIGKILL while 16 creates are in flight: every create acknowledged with 201 before the
# kill exists afterwards and works; no half-created sandbox is visible; a GC run after the
# restart cleans whatever the kill left behind without errors.
def test_kill_during_creates(bay):
    acked: list[str] = []
    stop = threading.Event()

    def creator():
        with _client(bay) as c:
            while not stop.is_set():
                try:
                    r = c.post("/v1/sandboxes", json={})
                except httpx.TransportError:
                    return
                if r.status_code == 201:
                    acked.append(r.json()["id"])

    threads = [threading.Thread(target=creator) for _ in range(4)]
    for t in threads:
        t.start()
    assert wait_until(lambda: len(acked) >= 8, timeout=30)
    kill9(bay)
    stop.set()
    for t in threads:
        t.join(30)
    bay.start()
    listed = {s["id"] for s in bay.client.get("/v1/sandboxes", params={"limit": 200}).json()["items"]}
    assert set(acked) <= listed, set(acked) - listed
    _settle(bay)
    # Every listed sandbox is usable (not only the acknowledged ones).
    for sid in list(listed)[:6]:
        assert bay.shell(sid, "echo ok")["output"] == "ok"
    gc = bay.client.post("/v1/admin/gc/run").json()
    assert gc["total_errors"] == 0, gc
    # Deleting everything leaves no runtime behind.
    bay.destroy_all()
    bay.client.post("/v1/admin/gc/run", json={"tasks": ["orphan_container", "orphan_cargo"]})
    assert wait_until(lambda: not any(alive(p) for p in session_pids(bay)), timeout=15)
    healthy(bay)


# SIGKILL while executions run: a file written and acknowledged before the kill is there
# after the restart, as is the history of calls answered before the kill; the sandbox
# is usable again, and after delete + GC no runtime of this Bay is alive.
def test_kill_during_exec(bay):
    sb = bay.create()["id"]
    other = bay.create()["id"]
    assert bay.client.put(f"/v1/sandboxes/{sb}/filesystem/files",
                          json={"path": "acked.txt", "content": "DURABLE-1"}).status_code == 200
    up = bay.client.post(f"/v1/sandboxes/{sb}/filesystem/upload", data={"path": "acked.bin"},
                         files={"file": ("f", bytes(range(256)) * 4096)})
    assert up.status_code == 200
    done = bay.shell(sb, "echo DURABLE-2 > shell.txt && echo written")
    assert done["output"] == "written"
    bay.python(other, "open('py.txt', 'w').write('DURABLE-3')")
    # Calls in flight at the moment of the kill.
    pool = cf.ThreadPoolExecutor(4)
    c = _client(bay)
    inflight = [pool.submit(c.post, f"/v1/sandboxes/{sb}/shell/exec",
                            json={"command": "sleep 6; echo late > late.txt", "timeout": 60}),
                pool.submit(c.post, f"/v1/sandboxes/{other}/python/exec",
                            json={"code": "import time; time.sleep(6)", "timeout": 60}),
                pool.submit(c.put, f"/v1/sandboxes/{sb}/filesystem/files",
                            json={"path": "racy.txt", "content": "maybe"})]
    time.sleep(1.0)
    kill9(bay)
    for f in inflight:
        try:
            f.result(30)
        except httpx.TransportError:
            pass
    pool.shutdown()
    c.close()
    bay.start()
    # Acknowledged writes survived.
    read = lambda s, p: bay.client.get(f"/v1/sandboxes/{s}/filesystem/files", params={"path": p})
    assert read(sb, "acked.txt").json()["content"] == "DURABLE-1"
    assert read(sb, "shell.txt").json()["content"].strip() == "DURABLE-2"
    assert read(other, "py.txt").json()["content"] == "DURABLE-3"
    dl = bay.client.get(f"/v1/sandboxes/{sb}/filesystem/download", params={"path": "acked.bin"})
    assert dl.content == bytes(range(256)) * 4096
    hist = bay.client.get(f"/v1/sandboxes/{sb}/history").json()
    assert done["execution_id"] in [e["id"] for e in hist["entries"]]
    _settle(bay)
    # Both sandboxes run new calls (re-attached or restarted transparently).
    assert bay.shell(sb, "echo again")["output"] == "again"
    assert bay.python(other, "1 + 1")["output"] == "2"
    # The killed Bay's runtimes were re-attached or ended; none is orphaned after delete+GC.
    bay.destroy_all()
    gc = bay.client.post("/v1/admin/gc/run", json={"tasks": ["orphan_container", "orphan_cargo"]})
    assert gc.status_code == 200 and gc.json()["total_errors"] == 0, gc.text
    assert wait_until(lambda: not any(alive(p) for p in session_pids(bay)), timeout=15), \
        [p for p in session_pids(bay) if alive(p)]
    healthy(bay)
