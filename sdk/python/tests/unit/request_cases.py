"""The request table shared by test_requests*.py: one SDK call, the exact request it
must send and a check of the parsed result."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from shipyard_neo import BayClient
from shipyard_neo.sandbox import Sandbox

from . import samples as s
from .conftest import FakeBay

SID = s.SANDBOX["id"]
BASE = f"/v1/sandboxes/{SID}"


@dataclass(frozen=True)
class Case:
    id: str
    call: Callable[[BayClient, Sandbox], Awaitable[Any]]
    method: str
    target: str  # raw path plus query string, exactly as sent
    body: bytes | None  # exact JSON bytes; None means no body at all
    response: Any = None  # JSON answered by the fake server (None: empty body)
    check: Callable[[Any], bool] = lambda result: True
    status: int = 200
    idempotency_key: str | None = None
    timeout: float = 30.0  # HTTP read time-out of the request


async def check_case(case: Case, bay: FakeBay, client: BayClient, sandbox: Sandbox) -> None:
    bay.reply(case.status, case.response)

    result = await case.call(client, sandbox)

    assert len(bay.requests) == 1
    request = bay.last
    assert request.method == case.method
    assert request.url.scheme == "http"
    assert request.url.host == "bay.test"
    assert request.url.raw_path.decode("ascii") == case.target
    assert request.headers["Authorization"] == "Bearer tok-123"
    if case.body is None:
        assert request.content == b""
        assert "Content-Type" not in request.headers
    else:
        assert request.content == case.body
        assert request.headers["Content-Type"] == "application/json"
    assert request.headers.get("Idempotency-Key") == case.idempotency_key
    assert request.extensions["timeout"]["read"] == case.timeout
    assert case.check(result), f"unexpected result: {result!r}"
