"""``db install``: add this release's migrations to a user's Supabase project.

The Supabase CLI refuses to push a local migration older than the newest one a database has
applied (without ``--include-all``), so copies cannot keep our own timestamps: each new copy is
stamped, at install time, to sort after the project's newest migration, and carries our stable
migration id and checksum in its first line. That line is how ``--check`` and later installs
recognise a copy, whatever it is called; a copy whose SQL no longer matches is never overwritten.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from .bundle import MIGRATION_FILE, Migration, config_snippet

STAMP_FORMAT = "%Y%m%d%H%M%S"
HEADER = re.compile(rb"-- supabase-monitoring migration (?P<id>\S+) sha256:(?P<sha>[0-9a-f]{64})\n")
PREFIX = "supabase-monitoring db install"
HOSTED_REMINDER = (
    "Hosted projects: config.toml does not reach them; add `monitoring` to the exposed schemas "
    "in the dashboard (Project Settings > Data API > Exposed schemas).\n"
)


class InstallError(Exception):
    """The project directory cannot take an install (no ``supabase/``, unwritable files)."""


def stamped(migration: Migration, release: str) -> bytes:
    """The installed copy: two header lines, then the released SQL byte for byte."""
    return (
        f"-- supabase-monitoring migration {migration.id} sha256:{migration.sha256}\n"
        f"-- Copied by `supabase-monitoring db install` (release {release}). Do not edit: "
        "released migrations never change; a newer release adds new files.\n"
    ).encode() + migration.sql


@dataclass(frozen=True)
class InstalledCopy:
    path: Path
    migration_id: str
    sql: bytes  # what follows the two header lines


def read_copy(path: Path) -> InstalledCopy | None:
    """The copy in ``path``, or None when the file is one of the project's own migrations."""
    data = path.read_bytes()
    match = HEADER.match(data)
    if match is None:
        return None
    _, _, rest = data[match.end() :].partition(b"\n")  # drop the second header line
    return InstalledCopy(path, match["id"].decode(), rest)


@dataclass(frozen=True)
class NewCopy:
    migration: Migration
    path: Path


@dataclass
class Plan:
    """What an install would do; ``problems`` non-empty means it must not write anything."""

    migrations_dir: Path
    new: list[NewCopy] = field(default_factory=list)
    unchanged: list[InstalledCopy] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def next_versions(latest: str | None, now: datetime, count: int) -> list[str]:
    """``count`` migration versions, one second apart, after ``latest`` and not before ``now``."""
    start = now.astimezone(UTC).replace(microsecond=0, tzinfo=None)
    if latest is not None:
        after = _timestamp(latest)
        if after is None:  # not a timestamp: the next integers will do
            first = max(int(latest) + 1, int(start.strftime(STAMP_FORMAT)))
            return [str(first + i) for i in range(count)]
        start = max(start, after + timedelta(seconds=1))
    return [(start + timedelta(seconds=i)).strftime(STAMP_FORMAT) for i in range(count)]


def plan_install(project_dir: Path, migrations: Sequence[Migration], now: datetime) -> Plan:
    supabase_dir = project_dir / "supabase"
    if not supabase_dir.is_dir():
        raise InstallError(
            f"{project_dir} has no supabase/ directory: pass your Supabase project's directory "
            "(the one holding supabase/), or run `supabase init` there first"
        )
    plan = Plan(supabase_dir / "migrations")
    files = sorted(_migration_files(plan.migrations_dir))
    ours = {m.id: m for m in migrations}
    installed: dict[str, InstalledCopy] = {}
    for path in files:
        try:
            copy = read_copy(path)
        except OSError as exc:
            raise InstallError(f"cannot read {path}: {exc.strerror or exc}") from None
        if copy is None:
            continue
        released = ours.get(copy.migration_id)
        if released is None:
            plan.problems.append(
                f"{_rel(path, project_dir)} holds migration {copy.migration_id}, which this "
                "release does not know: it comes from a newer supabase-monitoring; upgrade the "
                "package (pip install -U supabase-monitoring)"
            )
        elif copy.migration_id in installed:
            plan.problems.append(
                f"{_rel(path, project_dir)} and "
                f"{_rel(installed[copy.migration_id].path, project_dir)} both hold migration "
                f"{copy.migration_id}: delete the one never pushed"
            )
        elif hashlib.sha256(copy.sql).hexdigest() != released.sha256:
            plan.problems.append(
                f"{_rel(path, project_dir)} was modified: it no longer matches "
                f"supabase-monitoring's migration {copy.migration_id} and is never overwritten. "
                "Restore its content (e.g. git checkout), or delete it if it was never pushed, "
                "and put your change in a migration of your own"
            )
        else:
            plan.unchanged.append(copy)
        installed.setdefault(copy.migration_id, copy)

    missing = [m for m in migrations if m.id not in installed]
    last_installed = max((m.id for m in migrations if m.id in installed), default="")
    for m in missing:
        if m.id < last_installed:
            plan.problems.append(
                f"migration {m.id} is missing although the later {last_installed} is installed: "
                "restore the deleted file (it cannot run after migrations that depend on it)"
            )
    if plan.problems or not missing:
        return plan
    latest = max((p.name.partition("_")[0] for p in files), key=int, default=None)
    for m, version in zip(missing, next_versions(latest, now, len(missing)), strict=True):
        plan.new.append(
            NewCopy(m, plan.migrations_dir / f"{version}_supabase_monitoring_{m.name}.sql")
        )
    return plan


