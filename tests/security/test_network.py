"""Network isolation per profile (bay-api-v1.md §5.2, §14.6; docs/security.md).

Machine rule for these tests: traffic only ever goes to loopback or to namespaces the
tests create. Outbound is proven by the tap device and its route, never by reaching
the internet; the only non-loopback address used is slirp4netns's gateway 10.0.2.2,
which slirp4netns handles itself (and must refuse to map to the host's loopback).
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import threading
import time
from pathlib import Path

import pytest

NET_PROFILES = """
profiles:
  - id: python-default
    resources: {cpus: 1.0, memory: "1g"}
    capabilities: [filesystem, shell, python]
    idle_timeout: 300
  - id: online
    resources: {cpus: 1.0, memory: "512m"}
    capabilities: [filesystem, shell, python]
    idle_timeout: 300
    network: outbound
"""

# Tries TCP connects from inside a sandbox; prints one "host:port result" per target.
CONNECT_PROBE = r"""
import socket, sys
for t in sys.argv[1:]:
    h, p = t.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect((h, int(p)))
    except OSError as e:
        print(t, "failed", type(e).__name__)
        s.close()
        continue
    # Connected: whatever answers must be real (a peer that only completes the
    # handshake and closes at once is reported as "closed").
    try:
        s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
        s.settimeout(1)
        data = s.recv(200)
        print(t, "connected" if data else "closed", data[:40])
    except (TimeoutError, socket.timeout):
        print(t, "connected", "silent")
    except OSError as e:
        print(t, "closed", type(e).__name__)
    finally:
        s.close()
"""

ABSTRACT_PROBE = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect("\0" + sys.argv[1]); print("connected")
except OSError as e:
    print("failed", type(e).__name__)
"""


class Listener:
    """A TCP listener on the host's 127.0.0.1 and an abstract unix socket, counting
    every connection they accept."""

    def __init__(self):
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(16)
        self.port = self.tcp.getsockname()[1]
        self.abstract_name = "shipyard-test-" + secrets.token_hex(8)
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind("\0" + self.abstract_name)
        self.unix.listen(16)
        self.accepted = 0
        self._stop = False
        self._threads = [threading.Thread(target=self._loop, args=(s,), daemon=True)
                         for s in (self.tcp, self.unix)]
        for t in self._threads:
            t.start()

    def _loop(self, sock):
        sock.settimeout(0.2)
        while not self._stop:
            try:
                c, _ = sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            self.accepted += 1
            c.close()

    def close(self):
        self._stop = True
        for t in self._threads:
            t.join(2)
        self.tcp.close()
        self.unix.close()


@pytest.fixture
def listener():
    lst = Listener()
    yield lst
    lst.close()


def _healthy(bay) -> None:
    assert bay.proc.poll() is None, "bay exited"
    assert bay.client.get("/health").status_code == 200


def _probe(bay, sid: str, targets: list[str]) -> dict[str, str]:
    bay.shell(sid, "cat > /tmp/probe.py <<'EOF'\n" + CONNECT_PROBE + "\nEOF")
    r = bay.shell(sid, "python3 /tmp/probe.py " + " ".join(targets), timeout=60)
    out = {}
    for line in r["output"].splitlines():
        t, res = line.split(" ", 2)[:2]
        out[t] = res
    return out


def _abstract(bay, sid: str, name: str) -> str:
    bay.shell(sid, "cat > /tmp/abstract.py <<'EOF'\n" + ABSTRACT_PROBE + "\nEOF")
    return bay.shell(sid, f"python3 /tmp/abstract.py {name}")["output"]


def _ifaces(bay, sid: str) -> list[str]:
    return bay.shell(sid, "tail -n +3 /proc/net/dev | cut -d: -f1")["output"].split()


def _netns(bay, sid: str) -> str:
    return bay.shell(sid, "readlink /proc/self/ns/net")["output"]


# network "none": only the sandbox's own loopback. Bay's port, a listener the test opens
# on the host's 127.0.0.1 and a host abstract unix socket are all unreachable, and the
# sandbox's namespace is its own (not the host's, not another sandbox's).
def test_none_only_own_loopback(bay, listener):
    a = bay.create()["id"]
    b = bay.create()["id"]
    assert _ifaces(bay, a) == ["lo"]
    assert bay.shell(a, "ip route 2>/dev/null; cat /proc/net/route | tail -n +2")["output"] == ""
    res = _probe(bay, a, [f"127.0.0.1:{bay.port}", f"127.0.0.1:{listener.port}",
                          "127.0.0.1:8123"])
    assert res[f"127.0.0.1:{bay.port}"] == "failed"
    assert res[f"127.0.0.1:{listener.port}"] == "failed"
    assert res["127.0.0.1:8123"] == "connected"  # its own Ship
    assert _abstract(bay, a, listener.abstract_name).startswith("failed")
    assert listener.accepted == 0
    ns_a, ns_b = _netns(bay, a), _netns(bay, b)
    assert ns_a != ns_b and ns_a != os.readlink("/proc/self/ns/net")
    # Reaching "another sandbox" at 127.0.0.1:8123 only ever finds its own Ship.
    ids = bay.shell(a, "curl -s http://127.0.0.1:8123/shell/exec "
                       "-d '{\"command\":\"echo $BAY_SANDBOX_ID\"}'")["output"]
    assert a in ids and b not in ids
    _healthy(bay)


