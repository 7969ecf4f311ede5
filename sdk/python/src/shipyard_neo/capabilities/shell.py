"""`sandbox.shell`: run bash commands in the sandbox."""

from __future__ import annotations

from ..types import ShellExecResult, _ShellExecRequest
from .base import BaseCapability

__all__ = ["ShellCapability"]


class ShellCapability(BaseCapability):
    async def exec(
        self,
        command: str,
        *,
        timeout: int = 30,
        cwd: str | None = None,
        include_code: bool = False,
        description: str | None = None,
        tags: str | None = None,
    ) -> ShellExecResult:
        """Runs `command` with `bash -c`; `cwd` is relative to the workspace."""
        body = _ShellExecRequest(
            command=command,
            timeout=timeout,
            cwd=cwd,
            include_code=include_code,
            description=description,
            tags=tags,
        )
        response = await self._http.post(
            f"{self._base_path}/shell/exec",
            json=body.model_dump(exclude_none=True),
            timeout=float(body.timeout) + 10,
        )
        return ShellExecResult.model_validate(response)
