"""Test harness: starts the kernel driver exactly as Ship does and speaks its protocol.

No conftest.py on purpose: scripts/test.sh collects tests/integration and tests/kernel in
one session, and a second top-level "conftest" module would shadow the other's. The test
module imports the fixtures below by name instead.

The driver runs under the interpreter Ship uses (/usr/bin/python3 by default; override
with SHIPYARD_TEST_PYTHON), with fds 3/4 as control pipes, the kernel root as cwd, stdin
/dev/null and stdout/stderr going to a log file that stands in for Ship's log.
"""

import fcntl
import json
import os
import pathlib
import select
import signal
import subprocess
import sys
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
DRIVER = REPO / "src" / "ship" / "kernel" / "driver" / "shipyard_kernel.py"
PYTHON = os.environ.get("SHIPYARD_TEST_PYTHON", "/usr/bin/python3")


class KernelDied(Exception):
    pass


class Kernel:
    def __init__(self, root, extra_args=(), env=None):
        self.root = pathlib.Path(root)
        self.log_path = self.root.parent / (self.root.name + ".log")
        self._next_id = 0
        self._closed = False
        to_kernel_r, self._to_kernel = os.pipe()
        self._from_kernel, from_kernel_w = os.pipe()
        child_fds = (to_kernel_r, from_kernel_w)

        def place_control_fds():
            # Move the pipe ends out of the way first, then onto exactly fds 3 and 4.
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in child_fds]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        environment = dict(os.environ if env is None else env)
        environment["HOME"] = str(self.root)  # as Ship sets it (ship-api.md §3.1)
        with open(self.log_path, "ab") as log:
            self.started = time.monotonic()
            self.proc = subprocess.Popen(
                [PYTHON, *extra_args, str(DRIVER), "--control-in", "3", "--control-out", "4"],
                cwd=str(self.root), env=environment, stdin=subprocess.DEVNULL, stdout=log,
                stderr=log, preexec_fn=place_control_fds, pass_fds=(3, 4),
                start_new_session=True)
        os.close(to_kernel_r)
        os.close(from_kernel_w)
        self._buf = b""
        self.ready = self.recv(timeout=30)
        self.ready_seconds = time.monotonic() - self.started
        assert self.ready["type"] == "ready", self.ready

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        return self.log_path.read_text(errors="replace")

    # -- framing ----------------------------------------------------------------------
    def send(self, message):
        payload = json.dumps(message).encode()
        self.send_raw(len(payload).to_bytes(4, "big") + payload)

    def send_raw(self, data):
        view = memoryview(data)
        while view:
            n = os.write(self._to_kernel, view)
            view = view[n:]

    def _fill(self, n, deadline):
        while len(self._buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame from the kernel in time")
            ready, _, _ = select.select([self._from_kernel], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._from_kernel, 1 << 20)
            if not chunk:
                raise KernelDied("kernel closed its control pipe; log:\n" + self.log())
            self._buf += chunk

    def recv(self, timeout=30):
        deadline = time.monotonic() + timeout
        self._fill(4, deadline)
        n = int.from_bytes(self._buf[:4], "big")
        self._fill(4 + n, deadline)
        payload, self._buf = self._buf[4:4 + n], self._buf[4 + n:]
        return json.loads(payload)

    # -- requests ---------------------------------------------------------------------
    def new_id(self):
        self._next_id += 1
        return self._next_id

    def submit(self, code, silent=False, output_limit=1 << 20):
        rid = self.new_id()
        self.send({"type": "execute", "id": rid, "code": code, "silent": silent,
                   "output_limit": output_limit})
        return rid

    def execute(self, code, silent=False, output_limit=1 << 20, timeout=60):
        rid = self.submit(code, silent, output_limit)
        result = self.recv(timeout)
        assert result["type"] == "result" and result["id"] == rid, result
        return result

    def ok(self, code, **kwargs):
        """Executes and asserts success; returns the text."""
        result = self.execute(code, **kwargs)
        assert result["success"], result["error"]
        return result["text"]

    def ping(self, timeout=10):
        rid = self.new_id()
        self.send({"type": "ping", "id": rid})
        assert self.recv(timeout) == {"type": "pong", "id": rid}

    def interrupt(self):
        os.kill(self.pid, signal.SIGINT)

    def alive(self):
        return self.proc.poll() is None

    def rss_kib(self):
        for line in pathlib.Path("/proc/%d/status" % self.pid).read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return None

    def close(self, timeout=10):
        """Closes control-in (the kernel should exit); returns its exit status."""
        if self._closed:
            return self.proc.returncode
        self._closed = True
        os.close(self._to_kernel)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None
        finally:
            os.close(self._from_kernel)
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # stray children of the tests
            except (ProcessLookupError, PermissionError):
                pass


def wait_until(predicate, timeout=10.0, interval=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def report(name, value):
    """Measured figures go to stderr (visible with pytest -s) and, if SHIPYARD_MEASURE_FILE
    is set, are appended to that file."""
    line = "[kernel-measure] %s: %s" % (name, value)
    print(line, file=sys.stderr)
    out = os.environ.get("SHIPYARD_MEASURE_FILE")
    if out:
        with open(out, "a") as f:
            f.write(line + "\n")


# --- fixtures -----------------------------------------------------------------------

@pytest.fixture
def kernel_root(tmp_path):
    root = tmp_path / "workspace"
    root.mkdir()
    return root


@pytest.fixture
def start_kernel(kernel_root):
    started = []

    def start(root=None, **kwargs):
        k = Kernel(root or kernel_root, **kwargs)
        started.append(k)
        return k

    yield start
    for k in started:
        k.close()


@pytest.fixture
def kernel(start_kernel):
    return start_kernel()
