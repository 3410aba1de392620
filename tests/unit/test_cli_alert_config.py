"""``alert --check-config`` needs no stack: it validates, names every problem, exits 0 or 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from supabase_monitoring.cli import main

EXAMPLE = Path(__file__).parents[2] / "examples" / "alerts.toml"


@pytest.fixture(autouse=True)
def _no_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_valid_file_passes_without_connecting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUPABASE_MONITORING_SLACK_WEBHOOK_URL", "https://hooks.example.com/x/y")
    assert main(["alert", "--check-config", "--config", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{EXAMPLE}: OK: 6 rule(s)")
    assert "2 route(s)" in out


def test_invalid_file_lists_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text('[rules.overall_status]\nmin_status = "loud"\n[rules.nope]\n')
    assert main(["alert", "--check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: rules.overall_status.min_status: must be one of" in err
    assert f"{path}: rules.nope: unknown rule kind 'nope'" in err


def test_check_config_needs_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alert", "--check-config"]) == 2
    assert "--check-config needs --config FILE" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["alert", "silence", "add", "--rule", "x", "--comment", "c", "--duration", "soon"],
        ["alert", "silence", "add", "--rule", "x", "--comment", "c", "--until", "tomorrow"],
        ["alert", "silence", "add", "--rule", "x", "--comment", "c", "--label", "novalue"],
        ["alert", "history", "--since", "last week"],
        ["exporter", "--listen", "9464"],
    ],
)
def test_bad_arguments_exit_2_with_usage(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "expected" in capsys.readouterr().err


def test_flags_add_alertmanager_and_pagerduty_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from supabase_monitoring.cli import build_parser
    from supabase_monitoring.cli.alert import _stateful_notifiers

    monkeypatch.delenv("SUPABASE_MONITORING_ALERTMANAGER_URL", raising=False)
    monkeypatch.delenv("SUPABASE_MONITORING_PAGERDUTY_ROUTING_KEY", raising=False)
    args = build_parser().parse_args(["alert", "--watch", "600"])
    assert _stateful_notifiers(args) == []
    monkeypatch.setenv("SUPABASE_MONITORING_PAGERDUTY_ROUTING_KEY", "k" * 32)
    args = build_parser().parse_args(
        ["alert", "--watch", "600", "--alertmanager", "http://am:9093"]
    )
    am, pd = _stateful_notifiers(args)
    assert am.name == "alertmanager(http://am:9093/...)"
    assert am._lease.total_seconds() == 1800  # type: ignore[attr-defined]  # 3 runs' worth
    assert pd.name.startswith("pagerduty(")
    assert "k" * 32 not in repr(pd)
