"""Process isolation of the process driver: what hostile code in a sandbox can reach.

Every test runs real sandboxes under the real `bay` and checks two things: the attack is
contained (it fails, or only ever hits the sandbox's own processes), and Bay stays
healthy afterwards (docs/security.md, "Driver layers").
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

import pytest

# Runs in the sandbox's Python kernel: raw system calls through libc, returning errno
# names (or "ok") so the assertions read like the deny list.
SYSCALL_PROBE = r"""
import ctypes, errno, json, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def sc(nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    return "ok" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
ship = int(subprocess.run(["pgrep", "-x", "ship"], capture_output=True, text=True).stdout.split()[0])
res = {
  "mount": sc(165, b"none", b"/tmp", b"tmpfs", 0, None),
  "umount2": sc(166, b"/workspace", 0),
  "pivot_root": sc(155, b"/", b"/tmp"),
  "unshare_user": sc(272, 0x10000000),
  "unshare_net": sc(272, 0x40000000),
  "unshare_mnt": sc(272, 0x00020000),
  "setns": sc(308, os.open("/proc/self/ns/mnt", os.O_RDONLY), 0),
  "keyctl": sc(250, 0, -3, 0),
  "add_key": sc(248, b"user", b"k", b"v", 1, -3),
  "request_key": sc(249, b"user", b"k", None, 0),
  "bpf": sc(321, 5, None, 0),
  "perf_event_open": sc(298, None, 0, -1, -1, 0),
  "userfaultfd": sc(323, 0),
  "ptrace_attach_ship": sc(101, 16, ship, 0, 0),
  "process_vm_readv_ship": sc(310, ship, None, 0, None, 0, 0),
  "kexec_load": sc(246, 0, 0, None, 0),
  "init_module": sc(175, None, 0, b""),
  "delete_module": sc(176, b"ext4", 0),
  "reboot": sc(169, 0xfee1dead, 672274793, 0x1234567, None),
  "swapon": sc(167, b"/workspace/swap", 0),
  "acct": sc(163, b"/workspace/acct"),
  "settimeofday": sc(164, None, None),
  "clock_settime": sc(227, 0, None),
  "open_by_handle_at": sc(304, -100, None, 0),
  "personality_exec": sc(135, 0x0400000),
  "io_uring_setup": sc(425, 1, None),
  "syslog": sc(103, 3, None, 0),
  "getpid": sc(39),
  "clone3": sc(435, None, 0),
}
import threading
t = threading.Thread(target=lambda: None); t.start(); t.join()
res["thread"] = "ok"
res["subprocess"] = "ok" if subprocess.run(["true"]).returncode == 0 else "fail"
print(json.dumps(res))
"""


def _healthy(bay) -> None:
    assert bay.proc.poll() is None, "bay exited"
    assert bay.client.get("/health").status_code == 200


def _status_fields(text: str) -> dict:
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        out[k.strip()] = v.strip()
    return out


# Neither user code nor Ship holds any capability, the bounding set is empty, no_new_privs
# is set and the seccomp filter is loaded (mode 2) on both.
def test_no_capabilities_no_new_privs_seccomp(bay):
    sb = bay.create()["id"]
    for who in ("self", "$(pgrep -x ship)"):
        out = bay.shell(sb, f"cat /proc/{who}/status")["output"]
        st = _status_fields(out)
        for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            assert int(st[cap], 16) == 0, (who, cap, st[cap])
        assert st["NoNewPrivs"] == "1", who
        assert st["Seccomp"] == "2", who
    # setuid binaries grant nothing: su/mount are refused.
    r = bay.shell(sb, "mount -t tmpfs none /tmp 2>&1; echo rc=$?")
    assert "rc=0" not in r["output"]
    _healthy(bay)


# The seccomp deny list: every dangerous call fails with EPERM (not a kill), clone3
# reports ENOSYS so libc falls back to clone, and ordinary work (threads, subprocesses)
# is unaffected.
def test_seccomp_denials(bay):
    sb = bay.create()["id"]
    r = bay.python(sb, SYSCALL_PROBE)
    assert r["success"], r["error"]
    res = json.loads(r["output"].splitlines()[-1])
    ok = {"getpid", "thread", "subprocess"}
    for name, got in res.items():
        if name in ok:
            assert got == "ok", (name, got)
        elif name == "clone3":
            assert got == "ENOSYS"
        else:
            assert got == "EPERM", (name, got)
    # The kernel survived the probes and keeps its state.
    assert bay.python(sb, "1 + 1")["output"] == "2"
    _healthy(bay)


# Namespace tools fail: no new user/net/mount namespaces, no entering the init's ones,
# no mounts, no chroot.
def test_mount_unshare_setns_from_shell(bay):
    sb = bay.create()["id"]
    for cmd in ("unshare -U true", "unshare -Ur true", "unshare -n true", "unshare -m true",
                "nsenter -t 1 -m true", "mount -t proc proc /tmp",
                "mount --bind /workspace /tmp", "umount /workspace", "chroot / true"):
        r = bay.shell(sb, cmd)
        assert r["success"] is False, (cmd, r)
    # The workspace is still mounted where it was.
    assert bay.shell(sb, "echo still > here.txt && cat here.txt")["output"] == "still"
    _healthy(bay)


# ptrace of Ship or any other process is refused; signals from one sandbox never reach
# another sandbox's processes or Bay (their pids do not exist in its pid namespace).
def test_ptrace_and_signals_across_sandboxes(bay):
    a = bay.create()["id"]
    b = bay.create()["id"]
    bay.python(b, "keep = 'b-state'")
    assert bay.shell(a, "echo warm")["success"]
    # Host pids of b's processes and of Bay.
    b_pids = _host_pids_of_sandbox(bay, b)
    assert b_pids, "no processes found for sandbox b"
    targets = " ".join(str(p) for p in [*b_pids, bay.proc.pid, os.getpid(), 1])
    r = bay.shell(a, f"for p in {targets}; do kill -9 $p 2>&1; done; true")
    # Only "no such process" (or the sandbox's own pid 1, which ignores the signal).
    for line in r["output"].splitlines():
        assert "No such process" in line or line.strip() == "", line
    r = bay.shell(a, "strace -p 1 2>&1 || gdb --version >/dev/null 2>&1; "
                     "python3 -c \"import ctypes,os;l=ctypes.CDLL(None,use_errno=True);"
                     "print(l.ptrace(16, 1, 0, 0), ctypes.get_errno())\"")
    assert r["output"].splitlines()[-1] == "-1 1"  # EPERM
    # b is untouched: same processes, same kernel state.
    assert bay.python(b, "keep")["output"] == "'b-state'"
    assert set(b_pids) <= set(_host_pids_of_sandbox(bay, b))
    # kill -1 inside a only reaches a's own processes.
    bay.client.post(f"/v1/sandboxes/{a}/shell/exec", json={"command": "kill -9 -1", "timeout": 5})
    assert bay.python(b, "keep")["output"] == "'b-state'"
    _healthy(bay)


def _host_pids_of_sandbox(bay, sid: str) -> list[int]:
    """Host pids whose BAY_SANDBOX_ID is `sid` (read from the host, as root)."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            env = (d / "environ").read_bytes()
        except OSError:
            continue
        if f"BAY_SANDBOX_ID={sid}".encode() in env.split(b"\0"):
            pids.append(int(d.name))
    return pids


# A secret file on the host (readable only outside, in a 0700 directory) and a secret
# in Bay's environment never appear inside a sandbox: not by path, not through
# /proc/<pid>/root or environ, not anywhere in the sandbox's view of /proc, /etc, /run,
# /tmp, /dev, /sys, /app or the workspace.
def test_host_secrets_invisible(bay_factory):
    marker = "SHIPYARD-HOST-SECRET-" + secrets.token_hex(12)
    secret_dir = Path(tempfile.mkdtemp(prefix="shipyard-secret-"))
    try:
        os.chmod(secret_dir, 0o700)
        secret = secret_dir / "secret.txt"
        secret.write_text(marker + "\n")
        os.chmod(secret, 0o600)
        bay = bay_factory(extra_env={"SHIPYARD_TEST_SECRET": marker})
        sb = bay.create()["id"]
        # The marker is assembled inside: the script itself is visible in /proc.
        half = len(marker) // 2
        script = (
            f"A='{marker[:half]}'; B='{marker[half:]}'; "
            f"cat {secret} 2>/dev/null; "
            f"for p in /proc/[0-9]*; do cat $p/root{secret} $p/environ 2>/dev/null; done; "
            f"cat /proc/1/root/proc/1/environ 2>/dev/null; "
            'grep -rsIl "$A$B" /etc /run /tmp /dev /sys /app /workspace; '
            'grep -sl "$A$B" /proc/[0-9]*/environ /proc/self/mountinfo; '
            "env; true"
        )
        r = bay.shell(sb, script, timeout=120)
        assert marker not in r["output"] and marker not in (r["error"] or "")
        # The path itself is not even there.
        r = bay.shell(sb, f"ls -d {secret_dir} 2>&1; echo rc=$?")
        assert "rc=0" not in r["output"]
        # Python cannot read it either.
        r = bay.python(sb, f"open({str(secret)!r}).read()")
        assert r["success"] is False and marker not in json.dumps(r)
        _healthy(bay)
    finally:
        shutil.rmtree(secret_dir, ignore_errors=True)


# /dev holds only the harmless nodes bwrap creates: null, zero, full, random, urandom,
# tty, the pts/ptmx pair and shm; no block devices, no /dev/mem, kmsg or disks; /dev is
# read-only and mknod is refused.
def test_devices(bay):
    sb = bay.create()["id"]
    chars = bay.shell(sb, "find /dev -type c | sort")["output"].split()
    allowed = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
               "/dev/ptmx", "/dev/pts/ptmx"}
    assert set(chars) <= allowed, chars
    assert bay.shell(sb, "find /dev -type b")["output"] == ""
    for dev in ("/dev/mem", "/dev/kmem", "/dev/port", "/dev/kmsg", "/dev/sda", "/dev/vda",
                "/dev/net/tun", "/dev/fuse", "/dev/loop0", "/dev/console"):
        assert bay.shell(sb, f"test -e {dev} && echo present || echo absent")["output"] == "absent", dev
    assert bay.shell(sb, "mknod /tmp/m c 1 1")["success"] is False
    assert bay.shell(sb, "touch /dev/evil")["success"] is False
    # The ordinary ones work.
    assert bay.shell(sb, "head -c 8 /dev/urandom | wc -c; echo x > /dev/null && echo ok")[
        "output"] == "8\nok"
    _healthy(bay)


