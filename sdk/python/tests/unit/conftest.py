"""Fakes the network below the SDK and records what it sends.

The SDK must use httpx's default transport (tooling such as pytest-httpx patches
`httpx.AsyncHTTPTransport`), so the fake does the same: it replaces
`AsyncHTTPTransport.handle_async_request` and answers from a queue of scripted replies.
`asyncio.sleep` is replaced too, so retries are instant and their back-off is recorded.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from shipyard_neo import BayClient
from shipyard_neo.sandbox import Sandbox
from shipyard_neo.types import SandboxInfo

from .samples import SANDBOX

# The shared request checks live outside test modules; keep pytest's assert introspection.
pytest.register_assert_rewrite(f"{__package__}.request_cases")

ENDPOINT = "http://bay.test"
TOKEN = "tok-123"

Reply = Callable[[httpx.Request], httpx.Response]


class FakeBay:
    """Scripted replies in order; every request the SDK sends is kept in `requests`."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._replies: deque[Reply | BaseException] = deque()

    def reply(
        self,
        status: int = 200,
        json: Any = None,
        *,
        content: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> FakeBay:
        def make(request: httpx.Request) -> httpx.Response:
            if content is not None:
                return httpx.Response(status, content=content, headers=headers, request=request)
            if json is None:
                return httpx.Response(status, headers=headers, request=request)
            return httpx.Response(status, json=json, headers=headers, request=request)

        for _ in range(times):
            self._replies.append(make)
        return self

    def fail(self, exc: BaseException, *, times: int = 1) -> FakeBay:
        for _ in range(times):
            self._replies.append(exc)
        return self

    async def handle(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        if not self._replies:
            raise AssertionError(f"unexpected request: {request.method} {request.url}")
        reply = self._replies.popleft()
        if isinstance(reply, BaseException):
            raise reply
        return reply(request)

    @property
    def last(self) -> httpx.Request:
        assert self.requests, "no request was sent"
        return self.requests[-1]

    def assert_drained(self) -> None:
        assert not self._replies, f"{len(self._replies)} scripted replies were not used"


@pytest.fixture
def bay(monkeypatch: pytest.MonkeyPatch) -> FakeBay:
    fake = FakeBay()

    async def handle_async_request(
        self: httpx.AsyncHTTPTransport, request: httpx.Request
    ) -> httpx.Response:
        return await fake.handle(request)

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", handle_async_request)
    return fake


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Back-off delays the SDK asked for, in order (without actually sleeping)."""
    delays: list[float] = []

    async def fake_sleep(delay: float, result: Any = None) -> Any:
        delays.append(delay)
        return result

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    return delays


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BAY_ENDPOINT", "BAY_TOKEN", "BAY_TIMEOUT", "BAY_MAX_RETRIES"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def client(bay: FakeBay) -> AsyncIterator[BayClient]:
    # Trailing slash on purpose: the SDK strips it.
    async with BayClient(ENDPOINT + "/", TOKEN) as c:
        yield c
    bay.assert_drained()


@pytest.fixture
def sandbox(client: BayClient) -> Sandbox:
    return Sandbox(client.http, SandboxInfo.model_validate(SANDBOX))
