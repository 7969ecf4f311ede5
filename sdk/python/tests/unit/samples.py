"""Server responses shaped like the Bay API v1 specification's examples."""

from __future__ import annotations

from typing import Any

TS = "2026-02-06T00:00:00.123456+00:00"
TS_Z = "2026-02-06T01:00:00Z"

SANDBOX: dict[str, Any] = {
    "id": "sandbox-3f9a1c0be27d",
    "status": "ready",
    "profile": "python-default",
    "cargo_id": "ws-0c4e55a1b9f2",
    "capabilities": ["filesystem", "shell", "python"],
    "created_at": TS,
    "expires_at": TS_Z,
    "idle_expires_at": "2026-02-06T00:05:00.000000+00:00",
    "containers": [
        {
            "name": "ship",
            "runtime_type": "ship",
            "status": "running",
            "version": "0.3.1",
            "capabilities": ["filesystem", "python", "shell"],
            "healthy": True,
        }
    ],
    "some_future_field": {"ignored": True},
}

SANDBOX_IDLE: dict[str, Any] = {
    **SANDBOX,
    "status": "idle",
    "expires_at": None,
    "idle_expires_at": None,
    "containers": None,
}

PROFILES: dict[str, Any] = {
    "items": [
        {
            "id": "python-default",
            "image": "ship:latest",
            "resources": {"cpus": 1.0, "memory": "1g"},
            "capabilities": ["filesystem", "shell", "python"],
            "idle_timeout": 300,
            "description": "default",
            "containers": [
                {
                    "name": "ship",
                    "runtime_type": "ship",
                    "capabilities": ["filesystem", "python", "shell"],
                    "resources": {"cpus": 1.0, "memory": "1g"},
                }
            ],
        }
    ]
}

CARGO: dict[str, Any] = {
    "id": "ws-0c4e55a1b9f2",
    "managed": False,
    "managed_by_sandbox_id": None,
    "backend": "docker_volume",
    "size_limit_mb": 1024,
    "created_at": TS,
    "last_accessed_at": TS,
}

HISTORY_ENTRY: dict[str, Any] = {
    "id": "exec-5b7d0e2f9a11",
    "session_id": "sess-91aa3e6c0d77",
    "exec_type": "python",
    "code": "print('hello')",
    "success": True,
    "execution_time_ms": 142,
    "output": "hello",
    "error": None,
    "payload_ref": None,
    "description": "smoke run",
    "tags": "python,smoke",
    "notes": None,
    "learn_enabled": False,
    "learn_status": None,
    "learn_error": None,
    "learn_processed_at": None,
    "created_at": TS,
}

PYTHON_RESULT: dict[str, Any] = {
    "success": True,
    "output": "3",
    "error": None,
    "data": {"execution_count": 1, "output": {"text": "3", "images": []}},
    "execution_id": "exec-5b7d0e2f9a11",
    "execution_time_ms": 142,
    "code": None,
}

SHELL_RESULT: dict[str, Any] = {
    "success": False,
    "output": "",
    "error": "ls: cannot access '/nonexistent': No such file or directory",
    "exit_code": 2,
    "execution_id": "exec-000000000002",
    "execution_time_ms": 31,
    "command": None,
}

BROWSER_RESULT: dict[str, Any] = {
    "success": True,
    "output": "ok",
    "error": None,
    "exit_code": 0,
    "execution_id": "exec-000000000003",
    "execution_time_ms": 12,
    "trace_ref": "blob:blob-0f1e2d3c4b5a",
}

BROWSER_STEP: dict[str, Any] = {
    "cmd": "open https://example.com",
    "stdout": "ok",
    "stderr": "",
    "exit_code": 0,
    "step_index": 0,
    "duration_ms": 40,
}

BROWSER_BATCH: dict[str, Any] = {
    "results": [BROWSER_STEP],
    "total_steps": 3,
    "completed_steps": 1,
    "success": False,
    "duration_ms": 130,
    "execution_id": "exec-000000000004",
    "execution_time_ms": 136,
    "trace_ref": None,
}

