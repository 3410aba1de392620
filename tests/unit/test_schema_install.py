"""``db install`` on project directories: stamping, idempotence, refusals, upgrades (no stack)."""

from __future__ import annotations

import io
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from supabase_monitoring._schema import config_snippet, packaged_migrations
from supabase_monitoring._schema.bundle import Migration
from supabase_monitoring._schema.install import next_versions, read_copy, run_db_install

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
RELEASE_1 = [
    Migration("20261127000100_schema", "schema", b"create schema monitoring;\n"),
    Migration("20261127000200_tables", "tables", b"create table monitoring.t (id int);\n"),
]
RELEASE_2 = [*RELEASE_1, Migration("20261128000100_more", "more", b"alter table monitoring.t;\n")]


def project(tmp_path: Path, *own: str, config: str = 'project_id = "app"\n') -> Path:
    migrations = tmp_path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    (tmp_path / "supabase" / "config.toml").write_text(config)
    for name in own:
        (migrations / name).write_text("create table public.app (id int);\n")
    return tmp_path


def install(
    root: Path, release: list[Migration], *, check: bool = False, now: datetime = NOW
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_db_install(root, release, "9.9.9", check=check, out=out, err=err, now=now)
    return code, out.getvalue(), err.getvalue()


def listing(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "supabase" / "migrations").iterdir())}


def test_copies_sort_after_the_projects_newest_migration_and_keep_the_sql(tmp_path: Path) -> None:
    # The project's own migration is newer than our ids and than "now".
    root = project(tmp_path, "20270101000000_app.sql")
    code, out, err = install(root, RELEASE_1)
    assert (code, err) == (0, "")
    names = list(listing(root))
    assert names == [
        "20270101000000_app.sql",
        "20270101000001_supabase_monitoring_schema.sql",
        "20270101000002_supabase_monitoring_tables.sql",
    ]
    for name, migration in zip(names[1:], RELEASE_1, strict=True):
        copy = read_copy(root / "supabase" / "migrations" / name)
        assert copy is not None
        assert (copy.migration_id, copy.sql) == (migration.id, migration.sql)
        assert name in out
    assert "supabase db push" in out


def test_copies_are_stamped_now_when_the_project_is_older(tmp_path: Path) -> None:
    root = project(tmp_path, "20240101000000_app.sql")
    assert install(root, RELEASE_1)[0] == 0
    assert [n[:14] for n in listing(root)][1:] == ["20261201120000", "20261201120001"]


def test_second_run_changes_nothing_and_says_so(tmp_path: Path) -> None:
    root = project(tmp_path, "20240101000000_app.sql")
    install(root, RELEASE_1)
    before = listing(root)
    code, out, _ = install(root, RELEASE_1, now=datetime(2027, 6, 1, tzinfo=UTC))
    assert code == 0
    assert "Nothing changed" in out
    assert listing(root) == before


def test_check_exits_1_until_installed_and_never_writes(tmp_path: Path) -> None:
    root = project(tmp_path, "20240101000000_app.sql")
    code, _, err = install(root, RELEASE_1, check=True)
    assert code == 1
    assert "2 of 2 migrations are not in" in err
    assert list(listing(root)) == ["20240101000000_app.sql"]
    install(root, RELEASE_1)
    assert install(root, RELEASE_1, check=True)[0] == 0
    assert install(root, RELEASE_2, check=True)[0] == 1


def test_a_modified_copy_is_refused_and_kept(tmp_path: Path) -> None:
    root = project(tmp_path)
    install(root, RELEASE_1)
    edited = next(p for p in (root / "supabase" / "migrations").iterdir() if "tables" in p.name)
    edited.write_bytes(edited.read_bytes().replace(b"id int", b"id bigint"))
    before = listing(root)
    for check in (False, True):
        code, _, err = install(root, RELEASE_2, check=check)
        assert code == 1
        assert f"{edited.name} was modified" in err
        assert "20261127000200_tables" in err
    assert listing(root) == before  # not overwritten, and the new migration not added either


