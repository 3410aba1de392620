"""Connections for the CLI: the SDK client for reads, a transport for events and RPCs."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .._client import MonitoringClient
from .._config import KEY_ENV, URL_ENV
from .._retry import RetryPolicy
from .._transport import SyncTransport
from .errors import CliError


@dataclass
class Connection:
    client: MonitoringClient
    transport: SyncTransport

    def close(self) -> None:
        self.client.close()
        self.transport.close()


def connect(timeout: float, retry: RetryPolicy | None = None) -> Connection:
    """Both handles from SUPABASE_URL / SUPABASE_SERVICE_ROLE_KEY (service_role: the
    monitoring schema is closed to every other role)."""
    url = os.environ.get(URL_ENV, "").strip()
    key = os.environ.get(KEY_ENV, "").strip()
    missing = [name for name, value in ((URL_ENV, url), (KEY_ENV, key)) if not value]
    if missing:
        raise CliError(
            f"missing environment variable(s): {', '.join(missing)} "
            "(the project URL and its service_role key)"
        )
    if not url.startswith(("http://", "https://")):
        raise CliError(f"{URL_ENV} must start with http:// or https://")
    client = MonitoringClient(url, key, strict=True, timeout=timeout, retry=retry)
    try:
        transport = SyncTransport.connect(url, key, timeout=timeout)
    except Exception:
        client.close()
        raise
    return Connection(client, transport)
