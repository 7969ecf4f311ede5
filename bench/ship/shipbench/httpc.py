"""A minimal blocking HTTP/1.1 client over one keep-alive socket.

Why not httpx: its per-request overhead (~0.3-0.5 ms of Python) is of the same order as
the latencies we measure (1 KiB read_file, a `print` round trip), so it would mostly
measure itself. This client sends pre-built request bytes and parses just enough of the
response (status, Content-Length or chunked) to find its end: ~20-40 us per request.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field


class HttpError(Exception):
    pass


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self):
        return json.loads(self.body)


def build_request(method: str, target: str, host: str, body: bytes = b"",
                  headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def json_request(target: str, host: str, payload) -> bytes:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return build_request("POST", target, host, body, {"Content-Type": "application/json"})


class HttpConn:
    """One keep-alive connection. Not thread-safe."""

    def __init__(self, host: str, port: int, timeout: float = 30.0):
        self.host = f"{host}:{port}"
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- reading

    def _fill(self) -> None:
        chunk = self.sock.recv(262144)
        if not chunk:
            raise HttpError("connection closed by server")
        self.buf += chunk

    def read_head(self) -> tuple[int, dict[str, str]]:
        """Reads a response head (skipping 1xx); leaves any body bytes in self.buf."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            while end < 0:
                if len(self.buf) > 65536:
                    raise HttpError("response head too large")
                self._fill()
                end = self.buf.find(b"\r\n\r\n")
            head = bytes(self.buf[:end]).decode("latin-1")
            del self.buf[: end + 4]
            lines = head.split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/"):
                raise HttpError(f"bad status line {lines[0]!r}")
            status = int(parts[1])
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            if 100 <= status < 200:
                continue
            return status, headers

    def _read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def _read_line(self) -> bytes:
        while (i := self.buf.find(b"\r\n")) < 0:
            self._fill()
        out = bytes(self.buf[:i])
        del self.buf[: i + 2]
        return out

    def read_response(self) -> Response:
        status, headers = self.read_head()
        if "content-length" in headers:
            body = self._read_exact(int(headers["content-length"]))
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size = int(self._read_line().split(b";")[0], 16)
                if size == 0:
                    while self._read_line():  # trailers
                        pass
                    break
                parts.append(self._read_exact(size))
                self._read_exact(2)
            body = b"".join(parts)
        else:  # body until close
            try:
                while True:
                    self._fill()
            except HttpError:
                pass
            body = bytes(self.buf)
            self.buf.clear()
        return Response(status, headers, body)

    def roundtrip(self, request: bytes) -> Response:
        self.sock.sendall(request)
        return self.read_response()

    def get(self, target: str) -> Response:
        return self.roundtrip(build_request("GET", target, self.host))

    def post_json(self, target: str, payload) -> Response:
        return self.roundtrip(json_request(target, self.host, payload))
