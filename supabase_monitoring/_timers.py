"""Timers for API calls and batch processing: context managers and decorators.

One object serves ``with``, ``async with`` and ``@decorator`` (sync or async
functions): recording goes through the client's non-blocking ``record_*``
methods, so even an async block is recorded without awaiting anything. The
block's own exception always propagates unchanged; a failure to record it
never replaces it.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    from ._client_base import RecordingMixin

__all__ = ["ApiCallTimer", "BatchTimer"]

logger = logging.getLogger("supabase_monitoring")

P = ParamSpec("P")
R = TypeVar("R")


class _Timer:
    """Shared mechanics: measure the block, then hand the outcome to ``_record``."""

    duration_ms: float | None

    def __init__(self) -> None:
        self._start: float | None = None
        self.duration_ms = None

    def _fresh(self) -> _Timer:  # pragma: no cover
        raise NotImplementedError

    def _record(self, duration_ms: float, failed: bool) -> None:  # pragma: no cover
        raise NotImplementedError

    def __enter__(self) -> _Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._finish(exc is not None)

    async def __aenter__(self) -> _Timer:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._finish(exc is not None)

    def _finish(self, failed: bool) -> None:
        start = self._start if self._start is not None else time.perf_counter()
        duration = (time.perf_counter() - start) * 1000.0
        self.duration_ms = duration
        if not failed:
            self._record(duration, failed)
            return
        try:
            self._record(duration, failed)
        except Exception:
            # Strict mode raised while the block was already failing: keep
            # the block's exception, report ours in the log.
            logger.exception("could not record a failed timed block")

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Decorate ``fn``: every call is timed with a fresh copy of this timer."""
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                async with self._fresh():
                    return await fn(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with self._fresh():
                return fn(*args, **kwargs)

        return wrapper


class ApiCallTimer(_Timer):
    """Times one external API call and records it as an ``api_call`` metric.

    Inside the block, set ``status_code`` to record it, or ``success = False``
    to record a failure that did not raise (e.g. a handled HTTP 500).
    """

    def __init__(
        self,
        client: RecordingMixin,
        api_name: str,
        *,
        endpoint: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Prepare a timer; nothing is measured until the block or call starts."""
        super().__init__()
        self._client = client
        self.api_name = api_name
        self.endpoint = endpoint
        self.tags = tags
        self.success: bool | None = None
        self.status_code: int | None = None

    def _fresh(self) -> ApiCallTimer:
        return ApiCallTimer(self._client, self.api_name, endpoint=self.endpoint, tags=self.tags)

    def __enter__(self) -> ApiCallTimer:
        super().__enter__()
        return self

    async def __aenter__(self) -> ApiCallTimer:
        return self.__enter__()

    def _record(self, duration_ms: float, failed: bool) -> None:
        success = not failed and self.success is not False
        self._client.record_api_call(
            self.api_name,
            duration_ms,
            success,
            endpoint=self.endpoint,
            status_code=self.status_code,
            tags=self.tags,
        )


class BatchTimer(_Timer):
    """Times the processing of one batch and records a ``queue_processing`` metric.

    Counts default to the outcome: all ``batch_size`` messages succeeded when
    the block returns, all failed when it raises. Set ``success_count`` and/or
    ``error_count`` inside the block for partial outcomes; the missing one is
    derived from ``batch_size``.
    """

    def __init__(
        self,
        client: RecordingMixin,
        queue_name: str,
        *,
        batch_size: int | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Prepare a timer; nothing is measured until the block or call starts."""
        super().__init__()
        self._client = client
        self.queue_name = queue_name
        self.batch_size = batch_size
        self.tags = tags
        self.success_count: int | None = None
        self.error_count: int | None = None

    def _fresh(self) -> BatchTimer:
        return BatchTimer(self._client, self.queue_name, batch_size=self.batch_size, tags=self.tags)

    def __enter__(self) -> BatchTimer:
        super().__enter__()
        return self

    async def __aenter__(self) -> BatchTimer:
        return self.__enter__()

    def _counts(self, failed: bool) -> tuple[Any, Any, Any]:
        ok, bad, size = self.success_count, self.error_count, self.batch_size
        if size is None:
            size = (ok if isinstance(ok, int) else 0) + (bad if isinstance(bad, int) else 0)
        if not isinstance(size, int):
            return ok, bad, size  # let validation report the bad value
        if ok is None and bad is None:
            return (0, size, size) if failed else (size, 0, size)
        if ok is None:
            ok = max(size - bad, 0) if isinstance(bad, int) else bad
        elif bad is None:
            bad = max(size - ok, 0) if isinstance(ok, int) else ok
        return ok, bad, size

    def _record(self, duration_ms: float, failed: bool) -> None:
        ok, bad, size = self._counts(failed)
        self._client.record_processing_metric(
            self.queue_name,
            duration_ms,
            ok,
            bad,
            batch_size=size,
            tags=self.tags,
        )
