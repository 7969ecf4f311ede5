"""The legacy Shipyard /ship API (legacy-api.md) against the real `bay`, through HTTP."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import threading
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

TOKEN = "legacy-test-token"
LEGACY_V1_KEY = "legacy-owner-key"  # a v1 key of the legacy owner, to look at ships via /v1
MAX_UPLOAD = 4 * 1024 * 1024
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(\+00:00|Z)$")
SHIP_FIELDS = {"id", "status", "created_at", "updated_at", "container_id", "ip_address", "ttl",
               "max_session_num", "current_session_num", "expires_at"}


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def now() -> datetime:
    return datetime.now(timezone.utc)


def wait_for(cond, what: str, timeout: float = 20.0, interval: float = 0.05):
    """Polls `cond` until it returns a truthy value; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)


class Legacy:
    """A Bay with the legacy API, and a client speaking it."""

    def __init__(self, bay):
        self.bay = bay
        self.url = bay.url
        self.c = httpx.Client(base_url=bay.url, headers={"Authorization": f"Bearer {TOKEN}"},
                              timeout=120)
        self.v1 = httpx.Client(base_url=bay.url,
                               headers={"Authorization": f"Bearer {LEGACY_V1_KEY}"}, timeout=120)

    def reconnect(self):
        self.close()
        self.__init__(self.bay)

    def close(self):
        self.c.close()
        self.v1.close()

    def create(self, session: str, ttl: int = 120, expect: int = 201, **body) -> dict:
        r = self.c.post("/ship", json={"ttl": ttl, **body}, headers={"X-SESSION-ID": session})
        assert r.status_code == expect, r.text
        return r.json()

    def get(self, ship_id: str) -> dict:
        r = self.c.get(f"/ship/{ship_id}")
        assert r.status_code == 200, r.text
        return r.json()

    def ships(self) -> list[dict]:
        r = self.c.get("/ships")
        assert r.status_code == 200, r.text
        return r.json()

    def exec_raw(self, ship_id: str, session: str, type_: str, payload=None) -> httpx.Response:
        return self.c.post(f"/ship/{ship_id}/exec", json={"type": type_, "payload": payload},
                           headers={"X-SESSION-ID": session})

    def exec(self, ship_id: str, session: str, type_: str, payload=None) -> dict:
        r = self.exec_raw(ship_id, session, type_, payload)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["success"] is True and body["error"] is None
        return body["data"]

    def python(self, ship_id: str, session: str, code: str) -> dict:
        return self.exec(ship_id, session, "ipython/exec", {"code": code})

    def shell(self, ship_id: str, session: str, command: str) -> dict:
        return self.exec(ship_id, session, "shell/exec", {"command": command})

    def upload(self, ship_id: str, session: str, path: str, data: bytes) -> httpx.Response:
        return self.c.post(f"/ship/{ship_id}/upload", files={"file": ("blob", data)},
                           data={"file_path": path}, headers={"X-SESSION-ID": session})

    def download(self, ship_id: str, session: str, path: str) -> httpx.Response:
        return self.c.get(f"/ship/{ship_id}/download", params={"file_path": path},
                          headers={"X-SESSION-ID": session})

    def log_text(self) -> str:
        return self.bay.log()

    def cleanup(self):
        """Deletes every ship (running or stopped) so no runtime outlives the test."""
        try:
            items = self.v1.get("/v1/sandboxes", params={"limit": 200}).json().get("items", [])
            for s in items:
                self.c.delete(f"/ship/{s['id']}")
                self.v1.delete(f"/v1/sandboxes/{s['id']}")
        except Exception:
            pass
        self.close()


@pytest.fixture
def legacy_factory(bay_factory):
    made: list[Legacy] = []

    def start(**env) -> Legacy:
        full = {"ACCESS_TOKEN": TOKEN, "MAX_UPLOAD_SIZE": str(MAX_UPLOAD),
                "BAY_SECURITY__API_KEYS": f"[{{key: {LEGACY_V1_KEY}, owner: legacy}}]"}
        full.update({k: str(v) for k, v in env.items()})
        lg = Legacy(bay_factory(extra_env=full))
        made.append(lg)
        return lg

    yield start
    for lg in made:
        if lg.bay.proc.poll() is None:
            lg.cleanup()


@pytest.fixture
def legacy(legacy_factory) -> Legacy:
    return legacy_factory()


def run_threads(fns):
    """Runs the callables concurrently (released together) and returns their results."""
    results = [None] * len(fns)
    barrier = threading.Barrier(len(fns))

    def run(i, fn):
        barrier.wait()
        results[i] = fn()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
        assert not t.is_alive()
    return results


class Pending:
    """A request running in the background (its own connection)."""

    def __init__(self, fn):
        self.result = None
        self.error = None

        def run():
            try:
                self.result = fn()
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.error = e

        self.thread = threading.Thread(target=run)
        self.thread.start()

    def done(self) -> bool:
        return not self.thread.is_alive()

    def join(self, timeout=60):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the request did not complete"
        if self.error:
            raise self.error
        return self.result


def post_ship(url: str, session: str, ttl: int = 120, timeout: float = 120, **body):
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"},
                      timeout=timeout) as c:
        return c.post("/ship", json={"ttl": ttl, **body}, headers={"X-SESSION-ID": session})


# ---------------------------------------------------------------------------- service, auth


# The unauthenticated service routes (§9): /health is shared with v1, / and /stat are legacy.
def test_service_routes(legacy):
    h = httpx.get(f"{legacy.url}/health")
    assert h.status_code == 200
    assert h.json()["status"] == "ok" and h.json()["message"] == "Bay service is running"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", h.json()["version"])
    r = httpx.get(f"{legacy.url}/")
    assert r.status_code == 200 and r.json() == {"status": "ok", "message": "Welcome to Bay API"}
    s = httpx.get(f"{legacy.url}/stat")
    assert s.status_code == 200
    body = s.json()
    assert set(body) == {"service", "version", "status", "author"}
    assert body["service"] == "bay" and body["status"] == "running"
    assert body["version"] == h.json()["version"] and body["author"]


