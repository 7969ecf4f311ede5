"""Bay v1 API clients: a blocking one on one keep-alive socket and a small asyncio one.

Both send pre-built HTTP/1.1 bytes and parse only what they need (see shipbench/httpc.py
for why not httpx: its per-request Python overhead is of the order of the latencies
measured here). Loopback only.
"""

from __future__ import annotations

import asyncio
import json

from shipbench.httpc import HttpConn, HttpError, Response, build_request


class ApiError(Exception):
    def __init__(self, what: str, status: int, body: bytes):
        super().__init__(f"{what}: HTTP {status}: {body[:300]!r}")
        self.status = status


def request_bytes(method: str, target: str, port: int, key: str, payload=None,
                  headers: dict | None = None) -> bytes:
    h = {"Authorization": f"Bearer {key}"}
    body = b""
    if payload is not None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    return build_request(method, target, f"127.0.0.1:{port}", body, h)


class Api:
    """Blocking client. Not thread-safe; reconnects once if the server closed the socket."""

    def __init__(self, port: int, key: str, timeout: float = 120.0):
        self.port = port
        self.key = key
        self.timeout = timeout
        self.conn: HttpConn | None = None

    def close(self) -> None:
        if self.conn:
            self.conn.close()
            self.conn = None

    def raw(self, request: bytes) -> Response:
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = HttpConn("127.0.0.1", self.port, timeout=self.timeout)
            try:
                resp = self.conn.roundtrip(request)
            except (OSError, HttpError):
                self.close()
                if attempt:
                    raise
                continue
            if resp.headers.get("connection", "").lower() == "close":
                self.close()
            return resp
        raise AssertionError("unreachable")

    def req(self, method: str, target: str, payload=None, headers=None) -> Response:
        return self.raw(request_bytes(method, target, self.port, self.key, payload, headers))

    def ok(self, method: str, target: str, payload=None, expect=(200,)) -> Response:
        r = self.req(method, target, payload)
        if r.status not in expect:
            raise ApiError(f"{method} {target}", r.status, r.body)
        return r

    # -- conveniences

    def create(self, profile: str, cargo_id: str | None = None) -> str:
        body = {"profile": profile}
        if cargo_id:
            body["cargo_id"] = cargo_id
        return self.ok("POST", "/v1/sandboxes", body, expect=(201,)).json()["id"]

    def python(self, sid: str, code: str) -> dict:
        return self.ok("POST", f"/v1/sandboxes/{sid}/python/exec", {"code": code}).json()

    def shell(self, sid: str, command: str) -> dict:
        return self.ok("POST", f"/v1/sandboxes/{sid}/shell/exec", {"command": command}).json()

    def delete(self, sid: str) -> None:
        self.ok("DELETE", f"/v1/sandboxes/{sid}", expect=(204, 404))

    def stop_session(self, sid: str) -> None:
        self.ok("POST", f"/v1/sandboxes/{sid}/stop")

    def list_ids(self) -> list[str]:
        ids, cursor = [], None
        while True:
            target = "/v1/sandboxes?limit=200" + (f"&cursor={cursor}" if cursor else "")
            d = self.ok("GET", target).json()
            ids += [s["id"] for s in d["items"]]
            cursor = d.get("next_cursor")
            if not cursor:
                return ids


# ---------------------------------------------------------------- asyncio


class AConn:
    """One keep-alive connection for asyncio code."""

    def __init__(self, port: int, key: str):
        self.port = port
        self.key = key
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> "AConn":
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port,
                                                                 limit=1 << 20)
        return self

    async def close(self) -> None:
        if self.writer:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
            self.writer = None

    async def request(self, method: str, target: str, payload=None) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        self.writer.write(request_bytes(method, target, self.port, self.key, payload))
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    while (await self.reader.readuntil(b"\r\n")) != b"\r\n":
                        pass
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(parts)
        else:
            body = await self.reader.read()
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, body

    async def ok(self, method: str, target: str, payload=None, expect=(200,)) -> dict | None:
        status, body = await self.request(method, target, payload)
        if status not in expect:
            raise ApiError(f"{method} {target}", status, body)
        return json.loads(body) if body else None
