"""Hostile API client: malformed, huge and deeply nested input; header floods; path
tricks in URLs and in file path fields; multipart abuse; wrong content types.

Every request must end in a clear 4xx (never a 5xx, a hang or a crash), nothing may land
outside the sandbox's cargo, no marker secret may leak, and Bay stays healthy.
"""

from __future__ import annotations

import os
import uuid

import httpx
import pytest

from _apisec import (Markers, healthy, multi_owner_config, plant_host_secret, raw_http,
                     status_of)


@pytest.fixture
def target(bay_factory, tmp_state):
    bay = bay_factory(config_text=multi_owner_config())
    m = Markers()
    host_file = plant_host_secret(m, tmp_state)
    sb = bay.create()
    # A victim sandbox of the same owner whose file must stay out of reach.
    victim = bay.create()
    assert bay.client.put(f"/v1/sandboxes/{victim['id']}/filesystem/files",
                          json={"path": "v.txt", "content": m.victim}).status_code == 200
    bay.shell(sb["id"], "echo warm")
    yield dict(bay=bay, m=m, sb=sb, sid=sb["id"], host_file=host_file,
               cargo_dir=bay.data_dir / "cargos" / sb["cargo_id"])


def _error(r, status, code=None):
    assert r.status_code == status, (r.status_code, r.text[:500])
    if code:
        assert r.json()["error"]["code"] == code, r.text[:500]


# Malformed JSON bodies of every kind are 422 request-schema errors, never 500.
def test_malformed_json(target):
    bay, sid, m = target["bay"], target["sid"], target["m"]
    malformed = [b"{", b"}", b'{"code": }', b'{"code": "x",}', b"[]", b'"just a string"', b"null",
                 b"42", b'{"code": "x"} trailing', b'{"code": "\xff\xfe"}', b'{"code": NaN}',
                 b'{"code": Infinity}', b"\xef\xbb\xbf{\"code\": \"1\"}", b"\x00" * 64,
                 b'{"code": "x"' + b" " * 100000, b"{'code': 'x'}", b'{"code": "x"}\x00']
    for body in malformed:
        for path in (f"/v1/sandboxes/{sid}/python/exec", "/v1/cargos", "/v1/sandboxes",
                     "/v1/skills/payloads"):
            r = bay.client.post(path, content=body, headers={"Content-Type": "application/json"})
            assert r.status_code == 422, (body[:40], path, r.status_code, r.text[:300])
            r.json()  # the error itself is valid JSON
            m.check(r)
    # Valid JSON of the wrong shape: schema errors (lone surrogates and huge exponents may
    # be refused by the parser or the schema - anything but a 5xx).
    typed = [b'{"code": 123}', b'{"code": ["print(1)"]}', b'{"code": {"$ne": 1}}', b'{"code": null}',
             b'{"code": true}', b'{"code": "1", "timeout": "30"}', b'{"code": "1", "timeout": 1e999}',
             b'{"code": "1", "timeout": -1}', b'{"code": "1", "timeout": 18446744073709551616}']
    for body in typed:
        r = bay.client.post(f"/v1/sandboxes/{sid}/python/exec", content=body)
        assert r.status_code == 422, (body, r.status_code, r.text[:300])
    for body in (b'{"code": "\\ud800"}', b'{"code": "1", "timeout": 1e999999}'):
        r = bay.client.post(f"/v1/sandboxes/{sid}/python/exec", content=body)
        assert r.status_code < 500, (body, r.status_code, r.text[:300])
        r.json()
    # Duplicate keys: one wins, nothing breaks.
    r = bay.client.post(f"/v1/sandboxes/{sid}/python/exec",
                        content=b'{"code": "1+1", "code": "2+2"}')
    assert r.status_code == 200
    healthy(bay)


