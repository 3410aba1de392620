"""Exceptions raised by supabase-monitoring, and the retry classifier.

Every exception the SDK raises derives from :class:`MonitoringError`, so one
``except MonitoringError`` keeps monitoring away from a worker's own error
handling. Messages never contain the API key (the transport redacts it).
"""

from __future__ import annotations

import re
from typing import Any

import httpx

__all__ = [
    "ClosedError",
    "ConfigurationError",
    "InvalidInputError",
    "InvalidResponseError",
    "MonitoringError",
    "PermissionDeniedError",
    "RequestError",
    "ServerError",
    "TransientError",
    "is_transient",
]


class MonitoringError(Exception):
    """Root of every error the SDK raises.

    ``code`` is the PostgREST/PostgreSQL error code when the server sent one
    (``"PGRST001"``, ``"42501"``), ``status_code`` the HTTP status when it was
    observed; both are ``None`` for client-side errors.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        hint: str | None = None,
        details: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status_code = status_code
        self.hint = hint
        self.details = details

    def __repr__(self) -> str:
        parts = [repr(self.message)]
        if self.code is not None:
            parts.append(f"code={self.code!r}")
        if self.status_code is not None:
            parts.append(f"status_code={self.status_code}")
        return f"{type(self).__name__}({', '.join(parts)})"


class ConfigurationError(MonitoringError):
    """The SDK cannot be set up: missing environment variables or options."""


class InvalidInputError(MonitoringError, ValueError):
    """A value passed to the SDK is unusable; raised before any request is sent.

    Named apart from ``pydantic.ValidationError`` on purpose. Also a
    ``ValueError``, so generic input handling catches it.
    """


class TransientError(MonitoringError):
    """A failure worth retrying: network error, timeout, overloaded or restarting server."""


class PermissionDeniedError(MonitoringError):
    """The key is missing, invalid, or its role may not touch monitoring data.

    Never retried: only the service_role key reaches the monitoring schema.
    """


class RequestError(MonitoringError):
    """The server rejected the request itself (bad column, constraint violation, unknown table)."""


class ServerError(MonitoringError):
    """The server failed in a way a retry is not expected to fix."""


class InvalidResponseError(ServerError):
    """A successful (2xx) answer whose body does not match the contract, e.g. an HTML page."""


class ClosedError(MonitoringError):
    """The client (or its sink) was closed; nothing more can be sent."""


# ---------------------------------------------------------------- classification

# PostgREST could not reach or use the database (connection, pool, schema cache).
_TRANSIENT_PGRST = frozenset({"PGRST000", "PGRST001", "PGRST002", "PGRST003"})
# Gateway answers without a JSON body: postgrest-py reports the status as the code.
_TRANSIENT_STATUS = frozenset({502, 503, 504, 520})
# SQLSTATE classes 08 (connection) and 53 (insufficient resources), plus
# serialization failure, deadlock and shutdown/startup states: all retry-safe
# because every row carries a client-generated id (ON CONFLICT DO NOTHING).
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "53")
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "57P01", "57P02", "57P03"})

_PERMISSION_CODES = frozenset(
    {"42501", "28000", "28P01", "PGRST300", "PGRST301", "PGRST302", "PGRST303"}
)
_PERMISSION_STATUS = frozenset({401, 403})

_SQLSTATE = re.compile(r"^[0-9A-Z]{5}$")
_REQUEST_STATUS = frozenset({400, 404, 405, 406, 409, 413, 414, 415, 416, 422})

# httpx transport failures that a retry can fix. UnsupportedProtocol and
# LocalProtocolError are configuration/programming errors and stay fatal.
_TRANSIENT_HTTPX: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)


def _status_from_code(code: str | None) -> int | None:
    if code is not None and code.isdigit() and len(code) == 3:
        return int(code)
    return None


def _classify(code: str | None, status_code: int | None) -> type[MonitoringError]:
    """Pick the exception class for a server error from its code and HTTP status.

    The code wins over the status when both say something: PostgREST answers
    PGRST001 with 503, a permission error with 401 or 403.
    """
    status = status_code if status_code is not None else _status_from_code(code)
    if code is not None:
        if code in _TRANSIENT_PGRST or code in _TRANSIENT_SQLSTATES:
            return TransientError
        if code in _PERMISSION_CODES:
            return PermissionDeniedError
        if _SQLSTATE.match(code):
            if code.startswith(_TRANSIENT_SQLSTATE_PREFIXES):
                return TransientError
            if code.startswith(("22", "23", "42")):
                return RequestError
        if code.startswith("PGRST1") or code.startswith("PGRST2"):
            return RequestError
    if status is not None:
        if status in _TRANSIENT_STATUS:
            return TransientError
        if status in _PERMISSION_STATUS:
            return PermissionDeniedError
        if status in _REQUEST_STATUS:
            return RequestError
    return ServerError


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the operation that raised ``exc`` may succeed.

    Accepts the SDK's own exceptions as well as the raw ones underneath
    (``httpx`` transport errors, ``postgrest.APIError``), so a background
    writer can classify whatever it catches.
    """
    if isinstance(exc, MonitoringError):
        return isinstance(exc, TransientError)
    if isinstance(exc, _TRANSIENT_HTTPX):
        return True
    code = _api_error_code(exc)
    if code is not None:
        return _classify(code, None) is TransientError
    return False


def _api_error_code(exc: BaseException) -> str | None:
    # postgrest.APIError, duck-typed so this module does not import postgrest.
    if type(exc).__name__ == "APIError":
        code: Any = getattr(exc, "code", None)
        if isinstance(code, str):
            return code
    return None
