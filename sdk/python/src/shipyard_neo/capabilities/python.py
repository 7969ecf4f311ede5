"""`sandbox.python`: run code in the sandbox's persistent interpreter."""

from __future__ import annotations

from ..types import PythonExecResult, _PythonExecRequest
from .base import BaseCapability

__all__ = ["PythonCapability"]


class PythonCapability(BaseCapability):
    async def exec(
        self,
        code: str,
        *,
        timeout: int = 30,
        include_code: bool = False,
        description: str | None = None,
        tags: str | None = None,
    ) -> PythonExecResult:
        """Runs `code`; interpreter state persists across calls within a session.

        `timeout` (1..300 s) limits the execution; the HTTP request gets 10 s more so the
        server can answer with its own time-out result.
        """
        body = _PythonExecRequest(
            code=code,
            timeout=timeout,
            include_code=include_code,
            description=description,
            tags=tags,
        )
        response = await self._http.post(
            f"{self._base_path}/python/exec",
            json=body.model_dump(exclude_none=True),
            timeout=float(body.timeout) + 10,
        )
        return PythonExecResult.model_validate(response)
