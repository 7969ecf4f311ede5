"""BayClient construction, environment variables, context management and exports."""

from __future__ import annotations

import importlib
from typing import Any

import httpx
import pydantic
import pytest

import shipyard_neo
from shipyard_neo import BayClient, SandboxStatus
from shipyard_neo._http import HTTPClient
from shipyard_neo.cargo import CargoManager
from shipyard_neo.sandbox import Sandbox
from shipyard_neo.skills import SkillManager
from shipyard_neo.types import SandboxInfo

from . import samples as s
from .conftest import ENDPOINT, TOKEN, FakeBay

# ------------------------------------------------------------------ construction


def test_explicit_arguments() -> None:
    c = BayClient("http://h:1", "t")
    assert (c._endpoint_url, c._access_token) == ("http://h:1", "t")


def test_env_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAY_ENDPOINT", "http://env:8000")
    monkeypatch.setenv("BAY_TOKEN", "env-token")
    c = BayClient()
    assert (c._endpoint_url, c._access_token) == ("http://env:8000", "env-token")
    # Empty arguments count as "not given".
    c = BayClient("", "")
    assert (c._endpoint_url, c._access_token) == ("http://env:8000", "env-token")
    # Arguments win over the environment.
    c = BayClient("http://arg", "arg-token")
    assert (c._endpoint_url, c._access_token) == ("http://arg", "arg-token")


def test_missing_endpoint_is_checked_first() -> None:
    with pytest.raises(ValueError, match=r"^endpoint_url required") as info:
        BayClient()
    assert str(info.value) == "endpoint_url required (or set BAY_ENDPOINT env var)"


def test_missing_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAY_ENDPOINT", "http://env:8000")
    with pytest.raises(ValueError, match=r"^access_token required") as info:
        BayClient()
    assert str(info.value) == "access_token required (or set BAY_TOKEN env var)"


@pytest.mark.parametrize(
    ("env", "arg", "expected"),
    [(None, None, 30.0), ("12.5", None, 12.5), ("12.5", 5.0, 5.0), (None, 7.0, 7.0)],
)
async def test_timeout_env_only_replaces_the_default(
    env: str | None,
    arg: float | None,
    expected: float,
    monkeypatch: pytest.MonkeyPatch,
    bay: FakeBay,
) -> None:
    if env is not None:
        monkeypatch.setenv("BAY_TIMEOUT", env)
    kwargs: dict[str, Any] = {} if arg is None else {"timeout": arg}
    async with BayClient(ENDPOINT, TOKEN, **kwargs) as c:
        bay.reply(200, s.PROFILES)
        await c.list_profiles()
    assert bay.last.extensions["timeout"] == {
        "connect": expected,
        "read": expected,
        "write": expected,
        "pool": expected,
    }