def test_a_newer_release_adds_only_its_new_migrations_after_the_projects_latest(
    tmp_path: Path,
) -> None:
    root = project(tmp_path)
    install(root, RELEASE_1)
    # The project adds a migration of its own after ours, dated in the future.
    (root / "supabase" / "migrations" / "20280101000000_later.sql").write_text("select 1;\n")
    before = listing(root)
    code, out, _ = install(root, RELEASE_2)
    assert code == 0
    after = listing(root)
    added = sorted(set(after) - set(before))
    assert added == ["20280101000001_supabase_monitoring_more.sql"]
    assert all(after[name] == content for name, content in before.items())
    assert "Added 1 supabase-monitoring 9.9.9 migrations" in out


def test_a_copy_from_a_newer_release_is_reported(tmp_path: Path) -> None:
    root = project(tmp_path)
    install(root, RELEASE_2)
    code, _, err = install(root, RELEASE_1)
    assert code == 1
    assert "20261128000100_more, which this release does not know" in err


def test_a_deleted_earlier_copy_is_not_reinstalled_after_later_ones(tmp_path: Path) -> None:
    root = project(tmp_path)
    install(root, RELEASE_1)
    next((root / "supabase" / "migrations").glob("*_schema.sql")).unlink()
    before = listing(root)
    code, _, err = install(root, RELEASE_1)
    assert code == 1
    assert "20261127000100_schema is missing although the later 20261127000200_tables" in err
    assert listing(root) == before


def test_a_directory_without_supabase_is_refused(tmp_path: Path) -> None:
    code, _out, err = install(tmp_path, RELEASE_1)
    assert code == 1
    assert "has no supabase/ directory" in err
    assert not (tmp_path / "supabase").exists()


def test_a_missing_migrations_folder_is_created(tmp_path: Path) -> None:
    (tmp_path / "supabase").mkdir()
    assert install(tmp_path, RELEASE_1)[0] == 0
    assert len(listing(tmp_path)) == 2


@pytest.mark.parametrize(
    ("config", "expected", "absent"),
    [
        ('[api]\nschemas = ["public", "monitoring"]\n', "already exposes", "[api]\nschemas"),
        ('[api]\nschemas = ["public"]\n', "[api]\nschemas", "already exposes"),
        ("not toml [", "[api]\nschemas", "already exposes"),
    ],
)
def test_config_advice_follows_the_projects_config(
    tmp_path: Path, config: str, expected: str, absent: str
) -> None:
    root = project(tmp_path, config=config)
    _, out, _ = install(root, RELEASE_1)
    assert expected in out
    assert absent not in out
    assert "Hosted projects" in out
    assert "Exposed schemas" in out


@pytest.mark.parametrize(
    ("latest", "now", "expected"),
    [
        (None, NOW, ["20261201120000", "20261201120001"]),
        ("20261201235959", NOW, ["20261202000000", "20261202000001"]),  # rolls over the day
        ("20240101000000", NOW, ["20261201120000", "20261201120001"]),
        ("7", NOW, ["20261201120000", "20261201120001"]),  # not a timestamp: integers
        ("20261399000000", NOW, ["20261399000001", "20261399000002"]),  # 14 digits, no date
        ("99991231235959000", NOW, ["99991231235959001", "99991231235959002"]),
    ],
)
def test_next_versions(latest: str | None, now: datetime, expected: list[str]) -> None:
    assert next_versions(latest, now, 2) == expected


def test_the_package_carries_the_repositorys_migrations() -> None:
    # Through the source tree's symlink in this editable install, as files in a wheel.
    repo = {p.stem: p.read_bytes() for p in (REPO / "supabase" / "migrations").glob("*.sql")}
    assert {m.id: m.sql for m in packaged_migrations()} == repo


def test_the_config_snippet_is_what_the_repository_itself_uses() -> None:
    snippet = tomllib.loads(config_snippet())["api"]["schemas"]
    ours = tomllib.loads((REPO / "supabase" / "config.toml").read_text())["api"]["schemas"]
    assert "monitoring" in snippet
    assert set(snippet) <= set(ours)


def test_cli_db_install_needs_no_supabase_environment(tmp_path: Path) -> None:
    root = project(tmp_path)
    env = {"PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "supabase_monitoring.cli", "db", "install"]
    first = subprocess.run([*cmd, str(root)], env=env, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    assert len(listing(root)) == len(packaged_migrations())
    check = subprocess.run(
        [*cmd, "--check"], cwd=root, env=env, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stderr
    assert "unchanged" in check.stdout
