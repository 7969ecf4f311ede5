"""1 GiB upload and download through Bay (POST/GET /v1/sandboxes/{id}/filesystem/...).

Same method as shipbench/transfer.py: the multipart body is generated on the fly from one
random 4 MiB block (the `path` field first so Bay can stream straight to Ship), and the
download is read into a reused buffer; the first block is compared with what was sent.
"""

from __future__ import annotations

import secrets
import subprocess
import time

from shipbench.httpc import HttpConn, HttpError

BLOCK = 4 << 20


def upload(port: int, key: str, sid: str, rel_path: str, size: int, block: bytes,
           timeout: float = 300) -> dict:
    assert size % len(block) == 0
    boundary = "baybench" + secrets.token_hex(16)
    pre = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\n"
           f"{rel_path}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
           f"filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    post = f"\r\n--{boundary}--\r\n".encode()
    length = len(pre) + size + len(post)
    head = (f"POST /v1/sandboxes/{sid}/filesystem/upload HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {key}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()
    view = memoryview(block)
    with HttpConn("127.0.0.1", port, timeout=timeout) as c:
        t0 = time.perf_counter()
        c.sock.sendall(head + pre)
        for _ in range(size // len(block)):
            c.sock.sendall(view)
        c.sock.sendall(post)
        t_sent = time.perf_counter()
        resp = c.read_response()
        t1 = time.perf_counter()
    if resp.status != 200:
        raise HttpError(f"upload answered {resp.status}: {resp.body[:300]!r}")
    body = resp.json()
    if body.get("size") != size:
        raise HttpError(f"upload reported size {body.get('size')} instead of {size}")
    secs = t1 - t0
    return {"bytes": size, "seconds": secs, "send_seconds": t_sent - t0,
            "commit_seconds": t1 - t_sent, "gb_per_s": size / secs / 1e9}


def download(port: int, key: str, sid: str, rel_path: str, size: int, block: bytes,
             timeout: float = 300) -> dict:
    buf = bytearray(BLOCK)
    view = memoryview(buf)
    req = (f"GET /v1/sandboxes/{sid}/filesystem/download?path={rel_path} HTTP/1.1\r\n"
           f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n\r\n").encode()
    with HttpConn("127.0.0.1", port, timeout=timeout) as c:
        t0 = time.perf_counter()
        c.sock.sendall(req)
        status, headers = c.read_head()
        if status != 200:
            raise HttpError(f"download answered {status}: {bytes(c.buf[:300])!r}")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        announced = int(headers.get("content-length", "-1"))
        if chunked:
            # Bay streams without a length: read the chunks (the parse cost is small next
            # to 4 MiB reads, but it is the client's, so it is noted in the details).
            c.sock.settimeout(timeout)
            got, first = 0, bytearray()
            while True:
                line = c._read_line()
                n = int(line.split(b";")[0], 16)
                if n == 0:
                    while c._read_line():
                        pass
                    break
                while n > 0:
                    if not c.buf:
                        k = c.sock.recv_into(view, min(n, len(view)))
                        if k == 0:
                            raise HttpError("connection closed mid-chunk")
                        chunk = view[:k]
                    else:
                        k = min(n, len(c.buf))
                        chunk = bytes(c.buf[:k])
                        del c.buf[:k]
                    if len(first) < len(block):
                        first += chunk[: len(block) - len(first)]
                    got += k
                    n -= k
                c._read_exact(2)
        else:
            got = len(c.buf)
            first = bytearray(c.buf[: len(block)])
            c.buf.clear()
            while got < announced:
                n = c.sock.recv_into(view)
                if n == 0:
                    break
                if len(first) < len(block):
                    first += view[: min(n, len(block) - len(first))]
                got += n
        t1 = time.perf_counter()
    if got != size:
        raise HttpError(f"download size mismatch: announced {announced}, received {got}, "
                        f"expected {size}")
    if bytes(first) != block[: len(first)]:
        raise HttpError("downloaded bytes differ from the uploaded ones")
    secs = t1 - t0
    return {"bytes": got, "seconds": secs, "gb_per_s": got / secs / 1e9, "chunked": chunked}


def download_curl(port: int, key: str, sid: str, rel_path: str, size: int,
                  timeout: float = 300) -> dict:
    """The same download with curl (a C client) into /dev/null: the Python client above
    verifies the bytes but is itself the bottleneck above ~1.5 GB/s on this class of
    machine; curl shows what Bay delivers. Only the size is checked here."""
    url = f"http://127.0.0.1:{port}/v1/sandboxes/{sid}/filesystem/download?path={rel_path}"
    t0 = time.perf_counter()
    r = subprocess.run(["curl", "-sS", "--fail", "-o", "/dev/null", "-w", "%{size_download}",
                        "-H", f"Authorization: Bearer {key}", url],
                       capture_output=True, text=True, timeout=timeout)
    secs = time.perf_counter() - t0
    if r.returncode != 0:
        raise HttpError(f"curl download failed ({r.returncode}): {r.stderr.strip()[:300]}")
    got = int(r.stdout.strip() or 0)
    if got != size:
        raise HttpError(f"curl download size mismatch: received {got}, expected {size}")
    return {"bytes": got, "seconds": secs, "gb_per_s": got / secs / 1e9, "client": "curl"}
