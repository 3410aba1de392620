"""The transport layer: one PostgREST request per call, errors mapped.

``SyncTransport`` and ``AsyncTransport`` wrap a supabase-py client. Each
method makes exactly one attempt (retrying is the caller's job, see
``_retry``) and turns whatever went wrong into the SDK's exception hierarchy
with the API key redacted. Tables are reached through
``client.schema(schema).table(name)``; PostgREST picks the schema from the
Accept-/Content-Profile headers that sends. Rows arrive ready to send (ids
and times are the sink's job, ``_ids.finalize``), except in ``write_metrics``:
pipeline_metrics rows go to ``monitoring.ingest_metrics`` as a body encoded
once by ``_wire`` (which gives them their ids), sent as bytes through the
supabase client's own HTTP session and headers, in a request whose URL and
headers were validated once (``_IngestTarget``).

httpx-style: ``_TransportBase`` holds construction, state and the building of
every request; the two subclasses only run the built request (``execute()``
or ``await execute()``) and close their HTTP client.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx
from postgrest import APIError
from postgrest.types import ReturnMethod

from ._columns import MetricBatch
from ._ids import finalize
from ._redact import client_secrets, redact
from ._tables import (
    AGGREGATED_METRICS,
    API_METRICS_VIEW,
    MONITORING_EVENTS,
    PIPELINE_METRICS,
    QUEUE_METRICS_VIEW,
    QUEUE_SNAPSHOTS,
    TABLES,
    WORKER_ISSUES,
    TableRef,
)
from ._wire import ingest_metrics_body
from .errors import (
    ClosedError,
    ConfigurationError,
    InvalidResponseError,
    MonitoringError,
    RequestError,
    TransientError,
    _classify,
    is_transient,
)

if TYPE_CHECKING:
    from supabase import AsyncClient, Client

C = TypeVar("C", bound="Client | AsyncClient")
H = TypeVar("H")  # httpx.Client / httpx.AsyncClient

__all__ = [
    "AGGREGATED_METRICS",
    "API_METRICS_VIEW",
    "DEFAULT_TIMEOUT",
    "MONITORING_EVENTS",
    "PIPELINE_METRICS",
    "QUEUE_METRICS_VIEW",
    "QUEUE_SNAPSHOTS",
    "TABLES",
    "WORKER_ISSUES",
    "AsyncTransport",
    "Filter",
    "Order",
    "SyncTransport",
    "TableRef",
    "map_error",
]

#: Seconds per request (connect, read, write, pool): a monitoring write must
#: never hold a worker for long.
DEFAULT_TIMEOUT = 5.0

#: (column, PostgREST operator, value as text), e.g. ("resolved", "eq", "false").
Filter = tuple[str, str, str]
#: (column, descending)
Order = tuple[str, bool]

# HTTP status of the last response seen by an httpx client the SDK built.
# postgrest-py's APIError drops the status when the body is JSON, and a
# gateway's JSON 502 would otherwise look like a non-transient error.
_last_status: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "supabase_monitoring_last_status", default=None
)

# Typed Any: under mypy's python_version 3.10 the StrEnum member reads as str.
_RETURN_MINIMAL: Any = ReturnMethod.minimal

_MAX_DETAIL = 500


def _short(text: str | None) -> str | None:
    if text is not None and len(text) > _MAX_DETAIL:
        return text[:_MAX_DETAIL] + "..."
    return text


def map_error(exc: BaseException, secrets: Sequence[str] = ()) -> MonitoringError | None:
    """The SDK exception for a failure from supabase-py or httpx, or None if unknown."""
    status = _last_status.get()
    if isinstance(exc, MonitoringError):
        return exc
    if isinstance(exc, APIError):
        code = exc.code if isinstance(exc.code, str) else None
        cls = _classify(code, status)
        message = redact(exc.message, secrets) or "request failed"
        details = exc.details if isinstance(exc.details, str) else None
        if details is None and exc.details is not None:
            details = str(exc.details)
        prefix = f"[{code}] " if code else ""
        return cls(
            f"{prefix}{message}",
            code=code,
            status_code=status if status is not None else _int_status(code),
            hint=redact(_short(exc.hint), secrets),
            details=redact(_short(details), secrets),
        )
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ConfigurationError(f"bad Supabase URL: {redact(str(exc), secrets)}")
    if isinstance(exc, httpx.TransportError):
        what = "timed out" if isinstance(exc, httpx.TimeoutException) else "network error"
        cls2: type[MonitoringError] = TransientError if is_transient(exc) else RequestError
        return cls2(f"request {what} ({type(exc).__name__}): {redact(str(exc), secrets)}")
    if isinstance(exc, RuntimeError) and "has been closed" in str(exc):
        return ClosedError("the HTTP client has been closed")
    return None


def _int_status(code: str | None) -> int | None:
    return int(code) if code is not None and code.isdigit() and len(code) == 3 else None


def _raise_mapped(exc: Exception, secrets: Sequence[str]) -> None:
    mapped = map_error(exc, secrets)
    if mapped is None:
        raise exc
    # `from None`: the original may carry an unredacted message.
    raise mapped from None


def _rows_of(data: object, what: str) -> list[dict[str, Any]]:
    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        return data
    raise InvalidResponseError(
        f"{what}: expected a JSON array of objects, got {type(data).__name__}"
    )


def _record_status(response: httpx.Response) -> None:
    _last_status.set(response.status_code)


async def _arecord_status(response: httpx.Response) -> None:
    _last_status.set(response.status_code)


def _open(make_client: Callable[[], C], key: str, discard: Callable[[], None]) -> C:
    # A supabase-py client around the SDK's HTTP client; on failure the HTTP
    # client is released and the error is worded without the key.
    try:
        return make_client()
    except Exception as exc:
        discard()
        raise ConfigurationError(
            f"cannot create the Supabase client: {redact(str(exc), (key,))}"
        ) from None


def _discard_async(http: httpx.AsyncClient) -> None:
    # connect() is sync (it needs no loop), but an AsyncClient closes with an await.
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(http.aclose())
        return
    task = loop.create_task(http.aclose())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


_closing: set[asyncio.Task[None]] = set()


#: The columnar insert of pipeline_metrics rows (migration 20261214000100).
INGEST_METRICS = "ingest_metrics"
_MISSING_FUNCTION = "PGRST202"  # PostgREST: no such function in the schema cache

logger = logging.getLogger("supabase_monitoring")


def _bulk_rows(batch: MetricBatch) -> list[dict[str, Any]]:
    """A metric batch as bulk-insert rows: the batch's ids (given once), ISO timestamps."""
    batch.assign_ids()
    rows = batch.rows()
    finalize(rows)
    return rows


