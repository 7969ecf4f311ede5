"""BayClient, Sandbox and capability methods: the exact request each sends and how it
parses the answer."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from shipyard_neo import (
    BayClient,
    BrowserBatchExecResult,
    BrowserExecResult,
    BrowserSkillRunResult,
    ExecutionHistoryEntry,
    ExecutionHistoryList,
    FileInfo,
    ProfileList,
    PythonExecResult,
    SandboxList,
    SandboxStatus,
    ShellExecResult,
)
from shipyard_neo.sandbox import Sandbox

from . import samples as s
from .conftest import FakeBay
from .request_cases import BASE, SID, Case, check_case


def _is_sandbox(result: Any, status: SandboxStatus = SandboxStatus.READY) -> bool:
    return (
        isinstance(result, Sandbox)
        and result.id == SID
        and result.status is status
        and result.cargo_id == s.SANDBOX["cargo_id"]
    )


CASES: list[Case] = [
    # ------------------------------------------------------------------ BayClient
    Case(
        "create_sandbox-defaults",
        lambda c, sb: c.create_sandbox(),
        "POST",
        "/v1/sandboxes",
        b'{"profile":"python-default"}',
        s.SANDBOX_IDLE,
        lambda r: _is_sandbox(r, SandboxStatus.IDLE) and r.expires_at is None,
        status=201,
    ),
    Case(
        "create_sandbox-all-arguments",
        lambda c, sb: c.create_sandbox(
            profile="small", cargo_id="ws-1", ttl=600, idempotency_key="create-req-001"
        ),
        "POST",
        "/v1/sandboxes",
        b'{"profile":"small","cargo_id":"ws-1","ttl":600}',
        s.SANDBOX,
        _is_sandbox,
        status=201,
        idempotency_key="create-req-001",
    ),
    Case(
        "create_sandbox-ttl-zero-is-sent",
        lambda c, sb: c.create_sandbox(ttl=0),
        "POST",
        "/v1/sandboxes",
        b'{"profile":"python-default","ttl":0}',
        s.SANDBOX_IDLE,
        status=201,
    ),
    Case(
        "get_sandbox",
        lambda c, sb: c.get_sandbox(SID),
        "GET",
        BASE,
        None,
        s.SANDBOX,
        lambda r: (
            _is_sandbox(r)
            and r.info.containers is not None
            and r.info.containers[0].version == "0.3.1"
            and r.expires_at == datetime(2026, 2, 6, 1, tzinfo=timezone.utc)
        ),
    ),
    Case(
        "list_sandboxes-limit-only",
        lambda c, sb: c.list_sandboxes(limit=10),
        "GET",
        "/v1/sandboxes?limit=10",
        None,
        {"items": [s.SANDBOX_IDLE], "next_cursor": None},
        lambda r: isinstance(r, SandboxList) and r.items[0].id == SID and r.next_cursor is None,
    ),
    Case(
        "list_sandboxes-defaults",
        lambda c, sb: c.list_sandboxes(),
        "GET",
        "/v1/sandboxes?limit=50",
        None,
        {"items": []},
        lambda r: isinstance(r, SandboxList) and r.items == [],
    ),
    Case(
        "list_sandboxes-cursor-and-status-enum",
        lambda c, sb: c.list_sandboxes(cursor="c1", status=SandboxStatus.READY),
        "GET",
        "/v1/sandboxes?limit=50&cursor=c1&status=ready",
        None,
        {"items": [s.SANDBOX_IDLE], "next_cursor": "c2"},
        lambda r: r.next_cursor == "c2",
    ),
    Case(
        "list_sandboxes-status-string",
        lambda c, sb: c.list_sandboxes(limit=5, status="idle"),
        "GET",
        "/v1/sandboxes?limit=5&status=idle",
        None,
        {"items": [], "next_cursor": None},
    ),
    Case(
        "list_profiles",
        lambda c, sb: c.list_profiles(),
        "GET",
        "/v1/profiles",
        None,
        s.PROFILES,
        lambda r: isinstance(r, ProfileList) and r.items[0].idle_timeout == 300,
    ),
    Case(
        "list_profiles-detail",
        lambda c, sb: c.list_profiles(detail=True),
        "GET",
        "/v1/profiles?detail=true",
        None,
        s.PROFILES,
        lambda r: r.items[0].containers[0].name == "ship" and r.items[0].description == "default",
    ),
    # ------------------------------------------------------------ Sandbox lifecycle
    Case(
        "sandbox.refresh",
        lambda c, sb: sb.refresh(),
        "GET",
        BASE,
        None,
        s.SANDBOX_IDLE,
        lambda r: r is None,
    ),
    Case(
        "sandbox.stop",
        lambda c, sb: sb.stop(),
        "POST",
        f"{BASE}/stop",
        None,
        {"status": "stopped"},
        lambda r: r is None,
    ),
    Case(
        "sandbox.delete",
        lambda c, sb: sb.delete(),
        "DELETE",
        BASE,
        None,
        None,
        lambda r: r is None,
        status=204,
    ),
    Case(
        "sandbox.extend_ttl",
        lambda c, sb: sb.extend_ttl(300),
        "POST",
        f"{BASE}/extend_ttl",
        b'{"extend_by":300}',
        s.SANDBOX,
        lambda r: r is None,
    ),
    Case(
        "sandbox.extend_ttl-idempotency-key",
        lambda c, sb: sb.extend_ttl(1, idempotency_key="extend-req-001"),
        "POST",
        f"{BASE}/extend_ttl",
        b'{"extend_by":1}',
        s.SANDBOX,
        idempotency_key="extend-req-001",
    ),
    Case(
        "sandbox.keepalive",
        lambda c, sb: sb.keepalive(),
        "POST",
        f"{BASE}/keepalive",
        None,
        {"status": "ok"},
        lambda r: r is None,
    ),
    # -------------------------------------------------------------- Sandbox history
    Case(
        "sandbox.get_execution_history-defaults-send-every-boolean",
        lambda c, sb: sb.get_execution_history(),
        "GET",
        f"{BASE}/history?success_only=false&limit=100&offset=0&has_notes=false"
        "&has_description=false",
        None,
        {"entries": [s.HISTORY_ENTRY], "total": 7},
        lambda r: (
            isinstance(r, ExecutionHistoryList)
            and r.total == 7
            and r.entries[0].id == "exec-5b7d0e2f9a11"
        ),
    ),
    Case(
        "sandbox.get_execution_history-all-filters-in-order",
        lambda c, sb: sb.get_execution_history(
            exec_type="python",
            success_only=True,
            tags="etl",
            has_notes=False,
            has_description=True,
            limit=20,
            offset=40,
        ),
        "GET",
        f"{BASE}/history?exec_type=python&success_only=true&limit=20&offset=40&tags=etl"
        "&has_notes=false&has_description=true",
        None,
        {"entries": [], "total": 0},
        lambda r: r.entries == [] and r.total == 0,
    ),
    Case(
        "sandbox.get_execution",
        lambda c, sb: sb.get_execution("exec-5b7d0e2f9a11"),
        "GET",
        f"{BASE}/history/exec-5b7d0e2f9a11",
        None,
        s.HISTORY_ENTRY,
        lambda r: (
            isinstance(r, ExecutionHistoryEntry)
            and r.session_id == "sess-91aa3e6c0d77"
            and r.tags == "python,smoke"
            and r.learn_enabled is False
        ),
    ),
    Case(
        "sandbox.get_last_execution",
        lambda c, sb: sb.get_last_execution(),
        "GET",
        f"{BASE}/history/last",
        None,
        s.HISTORY_ENTRY,
        lambda r: isinstance(r, ExecutionHistoryEntry),
    ),
    Case(
        "sandbox.get_last_execution-exec_type",
        lambda c, sb: sb.get_last_execution(exec_type="python"),
        "GET",
        f"{BASE}/history/last?exec_type=python",
        None,
        s.HISTORY_ENTRY,
    ),
    Case(
        "sandbox.annotate_execution-all-fields",
        lambda c, sb: sb.annotate_execution(
            "exec-1", description="useful snippet", tags="etl,stable", notes="candidate source"
        ),
        "PATCH",
        f"{BASE}/history/exec-1",
        b'{"description":"useful snippet","tags":"etl,stable","notes":"candidate source"}',
        {**s.HISTORY_ENTRY, "notes": "candidate source"},
        lambda r: isinstance(r, ExecutionHistoryEntry) and r.notes == "candidate source",
    ),
    Case(
        "sandbox.annotate_execution-notes-only",
        lambda c, sb: sb.annotate_execution("exec-1", notes="n"),
        "PATCH",
        f"{BASE}/history/exec-1",
        b'{"notes":"n"}',
        s.HISTORY_ENTRY,
    ),
    Case(
        "sandbox.annotate_execution-nothing-sends-empty-object",
        lambda c, sb: sb.annotate_execution("exec-1"),
        "PATCH",
        f"{BASE}/history/exec-1",
        b"{}",
        s.HISTORY_ENTRY,
    ),
    # ------------------------------------------------------------------- python
    Case(
        "python.exec-defaults",
        lambda c, sb: sb.python.exec("1 + 2"),
        "POST",
        f"{BASE}/python/exec",
        b'{"code":"1 + 2","timeout":30,"include_code":false}',
        s.PYTHON_RESULT,
        lambda r: (
            isinstance(r, PythonExecResult)
            and r.output == "3"
            and r.data is not None
            and r.data["execution_count"] == 1
            and r.execution_time_ms == 142
        ),
        timeout=40.0,
    ),
    Case(
        "python.exec-all-arguments",
        lambda c, sb: sb.python.exec(
            "print('hello')",
            timeout=120,
            include_code=True,
            description="smoke run",
            tags="smoke,python",
        ),
        "POST",
        f"{BASE}/python/exec",
        b'{"code":"print(\'hello\')","timeout":120,"include_code":true,'
        b'"description":"smoke run","tags":"smoke,python"}',
        {**s.PYTHON_RESULT, "code": "print('hello')"},
        lambda r: r.code == "print('hello')",
        timeout=130.0,
    ),
    Case(
        "python.exec-non-ascii-is-utf8",
        lambda c, sb: sb.python.exec("print('héllo ✓')"),
        "POST",
        f"{BASE}/python/exec",
        '{"code":"print(\'héllo ✓\')","timeout":30,"include_code":false}'.encode(),
        {"success": True, "output": "héllo ✓"},
        lambda r: r.output == "héllo ✓" and r.execution_id is None and r.error is None,
        timeout=40.0,
    ),
    # -------------------------------------------------------------------- shell
    Case(
        "shell.exec-defaults",
        lambda c, sb: sb.shell.exec("ls /nonexistent"),
        "POST",
        f"{BASE}/shell/exec",
        b'{"command":"ls /nonexistent","timeout":30,"include_code":false}',
        s.SHELL_RESULT,
        lambda r: isinstance(r, ShellExecResult) and r.exit_code == 2 and not r.success,
        timeout=40.0,
    ),
    Case(
        "shell.exec-all-arguments",
        lambda c, sb: sb.shell.exec(
            "echo hello",
            cwd=".",
            timeout=30,
            include_code=True,
            description="shell exec",
            tags="demo,shell",
        ),
        "POST",
        f"{BASE}/shell/exec",
        b'{"command":"echo hello","timeout":30,"cwd":".","include_code":true,'
        b'"description":"shell exec","tags":"demo,shell"}',
        {**s.SHELL_RESULT, "success": True, "exit_code": 0, "command": "echo hello"},
        lambda r: r.command == "echo hello",
        timeout=40.0,
    ),
    # --------------------------------------------------------------- filesystem
    Case(
        "filesystem.read_file",
        lambda c, sb: sb.filesystem.read_file("app.py"),
        "GET",
        f"{BASE}/filesystem/files?path=app.py",
        None,
        {"content": "print('hi')"},
        lambda r: r == "print('hi')",
    ),
    Case(
        "filesystem.read_file-encodes-path",
        lambda c, sb: sb.filesystem.read_file("dir/my file.txt"),
        "GET",
        f"{BASE}/filesystem/files?path=dir%2Fmy+file.txt",
        None,
        {},
        lambda r: r == "",
    ),
    Case(
        "filesystem.write_file",
        lambda c, sb: sb.filesystem.write_file("a/b/c.txt", "line1\nline2"),
        "PUT",
        f"{BASE}/filesystem/files",
        b'{"path":"a/b/c.txt","content":"line1\\nline2"}',
        {"status": "ok"},
        lambda r: r is None,
    ),
    Case(
        "filesystem.list_dir-default",
        lambda c, sb: sb.filesystem.list_dir(),
        "GET",
        f"{BASE}/filesystem/directories?path=.",
        None,
        s.FILE_ENTRIES,
        lambda r: (
            isinstance(r, list)
            and all(isinstance(e, FileInfo) for e in r)
            and [(e.name, e.is_dir, e.size) for e in r]
            == [("src", True, None), ("app.py", False, 11)]
        ),
    ),
    Case(
        "filesystem.list_dir-path",
        lambda c, sb: sb.filesystem.list_dir("src"),
        "GET",
        f"{BASE}/filesystem/directories?path=src",
        None,
        {},
        lambda r: r == [],
    ),
    Case(
        "filesystem.delete",
        lambda c, sb: sb.filesystem.delete("app.py"),
        "DELETE",
        f"{BASE}/filesystem/files?path=app.py",
        None,
        {"status": "ok"},
        lambda r: r is None,
    ),
    # ------------------------------------------------------------------ browser
    Case(
        "browser.exec-defaults-send-explicit-false",
        lambda c, sb: sb.browser.exec("open https://example.com"),
        "POST",
        f"{BASE}/browser/exec",
        b'{"cmd":"open https://example.com","timeout":30,"learn":false,"include_trace":false}',
        s.BROWSER_RESULT,
        lambda r: isinstance(r, BrowserExecResult) and r.trace_ref == "blob:blob-0f1e2d3c4b5a",
        timeout=40.0,
    ),
    Case(
        "browser.exec-all-arguments",
        lambda c, sb: sb.browser.exec(
            "snapshot", timeout=300, description="d", tags="t", learn=True, include_trace=True
        ),
        "POST",
        f"{BASE}/browser/exec",
        b'{"cmd":"snapshot","timeout":300,"description":"d","tags":"t","learn":true,'
        b'"include_trace":true}',
        s.BROWSER_RESULT,
        timeout=310.0,
    ),
    Case(
        "browser.exec_batch-defaults",
        lambda c, sb: sb.browser.exec_batch(["open https://example.com", "snapshot"]),
        "POST",
        f"{BASE}/browser/exec_batch",
        b'{"commands":["open https://example.com","snapshot"],"timeout":60,'
        b'"stop_on_error":true,"learn":false,"include_trace":false}',
        s.BROWSER_BATCH,
        lambda r: (
            isinstance(r, BrowserBatchExecResult)
            and r.completed_steps == 1
            and r.results[0].duration_ms == 40
        ),
        timeout=75.0,
    ),
    Case(
        "browser.exec_batch-all-arguments",
        lambda c, sb: sb.browser.exec_batch(
            ["a"],
            timeout=600,
            stop_on_error=False,
            description="d",
            tags="t",
            learn=True,
            include_trace=True,
        ),
        "POST",
        f"{BASE}/browser/exec_batch",
        b'{"commands":["a"],"timeout":600,"stop_on_error":false,"description":"d","tags":"t",'
        b'"learn":true,"include_trace":true}',
        s.BROWSER_BATCH,
        timeout=615.0,
    ),
    Case(
        "browser.run_skill-defaults",
        lambda c, sb: sb.browser.run_skill("login"),
        "POST",
        f"{BASE}/browser/skills/login/run",
        b'{"timeout":60,"stop_on_error":true,"include_trace":false}',
        s.BROWSER_SKILL_RUN,
        lambda r: isinstance(r, BrowserSkillRunResult) and r.release_id == "sr-a1b2c3d4e5f6",
        timeout=75.0,
    ),
    Case(
        "browser.run_skill-all-arguments",
        lambda c, sb: sb.browser.run_skill(
            "login", timeout=10, stop_on_error=False, include_trace=True, description="d", tags="t"
        ),
        "POST",
        f"{BASE}/browser/skills/login/run",
        b'{"timeout":10,"stop_on_error":false,"include_trace":true,"description":"d","tags":"t"}',
        s.BROWSER_SKILL_RUN,
        timeout=25.0,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_request_and_response(
    case: Case, bay: FakeBay, client: BayClient, sandbox: Sandbox
) -> None:
    await check_case(case, bay, client, sandbox)


async def test_extend_ttl_replaces_cached_info(bay: FakeBay, sandbox: Sandbox) -> None:
    later = {**s.SANDBOX, "expires_at": "2026-02-06T01:05:00+00:00"}
    bay.reply(200, later)
    await sandbox.extend_ttl(300)
    assert sandbox.expires_at == datetime(2026, 2, 6, 1, 5, tzinfo=timezone.utc)


async def test_refresh_replaces_cached_info(bay: FakeBay, sandbox: Sandbox) -> None:
    before = sandbox.status
    bay.reply(200, s.SANDBOX_IDLE)
    await sandbox.refresh()
    assert (before, sandbox.status) == (SandboxStatus.READY, SandboxStatus.IDLE)
    assert sandbox.idle_expires_at is None
    assert sandbox.expires_at is None
