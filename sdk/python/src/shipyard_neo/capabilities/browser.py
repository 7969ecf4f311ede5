"""`sandbox.browser`: browser automation (needs a profile with the `browser` capability)."""

from __future__ import annotations

from ..types import (
    BrowserBatchExecResult,
    BrowserExecResult,
    BrowserSkillRunResult,
    _BrowserBatchExecRequest,
    _BrowserExecRequest,
    _BrowserSkillRunRequest,
)
from .base import BaseCapability

__all__ = ["BrowserCapability"]


class BrowserCapability(BaseCapability):
    async def exec(
        self,
        cmd: str,
        *,
        timeout: int = 30,
        description: str | None = None,
        tags: str | None = None,
        learn: bool = False,
        include_trace: bool = False,
    ) -> BrowserExecResult:
        body = _BrowserExecRequest(
            cmd=cmd,
            timeout=timeout,
            description=description,
            tags=tags,
            learn=learn,
            include_trace=include_trace,
        )
        response = await self._http.post(
            f"{self._base_path}/browser/exec",
            json=body.model_dump(exclude_none=True),
            timeout=float(body.timeout) + 10,
        )
        return BrowserExecResult.model_validate(response)

    async def exec_batch(
        self,
        commands: list[str],
        *,
        timeout: int = 60,
        stop_on_error: bool = True,
        description: str | None = None,
        tags: str | None = None,
        learn: bool = False,
        include_trace: bool = False,
    ) -> BrowserBatchExecResult:
        """Runs several commands as one execution; an empty list is rejected locally."""
        body = _BrowserBatchExecRequest(
            commands=commands,
            timeout=timeout,
            stop_on_error=stop_on_error,
            description=description,
            tags=tags,
            learn=learn,
            include_trace=include_trace,
        )
        response = await self._http.post(
            f"{self._base_path}/browser/exec_batch",
            json=body.model_dump(exclude_none=True),
            timeout=float(body.timeout) + 15,
        )
        return BrowserBatchExecResult.model_validate(response)

    async def run_skill(
        self,
        skill_key: str,
        *,
        timeout: int = 60,
        stop_on_error: bool = True,
        include_trace: bool = False,
        description: str | None = None,
        tags: str | None = None,
    ) -> BrowserSkillRunResult:
        """Replays the active release of `skill_key` in this sandbox's browser."""
        body = _BrowserSkillRunRequest(
            timeout=timeout,
            stop_on_error=stop_on_error,
            include_trace=include_trace,
            description=description,
            tags=tags,
        )
        response = await self._http.post(
            f"{self._base_path}/browser/skills/{skill_key}/run",
            json=body.model_dump(exclude_none=True),
            timeout=float(body.timeout) + 15,
        )
        return BrowserSkillRunResult.model_validate(response)
