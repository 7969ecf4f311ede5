"""Response models: timestamps, unknown fields, optional fields, enums."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pydantic
import pytest

from shipyard_neo import (
    BrowserBatchExecResult,
    CargoInfo,
    ExecutionHistoryEntry,
    FileInfo,
    ProfileInfo,
    PythonExecResult,
    SandboxInfo,
    SandboxStatus,
    ShellExecResult,
    SkillCandidateInfo,
    SkillCandidateStatus,
    SkillReleaseInfo,
    SkillReleaseStage,
)

from . import samples as s


def test_enum_values() -> None:
    assert [m.value for m in SandboxStatus] == ["idle", "starting", "ready", "failed", "expired"]
    assert [m.value for m in SkillCandidateStatus] == [
        "draft",
        "evaluating",
        "promoted",
        "promoted_canary",
        "promoted_stable",
        "rejected",
        "rolled_back",
    ]
    assert [m.value for m in SkillReleaseStage] == ["canary", "stable"]
    assert SandboxStatus("ready") is SandboxStatus.READY
    assert isinstance(SkillReleaseStage.CANARY, str)


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-02-06T00:00:00.123456+00:00",
        "2026-02-06T00:00:00.123Z",
        "2026-02-06T00:00:00Z",
        "2026-02-06T02:00:00.123456+02:00",
    ],
)
def test_timestamps_are_aware(stamp: str) -> None:
    info = SandboxInfo.model_validate({**s.SANDBOX, "created_at": stamp})
    assert info.created_at.utcoffset() is not None
    assert info.created_at.astimezone(timezone.utc).replace(microsecond=0) == datetime(
        2026, 2, 6, tzinfo=timezone.utc
    )


def test_unknown_fields_are_ignored() -> None:
    info = SandboxInfo.model_validate({**s.SANDBOX, "brand_new": 1})
    assert not hasattr(info, "brand_new")
    assert "some_future_field" not in info.model_dump()


def test_sandbox_nullable_fields_are_required() -> None:
    for field in ("expires_at", "idle_expires_at"):
        body = dict(s.SANDBOX)
        del body[field]
        with pytest.raises(pydantic.ValidationError):
            SandboxInfo.model_validate(body)
    body = dict(s.SANDBOX)
    del body["containers"]
    assert SandboxInfo.model_validate(body).containers is None


def test_status_is_a_closed_set() -> None:
    with pytest.raises(pydantic.ValidationError):
        SandboxInfo.model_validate({**s.SANDBOX, "status": "stopping"})


MINIMAL: list[tuple[type[pydantic.BaseModel], dict[str, Any]]] = [
    (PythonExecResult, {"success": True, "output": ""}),
    (ShellExecResult, {"success": True, "output": ""}),
    (FileInfo, {"name": "a", "path": "a", "is_dir": False}),
    (
        ProfileInfo,
        {"id": "p", "image": "i", "resources": {}, "capabilities": [], "idle_timeout": 1},
    ),
    (
        ExecutionHistoryEntry,
        {
            "id": "exec-1",
            "exec_type": "shell",
            "code": "ls",
            "success": True,
            "execution_time_ms": 0,
            "created_at": s.TS,
        },
    ),
    (
        SkillCandidateInfo,
        {
            "id": "sc-1",
            "skill_key": "k",
            "source_execution_ids": [],
            "status": "rolled_back",
            "created_at": s.TS,
            "updated_at": s.TS,
        },
    ),
    (
        SkillReleaseInfo,
        {
            "id": "sr-1",
            "skill_key": "k",
            "candidate_id": "sc-1",
            "version": 2,
            "stage": "stable",
            "is_active": False,
            "promoted_at": s.TS,
        },
    ),
    (
        BrowserBatchExecResult,
        {"results": [], "total_steps": 0, "completed_steps": 0, "success": True},
    ),
]


@pytest.mark.parametrize(("model", "body"), MINIMAL, ids=[m.__name__ for m, _ in MINIMAL])
def test_optional_fields_may_be_omitted(
    model: type[pydantic.BaseModel], body: dict[str, Any]
) -> None:
    model.model_validate(body)


def test_defaults() -> None:
    entry = ExecutionHistoryEntry.model_validate(MINIMAL[4][1])
    assert (entry.learn_enabled, entry.notes, entry.session_id) == (False, None, None)
    cand = SkillCandidateInfo.model_validate(MINIMAL[5][1])
    assert (cand.skill_type, cand.auto_release_eligible, cand.is_deleted) == ("code", False, False)
    rel = SkillReleaseInfo.model_validate(MINIMAL[6][1])
    assert rel.release_mode == "manual"
    assert rel.stage is SkillReleaseStage.STABLE


def test_cargo_and_file_timestamps() -> None:
    cargo = CargoInfo.model_validate(s.CARGO)
    assert cargo.last_accessed_at - cargo.created_at == timedelta(0)
    entry = FileInfo.model_validate(s.FILE_ENTRIES["entries"][1])
    assert entry.modified_at is not None
    assert entry.size == 11


def test_float_with_exponent_parses() -> None:
    # Bay's JSON writer may render 1.0 as 1E0.
    import json

    profile = ProfileInfo.model_validate(
        json.loads(
            '{"id":"p","image":"i","resources":{"cpus":1E0,"memory":"1g"},'
            '"capabilities":["python"],"idle_timeout":300}'
        )
    )
    assert profile.resources["cpus"] == 1.0
