"""The built wheel carries the schema: every migration byte for byte, and the config snippet."""

from __future__ import annotations

import zipfile
from pathlib import Path

from e2e_project import MIGRATIONS

import supabase_monitoring

PACKAGED = "supabase_monitoring/_schema/"


def test_the_wheel_holds_every_migration_and_the_config_snippet(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        shipped = {
            n.removeprefix(PACKAGED + "migrations/"): zf.read(n)
            for n in names
            if n.startswith(PACKAGED + "migrations/")
        }
        snippet = zf.read(PACKAGED + "config-snippet.toml").decode()
        metadata = zf.read(
            f"supabase_monitoring-{supabase_monitoring.__version__}.dist-info/METADATA"
        ).decode()
    assert shipped == {p.name: p.read_bytes() for p in MIGRATIONS.glob("*.sql")}
    assert '"monitoring"' in snippet
    assert {
        PACKAGED + "install.py",
        PACKAGED + "bundle.py",
        "supabase_monitoring/py.typed",
    } <= names
    assert f"Version: {supabase_monitoring.__version__}\n" in metadata
    assert not [n for n in names if n.startswith(("tests/", "scripts/", "supabase/"))]
