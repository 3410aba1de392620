"""The schema this release ships: its migrations and the config.toml snippet, read as package data.

``migrations/`` is the repository's ``supabase/migrations`` (a symlink in the source tree, real
files in the wheel), so an editable install and an installed wheel read the same SQL.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

# The Supabase CLI's own rule for a migration file: <digits>_<name>.sql.
MIGRATION_FILE = re.compile(r"^(?P<version>[0-9]+)_(?P<name>.+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One released migration; ``id`` (its file stem, e.g. ``20261127000100_monitoring_schema``)
    never changes, wherever and under whatever name a project installs it."""

    id: str
    name: str
    sql: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.sql).hexdigest()


def packaged_migrations() -> list[Migration]:
    """This release's migrations in the order they must run."""
    found = []
    for entry in (resources.files(__package__) / "migrations").iterdir():
        match = MIGRATION_FILE.match(entry.name)
        if match is not None and entry.is_file():
            found.append(Migration(entry.name[: -len(".sql")], match["name"], entry.read_bytes()))
    if not found:
        raise RuntimeError("this supabase-monitoring installation carries no migrations")
    return sorted(found, key=lambda m: m.id)


def config_snippet() -> str:
    """What a project adds to ``supabase/config.toml`` (TOML with comments)."""
    return (resources.files(__package__) / "config-snippet.toml").read_text(encoding="utf-8")
