"""Capabilities and history through Bay (bay-api-v1.md §8, §11)."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket

import httpx


# Python state persists; trailing expressions display; errors carry a traceback.
def test_python(bay):
    sb = bay.create()["id"]
    r = bay.python(sb, "import math\nx = 3\nmath.factorial(x) + 1 + 2 + 3")
    assert r["success"] is True and r["output"] == "12" and r["error"] is None
    assert r["data"]["execution_count"] == 1
    assert r["data"]["output"] == {"text": "12", "images": []}
    assert re.fullmatch(r"exec-[0-9a-f]{12}", r["execution_id"])
    assert isinstance(r["execution_time_ms"], int) and r["code"] is None
    r = bay.python(sb, "print('{\"a\": 1}')", include_code=True)
    assert r["output"] == '{"a": 1}' and r["code"] == "print('{\"a\": 1}')"
    r = bay.python(sb, "calculate_fibonaci(10)")
    assert r["success"] is False
    assert "NameError: name 'calculate_fibonaci' is not defined" in r["error"]
    assert "\x1b[" not in r["error"]
    r = bay.python(sb, "import os; os.environ['MY_VAR'], os.environ['HOME'], os.getcwd()")
    assert r["output"] == "('some-value', '/workspace', '/workspace')"


# A time-out interrupts the cell, keeps the state and answers in time.
def test_python_timeout_keeps_state(bay):
    sb = bay.create()["id"]
    bay.python(sb, "kept = 'yes'")
    r = bay.python(sb, "import time\nwhile True: time.sleep(0.1)", timeout=1)
    assert r["success"] is False and r["error"].startswith("Code execution timed out after 1 seconds")
    assert bay.python(sb, "kept")["output"] == "'yes'"


# A matplotlib figure comes back as a PNG in data.output.images.
def test_python_image(bay):
    sb = bay.create()["id"]
    r = bay.python(sb, "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()", timeout=120)
    assert r["success"] is True, r["error"]
    images = r["data"]["output"]["images"]
    assert len(images) == 1
    assert base64.b64decode(images[0]["image/png"]).startswith(b"\x89PNG")


# Shell: stdout only in output, stderr or the runtime error in error, exit codes, cwd.
def test_shell(bay):
    sb = bay.create()["id"]
    r = bay.shell(sb, "pwd; whoami; echo $HOME $MY_VAR")
    assert r["success"] is True and r["exit_code"] == 0
    assert r["output"] == "/workspace\nshipyard\n/workspace some-value"
    r = bay.shell(sb, "ls /nonexistent")
    assert r["success"] is False and r["exit_code"] == 2
    assert "No such file or directory" in r["error"]
    assert bay.shell(sb, "exit 42")["exit_code"] == 42
    assert bay.shell(sb, "nosuchcommand")["exit_code"] == 127
    bay.shell(sb, "mkdir -p sub/dir")
    assert bay.shell(sb, "pwd", cwd="sub/dir")["output"] == "/workspace/sub/dir"
    r = bay.shell(sb, "sleep 10", timeout=1)
    assert r["exit_code"] == -1 and r["error"] == "Command timed out"


# Path rules of §8.2 answer 400 invalid_path before any compute, with field and reason.
def test_path_validation(bay):
    sb = bay.create()["id"]
    cases = [("", "empty_path"), ("/etc/passwd", "absolute_path"), ("../secret.txt", "path_traversal"),
             ("a/../../etc/passwd", "path_traversal"), ("a\x00b", "null_byte")]
    for path, reason in cases:
        r = bay.client.get(f"/v1/sandboxes/{sb}/filesystem/files", params={"path": path})
        assert r.status_code == 400, (path, r.text)
        err = r.json()["error"]
        assert err["code"] == "invalid_path" and err["details"] == {"field": "path", "reason": reason}
    r = bay.client.post(f"/v1/sandboxes/{sb}/shell/exec", json={"command": "pwd", "cwd": "../x"})
    assert r.status_code == 400
    assert r.json()["error"]["details"] == {"field": "cwd", "reason": "path_traversal"}
    # None of that started a session.
    assert bay.client.get(f"/v1/sandboxes/{sb}").json()["status"] == "idle"


# A symlink out of the workspace is caught by Ship and reported as symlink_escape.
def test_symlink_escape(bay):
    sb = bay.create()["id"]
    bay.shell(sb, "ln -s /etc etclink && ln -s /etc/passwd pw")
    r = bay.client.get(f"/v1/sandboxes/{sb}/filesystem/files", params={"path": "pw"})
    assert r.status_code == 400
    assert r.json()["error"]["details"] == {"field": "path", "reason": "symlink_escape"}
    r = bay.client.post(f"/v1/sandboxes/{sb}/shell/exec", json={"command": "pwd", "cwd": "etclink"})
    assert r.status_code == 400
    assert r.json()["error"]["details"] == {"field": "cwd", "reason": "symlink_escape"}


# Files: write/read/list/delete, shared with shell and python.
def test_filesystem(bay):
    sb = bay.create()["id"]
    fs = f"/v1/sandboxes/{sb}/filesystem"
    assert bay.client.put(f"{fs}/files", json={"path": "a/b/c.txt", "content": "héllo"}).json() == {"status": "ok"}
    assert bay.client.get(f"{fs}/files", params={"path": "a/b/c.txt"}).json() == {"content": "héllo"}
    assert bay.shell(sb, "cat a/b/c.txt")["output"] == "héllo"
    assert bay.python(sb, "open('a/b/c.txt').read()")["output"] == "'héllo'"
    bay.shell(sb, "mkdir -p a/dir && echo 12345 > a/z.txt && touch a/.hidden")
    entries = bay.client.get(f"{fs}/directories", params={"path": "a"}).json()["entries"]
    assert [e["name"] for e in entries] == ["b", "dir", "z.txt"]
    z = entries[2]
    assert z["path"] == "a/z.txt" and z["type"] == "file" and z["size"] == 6 and z["is_file"]
    assert entries[0]["type"] == "directory" and entries[0]["size"] is None
    assert re.match(r"\d{4}-\d\d-\d\dT", z["modified_at"]) and isinstance(z["modified_time"], float)
    hidden = bay.client.get(f"{fs}/directories", params={"path": "a", "show_hidden": "true"}).json()
    assert ".hidden" in [e["name"] for e in hidden["entries"]]
    root = bay.client.get(f"{fs}/directories").json()["entries"]
    assert "a" in [e["name"] for e in root] and "skills" in [e["name"] for e in root]
    assert bay.client.delete(f"{fs}/files", params={"path": "a"}).json() == {"status": "ok"}
    r = bay.client.get(f"{fs}/files", params={"path": "a/z.txt"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "file_not_found"
    assert r.json()["error"]["details"] == {"path": "a/z.txt"}
    bay.shell(sb, "mkdir d")
    r = bay.client.get(f"{fs}/files", params={"path": "d"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "validation_error"
    assert bay.client.get(f"{fs}/files").status_code == 422


# Upload and download are byte-exact for every byte value, either order of form parts.
def test_upload_download(bay):
    sb = bay.create()["id"]
    fs = f"/v1/sandboxes/{sb}/filesystem"
    data = bytes(range(256)) * 4096 + os.urandom(12345)
    r = bay.client.post(f"{fs}/upload", data={"path": "bin/./model.bin"},
                        files={"file": ("upload", data, "application/octet-stream")})
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "path": "bin/model.bin", "size": len(data)}
    r = bay.client.get(f"{fs}/download", params={"path": "bin/model.bin"})
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"] == 'attachment; filename="model.bin"'
    sha = bay.shell(sb, "sha256sum bin/model.bin")["output"].split()[0]
    assert sha == hashlib.sha256(data).hexdigest()
    # File part first, path last: spooled, then validated.
    boundary = "XyZ"
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\n" + data +
            b"\r\n--XyZ\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\nlate.bin\r\n--XyZ--\r\n")
    r = bay.client.post(f"{fs}/upload", content=body,
                        headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 200, r.text
    assert bay.client.get(f"{fs}/download", params={"path": "late.bin"}).content == data
    # Errors.
    assert bay.client.post(f"{fs}/upload", files={"file": ("a", b"x")}).status_code == 422
    assert bay.client.post(f"{fs}/upload", data={"path": "x"}).status_code == 422
    r = bay.client.post(f"{fs}/upload", data={"path": "../x"}, files={"file": ("a", b"x")})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_path"
    r = bay.client.get(f"{fs}/download", params={"path": "missing.bin"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "file_not_found"


# The capability gate answers before any compute, even on a cold sandbox.
def test_capability_gate(bay):
    sb = bay.create(profile="python-only")["id"]
    r = bay.client.post(f"/v1/sandboxes/{sb}/shell/exec", json={"command": "ls"})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "capability_not_supported"
    assert err["message"] == "Profile 'python-only' does not support capability: shell"
    assert err["details"] == {"capability": "shell", "available": ["python"]}
    r = bay.client.get(f"/v1/sandboxes/{sb}/filesystem/files", params={"path": "x"})
    assert r.status_code == 400 and r.json()["error"]["details"]["capability"] == "filesystem"
    # Schema errors come before the capability check (§2.11).
    r = bay.client.post(f"/v1/sandboxes/{sb}/shell/exec", json={})
    assert r.status_code == 422
    for path, body in (("browser/exec", {"cmd": "open x"}), ("browser/exec_batch", {"commands": ["a"]}),
                       ("browser/skills/k/run", {})):
        r = bay.client.post(f"/v1/sandboxes/{sb}/{path}", json=body)
        assert r.status_code == 400 and r.json()["error"]["code"] == "capability_not_supported"
    assert bay.client.post(f"/v1/sandboxes/{sb}/browser/exec_batch", json={"commands": []}).status_code == 422
    r = bay.client.get(f"/v1/sandboxes/{sb}/browser/traces/blob:blob-000000000000")
    assert r.status_code == 400
    assert bay.client.post("/v1/sandboxes/sandbox-000000000000/browser/exec",
                           json={"cmd": "x"}).status_code == 404
    assert bay.client.get(f"/v1/sandboxes/{sb}").json()["status"] == "idle"
    assert bay.python(sb, "1 + 1")["output"] == "2"


# Every exec answered 200 creates one history entry; filters, last, get, annotate.
def test_history(bay):
    sb = bay.create()["id"]
    p1 = bay.python(sb, "1", tags="b, a,a ,", description="first")
    s1 = bay.shell(sb, "false")
    p2 = bay.python(sb, "2")
    h = f"/v1/sandboxes/{sb}/history"
    all_ = bay.client.get(h).json()
    assert all_["total"] == 3
    assert [e["id"] for e in all_["entries"]] == [p2["execution_id"], s1["execution_id"], p1["execution_id"]]
    e = all_["entries"][2]
    assert e["exec_type"] == "python" and e["code"] == "1" and e["tags"] == "a,b"
    assert e["description"] == "first" and e["learn_enabled"] is False and e["learn_status"] is None
    assert re.fullmatch(r"sess-[0-9a-f]{12}", e["session_id"])
    assert bay.client.get(h, params={"exec_type": "shell"}).json()["total"] == 1
    assert bay.client.get(h, params={"success_only": "true"}).json()["total"] == 2
    assert bay.client.get(h, params={"success_only": "false"}).json()["total"] == 3
    assert bay.client.get(h, params={"tags": "A"}).json()["total"] == 1
    assert bay.client.get(h, params={"has_description": "1"}).json()["total"] == 1
    assert bay.client.get(h, params={"exec_type": "java"}).status_code == 422
    page = bay.client.get(h, params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 3 and [x["id"] for x in page["entries"]] == [s1["execution_id"]]
    assert bay.client.get(f"{h}/last").json()["id"] == p2["execution_id"]
    assert bay.client.get(f"{h}/last", params={"exec_type": "shell"}).json()["id"] == s1["execution_id"]
    got = bay.client.get(f"{h}/{s1['execution_id']}").json()
    assert got["success"] is False and got["exec_type"] == "shell"
    r = bay.client.patch(f"{h}/{s1['execution_id']}", json={"notes": "why", "tags": "x"})
    assert r.status_code == 200 and r.json()["notes"] == "why" and r.json()["tags"] == "x"
    assert bay.client.get(h, params={"has_notes": "true"}).json()["total"] == 1
    assert bay.client.get(f"{h}/exec-000000000000").status_code == 404
    other = bay.create()["id"]
    assert bay.client.get(f"/v1/sandboxes/{other}/history/{s1['execution_id']}").status_code == 404
    assert bay.client.get(f"/v1/sandboxes/{other}/history/last").status_code == 404
    # Filesystem calls and failed calls record nothing.
    bay.client.put(f"/v1/sandboxes/{sb}/filesystem/files", json={"path": "f", "content": "x"})
    bay.client.post(f"/v1/sandboxes/{sb}/python/exec", json={"code": 5})
    assert bay.client.get(h).json()["total"] == 3


# Downloads are spliced from Ship's socket to the client's: a file much larger than the
# pipe arrives byte-exact, twice on one keep-alive connection, and the connection serves
# ordinary calls afterwards.
def test_large_download_keep_alive(bay):
    sb = bay.create()["id"]
    r = bay.shell(sb, "head -c 25165824 /dev/urandom > big.bin && sha256sum big.bin")
    assert r["success"], r
    digest = r["output"].split()[0]
    with httpx.Client(base_url=bay.client.base_url, headers=dict(bay.client.headers),
                      timeout=60) as c:
        for _ in range(2):
            d = c.get(f"/v1/sandboxes/{sb}/filesystem/download", params={"path": "big.bin"})
            assert d.status_code == 200 and int(d.headers["content-length"]) == 25165824
            assert hashlib.sha256(d.content).hexdigest() == digest
        assert c.get(f"/v1/sandboxes/{sb}").status_code == 200
        assert c.post(f"/v1/sandboxes/{sb}/python/exec", json={"code": "1 + 1"}).json()["output"] == "2"


# A runtime that goes away in the middle of a download leaves the client a short body on
# a closed connection (never a wrong byte or a hang), and Bay serves on.
def test_download_cut_by_runtime_end(bay):
    sb = bay.create()["id"]
    assert bay.shell(sb, "head -c 268435456 /dev/zero > huge.bin")["success"]
    host, port = "127.0.0.1", bay.port
    s = socket.create_connection((host, port), timeout=30)
    try:
        s.sendall((f"GET /v1/sandboxes/{sb}/filesystem/download?path=huge.bin HTTP/1.1\r\n"
                   f"Host: {host}:{port}\r\nAuthorization: Bearer {bay.api_key}\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        assert head.startswith(b"HTTP/1.1 200")
        got = len(head.split(b"\r\n\r\n", 1)[1])
        # Ship is killed while most of the body is still to come (the client reads nothing
        # meanwhile, so at most the socket and pipe buffers are in flight).
        assert bay.client.post(f"/v1/sandboxes/{sb}/stop").status_code == 200
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            assert chunk.count(0) == len(chunk)
            got += len(chunk)
        assert 0 < got < 268435456
    finally:
        s.close()
    assert bay.client.get("/health").status_code == 200
    assert bay.python(sb, "2 * 21")["output"] == "42"