def _ingest_result(response: httpx.Response, rows: int) -> None:
    """Raise what a failed ``ingest_metrics`` call means; return when the rows are in.

    An error answer becomes the APIError postgrest-py would raise (so
    ``map_error`` words and classifies it the same way). A 2xx that is not the
    function's row count (a proxy's HTML page) proves nothing was written:
    transient, and the same ids make the retry harmless.
    """
    _last_status.set(response.status_code)
    try:
        doc = response.json()
    except ValueError:
        doc = None
    if response.is_success:
        if type(doc) is int and 0 <= doc <= rows:
            return
        raise TransientError(
            f"ingest_metrics answered {response.status_code} without its row count",
            status_code=response.status_code,
        )
    if not isinstance(doc, dict):
        doc = {"message": response.reason_phrase, "code": str(response.status_code)}
    raise APIError(doc)


class _IngestTarget:
    """The parts of an ``ingest_metrics`` POST that are the same for every batch.

    httpx's ``post()`` parses and validates the URL, the query and every header
    again on each call (~0.2-0.3 ms of the writer's CPU per request, see
    docs/performance-ingest.md). Built once per supabase-py PostgREST client
    instead, exactly as ``post()`` would build them: its session's default
    headers, then the PostgREST client's (key, ``Content-Profile`` of the
    monitoring schema), the session's timeout; one URL per set of argument
    names (a handful). The session's cookies are not sent (PostgREST sets none).
    """

    __slots__ = ("_extensions", "_headers", "_url", "_urls", "postgrest", "session")

    def __init__(self, postgrest: Any) -> None:
        self.postgrest = postgrest
        client = postgrest.schema(PIPELINE_METRICS.schema)
        self.session = client.session
        template = self.session.build_request(
            "POST",
            str(client.base_url.joinpath("rpc", INGEST_METRICS)),
            headers={**client.headers, "Content-Type": "application/json"},
        )
        self._url = template.url
        headers = template.headers.copy()
        headers.pop("Content-Length", None)  # each body sets its own
        self._headers = headers
        self._extensions = template.extensions
        self._urls: dict[str, httpx.URL] = {}

    def request(self, content: bytes, columns: str) -> httpx.Request:
        url = self._urls.get(columns)
        if url is None:
            url = self._urls[columns] = self._url.copy_merge_params({"columns": columns})
        return httpx.Request(
            "POST", url, headers=self._headers, content=content, extensions=dict(self._extensions)
        )


