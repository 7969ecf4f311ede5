"""Ship's Python kernel through HTTP (ship-api.md §8)."""

from __future__ import annotations

import base64
import concurrent.futures
import os
import time
from pathlib import Path

import httpx


def py(ship, code, sid=None, **kw):
    headers = {"X-SESSION-ID": sid} if sid else {}
    r = ship.client.post("/ipython/exec", json={"code": code, **kw}, headers=headers, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


# State persists, execution_count increments, the trailing expression is displayed.
def test_state_and_display(ship):
    r = py(ship, "x = 40")
    assert r == {"success": True, "execution_count": 1, "output": {"text": "", "images": []},
                 "error": None, "kernel_id": "default"}
    r = py(ship, "x + 2")
    assert r["output"]["text"] == "42" and r["execution_count"] == 2
    assert py(ship, "'a'")["output"]["text"] == "'a'"
    assert py(ship, "1 + 2 + 3;")["output"]["text"] == ""
    assert py(ship, "print('exact  ')")["output"]["text"] == "exact"
    # Silent cells do not count and (as in IPython) do not display values; prints still show.
    r = py(ship, "print(x)\nx", silent=True)
    assert r["execution_count"] is None and r["output"]["text"] == "40"
    assert py(ship, "1")["execution_count"] == 6


# stdout/stderr of child processes and C code are captured at the fd level, in order.
def test_fd_capture(ship):
    r = py(ship, "import os, sys\nprint('a')\nos.system('echo hi')\nprint('b', file=sys.stderr)\n"
                 "_ = os.write(1, b'c\\n')")
    assert r["output"]["text"] == "a\nhi\nb\nc"


# Errors are plain-text IPython-style tracebacks, output before them is kept.
def test_tracebacks(ship):
    r = py(ship, "print('before')\n1/0")
    assert r["success"] is False and r["output"]["text"] == "before"
    assert r["error"].startswith("Traceback (most recent call last):")
    assert r["error"].rstrip().endswith("ZeroDivisionError: division by zero")
    assert "\x1b[" not in r["error"]
    r = py(ship, "def f(:\n  pass")
    assert r["success"] is False and "SyntaxError" in r["error"]
    r = py(ship, "import no_such_module_xyz")
    assert "ModuleNotFoundError: No module named 'no_such_module_xyz'" in r["error"]


# A matplotlib figure comes back as a PNG.
def test_matplotlib_png(ship):
    r = py(ship, "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('图')\nplt.show()")
    assert r["success"] is True, r["error"]
    assert len(r["output"]["images"]) == 1
    png = base64.b64decode(r["output"]["images"][0]["image/png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    r = py(ship, "fig = plt.figure(); plt.plot([1])")
    assert len(r["output"]["images"]) == 1


# Rich display objects: display(), _repr_html_.
def test_rich_display(ship):
    r = py(ship, "class H:\n  def _repr_html_(self): return '<b>x</b>'\n  def __repr__(self): return 'H()'\n"
                 "display(H())\nprint('after')")
    assert r["output"]["text"] == "H()\nafter"
    assert r["output"]["display"][0]["text/html"] == "<b>x</b>"


# A time-out interrupts the cell, keeps the variables and answers within timeout + 0.5 s.
def test_timeout_keeps_state(ship):
    py(ship, "keep = [1, 2, 3]")
    t0 = time.monotonic()
    r = py(ship, "import time\nprint('started')\ntime.sleep(100)", timeout=1)
    elapsed = time.monotonic() - t0
    assert r["success"] is False
    assert r["error"].startswith("Code execution timed out after 1 seconds")
    assert "KeyboardInterrupt" in r["error"]
    assert r["output"]["text"] == "started"
    assert elapsed < 1.5, elapsed
    assert py(ship, "keep")["output"]["text"] == "[1, 2, 3]"


# A cell that ignores the interrupt is killed; the error says state was lost.
def test_kill_and_restart(ship):
    py(ship, "lost = 1")
    code = ("import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "while True: time.sleep(0.05)")
    t0 = time.monotonic()
    r = py(ship, code, timeout=1)
    assert time.monotonic() - t0 < 4.5
    assert r["success"] is False
    assert "the interpreter was restarted and its state was lost" in r["error"]
    r = py(ship, "lost")
    assert r["success"] is False and "NameError" in r["error"]
    assert r["execution_count"] == 1


# A kernel that dies mid-cell is reported, and the next call gets a fresh kernel.
def test_crash_recovery(ship):
    py(ship, "a = 1")
    r = py(ship, "import os; os._exit(3)")
    assert r["success"] is False and "died" in r["error"].lower()
    status = ship.client.get("/ipython/kernel/status").json()
    assert status["status"] in ("dead", "alive")
    r = py(ship, "import ctypes; ctypes.string_at(0)")  # segfault
    assert r["success"] is False and "died" in r["error"].lower()
    r = py(ship, "1 + 1")
    assert r["success"] is True and r["output"]["text"] == "2"


# 32 concurrent callers each receive exactly their own output.
def test_concurrent_callers(ship):
    def call(i):
        with httpx.Client(base_url=ship.url, timeout=120) as c:
            r = c.post("/ipython/exec", json={"code": f"import time; time.sleep(0.01); print('marker-{i}')"})
            return i, r.json()

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        results = list(pool.map(call, range(32)))
    counts = []
    for i, r in results:
        assert r["success"] is True
        assert r["output"]["text"] == f"marker-{i}"
        counts.append(r["execution_count"])
    assert sorted(counts) == list(range(1, 33))


# Sessions have separate kernels and working directories.
def test_per_session_kernels(ship):
    py(ship, "who = 'one'", sid="s1")
    py(ship, "who = 'two'", sid="s2")
    assert py(ship, "who", sid="s1")["output"]["text"] == "'one'"
    r = py(ship, "import os; who, os.getcwd()", sid="s2")
    assert r["output"]["text"] == f"('two', '{ship.workspace}/s2')"
    assert r["kernel_id"] == "s2"
    assert py(ship, "'who' in globals()")["output"]["text"] == "False"


# Kernel management endpoints.
def test_kernel_management(ship):
    st = ship.client.get("/ipython/kernel/status", headers={"X-SESSION-ID": "fresh"}).json()
    assert st == {"status": "not_started", "has_kernel": False,
                  "workspace": f"{ship.workspace}/fresh", "kernel_id": "fresh"}
    py(ship, "v = 1", sid="fresh")
    assert ship.client.get("/ipython/kernel/status", headers={"X-SESSION-ID": "fresh"}).json()["status"] == "alive"
    r = ship.client.post("/ipython/kernel/restart", headers={"X-SESSION-ID": "fresh"}).json()
    assert r == {"success": True, "message": "Kernel restarted successfully", "kernel_id": "fresh"}
    assert "NameError" in py(ship, "v", sid="fresh")["error"]
    r = ship.client.delete("/ipython/kernel", headers={"X-SESSION-ID": "fresh"})
    assert r.json() == {"success": True, "message": "Kernel shutdown successfully"}
    r = ship.client.delete("/ipython/kernel", headers={"X-SESSION-ID": "fresh"})
    assert r.status_code == 404 and r.json() == {"detail": "Kernel not found"}
    kernels = ship.client.get("/ipython/kernels").json()["kernels"]
    assert {"kernel_id": "default", "status": "alive", "connections": 1} in kernels


# Modules written into the workspace are importable and reloadable; input() fails fast.
def test_import_and_input(ship):
    (ship.workspace / "utils.py").write_text("def add(a, b):\n    return a + b\n")
    assert py(ship, "from utils import add\nadd(2, 3)")["output"]["text"] == "5"
    (ship.workspace / "utils.py").write_text("def add(a, b):\n    return a * b\n")
    assert py(ship, "import importlib, utils\nimportlib.reload(utils)\nutils.add(2, 3)")["output"]["text"] == "6"
    t0 = time.monotonic()
    r = py(ship, "input('name?')", timeout=10)
    assert r["success"] is False and time.monotonic() - t0 < 5


# IPython magics work (IPython is installed by the setup script).
def test_magics(ship):
    r = py(ship, "!echo from-shell")
    assert r["success"] is True and r["output"]["text"] == "from-shell", r
    os.makedirs(ship.workspace / "sub", exist_ok=True)
    r = py(ship, "%cd sub\nimport os\nos.getcwd()")
    assert r["output"]["text"].endswith("/sub'")


# Output is bounded: a flood is truncated with a marker and the kernel stays usable.
def test_output_bound(ship):
    r = py(ship, "for i in range(3_000_000): print('xxxxxxxxxxxxxxxxxxxxxxxx')", timeout=120)
    assert len(r["output"]["text"]) <= 1_100_000
    assert "truncated" in r["output"]["text"]
    assert py(ship, "2 * 21")["output"]["text"] == "42"


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


# No leaks: Ship's fds and threads are unchanged after 1000 executions.
def test_no_leaks(ship):
    py(ship, "1")
    pid = ship.proc.pid
    fds, threads = _fds(pid), _threads(pid)
    with httpx.Client(base_url=ship.url, timeout=60) as c:
        for i in range(1000):
            r = c.post("/ipython/exec", json={"code": f"{i} * 2"}).json()
            assert r["output"]["text"] == str(i * 2)
    # The test client's connection closes asynchronously: give Ship a moment to see it.
    deadline = time.monotonic() + 5
    while _fds(pid) != fds and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _fds(pid) == fds
    assert _threads(pid) == threads
