"""scripts/release_manifest.py: a released migration can neither change nor disappear."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "release_manifest", REPO / "scripts/release_manifest.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rm = _script()


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "20261127000100_a.sql").write_text("select 1;\n")
    (migrations / "20261127000200_b.sql").write_text("select 2;\n")
    (migrations / "README").write_text("not a migration")
    return tmp_path / "releases.json", migrations


def check(manifest: Path, migrations: Path) -> list[str]:
    problems: list[str] = rm.problems(rm.load(manifest), rm.current_files(migrations))
    return problems


def test_freeze_records_every_migration_with_its_hash(tree: tuple[Path, Path]) -> None:
    manifest, migrations = tree
    assert rm.freeze("0.2.0", manifest, migrations) == []
    (release,) = json.loads(manifest.read_text())["releases"]
    assert release["version"] == "0.2.0"
    assert [m["file"] for m in release["migrations"]] == [
        "20261127000100_a.sql",
        "20261127000200_b.sql",
    ]
    assert check(manifest, migrations) == []


def test_a_changed_or_deleted_released_migration_fails(tree: tuple[Path, Path]) -> None:
    manifest, migrations = tree
    rm.freeze("0.2.0", manifest, migrations)
    (migrations / "20261127000100_a.sql").write_text("select 11;\n")
    (migrations / "20261127000200_b.sql").unlink()
    problems = check(manifest, migrations)
    assert len(problems) == 2
    assert "20261127000100_a.sql (released in 0.2.0) changed" in problems[0]
    assert "20261127000200_b.sql (released in 0.2.0) is missing" in problems[1]


def test_new_migrations_must_sort_after_released_ones(tree: tuple[Path, Path]) -> None:
    manifest, migrations = tree
    rm.freeze("0.2.0", manifest, migrations)
    (migrations / "20261201000000_next.sql").write_text("select 3;\n")
    assert check(manifest, migrations) == []
    (migrations / "20261127000150_squeezed.sql").write_text("select 4;\n")
    (problem,) = check(manifest, migrations)
    assert "20261127000150_squeezed.sql is new but sorts before the released" in problem


def test_freezing_a_later_release_keeps_earlier_ones_and_refuses_to_break_them(
    tree: tuple[Path, Path],
) -> None:
    manifest, migrations = tree
    rm.freeze("0.2.0", manifest, migrations)
    (migrations / "20261201000000_next.sql").write_text("select 3;\n")
    assert rm.freeze("0.10.0", manifest, migrations) == []
    assert rm.freeze("0.3.0", manifest, migrations) == []
    versions = [r["version"] for r in json.loads(manifest.read_text())["releases"]]
    assert versions == ["0.2.0", "0.3.0", "0.10.0"]  # numeric order, not text order
    (migrations / "20261127000100_a.sql").write_text("edited\n")
    before = manifest.read_text()
    assert rm.freeze("0.11.0", manifest, migrations) != []
    assert manifest.read_text() == before


def test_freeze_rejects_a_malformed_version(tree: tuple[Path, Path]) -> None:
    manifest, migrations = tree
    assert "not a release version" in rm.freeze("v1", manifest, migrations)[0]
    assert not manifest.exists()


def test_an_object_defined_twice_in_the_next_release_fails(tree: tuple[Path, Path]) -> None:
    manifest, migrations = tree
    (migrations / "20261127000100_a.sql").write_text("create function monitoring.f() ...;\n")
    rm.freeze("0.2.0", manifest, migrations)
    # Replacing a released object once is how a release changes it.
    (migrations / "20261201000100_c.sql").write_text(
        "create or replace function monitoring.f() ...;\ncreate view monitoring.v as select 1;\n"
    )
    assert rm.redefinitions(rm.load(manifest), migrations) == []
    (migrations / "20261201000200_d.sql").write_text(
        "-- replaces it again\n  CREATE OR REPLACE FUNCTION Monitoring.F(p integer) ...;\n"
    )
    (found,) = rm.redefinitions(rm.load(manifest), migrations)
    assert "function monitoring.f" in found
    assert "20261201000100_c.sql, 20261201000200_d.sql" in found
