"""Code inside a sandbox plus the filesystem API trying to reach files outside its cargo:
traversal, absolute paths, symlinks and hard links to host paths, /proc/*/root, a
symlink swap racing the API's downloads and uploads, and another cargo's files.

Markers: a world-readable host file outside every cargo (its absolute host path is known
to the attacker), and a file in a second sandbox's cargo. Neither may ever appear in an
answer, nothing may be created outside the attacker's cargo, and Bay stays healthy.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from _apisec import Markers, healthy, plant_host_secret


@pytest.fixture
def arena(bay, tmp_state):
    m = Markers()
    host_file = plant_host_secret(m, tmp_state)
    attacker = bay.create()
    victim = bay.create()
    assert bay.client.put(f"/v1/sandboxes/{victim['id']}/filesystem/files",
                          json={"path": "v.txt", "content": m.victim}).status_code == 200
    sid = attacker["id"]
    bay.shell(sid, "echo warm")
    victim_cargo = bay.data_dir / "cargos" / victim["cargo_id"]
    yield dict(bay=bay, m=m, sid=sid, host_file=host_file, victim=victim,
               victim_cargo=victim_cargo, cargo=bay.data_dir / "cargos" / attacker["cargo_id"])
    # Nothing appeared next to the host secret and it is unchanged.
    assert sorted(p.name for p in host_file.parent.iterdir()) == ["host-secret.txt"]
    assert host_file.read_text().strip() == m.host
    healthy(bay)


def _fs(bay, sid, path):
    """Every read-like and write-like API operation on `path`; returns the responses."""
    c = bay.client
    return [
        c.get(f"/v1/sandboxes/{sid}/filesystem/files", params={"path": path}),
        c.get(f"/v1/sandboxes/{sid}/filesystem/download", params={"path": path}),
        c.get(f"/v1/sandboxes/{sid}/filesystem/directories", params={"path": path}),
        c.put(f"/v1/sandboxes/{sid}/filesystem/files", json={"path": path + "/pwn", "content": "x"}),
        c.post(f"/v1/sandboxes/{sid}/filesystem/upload", data={"path": path + "/pwn-up"},
               files={"file": ("f", b"x")}),
    ]


# Symlinks planted by sandbox code that point at host paths, at the cargo root's parent,
# at another cargo and at /proc magic links are refused by the API (400 symlink_escape or
# 404), for reads, listings, writes, uploads and deletes; nothing leaks or gets created.
def test_symlinks_to_outside(arena):
    bay, sid, m = arena["bay"], arena["sid"], arena["m"]
    host = str(arena["host_file"])
    targets = {
        "l_host_file": host,
        "l_host_dir": str(arena["host_file"].parent),
        "l_root": "/",
        "l_up": "..",
        "l_upup": "../../../../../../..",
        "l_victim_cargo": str(arena["victim_cargo"]),
        "l_victim_file": str(arena["victim_cargo"] / "v.txt"),
        "l_proc_root": "/proc/self/root",
        "l_proc_cwd": "/proc/self/cwd",
        "l_proc1_root": "/proc/1/root",
        "l_etc": "/etc",
        "l_chain1": "l_chain2",
    }
    script = "; ".join(f"ln -sfn '{t}' {name}" for name, t in targets.items())
    script += "; ln -sfn l_root l_chain2; mkdir -p sub && ln -sfn ../../ sub/esc"
    assert bay.shell(sid, script)["success"]
    probes = list(targets) + ["sub/esc", f"l_root{host}", f"l_proc_root{host}",
                              f"l_root{arena['victim_cargo']}/v.txt", "l_etc/passwd",
                              "l_chain1/etc/passwd", "sub/esc/etc/passwd", "l_host_dir/host-secret.txt"]
    for p in probes:
        for r in _fs(bay, sid, p):
            assert r.status_code in (400, 404), (p, r.request.method, r.status_code, r.text[:300])
            if r.status_code == 400:
                assert r.json()["error"]["code"] in ("invalid_path", "validation_error"), r.text
            m.check(r, p)
            assert b"root:x:0:0" not in r.content
        # Deleting through the link never deletes the target.
        r = bay.client.delete(f"/v1/sandboxes/{sid}/filesystem/files", params={"path": p + "/x"})
        assert r.status_code in (400, 404)
    # Deleting a symlink itself removes the link, not what it points at.
    assert bay.client.delete(f"/v1/sandboxes/{sid}/filesystem/files",
                             params={"path": "l_host_file"}).status_code in (200, 400)
    assert arena["host_file"].exists() and (arena["victim_cargo"] / "v.txt").exists()
    # A listing of the workspace shows the links as entries without following them.
    r = bay.client.get(f"/v1/sandboxes/{sid}/filesystem/directories", params={"path": "."})
    assert r.status_code == 200
    m.check(r)


# Sandbox code itself cannot see host paths or other cargos: the host file's absolute
# path, /proc/self/root, /proc/<ship pid>/root and /proc/1/root all resolve inside the
# sandbox's own mount namespace; hard links to files outside the cargo fail.
def test_shell_cannot_reach_host_or_other_cargo(arena):
    bay, sid, m = arena["bay"], arena["sid"], arena["m"]
    host = arena["host_file"]
    victim = arena["victim_cargo"] / "v.txt"
    cmds = [
        f"cat {host}",
        f"cat /proc/self/root{host}",
        f"cat /proc/1/root{host}",
        f"for p in /proc/[0-9]*; do cat $p/root{host} $p/root{victim} 2>/dev/null; done",
        f"cat {victim}",
        "cat /proc/*/root/workspace/../*/v.txt 2>/dev/null; ls -la /workspace/.. /",
        f"ls {arena['victim_cargo'].parent} 2>&1",
        "grep -rs VICTIMSECRET /tmp /home /var /srv /mnt /opt /root /run 2>/dev/null | head; true",
        "cat /proc/1/environ /proc/self/mountinfo | tr '\\0' '\\n'",
        f"ln {host} hl 2>&1; ln /etc/passwd hl2 2>&1; ln /usr/bin/python3 hl3 2>&1; "
        f"ln /proc/self/root{host} hl4 2>&1; ls -la hl* 2>&1; true",
        "python3 -c \"import os; print(os.listdir('/proc/self/root/'))\"",
        "find / -maxdepth 4 \\( -path /proc -o -path /sys -o -path /usr \\) -prune -o "
        "\\( -name 'host-secret*' -o -name v.txt \\) -print 2>/dev/null",
    ]
    for c in cmds:
        r = bay.client.post(f"/v1/sandboxes/{sid}/shell/exec", json={"command": c, "timeout": 60})
        assert r.status_code == 200, r.text
        m.check(r, c)
    # The hard links do not exist (or are links to sandbox-internal files only).
    out = bay.shell(sid, "ls hl hl2 hl4 2>&1; true")["output"]
    assert "No such file" in out
    # Python reading through /proc/self/root with an absolute host path: nothing.
    r = bay.client.post(f"/v1/sandboxes/{sid}/python/exec",
                        json={"code": f"import os\nfor p in ['{host}', '/proc/self/root{host}', '{victim}']:\n"
                                      "    print(os.path.exists(p))"})
    assert r.json()["output"].split() == ["False", "False", "False"]
    # The victim's file is untouched.
    assert victim.read_text() == m.victim


# A sandbox flips a directory between a real directory and a symlink to /etc while the
# API downloads (and reads) a file through it: every answer is either the real file or an
# error, never /etc/passwd. Uploads racing a flip between a real dir and a symlink to the
# sandbox's /tmp never land in /tmp.
def test_symlink_swap_race(arena):
    bay, sid, m = arena["bay"], arena["sid"], arena["m"]
    setup = ("mkdir -p real && printf SAFE > real/passwd && ln -sfn real d && "
             "(setsid timeout 25 bash -c 'while true; do ln -sfn /etc t1 && mv -Tf t1 d; "
             "ln -sfn /tmp t2 && mv -Tf t2 d; ln -sfn real t3 && mv -Tf t3 d; done' "
             ">/dev/null 2>&1 &) ; echo started")
    assert bay.shell(sid, setup)["output"] == "started"
    results = {"safe": 0, "error": 0, "upload_ok": 0}
    leaks = []
    stop = time.monotonic() + 8

    def downloader(endpoint):
        while time.monotonic() < stop:
            r = bay.client.get(f"/v1/sandboxes/{sid}/filesystem/{endpoint}", params={"path": "d/passwd"})
            body = r.content
            if b"root:" in body or b"shipyard:x" in body:
                leaks.append(body[:200])
            elif r.status_code == 200:
                assert body in (b"SAFE", b'{"content":"SAFE"}'), body[:200]
                results["safe"] += 1
            else:
                assert r.status_code in (400, 404), (r.status_code, r.text[:200])
                results["error"] += 1

    def uploader():
        i = 0
        while time.monotonic() < stop:
            i += 1
            r = bay.client.post(f"/v1/sandboxes/{sid}/filesystem/upload", data={"path": f"d/up-{i}"},
                                files={"file": ("f", b"UP")})
            assert r.status_code in (200, 400, 404), r.text[:200]
            if r.status_code == 200:
                results["upload_ok"] += 1

    threads = [threading.Thread(target=downloader, args=("download",)),
               threading.Thread(target=downloader, args=("files",)),
               threading.Thread(target=uploader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    bay.shell(sid, "pkill -f 'mv -Tf' ; pkill timeout; true")
    assert not leaks, leaks[:3]
    assert results["safe"] + results["error"] > 20, results
    # No upload escaped into the sandbox's /tmp (or /etc, which is read-only anyway).
    out = bay.shell(sid, "ls /tmp /etc | grep -c '^up-' ; true")["output"]
    assert out.strip() == "0", out
    assert all(cargo_parent_ok(arena["cargo"], f) for f in arena["cargo"].rglob("up-*"))


def cargo_parent_ok(cargo, f) -> bool:
    return cargo in f.parents


# Reading another cargo's files through the API: its host path, a symlink to it, and the
# victim's sandbox id mixed into paths - nothing reaches it.
def test_other_cargo_through_api(arena):
    bay, sid, m = arena["bay"], arena["sid"], arena["m"]
    vc = arena["victim_cargo"]
    paths = [f"../{vc.name}/v.txt", f"../../cargos/{vc.name}/v.txt", str(vc / "v.txt"),
             f"{vc.name}/v.txt", f"./../{arena['victim']['id']}/v.txt"]
    for p in paths:
        for r in _fs(bay, sid, p)[:3]:
            assert r.status_code in (400, 404), (p, r.status_code, r.text[:200])
            m.check(r, p)
        # Writes are refused or create an ordinary name inside the attacker's own cargo.
        for r in _fs(bay, sid, p)[3:]:
            assert r.status_code in (200, 400, 404), (p, r.status_code)
    assert (vc / "v.txt").read_text() == m.victim
    assert sorted(f.name for f in vc.iterdir() if not f.name.startswith(".")) == ["skills", "v.txt"] or \
        "pwn" not in " ".join(str(f) for f in vc.rglob("*"))
    # The victim's cargo directory is not reachable for the attacker's host uid either.
    # (Each cargo belongs to its own host uid; the cargos root is not listable by others,
    # so an escaped process would also need the victim's random cargo id.)
    st_a, st_v = os.stat(arena["cargo"]), os.stat(vc)
    assert st_a.st_uid != st_v.st_uid
    assert os.stat(vc.parent).st_mode & 0o004 == 0, oct(os.stat(vc.parent).st_mode)
