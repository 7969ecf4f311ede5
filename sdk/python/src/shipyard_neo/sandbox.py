"""`Sandbox`: a handle on one Bay sandbox, its lifecycle, history and capabilities."""

from __future__ import annotations

from datetime import datetime

from ._http import HTTPClient
from .capabilities import (
    BrowserCapability,
    FilesystemCapability,
    PythonCapability,
    ShellCapability,
)
from .types import (
    ExecutionHistoryEntry,
    ExecutionHistoryList,
    SandboxInfo,
    SandboxStatus,
    _ExtendTTLRequest,
)

__all__ = ["Sandbox"]


class Sandbox:
    """A sandbox returned by `BayClient.create_sandbox` / `get_sandbox`.

    The properties read a cached `SandboxInfo`; `refresh()` and `extend_ttl()` replace
    it. Compute starts transparently on the first capability call and resumes after
    `stop()`.
    """

    def __init__(self, http: HTTPClient, info: SandboxInfo) -> None:
        self._http = http
        self._info = info
        self.python = PythonCapability(http, info.id)
        self.shell = ShellCapability(http, info.id)
        self.filesystem = FilesystemCapability(http, info.id)
        self.browser = BrowserCapability(http, info.id)

    def __repr__(self) -> str:
        return f"Sandbox(id={self.id!r}, status={self.status.value!r}, profile={self.profile!r})"

    @property
    def _path(self) -> str:
        return f"/v1/sandboxes/{self._info.id}"

    # ------------------------------------------------------------------- properties

    @property
    def info(self) -> SandboxInfo:
        return self._info

    @property
    def id(self) -> str:
        return self._info.id

    @property
    def status(self) -> SandboxStatus:
        """Status as of the last fetch (may be stale; call `refresh()`)."""
        return self._info.status

    @property
    def profile(self) -> str:
        return self._info.profile

    @property
    def cargo_id(self) -> str:
        return self._info.cargo_id

    @property
    def capabilities(self) -> list[str]:
        return self._info.capabilities

    @property
    def created_at(self) -> datetime:
        return self._info.created_at

    @property
    def expires_at(self) -> datetime | None:
        """None when the sandbox has no TTL."""
        return self._info.expires_at

    @property
    def idle_expires_at(self) -> datetime | None:
        """None when no session is running (or it has no idle timeout)."""
        return self._info.idle_expires_at

    # -------------------------------------------------------------------- lifecycle

    async def refresh(self) -> None:
        self._info = SandboxInfo.model_validate(await self._http.get(self._path))

    async def stop(self) -> None:
        """Ends the session: files are kept, interpreter state is dropped."""
        await self._http.post(f"{self._path}/stop")

    async def delete(self) -> None:
        await self._http.delete(self._path)

    async def extend_ttl(self, seconds: int, *, idempotency_key: str | None = None) -> None:
        """Moves `expires_at` by `seconds` (>= 1) and refreshes the cached info."""
        body = _ExtendTTLRequest(extend_by=seconds)
        response = await self._http.post(
            f"{self._path}/extend_ttl", json=body.model_dump(), idempotency_key=idempotency_key
        )
        self._info = SandboxInfo.model_validate(response)

    async def keepalive(self) -> None:
        """Pushes the idle timeout back without starting compute."""
        await self._http.post(f"{self._path}/keepalive")

    # ---------------------------------------------------------------------- history

    async def get_execution_history(
        self,
        *,
        exec_type: str | None = None,
        success_only: bool = False,
        limit: int = 100,
        offset: int = 0,
        tags: str | None = None,
        has_notes: bool = False,
        has_description: bool = False,
    ) -> ExecutionHistoryList:
        response = await self._http.get(
            f"{self._path}/history",
            params={
                "exec_type": exec_type,
                "success_only": success_only,
                "limit": limit,
                "offset": offset,
                "tags": tags,
                "has_notes": has_notes,
                "has_description": has_description,
            },
        )
        return ExecutionHistoryList.model_validate(response)

    async def get_execution(self, execution_id: str) -> ExecutionHistoryEntry:
        response = await self._http.get(f"{self._path}/history/{execution_id}")
        return ExecutionHistoryEntry.model_validate(response)

    async def get_last_execution(self, *, exec_type: str | None = None) -> ExecutionHistoryEntry:
        response = await self._http.get(
            f"{self._path}/history/last", params={"exec_type": exec_type}
        )
        return ExecutionHistoryEntry.model_validate(response)

    async def annotate_execution(
        self,
        execution_id: str,
        *,
        description: str | None = None,
        tags: str | None = None,
        notes: str | None = None,
    ) -> ExecutionHistoryEntry:
        """Sets description/tags/notes; arguments left as None are not changed."""
        fields = {"description": description, "tags": tags, "notes": notes}
        response = await self._http.request(
            "PATCH",
            f"{self._path}/history/{execution_id}",
            json={k: v for k, v in fields.items() if v is not None},
        )
        return ExecutionHistoryEntry.model_validate(response)
