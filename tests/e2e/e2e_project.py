"""What the end-to-end tests drive: a second, throw-away local stack and a user's project directory.

The stack is ``scripts/local-stack.sh`` with its own directory and ports (by default the main
stack's ports + 100, so every private stack has a private e2e twin; SM_E2E_STACK_DIR,
SM_E2E_PG_PORT, SM_E2E_API_PORT and SM_E2E_PGRST_PORT override them). ``fresh()`` destroys and
re-creates it: a database that has applied nothing, as a new Supabase project's.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "scripts" / "local-stack.sh"
SUPABASE = REPO / ".tools" / "node_modules" / ".bin" / "supabase"
MIGRATIONS = REPO / "supabase" / "migrations"
MANIFEST = REPO / "supabase" / "releases.json"


def _port(name: str, default: int) -> str:
    explicit = os.environ.get(f"SM_E2E_{name}")
    return explicit or str(int(os.environ.get(f"SM_{name}", default)) + 100)


@dataclass(frozen=True)
class E2EStack:
    stack_dir: str
    pg_port: str
    api_port: str
    pgrst_port: str

    @classmethod
    def from_env(cls) -> E2EStack:
        main_dir = os.environ.get("SM_STACK_DIR", "/tmp/supabase-monitoring-stack")
        return cls(
            os.environ.get("SM_E2E_STACK_DIR", f"{main_dir}-e2e"),
            _port("PG_PORT", 54322),
            _port("API_PORT", 54321),
            _port("PGRST_PORT", 54330),
        )

    def script(self, *args: str) -> str:
        env = {
            **os.environ,
            "SM_STACK_DIR": self.stack_dir,
            "SM_PG_PORT": self.pg_port,
            "SM_API_PORT": self.api_port,
            "SM_PGRST_PORT": self.pgrst_port,
        }
        done = subprocess.run(
            [str(STACK), *args], env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, f"local-stack.sh {' '.join(args)}:\n{done.stderr}"
        return done.stdout

    def fresh(self) -> None:
        self.script("destroy")
        self.script("up")

    def destroy(self) -> None:
        self.script("destroy")

    def env(self) -> dict[str, str]:
        """SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY, SUPABASE_DB_URL, ... of this stack."""
        pairs = (
            line.removeprefix("export ").split("=", 1)
            for line in self.script("env").split("\n")
            if line
        )
        return {name: value.strip("'") for name, value in pairs}

    def db(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.env()["SUPABASE_DB_URL"], autocommit=True)

    def reload_api_schema(self) -> None:
        """After a push: PostgREST reloads its schema cache; wait until it serves monitoring."""
        env = self.env()
        with self.db() as conn:
            conn.execute("notify pgrst, 'reload schema'")
        key = env["SUPABASE_SERVICE_ROLE_KEY"]
        headers = {"apikey": key, "Authorization": f"Bearer {key}", "Accept-Profile": "monitoring"}
        deadline = time.monotonic() + 30
        while True:
            got = httpx.get(
                f"{env['SUPABASE_URL']}/rest/v1/pipeline_metrics?limit=0", headers=headers
            )
            if got.status_code == 200:
                return
            assert time.monotonic() < deadline, f"PostgREST never served monitoring: {got.text}"
            time.sleep(0.2)


def new_project(root: Path) -> Path:
    """A user's project: its own config.toml, no migrations yet."""
    (root / "supabase" / "migrations").mkdir(parents=True)
    (root / "supabase" / "config.toml").write_text(
        'project_id = "e2e-user-project"\n\n[api]\nschemas = ["public", "graphql_public"]\n'
    )
    return root


def push(project: Path, stack: E2EStack, *, expect_success: bool = True) -> str:
    """``supabase db push`` exactly as a user runs it (never with --include-all); its output."""
    done = subprocess.run(
        [str(SUPABASE), "db", "push", "--db-url", stack.env()["SUPABASE_DB_URL"], "--yes"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert (done.returncode == 0) == expect_success, f"supabase db push:\n{output}"
    return output


def applied_versions(stack: E2EStack) -> list[str]:
    with stack.db() as conn:
        rows = conn.execute(
            "select version from supabase_migrations.schema_migrations order by version"
        ).fetchall()
    return [str(v) for (v,) in rows]