class _TransportBase(Generic[C, H]):
    """Construction, state and request building shared by both transports."""

    def __init__(
        self,
        client: C,
        *,
        http_client: H | None = None,
        rebuild: Callable[[], tuple[C, H]] | None = None,
    ) -> None:
        """Wrap ``client``; ``http_client`` is closed with the transport when given.

        ``rebuild`` (set by ``connect``) makes a fresh client and HTTP client,
        for a forked child.
        """
        self._client: C = client
        self._http: H | None = http_client
        self._rebuild: Callable[[], tuple[C, H]] | None = rebuild
        self._secrets = client_secrets(client)
        self._closed = False
        #: False once the database answered that monitoring.ingest_metrics does
        #: not exist (migrations not applied yet): metrics then use bulk inserts.
        self._ingest_rpc = True
        self._ingest_target: _IngestTarget | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} closed={self._closed}>"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Strings to redact from messages (the API key)."""
        return self._secrets

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("the monitoring client is closed")

    def _start(self) -> None:
        self._check_open()
        _last_status.set(None)

    # Each builder returns the request, ready for execute(); called inside the
    # subclass's try, so a failure while building is mapped like one on the wire.
    def _insert_request(self, table: TableRef, rows: list[dict[str, Any]]) -> Any:
        self._start()
        return (
            self._client.schema(table.schema)
            .table(table.name)
            .upsert(
                rows,
                on_conflict=table.conflict,
                ignore_duplicates=True,
                returning=_RETURN_MINIMAL,
            )
            .retry(False)
        )

    def _select_request(
        self,
        table: TableRef,
        columns: str,
        filters: Sequence[Filter],
        order: Sequence[Order],
        limit: int | None,
    ) -> Any:
        self._start()
        query = self._client.schema(table.schema).table(table.name).select(columns)
        for column, op, value in filters:
            query = query.filter(column, op, value)
        for column, desc in order:
            query = query.order(column, desc=desc)
        if limit is not None:
            query = query.limit(limit)
        return query.retry(False)

    def _update_request(
        self, table: TableRef, values: dict[str, Any], filters: Sequence[Filter]
    ) -> Any:
        self._start()
        if not filters:
            raise RequestError("refusing to update without a filter")
        query = self._client.schema(table.schema).table(table.name).update(values)
        for column, op, value in filters:
            query = query.filter(column, op, value)
        return query.retry(False)

    def _ingest_request(self, batch: MetricBatch) -> tuple[Any, httpx.Request]:
        # The HTTP session and the ingest_metrics POST for one batch: the URL,
        # headers and timeout come ready from _IngestTarget, only the body is new.
        self._start()
        target = self._ingest_target
        postgrest = self._client.postgrest
        if target is None or target.postgrest is not postgrest:
            # First call, or supabase-py replaced its PostgREST client (an
            # auth change, a forked child's rebuild): new key or session.
            target = self._ingest_target = _IngestTarget(postgrest)
        content, columns = ingest_metrics_body(batch)
        return target.session, target.request(content, columns)

    def _ingest_failed(self, exc: Exception) -> None:
        # After a failed ingest_metrics call: raise the SDK's error for it, or
        # return (once) when the function is not deployed, for a bulk insert.
        mapped = map_error(exc, self._secrets)
        if mapped is None:
            raise exc
        if mapped.code != _MISSING_FUNCTION or not self._ingest_rpc:
            raise mapped from None
        self._ingest_rpc = False
        logger.warning(
            "monitoring.ingest_metrics is missing (apply the latest migrations); "
            "writing metrics with bulk inserts instead"
        )

    def _rpc_request(self, fn: str, params: dict[str, Any] | None, schema: str) -> Any:
        self._start()
        return self._client.schema(schema).rpc(fn, params or {}).retry(False)