# Kernel interfaces: kcore, kallsyms, keys, timer_list, sched_debug, sysrq-trigger are
# masked (unreadable or empty), /proc/sys and friends are read-only, /sys has nothing
# but the session's read-only cgroup directories (no /sys/firmware), and the cgroup
# limits cannot be changed from inside.
def test_kernel_interfaces(bay):
    sb = bay.create()["id"]
    for f in ("kcore", "kallsyms", "keys", "key-users", "timer_list", "sched_debug", "kmsg",
              "kpageflags", "vmallocinfo", "sysrq-trigger"):
        r = bay.shell(sb, f"test -e /proc/{f} || echo absent; head -c 64 /proc/{f} 2>/dev/null | wc -c")
        assert r["output"].splitlines()[-1] == "0", (f, r)
    r = bay.shell(sb, "echo c > /proc/sysrq-trigger")
    assert r["success"] is False
    for path in ("/proc/sys/kernel/hostname", "/proc/sys/vm/drop_caches",
                 "/proc/sys/net/ipv4/ip_forward"):
        r = bay.shell(sb, f"echo 1 > {path}")
        assert r["success"] is False, path
    mounts = bay.shell(sb, "cat /proc/self/mounts")["output"]
    ro_points = {line.split()[1] for line in mounts.splitlines()
                 if "ro" in line.split()[3].split(",")}
    for p in ("/proc/sys", "/proc/irq", "/proc/bus", "/proc/fs"):
        if Path(p).exists():
            assert p in ro_points, (p, mounts)
    assert bay.shell(sb, "ls /proc/acpi 2>/dev/null | wc -l")["output"] == "0"
    # /sys: only the cgroup view, read-only.
    assert bay.shell(sb, "ls /sys")["output"].split() in ([], ["fs"])
    assert bay.shell(sb, "test -e /sys/firmware && echo yes || echo no")["output"] == "no"
    assert bay.shell(sb, "touch /sys/evil")["success"] is False
    r = bay.shell(sb, "for f in /sys/fs/cgroup/*/memory.limit_in_bytes /sys/fs/cgroup/*/pids.max "
                      "/sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; do "
                      "[ -e $f ] && (echo max > $f) 2>/dev/null && echo WROTE $f; done; true")
    assert "WROTE" not in r["output"]
    # The hostname stays the sandbox's own and cannot be changed.
    assert bay.shell(sb, "hostname")["output"] == "sandbox"
    assert bay.shell(sb, "hostname evil")["success"] is False
    _healthy(bay)
