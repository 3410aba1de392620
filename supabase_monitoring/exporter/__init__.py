"""Prometheus exposition of the monitoring figures (``supabase-monitoring exporter``).

:mod:`.snapshot` reads what to export (no Prometheus dependency),
:mod:`.families` turns a snapshot into metric families, :mod:`.server` caches
snapshots and serves ``/metrics``. Needs the ``exporter`` extra
(``prometheus_client``) for the last two.
"""

from .snapshot import Snapshot, take_snapshot

__all__ = ["Snapshot", "take_snapshot"]
