"""``/metrics`` over HTTP with cached snapshots.

A scrape within ``ttl`` of the last refresh is served from the cache, so
several Prometheus servers (or a fast scrape interval) do not multiply the
load on the database; concurrent scrapes share one refresh. The exporter's
own figures (refresh duration, errors, cache age) are exported alongside.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client import start_http_server
from prometheus_client.core import CollectorRegistry, Metric
from prometheus_client.registry import Collector

from .families import PREFIX, snapshot_metrics
from .snapshot import Snapshot

logger = logging.getLogger("supabase_monitoring.exporter")


class CachedCollector(Collector):
    def __init__(self, refresh: Callable[[], Snapshot], ttl: float = 15.0) -> None:
        if ttl < 0:
            raise ValueError("ttl must be >= 0")
        self._refresh = refresh
        self._ttl = ttl
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._fetched = 0.0  # monotonic time of the last refresh
        self.refreshes = 0
        self.errors = 0

    def snapshot(self) -> Snapshot | None:
        with self._lock:
            if self._snapshot is None or time.monotonic() - self._fetched >= self._ttl:
                self.refreshes += 1
                try:
                    snap = self._refresh()
                except Exception:
                    self.errors += 1
                    logger.exception("exporter refresh failed")
                else:
                    self.errors += sum(1 for ok in snap.sources.values() if not ok)
                    self._snapshot, self._fetched = snap, time.monotonic()
            return self._snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot()
        if snap is not None:
            yield from snapshot_metrics(snap)
            age = Metric(f"{PREFIX}_cache_age_seconds", "age of the figures served", "gauge")
            age.add_sample(age.name, {}, time.monotonic() - self._fetched)
            yield age
            took = Metric(
                f"{PREFIX}_refresh_duration_seconds", "how long the last refresh took", "gauge"
            )
            took.add_sample(took.name, {}, snap.duration_seconds)
            yield took
        else:
            up = Metric(f"{PREFIX}_up", "1 if every source was read in the last refresh", "gauge")
            up.add_sample(up.name, {}, 0.0)
            yield up
        for name, value, doc in (
            ("refreshes", self.refreshes, "refreshes of the cached figures"),
            ("refresh_errors", self.errors, "sources that failed to refresh"),
        ):
            counter = Metric(f"{PREFIX}_exporter_{name}", doc, "counter")
            counter.add_sample(f"{PREFIX}_exporter_{name}_total", {}, float(value))
            yield counter


def serve(
    collector: CachedCollector,
    host: str,
    port: int,
    stop: threading.Event,
    on_ready: Callable[[str], None] = lambda url: None,
) -> None:
    """Serve ``/metrics`` on ``host:port`` until ``stop`` is set; ``on_ready`` gets the URL."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    server, thread = start_http_server(port, addr=host, registry=registry)
    on_ready(f"http://{host}:{server.server_port}/metrics")
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
