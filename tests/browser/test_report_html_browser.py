"""The HTML report in a real headless Chromium (Debian's chromium + chromium-driver).

The browser is driven through chromedriver's W3C WebDriver HTTP API with the
stdlib only. Checks: the page renders with no console errors, its script ran,
it loads no resource from anywhere, and each chart's SVG points are exactly
the known data set's values.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from report_rows import api_hour, open_issue, queue_hour

from supabase_monitoring.report import (
    LatencyHour,
    ReportData,
    render_html,
)

CHROME_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Browser:
    """A WebDriver session on a private chromedriver + chromium."""

    def __init__(self, driver_port: int, user_data_dir: str) -> None:
        self.base = f"http://127.0.0.1:{driver_port}"
        caps = {
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": shutil.which("chromium"),
                        "args": [*CHROME_FLAGS, f"--user-data-dir={user_data_dir}"],
                    },
                    "goog:loggingPrefs": {"browser": "ALL"},
                }
            }
        }
        self.session = self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return json.loads(resp.read())["value"]
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"WebDriver {method} {path}: {exc.read()[:500]!r}") from None

    def open(self, url: str) -> None:
        self._call("POST", f"/session/{self.session}/url", {"url": url})

    def js(self, script: str) -> Any:
        return self._call(
            "POST", f"/session/{self.session}/execute/sync", {"script": script, "args": []}
        )

    def console(self) -> list[dict[str, Any]]:
        """Browser log entries since the last call (console messages, JS errors, CSP)."""
        entries: list[dict[str, Any]] = self._call(
            "POST", f"/session/{self.session}/se/log", {"type": "browser"}
        )
        return entries

    def quit(self) -> None:
        self._call("DELETE", f"/session/{self.session}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    driver = shutil.which("chromedriver")
    if driver is None or shutil.which("chromium") is None:
        pytest.fail(
            "chromium and chromedriver are required: apt-get install -y chromium chromium-driver"
        )
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="sm-chromium-") as profile:
        proc = subprocess.Popen(
            [driver, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 30
            while True:  # wait for the driver to listen
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                    time.sleep(0.1)
            b = Browser(port, profile)
            try:
                yield b
            finally:
                b.quit()
        finally:
            proc.terminate()
            proc.wait(timeout=10)


T0 = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


def known_data() -> ReportData:
    """Six hours of two queues and two APIs, with a gap and an error spike."""
    queues = []
    apis = []
    for h in range(6):
        hour = T0 + timedelta(hours=h)
        queues.append(
            queue_hour("ingest", hour, 10 + h, 95 * (h + 1), 5 * h, 120.5 + h, 100 * (h + 1))
        )
        if h != 3:  # a gap: the stuck queue processed nothing that hour
            queues.append(queue_hour("enrich <b>", hour, 4, 40 - h, h, 300.25, 40))
        apis.append(api_hour("stripe", hour, 50, 50 - h * 2, h * 2, 210.0, 400.0 + 10 * h))
        apis.append(
            api_hour(
                "geo",
                hour,
                20,
                20 if h < 5 else 10,
                0 if h < 5 else 10,
                90.0,
                None if h == 0 else 150.5,
            )
        )
    latency = [LatencyHour("ingest", T0 + timedelta(hours=h), 180.0 + h) for h in range(5)]
    issues = [open_issue("1", "enricher", "stuck_queue", "critical", "enrich stuck", T0)]
    return ReportData(
        generated_at=T0 + timedelta(hours=6),
        since=T0,
        hours=6,
        queues=queues,
        apis=apis,
        issues=issues,
        queue_latency=latency,
        overall_status="critical",
    )


def expected_points(data: ReportData) -> dict[str, set[tuple[str, str, float]]]:
    """The chart contents computed independently of the chart code."""
    thr: set[tuple[str, str, float]] = set()
    err: set[tuple[str, str, float]] = set()
    p95: set[tuple[str, str, float]] = set()
    for q in data.queues:
        x = q.hour.isoformat()
        thr.add((f"queue {q.queue_name}", x, float(q.total_messages_processed)))
        done = q.success_count + q.error_count
        if done:
            err.add((f"queue {q.queue_name}", x, q.error_count / done))
    for a in data.apis:
        x = a.hour.isoformat()
        thr.add((f"api {a.api_name}", x, float(a.total_calls)))
        err.add((f"api {a.api_name}", x, a.error_count / a.total_calls))
        if a.p95_time_ms is not None:
            p95.add((f"api {a.api_name}", x, a.p95_time_ms))
    for lat in data.queue_latency:
        p95.add((f"queue {lat.name}", lat.hour.isoformat(), lat.p95_ms))
    return {"throughput": thr, "error-rate": err, "p95-latency": p95}


READ_POINTS = """
var out = {};
document.querySelectorAll("svg.chart").forEach(function (svg) {
  out[svg.getAttribute("data-chart")] = Array.prototype.map.call(
    svg.querySelectorAll("circle.pt"), function (c) {
      return [c.getAttribute("data-series"), c.getAttribute("data-x"),
              Number(c.getAttribute("data-y"))];
    });
});
return out;
"""


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_html(known_data()), encoding="utf-8")
    return path


def test_report_renders_without_console_errors_or_network(
    browser: Browser, report_file: Path
) -> None:
    browser.console()  # drop anything logged before this page
    browser.open(report_file.as_uri())
    assert browser.js("return document.readyState") == "complete"
    assert browser.js("return document.documentElement.getAttribute('data-ready')") == "6"
    problems = [e for e in browser.console() if e.get("level") in ("SEVERE", "WARNING")]
    assert problems == []
    resources = browser.js("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources == []
    assert browser.js("return document.getElementById('overall-status').textContent") == "critical"
    # every chart was drawn with a visible size
    sizes = browser.js(
        "return Array.from(document.querySelectorAll('svg.chart'))"
        ".map(s => [s.getAttribute('data-chart'), s.getBoundingClientRect().width > 100])"
    )
    assert sorted(sizes) == [["error-rate", True], ["p95-latency", True], ["throughput", True]]


def test_charts_contain_exactly_the_data_points(browser: Browser, report_file: Path) -> None:
    browser.open(report_file.as_uri())
    got = browser.js(READ_POINTS)
    expected = expected_points(known_data())
    assert set(got) == set(expected)
    for chart, points in expected.items():
        plotted = [(s, x, y) for s, x, y in got[chart]]
        assert len(plotted) == len(points), chart  # no duplicates, nothing extra
        assert {(s, datetime.fromisoformat(x).isoformat(), y) for s, x, y in plotted} == points


def test_points_are_placed_in_time_order_and_by_value(browser: Browser, report_file: Path) -> None:
    browser.open(report_file.as_uri())
    coords = browser.js(
        "return Array.from(document.querySelectorAll("
        "'svg[data-chart=throughput] circle.pt[data-series=\"queue ingest\"]'))"
        ".map(c => [c.getAttribute('data-x'), Number(c.getAttribute('cx')),"
        " Number(c.getAttribute('cy'))])"
    )
    assert len(coords) == 6
    ordered = sorted(coords)
    xs = [c[1] for c in ordered]
    ys = [c[2] for c in ordered]
    assert xs == sorted(xs)
    assert len(set(xs)) == 6
    assert ys == sorted(ys, reverse=True)  # more messages each hour: higher on screen


def test_legend_toggles_a_series(browser: Browser, report_file: Path) -> None:
    browser.open(report_file.as_uri())
    state = browser.js(
        'var b = document.querySelector(\'.legend-item[data-chart="p95-latency"]'
        '[data-series="api stripe"]\');'
        "b.click();"
        "var g = Array.from(document.querySelectorAll('#chart-p95-latency g.series'))"
        ".filter(x => x.getAttribute('data-series') === 'api stripe')[0];"
        "var hidden = getComputedStyle(g).display;"
        "b.click();"
        "return [hidden, getComputedStyle(g).display, b.getAttribute('aria-pressed')];"
    )
    assert state == ["none", "inline", "true"]
    assert browser.console() == []


def test_harness_sees_script_errors_and_blocked_network(browser: Browser, tmp_path: Path) -> None:
    """Negative control: the checks above would notice a broken or leaky page."""
    html = render_html(known_data()).replace(
        "</body>",
        '<img src="http://example.invalid/pixel.png"><script>undefinedFunction();</script></body>',
    )
    page = tmp_path / "broken.html"
    page.write_text(html, encoding="utf-8")
    browser.console()
    browser.open(page.as_uri())
    messages = " ".join(str(e.get("message")) for e in browser.console() if e["level"] == "SEVERE")
    assert "Content Security Policy" in messages
    assert "example.invalid" in messages


def test_empty_report_renders_placeholders(browser: Browser, tmp_path: Path) -> None:
    empty = ReportData(generated_at=T0, since=T0 - timedelta(hours=1), hours=1)
    page = tmp_path / "empty.html"
    page.write_text(render_html(empty), encoding="utf-8")
    browser.console()
    browser.open(page.as_uri())
    assert browser.js("return document.querySelectorAll('circle.pt').length") == 0
    assert browser.js("return document.querySelectorAll('svg.chart .empty').length") == 3
    assert browser.js("return document.getElementById('overall-status').textContent") == "unknown"
    assert browser.console() == []