# §2: missing header 403, malformed 403, wrong token 401 with WWW-Authenticate; the check comes
# before any header or body validation; v1 keys and ACCESS_TOKEN do not cross over.
def test_authentication(legacy):
    routes = [("POST", "/ship"), ("GET", "/ship/sandbox-000000000000"),
              ("DELETE", "/ship/sandbox-000000000000"), ("GET", "/ships"),
              ("POST", "/ship/sandbox-000000000000/exec"),
              ("POST", "/ship/sandbox-000000000000/exec/shell/exec"),
              ("GET", "/ship/logs/sandbox-000000000000"),
              ("POST", "/ship/sandbox-000000000000/extend-ttl"),
              ("POST", "/ship/sandbox-000000000000/upload"),
              ("GET", "/ship/sandbox-000000000000/download")]
    cases = [({}, 403, "Not authenticated"),
             ({"Authorization": "Basic dXNlcjpwdw=="}, 403, "Invalid authentication credentials"),
             ({"Authorization": "Bearer"}, 403, "Invalid authentication credentials"),
             ({"Authorization": ""}, 403, "Invalid authentication credentials"),
             ({"Authorization": TOKEN}, 403, "Invalid authentication credentials"),
             ({"Authorization": "Bearer wrong-token"}, 401, "Invalid access token"),
             # The v1 API key is not a legacy token.
             ({"Authorization": "Bearer test-key"}, 401, "Invalid access token")]
    with httpx.Client(base_url=legacy.url, timeout=30) as raw:
        for method, path in routes:
            for headers, status, detail in cases:
                # Invalid body and no X-SESSION-ID: authentication still answers first.
                r = raw.request(method, path, headers=headers, content=b"{not json")
                assert r.status_code == status, (method, path, headers, r.text)
                assert r.json() == {"detail": detail}
                if status == 401:
                    assert r.headers["WWW-Authenticate"] == "Bearer"
        # The right token passes authentication (then validation answers).
        r = raw.post("/ship", headers={"Authorization": f"bearer {TOKEN}"}, json={"ttl": 5})
        assert r.status_code == 422 and isinstance(r.json()["detail"], list)
        assert raw.get("/ships", headers={"Authorization": f"Bearer {TOKEN}"}).json() == []
        # ACCESS_TOKEN is not accepted by /v1.
        assert raw.get("/v1/sandboxes",
                       headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401


# §1: defaults (secret-token, with a start-up warning), LEGACY_API_ENABLED=false removes the
# routes, and an invalid BEHAVIOR_AFTER_MAX_SHIP stops Bay with a clear message.
def test_configuration(bay_factory):
    b = bay_factory()
    assert re.search(r"warn.*secret-token", b.log()), b.log()
    r = httpx.get(f"{b.url}/ships", headers={"Authorization": "Bearer secret-token"})
    assert r.status_code == 200 and r.json() == []

    off = bay_factory(extra_env={"LEGACY_API_ENABLED": "false"})
    for method, path in [("GET", "/ships"), ("POST", "/ship"), ("GET", "/"), ("GET", "/stat"),
                         ("GET", "/ship/logs/x")]:
        r = httpx.request(method, f"{off.url}{path}",
                          headers={"Authorization": "Bearer secret-token"})
        assert r.status_code == 404, (path, r.text)
    assert httpx.get(f"{off.url}/health").status_code == 200

    with pytest.raises(RuntimeError) as bad:
        bay_factory(extra_env={"BEHAVIOR_AFTER_MAX_SHIP": "sometimes"})
    assert "behavior_after_max_ship" in str(bad.value) and "sometimes" in str(bad.value)
    assert "BEHAVIOR_AFTER_MAX_SHIP" in str(bad.value)


# ---------------------------------------------------------------------------- ships


# POST /ship answers 201 with a running ship (§4, §5); GET, /ships, DELETE and the 404s (§7).
def test_create_get_list_delete(legacy):
    before = now()
    ship = legacy.create("chat-1", ttl=300, max_session_num=3,
                         spec={"cpus": 0.5, "memory": "256m"})
    assert set(ship) == SHIP_FIELDS
    assert re.fullmatch(r"sandbox-[0-9a-f]{12}", ship["id"])
    assert ship["status"] == 1 and ship["ttl"] == 300
    assert ship["max_session_num"] == 3 and ship["current_session_num"] == 1
    assert isinstance(ship["container_id"], str) and ship["container_id"]
    assert ship["ip_address"].startswith("unix:/")  # the process driver's unix socket
    for f in ("created_at", "updated_at", "expires_at"):
        assert TS.match(ship[f]), f
    expires = parse(ship["expires_at"])
    assert before + timedelta(seconds=299) <= expires <= now() + timedelta(seconds=301)
    # Running when 201 is returned: the session's workspace and interpreter are there.
    assert legacy.exec(ship["id"], "chat-1", "shell/cwd")["cwd"] == "/workspace/chat-1"
    status = legacy.exec(ship["id"], "chat-1", "ipython/kernel/status")
    assert status["kernel_id"] == "chat-1" and status["has_kernel"] is True

    got = legacy.get(ship["id"])
    assert got["id"] == ship["id"] and got["status"] == 1 and got["created_at"] == ship["created_at"]
    assert got["container_id"] == ship["container_id"]
    other = legacy.create("chat-2", ttl=60)  # a second ship (chat-1's allows 3 sessions: reused)
    assert other["id"] == ship["id"] and other["current_session_num"] == 2
    solo = legacy.create("chat-3", ttl=60, max_session_num=1)
    assert solo["id"] == ship["id"]  # still a free slot on the oldest running ship
    fourth = legacy.create("chat-4", ttl=60)
    assert fourth["id"] != ship["id"] and fourth["current_session_num"] == 1
    listed = legacy.ships()
    assert [s["id"] for s in listed] == [ship["id"], fourth["id"]]  # creation order
    assert all(set(s) == SHIP_FIELDS and s["status"] == 1 for s in listed)

    r = legacy.c.delete(f"/ship/{ship['id']}")
    assert r.status_code == 204 and r.content == b""
    gone = legacy.c.get(f"/ship/{ship['id']}")
    assert gone.status_code == 404 and gone.json() == {"detail": "Ship not found"}
    assert legacy.c.delete(f"/ship/{ship['id']}").json() == {"detail": "Ship not found"}
    assert legacy.c.delete("/ship/sandbox-000000000000").status_code == 404
    assert legacy.c.get("/ship/nonsense").status_code == 404
    assert [s["id"] for s in legacy.ships()] == [fourth["id"]]
    # Its sandbox and managed cargo are gone too.
    assert legacy.v1.get(f"/v1/sandboxes/{ship['id']}").status_code == 404


# Request validation (§3, §5): 422 for schema violations, 400 for a malformed session ID;
# X-Ship-ID from older clients is accepted and ignored.
def test_create_validation(legacy):
    c = legacy.c
    r = c.post("/ship", json={"ttl": 60})
    assert r.status_code == 422 and isinstance(r.json()["detail"], list)
    assert any("x-session-id" in [str(p).lower() for p in e["loc"]] for e in r.json()["detail"])
    for bad in ["a/b", "..", ".", "x" * 129, "white space", "ünïcode", ""]:
        r = c.post("/ship", json={"ttl": 60}, headers={"X-SESSION-ID": bad.encode()})
        assert r.status_code == 400 and r.json() == {"detail": "Invalid X-SESSION-ID"}, bad
    h = {"X-SESSION-ID": "validation"}
    for body in [{}, {"ttl": 0}, {"ttl": -5}, {"ttl": "soon"}, {"ttl": 60, "x": 1},
                 {"ttl": 60, "max_session_num": 0}, {"ttl": 60, "spec": {"gpus": 1}},
                 {"ttl": 60, "spec": {"cpus": 0}}, {"ttl": 60, "spec": {"memory": "lots"}},
                 {"ttl": 60, "spec": "big"}]:
        r = c.post("/ship", json=body, headers=h)
        assert r.status_code == 422, (body, r.text)
        assert isinstance(r.json()["detail"], list) and r.json()["detail"], body
    assert c.post("/ship", content=b"{oops", headers=h).status_code == 422
    assert legacy.ships() == []  # nothing was created by the refused requests
    ship = legacy.create("valid.Session_1-x", ttl=60, spec=None)
    r = c.post("/ship", json={"ttl": 60},
               headers={"X-SESSION-ID": "valid.Session_1-x", "X-Ship-ID": "whatever"})
    assert r.status_code == 201 and r.json()["id"] == ship["id"]


# §3, §5 steps 1 and 3: the same session gets its ship back unchanged; other sessions attach
# up to max_session_num; the next one gets a new ship.
def test_session_reuse_up_to_max_session_num(legacy):
    a = legacy.create("sess-a", ttl=100, max_session_num=2)
    again = legacy.create("sess-a", ttl=500, max_session_num=7, spec={"cpus": 2})
    assert again == legacy.get(a["id"])
    assert again["id"] == a["id"] and again["current_session_num"] == 1
    assert again["max_session_num"] == 2 and again["ttl"] == 100
    assert again["expires_at"] == a["expires_at"]

    b = legacy.create("sess-b", ttl=200, max_session_num=5)
    assert b["id"] == a["id"] and b["current_session_num"] == 2
    assert b["max_session_num"] == 2  # the request's value is ignored when attaching
    # The ship expiry follows the longest-living session.
    assert parse(b["expires_at"]) > parse(a["expires_at"])
    assert 198 <= b["ttl"] <= 200
    assert legacy.exec(a["id"], "sess-b", "shell/cwd")["cwd"] == "/workspace/sess-b"

    c = legacy.create("sess-c", ttl=100)  # beyond max_session_num: a new ship
    assert c["id"] != a["id"] and c["current_session_num"] == 1 and c["max_session_num"] == 1
    d = legacy.create("sess-d", ttl=100)  # c's ship allows one session only
    assert d["id"] not in (a["id"], c["id"])
    # Everyone gets their own ship back.
    for session, ship_id in [("sess-a", a["id"]), ("sess-b", a["id"]), ("sess-c", c["id"]),
                             ("sess-d", d["id"])]:
        assert legacy.create(session, ttl=100)["id"] == ship_id
    assert legacy.get(a["id"])["current_session_num"] == 2
    # A session may only operate on its own ship.
    r = legacy.exec_raw(a["id"], "sess-c", "shell/cwd")
    assert r.status_code == 400
    assert r.json() == {"detail": "Session does not have access to this ship"}
    # Concurrent first requests of one session produce one ship.
    ids = run_threads([lambda: post_ship(legacy.url, "sess-e", max_session_num=1)
                       for _ in range(4)])
    assert all(r.status_code == 201 for r in ids), [r.text for r in ids]
    assert len({r.json()["id"] for r in ids}) == 1
    assert len(legacy.ships()) == 4


# §3: sessions sharing a ship have their own workspace directory and Python interpreter, and
# file operations cannot reach outside the session's directory.
def test_session_isolation(legacy):
    ship = legacy.create("alice", ttl=120, max_session_num=2)["id"]
    assert legacy.create("bob", ttl=120)["id"] == ship

    assert legacy.python(ship, "alice", "secret = 'alpha'")["success"] is True
    r = legacy.python(ship, "bob", "secret")
    assert r["success"] is False and "NameError" in r["error"]
    assert legacy.python(ship, "bob", "secret = 'beta'")["success"] is True
    assert legacy.python(ship, "alice", "secret")["output"]["text"] == "'alpha'"
    assert legacy.python(ship, "bob", "secret")["output"]["text"] == "'beta'"
    assert legacy.python(ship, "alice", "import os; os.getcwd()")["output"]["text"] == \
        "'/workspace/alice'"
    # One kernel each.
    assert legacy.exec(ship, "alice", "ipython/kernel/status")["kernel_id"] == "alice"
    assert legacy.exec(ship, "bob", "ipython/kernel/status")["kernel_id"] == "bob"

    legacy.exec(ship, "alice", "fs/write_file", {"path": "note.txt", "content": "alice's"})
    legacy.exec(ship, "bob", "fs/write_file", {"path": "note.txt", "content": "bob's"})
    assert legacy.exec(ship, "alice", "fs/read_file", {"path": "note.txt"})["content"] == "alice's"
    assert legacy.exec(ship, "bob", "fs/read_file", {"path": "note.txt"})["content"] == "bob's"
    assert legacy.shell(ship, "bob", "pwd; cat note.txt")["stdout"] == "/workspace/bob\nbob's"
    names = [e["name"] for e in legacy.exec(ship, "bob", "fs/list_dir", {"path": "."})["files"]]
    assert names == ["note.txt"]
    # The other session's directory is out of reach of file operations, relative or absolute.
    for path in ["../alice/note.txt", "/workspace/alice/note.txt", "/etc/passwd"]:
        r = legacy.exec_raw(ship, "bob", "fs/read_file", {"path": path})
        assert r.status_code == 400, path
        detail = r.json()["detail"]
        assert detail.startswith("Ship returned 403: ") and "Access denied" in detail, detail
        d = legacy.download(ship, "bob", path)
        assert d.status_code == 403 and "ccess denied" in d.json()["detail"], path
    r = legacy.upload(ship, "bob", "/workspace/alice/note.txt", b"overwritten")
    assert r.status_code == 403
    assert legacy.exec(ship, "alice", "fs/read_file", {"path": "note.txt"})["content"] == "alice's"
    # Restarting one session's kernel leaves the other's state alone.
    legacy.exec(ship, "bob", "ipython/kernel/restart")
    assert "NameError" in legacy.python(ship, "bob", "secret")["error"]
    assert legacy.python(ship, "alice", "secret")["output"]["text"] == "'alpha'"


# ---------------------------------------------------------------------------- operations


# §8.1: every operation type through {type, payload}, Ship's answer verbatim in the envelope;
# failing commands and raising cells are still success: true; the checks and their order.
def test_exec_envelope(legacy):
    ship = legacy.create("ops", ttl=120)["id"]
    r = legacy.exec_raw(ship, "ops", "ipython/exec", {"code": "print('hi')\n6 * 7"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"success", "data", "error"} and body["success"] is True
    data = body["data"]
    assert data["success"] is True and data["output"]["text"] == "hi\n42"
    assert data["kernel_id"] == "ops" and isinstance(data["execution_count"], int)
    bad = legacy.python(ship, "ops", "1 / 0")
    assert bad["success"] is False and "ZeroDivisionError" in bad["error"]

    sh = legacy.shell(ship, "ops", "echo out; echo err >&2; exit 3")
    assert sh["success"] is False and sh["return_code"] == 3
    assert sh["stdout"] == "out" and sh["stderr"] == "err"
    assert {"success", "return_code", "stdout", "stderr", "pid", "process_id", "error"} <= set(sh)
    bg = legacy.exec(ship, "ops", "shell/exec", {"command": "sleep 30", "background": True})
    procs = legacy.exec(ship, "ops", "shell/processes")["processes"]
    assert bg["process_id"] in [p["process_id"] for p in procs]
    assert legacy.exec(ship, "ops", "shell/cwd")["cwd"] == "/workspace/ops"

    created = legacy.exec(ship, "ops", "fs/create_file", {"path": "d/f.txt", "content": "one\n"})
    assert created["success"] is True
    legacy.exec(ship, "ops", "fs/write_file", {"path": "d/f.txt", "content": "two\n", "mode": "a"})
    legacy.exec(ship, "ops", "fs/edit_file",
                {"path": "d/f.txt", "old_string": "two", "new_string": "TWO"})
    read = legacy.exec(ship, "ops", "fs/read_file", {"path": "d/f.txt"})
    assert read["content"] == "one\nTWO\n" and read["size"] == 8
    assert read["path"] == "/workspace/ops/d/f.txt"
    listing = legacy.exec(ship, "ops", "fs/list_dir", {"path": "d"})
    assert [e["name"] for e in listing["files"]] == ["f.txt"]
    legacy.exec(ship, "ops", "fs/delete_file", {"path": "d/f.txt"})
    assert legacy.exec(ship, "ops", "fs/list_dir", {"path": "d"})["files"] == []
    legacy.python(ship, "ops", "kept = 1")
    legacy.exec(ship, "ops", "ipython/kernel/restart", None)
    assert "NameError" in legacy.python(ship, "ops", "kept")["error"]

    # Ship errors, and the checks in their order (ship, session, type).
    r = legacy.exec_raw(ship, "ops", "fs/read_file", {"path": "missing.txt"})
    assert r.status_code == 400 and r.json()["detail"].startswith("Ship returned 404: ")
    r = legacy.exec_raw(ship, "ops", "bogus/op", {})
    assert r.json() == {"detail": "Unsupported operation type: bogus/op"}
    r = legacy.exec_raw(ship, "stranger", "bogus/op", {})
    assert r.json() == {"detail": "Session does not have access to this ship"}
    r = legacy.exec_raw("sandbox-000000000000", "stranger", "bogus/op", {})
    assert r.status_code == 400 and r.json() == {"detail": "Ship not found or not running"}
    # Schema violations.
    h = {"X-SESSION-ID": "ops"}
    for body in [{"payload": {}}, {"type": 5}, {"type": "shell/cwd", "payload": []},
                 {"type": "shell/cwd", "extra": 1}]:
        assert legacy.c.post(f"/ship/{ship}/exec", json=body, headers=h).status_code == 422, body
    assert legacy.c.post(f"/ship/{ship}/exec", json={"type": "shell/cwd"}).status_code == 422
    # Legacy operations are not recorded in the v1 history.
    hist = legacy.v1.get(f"/v1/sandboxes/{ship}/history")
    assert hist.status_code == 200 and hist.json()["total"] == 0


# §8.2: /exec/{oper} takes the envelope (type optional, must match) or the bare payload.
def test_exec_alias(legacy):
    ship = legacy.create("alias", ttl=120)["id"]
    h = {"X-SESSION-ID": "alias"}

    def post(oper, **kw):
        return legacy.c.post(f"/ship/{ship}/exec/{oper}", headers=h, **kw)

    r = post("shell/exec", json={"command": "echo bare"})
    assert r.status_code == 200 and r.json()["data"]["stdout"] == "bare"
    r = post("shell/exec", json={"payload": {"command": "echo envelope"}})
    assert r.json()["data"]["stdout"] == "envelope"
    r = post("shell/exec", json={"type": "shell/exec", "payload": {"command": "echo typed"}})
    assert r.json()["data"]["stdout"] == "typed"
    r = post("shell/exec", json={"type": "ipython/exec", "payload": {"code": "1"}})
    assert r.status_code == 400 and r.json() == {"detail": "Operation type mismatch"}
    r = post("ipython/exec", json={"code": "x = 5\nx * 2"})
    assert r.json()["data"]["output"]["text"] == "10"
    assert post("shell/cwd").json()["data"]["cwd"] == "/workspace/alias"  # no body at all
    assert post("ipython/kernel/status", json={}).json()["data"]["kernel_id"] == "alias"
    r = post("fs/write_file", json={"path": "a.txt", "content": "via alias"})
    assert r.status_code == 200
    assert post("fs/read_file", json={"path": "a.txt"}).json()["data"]["content"] == "via alias"
    r = post("nope/op", json={})
    assert r.status_code == 400 and r.json() == {"detail": "Unsupported operation type: nope/op"}
    assert legacy.c.post(f"/ship/{ship}/exec/shell/cwd").status_code == 422  # no X-SESSION-ID


# §8.3, §8.4: binary upload/download round trip with both path forms, and the error cases.
def test_upload_download(legacy):
    ship = legacy.create("chat-42", ttl=120, max_session_num=2)["id"]
    legacy.create("other", ttl=120)
    data = bytes(range(256)) * 16 + os.urandom(1 << 20) + b"\r\n--boundary--\r\n\x00"
    r = legacy.upload(ship, "chat-42", "uploads/report.bin", data)
    assert r.status_code == 200, r.text
    assert r.json() == {"success": True, "message": "File uploaded successfully",
                        "file_path": "/workspace/chat-42/uploads/report.bin", "error": None}
    for path in ["uploads/report.bin", "/workspace/chat-42/uploads/report.bin"]:
        d = legacy.download(ship, "chat-42", path)
        assert d.status_code == 200 and d.content == data
        assert d.headers["content-type"] == "application/octet-stream"
        assert d.headers["content-disposition"] == 'attachment; filename="report.bin"'
    digest = legacy.shell(ship, "chat-42", "sha256sum uploads/report.bin")["stdout"].split()[0]
    assert digest == hashlib.sha256(data).hexdigest()
    # Absolute form, and the file part sent before file_path.
    r = legacy.c.post(f"/ship/{ship}/upload",
                      files=[("file", ("x", b"\xff\xfe abs")),
                             ("file_path", (None, "/workspace/chat-42/abs/x.bin"))],
                      headers={"X-SESSION-ID": "chat-42"})
    assert r.status_code == 200 and r.json()["file_path"] == "/workspace/chat-42/abs/x.bin"
    assert legacy.download(ship, "chat-42", "abs/x.bin").content == b"\xff\xfe abs"
    empty = legacy.upload(ship, "chat-42", "empty.bin", b"")
    assert empty.status_code == 200 and legacy.download(ship, "chat-42", "empty.bin").content == b""

    # Errors.
    esc = legacy.upload(ship, "chat-42", "../../../etc/passwd", b"x")
    assert esc.status_code == 403
    assert "access" in esc.json()["detail"].lower() and "path" in esc.json()["detail"].lower()
    r = legacy.upload(ship, "other", "uploads/report.bin", b"x")
    assert r.status_code == 200  # other's own directory
    assert legacy.download(ship, "chat-42", "uploads/report.bin").content == data
    r = legacy.upload(ship, "stranger", "a.bin", b"x")
    assert r.status_code == 403 and r.json() == {"detail": "Session does not have access to this ship"}
    r = legacy.upload("sandbox-000000000000", "chat-42", "a.bin", b"x")
    assert r.status_code == 404 and r.json() == {"detail": "Ship not found or not running"}
    big = b"\x01" * (MAX_UPLOAD + 1000)
    r = legacy.upload(ship, "chat-42", "big.bin", big)
    assert r.status_code == 413
    assert r.json() == {"detail": f"File size ({len(big)} bytes) exceeds maximum allowed size "
                                  f"({MAX_UPLOAD} bytes)"}
    assert legacy.download(ship, "chat-42", "big.bin").status_code == 404
    h = {"X-SESSION-ID": "chat-42"}
    assert legacy.c.post(f"/ship/{ship}/upload", data={"file_path": "a"}, files={"x": ("x", b"1")},
                         headers=h).status_code == 422  # no file
    assert legacy.c.post(f"/ship/{ship}/upload", files={"file": ("x", b"1")},
                         headers=h).status_code == 422  # no file_path
    assert legacy.c.post(f"/ship/{ship}/upload", files={"file": ("x", b"1")},
                         data={"file_path": "a"}).status_code == 422  # no X-SESSION-ID

    r = legacy.download(ship, "chat-42", "missing.bin")
    assert r.status_code == 404 and isinstance(r.json()["detail"], str)
    r = legacy.download(ship, "stranger", "uploads/report.bin")
    assert r.status_code == 403 and r.json() == {"detail": "Session does not have access to this ship"}
    r = legacy.download("sandbox-000000000000", "chat-42", "x")
    assert r.status_code == 404
    assert legacy.c.get(f"/ship/{ship}/download", headers=h).status_code == 422  # no file_path
    assert legacy.c.get(f"/ship/{ship}/download",
                        params={"file_path": "abs/x.bin"}).status_code == 422  # no X-SESSION-ID


# §7: logs of the ship's runtime, and extend-ttl.
def test_logs_and_extend_ttl(legacy):
    ship = legacy.create("logger", ttl=60)
    logs = legacy.c.get(f"/ship/logs/{ship['id']}")
    assert logs.status_code == 200 and set(logs.json()) == {"logs"}
    assert "ship" in logs.json()["logs"]  # Ship's start-up line
    r = legacy.c.get("/ship/logs/sandbox-000000000000")
    assert r.status_code == 404 and r.json() == {"detail": "Ship not found"}

    before = now()
    r = legacy.c.post(f"/ship/{ship['id']}/extend-ttl", json={"ttl": 3600})
    assert r.status_code == 200, r.text
    ext = r.json()
    assert set(ext) == SHIP_FIELDS and ext["ttl"] == 3600 and ext["status"] == 1
    expires = parse(ext["expires_at"])
    assert before + timedelta(seconds=3599) <= expires <= now() + timedelta(seconds=3601)
    assert parse(ext["updated_at"]) >= parse(ship["updated_at"])
    assert legacy.get(ship["id"])["expires_at"] == ext["expires_at"]
    # It may shorten the lifetime too.
    short = legacy.c.post(f"/ship/{ship['id']}/extend-ttl", json={"ttl": 30}).json()
    assert short["ttl"] == 30 and parse(short["expires_at"]) < expires
    for body in [{}, {"ttl": 0}, {"ttl": -1}, {"ttl": "x"}, {"ttl": 5, "extra": True}]:
        r = legacy.c.post(f"/ship/{ship['id']}/extend-ttl", json=body)
        assert r.status_code == 422, body
    r = legacy.c.post("/ship/sandbox-000000000000/extend-ttl", json={"ttl": 5})
    assert r.status_code == 404 and r.json() == {"detail": "Ship not found"}

    # Any int > 0 is a valid ttl: a huge one saturates the expiry instead of overflowing
    # the clock (which would put it in the past and stop the ship at the next sweep).
    huge = 2**63 - 1
    r = legacy.c.post(f"/ship/{ship['id']}/extend-ttl", json={"ttl": huge})
    assert r.status_code == 200 and r.json()["ttl"] == huge
    assert r.json()["expires_at"].startswith("9999-12-31T23:59:59")
    big = legacy.create("big-ttl", ttl=10**13)
    assert big["ttl"] == 10**13 and big["expires_at"].startswith("9999-12-31T23:59:59")
    marker = legacy.create("marker", ttl=60)  # fits on no ship: a new one
    legacy.c.post(f"/ship/{marker['id']}/extend-ttl", json={"ttl": 1})
    wait_for(lambda: legacy.get(marker["id"])["status"] == 0, "the marker ship to stop")
    assert legacy.get(ship["id"])["status"] == 1 and legacy.get(big["id"])["status"] == 1


# §6: operations slide the session's expiry; at expiry the ship stops (data and sessions kept,
# not listed, not usable) and POST /ship from its session restores it with the new ttl.
def test_expiry_stops_and_restore(legacy):
    ship = legacy.create("short", ttl=3)
    sid = ship["id"]
    legacy.shell(sid, "short", "echo survived > kept.txt")
    legacy.python(sid, "short", "state = 'lost on stop'")
    slid = legacy.get(sid)
    assert parse(slid["expires_at"]) >= parse(ship["expires_at"])
    stopped = wait_for(lambda: (g := legacy.get(sid))["status"] == 0 and g, "the ship to stop")
    assert stopped["expires_at"] is None and stopped["container_id"] is None
    assert stopped["ip_address"] is None and stopped["current_session_num"] == 1
    assert sid not in [s["id"] for s in legacy.ships()]
    r = legacy.exec_raw(sid, "short", "shell/cwd")
    assert r.status_code == 400 and r.json() == {"detail": "Ship not found or not running"}
    assert legacy.download(sid, "short", "kept.txt").status_code == 404
    assert legacy.c.post(f"/ship/{sid}/extend-ttl", json={"ttl": 60}).status_code == 404
    assert legacy.c.get(f"/ship/logs/{sid}").status_code == 200  # the last runtime's logs
    # The v1 view: the sandbox is there, without a running session.
    v1 = legacy.v1.get(f"/v1/sandboxes/{sid}").json()
    assert v1["status"] == "idle" and v1["containers"] is None

    restored = legacy.create("short", ttl=90)
    assert restored["id"] == sid and restored["status"] == 1 and restored["ttl"] == 90
    assert restored["container_id"] and restored["container_id"] != ship["container_id"]
    assert restored["created_at"] == ship["created_at"]
    assert legacy.shell(sid, "short", "cat kept.txt")["stdout"] == "survived"
    assert "NameError" in legacy.python(sid, "short", "state")["error"]
    assert sid in [s["id"] for s in legacy.ships()]


# A ship is a v1 sandbox of the legacy owner (§11): same id, profile, no v1 TTL, managed cargo;
# v1 calls work on it; a v1 delete makes the ship disappear.
def test_ship_is_a_v1_sandbox(legacy):
    ship = legacy.create("v1-view", ttl=120)
    sb = legacy.v1.get(f"/v1/sandboxes/{ship['id']}")
    assert sb.status_code == 200
    sb = sb.json()
    assert sb["profile"] == "python-default" and sb["status"] == "ready"
    assert sb["expires_at"] is None  # the legacy lifetime rules govern it (§6)
    assert re.fullmatch(r"ws-[0-9a-f]{12}", sb["cargo_id"])
    assert sb["containers"][0]["status"] == "running"
    assert legacy.v1.get(f"/v1/cargos/{sb['cargo_id']}").json()["managed"] is True
    # Other owners do not see it.
    assert legacy.bay.client.get(f"/v1/sandboxes/{ship['id']}").status_code == 404
    # The same runtime: v1 works at the workspace root, the session in its directory.
    legacy.shell(ship["id"], "v1-view", "echo from-legacy > f.txt")
    r = legacy.v1.post(f"/v1/sandboxes/{ship['id']}/shell/exec", json={"command": "cat v1-view/f.txt"})
    assert r.status_code == 200 and r.json()["output"] == "from-legacy"
    assert legacy.get(ship["id"])["container_id"] == ship["container_id"]
    # Deleted through /v1: the ship is gone from the legacy API too.
    assert legacy.v1.delete(f"/v1/sandboxes/{ship['id']}").status_code == 204
    r = legacy.c.get(f"/ship/{ship['id']}")
    assert r.status_code == 404 and r.json() == {"detail": "Ship not found"}
    assert legacy.ships() == []


# §6: the v1 GC treats a ship's sandbox like any other, except that idle reclaim never selects
# it; expired_sandbox and orphan_cargo leave it (and its cargo) alone.
def test_gc_treats_ships_like_sandboxes(legacy_factory):
    lg = legacy_factory(LEGACY_PROFILE="quick-reclaim")  # idle_timeout 2 s
    ship = lg.create("gc-sess", ttl=120)
    lg.python(ship["id"], "gc-sess", "marker = 'still here'")
    plain = lg.bay.create(profile="quick-reclaim")["id"]  # an ordinary v1 sandbox
    lg.bay.python(plain, "1")
    # Both are idle past the profile's 2 s idle timeout.
    wait_for(lambda: parse(lg.bay.client.get(f"/v1/sandboxes/{plain}").json()["idle_expires_at"])
             < now() - timedelta(seconds=0.5), "the v1 sandbox to be idle", timeout=10)
    r = lg.v1.post("/v1/admin/gc/run")
    assert r.status_code == 200, r.text
    results = {t["task_name"]: t for t in r.json()["results"]}
    assert results["idle_session"]["cleaned_count"] == 1  # the v1 sandbox only
    assert r.json()["total_errors"] == 0
    assert lg.bay.client.get(f"/v1/sandboxes/{plain}").json()["status"] == "idle"
    got = lg.get(ship["id"])
    assert got["status"] == 1 and got["container_id"] == ship["container_id"]
    sb = lg.v1.get(f"/v1/sandboxes/{ship['id']}").json()
    assert sb["status"] == "ready"
    assert lg.python(ship["id"], "gc-sess", "marker")["output"]["text"] == "'still here'"
    assert lg.v1.get(f"/v1/cargos/{sb['cargo_id']}").status_code == 200


# §6: the sandbox behind a ship never shows an idle deadline, even when used through /v1.
def test_ship_sandbox_has_no_idle_deadline(legacy):
    ship = legacy.create("no-idle", ttl=120)
    legacy.v1.post(f"/v1/sandboxes/{ship['id']}/python/exec", json={"code": "1"})
    assert legacy.v1.get(f"/v1/sandboxes/{ship['id']}").json()["idle_expires_at"] is None


# §6 (RECOMMENDED): a runtime that died is restarted by the next operation; files are kept,
# interpreter state is lost.
def test_runtime_death_is_recovered(legacy):
    ship = legacy.create("phoenix", ttl=120)
    legacy.shell(ship["id"], "phoenix", "echo kept > kept.txt")
    legacy.python(ship["id"], "phoenix", "state = 1")
    # container_id is "proc:<bwrap pid>:<start>:<init pid>:<start>:<session>" (process driver).
    init_pid = int(ship["container_id"].split(":")[3])
    os.kill(init_pid, signal.SIGKILL)
    wait_for(lambda: not os.path.exists(f"/proc/{init_pid}"), "the runtime to die")
    assert legacy.shell(ship["id"], "phoenix", "cat kept.txt")["stdout"] == "kept"
    assert "NameError" in legacy.python(ship["id"], "phoenix", "state")["error"]
    again = legacy.get(ship["id"])
    assert again["status"] == 1 and again["container_id"] != ship["container_id"]


# DELETE completes while the ship is busy (§7) and removes the runtime under the running call.
def test_delete_while_busy(legacy):
    ship = legacy.create("busy", ttl=120)["id"]
    long = Pending(lambda: legacy.exec_raw(ship, "busy", "shell/exec",
                                           {"command": "touch started; sleep 60", "timeout": 90}))
    wait_for(lambda: legacy.download(ship, "busy", "started").status_code == 200,
             "the long command to run")
    with httpx.Client(base_url=legacy.url, headers={"Authorization": f"Bearer {TOKEN}"},
                      timeout=15) as c:
        assert c.delete(f"/ship/{ship}").status_code == 204
    r = long.join(30)
    assert r.status_code == 400, r.text
    assert legacy.c.get(f"/ship/{ship}").status_code == 404


# ---------------------------------------------------------------------------- capacity


# reject (§5 step 4): concurrent creates at MAX_SHIP_NUM: exactly that many succeed, the rest
# get 503; a session that already has a ship still gets it; a released slot can be used again.
def test_capacity_reject(legacy_factory):
    lg = legacy_factory(MAX_SHIP_NUM=2, BEHAVIOR_AFTER_MAX_SHIP="reject")
    results = run_threads([lambda i=i: post_ship(lg.url, f"rej-{i}") for i in range(6)])
    ok = [r for r in results if r.status_code == 201]
    refused = [r for r in results if r.status_code != 201]
    assert len(ok) == 2, [r.text for r in results]
    assert all(r.status_code == 503 for r in refused)
    assert all(r.json() == {"detail": "Maximum number of ships reached"} for r in refused)
    ids = sorted(r.json()["id"] for r in ok)
    assert sorted(s["id"] for s in lg.ships()) == ids
    assert len(lg.v1.get("/v1/sandboxes").json()["items"]) == 2  # nothing left by refusals
    # Existing sessions are served at capacity (no new ship needed).
    owner = next(r for r in results if r.status_code == 201).request.headers["X-SESSION-ID"]
    assert lg.create(owner)["id"] in ids
    # v1 sandboxes do not count against MAX_SHIP_NUM.
    lg.bay.python(lg.bay.create()["id"], "1")
    lg.create("late", expect=503)
    # A stopped ship frees its slot; a deleted one too.
    lg.c.post(f"/ship/{ids[0]}/extend-ttl", json={"ttl": 1})
    wait_for(lambda: lg.get(ids[0])["status"] == 0, "the ship to stop")
    third = lg.create("late")
    assert third["id"] not in ids
    # Restoring the stopped ship needs a slot as well.
    stopped_owner = [r.request.headers["X-SESSION-ID"] for r in ok if r.json()["id"] == ids[0]][0]
    r = lg.c.post("/ship", json={"ttl": 60}, headers={"X-SESSION-ID": stopped_owner})
    assert r.status_code == 503
    assert lg.c.delete(f"/ship/{ids[1]}").status_code == 204
    assert lg.create(stopped_owner)["id"] == ids[0]


# wait (§5 step 4): a burst beyond MAX_SHIP_NUM is fully served as ships are released, and
# queued requests are served in arrival order, by deletes and by expiry alike.
def test_capacity_wait_in_order(legacy_factory):
    lg = legacy_factory(MAX_SHIP_NUM=2, BEHAVIOR_AFTER_MAX_SHIP="wait", MAX_SHIP_WAIT_SECONDS=90)

    # A concurrent burst of four: two get ships, two wait until ships are released.
    burst = [Pending(lambda i=i: post_ship(lg.url, f"burst-{i}")) for i in range(4)]
    wait_for(lambda: sum(p.done() for p in burst) == 2 and
             lg.log_text().count("waits for a ship slot") == 2, "two ships and two waiters")
    served = [p for p in burst if p.done()]
    waiting = [p for p in burst if not p.done()]
    assert all(p.join().status_code == 201 for p in served)
    for p in served:
        assert lg.c.delete(f"/ship/{p.result.json()['id']}").status_code == 204
    for p in waiting:
        assert p.join().status_code == 201, p.result.text
    live = [p.result.json()["id"] for p in waiting]
    assert sorted(s["id"] for s in lg.ships()) == sorted(live)

    # Three queued requests, entering the queue one after the other.
    queued = []
    for i in range(3):
        queued.append(Pending(lambda i=i: post_ship(lg.url, f"queued-{i}")))
        wait_for(lambda i=i: f"session queued-{i} waits for a ship slot" in lg.log_text(),
                 f"queued-{i} to wait")
    assert not any(p.done() for p in queued)
    # Released by a delete: the first in line gets the slot, the others keep waiting.
    assert lg.c.delete(f"/ship/{live[0]}").status_code == 204
    first = queued[0].join()
    assert first.status_code == 201 and first.json()["status"] == 1
    assert not queued[1].done() and not queued[2].done()
    # Released by expiry: the second.
    lg.c.post(f"/ship/{live[1]}/extend-ttl", json={"ttl": 1})
    second = queued[1].join()
    assert second.status_code == 201
    assert lg.get(live[1])["status"] == 0
    assert not queued[2].done()
    # And the third.
    assert lg.c.delete(f"/ship/{first.json()['id']}").status_code == 204
    third = queued[2].join()
    assert third.status_code == 201
    assert sorted(s["id"] for s in lg.ships()) == sorted([second.json()["id"], third.json()["id"]])


# wait: a request that waits longer than MAX_SHIP_WAIT_SECONDS gets 408; one whose client gave
# up leaves the queue, and the slot it would have had goes to the next request.
def test_capacity_wait_timeout_and_abandon(legacy_factory):
    lg = legacy_factory(MAX_SHIP_NUM=1, BEHAVIOR_AFTER_MAX_SHIP="wait", MAX_SHIP_WAIT_SECONDS=2)
    only = lg.create("holder")
    r = post_ship(lg.url, "impatient")
    assert r.status_code == 408 and r.json() == {"detail": "Timeout waiting for available ship slot"}

    with pytest.raises(httpx.ReadTimeout):
        post_ship(lg.url, "gives-up", timeout=0.5)
    wait_for(lambda: "session gives-up left the queue (client gone)" in lg.log_text(),
             "the abandoned request to leave the queue")
    assert lg.c.delete(f"/ship/{only['id']}").status_code == 204
    nxt = lg.create("next-in-line")
    assert nxt["status"] == 1
    assert [s["id"] for s in lg.ships()] == [nxt["id"]]
    # The abandoned session got nothing.
    assert lg.c.post("/ship", json={"ttl": 5},
                     headers={"X-SESSION-ID": "gives-up"}).status_code == 408


# ---------------------------------------------------------------------------- restart


# Ships, their sessions and lifetimes survive a Bay restart (§11, RECOMMENDED); stopped ships
# stay stopped and can be restored afterwards.
def test_restart_keeps_ships(legacy):
    shared = legacy.create("keep-a", ttl=300, max_session_num=2)
    legacy.create("keep-b", ttl=300)
    assert legacy.upload(shared["id"], "keep-a", "data.bin", b"\x00persist\xff").status_code == 200
    stopped = legacy.create("keep-c", ttl=300)
    legacy.c.post(f"/ship/{stopped['id']}/extend-ttl", json={"ttl": 1})
    wait_for(lambda: legacy.get(stopped["id"])["status"] == 0, "the ship to stop")
    before = {s: legacy.get(s) for s in (shared["id"], stopped["id"])}

    legacy.bay.restart()
    legacy.reconnect()
    after = {s: legacy.get(s) for s in before}
    assert after == before
    assert [s["id"] for s in legacy.ships()] == [shared["id"]]
    assert legacy.create("keep-b", ttl=300)["id"] == shared["id"]
    assert legacy.create("keep-a", ttl=300)["current_session_num"] == 2
    assert legacy.download(shared["id"], "keep-a", "data.bin").content == b"\x00persist\xff"
    assert legacy.python(shared["id"], "keep-b", "21 * 2")["output"]["text"] == "42"
    # A third session does not fit (max_session_num 2 survived): it gets a new ship.
    assert legacy.create("keep-d", ttl=60)["id"] not in (shared["id"], stopped["id"])
    restored = legacy.create("keep-c", ttl=60)
    assert restored["id"] == stopped["id"] and restored["status"] == 1

    # Expiry keeps working after a restart.
    legacy.c.post(f"/ship/{shared['id']}/extend-ttl", json={"ttl": 1})
    wait_for(lambda: legacy.get(shared["id"])["status"] == 0, "the ship to stop after restart")
    # A stopped ship is deleted like a running one, with its sandbox and cargo.
    assert legacy.c.delete(f"/ship/{shared['id']}").status_code == 204
    assert legacy.c.get(f"/ship/{shared['id']}").status_code == 404
    assert legacy.v1.get(f"/v1/sandboxes/{shared['id']}").status_code == 404
    assert legacy.create("keep-a", ttl=60)["id"] != shared["id"]  # its sessions were detached
