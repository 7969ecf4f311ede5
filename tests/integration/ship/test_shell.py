"""Ship shell endpoints (ship-api.md §7)."""

from __future__ import annotations

import os
import re
import time

import httpx


def sh(ship, body, sid=None, timeout=60):
    headers = {"X-SESSION-ID": sid} if sid else {}
    r = ship.client.post("/shell/exec", json=body, headers=headers, timeout=timeout)
    assert r.status_code == 200, r.text
    return r.json()


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# A foreground command answers the documented shape with trimmed stdout and stderr.
def test_exec_basic(ship):
    r = sh(ship, {"command": "echo hi; echo oops >&2"})
    assert r["success"] is True and r["return_code"] == 0
    assert r["stdout"] == "hi" and r["stderr"] == "oops"
    assert isinstance(r["pid"], int) and r["process_id"] is None and r["error"] is None


# Exit codes pass through; unknown commands are 127; full shell syntax works.
def test_exit_codes_and_syntax(ship):
    assert sh(ship, {"command": "exit 42"})["return_code"] == 42
    r = sh(ship, {"command": "no-such-cmd-xyz"})
    assert r["return_code"] == 127 and r["success"] is False and "not found" in r["stderr"]
    r = sh(ship, {"command": "echo -e 'a\\nb' | wc -l && (echo sub) || echo no; X=5; echo $((X*2)) 2>&1"})
    assert r["stdout"].split() == ["2", "sub", "10"]


# The environment: HOME, USER, PATH, LANG and request env (which wins).
def test_environment(ship):
    r = sh(ship, {"command": 'echo "$HOME|$USER|$LOGNAME|$SHELL|$LANG|$FOO"; echo $PATH',
                  "env": {"FOO": "bar", "LANG": "C"}})
    first, path = r["stdout"].splitlines()
    assert first == f"{ship.workspace}|shipyard|shipyard|/bin/bash|C|bar"
    assert "/usr/bin" in path.split(":")


# cwd defaults to the root, is relative to it, and a missing directory fails normally.
def test_cwd(ship):
    (ship.workspace / "sub").mkdir()
    assert sh(ship, {"command": "pwd"})["stdout"] == str(ship.workspace)
    assert sh(ship, {"command": "pwd", "cwd": "sub"})["stdout"] == f"{ship.workspace}/sub"
    assert sh(ship, {"command": "pwd", "cwd": f"{ship.workspace}/sub"})["stdout"].endswith("/sub")
    r = sh(ship, {"command": "echo should-not-run", "cwd": "missing"})
    assert r["success"] is False and r["return_code"] != 0
    assert "should-not-run" not in r["stdout"] and r["stderr"]
    os.symlink("/etc", ship.workspace / "etc-link")
    r = ship.client.post("/shell/exec", json={"command": "pwd", "cwd": "etc-link"})
    assert r.status_code == 403


# shell:false splits words and runs the program directly, without shell syntax.
def test_no_shell(ship):
    r = sh(ship, {"command": "echo 'a b' $HOME | x", "shell": False})
    assert r["stdout"] == "a b $HOME | x"
    r = sh(ship, {"command": "definitely-missing-binary", "shell": False})
    assert r["success"] is False and r["return_code"] == -1 and r["error"]


# A time-out kills the whole process tree and answers within timeout + 0.5 s.
def test_timeout_kills_tree(ship, tmp_state):
    marker = tmp_state / "pids"
    cmd = (f"sleep 1000 & echo $! >> {marker}; setsid sleep 1000 & echo $! >> {marker}; "
           f"(sleep 1000; echo never) & echo $! >> {marker}; echo started; sleep 1000")
    t0 = time.monotonic()
    r = sh(ship, {"command": cmd, "timeout": 1})
    elapsed = time.monotonic() - t0
    assert r["success"] is False and r["return_code"] == -1
    assert r["error"] == "Command timed out"
    assert r["stdout"] == "started"
    assert elapsed < 1.5, elapsed
    pids = [int(p) for p in marker.read_text().split()]
    deadline = time.monotonic() + 2
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in pids), [p for p in pids if alive(p)]


