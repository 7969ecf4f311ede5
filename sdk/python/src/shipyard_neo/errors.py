"""Exceptions raised for Bay API errors and the mapping from error responses to them."""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = [
    "ERROR_CODE_MAP",
    "STATUS_CODE_MAP",
    "BayError",
    "CapabilityNotSupportedError",
    "CargoFileNotFoundError",
    "ConflictError",
    "ForbiddenError",
    "InvalidPathError",
    "NotFoundError",
    "QuotaExceededError",
    "RequestTimeoutError",
    "SandboxExpiredError",
    "SandboxTTLInfiniteError",
    "SessionNotReadyError",
    "ShipError",
    "UnauthorizedError",
    "ValidationError",
    "raise_for_error_response",
]


class BayError(Exception):
    """Base class of every error the Bay API reports.

    `code` and `status_code` are class attributes describing the error kind; `message`
    and `details` are per instance (`details` is always a dict).
    """

    code: str = "internal_error"
    message: str = "An internal error occurred"
    status_code: int = 500

    def __init__(self, message: str | None = None, details: dict[str, Any] | None = None):
        self.message = message or type(self).message
        self.details: dict[str, Any] = details or {}
        super().__init__(self.message)


class NotFoundError(BayError):
    code = "not_found"
    message = "Resource not found"
    status_code = 404


class UnauthorizedError(BayError):
    code = "unauthorized"
    message = "Authentication required"
    status_code = 401


class ForbiddenError(BayError):
    code = "forbidden"
    message = "Permission denied"
    status_code = 403


class QuotaExceededError(BayError):
    code = "quota_exceeded"
    message = "Quota exceeded"
    status_code = 429


class ConflictError(BayError):
    code = "conflict"
    message = "Conflict"
    status_code = 409


class ValidationError(BayError):
    """The server rejected the request as invalid (HTTP 400).

    Distinct from `pydantic.ValidationError`, which the SDK raises for arguments it can
    reject itself before sending anything.
    """

    code = "validation_error"
    message = "Validation error"
    status_code = 400


class SessionNotReadyError(BayError):
    code = "session_not_ready"
    message = "Session is starting"
    status_code = 503


class RequestTimeoutError(BayError):
    code = "timeout"
    message = "Operation timed out"
    status_code = 504


class ShipError(BayError):
    code = "ship_error"
    message = "Runtime error"
    status_code = 502


class SandboxExpiredError(BayError):
    code = "sandbox_expired"
    message = "Sandbox is expired, cannot extend TTL"
    status_code = 409


class SandboxTTLInfiniteError(BayError):
    code = "sandbox_ttl_infinite"
    message = "Sandbox TTL is infinite, cannot extend TTL"
    status_code = 409


class CapabilityNotSupportedError(BayError):
    code = "capability_not_supported"
    message = "Capability not supported by runtime"
    status_code = 400


class InvalidPathError(BayError):
    code = "invalid_path"
    message = "Invalid path"
    status_code = 400


class CargoFileNotFoundError(BayError):
    code = "file_not_found"
    message = "File not found"
    status_code = 404


ERROR_CODE_MAP: dict[str, type[BayError]] = {
    cls.code: cls
    for cls in (
        NotFoundError,
        UnauthorizedError,
        ForbiddenError,
        QuotaExceededError,
        ConflictError,
        ValidationError,
        SessionNotReadyError,
        RequestTimeoutError,
        ShipError,
        SandboxExpiredError,
        SandboxTTLInfiniteError,
        CapabilityNotSupportedError,
        InvalidPathError,
        CargoFileNotFoundError,
    )
}

STATUS_CODE_MAP: dict[int, type[BayError]] = {
    400: ValidationError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    429: QuotaExceededError,
    500: BayError,
    502: ShipError,
    503: SessionNotReadyError,
    504: RequestTimeoutError,
}


def raise_for_error_response(status_code: int, response_body: dict[str, Any]) -> NoReturn:
    """Raises the exception matching an error response.

    The envelope's `error.code` decides when present (unknown codes give `BayError`);
    otherwise the HTTP status does (e.g. a proxy's HTML page or a `{"detail": ...}` body).
    """
    error = response_body.get("error", {})
    if isinstance(error, str):
        # Not the Bay envelope, but keep what the server said rather than dropping it.
        error = {"message": error}
    elif not isinstance(error, dict):
        error = {}
    code = error.get("code")
    message = error.get("message")
    details = error.get("details", {})
    if code:
        cls = ERROR_CODE_MAP.get(str(code), BayError)
    else:
        cls = STATUS_CODE_MAP.get(status_code, BayError)
    if details is not None and not isinstance(details, dict):
        details = {"details": details}
    raise cls(
        message=message if isinstance(message, str) else None,
        details=details,
    )
