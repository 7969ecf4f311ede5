"""Error responses become the specified exception classes, including non-JSON bodies."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

import shipyard_neo
from shipyard_neo import (
    BayClient,
    BayError,
    CapabilityNotSupportedError,
    CargoFileNotFoundError,
    ConflictError,
    ForbiddenError,
    InvalidPathError,
    NotFoundError,
    QuotaExceededError,
    RequestTimeoutError,
    SandboxExpiredError,
    SandboxTTLInfiniteError,
    SessionNotReadyError,
    ShipError,
    UnauthorizedError,
    ValidationError,
)
from shipyard_neo import errors as errors_module
from shipyard_neo.errors import ERROR_CODE_MAP, STATUS_CODE_MAP, raise_for_error_response
from shipyard_neo.sandbox import Sandbox

from .conftest import FakeBay

# (class, code, status, default message) exactly as specified.
ERROR_TABLE: list[tuple[type[BayError], str, int, str]] = [
    (NotFoundError, "not_found", 404, "Resource not found"),
    (UnauthorizedError, "unauthorized", 401, "Authentication required"),
    (ForbiddenError, "forbidden", 403, "Permission denied"),
    (QuotaExceededError, "quota_exceeded", 429, "Quota exceeded"),
    (ConflictError, "conflict", 409, "Conflict"),
    (ValidationError, "validation_error", 400, "Validation error"),
    (SessionNotReadyError, "session_not_ready", 503, "Session is starting"),
    (RequestTimeoutError, "timeout", 504, "Operation timed out"),
    (ShipError, "ship_error", 502, "Runtime error"),
    (SandboxExpiredError, "sandbox_expired", 409, "Sandbox is expired, cannot extend TTL"),
    (
        SandboxTTLInfiniteError,
        "sandbox_ttl_infinite",
        409,
        "Sandbox TTL is infinite, cannot extend TTL",
    ),
    (
        CapabilityNotSupportedError,
        "capability_not_supported",
        400,
        "Capability not supported by runtime",
    ),
    (InvalidPathError, "invalid_path", 400, "Invalid path"),
    (CargoFileNotFoundError, "file_not_found", 404, "File not found"),
]


@pytest.mark.parametrize(("cls", "code", "status", "message"), ERROR_TABLE)
def test_class_attributes_and_defaults(
    cls: type[BayError], code: str, status: int, message: str
) -> None:
    assert cls.__bases__ == (BayError,)
    assert (cls.code, cls.status_code, cls.message) == (code, status, message)
    err = cls()
    assert err.message == message
    assert str(err) == message
    assert err.details == {}
    assert ERROR_CODE_MAP[code] is cls


def test_base_class_defaults() -> None:
    err = BayError()
    assert (err.code, err.status_code, err.message) == (
        "internal_error",
        500,
        "An internal error occurred",
    )
    assert err.details == {}
    custom = BayError("boom", {"a": 1})
    assert (custom.message, custom.details, str(custom)) == ("boom", {"a": 1}, "boom")
    # The instance message does not leak into the class default.
    assert BayError.message == "An internal error occurred"


def test_maps_are_exactly_the_specified_ones() -> None:
    assert set(ERROR_CODE_MAP) == {code for _, code, _, _ in ERROR_TABLE}
    assert {
        400: ValidationError,
        401: UnauthorizedError,
        403: ForbiddenError,
        404: NotFoundError,
        409: ConflictError,
        429: QuotaExceededError,
        500: BayError,
        502: ShipError,
        503: SessionNotReadyError,
        504: RequestTimeoutError,
    } == STATUS_CODE_MAP


def test_sdk_validation_error_is_not_pydantics() -> None:
    assert ValidationError.__module__ == "shipyard_neo.errors"
    assert not issubclass(ValidationError, pydantic.ValidationError)
    assert errors_module.ValidationError is shipyard_neo.ValidationError


@pytest.mark.parametrize(("cls", "code", "status", "message"), ERROR_TABLE)
async def test_envelope_code_selects_the_class(
    cls: type[BayError], code: str, status: int, message: str, bay: FakeBay, client: BayClient
) -> None:
    # Status deliberately unrelated (418): the code decides.
    details = {"sandbox_id": "sandbox-1", "nested": {"k": [1, 2]}}
    bay.reply(418, {"error": {"code": code, "message": f"server says {code}", "details": details}})
    with pytest.raises(cls) as info:
        await client.get_sandbox("sandbox-1")
    assert type(info.value) is cls
    assert info.value.message == f"server says {code}"
    assert info.value.details == details


@pytest.mark.parametrize(("status", "cls"), sorted(STATUS_CODE_MAP.items()))
async def test_status_selects_the_class_without_code(
    status: int, cls: type[BayError], bay: FakeBay, client: BayClient
) -> None:
    # FastAPI-style body without an `error` key; no retries so one reply suffices.
    client.http.max_retries = 0
    bay.reply(status, {"detail": "Not Found"})
    with pytest.raises(BayError) as info:
        await client.get_sandbox("sandbox-1")
    assert type(info.value) is cls
    assert info.value.message == cls.message
    assert info.value.details == {}


async def test_unknown_code_gives_plain_bay_error(bay: FakeBay, client: BayClient) -> None:
    bay.reply(423, {"error": {"code": "gc_in_progress", "message": "GC is already running"}})
    with pytest.raises(BayError) as info:
        await client.list_profiles()
    assert type(info.value) is BayError
    assert info.value.message == "GC is already running"
    assert info.value.details == {}


async def test_unmapped_status_without_code_gives_bay_error(
    bay: FakeBay, client: BayClient
) -> None:
    bay.reply(422, {"detail": [{"loc": ["query", "limit"], "msg": "bad"}]})
    with pytest.raises(BayError) as info:
        await client.list_sandboxes(limit=0)
    assert type(info.value) is BayError


async def test_schema_error_with_envelope_is_validation_error(
    bay: FakeBay, client: BayClient
) -> None:
    body = {
        "detail": [{"loc": ["body", "timeout"], "msg": "too big", "type": "less_than_equal"}],
        "error": {
            "code": "validation_error",
            "message": "Request validation failed",
            "details": {"errors": [{"loc": ["body", "timeout"]}]},
        },
    }
    bay.reply(422, body)
    with pytest.raises(ValidationError) as info:
        await client.create_sandbox()
    assert info.value.details == {"errors": [{"loc": ["body", "timeout"]}]}


async def test_non_json_404_keeps_status_mapping_and_snippet(
    bay: FakeBay, client: BayClient
) -> None:
    html = "<html><body><h1>404 Not Found</h1>nginx</body></html>"
    bay.reply(404, content=html, headers={"Content-Type": "text/html"})
    with pytest.raises(NotFoundError) as info:
        await client.get_sandbox("sandbox-1")
    assert "non-JSON" in info.value.message
    assert info.value.message == "HTTP 404 returned non-JSON error response"
    assert info.value.details == {"raw_response_snippet": html, "raw_response_truncated": False}


async def test_non_json_502_snippet_is_bounded(bay: FakeBay, client: BayClient) -> None:
    client.http.max_retries = 0
    text = "".join(chr(ord("a") + i % 26) for i in range(600))
    bay.reply(502, content=text, headers={"Content-Type": "text/plain"})
    with pytest.raises(ShipError) as info:
        await client.list_sandboxes()
    assert info.value.details["raw_response_truncated"] is True
    assert info.value.details["raw_response_snippet"] == text[:500]
    assert len(info.value.details["raw_response_snippet"]) == 500


async def test_non_json_error_with_unmapped_status(bay: FakeBay, client: BayClient) -> None:
    bay.reply(418, content=b"\xff\xfe not utf-8")
    with pytest.raises(BayError) as info:
        await client.list_profiles()
    assert type(info.value) is BayError
    assert info.value.message == "HTTP 418 returned non-JSON error response"
    assert "raw_response_snippet" in info.value.details


async def test_empty_error_body(bay: FakeBay, client: BayClient) -> None:
    bay.reply(401)
    with pytest.raises(UnauthorizedError) as info:
        await client.list_profiles()
    assert info.value.details == {"raw_response_snippet": "", "raw_response_truncated": False}


async def test_json_error_that_is_not_an_object(bay: FakeBay, client: BayClient) -> None:
    bay.reply(403, ["denied"])
    with pytest.raises(ForbiddenError) as info:
        await client.list_profiles()
    assert info.value.message == "Permission denied"


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        ({"ignored": 1}, 204, {}),  # 204 never has a meaningful body
        ({"a": 1}, 200, {"a": 1}),
        ([1, 2], 200, {"data": [1, 2]}),
        ("text", 200, {"data": "text"}),
        (None, 200, {}),  # empty 200 body
    ],
)
async def test_success_body_decoding(
    body: Any, status: int, expected: dict[str, Any], bay: FakeBay, client: BayClient
) -> None:
    bay.reply(status, body)
    assert await client.http.get("/v1/anything") == expected


async def test_non_json_success_body_gives_empty_dict(bay: FakeBay, client: BayClient) -> None:
    bay.reply(200, content="<html>ok</html>")
    assert await client.http.post("/v1/anything") == {}


def test_raise_for_error_response_direct() -> None:
    with pytest.raises(SandboxExpiredError) as info:
        raise_for_error_response(
            409,
            {
                "error": {
                    "code": "sandbox_expired",
                    "message": "expired",
                    "details": {"sandbox_id": "s", "expires_at": "t"},
                    "request_id": "r",
                }
            },
        )
    assert info.value.details == {"sandbox_id": "s", "expires_at": "t"}
    with pytest.raises(ConflictError) as conflict:
        raise_for_error_response(409, {"error": {"message": "key reused"}})
    assert conflict.value.message == "key reused"
    with pytest.raises(BayError) as other:
        raise_for_error_response(599, {})
    assert type(other.value) is BayError


async def test_capability_errors_surface_from_filesystem(bay: FakeBay, sandbox: Sandbox) -> None:
    bay.reply(
        404,
        {
            "error": {
                "code": "file_not_found",
                "message": "File not found: x",
                "details": {"path": "x"},
            }
        },
    )
    with pytest.raises(CargoFileNotFoundError) as missing:
        await sandbox.filesystem.read_file("x")
    assert missing.value.details == {"path": "x"}
    bay.reply(
        400,
        {
            "error": {
                "code": "invalid_path",
                "message": "Invalid path",
                "details": {"field": "path", "reason": "path_traversal"},
            }
        },
    )
    with pytest.raises(InvalidPathError):
        await sandbox.filesystem.write_file("../x", "")
    bay.reply(
        400,
        {
            "error": {
                "code": "capability_not_supported",
                "message": "Profile 'python-only' does not support capability: shell",
                "details": {"capability": "shell", "available": ["python"]},
            }
        },
    )
    with pytest.raises(CapabilityNotSupportedError) as cap:
        await sandbox.shell.exec("ls")
    assert cap.value.details["available"] == ["python"]
