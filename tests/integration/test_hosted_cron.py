"""pg_cron really runs jobs that the non-superuser ``postgres`` schedules.

On hosted Supabase the migrations' jobs belong to ``postgres``, which is not a
superuser; pg_cron's worker must log in as it and run the command. The stack
reproduces that (scripts/local-stack.sh); pgTAP's 00_hosted_role_model.sql checks
the grants, this checks that a job actually runs.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

DB = psycopg.Connection[dict[str, Any]]

# pg_cron 1.4 schedules by the minute: a job scheduled now runs within ~60 s.
RUN_TIMEOUT_S = 90.0


def test_a_job_scheduled_by_postgres_runs_as_postgres(db: DB, unique: str) -> None:
    who = db.execute(
        "select current_user::text as u, rolsuper from pg_roles where rolname = current_user"
    ).fetchone()
    assert who == {"u": "postgres", "rolsuper": False}

    row = db.execute(
        "select cron.schedule(%s, '* * * * *', 'select current_user') as jobid", (unique,)
    ).fetchone()
    assert row is not None
    jobid = row["jobid"]
    try:
        job = db.execute(
            "select username::text as username from cron.job where jobid = %s", (jobid,)
        ).fetchone()
        assert job == {"username": "postgres"}

        deadline = time.monotonic() + RUN_TIMEOUT_S
        run: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            run = db.execute(
                "select status, username::text as username, return_message"
                " from cron.job_run_details where jobid = %s and status in ('succeeded', 'failed')"
                " order by runid limit 1",
                (jobid,),
            ).fetchone()
            if run is not None:
                break
            time.sleep(1)
        assert run is not None, f"pg_cron did not run job {jobid} within {RUN_TIMEOUT_S} s"
        assert run == {"status": "succeeded", "username": "postgres", "return_message": "1 row"}
    finally:
        db.execute("select cron.unschedule(%s)", (jobid,))
        # postgres may prune pg_cron's history, as on a hosted project.
        db.execute("delete from cron.job_run_details where jobid = %s", (jobid,))
