"""A user's Supabase project, end to end: pip install the wheel, db install, supabase db push.

One scenario, in the order a user lives it, on a fresh database: the project already has a
migration of its own (applied, and newer than our migrations' ids), so copies keeping our ids
would need --include-all; ours are stamped after it. Then an SDK round trip through the REST
API, a second install (no change), a hand-edited copy (refused), a project migration after ours,
and a newer release (simulated: one more migration in the installed package) that still pushes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from e2e_project import MIGRATIONS, E2EStack, applied_versions, new_project, push

pytestmark = pytest.mark.timeout(600)


STAMP = "%Y%m%d%H%M%S"


def _after_ours(hours: int) -> str:
    """A 14-digit migration version ``hours`` after our newest migration's."""
    newest = max(p.name.split("_", 1)[0] for p in MIGRATIONS.glob("*.sql"))
    later = datetime.strptime(newest, STAMP) + timedelta(hours=hours)
    return later.strftime(STAMP)


# The project's own migration is newer than every id of ours (so copies keeping our ids would
# need --include-all); a newer release's id sorts between ours and the project's.
OWN_MIGRATION = f"{_after_ours(24)}_app_tables.sql"
NEXT_RELEASE_ID = f"{_after_ours(12)}_next_release_probe"

ROUND_TRIP = """
import json
from supabase_monitoring import MonitoringClient
monitor = MonitoringClient.from_env(strict=True, batching=False)
monitor.record_processing_metric("e2e_queue", 12.5, success_count=3, error_count=1)
issue = monitor.log_worker_issue("e2e-worker", "probe", "from a user's venv")
health = monitor.get_system_health(raise_on_error=True)
monitor.close()
print(json.dumps({"issue": issue, "status": health.overall_status.value}))
"""


def cli(venv: Path, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "supabase-monitoring"), "db", "install", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def files(project: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((project / "supabase/migrations").iterdir())}


def test_a_users_project_installs_pushes_uses_and_upgrades_the_schema(
    user_venv: Path, e2e_stack: E2EStack, tmp_path: Path
) -> None:
    project = new_project(tmp_path / "app")
    (project / "supabase/migrations" / OWN_MIGRATION).write_text(
        "create table public.app_items (id bigint primary key);\n"
    )
    e2e_stack.fresh()
    push(project, e2e_stack)

    # Why copies are stamped: this CLI refuses ours under their own (older) ids.
    raw = [shutil.copy2(p, project / "supabase/migrations") for p in MIGRATIONS.glob("*.sql")]
    refused_push = push(project, e2e_stack, expect_success=False)
    assert "--include-all" in refused_push
    for path in raw:
        Path(path).unlink()

    first = cli(user_venv, project)
    assert first.returncode == 0, first.stderr
    ours = sorted(set(files(project)) - {OWN_MIGRATION})
    assert ours, first.stdout
    assert min(ours) > OWN_MIGRATION  # stamped after the project's newest
    assert all("_supabase_monitoring_" in name for name in ours)
    assert "[api]" in first.stdout  # this project's config.toml does not expose monitoring yet
    assert "dashboard" in first.stdout
    push(project, e2e_stack)
    assert applied_versions(e2e_stack) == sorted(name.partition("_")[0] for name in files(project))

    e2e_stack.reload_api_schema()
    env = e2e_stack.env()
    sdk = subprocess.run(
        [str(user_venv / "bin" / "python"), "-c", ROUND_TRIP],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert sdk.returncode == 0, sdk.stderr
    result = json.loads(sdk.stdout)
    with e2e_stack.db() as conn:
        metrics = conn.execute(
            "select metric_value, tags->>'success_count' from monitoring.pipeline_metrics "
            "where tags->>'queue' = 'e2e_queue'"
        ).fetchall()
        issue = conn.execute(
            "select worker_name from monitoring.worker_issues where id = %s", (result["issue"],)
        ).fetchone()
    assert metrics == [(12.5, "3")]
    assert issue == ("e2e-worker",)
    assert result["status"] in {"healthy", "warning", "critical"}

    before = files(project)
    again = cli(user_venv, project)
    assert again.returncode == 0, again.stderr
    assert "Nothing changed" in again.stdout
    assert files(project) == before
    assert cli(user_venv, project, "--check").returncode == 0
    assert "database is up to date" in push(project, e2e_stack).lower()

    edited = project / "supabase/migrations" / ours[1]
    edited.write_bytes(before[ours[1]] + b"\n-- my tweak\n")
    for args in ((), ("--check",)):
        refused = cli(user_venv, project, *args)
        assert refused.returncode == 1
        assert f"{ours[1]} was modified" in refused.stderr
    assert edited.read_bytes() == before[ours[1]] + b"\n-- my tweak\n"
    edited.write_bytes(before[ours[1]])

    later_own = f"{int(max(before).partition('_')[0]) + 1}_app_more.sql"
    (project / "supabase/migrations" / later_own).write_text(
        "alter table public.app_items add column label text;\n"
    )
    push(project, e2e_stack)

    # A newer release: the installed package gains one migration, with an id older than both
    # of the project's own migrations (as a real next release's id would be).
    (schema_dir,) = user_venv.glob("lib/python*/site-packages/supabase_monitoring/_schema")
    (schema_dir / "migrations" / f"{NEXT_RELEASE_ID}.sql").write_text(
        "create table monitoring.next_release_probe (id bigint primary key);\n"
        "alter table monitoring.next_release_probe enable row level security;\n"
    )
    assert cli(user_venv, project, "--check").returncode == 1
    upgrade = cli(user_venv, project)
    assert upgrade.returncode == 0, upgrade.stderr
    (added,) = set(files(project)) - set(before) - {later_own}
    assert added > later_own
    assert added.endswith("_supabase_monitoring_next_release_probe.sql")
    push(project, e2e_stack)
    with e2e_stack.db() as conn:
        probe = conn.execute("select to_regclass('monitoring.next_release_probe')").fetchone()
    assert probe is not None
    assert probe[0] is not None
    assert cli(user_venv, project, "--check").returncode == 0
