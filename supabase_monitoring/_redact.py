"""Keeping keys out of messages: what every layer that words an error uses."""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["client_secrets", "redact"]

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+")


def redact(text: str | None, secrets: Sequence[str] = ()) -> str | None:
    """``text`` with the given secrets and anything shaped like a JWT replaced.

    Server messages and proxy error pages are not supposed to echo the key,
    but exception messages end up in logs, so the SDK does not rely on that.
    """
    if not text:
        return text
    for secret in secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, "[REDACTED]")
    return _JWT.sub("[REDACTED]", text)


def client_secrets(client: object) -> tuple[str, ...]:
    """The API key a supabase-py client holds, as strings to redact."""
    key = getattr(client, "supabase_key", None)
    return (key,) if isinstance(key, str) else ()
