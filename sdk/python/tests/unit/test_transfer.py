"""Multipart upload and binary download."""

from __future__ import annotations

import email.parser
import email.policy
from email.message import Message

import pytest

from shipyard_neo import BayError, CargoFileNotFoundError, ShipError
from shipyard_neo.sandbox import Sandbox

from .conftest import FakeBay

BASE = "/v1/sandboxes/sandbox-3f9a1c0be27d"
ALL_BYTES = bytes(range(256)) * 4


def _parts(content_type: str, body: bytes) -> dict[str, Message]:
    """Parses a multipart/form-data body into {field name: part}."""
    raw = b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    assert msg.is_multipart()
    parts: dict[str, Message] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        parts[str(name)] = part
    return parts


async def test_upload_sends_multipart_with_file_and_path(bay: FakeBay, sandbox: Sandbox) -> None:
    bay.reply(200, {"status": "ok", "path": "bin/model.bin", "size": len(ALL_BYTES)})

    await sandbox.filesystem.upload("bin/model.bin", ALL_BYTES)

    request = bay.last
    assert request.method == "POST"
    assert request.url.raw_path == f"{BASE}/filesystem/upload".encode()
    assert request.headers["Authorization"] == "Bearer tok-123"
    assert "Idempotency-Key" not in request.headers
    content_type = request.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    parts = _parts(content_type, request.content)
    assert set(parts) == {"file", "path"}
    file_part = parts["file"]
    assert file_part.get_param("filename", header="content-disposition") == "upload"
    assert file_part.get_content_type() == "application/octet-stream"
    assert file_part.get_payload(decode=True) == ALL_BYTES
    assert parts["path"].get_payload(decode=True) == b"bin/model.bin"


async def test_upload_error_is_mapped(bay: FakeBay, sandbox: Sandbox) -> None:
    bay.reply(422, {"detail": [{"loc": ["body", "file"]}]})
    with pytest.raises(BayError) as info:
        await sandbox.filesystem.upload("x", b"")
    assert type(info.value) is BayError


async def test_download_returns_raw_bytes(bay: FakeBay, sandbox: Sandbox) -> None:
    bay.reply(
        200,
        content=ALL_BYTES,
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Disposition": 'attachment; filename="model.bin"',
        },
    )
    assert await sandbox.filesystem.download("bin/model.bin") == ALL_BYTES
    request = bay.last
    assert request.method == "GET"
    assert request.url.raw_path == f"{BASE}/filesystem/download?path=bin%2Fmodel.bin".encode()
    assert request.content == b""
    assert "Content-Type" not in request.headers


async def test_download_does_not_parse_json_content(bay: FakeBay, sandbox: Sandbox) -> None:
    bay.reply(200, content=b'{"content": "looks like json"}')
    assert await sandbox.filesystem.download("data.json") == b'{"content": "looks like json"}'


async def test_download_of_missing_file_raises(bay: FakeBay, sandbox: Sandbox) -> None:
    bay.reply(
        404,
        {"error": {"code": "file_not_found", "message": "nope", "details": {"path": "gone"}}},
    )
    with pytest.raises(CargoFileNotFoundError) as info:
        await sandbox.filesystem.download("gone")
    assert info.value.details == {"path": "gone"}


async def test_download_non_json_error(bay: FakeBay, sandbox: Sandbox) -> None:
    sandbox._http.max_retries = 0
    bay.reply(502, content=b"<html>Bad Gateway</html>")
    with pytest.raises(ShipError) as info:
        await sandbox.filesystem.download("f")
    assert info.value.details["raw_response_snippet"] == "<html>Bad Gateway</html>"
