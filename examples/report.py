"""Build a report of the last hours: tables on stdout, plus HTML / JSON / CSV files.

python examples/report.py --hours 6 --out out/
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from supabase_monitoring import MonitoringClient
from supabase_monitoring.report import render_html, render_text, report_to_csv, report_to_dict
from supabase_monitoring.report.collect import collect_report


def write_reports(client: MonitoringClient, hours: int, out: Path) -> dict[str, Path]:
    """Collect once, render four ways; returns where each file went."""
    data = collect_report(client, hours)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "html": out / "report.html",
        "json": out / "report.json",
        "csv": out / "report.csv",
        "text": out / "report.txt",
    }
    paths["html"].write_text(render_html(data), encoding="utf-8")
    paths["json"].write_text(json.dumps(report_to_dict(data), indent=2), encoding="utf-8")
    paths["csv"].write_text(report_to_csv(data), encoding="utf-8")
    paths["text"].write_text(render_text(data), encoding="utf-8")
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description="pipeline report")
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--out", type=Path, default=Path("out"))
    args = parser.parse_args()
    with MonitoringClient.from_env() as client:
        paths = write_reports(client, args.hours, args.out)
    print(paths["text"].read_text(encoding="utf-8"))
    for kind, path in paths.items():
        print(f"{kind:>4}: {path.resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