# Background children left by a finished command neither delay the answer nor get killed.
def test_background_child_survives(ship, tmp_state):
    pidfile = tmp_state / "bgpid"
    t0 = time.monotonic()
    r = sh(ship, {"command": f"sleep 30 & echo $! > {pidfile}; echo done"})
    assert time.monotonic() - t0 < 1.0
    assert r["stdout"] == "done"
    pid = int(pidfile.read_text())
    assert alive(pid)
    os.kill(pid, 9)


# Output beyond the cap is truncated with a note, and a flood does not block Ship.
def test_output_cap(ship):
    r = sh(ship, {"command": "head -c 30000000 /dev/zero | tr '\\0' a; echo; echo end >&2"}, timeout=120)
    assert r["success"] is True
    assert len(r["stdout"]) < 11 * 1024 * 1024
    assert "truncated" in r["stdout"]
    assert r["stderr"] == "end"


# Invalid UTF-8 in output is replaced, never an error.
def test_invalid_utf8_output(ship):
    r = sh(ship, {"command": "printf 'a\\xffb'"})
    assert r["stdout"] == "a\ufffdb"


# Background mode returns at once with a process id; listing shows status transitions.
def test_background_processes(ship):
    r = sh(ship, {"command": "sleep 0.5; echo bg-out", "background": True})
    assert r["success"] is True and r["return_code"] is None
    assert re.fullmatch(r"[0-9a-f]{8}", r["process_id"])
    pid = r["pid"]
    procs = ship.client.get("/shell/processes").json()["processes"]
    mine = [p for p in procs if p["process_id"] == r["process_id"]]
    assert mine and mine[0]["status"] == "running" and mine[0]["pid"] == pid
    assert mine[0]["command"] == "sleep 0.5; echo bg-out"
    deadline = time.monotonic() + 10
    status = "running"
    while status == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
        procs = ship.client.get("/shell/processes").json()["processes"]
        status = next(p["status"] for p in procs if p["process_id"] == r["process_id"])
    assert status == "completed"
    # Having been listed once after finishing, it may now be pruned.
    procs = ship.client.get("/shell/processes").json()["processes"]
    assert all(p["process_id"] != r["process_id"] for p in procs)
    failed = sh(ship, {"command": "exit 3", "background": True})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        procs = ship.client.get("/shell/processes").json()["processes"]
        entry = [p for p in procs if p["process_id"] == failed["process_id"]]
        if entry and entry[0]["status"] != "running":
            assert entry[0]["status"] == "failed"
            break
        time.sleep(0.05)
    else:
        raise AssertionError("background process never finished")


# Background processes are listed per session.
def test_background_per_session(ship):
    a = sh(ship, {"command": "sleep 5", "background": True}, sid="sa")
    b = sh(ship, {"command": "sleep 5", "background": True}, sid="sb")
    list_a = ship.client.get("/shell/processes", headers={"X-SESSION-ID": "sa"}).json()["processes"]
    assert [p["process_id"] for p in list_a] == [a["process_id"]]
    all_ = ship.client.get("/shell/processes").json()["processes"]
    assert {a["process_id"], b["process_id"]} <= {p["process_id"] for p in all_}
    for p in (a, b):
        os.kill(p["pid"], 9)


# A session's commands start in its own directory with HOME there.
def test_session_shell(ship):
    r = sh(ship, {"command": "pwd; echo $HOME"}, sid="chat-1")
    assert r["stdout"].splitlines() == [f"{ship.workspace}/chat-1"] * 2


# A long command does not block other requests.
def test_concurrency(ship):
    import threading
    result = {}

    def slow():
        with httpx.Client(base_url=ship.url, timeout=30) as c:
            result["slow"] = c.post("/shell/exec", json={"command": "sleep 2; echo slow"}).json()

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    assert ship.client.get("/health").status_code == 200
    assert sh(ship, {"command": "echo fast"})["stdout"] == "fast"
    assert time.monotonic() - t0 < 1.0
    t.join()
    assert result["slow"]["stdout"] == "slow"
