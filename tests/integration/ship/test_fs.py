"""Ship filesystem endpoints (ship-api.md §6) and path confinement (§3.2)."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import httpx
import pytest


def post(ship, path, body, sid=None):
    headers = {"X-SESSION-ID": sid} if sid else {}
    return ship.client.post(path, json=body, headers=headers)


# create_file makes parents, applies the mode and answers the absolute path.
def test_create_read(ship):
    r = post(ship, "/fs/create_file", {"path": "a/b/c.txt", "content": "héllo\n", "mode": 0o600})
    assert r.status_code == 200, r.text
    body = r.json()
    expected = f"{ship.workspace}/a/b/c.txt"
    assert body == {"success": True, "message": f"File created: {expected}", "path": expected}
    assert (ship.workspace / "a/b/c.txt").stat().st_mode & 0o777 == 0o600
    r = post(ship, "/fs/read_file", {"path": "a/b/c.txt"}).json()
    assert r == {"content": "héllo\n", "path": expected, "size": len("héllo\n".encode())}


# read_file offset/limit select lines (1-based) keeping terminators.
def test_read_offset_limit(ship):
    (ship.workspace / "lines.txt").write_text("1\n2\n3\n4\n5")
    read = lambda **kw: post(ship, "/fs/read_file", {"path": "lines.txt", **kw}).json()["content"]
    assert read(offset=2, limit=2) == "2\n3\n"
    assert read(offset=4) == "4\n5"
    assert read(offset=0, limit=1) == "1\n"
    assert read(offset=-3, limit=1) == "1\n"
    assert read(offset=99) == ""
    assert read(offset=None, limit=None) == "1\n2\n3\n4\n5"


# Invalid UTF-8 is replaced by U+FFFD instead of failing.
def test_read_invalid_utf8(ship):
    (ship.workspace / "bin.dat").write_bytes(b"ok\xff\xfe end")
    r = post(ship, "/fs/read_file", {"path": "bin.dat"})
    assert r.status_code == 200
    assert r.json()["content"] == "ok\ufffd\ufffd end"


# Read errors: missing → 404, directory → 400, unsupported encoding → 400.
def test_read_errors(ship):
    (ship.workspace / "d").mkdir()
    r = post(ship, "/fs/read_file", {"path": "nope.txt"})
    assert r.status_code == 404 and r.json()["detail"].startswith("File not found")
    r = post(ship, "/fs/read_file", {"path": "d"})
    assert r.status_code == 400 and r.json()["detail"].startswith("Path is not a file")
    (ship.workspace / "f.txt").write_text("x")
    r = post(ship, "/fs/read_file", {"path": "f.txt", "encoding": "klingon"})
    assert r.status_code == 400


# write_file overwrites (w) and appends (a), creating parents, and reports the size.
def test_write_modes(ship):
    r = post(ship, "/fs/write_file", {"path": "w/x.txt", "content": "abc"}).json()
    assert r["success"] and r["size"] == 3 and r["message"].startswith("File written: ")
    r = post(ship, "/fs/write_file", {"path": "w/x.txt", "content": "de", "mode": "a"}).json()
    assert r["size"] == 5
    assert (ship.workspace / "w/x.txt").read_text() == "abcde"
    r = post(ship, "/fs/write_file", {"path": "w/x.txt", "content": "z", "mode": "w"}).json()
    assert (ship.workspace / "w/x.txt").read_text() == "z"


# edit_file enforces its rules and replaces exactly.
def test_edit(ship):
    (ship.workspace / "e.txt").write_text("foo bar foo")
    e = lambda **kw: post(ship, "/fs/edit_file", {"path": "e.txt", **kw})
    r = e(old_string="foo", new_string="baz")
    assert r.status_code == 400
    assert r.json()["detail"] == ("'old_string' appears 2 times in file; set replace_all=true "
                                  "to replace all occurrences")
    assert e(old_string="foo", new_string="foo").status_code == 400
    assert e(old_string="nothere", new_string="x").status_code == 400
    r = e(old_string="bar", new_string="BAR").json()
    assert r["replacements"] == 1 and r["success"]
    r = e(old_string="foo", new_string="q", replace_all=True).json()
    assert r["replacements"] == 2 and r["size"] == len("q BAR q")
    assert (ship.workspace / "e.txt").read_text() == "q BAR q"
    assert post(ship, "/fs/edit_file", {"path": "none.txt", "old_string": "a",
                                        "new_string": "b"}).status_code == 404


# delete_file removes files and whole trees; missing → 404; the root is refused.
def test_delete(ship):
    (ship.workspace / "t/u").mkdir(parents=True)
    (ship.workspace / "t/u/f").write_text("x")
    (ship.workspace / "g.txt").write_text("x")
    r = post(ship, "/fs/delete_file", {"path": "g.txt"}).json()
    assert r["message"] == f"File deleted: {ship.workspace}/g.txt"
    r = post(ship, "/fs/delete_file", {"path": "t"}).json()
    assert r["message"] == f"Directory deleted: {ship.workspace}/t"
    assert not (ship.workspace / "t").exists()
    r = post(ship, "/fs/delete_file", {"path": "t"})
    assert r.status_code == 404 and r.json()["detail"].startswith("Path not found")
    assert post(ship, "/fs/delete_file", {"path": "."}).status_code == 400
    assert ship.workspace.is_dir()


# list_dir sorts directories first then names case-insensitively; hidden entries on request.
def test_list_dir(ship):
    ws = ship.workspace
    (ws / "Zdir").mkdir()
    (ws / "adir").mkdir()
    (ws / "B.txt").write_text("12")
    (ws / "a.txt").write_text("1")
    (ws / ".hidden").write_text("h")
    os.symlink("/usr/bin/python3", ws / "py")
    os.symlink("a.txt", ws / "link")
    r = post(ship, "/fs/list_dir", {}).json()
    assert r["current_path"] == str(ws)
    names = [f["name"] for f in r["files"]]
    assert names[:3] == ["adir", "skills", "Zdir"]
    assert ".hidden" not in names
    files = {f["name"]: f for f in r["files"]}
    assert files["B.txt"]["size"] == 2 and files["B.txt"]["is_file"]
    assert files["adir"]["size"] is None and files["adir"]["is_dir"]
    assert files["adir"]["path"] == f"{ws}/adir"
    assert isinstance(files["a.txt"]["modified_time"], float)
    # A symlink leaving the workspace is listed but not described by its target.
    assert files["py"]["is_file"] is False and files["py"]["is_dir"] is False
    assert files["py"]["size"] is None
    # A symlink inside is described by its target.
    assert files["link"]["is_file"] is True and files["link"]["size"] == 1
    hidden = post(ship, "/fs/list_dir", {"path": ".", "show_hidden": True}).json()
    assert ".hidden" in [f["name"] for f in hidden["files"]]
    assert post(ship, "/fs/list_dir", {"path": "a.txt"}).status_code == 400
    assert post(ship, "/fs/list_dir", {"path": "missing"}).status_code == 404


ESCAPES = ["../../../etc/passwd", "/etc/shadow", "..", "a/../../x", "/workspace/../etc/passwd"]


# Traversal and absolute paths outside the root are 403 on every path-bearing endpoint.
@pytest.mark.parametrize("bad", ESCAPES)
def test_escapes_refused(ship, bad):
    calls = [
        ("/fs/create_file", {"path": bad, "content": "x"}),
        ("/fs/read_file", {"path": bad}),
        ("/fs/write_file", {"path": bad, "content": "x"}),
        ("/fs/edit_file", {"path": bad, "old_string": "a", "new_string": "b"}),
        ("/fs/delete_file", {"path": bad}),
        ("/fs/list_dir", {"path": bad}),
        ("/shell/exec", {"command": "pwd", "cwd": bad}),
    ]
    for endpoint, body in calls:
        r = post(ship, endpoint, body)
        assert r.status_code == 403, (endpoint, r.text)
        assert r.json()["detail"].startswith("Access denied: path must be within workspace")
    r = ship.client.get("/fs/download", params={"file_path": bad})
    assert r.status_code == 403


# An absolute path inside the root is accepted and made relative.
def test_absolute_inside_root(ship):
    r = post(ship, "/fs/write_file", {"path": f"{ship.workspace}/abs.txt", "content": "ok"})
    assert r.status_code == 200
    assert (ship.workspace / "abs.txt").read_text() == "ok"
    r = post(ship, "/fs/read_file", {"path": f"{ship.workspace}x/abs.txt"})
    assert r.status_code == 403


# Symlinks that lead outside are refused when followed, for reads and for writes.
def test_symlink_escape(ship, tmp_state):
    outside = tmp_state / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("TOP-SECRET")
    os.symlink(outside, ship.workspace / "out")
    os.symlink("/etc", ship.workspace / "etc")
    os.symlink(outside / "secret.txt", ship.workspace / "s.txt")
    for body in ({"path": "out/secret.txt"}, {"path": "etc/passwd"}, {"path": "s.txt"}):
        r = post(ship, "/fs/read_file", body)
        assert r.status_code == 403, r.text
    r = post(ship, "/fs/write_file", {"path": "out/new.txt", "content": "pwned"})
    assert r.status_code == 403
    r = post(ship, "/fs/write_file", {"path": "s.txt", "content": "pwned"})
    assert r.status_code == 403
    assert post(ship, "/fs/list_dir", {"path": "out"}).status_code == 403
    assert ship.client.get("/fs/download", params={"file_path": "s.txt"}).status_code == 403
    # Deleting the link removes the link only.
    assert post(ship, "/fs/delete_file", {"path": "out"}).status_code == 200
    assert (outside / "secret.txt").read_text() == "TOP-SECRET"
    assert not (outside / "new.txt").exists()


# A hard link is the file itself: Ship treats it like any file of the workspace; the
# sandbox keeps outside files on other mounts, where link(2) fails (EXDEV).
def test_hard_link_across_mounts_impossible(ship):
    try:
        os.link("/proc/self/status", ship.workspace / "x")
    except OSError as e:
        assert e.errno in (18, 1)  # EXDEV or EPERM
    else:
        pytest.fail("hard link across filesystems succeeded")


# A directory swapped for an outside symlink during requests never lets Ship touch the
# outside: renameat2(RENAME_EXCHANGE) flips `d` between a real directory and a symlink
# to a victim directory atomically, thousands of times a second.
def test_swap_race(ship, tmp_state):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    outside = tmp_state / "victim"
    outside.mkdir()
    (outside / "x").write_text("ORIGINAL")
    ws = ship.workspace
    (ws / "d").mkdir()
    os.symlink(outside, ws / "d.link")
    a, b = str(ws / "d").encode(), str(ws / "d.link").encode()
    stop = threading.Event()
    swaps = 0

    def swapper():
        nonlocal swaps
        while not stop.is_set():
            if libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0:
                swaps += 1

    t = threading.Thread(target=swapper, daemon=True)
    t.start()
    statuses = set()
    try:
        deadline = time.monotonic() + 4
        with httpx.Client(base_url=ship.url) as c:
            while time.monotonic() < deadline:
                for endpoint, body in (
                    ("/fs/write_file", {"path": "d/x", "content": "PWNED"}),
                    ("/fs/create_file", {"path": "d/y", "content": "PWNED"}),
                    ("/fs/read_file", {"path": "d/x"}),
                    ("/fs/delete_file", {"path": "d/x"}),
                    ("/fs/list_dir", {"path": "d"}),
                    ("/fs/write_file", {"path": "d/sub/z", "content": "PWNED"}),
                ):
                    r = c.post(endpoint, json=body)
                    statuses.add(r.status_code)
                    if endpoint == "/fs/read_file" and r.status_code == 200:
                        assert "ORIGINAL" not in r.json()["content"]
                r = c.get("/fs/download", params={"file_path": "d/x"})
                statuses.add(r.status_code)
                if r.status_code == 200:
                    assert b"ORIGINAL" not in r.content
    finally:
        stop.set()
        t.join()
    assert swaps > 100
    assert statuses <= {200, 400, 403, 404}, statuses
    assert 403 in statuses  # the race was actually hit
    assert (outside / "x").read_text() == "ORIGINAL"
    assert sorted(os.listdir(outside)) == ["x"]


# Upload writes bytes exactly (any order of parts) and download returns them unchanged.
def test_upload_download(ship):
    data = bytes(range(256)) * 1000
    for files_first in (False, True):
        name = f"up/{int(files_first)}/blob.bin"
        if files_first:
            boundary = "bndry123"
            body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n"
                    f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + \
                   (f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file_path\"\r\n\r\n"
                    f"{name}\r\n--{boundary}--\r\n").encode()
            r = ship.client.post("/fs/upload", content=body,
                                 headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        else:
            r = ship.client.post("/fs/upload", data={"file_path": name},
                                 files={"file": ("ignored.bin", data)})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body == {"success": True, "message": "File uploaded successfully",
                        "file_path": f"{ship.workspace}/{name}", "size": len(data)}
        assert (ship.workspace / name).read_bytes() == data
        r = ship.client.get("/fs/download", params={"file_path": name})
        assert r.status_code == 200
        assert r.content == data
        assert r.headers["content-type"] == "application/octet-stream"
        assert r.headers["content-disposition"] == 'attachment; filename="blob.bin"'
    # Legacy aliases at the root.
    r = ship.client.post("/upload", data={"file_path": "legacy.bin"}, files={"file": ("a", b"xyz")})
    assert r.status_code == 200
    assert ship.client.get("/download", params={"file_path": "legacy.bin"}).content == b"xyz"


# Upload/download error cases.
def test_upload_download_errors(ship):
    assert ship.client.post("/fs/upload", files={"file": ("a", b"x")}).status_code == 422
    assert ship.client.post("/fs/upload", data={"file_path": "a"}).status_code == 422
    assert ship.client.post("/fs/upload", json={"file_path": "a"}).status_code == 422
    r = ship.client.post("/fs/upload", data={"file_path": "../x"}, files={"file": ("a", b"x")})
    assert r.status_code == 403
    (ship.workspace / "dir").mkdir()
    assert ship.client.get("/fs/download", params={"file_path": "dir"}).status_code == 400
    assert ship.client.get("/fs/download", params={"file_path": "none"}).status_code == 404
    assert ship.client.get("/fs/download").status_code == 422
    weird = 'we"ird\nna\\me.txt'
    (ship.workspace / weird).write_text("w")
    r = ship.client.get("/fs/download", params={"file_path": weird})
    assert r.status_code == 200 and r.content == b"w"
    assert "\n" not in r.headers["content-disposition"]


# With X-SESSION-ID paths resolve in /workspace/<sid>; other sessions are out of reach.
def test_session_scoping(ship):
    r = post(ship, "/fs/write_file", {"path": "s.txt", "content": "one"}, sid="s1")
    assert r.json()["path"] == f"{ship.workspace}/s1/s.txt"
    assert (ship.workspace / "s1/s.txt").read_text() == "one"
    assert (ship.workspace / "s1").stat().st_mode & 0o777 == 0o755
    r = post(ship, "/fs/read_file", {"path": f"{ship.workspace}/s1/s.txt"}, sid="s1")
    assert r.status_code == 200
    r = post(ship, "/fs/read_file", {"path": f"{ship.workspace}/s1/s.txt"}, sid="s2")
    assert r.status_code == 403
    r = post(ship, "/fs/read_file", {"path": "../s1/s.txt"}, sid="s2")
    assert r.status_code == 403
    cwd = ship.client.get("/shell/cwd", headers={"X-SESSION-ID": "s2"}).json()
    assert cwd == {"cwd": f"{ship.workspace}/s2"}
    assert ship.client.get("/shell/cwd").json() == {"cwd": str(ship.workspace)}


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


# A 1 GiB file goes in and out byte-exact while Ship's memory stays flat.
def test_one_gib_round_trip(ship, tmp_state):
    size = 1 << 30
    src = tmp_state / "big.src"
    chunk = os.urandom(1 << 20)
    h = hashlib.sha256()
    with open(src, "wb") as f:
        for i in range(size // len(chunk)):
            block = chunk[:8] + i.to_bytes(8, "little") + chunk[16:]
            f.write(block)
            h.update(block)
    digest = h.hexdigest()
    with open(src, "rb") as f:
        r = ship.client.post("/fs/upload", data={"file_path": "big.bin"},
                             files={"file": ("big.bin", f)}, timeout=300)
    assert r.status_code == 200, r.text
    assert r.json()["size"] == size
    h2 = hashlib.sha256()
    with ship.client.stream("GET", "/fs/download", params={"file_path": "big.bin"}, timeout=300) as r:
        assert r.status_code == 200
        assert int(r.headers["content-length"]) == size
        for block in r.iter_bytes(1 << 20):
            h2.update(block)
    assert h2.hexdigest() == digest
    # Peak resident memory of Ship stays far below the file size. Under AddressSanitizer
    # freed buffers sit in its quarantine (256 MiB by default), so the bound is looser.
    sanitized = os.environ.get("SHIPYARD_PRESET") == "asan"
    assert _rss_kib(ship.proc.pid) < (400 if sanitized else 64) * 1024