class SyncTransport(_TransportBase["Client", httpx.Client]):
    """Blocking PostgREST access through a supabase-py ``Client``."""

    @classmethod
    def connect(cls, url: str, key: str, *, timeout: float = DEFAULT_TIMEOUT) -> SyncTransport:
        """Build a supabase-py client with the SDK's HTTP settings and wrap it.

        supabase-py's own GET retry is turned off (``postgrest_client_retry``)
        and a dedicated ``httpx.Client`` carries the timeout, which is the only
        way to get a sub-second one.
        """
        from supabase import Client, ClientOptions

        def build() -> tuple[Client, httpx.Client]:
            http = httpx.Client(timeout=timeout, event_hooks={"response": [_record_status]})
            options = ClientOptions(postgrest_client_retry=False, httpx_client=http)
            return _open(lambda: Client(url, key, options), key, http.close), http

        client, http = build()
        return cls(client, http_client=http, rebuild=build)

    def insert_rows(self, table: TableRef, rows: list[dict[str, Any]]) -> None:
        """One bulk ``INSERT ... ON CONFLICT (id) DO NOTHING``, nothing returned."""
        try:
            self._insert_request(table, rows).execute()
        except Exception as exc:
            _raise_mapped(exc, self._secrets)

    def write_metrics(self, batch: MetricBatch) -> None:
        """pipeline_metrics rows in one ``monitoring.ingest_metrics`` call (ids given in place).

        Same guarantees as :meth:`insert_rows` (ON CONFLICT (id, "timestamp")
        DO NOTHING, one statement). Falls back to it for good if the function
        is missing.
        """
        if self._ingest_rpc:
            try:
                session, request = self._ingest_request(batch)
                _ingest_result(session.send(request), len(batch))
                return
            except Exception as exc:
                self._ingest_failed(exc)
        self.insert_rows(PIPELINE_METRICS, _bulk_rows(batch))

    def select(
        self,
        table: TableRef,
        *,
        columns: str = "*",
        filters: Sequence[Filter] = (),
        order: Sequence[Order] = (),
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of a table or view matching every filter."""
        try:
            response = self._select_request(table, columns, filters, order, limit).execute()
        except Exception as exc:
            _raise_mapped(exc, self._secrets)
        return _rows_of(response.data, f"select from {table}")

    def update(
        self, table: TableRef, values: dict[str, Any], filters: Sequence[Filter]
    ) -> list[dict[str, Any]]:
        """PATCH the rows matching ``filters``; returns the updated rows."""
        try:
            response = self._update_request(table, values, filters).execute()
        except Exception as exc:
            _raise_mapped(exc, self._secrets)
        return _rows_of(response.data, f"update of {table}")

    def rpc(self, fn: str, params: dict[str, Any] | None = None, *, schema: str = "public") -> Any:
        """Call a database function; returns its decoded JSON result, unvalidated."""
        try:
            response = self._rpc_request(fn, params, schema).execute()
        except Exception as exc:
            _raise_mapped(exc, self._secrets)
        return response.data

    def reset_after_fork(self) -> None:
        """Give a forked child its own client and HTTP connections (a sink's fork hook).

        The parent's pooled sockets are inherited by the child; sharing them
        would interleave two processes' requests on one connection. The old
        clients are dropped, not closed: closing would tear down the parent's
        connections. A user-supplied supabase client is left alone.
        """
        if self._rebuild is None or self._closed:
            return
        self._client, self._http = self._rebuild()

    def close(self) -> None:
        """Close the HTTP client if the transport created it; a user's client stays open."""
        if self._closed:
            return
        self._closed = True
        if self._http is not None:
            self._http.close()


class AsyncTransport(_TransportBase["AsyncClient", httpx.AsyncClient]):
    """Non-blocking PostgREST access through a supabase-py ``AsyncClient``."""

    @classmethod
    def connect(cls, url: str, key: str, *, timeout: float = DEFAULT_TIMEOUT) -> AsyncTransport:
        """Like :meth:`SyncTransport.connect`; needs no running event loop."""
        from supabase import AsyncClient, AsyncClientOptions

        http = httpx.AsyncClient(timeout=timeout, event_hooks={"response": [_arecord_status]})
        options = AsyncClientOptions(postgrest_client_retry=False, httpx_client=http)
        # The constructor, not acreate_client(): that only adds a session
        # lookup, pointless for a service key, and would force an await.
        client = _open(lambda: AsyncClient(url, key, options), key, lambda: _discard_async(http))
        return cls(client, http_client=http)

    async def insert_rows(self, table: TableRef, rows: list[dict[str, Any]]) -> None:
        """One bulk ``INSERT ... ON CONFLICT (id) DO NOTHING``, nothing returned."""
        try:
            await self._insert_request(table, rows).execute()
        except Exception as exc:
            _raise_mapped(exc, self._secrets)

    async def write_metrics(self, batch: MetricBatch) -> None:
        """Like :meth:`SyncTransport.write_metrics`."""
        if self._ingest_rpc:
            try:
                session, request = self._ingest_request(batch)
                _ingest_result(await session.send(request), len(batch))
                return
            except Exception as exc:
                self._ingest_failed(exc)
        await self.insert_rows(PIPELINE_METRICS, _bulk_rows(batch))

    async def select(
        self,
        table: TableRef,
        *,
        columns: str = "*",
        filters: Sequence[Filter] = (),
        order: Sequence[Order] = (),
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of a table or view matching every filter."""
        try:
            response = await self._select_request(table, columns, filters, order, limit).execute()
        except Exception as exc:
            _raise_mapped(exc, self._secrets)
        return _rows_of(response.data, f"select from {table}")

    async def update(
        self, table: TableRef, values: dict[str, Any], filters: Sequence[Filter]
    ) -> list[dict[str, Any]]:
        """PATCH the rows matching ``filters``; returns the updated rows."""
        try:
            response = await self._update_request(table, values, filters).execute()
        except Exception as exc:
            _raise_mapped(exc, self._secrets)
        return _rows_of(response.data, f"update of {table}")

    async def rpc(
        self, fn: str, params: dict[str, Any] | None = None, *, schema: str = "public"
    ) -> Any:
        """Call a database function; returns its decoded JSON result, unvalidated."""
        try:
            response = await self._rpc_request(fn, params, schema).execute()
        except Exception as exc:
            _raise_mapped(exc, self._secrets)
        return response.data

    async def close(self) -> None:
        """Close the HTTP client if the transport created it; a user's client stays open."""
        if self._closed:
            return
        self._closed = True
        if self._http is not None:
            await self._http.aclose()