BROWSER_SKILL_RUN: dict[str, Any] = {
    "skill_key": "login",
    "release_id": "sr-a1b2c3d4e5f6",
    "execution_id": "exec-000000000005",
    "execution_time_ms": 200,
    "trace_ref": None,
    "results": [BROWSER_STEP],
    "total_steps": 1,
    "completed_steps": 1,
    "success": True,
    "duration_ms": 190,
}

CANDIDATE: dict[str, Any] = {
    "id": "sc-1e2d3c4b5a69",
    "skill_key": "etl-loader",
    "scenario_key": "csv-import",
    "payload_ref": "s3://skills/etl-loader/v1",
    "skill_type": "code",
    "auto_release_eligible": False,
    "auto_release_reason": None,
    "summary": None,
    "usage_notes": None,
    "preconditions": {"needs": "csv"},
    "postconditions": None,
    "source_execution_ids": ["exec-000000000001", "exec-000000000002"],
    "status": "draft",
    "latest_score": None,
    "latest_pass": None,
    "last_evaluated_at": None,
    "promotion_release_id": None,
    "created_by": "default",
    "created_at": TS,
    "updated_at": TS,
    "is_deleted": False,
    "deleted_at": None,
    "deleted_by": None,
    "delete_reason": None,
}

EVALUATION: dict[str, Any] = {
    "id": "se-77f0a2b4c6d8",
    "candidate_id": "sc-1e2d3c4b5a69",
    "benchmark_id": "bench-etl-001",
    "score": 0.96,
    "passed": True,
    "report": "all checks passed",
    "evaluated_by": "default",
    "created_at": TS,
}

RELEASE: dict[str, Any] = {
    "id": "sr-a1b2c3d4e5f6",
    "skill_key": "etl-loader",
    "candidate_id": "sc-1e2d3c4b5a69",
    "version": 1,
    "stage": "canary",
    "is_active": True,
    "release_mode": "manual",
    "promoted_by": "default",
    "promoted_at": TS,
    "rollback_of": None,
    "auto_promoted_from": None,
    "health_window_end_at": None,
    "upgrade_of_release_id": None,
    "upgrade_reason": None,
    "change_summary": None,
    "is_deleted": False,
    "deleted_at": None,
    "deleted_by": None,
    "delete_reason": None,
}

HEALTH: dict[str, Any] = {
    "release_id": "sr-a1b2c3d4e5f6",
    "skill_key": "etl-loader",
    "stage": "canary",
    "window_start_at": TS,
    "window_end_at": TS_Z,
    "window_complete": False,
    "samples": 0,
    "success_rate": 0.0,
    "error_rate": 0.0,
    "p95_duration": 0,
    "baseline_success_rate": 1.0,
    "baseline_error_rate": 0.0,
    "baseline_samples": 0,
    "success_drop": 1.0,
    "error_rate_multiplier": 1.0,
    "healthy": False,
    "should_rollback": False,
    "rollback_reasons": [],
    "thresholds": {"success_drop": 0.03, "error_rate_multiplier": 2.0},
}

DELETED: dict[str, Any] = {
    "id": "sr-a1b2c3d4e5f6",
    "deleted_at": TS,
    "deleted_by": "default",
    "delete_reason": "cleanup",
}

FILE_ENTRIES: dict[str, Any] = {
    "entries": [
        {
            "name": "src",
            "path": "src",
            "is_file": False,
            "is_dir": True,
            "type": "directory",
            "size": None,
            "modified_time": 1770336000.0,
            "modified_at": TS,
        },
        {
            "name": "app.py",
            "path": "app.py",
            "is_file": True,
            "is_dir": False,
            "type": "file",
            "size": 11,
            "modified_time": 1770336000.0,
            "modified_at": TS,
        },
    ]
}
