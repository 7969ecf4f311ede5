"""Large upload/download over raw sockets, curl cross-checks and a loopback ceiling.

The upload body is generated on the fly: a multipart head, `size` bytes made of one random
block repeated, and the closing delimiter. Nothing is read from disk on the client side, so
the figure is Ship's (plus the kernel's loopback and page cache), not the client's disk.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time

from .httpc import HttpConn, HttpError

BLOCK = 4 << 20


def make_block() -> bytes:
    return os.urandom(BLOCK)


def upload(port: int, rel_path: str, size: int, block: bytes, timeout: float = 120) -> dict:
    assert size % len(block) == 0
    boundary = "shipbench" + secrets.token_hex(16)
    # file_path first: Ship then streams the file part straight into its destination
    # (a file part arriving before file_path is spooled and copied).
    pre = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file_path\"\r\n\r\n"
           f"{rel_path}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
           f"filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    post = f"\r\n--{boundary}--\r\n".encode()
    length = len(pre) + size + len(post)
    head = (f"POST /fs/upload HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
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
            "commit_seconds": t1 - t_sent, "gb_per_s": size / secs / 1e9,
            "mib_per_s": size / secs / (1 << 20)}


def download(port: int, rel_path: str, size: int, block: bytes, timeout: float = 120) -> dict:
    target = f"/fs/download?file_path={rel_path}"
    buf = bytearray(BLOCK)
    view = memoryview(buf)
    head_req = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    with HttpConn("127.0.0.1", port, timeout=timeout) as c:
        t0 = time.perf_counter()
        c.sock.sendall(head_req)
        status, headers = c.read_head()
        if status != 200:
            raise HttpError(f"download answered {status}")
        announced = int(headers.get("content-length", "-1"))
        got = len(c.buf)
        first = bytearray(c.buf[: len(block)])
        c.buf.clear()
        recv_into = c.sock.recv_into
        while got < announced:
            n = recv_into(view)
            if n == 0:
                break
            if len(first) < len(block):
                first += view[: min(n, len(block) - len(first))]
            got += n
        t1 = time.perf_counter()
    if announced != size or got != size:
        raise HttpError(f"download size mismatch: announced {announced}, received {got}, "
                        f"expected {size}")
    if bytes(first) != block[: len(first)]:
        raise HttpError("downloaded bytes differ from the uploaded ones")
    secs = t1 - t0
    return {"bytes": got, "seconds": secs, "gb_per_s": got / secs / 1e9,
            "mib_per_s": got / secs / (1 << 20)}


def verify_file(path: str, size: int, block: bytes) -> None:
    """Size plus the first and last block of the uploaded file (cheap spot check)."""
    st = os.stat(path)
    if st.st_size != size:
        raise HttpError(f"uploaded file has {st.st_size} bytes, expected {size}")
    with open(path, "rb") as f:
        if f.read(len(block)) != block:
            raise HttpError("uploaded file: first block differs")
        f.seek(size - len(block))
        if f.read(len(block)) != block:
            raise HttpError("uploaded file: last block differs")


def _curl(argv: list[str], timeout: float) -> dict:
    fmt = '{"code":%{http_code},"up":%{size_upload},"down":%{size_download},' \
          '"pre":%{time_pretransfer},"total":%{time_total}}'
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", fmt, *argv],
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"curl failed: {r.stderr.strip()}")
    return json.loads(r.stdout)


def curl_upload(port: int, src_file: str, rel_path: str, size: int) -> dict:
    d = _curl(["-F", f"file_path={rel_path}", "-F", f"file=@{src_file}",
               f"http://127.0.0.1:{port}/fs/upload"], timeout=180)
    if d["code"] != 200:
        raise HttpError(f"curl upload answered {d['code']}")
    secs = d["total"] - d["pre"]
    return {"bytes": size, "seconds": secs, "gb_per_s": size / secs / 1e9}


def curl_download(port: int, rel_path: str, size: int) -> dict:
    d = _curl([f"http://127.0.0.1:{port}/fs/download?file_path={rel_path}"], timeout=180)
    if d["code"] != 200 or int(d["down"]) != size:
        raise HttpError(f"curl download answered {d['code']} with {d['down']} bytes")
    secs = d["total"] - d["pre"]
    return {"bytes": size, "seconds": secs, "gb_per_s": size / secs / 1e9}


def curl_available() -> bool:
    return shutil.which("curl") is not None


def loopback_ceiling(size: int, block: bytes) -> dict:
    """Python sender -> Python receiver over loopback TCP, same buffers as the clients
    above: what this client can move on this machine with no server work at all."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    received = [0]

    def sink():
        conn, _ = srv.accept()
        buf = bytearray(BLOCK)
        v = memoryview(buf)
        with conn:
            while n := conn.recv_into(v):
                received[0] += n

    t = threading.Thread(target=sink, daemon=True)
    t.start()
    view = memoryview(block)
    with socket.create_connection(("127.0.0.1", port), timeout=60) as c:
        t0 = time.perf_counter()
        for _ in range(size // len(block)):
            c.sendall(view)
        c.shutdown(socket.SHUT_WR)
        t.join(timeout=60)
        t1 = time.perf_counter()
    srv.close()
    secs = t1 - t0
    return {"bytes": received[0], "seconds": secs, "gb_per_s": received[0] / secs / 1e9}


def file_write_ceiling(path: str, size: int, block: bytes) -> dict:
    """Writing the same bytes straight into a file on the workspace's filesystem: the
    page-cache cost any upload pays. The file is removed (untimed) afterwards."""
    view = memoryview(block)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        t0 = time.perf_counter()
        for _ in range(size // len(block)):
            os.write(fd, view)
        t1 = time.perf_counter()
    finally:
        os.close(fd)
        os.remove(path)
    secs = t1 - t0
    return {"bytes": size, "seconds": secs, "gb_per_s": size / secs / 1e9}
