"""The retry policy: which requests are retried, on what, how often and with which delays."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from shipyard_neo import (
    BayClient,
    BayError,
    ConflictError,
    NotFoundError,
    QuotaExceededError,
    SessionNotReadyError,
    ShipError,
)
from shipyard_neo.sandbox import Sandbox
from shipyard_neo.types import SandboxInfo

from . import samples as s
from .conftest import ENDPOINT, TOKEN, FakeBay

Call = Callable[[BayClient, Sandbox], Awaitable[Any]]


@pytest.fixture
async def make_client(bay: FakeBay) -> AsyncIterator[Callable[[int], Awaitable[BayClient]]]:
    opened: list[BayClient] = []

    async def make(max_retries: int) -> BayClient:
        c = BayClient(ENDPOINT, TOKEN, max_retries=max_retries)
        await c.__aenter__()
        opened.append(c)
        return c

    yield make
    for c in opened:
        await c.__aexit__(None, None, None)
    bay.assert_drained()


def _sandbox(c: BayClient) -> Sandbox:
    return Sandbox(c.http, SandboxInfo.model_validate(s.SANDBOX))


# Calls per retry class, each with a success reply.
RETRIED: list[tuple[str, Call, int, Any]] = [
    ("GET", lambda c, sb: c.list_sandboxes(), 200, {"items": []}),
    ("GET-history", lambda c, sb: sb.get_execution_history(), 200, {"entries": [], "total": 0}),
    ("PUT", lambda c, sb: sb.filesystem.write_file("a", "b"), 200, {"status": "ok"}),
    ("DELETE", lambda c, sb: sb.delete(), 204, None),
    ("DELETE-json", lambda c, sb: c.skills.delete_release("sr-1"), 200, s.DELETED),
    (
        "POST-with-key",
        lambda c, sb: c.create_sandbox(idempotency_key="idem-1"),
        201,
        s.SANDBOX_IDLE,
    ),
    ("POST-extend-with-key", lambda c, sb: sb.extend_ttl(5, idempotency_key="k"), 200, s.SANDBOX),
    ("POST-cargo-with-key", lambda c, sb: c.cargos.create(idempotency_key="k"), 201, s.CARGO),
    ("upload", lambda c, sb: sb.filesystem.upload("f.bin", b"\x00"), 200, {"status": "ok"}),
    ("download", lambda c, sb: sb.filesystem.download("f.bin"), 200, None),
]

NOT_RETRIED: list[tuple[str, Call]] = [
    ("POST-create-without-key", lambda c, sb: c.create_sandbox()),
    ("POST-python", lambda c, sb: sb.python.exec("1")),
    ("POST-shell", lambda c, sb: sb.shell.exec("true")),
    ("POST-stop", lambda c, sb: sb.stop()),
    ("POST-keepalive", lambda c, sb: sb.keepalive()),
    ("POST-extend-without-key", lambda c, sb: sb.extend_ttl(5)),
    ("POST-cargo-without-key", lambda c, sb: c.cargos.create()),
    ("POST-evaluate", lambda c, sb: c.skills.evaluate_candidate("sc-1", passed=True)),
    ("POST-rollback", lambda c, sb: c.skills.rollback_release("sr-1")),
    ("PATCH-annotate", lambda c, sb: sb.annotate_execution("exec-1", notes="n")),
]


@pytest.mark.parametrize(
    ("name", "call", "ok_status", "ok_body"), RETRIED, ids=[r[0] for r in RETRIED]
)
async def test_retryable_requests_recover_from_5xx(
    name: str,
    call: Call,
    ok_status: int,
    ok_body: Any,
    bay: FakeBay,
    make_client: Callable[[int], Awaitable[BayClient]],
    sleeps: list[float],
) -> None:
    c = await make_client(3)
    bay.reply(503, {"error": {"code": "session_not_ready"}}).reply(502, content="bad gateway")
    bay.reply(429, {"error": {"code": "quota_exceeded"}})
    bay.reply(ok_status, ok_body)
    await call(c, _sandbox(c))
    assert len(bay.requests) == 4
    assert sleeps == [0.2, 0.4, 0.8]
    # Every attempt is the same request (same key, same body).
    first = bay.requests[0]
    for r in bay.requests[1:]:
        assert (r.method, r.url, r.headers.get("Idempotency-Key")) == (
            first.method,
            first.url,
            first.headers.get("Idempotency-Key"),
        )
        if "multipart" not in first.headers.get("Content-Type", ""):
            assert r.content == first.content


@pytest.mark.parametrize(("name", "call"), NOT_RETRIED, ids=[r[0] for r in NOT_RETRIED])
async def test_unsafe_requests_are_sent_once(
    name: str,
    call: Call,
    bay: FakeBay,
    make_client: Callable[[int], Awaitable[BayClient]],
    sleeps: list[float],
) -> None:
    c = await make_client(3)
    bay.reply(503, {"error": {"code": "session_not_ready", "message": "starting"}})
    with pytest.raises(SessionNotReadyError):
        await call(c, _sandbox(c))
    assert len(bay.requests) == 1
    assert sleeps == []


async def test_exhaustion_maps_the_last_response(
    bay: FakeBay, make_client: Callable[[int], Awaitable[BayClient]], sleeps: list[float]
) -> None:
    c = await make_client(3)
    bay.reply(503, {"error": {"code": "session_not_ready"}}, times=3)
    bay.reply(502, {"error": {"code": "ship_error", "message": "last one"}})
    with pytest.raises(ShipError) as info:
        await c.get_sandbox("sandbox-1")
    assert info.value.message == "last one"
    assert len(bay.requests) == 4
    assert sleeps == [0.2, 0.4, 0.8]


async def test_backoff_is_capped(
    bay: FakeBay, make_client: Callable[[int], Awaitable[BayClient]], sleeps: list[float]
) -> None:
    c = await make_client(6)
    bay.reply(500, {"error": {"code": "internal_error"}}, times=7)
    with pytest.raises(BayError):
        await c.list_profiles()
    assert len(bay.requests) == 7
    assert sleeps == [0.2, 0.4, 0.8, 1.5, 1.5, 1.5]


async def test_429_is_retried_then_raised(
    bay: FakeBay, make_client: Callable[[int], Awaitable[BayClient]], sleeps: list[float]
) -> None:
    c = await make_client(1)
    bay.reply(429, {"error": {"code": "quota_exceeded", "message": "slow down"}}, times=2)
    with pytest.raises(QuotaExceededError):
        await c.list_profiles()
    assert len(bay.requests) == 2
    assert sleeps == [0.2]


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422])
async def test_client_errors_are_not_retried(
    status: int,
    bay: FakeBay,
    make_client: Callable[[int], Awaitable[BayClient]],
    sleeps: list[float],
) -> None:
    c = await make_client(3)
    bay.reply(status, {"error": {"code": "conflict" if status == 409 else "not_found"}})
    with pytest.raises((NotFoundError, ConflictError)):
        await c.get_sandbox("sandbox-1")
    assert len(bay.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.ConnectTimeout("slow connect"),
        httpx.RemoteProtocolError("reset"),
        httpx.ReadError("reset by peer"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_transport_errors_are_retried(
    exc: Exception,
    bay: FakeBay,
    make_client: Callable[[int], Awaitable[BayClient]],
    sleeps: list[float],
) -> None:
    c = await make_client(3)
    bay.fail(exc, times=2).reply(200, {"items": []})
    assert (await c.list_profiles()).items == []
    assert len(bay.requests) == 3
    assert sleeps == [0.2, 0.4]


async def test_last_transport_error_is_reraised_unchanged(
    bay: FakeBay, make_client: Callable[[int], Awaitable[BayClient]], sleeps: list[float]
) -> None:
    c = await make_client(2)
    last = httpx.ReadTimeout("third")
    bay.fail(httpx.ConnectError("first")).fail(httpx.ConnectError("second")).fail(last)
    with pytest.raises(httpx.ReadTimeout) as info:
        await c.get_sandbox("sandbox-1")
    assert info.value is last
    assert len(bay.requests) == 3
    assert sleeps == [0.2, 0.4]


async def test_transport_error_on_unsafe_post_is_not_retried(
    bay: FakeBay, make_client: Callable[[int], Awaitable[BayClient]], sleeps: list[float]
) -> None:
    c = await make_client(3)
    bay.fail(httpx.ConnectError("refused"))
    with pytest.raises(httpx.ConnectError):
        await c.create_sandbox()
    assert len(bay.requests) == 1
    assert sleeps == []


# The four examples of the specification, literally.


async def test_spec_example_list_503_then_200(
    bay: FakeBay, make_client: Callable[[int], Awaitable[BayClient]]
) -> None:
    c = await make_client(1)
    bay.reply(503, {"error": {"code": "session_not_ready"}}).reply(200, {"items": []})
    assert (await c.list_sandboxes()).items == []
    assert len(bay.requests) == 2


async def test_spec_example_create_without_key_503(
    bay: FakeBay, make_client: Callable[[int], Awaitable[BayClient]]
) -> None:
    c = await make_client(3)
    bay.reply(503, {"error": {"code": "session_not_ready"}})
    with pytest.raises(SessionNotReadyError):
        await c.create_sandbox()
    assert len(bay.requests) == 1


async def test_spec_example_create_with_key_503_then_201(
    bay: FakeBay, make_client: Callable[[int], Awaitable[BayClient]]
) -> None:
    c = await make_client(3)
    bay.reply(503, {"error": {"code": "session_not_ready"}}).reply(201, s.SANDBOX_IDLE)
    sandbox = await c.create_sandbox(idempotency_key="idem-1")
    assert sandbox.id == s.SANDBOX["id"]
    assert [r.headers["Idempotency-Key"] for r in bay.requests] == ["idem-1", "idem-1"]


async def test_spec_example_no_retries_502(
    bay: FakeBay, make_client: Callable[[int], Awaitable[BayClient]], sleeps: list[float]
) -> None:
    c = await make_client(0)
    bay.reply(502, {"error": {"code": "ship_error"}})
    with pytest.raises(ShipError):
        await c.list_sandboxes()
    assert len(bay.requests) == 1
    assert sleeps == []


async def test_env_max_retries_applies_to_default(
    bay: FakeBay, monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    monkeypatch.setenv("BAY_MAX_RETRIES", "1")
    bay.reply(500, {}, times=2)
    async with BayClient(ENDPOINT, TOKEN) as c:
        with pytest.raises(BayError):
            await c.list_profiles()
    assert len(bay.requests) == 2
    assert sleeps == [0.2]
