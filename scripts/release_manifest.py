#!/usr/bin/env python3
"""Released migrations never change: supabase/releases.json records each release's files + hashes.

    python scripts/release_manifest.py freeze 0.2.0  # (re)write 0.2.0's entry from the migrations
    python scripts/release_manifest.py check         # make test: fails if a released file changed,
                                                     # or the next release defines an object twice

Users' databases have applied every released migration, and ``db install`` recognises installed
copies by id and checksum, so a released file may never be edited, renamed or deleted; a schema
change is a new migration that sorts after every released one. Stdlib only, no stack needed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "supabase" / "migrations"
MANIFEST = ROOT / "supabase" / "releases.json"
MIGRATION_FILE = re.compile(r"^[0-9]+_.+\.sql$")
RELEASE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
DEFINITION = re.compile(
    r"^\s*create\s+(?:or\s+replace\s+)?(function|procedure|view|materialized\s+view)\s+"
    r"(?:if\s+not\s+exists\s+)?([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)",
    re.IGNORECASE | re.MULTILINE,
)


def current_files(migrations: Path) -> dict[str, str]:
    """file name -> sha256 of every migration in the directory, in run order."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(migrations.iterdir())
        if MIGRATION_FILE.match(p.name)
    }


def load(manifest: Path) -> list[dict[str, object]]:
    if not manifest.exists():
        return []
    releases: list[dict[str, object]] = json.loads(manifest.read_text(encoding="utf-8"))["releases"]
    return releases


def released_files(releases: list[dict[str, object]]) -> dict[str, tuple[str, str]]:
    """file name -> (sha256, first release that shipped it)."""
    files: dict[str, tuple[str, str]] = {}
    for release in releases:
        for entry in release["migrations"]:  # type: ignore[attr-defined]
            files.setdefault(entry["file"], (entry["sha256"], str(release["version"])))
    return files


def problems(releases: list[dict[str, object]], current: dict[str, str]) -> list[str]:
    """Why the working tree breaks a released migration (empty: it does not)."""
    found = []
    released = released_files(releases)
    for name, (sha, version) in released.items():
        if name not in current:
            found.append(f"{name} (released in {version}) is missing: released migrations stay")
        elif current[name] != sha:
            found.append(
                f"{name} (released in {version}) changed: restore it and put the change in "
                "a new migration"
            )
    newest = max(released, default="")
    for name in current:
        if name not in released and name < newest:
            found.append(
                f"{name} is new but sorts before the released {newest}: new migrations must "
                "sort after every released one (installed copies run in id order)"
            )
    return found


def redefinitions(releases: list[dict[str, object]], migrations: Path) -> list[str]:
    """Objects the next release defines in more than one of its migrations.

    A released object is replaced by a new migration, but within one release each function or
    view has a single definition, so its final text is read in one place: fold the earlier one.
    """
    released = released_files(releases)
    where: dict[str, list[str]] = {}
    for path in sorted(migrations.iterdir()):
        if not MIGRATION_FILE.match(path.name) or path.name in released:
            continue
        text = path.read_text(encoding="utf-8")
        for kind, name in {(k.lower(), n.lower()) for k, n in DEFINITION.findall(text)}:
            where.setdefault(f"{kind} {name}", []).append(path.name)
    return [
        f"{obj} is defined in {len(files)} unreleased migrations ({', '.join(files)}): "
        "keep one definition"
        for obj, files in sorted(where.items())
        if len(files) > 1
    ]


def freeze(version: str, manifest: Path, migrations: Path) -> list[str]:
    """Record the migrations as ``version`` (replacing its entry); refuse if that breaks another."""
    if not RELEASE.match(version):
        return [f"not a release version: {version!r} (expected e.g. 0.2.0)"]
    current = current_files(migrations)
    others = [r for r in load(manifest) if r["version"] != version]
    found = problems(others, current)
    if found:
        return found
    entry = {
        "version": version,
        "migrations": [{"file": f, "sha256": s} for f, s in current.items()],
    }
    releases = sorted([*others, entry], key=lambda r: tuple(map(int, str(r["version"]).split("."))))
    doc = {
        "about": "Released migrations: never edit, rename or delete one. "
        "Regenerate an entry with `python scripts/release_manifest.py freeze VERSION`.",
        "releases": releases,
    }
    manifest.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="fail if a released migration changed or disappeared")
    fp = sub.add_parser("freeze", help="record supabase/migrations as release VERSION")
    fp.add_argument("version")
    args = parser.parse_args(argv)
    if args.command == "freeze":
        found = freeze(args.version, MANIFEST, MIGRATIONS)
        done = f"{MANIFEST.relative_to(ROOT)}: release {args.version} frozen"
    else:
        releases = load(MANIFEST)
        found = problems(releases, current_files(MIGRATIONS)) or (
            [] if releases else [f"{MANIFEST.relative_to(ROOT)} lists no release"]
        )
        found += redefinitions(releases, MIGRATIONS)
        done = f"released migrations unchanged ({len(released_files(releases))} files)"
    for problem in found:
        print(f"release manifest: {problem}", file=sys.stderr)
    if not found:
        print(done)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