# Deep nesting is refused by the parser's depth limit (no stack exhaustion); huge
# bodies get 413 before they are buffered; documents made of millions of tiny values get
# 422 before they are parsed (memory amplification).
def test_deep_huge_and_wide_json(target):
    bay, sid = target["bay"], target["sid"]
    for depth in (100, 10_000, 1_000_000):
        body = b'{"payload": ' + b"[" * depth + b"]" * depth + b"}"
        r = bay.client.post("/v1/skills/payloads", content=body)
        assert r.status_code in (413, 422), (depth, r.status_code)
        body = b'{"payload": ' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"
        assert bay.client.post("/v1/skills/payloads", content=body).status_code in (413, 422)
    ok = b'{"payload": ' + b"[" * 50 + b"]" * 50 + b"}"
    assert bay.client.post("/v1/skills/payloads", content=ok).status_code == 201
    # 17 MiB of JSON: over the 16 MiB body limit.
    big = b'{"code": "' + b"a" * (17 << 20) + b'"}'
    _error(bay.client.post(f"/v1/sandboxes/{sid}/python/exec", content=big), 413, "payload_too_large")
    # A Content-Length that announces 10 GiB is refused without reading anything.
    resp = raw_http(bay, (f"POST /v1/sandboxes/{sid}/python/exec HTTP/1.1\r\nHost: x\r\n"
                          f"Authorization: Bearer {bay.api_key}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {10 << 30}\r\n\r\n{{").encode())
    assert status_of(resp) == 413
    # 6 MiB of `0,` = 3 M values.
    wide = b'{"payload": [' + b"0," * (3 << 20) + b"0]}"
    _error(bay.client.post("/v1/skills/payloads", content=wide), 422)
    # The same size as one string is fine.
    r = bay.client.post("/v1/skills/payloads", json={"payload": {"s": "0," * (3 << 20)}})
    assert r.status_code == 201, r.text[:300]
    # Chunked bodies are bounded the same way.
    def gen():
        for _ in range(18):
            yield b"a" * (1 << 20)
    r = bay.client.post(f"/v1/sandboxes/{sid}/python/exec", content=gen())
    _error(r, 413)
    healthy(bay)


