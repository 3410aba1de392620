"""Environment handling: credentials for ``from_env`` and the kill switch."""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from .errors import ConfigurationError

__all__ = [
    "DISABLED_ENV",
    "KEY_ENV",
    "URL_ENV",
    "env_credentials",
    "env_disabled",
    "missing_credentials",
    "safe_url",
]

URL_ENV = "SUPABASE_URL"
KEY_ENV = "SUPABASE_SERVICE_ROLE_KEY"
#: Set to 1/true/yes/on to turn every client into a no-op (tests, local runs, incidents).
DISABLED_ENV = "SUPABASE_MONITORING_DISABLED"

_TRUE = frozenset({"1", "true", "yes", "on"})


def env_disabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether SUPABASE_MONITORING_DISABLED asks for a no-op SDK."""
    env = os.environ if environ is None else environ
    return env.get(DISABLED_ENV, "").strip().lower() in _TRUE


def _read_credentials(environ: Mapping[str, str] | None) -> tuple[str, str, list[str]]:
    env = os.environ if environ is None else environ
    url = env.get(URL_ENV, "").strip()
    key = env.get(KEY_ENV, "").strip()
    return url, key, [name for name, value in ((URL_ENV, url), (KEY_ENV, key)) if not value]


def missing_credentials(environ: Mapping[str, str] | None = None) -> list[str]:
    """The names of the credential variables that are unset or blank."""
    return _read_credentials(environ)[2]


def env_credentials(owner: str, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY, or an error naming what is missing."""
    url, key, missing = _read_credentials(environ)
    if missing:
        raise ConfigurationError(
            f"{owner}.from_env(): environment variable{'s' if len(missing) > 1 else ''} "
            f"{' and '.join(missing)} {'are' if len(missing) > 1 else 'is'} not set "
            f"(needs the project URL and the service_role key; set {DISABLED_ENV}=1 "
            "to run without monitoring)"
        )
    return url, key


def safe_url(url: str) -> str:
    """``url`` without user info, query or fragment: fit for reprs and logs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
    except ValueError:
        return "<invalid url>"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
