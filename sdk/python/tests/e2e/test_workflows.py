"""Full agent workflows through the SDK against the real bay."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime, timezone

import pytest

from shipyard_neo import (
    BayClient,
    BayError,
    CapabilityNotSupportedError,
    CargoFileNotFoundError,
    ExecutionHistoryEntry,
    FileInfo,
    InvalidPathError,
    NotFoundError,
    SandboxExpiredError,
    SandboxStatus,
    SandboxTTLInfiniteError,
    UnauthorizedError,
    ValidationError,
)
from shipyard_neo.sandbox import Sandbox

from .conftest import BayServer

BINARY = bytes(range(256)) * 64 + os.urandom(4096)


def _status(sandbox: Sandbox) -> SandboxStatus:
    # A call, so that type checkers do not carry the narrowed status across refresh().
    return sandbox.status


async def test_agent_workflow(client: BayClient) -> None:
    # Discover the profile and create a sandbox: lazy, nothing runs yet.
    profiles = await client.list_profiles()
    assert "python-default" in [p.id for p in profiles.items]
    detailed = await client.list_profiles(detail=True)
    default = next(p for p in detailed.items if p.id == "python-default")
    assert default.containers is not None
    assert default.containers[0].name == "ship"

    sandbox = await client.create_sandbox(profile="python-default", ttl=600)
    assert sandbox.id.startswith("sandbox-")
    assert sandbox.cargo_id.startswith("ws-")
    assert _status(sandbox) is SandboxStatus.IDLE
    assert sandbox.idle_expires_at is None
    assert sandbox.expires_at is not None
    assert sandbox.expires_at > datetime.now(timezone.utc)
    assert sorted(sandbox.capabilities) == ["filesystem", "python", "shell"]

    same = await client.get_sandbox(sandbox.id)
    assert (same.id, same.cargo_id, same.status) == (sandbox.id, sandbox.cargo_id, sandbox.status)
    listed = await client.list_sandboxes(limit=200)
    assert sandbox.id in [s.id for s in listed.items]
    idle = await client.list_sandboxes(status=SandboxStatus.IDLE, limit=200)
    assert sandbox.id in [s.id for s in idle.items]

    # Python: the first call cold-starts the session; state persists across calls.
    first = await sandbox.python.exec(
        "x = 41\nprint('ready')",
        include_code=True,
        description="set x",
        tags="state,python",
    )
    assert first.success, first.error
    assert first.output == "ready"
    assert first.code == "x = 41\nprint('ready')"
    assert first.execution_id is not None
    assert first.execution_id.startswith("exec-")
    assert first.execution_time_ms is not None
    second = await sandbox.python.exec("x + 1")
    assert (second.success, second.output, second.code) == (True, "42", None)
    failing = await sandbox.python.exec("1 / 0")
    assert not failing.success
    assert failing.error is not None
    assert "ZeroDivisionError" in failing.error

    await sandbox.refresh()
    assert _status(sandbox) is SandboxStatus.READY
    running = sandbox.info
    assert running.idle_expires_at is not None
    assert running.containers
    assert running.containers[0].status == "running"

    # Shell: same workspace, exit codes, cwd.
    sh = await sandbox.shell.exec("echo hello && pwd", include_code=True, tags="shell")
    assert (sh.success, sh.output, sh.exit_code) == (True, "hello\n/workspace", 0)
    assert sh.command == "echo hello && pwd"
    bad = await sandbox.shell.exec("echo oops >&2; exit 42")
    assert (bad.success, bad.exit_code, bad.error) == (False, 42, "oops")
    await sandbox.shell.exec("mkdir -p sub/dir")
    in_sub = await sandbox.shell.exec("pwd", cwd="sub/dir")
    assert in_sub.output == "/workspace/sub/dir"

    # Files: text and binary, visible to python and shell.
    await sandbox.filesystem.write_file("notes/a.txt", "héllo\nwörld")
    assert await sandbox.filesystem.read_file("notes/a.txt") == "héllo\nwörld"
    await sandbox.filesystem.write_file("with space & plus+.txt", "odd name")
    assert await sandbox.filesystem.read_file("with space & plus+.txt") == "odd name"
    seen = await sandbox.python.exec("print(open('notes/a.txt', encoding='utf-8').read())")
    assert seen.output == "héllo\nwörld"

    await sandbox.filesystem.upload("bin/blob.bin", BINARY)
    assert await sandbox.filesystem.download("bin/blob.bin") == BINARY
    size = await sandbox.shell.exec("stat -c %s bin/blob.bin")
    assert size.output == str(len(BINARY))
    entries = await sandbox.filesystem.list_dir("bin")
    assert all(isinstance(e, FileInfo) for e in entries)
    assert [(e.name, e.path, e.is_dir, e.size) for e in entries] == [
        ("blob.bin", "bin/blob.bin", False, len(BINARY))
    ]
    root = {e.name: e for e in await sandbox.filesystem.list_dir()}
    assert root["notes"].is_dir
    assert root["bin"].is_dir

    await sandbox.filesystem.delete("notes/a.txt")
    with pytest.raises(CargoFileNotFoundError):
        await sandbox.filesystem.read_file("notes/a.txt")
    with pytest.raises(CargoFileNotFoundError):
        await sandbox.filesystem.download("notes/a.txt")

    # History: filters, single entries, annotation.
    history = await sandbox.get_execution_history(exec_type="python")
    assert history.total == 4
    assert {e.exec_type for e in history.entries} == {"python"}
    assert history.entries[-1].id == first.execution_id
    ok_only = await sandbox.get_execution_history(exec_type="python", success_only=True)
    assert failing.execution_id not in [e.id for e in ok_only.entries]
    tagged = await sandbox.get_execution_history(tags="state")
    assert [e.id for e in tagged.entries] == [first.execution_id]
    assert tagged.entries[0].tags == "python,state"
    assert tagged.entries[0].description == "set x"
    page = await sandbox.get_execution_history(limit=2, offset=1)
    assert len(page.entries) == 2
    assert page.total == history.total + 5  # five shell calls so far

    entry = await sandbox.get_execution(second.execution_id or "")
    assert isinstance(entry, ExecutionHistoryEntry)
    assert (entry.code, entry.output, entry.success) == ("x + 1", "42", True)
    assert entry.session_id is not None
    last_shell = await sandbox.get_last_execution(exec_type="shell")
    assert last_shell.exec_type == "shell"
    assert last_shell.code == "stat -c %s bin/blob.bin"
    last_any = await sandbox.get_last_execution()
    assert last_any.id == last_shell.id

    annotated = await sandbox.annotate_execution(
        second.execution_id or "", description="adds one", tags="math, stable", notes="keep"
    )
    assert (annotated.description, annotated.tags, annotated.notes) == (
        "adds one",
        "math,stable",
        "keep",
    )
    unchanged = await sandbox.annotate_execution(second.execution_id or "")
    assert unchanged.notes == "keep"
    with_notes = await sandbox.get_execution_history(has_notes=True)
    assert [e.id for e in with_notes.entries] == [second.execution_id]
    described = await sandbox.get_execution_history(has_description=True)
    assert {e.id for e in described.entries} == {first.execution_id, second.execution_id}

    # TTL and keepalive never touch the session.
    before = sandbox.expires_at
    await sandbox.keepalive()
    await sandbox.extend_ttl(300)
    assert sandbox.expires_at is not None
    assert before is not None
    assert sandbox.expires_at > before
    still = await sandbox.python.exec("x")
    assert still.output == "41"

    # Stop: compute gone, files kept, the next call resumes transparently.
    await sandbox.stop()
    await sandbox.refresh()
    assert _status(sandbox) is SandboxStatus.IDLE
    assert sandbox.idle_expires_at is None
    assert sandbox.info.containers is None
    await sandbox.stop()  # idempotent
    assert await sandbox.filesystem.download("bin/blob.bin") == BINARY
    lost = await sandbox.python.exec("x")
    assert not lost.success
    assert lost.error is not None
    assert "NameError" in lost.error
    await sandbox.refresh()
    assert _status(sandbox) is SandboxStatus.READY

    # Delete: gone for good.
    await sandbox.delete()
    with pytest.raises(NotFoundError):
        await client.get_sandbox(sandbox.id)
    with pytest.raises(NotFoundError):
        await sandbox.get_execution_history()


async def test_two_sandboxes_are_isolated(client: BayClient) -> None:
    a, b = await asyncio.gather(client.create_sandbox(), client.create_sandbox())
    assert a.cargo_id != b.cargo_id
    await asyncio.gather(
        a.filesystem.write_file("who.txt", "a"), b.filesystem.write_file("who.txt", "b")
    )
    ra, rb = await asyncio.gather(a.python.exec("v = 'a'; v"), b.python.exec("v"))
    assert ra.output == "'a'"
    assert not rb.success
    assert await a.filesystem.read_file("who.txt") == "a"
    assert await b.filesystem.read_file("who.txt") == "b"
    await asyncio.gather(a.delete(), b.delete())


async def test_server_errors_map_to_sdk_exceptions(
    client: BayClient, bay_server: BayServer
) -> None:
    async with BayClient(bay_server.url, "wrong-token") as intruder:
        with pytest.raises(UnauthorizedError):
            await intruder.list_sandboxes()

    with pytest.raises(NotFoundError):
        await client.get_sandbox("sandbox-000000000000")
    with pytest.raises(ValidationError, match="profile"):
        await client.create_sandbox(profile="no-such-profile")
    with pytest.raises(BayError):  # 422 schema violation (body not relied upon)
        await client.list_sandboxes(limit=0)

    sandbox = await client.create_sandbox()
    with pytest.raises(NotFoundError):
        await sandbox.get_last_execution()
    with pytest.raises(SandboxTTLInfiniteError) as infinite:
        await sandbox.extend_ttl(60)
    assert infinite.value.details.get("sandbox_id") == sandbox.id
    with pytest.raises(InvalidPathError) as traversal:
        await sandbox.filesystem.read_file("../etc/passwd")
    assert traversal.value.details == {"field": "path", "reason": "path_traversal"}
    with pytest.raises(InvalidPathError) as absolute:
        await sandbox.shell.exec("ls", cwd="/etc")
    assert absolute.value.details == {"field": "cwd", "reason": "absolute_path"}
    # No profile has a browser: the route exists and answers without starting compute.
    with pytest.raises(CapabilityNotSupportedError) as browser:
        await sandbox.browser.exec("open https://example.com")
    assert browser.value.details["capability"] == "browser"
    with pytest.raises(CapabilityNotSupportedError):
        await sandbox.browser.exec_batch(["snapshot"])
    await sandbox.refresh()
    assert _status(sandbox) is SandboxStatus.IDLE  # none of the above started compute
    await sandbox.delete()

    restricted = await client.create_sandbox(profile="python-only")
    with pytest.raises(CapabilityNotSupportedError) as shell:
        await restricted.shell.exec("ls")
    assert shell.value.details == {"capability": "shell", "available": ["python"]}
    with pytest.raises(CapabilityNotSupportedError):
        await restricted.filesystem.upload("x.bin", b"x")
    with pytest.raises(CapabilityNotSupportedError):
        await restricted.filesystem.download("x.bin")
    await restricted.delete()


async def test_expired_sandbox_cannot_be_extended(client: BayClient) -> None:
    sandbox = await client.create_sandbox(ttl=1)
    deadline = time.monotonic() + 30
    while _status(sandbox) is not SandboxStatus.EXPIRED:
        assert time.monotonic() < deadline, "sandbox never reported expired"
        await asyncio.sleep(0.2)
        await sandbox.refresh()
    with pytest.raises(SandboxExpiredError) as info:
        await sandbox.extend_ttl(60)
    assert info.value.details.get("sandbox_id") == sandbox.id
    await sandbox.delete()
