"""Real Alertmanager / Prometheus processes for tests: loopback, free ports, bounded in time.

A daemon is ready when its own HTTP readiness endpoint answers 200; the
wait between two probes is only the poll interval of that condition. A
missing binary FAILS the test (scripts/local-stack.sh install provides it):
a skipped suite would look like a passing one.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not installed: run scripts/local-stack.sh install")
    return path


def wait_until(
    condition: Callable[[], Any], *, timeout: float = 20.0, what: str = "condition"
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except (httpx.HTTPError, ValueError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.1)  # poll interval of an awaited condition, not a synchronisation
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


class Daemon:
    """One server process; ``stop`` terminates it and waits (kill after 10 s)."""

    def __init__(self, argv: Sequence[str], base_url: str, ready_path: str, log: Path) -> None:
        self.base_url = base_url
        self._log = log
        self._log_file = log.open("wb")
        self._proc = subprocess.Popen(
            list(argv), stdout=self._log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        try:
            wait_until(lambda: self._ready(ready_path), what=f"{argv[0]} ready at {base_url}")
        except BaseException:
            self.stop()
            raise

    def _ready(self, path: str) -> bool:
        if self._proc.poll() is not None:
            pytest.fail(f"exited with {self._proc.returncode}: {self._log.read_text()[-2000:]}")
        return httpx.get(self.base_url + path, timeout=2).status_code == 200

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(self.base_url + path, params=params, timeout=5)
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._log_file.close()


def start_alertmanager(workdir: Path) -> Daemon:
    """Alertmanager grouping by alertname, holding notifications (group_wait 1h): the
    test reads its API, nothing is delivered anywhere."""
    port = free_port()
    config = workdir / "alertmanager.yml"
    config.write_text(
        "route:\n"
        "  receiver: nowhere\n"
        "  group_by: [alertname]\n"
        "  group_wait: 1h\n"
        "receivers:\n"
        "  - name: nowhere\n"
    )
    return Daemon(
        [
            binary("prometheus-alertmanager"),
            f"--config.file={config}",
            f"--storage.path={workdir / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no gossip port
        ],
        f"http://127.0.0.1:{port}",
        "/-/ready",
        workdir / "alertmanager.log",
    )


def start_prometheus(workdir: Path, targets: Sequence[str], scrape_interval: str = "1s") -> Daemon:
    """Prometheus scraping ``targets`` (host:port) every ``scrape_interval``."""
    port = free_port()
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n"
        f"  scrape_interval: {scrape_interval}\n"
        f"  scrape_timeout: {scrape_interval}\n"
        "scrape_configs:\n"
        "  - job_name: supabase-monitoring\n"
        "    static_configs:\n"
        f"      - targets: {list(targets)!r}\n"
    )
    return Daemon(
        [
            binary("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        f"http://127.0.0.1:{port}",
        "/-/ready",
        workdir / "prometheus.log",
    )


def promql(prometheus: Daemon, query: str) -> dict[str, float]:
    """An instant query: {instance label (or "") : value} of each series."""
    answer = prometheus.get("/api/v1/query", query=query)
    if answer.get("status") != "success":
        raise ValueError(f"query failed: {answer}")
    return {
        str(r["metric"].get("instance", "")): float(r["value"][1]) for r in answer["data"]["result"]
    }