def write_copies(plan: Plan, release: str) -> None:
    """Write the plan's new copies; an existing file is never replaced."""
    plan.migrations_dir.mkdir(parents=True, exist_ok=True)
    for new in plan.new:
        tmp = new.path.with_name(new.path.name + ".tmp")
        try:
            tmp.write_bytes(stamped(new.migration, release))
            if new.path.exists():
                raise InstallError(f"{new.path} appeared while installing: run db install again")
            os.replace(tmp, new.path)
        except OSError as exc:
            raise InstallError(f"cannot write {new.path}: {exc.strerror or exc}") from None
        finally:
            tmp.unlink(missing_ok=True)


def config_advice(project_dir: Path) -> str:
    """What the project still has to add to supabase/config.toml, and the hosted reminder."""
    config = project_dir / "supabase" / "config.toml"
    try:
        schemas = (
            tomllib.loads(config.read_text(encoding="utf-8")).get("api", {}).get("schemas", [])
        )
    except (OSError, tomllib.TOMLDecodeError, AttributeError):
        schemas = []
    if isinstance(schemas, list) and "monitoring" in schemas:
        advice = "supabase/config.toml already exposes the monitoring schema ([api] schemas).\n"
    else:
        advice = f"Add to supabase/config.toml:\n\n{config_snippet()}\n"
    return advice + HOSTED_REMINDER


def run_db_install(
    project_dir: Path,
    migrations: Sequence[Migration],
    release: str,
    *,
    check: bool,
    out: TextIO,
    err: TextIO,
    now: datetime | None = None,
) -> int:
    """The whole command: 0 done (or, with ``check``, up to date), 1 otherwise."""
    try:
        plan = plan_install(project_dir, migrations, now or datetime.now(UTC))
        if plan.problems:
            for problem in plan.problems:
                err.write(f"{PREFIX}: error: {problem}\n")
            return 1
        where = _rel(plan.migrations_dir, project_dir)
        if check:
            if plan.new:
                err.write(
                    f"{PREFIX}: {len(plan.new)} of {len(migrations)} migrations are not in "
                    f"{where}/: {', '.join(n.migration.id for n in plan.new)}\n"
                )
                return 1
            out.write(
                f"All {len(migrations)} supabase-monitoring migrations are in {where}/, "
                "unchanged.\n"
            )
            return 0
        if not plan.new:
            out.write(
                f"Nothing changed: all {len(migrations)} supabase-monitoring migrations "
                f"are already in {where}/, unchanged.\n"
            )
        else:
            write_copies(plan, release)
            out.write(
                f"Added {len(plan.new)} supabase-monitoring {release} migrations to {where}/:\n"
            )
            out.writelines(f"  {n.path.name}\n" for n in plan.new)
            out.write("Apply them with `supabase db push`.\n")
    except InstallError as exc:
        err.write(f"{PREFIX}: error: {exc}\n")
        return 1
    out.write(config_advice(project_dir))
    return 0


def _timestamp(version: str) -> datetime | None:
    if len(version) != len("YYYYMMDDHHMMSS"):
        return None
    try:
        return datetime.strptime(version, STAMP_FORMAT)
    except ValueError:  # 14 digits, yet no date (e.g. month 13)
        return None


def _migration_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return [p for p in directory.iterdir() if MIGRATION_FILE.match(p.name) and p.is_file()]


def _rel(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)
