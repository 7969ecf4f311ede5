"""Shipyard Neo SDK: async Python client for the Bay API v1.

Usage: ``async with BayClient(endpoint_url, access_token) as client: ...``; see README.md.
"""

from importlib.metadata import PackageNotFoundError, version

from .client import BayClient
from .errors import (
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
from .skills import SkillManager
from .types import (
    BrowserBatchExecResult,
    BrowserBatchStepResult,
    BrowserExecResult,
    BrowserSkillRunResult,
    CargoInfo,
    CargoList,
    ContainerInfo,
    ExecutionHistoryEntry,
    ExecutionHistoryList,
    FileInfo,
    ProfileInfo,
    ProfileList,
    PythonExecResult,
    RuntimeContainerInfo,
    SandboxInfo,
    SandboxList,
    SandboxStatus,
    ShellExecResult,
    SkillCandidateInfo,
    SkillCandidateList,
    SkillCandidateStatus,
    SkillEvaluationInfo,
    SkillPayloadCreateInfo,
    SkillPayloadInfo,
    SkillReleaseHealth,
    SkillReleaseInfo,
    SkillReleaseList,
    SkillReleaseStage,
)

try:
    __version__ = version("shipyard-neo-sdk")
except PackageNotFoundError:
    __version__ = "unknown"

__all__ = [  # noqa: RUF022 -- grouped as in the specification, not sorted
    # client
    "BayClient",
    "SkillManager",
    # types
    "SandboxStatus",
    "SandboxInfo",
    "SandboxList",
    "CargoInfo",
    "CargoList",
    "ExecutionHistoryEntry",
    "ExecutionHistoryList",
    "FileInfo",
    "ProfileInfo",
    "ProfileList",
    "ContainerInfo",
    "RuntimeContainerInfo",
    "PythonExecResult",
    "ShellExecResult",
    "BrowserExecResult",
    "BrowserBatchStepResult",
    "BrowserBatchExecResult",
    "BrowserSkillRunResult",
    "SkillCandidateStatus",
    "SkillReleaseStage",
    "SkillCandidateInfo",
    "SkillCandidateList",
    "SkillEvaluationInfo",
    "SkillPayloadCreateInfo",
    "SkillPayloadInfo",
    "SkillReleaseInfo",
    "SkillReleaseHealth",
    "SkillReleaseList",
    # errors
    "BayError",
    "NotFoundError",
    "UnauthorizedError",
    "ForbiddenError",
    "QuotaExceededError",
    "ConflictError",
    "ValidationError",
    "SessionNotReadyError",
    "RequestTimeoutError",
    "ShipError",
    "SandboxExpiredError",
    "SandboxTTLInfiniteError",
    "CapabilityNotSupportedError",
    "InvalidPathError",
    "CargoFileNotFoundError",
]
