"""CLI failure paths that need no stack: one clear line, right exit code, no traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

KEY = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlLXNlY3JldA"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SUPABASE_")}
    return subprocess.run(
        [sys.executable, "-m", "supabase_monitoring.cli", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_clean_error(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, proc.stderr
    assert KEY not in proc.stderr
    assert KEY not in proc.stdout


@pytest.mark.parametrize(
    ("command", "code"), [(["health"], 3), (["report"], 1), (["issues", "list"], 1)]
)
def test_missing_environment(command: list[str], code: int) -> None:
    proc = run(command, {})
    assert proc.returncode == code
    assert_one_clean_error(proc)
    assert "SUPABASE_URL" in proc.stderr
    assert "SUPABASE_SERVICE_ROLE_KEY" in proc.stderr


def test_unreachable_api_health_is_unknown() -> None:
    env = {"SUPABASE_URL": f"http://127.0.0.1:{_closed_port()}", "SUPABASE_SERVICE_ROLE_KEY": KEY}
    proc = run(["--timeout", "1", "health"], env)
    assert proc.returncode == 3
    assert "UNKNOWN" in proc.stdout
    assert "Traceback" not in proc.stderr
    assert KEY not in proc.stderr + proc.stdout


@pytest.mark.parametrize(
    "command",
    [["report"], ["issues", "list"], ["aggregate"], ["issues", "resolve", "0" * 8]],
)
def test_unreachable_api_other_commands(command: list[str]) -> None:
    env = {"SUPABASE_URL": f"http://127.0.0.1:{_closed_port()}", "SUPABASE_SERVICE_ROLE_KEY": KEY}
    proc = run(["--timeout", "1", *command], env)
    assert proc.returncode in (1, 2)
    assert_one_clean_error(proc)


def test_bad_url_scheme() -> None:
    proc = run(["report"], {"SUPABASE_URL": "localhost:54321", "SUPABASE_SERVICE_ROLE_KEY": KEY})
    assert proc.returncode == 1
    assert_one_clean_error(proc)
    assert "http://" in proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["report", "--hours", "0"],
        ["report", "--hours", "many"],
        ["report", "--json", "--csv"],
        ["alert", "--error-rate", "5"],
        ["alert", "--watch", "-1"],
        ["aggregate", "--period", "monthly"],
        ["issues"],
        ["frobnicate"],
    ],
)
def test_bad_arguments_exit_2_with_usage(args: list[str]) -> None:
    proc = run(args, {"SUPABASE_URL": "http://127.0.0.1:1", "SUPABASE_SERVICE_ROLE_KEY": KEY})
    assert proc.returncode == 2
    assert "usage:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_report_hours_beyond_the_views_is_rejected_before_any_request() -> None:
    proc = run(
        ["--timeout", "1", "report", "--hours", "500"],
        {"SUPABASE_URL": f"http://127.0.0.1:{_closed_port()}", "SUPABASE_SERVICE_ROLE_KEY": KEY},
    )
    assert proc.returncode == 2
    assert_one_clean_error(proc)
    assert "168" in proc.stderr


def test_bad_webhook_url_is_a_usage_error() -> None:
    proc = run(
        ["--timeout", "1", "alert", "--webhook", "not-a-url"],
        {"SUPABASE_URL": f"http://127.0.0.1:{_closed_port()}", "SUPABASE_SERVICE_ROLE_KEY": KEY},
    )
    assert proc.returncode == 2
    assert_one_clean_error(proc)


def test_alert_watch_repeats_and_stops_cleanly_on_sigterm() -> None:
    import signal

    base = {k: v for k, v in os.environ.items() if not k.startswith("SUPABASE_")}
    env = {
        **base,
        "SUPABASE_URL": f"http://127.0.0.1:{_closed_port()}",
        "SUPABASE_SERVICE_ROLE_KEY": KEY,
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "supabase_monitoring.cli",
            "--timeout",
            "1",
            "alert",
            "--json",
            "--watch",
            "0.2",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        runs = [json.loads(proc.stdout.readline()) for _ in range(2)]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    # API down: health unknown fires once, then is deduplicated in memory.
    assert [s["key"] for s in runs[0]["sent"]] == ["health_unknown"]
    assert runs[1]["sent"] == []
    assert runs[1]["deduplicated"] == ["health_unknown"]
    assert runs[0]["store_error"] is not None
    assert proc.returncode == 1
    assert "Traceback" not in err