# network "outbound": the sandbox keeps its own namespace and gets a tap device with a
# default route through slirp4netns; the gateway does not lead to the host's loopback
# (Bay's port, the test's listener), host abstract sockets stay unreachable, and other
# outbound sandboxes cannot be reached. slirp4netns runs as the sandbox's unprivileged
# uid with no_new_privs and seccomp, and goes away with the sandbox.
def test_outbound_isolated(bay_factory, listener):
    bay = bay_factory(config_text=NET_PROFILES)
    a = bay.create(profile="online")["id"]
    b = bay.create(profile="online")["id"]
    assert sorted(_ifaces(bay, a)) == ["lo", "tap0"]
    route = bay.shell(a, "cat /proc/net/route")["output"]
    # A default route (destination 0) through 10.0.2.2 (0202000A little-endian) on tap0.
    assert re.search(r"^tap0\s+00000000\s+0202000A", route, re.M), route
    assert "10.0.2.100" in bay.shell(a, "cat /proc/net/fib_trie")["output"]
    assert bay.shell(a, "cat /etc/resolv.conf")["output"] == "nameserver 10.0.2.3"
    ns_a, ns_b = _netns(bay, a), _netns(bay, b)
    assert ns_a != ns_b and ns_a != os.readlink("/proc/self/ns/net")

    # b listens on all its addresses; a tries everything that could lead there or to
    # the host's loopback.
    bay.python(b, "import socket\nsrv = socket.socket(); "
                  "srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                  "srv.bind(('0.0.0.0', 9999)); srv.listen(4)")
    res = _probe(bay, a, [f"10.0.2.2:{bay.port}", f"10.0.2.2:{listener.port}",
                          "10.0.2.2:9999", "10.0.2.100:9999", "127.0.0.1:9999",
                          f"127.0.0.1:{bay.port}"])
    assert len(res) == 6, res
    for target, result in res.items():
        assert result != "connected", (target, result)
    assert _abstract(bay, a, listener.abstract_name).startswith("failed")
    assert listener.accepted == 0
    # b's listener is real (reachable from inside b), just not from a.
    assert _probe(bay, b, ["127.0.0.1:9999"])["127.0.0.1:9999"] == "connected"

    # slirp4netns: one per outbound sandbox, unprivileged, filtered, in the sandbox's
    # cgroups; gone once the sandbox is.
    slirps = _slirp_processes()
    assert len(slirps) >= 2
    for pid, st in slirps.items():
        uid = int(st["Uid"].split()[0])
        assert uid >= 65536, st["Uid"]
        assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2"
        assert int(st["CapEff"], 16) == 0
    before = set(slirps)
    assert bay.client.delete(f"/v1/sandboxes/{a}").status_code == 204
    assert bay.client.delete(f"/v1/sandboxes/{b}").status_code == 204
    deadline = time.monotonic() + 10
    while before & set(_slirp_processes()):
        assert time.monotonic() < deadline, "slirp4netns outlived its sandbox"
        time.sleep(0.1)
    _healthy(bay)


# When every process of an outbound sandbox dies (here: killed from inside), its
# slirp4netns notices the closed pipe and exits; the replacement runtime gets a fresh
# network.
def test_outbound_slirp_follows_the_sandbox(bay_factory):
    bay = bay_factory(config_text=NET_PROFILES)
    a = bay.create(profile="online")["id"]
    assert "tap0" in _ifaces(bay, a)
    before = set(_slirp_processes())
    bay.client.post(f"/v1/sandboxes/{a}/shell/exec", json={"command": "kill -9 -1", "timeout": 5})
    deadline = time.monotonic() + 15
    while True:
        r = bay.client.post(f"/v1/sandboxes/{a}/shell/exec",
                            json={"command": "tail -n +3 /proc/net/dev | cut -d: -f1"})
        if r.status_code == 200 and "tap0" in r.json()["output"]:
            break
        assert time.monotonic() < deadline, r.text
        time.sleep(0.2)
    deadline = time.monotonic() + 10
    while before & set(_slirp_processes()):
        assert time.monotonic() < deadline, "the old slirp4netns is still running"
        time.sleep(0.1)
    _healthy(bay)


def _slirp_processes() -> dict[int, dict[str, str]]:
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if (d / "comm").read_text().strip() != "slirp4netns":
                continue
            st = {}
            for line in (d / "status").read_text().splitlines():
                k, _, v = line.partition(":")
                st[k] = v.strip()
        except OSError:
            continue
        out[int(d.name)] = st
    return out