# Oversized request heads: one huge header → 431, too many headers → 431, a huge URL
# or query string → 414. The connection is closed cleanly and Bay keeps serving.
def test_header_and_url_limits(target):
    bay = target["bay"]
    auth = f"Authorization: Bearer {bay.api_key}\r\n"
    cases = [
        (f"GET /v1/sandboxes HTTP/1.1\r\nHost: x\r\n{auth}X-Big: {'a' * 20000}\r\n\r\n", 431),
        (f"GET /v1/sandboxes HTTP/1.1\r\nHost: x\r\n{auth}"
         + "".join(f"X-H{i}: v\r\n" for i in range(300)) + "\r\n", 431),
        (f"GET /v1/sandboxes/{'a' * 20000} HTTP/1.1\r\nHost: x\r\n{auth}\r\n", 414),
        (f"GET /v1/sandboxes?cursor={'a' * 13000} HTTP/1.1\r\nHost: x\r\n{auth}\r\n", 414),
        (f"GET /{'a' * 100000} HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ]
    for raw, status in cases:
        resp = raw_http(bay, raw.encode())
        assert status_of(resp) == status, (raw[:60], resp[:200])
        assert b'"error"' in resp
    # 90 headers are fine, as is a long but bounded query.
    ok = f"GET /v1/sandboxes?limit=1&x={'b' * 6000} HTTP/1.1\r\nHost: x\r\n{auth}" + \
         "".join(f"X-H{i}: v\r\n" for i in range(90)) + "Connection: close\r\n\r\n"
    assert status_of(raw_http(bay, ok.encode())) == 200
    # Malformed request lines and header syntax → 400.
    for raw in (b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET /health HTTP/1.1\r\nBad Header\r\n\r\n",
                b"GET /health HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                b"POST /v1/sandboxes HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n"):
        resp = raw_http(bay, raw)
        assert resp == b"" or status_of(resp) == 400, (raw, resp[:200])
    healthy(bay)


# Path tricks in the URL never reach another resource: dot segments, encoded dots and
# slashes, NUL and overlong UTF-8 in ids are just unknown ids (404), and never 5xx.
def test_url_path_tricks(target):
    bay, sid, m = target["bay"], target["sid"], target["m"]
    base = f"http://127.0.0.1:{bay.port}"
    auth = f"Authorization: Bearer {bay.api_key}\r\n"
    paths = [f"/v1/sandboxes/{sid}/../{sid}", f"/v1/sandboxes/%2e%2e/sandboxes/{sid}",
             f"/v1/sandboxes/{sid}%2f..%2f..%2fhealth", f"/v1/sandboxes/{sid}%00",
             f"/v1/sandboxes/%c0%ae%c0%ae%c0%af{sid}", f"/v1/sandboxes/{sid}/%2e%2e/%2e%2e/health",
             "/v1/sandboxes/%", "/v1/sandboxes/%zz", "/v1/sandboxes/%ff%fe", "/v1/%2e%2e/health",
             "//v1//sandboxes", f"/v1/sandboxes/{sid}/filesystem/files/../../..",
             f"/v1/skills/payloads/blob:..%2f..%2f{sid}", "/v1/skills/payloads/%00",
             "/v1/skills/payloads/blob:%c0%ae%c0%ae", "/v1/cargos/..%2f..%2fetc%2fpasswd"]
    for p in paths:
        resp = raw_http(bay, f"GET {p} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n".encode())
        st = status_of(resp)
        assert st in (400, 404, 405), (p, resp[:300])
        m.check(resp, p)
        body = resp.partition(b"\r\n\r\n")[2]
        body.decode("utf-8")  # the error echoes ids; it must stay valid UTF-8
    assert base  # (raw sockets are used so no client normalises the paths first)
    healthy(bay)


# Path tricks in file path fields (query, JSON and form): traversal and absolute paths
# are refused before compute; encoded, overlong and look-alike dots are plain names that
# stay inside the cargo; NUL is refused; nothing is ever written outside the cargo.
def test_file_path_field_tricks(target):
    bay, sid, m, cargo = target["bay"], target["sid"], target["m"], target["cargo_dir"]
    host_dir = target["host_file"].parent
    before_host = sorted(os.listdir(host_dir))
    c = bay.client
    refused = {"../x": "path_traversal", "a/../../x": "path_traversal", "..": "path_traversal",
               "./../../etc/passwd": "path_traversal", "/etc/passwd": "absolute_path",
               "/workspace/../etc/passwd": "absolute_path", str(target["host_file"]): "absolute_path",
               "a\x00b": "null_byte", "": "empty_path"}
    for p, reason in refused.items():
        for r in (c.get(f"/v1/sandboxes/{sid}/filesystem/files", params={"path": p}),
                  c.get(f"/v1/sandboxes/{sid}/filesystem/download", params={"path": p}),
                  c.delete(f"/v1/sandboxes/{sid}/filesystem/files", params={"path": p}),
                  c.put(f"/v1/sandboxes/{sid}/filesystem/files", json={"path": p, "content": "x"}),
                  c.post(f"/v1/sandboxes/{sid}/filesystem/upload", data={"path": p},
                         files={"file": ("f", b"x")}),
                  c.post(f"/v1/sandboxes/{sid}/shell/exec", json={"command": "pwd", "cwd": p})):
            assert r.status_code == 400, (p, r.status_code, r.text[:300])
            assert r.json()["error"]["details"]["reason"] == reason, (p, r.text)
            m.check(r)
    # Percent-encoded traversal in the query decodes to real traversal: refused too.
    resp = raw_http(bay, (f"GET /v1/sandboxes/{sid}/filesystem/files?path=%2e%2e%2f%2e%2e%2fetc%2fpasswd "
                          f"HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {bay.api_key}\r\n"
                          "Connection: close\r\n\r\n").encode())
    assert status_of(resp) == 400 and b"path_traversal" in resp
    # Invalid UTF-8 (overlong dots) in a query path: a schema error, before compute.
    resp = raw_http(bay, (f"GET /v1/sandboxes/{sid}/filesystem/files?path=%c0%ae%c0%ae%2fetc%2fpasswd "
                          f"HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {bay.api_key}\r\n"
                          "Connection: close\r\n\r\n").encode())
    assert status_of(resp) == 422, resp[:300]
    # Too long for any filesystem: 422.
    _error(c.get(f"/v1/sandboxes/{sid}/filesystem/files", params={"path": "a/" * 3000}), 422)
    # Names that only look like escapes are ordinary names inside the cargo.
    odd = ["%2e%2e/x1", "..%2f..%2fx2", "....//x3", "..\\..\\x4", "\u2024\u2024/x5", "\uff0e\uff0e/x6",
           ". ./x7", "...", "-rf", "$(id)", "`id`", "x\ny", "\u202e\u0074\u0078\u0074.exe"]
    for p in odd:
        tag = uuid.uuid4().hex
        r = c.put(f"/v1/sandboxes/{sid}/filesystem/files", json={"path": p, "content": tag})
        assert r.status_code == 200, (p, r.text)
        assert c.get(f"/v1/sandboxes/{sid}/filesystem/files", params={"path": p}).json()["content"] == tag
        up = c.post(f"/v1/sandboxes/{sid}/filesystem/upload", data={"path": p + ".up"},
                    files={"file": ("f", tag.encode())})
        assert up.status_code == 200, up.text
        # It landed inside the cargo directory on the host.
        found = [f for f in cargo.rglob("*") if f.is_file() and f.read_bytes() == tag.encode()]
        assert len(found) == 2 and all(cargo in f.parents for f in found), (p, found)
    assert sorted(os.listdir(host_dir)) == before_host
    assert target["host_file"].read_text().strip() == m.host
    healthy(bay)


# Multipart abuse: missing or malformed boundaries, wrong content types, too many parts,
# huge part headers, truncated bodies - all 4xx; the file-before-path order still works.
def test_multipart_abuse(target):
    bay, sid, m = target["bay"], target["sid"], target["m"]
    url = f"/v1/sandboxes/{sid}/filesystem/upload"
    c = bay.client
    b = "XyZ" + uuid.uuid4().hex

    def part(name, data, filename=None, extra=""):
        fn = f'; filename="{filename}"' if filename else ""
        return (f'--{b}\r\nContent-Disposition: form-data; name="{name}"{fn}\r\n{extra}\r\n').encode() \
            + data + b"\r\n"

    good = part("path", b"ok.txt") + part("file", b"hello", "f") + f"--{b}--\r\n".encode()
    ctype = f"multipart/form-data; boundary={b}"
    assert c.post(url, content=good, headers={"Content-Type": ctype}).status_code == 200
    cases = {
        "no content type": (good, None, 422),
        "json content type": (good, "application/json", 422),
        "no boundary": (good, "multipart/form-data", 422),
        "wrong boundary": (good, "multipart/form-data; boundary=nope", 400),
        "huge boundary": (good, "multipart/form-data; boundary=" + "b" * 300, 422),
        "no parts": (f"--{b}--\r\n".encode(), ctype, 422),
        "truncated": (good[:-20], ctype, 400),
        "no file": (part("path", b"a.txt") + f"--{b}--\r\n".encode(), ctype, 422),
        "no path": (part("file", b"x", "f") + f"--{b}--\r\n".encode(), ctype, 422),
        "too many parts": (b"".join(part(f"p{i}", b"v") for i in range(100)) + good, ctype, 400),
        "huge part header": (part("path", b"a", extra="X-Pad: " + "p" * 40000 + "\r\n") + good, ctype, 400),
        "garbage": (os.urandom(300000), ctype, 400),
        "path too long field": (part("path", b"a" * 10000) + part("file", b"x", "f") + f"--{b}--\r\n".encode(),
                                ctype, 422),
        "traversal in path": (part("path", b"../../etc/x") + part("file", b"x", "f") + f"--{b}--\r\n".encode(),
                              ctype, 400),
    }
    for name, (body, ct, status) in cases.items():
        headers = {"Content-Type": ct} if ct else {}
        r = c.post(url, content=body, headers=headers)
        assert r.status_code == status, (name, r.status_code, r.text[:300])
        m.check(r, name)
    # File first, path second: spooled, then written.
    late = part("file", b"late-data", "f") + part("path", b"late.txt") + f"--{b}--\r\n".encode()
    r = c.post(url, content=late, headers={"Content-Type": ctype})
    assert r.status_code == 200 and r.json()["path"] == "late.txt"
    assert c.get(f"/v1/sandboxes/{sid}/filesystem/files", params={"path": "late.txt"}).json()["content"] == "late-data"
    # Form-encoded and text bodies on JSON endpoints: schema errors.
    r = c.post(f"/v1/sandboxes/{sid}/shell/exec", data={"command": "id"})
    _error(r, 422)
    healthy(bay)
