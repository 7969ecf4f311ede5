"""`BayClient`: the entry point of the SDK."""

from __future__ import annotations

import os
from types import TracebackType

from ._http import HTTPClient
from .cargo import CargoManager
from .sandbox import Sandbox
from .skills import SkillManager
from .types import (
    ProfileList,
    SandboxInfo,
    SandboxList,
    SandboxStatus,
    _CreateSandboxRequest,
)

__all__ = ["BayClient"]

_DEFAULT_TIMEOUT = 30.0
_DEFAULT_MAX_RETRIES = 3
_NOT_INITIALIZED = "BayClient not initialized. Use 'async with' context."


class BayClient:
    """Async client for the Bay API v1; use it as `async with BayClient(...) as client:`.

    Endpoint and token fall back to `BAY_ENDPOINT` / `BAY_TOKEN`; `BAY_TIMEOUT` and
    `BAY_MAX_RETRIES` apply when `timeout` / `max_retries` are left at their defaults.
    Construction does no I/O; the HTTP client exists only inside the context.
    """

    def __init__(
        self,
        endpoint_url: str | None = None,
        access_token: str | None = None,
        *,
        timeout: float = _DEFAULT_TIMEOUT,
        max_retries: int = _DEFAULT_MAX_RETRIES,
    ) -> None:
        endpoint = endpoint_url or os.environ.get("BAY_ENDPOINT")
        token = access_token or os.environ.get("BAY_TOKEN")
        if not endpoint:
            raise ValueError("endpoint_url required (or set BAY_ENDPOINT env var)")
        if not token:
            raise ValueError("access_token required (or set BAY_TOKEN env var)")
        self._endpoint_url: str = endpoint
        self._access_token: str = token

        env_timeout = os.environ.get("BAY_TIMEOUT")
        if env_timeout and timeout == _DEFAULT_TIMEOUT:
            timeout = float(env_timeout)
        env_retries = os.environ.get("BAY_MAX_RETRIES")
        if env_retries and max_retries == _DEFAULT_MAX_RETRIES:
            max_retries = int(env_retries)
        self._timeout = timeout
        self._max_retries = max_retries

        self._http: HTTPClient | None = None
        self._cargos: CargoManager | None = None
        self._skills: SkillManager | None = None

    async def __aenter__(self) -> BayClient:
        if self._http is not None:
            await self._http.close()
        self._http = HTTPClient(
            self._endpoint_url,
            self._access_token,
            timeout=self._timeout,
            max_retries=self._max_retries,
        )
        self._cargos = CargoManager(self._http)
        self._skills = SkillManager(self._http)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        http, self._http, self._cargos, self._skills = self._http, None, None, None
        if http is not None:
            await http.close()

    # ------------------------------------------------------------------- properties

    @property
    def http(self) -> HTTPClient:
        if self._http is None:
            raise RuntimeError(_NOT_INITIALIZED)
        return self._http

    @property
    def cargos(self) -> CargoManager:
        if self._cargos is None:
            raise RuntimeError(_NOT_INITIALIZED)
        return self._cargos

    @property
    def skills(self) -> SkillManager:
        if self._skills is None:
            raise RuntimeError(_NOT_INITIALIZED)
        return self._skills

    # ---------------------------------------------------------------------- methods

    async def create_sandbox(
        self,
        *,
        profile: str = "python-default",
        cargo_id: str | None = None,
        ttl: int | None = None,
        idempotency_key: str | None = None,
    ) -> Sandbox:
        """Creates a sandbox (no compute starts until its first capability call).

        `ttl` in seconds (None or 0: no expiry); `cargo_id` binds an external cargo.
        """
        body = _CreateSandboxRequest(profile=profile, cargo_id=cargo_id, ttl=ttl)
        response = await self.http.post(
            "/v1/sandboxes",
            json=body.model_dump(exclude_none=True),
            idempotency_key=idempotency_key,
        )
        return Sandbox(self.http, SandboxInfo.model_validate(response))

    async def get_sandbox(self, sandbox_id: str) -> Sandbox:
        response = await self.http.get(f"/v1/sandboxes/{sandbox_id}")
        return Sandbox(self.http, SandboxInfo.model_validate(response))

    async def list_sandboxes(
        self,
        *,
        limit: int = 50,
        cursor: str | None = None,
        status: SandboxStatus | str | None = None,
    ) -> SandboxList:
        if isinstance(status, SandboxStatus):
            status = status.value
        response = await self.http.get(
            "/v1/sandboxes", params={"limit": limit, "cursor": cursor, "status": status}
        )
        return SandboxList.model_validate(response)

    async def list_profiles(self, *, detail: bool = False) -> ProfileList:
        response = await self.http.get("/v1/profiles", params={"detail": True} if detail else None)
        return ProfileList.model_validate(response)
