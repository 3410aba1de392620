"""The upgrade harness: a database on a released schema, with rows, upgraded to the working tree.

Every schema change after a release is a new migration that a user's database runs on top of
data. ``upgrade_keeps_rows`` deploys a release exactly as ``supabase/releases.json`` lists it
(each file checked against its recorded sha256), lets the caller write rows, pushes the current
migrations (plus any ``extra`` ones) and returns the rows that did not survive, per table.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import psycopg
from e2e_project import MANIFEST, MIGRATIONS, E2EStack, new_project, push
from psycopg import sql

# Writes rows on the old schema; returns the tables it wrote (schema-qualified).
RowWriter = Callable[[psycopg.Connection[tuple[Any, ...]]], list[str]]


def released_versions() -> list[str]:
    return [str(r["version"]) for r in json.loads(MANIFEST.read_text())["releases"]]


def release_files(version: str) -> list[str]:
    (release,) = [
        r for r in json.loads(MANIFEST.read_text())["releases"] if r["version"] == version
    ]
    for entry in release["migrations"]:
        sha = hashlib.sha256((MIGRATIONS / entry["file"]).read_bytes()).hexdigest()
        assert sha == entry["sha256"], f"{entry['file']} differs from release {version}"
    return [str(entry["file"]) for entry in release["migrations"]]


def _rows(conn: psycopg.Connection[tuple[Any, ...]], table: str) -> list[dict[str, Any]]:
    query = sql.SQL("select to_jsonb(t) from {} t").format(sql.Identifier(*table.split(".")))
    return [row for (row,) in conn.execute(query).fetchall()]


def upgrade_keeps_rows(
    stack: E2EStack,
    workdir: Path,
    version: str,
    write_rows: RowWriter,
    extra: Mapping[str, str] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Rows written on ``version`` that are gone or changed after the upgrade (empty: none)."""
    project = new_project(workdir)
    target = project / "supabase" / "migrations"
    for name in release_files(version):
        shutil.copy2(MIGRATIONS / name, target / name)
    stack.fresh()
    push(project, stack)
    with stack.db() as conn:
        tables = write_rows(conn)
        before = {table: _rows(conn, table) for table in tables}
    assert all(before.values()), "the writer must write at least one row into each table it names"

    for path in MIGRATIONS.glob("*.sql"):
        if not (target / path.name).exists():
            shutil.copy2(path, target / path.name)
    for name, text in (extra or {}).items():
        (target / name).write_text(text)
    push(project, stack)

    lost: dict[str, list[dict[str, Any]]] = {}
    with stack.db() as conn:
        for table, rows in before.items():
            now = _rows(conn, table)
            gone = [
                r for r in rows if not any(all(n.get(k) == v for k, v in r.items()) for n in now)
            ]
            if gone:
                lost[table] = gone
    return lost