@pytest.mark.parametrize(
    ("env", "arg", "expected"), [(None, None, 3), ("0", None, 0), ("0", 5, 5), ("7", 1, 1)]
)
async def test_max_retries_env_only_replaces_the_default(
    env: str | None, arg: int | None, expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env is not None:
        monkeypatch.setenv("BAY_MAX_RETRIES", env)
    kwargs: dict[str, Any] = {} if arg is None else {"max_retries": arg}
    async with BayClient(ENDPOINT, TOKEN, **kwargs) as c:
        assert c.http.max_retries == expected


def test_construction_does_no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("httpx client created in __init__")

    monkeypatch.setattr(httpx.AsyncClient, "__init__", forbidden)
    BayClient("http://h", "t")


# ------------------------------------------------------------- context management

NOT_INITIALIZED = "BayClient not initialized"


async def test_properties_need_the_context(bay: FakeBay) -> None:
    c = BayClient(ENDPOINT, TOKEN)
    for name in ("http", "cargos", "skills"):
        with pytest.raises(RuntimeError, match=f"^{NOT_INITIALIZED}"):
            getattr(c, name)
    with pytest.raises(RuntimeError) as info:
        await c.create_sandbox()
    assert str(info.value) == "BayClient not initialized. Use 'async with' context."
    with pytest.raises(RuntimeError, match=f"^{NOT_INITIALIZED}"):
        await c.list_sandboxes()
    assert bay.requests == []


def _closed(client: httpx.AsyncClient) -> bool:
    return client.is_closed


async def test_context_creates_and_closes_the_http_client(bay: FakeBay) -> None:
    async with BayClient(ENDPOINT + "///", TOKEN) as c:
        http = c.http
        assert isinstance(http, HTTPClient)
        assert isinstance(c.cargos, CargoManager)
        assert isinstance(c.skills, SkillManager)
        inner = http._client
        assert str(inner.base_url) == ENDPOINT
        assert inner.headers["Authorization"] == f"Bearer {TOKEN}"
        assert "Content-Type" not in inner.headers
        assert inner.timeout == httpx.Timeout(30.0)
        # Default transport, so that tooling patching AsyncHTTPTransport sees traffic.
        assert type(inner._transport) is httpx.AsyncHTTPTransport
        assert not _closed(inner)
    assert _closed(inner)
    with pytest.raises(RuntimeError, match=f"^{NOT_INITIALIZED}"):
        _ = c.http
    with pytest.raises(RuntimeError, match=f"^{NOT_INITIALIZED}"):
        _ = c.skills


async def test_client_can_be_entered_again(bay: FakeBay) -> None:
    c = BayClient(ENDPOINT, TOKEN)
    for _ in range(2):
        async with c:
            bay.reply(200, s.PROFILES)
            assert (await c.list_profiles()).items[0].id == "python-default"
    assert len(bay.requests) == 2


async def test_http_client_direct_use(bay: FakeBay) -> None:
    async with HTTPClient("http://direct.test/", "abc", timeout=5.0, max_retries=0) as http:
        bay.reply(200, {"ok": True})
        assert await http.get("/x", params={"a": None, "b": False, "c": 1}) == {"ok": True}
    request = bay.last
    assert request.url.raw_path == b"/x?b=false&c=1"
    assert request.headers["Authorization"] == "Bearer abc"
    assert request.extensions["timeout"]["read"] == 5.0


async def test_per_call_timeout_overrides_default(bay: FakeBay, client: BayClient) -> None:
    bay.reply(200, {})
    await client.http.request("GET", "/v1/x", timeout=2.5)
    assert bay.last.extensions["timeout"] == {
        "connect": 2.5,
        "read": 2.5,
        "write": 2.5,
        "pool": 2.5,
    }


async def test_post_with_empty_dict_sends_a_body(bay: FakeBay, client: BayClient) -> None:
    bay.reply(200, {}).reply(200, {})
    await client.http.post("/v1/a", json={})
    await client.http.post("/v1/b")
    with_body, without = bay.requests
    assert (with_body.content, with_body.headers["Content-Type"]) == (b"{}", "application/json")
    assert without.content == b""
    assert "Content-Type" not in without.headers


async def test_empty_idempotency_key_is_not_sent(bay: FakeBay, client: BayClient) -> None:
    bay.reply(201, s.SANDBOX_IDLE)
    await client.create_sandbox(idempotency_key="")
    assert "Idempotency-Key" not in bay.last.headers


# ----------------------------------------------------------- client-side validation

INVALID_CALLS = [
    ("python-timeout-0", lambda sb, c: sb.python.exec("1", timeout=0)),
    ("python-timeout-301", lambda sb, c: sb.python.exec("1", timeout=301)),
    ("shell-timeout-0", lambda sb, c: sb.shell.exec("true", timeout=0)),
    ("shell-timeout-301", lambda sb, c: sb.shell.exec("true", timeout=301)),
    ("browser-timeout-301", lambda sb, c: sb.browser.exec("x", timeout=301)),
    ("browser-batch-empty", lambda sb, c: sb.browser.exec_batch([])),
    ("browser-batch-timeout-601", lambda sb, c: sb.browser.exec_batch(["a"], timeout=601)),
    ("browser-skill-timeout-0", lambda sb, c: sb.browser.run_skill("k", timeout=0)),
    ("extend-ttl-0", lambda sb, c: sb.extend_ttl(0)),
    ("extend-ttl-negative", lambda sb, c: sb.extend_ttl(-5)),
    ("cargo-size-0", lambda sb, c: c.cargos.create(size_limit_mb=0)),
    ("cargo-size-65537", lambda sb, c: c.cargos.create(size_limit_mb=65537)),
    ("payload-empty-kind", lambda sb, c: c.skills.create_payload(payload={}, kind="")),
]


@pytest.mark.parametrize(("name", "call"), INVALID_CALLS, ids=[n for n, _ in INVALID_CALLS])
async def test_pydantic_validation_before_any_http(
    name: str, call: Any, bay: FakeBay, client: BayClient, sandbox: Sandbox
) -> None:
    with pytest.raises(pydantic.ValidationError):
        await call(sandbox, client)
    assert bay.requests == []


@pytest.mark.parametrize("payload", ["not json", "3", '"a string"', "null", "true", 5])
async def test_create_payload_rejects_non_containers(
    payload: Any, bay: FakeBay, client: BayClient
) -> None:
    with pytest.raises(ValueError, match=r"^payload must be") as info:
        await client.skills.create_payload(payload=payload)
    assert str(info.value) == (
        "payload must be a JSON object/array or a JSON string representing one"
    )
    assert not isinstance(info.value, pydantic.ValidationError)
    assert bay.requests == []


async def test_boundary_values_are_accepted(
    bay: FakeBay, client: BayClient, sandbox: Sandbox
) -> None:
    bay.reply(200, s.PYTHON_RESULT).reply(200, s.PYTHON_RESULT).reply(201, s.CARGO)
    bay.reply(201, s.CARGO).reply(200, s.SANDBOX)
    await sandbox.python.exec("1", timeout=1)
    await sandbox.python.exec("1", timeout=300)
    await client.cargos.create(size_limit_mb=1)
    await client.cargos.create(size_limit_mb=65536)
    await sandbox.extend_ttl(1)
    assert len(bay.requests) == 5


# ------------------------------------------------------------------ sandbox object


async def test_sandbox_properties(client: BayClient) -> None:
    sb = Sandbox(client.http, SandboxInfo.model_validate(s.SANDBOX))
    assert sb.id == "sandbox-3f9a1c0be27d"
    assert sb.status is SandboxStatus.READY
    assert sb.profile == "python-default"
    assert sb.cargo_id == "ws-0c4e55a1b9f2"
    assert sb.capabilities == ["filesystem", "shell", "python"]
    assert sb.created_at.year == 2026
    assert sb.created_at.utcoffset() is not None
    assert sb.expires_at is not None
    assert sb.expires_at.hour == 1
    assert sb.idle_expires_at is not None
    for cap in (sb.python, sb.shell, sb.filesystem, sb.browser):
        assert cap._base_path == "/v1/sandboxes/sandbox-3f9a1c0be27d"


# ----------------------------------------------------------------------- exports


def test_public_exports_are_exactly_the_specified_ones() -> None:
    assert set(shipyard_neo.__all__) == {
        "BayClient", "SkillManager",
        "SandboxStatus", "SandboxInfo", "SandboxList", "CargoInfo", "CargoList",
        "ExecutionHistoryEntry", "ExecutionHistoryList", "FileInfo", "ProfileInfo",
        "ProfileList", "ContainerInfo", "RuntimeContainerInfo", "PythonExecResult",
        "ShellExecResult", "BrowserExecResult", "BrowserBatchStepResult",
        "BrowserBatchExecResult", "BrowserSkillRunResult", "SkillCandidateStatus",
        "SkillReleaseStage", "SkillCandidateInfo", "SkillCandidateList",
        "SkillEvaluationInfo", "SkillPayloadCreateInfo", "SkillPayloadInfo",
        "SkillReleaseInfo", "SkillReleaseHealth", "SkillReleaseList",
        "BayError", "NotFoundError", "UnauthorizedError", "ForbiddenError",
        "QuotaExceededError", "ConflictError", "ValidationError", "SessionNotReadyError",
        "RequestTimeoutError", "ShipError", "SandboxExpiredError",
        "SandboxTTLInfiniteError", "CapabilityNotSupportedError", "InvalidPathError",
        "CargoFileNotFoundError",
    }  # fmt: skip
    assert len(shipyard_neo.__all__) == 45
    for name in shipyard_neo.__all__:
        assert hasattr(shipyard_neo, name)


@pytest.mark.parametrize(
    "module",
    [
        "shipyard_neo.client",
        "shipyard_neo._http",
        "shipyard_neo.sandbox",
        "shipyard_neo.cargo",
        "shipyard_neo.skills",
        "shipyard_neo.capabilities",
        "shipyard_neo.capabilities.base",
        "shipyard_neo.capabilities.python",
        "shipyard_neo.capabilities.shell",
        "shipyard_neo.capabilities.filesystem",
        "shipyard_neo.capabilities.browser",
        "shipyard_neo.types",
        "shipyard_neo.errors",
    ],
)
def test_modules_are_importable(module: str) -> None:
    importlib.import_module(module)


def test_same_objects_through_submodules() -> None:
    from shipyard_neo import errors, types
    from shipyard_neo.capabilities import BaseCapability, PythonCapability

    assert errors.NotFoundError is shipyard_neo.NotFoundError
    assert errors.ShipError is shipyard_neo.ShipError
    assert types.SkillCandidateStatus is shipyard_neo.SkillCandidateStatus
    assert types.SkillReleaseStage is shipyard_neo.SkillReleaseStage
    assert issubclass(PythonCapability, BaseCapability)
    from shipyard_neo.client import BayClient as ClientFromModule

    assert ClientFromModule is BayClient


def test_version_from_distribution_metadata() -> None:
    from importlib.metadata import version

    assert shipyard_neo.__version__ == version("shipyard-neo-sdk")
    assert shipyard_neo.__version__.startswith("0.3.")
