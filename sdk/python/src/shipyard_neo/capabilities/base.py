"""Common base of the sandbox capabilities."""

from __future__ import annotations

from .._http import HTTPClient

__all__ = ["BaseCapability"]


class BaseCapability:
    """A family of operations on one sandbox, under `/v1/sandboxes/{sandbox_id}`."""

    def __init__(self, http: HTTPClient, sandbox_id: str) -> None:
        self._http = http
        self._sandbox_id = sandbox_id
        self._base_path = f"/v1/sandboxes/{sandbox_id}"
