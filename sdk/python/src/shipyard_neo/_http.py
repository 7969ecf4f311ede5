"""Internal HTTP layer: one `httpx.AsyncClient`, retries, response decoding, error mapping."""

from __future__ import annotations

import asyncio
import json as _json
from collections.abc import Mapping
from enum import Enum
from typing import Any

import httpx

from .errors import raise_for_error_response

__all__ = ["HTTPClient"]

# Statuses worth another attempt: rate limiting and server-side/proxy faults.
_RETRYABLE_METHODS = frozenset({"GET", "PUT", "DELETE"})
_BACKOFF_BASE_S = 0.2
_BACKOFF_CAP_S = 1.5
_SNIPPET_LIMIT = 500

_QueryValue = str | int | float | bool | Enum | None


def _backoff(retry_index: int) -> float:
    """Delay before retry number `retry_index` (0-based): 0.2, 0.4, 0.8, then 1.5 s."""
    return float(min(_BACKOFF_BASE_S * 2**retry_index, _BACKOFF_CAP_S))


def _is_retryable_status(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


def _clean_params(params: Mapping[str, _QueryValue] | None) -> dict[str, str | int | float] | None:
    """Drops None values and renders booleans/enums the way the server parses them."""
    if not params:
        return None
    out: dict[str, str | int | float] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, Enum):
            out[key] = str(value.value)
        else:
            out[key] = value
    return out or None


def _decode(response: httpx.Response) -> dict[str, Any]:
    """Turns a response into a dict, raising the mapped BayError for status >= 400."""
    status = response.status_code
    if status == 204:
        return {}
    body: dict[str, Any]
    try:
        data = response.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError both derive from it
        if status < 400:
            return {}
        text = response.text
        body = {
            "error": {
                "message": f"HTTP {status} returned non-JSON error response",
                "details": {
                    "raw_response_snippet": text[:_SNIPPET_LIMIT],
                    "raw_response_truncated": len(text) > _SNIPPET_LIMIT,
                },
            }
        }
    else:
        body = data if isinstance(data, dict) else {"data": data}
    if status >= 400:
        raise_for_error_response(status, body)
    return body


class HTTPClient:
    """Sends requests to Bay with the SDK's retry policy and error mapping.

    Retries (with `max_retries + 1` attempts in total) apply to GET/PUT/DELETE, to POST
    only when an idempotency key makes it safe, and to upload/download; failures worth
    retrying are transport errors, 429 and 5xx.
    """

    def __init__(
        self, base_url: str, access_token: str, timeout: float = 30.0, max_retries: int = 3
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        # Default transport on purpose: tooling patches httpx.AsyncHTTPTransport.
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            headers={"Authorization": f"Bearer {access_token}"},
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HTTPClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ----------------------------------------------------------------- public verbs

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, _QueryValue] | None = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        method = method.upper()
        headers: dict[str, str] = {}
        content: bytes | None = None
        if json is not None:
            # Serialised here (compact, UTF-8) so the bytes on the wire do not depend on
            # the httpx version; Content-Type only accompanies an actual JSON body.
            content = _json.dumps(
                json, ensure_ascii=False, separators=(",", ":"), allow_nan=False
            ).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        retryable = method in _RETRYABLE_METHODS or (method == "POST" and bool(idempotency_key))
        response = await self._send(
            method,
            path,
            retryable=retryable,
            params=_clean_params(params),
            headers=headers,
            content=content,
            timeout=timeout,
        )
        return _decode(response)

    async def get(
        self,
        path: str,
        *,
        params: Mapping[str, _QueryValue] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        return await self.request("GET", path, params=params, timeout=timeout)

    async def post(
        self,
        path: str,
        *,
        json: Any = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        return await self.request(
            "POST", path, json=json, idempotency_key=idempotency_key, timeout=timeout
        )

    async def put(
        self, path: str, *, json: Any = None, timeout: float | None = None
    ) -> dict[str, Any]:
        return await self.request("PUT", path, json=json, timeout=timeout)

    async def delete(
        self,
        path: str,
        *,
        params: Mapping[str, _QueryValue] | None = None,
        json: Any = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        return await self.request("DELETE", path, params=params, json=json, timeout=timeout)

    async def upload(
        self, path: str, *, file_content: bytes, file_path: str, timeout: float | None = None
    ) -> dict[str, Any]:
        """Multipart POST of one file (part `file`) with its workspace `path` field."""
        response = await self._send(
            "POST",
            path,
            retryable=True,
            files={"file": ("upload", file_content, "application/octet-stream")},
            data={"path": file_path},
            timeout=timeout,
        )
        return _decode(response)

    async def download(
        self,
        path: str,
        *,
        params: Mapping[str, _QueryValue] | None = None,
        timeout: float | None = None,
    ) -> bytes:
        """GET returning the raw body; error statuses are mapped like any other call."""
        response = await self._send(
            "GET", path, retryable=True, params=_clean_params(params), timeout=timeout
        )
        if response.status_code >= 400:
            _decode(response)
        return response.content

    # --------------------------------------------------------------------- internals

    async def _send(
        self,
        method: str,
        path: str,
        *,
        retryable: bool,
        params: dict[str, str | int | float] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        data: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        attempts = self.max_retries + 1 if retryable else 1
        request_timeout = httpx.Timeout(timeout) if timeout is not None else self._client.timeout
        for attempt in range(attempts):
            last = attempt + 1 >= attempts
            try:
                response = await self._client.request(
                    method,
                    path,
                    params=params,
                    headers=headers,
                    content=content,
                    files=files,
                    data=data,
                    timeout=request_timeout,
                )
            except httpx.TransportError:  # includes httpx.TimeoutException
                if last:
                    raise
            else:
                if last or not _is_retryable_status(response.status_code):
                    return response
            await asyncio.sleep(_backoff(attempt))
        raise AssertionError("unreachable: the last attempt returns or raises")
