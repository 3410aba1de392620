"""benchmarks/soak.py's pure parts: the pacing schedule, percentiles and the verdicts."""

from __future__ import annotations

import importlib.util
import math
import random
import statistics
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("soak", REPO / "benchmarks/soak.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


soak = _script()


# ----------------------------------------------------------------- cron jobs
def test_scheduled_jobs_reads_code_not_comments() -> None:
    sql = """
    -- cron.schedule('ghost', '* * * * *', ...) is only mentioned here
    select cron.schedule(
      'real-job',
      '5 * * * *',
      $$select monitoring.x()$$
    );
    select cron.schedule('real-job', '6 * * * *', $$select 1$$);  -- rescheduled
    """
    assert soak.scheduled_jobs([sql, "select cron.schedule( 'other' , '* * * * *', 'x');"]) == [
        "other",
        "real-job",
    ]


def test_scheduled_jobs_of_the_migrations_include_every_era() -> None:
    names = soak.scheduled_jobs(p.read_text() for p in (REPO / "supabase/migrations").glob("*.sql"))
    # 0.2.0's jobs, the machinery's and the partitioned table's.
    for name in ("hourly-metrics-aggregation", "metrics-retention", "monitoring-rollup-refresh"):
        assert name in names
    assert "queue-depth-history" in names
    assert "metric-partition-maintenance" in names


@pytest.mark.parametrize(
    ("command", "project"),
    [
        ("select monitoring.aggregate_hourly_metrics()", True),
        ("select monitoring_internal.refresh_rollups()", True),
        ("select public.purge_old_monitoring_events(30)", True),
        ("select other_monitoring.cleanup()", False),
        ("vacuum analyze", False),
    ],
)
def test_project_command_matches_cron_project_jobs(command: str, project: bool) -> None:
    assert bool(soak.PROJECT_COMMAND.search(command)) is project


# ----------------------------------------------------------------- pacing
@pytest.mark.parametrize(("writers", "total"), [(1, 10), (2, 1001), (3, 7), (4, 2)])
def test_writers_share_every_call_once(writers: int, total: int) -> None:
    seen = [j for k in range(writers) for j in soak.writer_indices(k, writers, total)]
    assert sorted(seen) == list(range(total))


class FakeClock:
    """perf_counter / perf_counter_ns / sleep on a clock that only moves when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def perf_counter(self) -> float:
        return self.now

    def perf_counter_ns(self) -> int:
        return round(self.now * 1e9)

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds


def test_a_slow_call_does_not_shift_the_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(soak.time, "perf_counter", clock.perf_counter)
    monkeypatch.setattr(soak.time, "perf_counter_ns", clock.perf_counter_ns)
    monkeypatch.setattr(soak.time, "sleep", clock.sleep)
    made: list[tuple[int, float]] = []

    def call(j: int) -> bool:
        made.append((j, clock.now))
        if j == 3:
            clock.now += 0.35  # the 4th call stalls for 3.5 periods of 0.1 s
        return j != 5

    w = soak.Writer(0)
    start = clock.now
    soak.run_writer(w, 1, 10, start, 10.0, [call], soak.threading.Event())
    times = dict(made)
    assert sorted(times) == list(range(10))
    # Calls before the stall and after catching up run exactly on their due times.
    for j in (0, 1, 2, 3, 7, 8, 9):
        assert times[j] == pytest.approx(start + j / 10)
    # Calls due during the stall run at once after it, not a period apart.
    for j in (4, 5, 6):
        assert times[j] == pytest.approx(start + 0.65)
    assert w.max_late == pytest.approx(0.25)  # call 4: due at 0.4, made at 0.65
    assert w.done == 10
    assert w.refused == 1
    assert list(w.latencies) == pytest.approx([0, 0, 0, 350_000, 0, 0, 0, 0, 0, 0], abs=0.01)


def test_a_writer_stops_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(soak.time, "perf_counter", clock.perf_counter)
    monkeypatch.setattr(soak.time, "sleep", clock.sleep)
    stop = soak.threading.Event()

    def call(j: int) -> bool:
        if j == 2:
            stop.set()
        return True

    w = soak.Writer(0)
    soak.run_writer(w, 1, 1000, clock.now, 100.0, [call], stop)
    assert w.done == 3


# ----------------------------------------------------------------- figures
def test_percentile_matches_statistics_inclusive_quantiles() -> None:
    rng = random.Random(7)
    data = sorted(rng.expovariate(1 / 30) for _ in range(1001))
    cuts = statistics.quantiles(data, n=100, method="inclusive")
    assert soak.percentile(data, 0.5) == pytest.approx(cuts[49])
    assert soak.percentile(data, 0.99) == pytest.approx(cuts[98])
    assert soak.percentile(data, 0.0) == data[0]
    assert soak.percentile(data, 1.0) == data[-1]


def test_percentile_edges() -> None:
    assert soak.percentile([4.0], 0.99) == 4.0
    assert soak.percentile([1.0, 3.0], 0.5) == 2.0
    assert math.isnan(soak.percentile([], 0.5))
    with pytest.raises(ValueError, match="q must be"):
        soak.percentile([1.0], 99)


def test_summarize_pools_writers_and_means_total_over_calls() -> None:
    lat = soak.summarize([[10.0, 30.0], [20.0, 1000.0]])
    assert lat.calls == 4
    assert lat.mean == pytest.approx(265.0)
    assert lat.p50 == pytest.approx(25.0)
    assert lat.max == 1000.0
    assert soak.summarize([[], []]).calls == 0


# ----------------------------------------------------------------- verdicts
def test_buffer_steady_passes_even_after_a_warm_up_burst() -> None:
    pending = [5000, 300, 200] + [20, 600, 40, 500] * 6
    v = soak.buffer_verdict(pending, 2000)
    assert v.ok, v.detail
    assert "max pending 5000" in v.detail


def test_buffer_growing_slowly_fails_on_the_trend() -> None:
    pending = [100 + 60 * i for i in range(30)]  # never above 2 batches, but rising
    assert max(pending) < 4000
    v = soak.buffer_verdict(pending, 2000)
    assert not v.ok
    assert "rose" in v.detail


def test_buffer_spike_after_warm_up_fails_on_the_bound() -> None:
    pending = [20] * 20 + [4001] + [20] * 9
    v = soak.buffer_verdict(pending, 2000)
    assert not v.ok
    assert "4001" in v.detail


def test_buffer_needs_samples() -> None:
    assert not soak.buffer_verdict([0, 0], 2000).ok


def test_exactly_once() -> None:
    assert soak.exactly_once_verdict(100, 100, 0, 0, 0, 100).ok
    lost = soak.exactly_once_verdict(100, 100, 0, 0, 0, 99)
    assert not lost.ok
    assert "99 rows" in lost.detail
    assert not soak.exactly_once_verdict(100, 100, 0, 0, 0, 101).ok  # duplicates
    assert not soak.exactly_once_verdict(100, 98, 2, 0, 0, 98).ok  # consistent, but dropped
    assert not soak.exactly_once_verdict(100, 97, 0, 0, 0, 97).ok  # 3 unaccounted for
    assert not soak.exactly_once_verdict(100, 99, 0, 0, 1, 99).ok  # still pending


def test_rate() -> None:
    assert soak.rate_verdict(180_000, 180.5, 1000).ok
    assert not soak.rate_verdict(170_000, 180.0, 1000).ok


def _runs(name: str, **kw: int) -> Any:
    fields = {"runs": 3, "succeeded": 3, "failed": 0, "expected": 3} | kw
    return soak.JobRuns(name, longest=timedelta(seconds=1), messages=("boom",), **fields)


def test_cron_fails_on_a_failed_or_missed_run() -> None:
    assert soak.cron_verdict([_runs("a"), _runs("b", expected=2)]).ok
    failed = soak.cron_verdict([_runs("a"), _runs("b", succeeded=2, failed=1)])
    assert not failed.ok
    assert "b: 1 failed (boom)" in failed.detail
    missed = soak.cron_verdict([_runs("a", runs=2, succeeded=2)])
    assert not missed.ok
    assert "2 runs of 3 due" in missed.detail
    # Still running at the end: late, not missed.
    assert soak.cron_verdict([_runs("a", runs=3, succeeded=2)]).ok


def test_retention_verdict() -> None:
    assert soak.retention_verdict([_runs("metrics-retention", runs=0, succeeded=0, expected=0)]).ok
    assert not soak.retention_verdict([_runs("metrics-retention", failed=1)]).ok
    assert not soak.retention_verdict([_runs("other")]).ok


def test_watermark_must_reach_the_hour_before_each_run() -> None:
    t = datetime(2026, 12, 2, 19, 5, 0, 300_000, tzinfo=UTC)
    h18, h19 = t.replace(hour=18, minute=0, microsecond=0), t.replace(minute=0, microsecond=0)
    assert soak.watermark_verdict(h18, h18, []).ok  # no run inside the soak
    assert soak.watermark_verdict(h18, h19, [t]).ok
    assert not soak.watermark_verdict(h18, h18, [t]).ok
    assert soak.watermark_verdict(None, h19, [t]).ok
    assert not soak.watermark_verdict(None, None, [t]).ok


def test_seal_lag_limit() -> None:
    assert soak.seal_verdict([timedelta(seconds=70), timedelta(seconds=170)]).ok
    assert not soak.seal_verdict([timedelta(seconds=70), timedelta(seconds=200)]).ok
    assert not soak.seal_verdict([]).ok


# ----------------------------------------------------------------- hourly aggregation runs
def test_a_run_aggregates_the_hour_before_it_after_the_grace() -> None:
    at = datetime(2026, 12, 3, 0, 5, 0, 80_000, tzinfo=UTC)
    assert soak.aggregated_until(at) == datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
    assert soak.aggregated_hour(at) == datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
    # Inside the 3-minute grace the hour just ended is not complete yet.
    early = datetime(2026, 12, 3, 0, 2, 59, tzinfo=UTC)
    assert soak.aggregated_hour(early) == datetime(2026, 12, 2, 22, 0, tzinfo=UTC)


def test_the_watermark_must_cover_a_failed_or_unfinished_run_too() -> None:
    # hourly_runs() passes every run started in the soak, whatever its status: a run
    # that failed at 00:05 leaves the watermark at 23:00, which must not pass.
    h23 = datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
    runs = [h23.replace(minute=5), datetime(2026, 12, 3, 0, 5, tzinfo=UTC)]
    v = soak.watermark_verdict(h23.replace(hour=22), h23, runs)
    assert not v.ok
    assert "2 runs" in v.detail
    assert soak.watermark_verdict(h23.replace(hour=22), h23 + timedelta(hours=1), runs).ok


def test_covers_only_a_whole_hour_of_writes() -> None:
    h = datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
    assert soak.covers(h - timedelta(minutes=10), h + timedelta(minutes=70), h)
    assert soak.covers(h, h + timedelta(hours=1), h)
    assert not soak.covers(h + timedelta(seconds=1), h + timedelta(minutes=70), h)
    assert not soak.covers(h - timedelta(minutes=10), h + timedelta(minutes=59), h)


def test_lags_during_a_run_reach_a_minute_past_its_end() -> None:
    t0 = datetime(2026, 12, 3, 0, 4, tzinfo=UTC)
    probes = [(t0 + timedelta(seconds=10 * i), timedelta(seconds=i)) for i in range(30)]
    start, end = t0 + timedelta(seconds=60), t0 + timedelta(seconds=95)
    got = soak.lags_during(probes, start, end)
    assert got == tuple(timedelta(seconds=i) for i in range(6, 16))  # 00:05:00 .. 00:06:30
    assert soak.lags_during(probes, start, None) == tuple(
        timedelta(seconds=i) for i in range(6, 30)
    )
    assert soak.lags_during(probes, t0 + timedelta(hours=1), None) == ()


def test_describe_an_hourly_run() -> None:
    start = datetime(2026, 12, 3, 0, 5, 0, 100_000, tzinfo=UTC)
    r = soak.HourlyRun(
        start,
        start + timedelta(seconds=12.5),
        "succeeded",
        3_600_420,
        93,
        3_600_000,
        (timedelta(seconds=70), timedelta(seconds=125)),
        1,
        timedelta(seconds=0.4),
    )
    assert r.hour == datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
    line = soak.describe_hourly_run(
        r, datetime(2026, 12, 2, 22, 50, tzinfo=UTC), datetime(2026, 12, 3, 0, 10, tzinfo=UTC)
    )
    assert "00:05:00-00:05:12 succeeded in 12.50s" in line
    assert "hour 23:00 (the soak wrote all of it)" in line
    assert "3600420 raw rows in 93 rollups (3600000 of this soak)" in line
    assert "seal_lag at most 125s over 2 probes" in line
    assert "1 refreshes started while it ran, longest 0.40s" in line
    partial = soak.describe_hourly_run(
        soak.HourlyRun(start, None, "running", 0, 0, 0, (), 0, None),
        datetime(2026, 12, 2, 23, 30, tzinfo=UTC),
        datetime(2026, 12, 3, 0, 10, tzinfo=UTC),
    )
    assert "still going" in partial
    assert "(partly)" in partial
