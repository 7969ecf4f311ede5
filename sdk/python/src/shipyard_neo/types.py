"""Enums and pydantic models of the Bay API v1, plus the SDK's internal request models.

Response models ignore unknown fields so that newer servers can add fields without
breaking older clients; optional fields have defaults so that responses omitting them
still parse.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BrowserBatchExecResult",
    "BrowserBatchStepResult",
    "BrowserExecResult",
    "BrowserSkillRunResult",
    "CargoInfo",
    "CargoList",
    "ContainerInfo",
    "ExecutionHistoryEntry",
    "ExecutionHistoryList",
    "FileInfo",
    "ProfileInfo",
    "ProfileList",
    "PythonExecResult",
    "RuntimeContainerInfo",
    "SandboxInfo",
    "SandboxList",
    "SandboxStatus",
    "ShellExecResult",
    "SkillCandidateInfo",
    "SkillCandidateList",
    "SkillCandidateStatus",
    "SkillEvaluationInfo",
    "SkillPayloadCreateInfo",
    "SkillPayloadInfo",
    "SkillReleaseHealth",
    "SkillReleaseInfo",
    "SkillReleaseList",
    "SkillReleaseStage",
]


# ----------------------------------------------------------------------------- enums


class SandboxStatus(str, Enum):
    IDLE = "idle"
    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"
    EXPIRED = "expired"


class SkillCandidateStatus(str, Enum):
    DRAFT = "draft"
    EVALUATING = "evaluating"
    PROMOTED = "promoted"
    PROMOTED_CANARY = "promoted_canary"
    PROMOTED_STABLE = "promoted_stable"
    REJECTED = "rejected"
    ROLLED_BACK = "rolled_back"


class SkillReleaseStage(str, Enum):
    CANARY = "canary"
    STABLE = "stable"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --------------------------------------------------------------- sandboxes / profiles


class RuntimeContainerInfo(_Model):
    name: str
    runtime_type: str
    status: str
    version: str | None = None
    capabilities: list[str]
    healthy: bool | None = None


class SandboxInfo(_Model):
    id: str
    status: SandboxStatus
    profile: str
    cargo_id: str
    capabilities: list[str]
    created_at: datetime
    # Required but nullable: None means "no TTL" / "no running session".
    expires_at: datetime | None
    idle_expires_at: datetime | None
    containers: list[RuntimeContainerInfo] | None = None


class SandboxList(_Model):
    items: list[SandboxInfo]
    next_cursor: str | None = None


class ContainerInfo(_Model):
    name: str
    runtime_type: str
    capabilities: list[str]
    resources: dict[str, Any]


class ProfileInfo(_Model):
    id: str
    image: str
    resources: dict[str, Any]
    capabilities: list[str]
    idle_timeout: int
    description: str | None = None
    containers: list[ContainerInfo] | None = None


class ProfileList(_Model):
    items: list[ProfileInfo]


# ------------------------------------------------------------------- cargo / files


class CargoInfo(_Model):
    id: str
    managed: bool
    managed_by_sandbox_id: str | None
    backend: str
    size_limit_mb: int
    created_at: datetime
    last_accessed_at: datetime


class CargoList(_Model):
    items: list[CargoInfo]
    next_cursor: str | None = None


class FileInfo(_Model):
    name: str
    path: str
    is_dir: bool
    size: int | None = None
    modified_at: datetime | None = None


# --------------------------------------------------------------- execution results


class PythonExecResult(_Model):
    success: bool
    output: str
    error: str | None = None
    data: dict[str, Any] | None = None
    execution_id: str | None = None
    execution_time_ms: int | None = None
    code: str | None = None


class ShellExecResult(_Model):
    success: bool
    output: str
    error: str | None = None
    exit_code: int | None = None
    execution_id: str | None = None
    execution_time_ms: int | None = None
    command: str | None = None


class BrowserExecResult(_Model):
    success: bool
    output: str
    error: str | None = None
    exit_code: int | None = None
    execution_id: str | None = None
    execution_time_ms: int | None = None
    trace_ref: str | None = None


class BrowserBatchStepResult(_Model):
    cmd: str
    stdout: str
    stderr: str
    exit_code: int
    step_index: int
    duration_ms: int = 0


class BrowserBatchExecResult(_Model):
    results: list[BrowserBatchStepResult]
    total_steps: int
    completed_steps: int
    success: bool
    duration_ms: int = 0
    execution_id: str | None = None
    execution_time_ms: int | None = None
    trace_ref: str | None = None


class BrowserSkillRunResult(_Model):
    skill_key: str
    release_id: str
    execution_id: str
    execution_time_ms: int
    trace_ref: str | None = None
    results: list[BrowserBatchStepResult]
    total_steps: int
    completed_steps: int
    success: bool
    duration_ms: int = 0


# ------------------------------------------------------------------------- history


class ExecutionHistoryEntry(_Model):
    id: str
    session_id: str | None = None
    exec_type: str
    code: str
    success: bool
    execution_time_ms: int
    output: str | None = None
    error: str | None = None
    payload_ref: str | None = None
    description: str | None = None
    tags: str | None = None
    notes: str | None = None
    learn_enabled: bool = False
    learn_status: str | None = None
    learn_error: str | None = None
    learn_processed_at: datetime | None = None
    created_at: datetime


class ExecutionHistoryList(_Model):
    entries: list[ExecutionHistoryEntry]
    total: int


# -------------------------------------------------------------------------- skills


class SkillCandidateInfo(_Model):
    id: str
    skill_key: str
    scenario_key: str | None = None
    payload_ref: str | None = None
    skill_type: str = "code"
    auto_release_eligible: bool = False
    auto_release_reason: str | None = None
    summary: str | None = None
    usage_notes: str | None = None
    preconditions: dict[str, Any] | None = None
    postconditions: dict[str, Any] | None = None
    source_execution_ids: list[str]
    status: SkillCandidateStatus
    latest_score: float | None = None
    latest_pass: bool | None = None
    last_evaluated_at: datetime | None = None
    promotion_release_id: str | None = None
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime
    is_deleted: bool = False
    deleted_at: datetime | None = None
    deleted_by: str | None = None
    delete_reason: str | None = None


class SkillCandidateList(_Model):
    items: list[SkillCandidateInfo]
    total: int


class SkillEvaluationInfo(_Model):
    id: str
    candidate_id: str
    benchmark_id: str | None = None
    score: float | None = None
    passed: bool
    report: str | None = None
    evaluated_by: str | None = None
    created_at: datetime


class SkillReleaseInfo(_Model):
    id: str
    skill_key: str
    candidate_id: str
    version: int
    stage: SkillReleaseStage
    is_active: bool
    release_mode: str = "manual"
    promoted_by: str | None = None
    promoted_at: datetime
    rollback_of: str | None = None
    auto_promoted_from: str | None = None
    health_window_end_at: datetime | None = None
    upgrade_of_release_id: str | None = None
    upgrade_reason: str | None = None
    change_summary: str | None = None
    is_deleted: bool = False
    deleted_at: datetime | None = None
    deleted_by: str | None = None
    delete_reason: str | None = None


class SkillReleaseList(_Model):
    items: list[SkillReleaseInfo]
    total: int


class SkillReleaseHealth(_Model):
    release_id: str
    skill_key: str
    stage: str
    window_start_at: datetime
    window_end_at: datetime
    window_complete: bool
    samples: int
    success_rate: float
    error_rate: float
    p95_duration: int
    baseline_success_rate: float
    baseline_error_rate: float
    baseline_samples: int
    success_drop: float
    error_rate_multiplier: float
    healthy: bool
    should_rollback: bool
    rollback_reasons: list[str]
    thresholds: dict[str, float]


class SkillPayloadCreateInfo(_Model):
    payload_ref: str
    kind: str


class SkillPayloadInfo(_Model):
    payload_ref: str
    kind: str
    payload: dict[str, Any] | list[Any]


# ------------------------------------------------------- internal request models
# Bodies are dumped with exclude_none=True: defaults such as False are sent, None is not.
# Field order is the order of the JSON body.


class _CreateSandboxRequest(_Model):
    profile: str = "python-default"
    cargo_id: str | None = None
    ttl: int | None = None


class _ExtendTTLRequest(_Model):
    extend_by: int = Field(ge=1)


class _PythonExecRequest(_Model):
    code: str
    timeout: int = Field(default=30, ge=1, le=300)
    include_code: bool = False
    description: str | None = None
    tags: str | None = None


class _ShellExecRequest(_Model):
    command: str
    timeout: int = Field(default=30, ge=1, le=300)
    cwd: str | None = None
    include_code: bool = False
    description: str | None = None
    tags: str | None = None


class _BrowserExecRequest(_Model):
    cmd: str
    timeout: int = Field(default=30, ge=1, le=300)
    description: str | None = None
    tags: str | None = None
    learn: bool = False
    include_trace: bool = False


class _BrowserBatchExecRequest(_Model):
    commands: list[str] = Field(min_length=1)
    timeout: int = Field(default=60, ge=1, le=600)
    stop_on_error: bool = True
    description: str | None = None
    tags: str | None = None
    learn: bool = False
    include_trace: bool = False


class _BrowserSkillRunRequest(_Model):
    timeout: int = Field(default=60, ge=1, le=600)
    stop_on_error: bool = True
    include_trace: bool = False
    description: str | None = None
    tags: str | None = None


class _SkillPayloadCreateRequest(_Model):
    payload: dict[str, Any] | list[Any]
    kind: str = Field(default="generic", min_length=1)


class _FileWriteRequest(_Model):
    path: str
    content: str


class _CreateCargoRequest(_Model):
    size_limit_mb: int | None = Field(default=None, ge=1, le=65536)
