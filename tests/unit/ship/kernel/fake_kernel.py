"""A fake Shipyard kernel driver for the unit tests of src/ship/kernel.

It speaks the framed protocol of docs/kernel-protocol.md on the control fds like the real
driver (started as `python3 fake_kernel.py --control-in 3 --control-out 4`), but instead of
running Python it interprets each cell as one command, so that a test can make the kernel
misbehave on purpose:

  incr                 counter += 1; the text is the new counter (interpreter state)
  pid                  the text is the kernel's pid
  sleep S              interruptible sleep (SIGINT -> KeyboardInterrupt, interrupted: true)
  sleep_noint S        SIGINT ignored entirely during the sleep; then answers normally
  late_gate G S        SIGINT ignored for G seconds, then an interruptible sleep of S
  exit N               os._exit(N) mid-cell
  segv                 SIGSEGV mid-cell
  wrong_id             a result carrying another id
  garbage              bytes that are not a frame
  huge                 a header announcing a frame larger than 64 MiB
  malformed            a frame whose payload is not JSON
  no_type              a frame whose object has no "type"
  bad_result           a result with a non-boolean "success"
  chatty               pong, error and a second ready frame before a normal result
  anything else        answered normally: success, the text is the code itself

Every received execute is appended to ./fake.log ("<pid>\t<id>\t<code>") before it runs,
so tests can check what was (not) executed and in which order.

Environment: FAKE_READY_DELAY=<seconds> delays the ready frame; FAKE_NO_READY=1 never
sends it; FAKE_EXIT_BEFORE_READY=<n> exits with status n before sending it; FAKE_NO_READ=1
sends ready and then never reads its control pipe (a hung driver).
"""

import json
import os
import resource
import signal
import struct
import sys
import time

gate = False  # SIGINT raises KeyboardInterrupt only while "user code" runs (as the driver)


def on_sigint(signum, frame):
    if gate:
        raise KeyboardInterrupt


signal.signal(signal.SIGINT, on_sigint)
# A deliberate SIGSEGV must not leave core files behind.
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def parse_args(argv):
    fds = {}
    for i in range(0, len(argv) - 1, 2):
        fds[argv[i]] = int(argv[i + 1])
    return fds["--control-in"], fds["--control-out"]


CIN, COUT = parse_args(sys.argv[1:])


def write_all(data):
    view = memoryview(data)
    while view:
        n = os.write(COUT, view)
        view = view[n:]


def send(obj):
    payload = json.dumps(obj).encode("utf-8")
    write_all(struct.pack(">I", len(payload)) + payload)


def read_exact(n):
    buf = b""
    while len(buf) < n:
        chunk = os.read(CIN, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def receive():
    header = read_exact(4)
    if header is None:
        return None
    (n,) = struct.unpack(">I", header)
    payload = read_exact(n)
    if payload is None:
        return None
    return json.loads(payload)


def log(rid, code):
    with open("fake.log", "a") as f:
        f.write("%d\t%d\t%s\n" % (os.getpid(), rid, code))


def main():
    global gate
    if os.environ.get("FAKE_EXIT_BEFORE_READY"):
        os._exit(int(os.environ["FAKE_EXIT_BEFORE_READY"]))
    if os.environ.get("FAKE_NO_READY"):
        while True:
            time.sleep(3600)
    delay = float(os.environ.get("FAKE_READY_DELAY", "0"))
    if delay > 0:
        time.sleep(delay)
    send({"type": "ready", "protocol": 1, "pid": os.getpid()})
    if os.environ.get("FAKE_NO_READ"):
        while True:
            time.sleep(3600)

    counter = 0
    count = 0
    while True:
        msg = receive()
        if msg is None:
            return 0
        if msg.get("type") != "execute":
            continue
        rid = msg["id"]
        code = msg["code"]
        log(rid, code)
        if not msg.get("silent"):
            count += 1
        result = {"type": "result", "id": rid, "success": True,
                  "execution_count": None if msg.get("silent") else count,
                  "text": code, "images": [], "display": [], "error": None,
                  "interrupted": False, "truncated": False}
        words = code.split()
        cmd = words[0] if words else ""
        try:
            if cmd == "incr":
                counter += 1
                result["text"] = str(counter)
            elif cmd == "pid":
                result["text"] = str(os.getpid())
            elif cmd == "sleep":
                gate = True
                time.sleep(float(words[1]))
                gate = False
            elif cmd == "sleep_noint":
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                time.sleep(float(words[1]))
                signal.signal(signal.SIGINT, on_sigint)
            elif cmd == "late_gate":
                time.sleep(float(words[1]))  # gate closed: SIGINT is ignored here
                gate = True
                time.sleep(float(words[2]))
                gate = False
            elif cmd == "exit":
                os._exit(int(words[1]))
            elif cmd == "segv":
                os.kill(os.getpid(), signal.SIGSEGV)
                time.sleep(10)
            elif cmd == "wrong_id":
                result["id"] = rid + 1000
            elif cmd == "garbage":
                write_all(b"this is not a frame at all")
                continue
            elif cmd == "huge":
                write_all(struct.pack(">I", (64 << 20) + 1) + b"{}")
                continue
            elif cmd == "malformed":
                write_all(struct.pack(">I", 5) + b"hello")
                continue
            elif cmd == "no_type":
                payload = json.dumps({"id": rid}).encode()
                write_all(struct.pack(">I", len(payload)) + payload)
                continue
            elif cmd == "chatty":
                send({"type": "pong", "id": 0})
                send({"type": "error", "id": None, "error": "unknown message"})
                send({"type": "ready", "protocol": 1, "pid": os.getpid()})
            elif cmd == "bad_result":
                result["success"] = "yes"
        except KeyboardInterrupt:
            gate = False
            result.update(success=False, interrupted=True,
                          error="Traceback (most recent call last):\nKeyboardInterrupt")
        send(result)


if __name__ == "__main__":
    sys.exit(main())
