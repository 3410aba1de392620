"""The database schema as package data, and ``db install`` into a user's Supabase project.

Stdlib only, no CLI extra: the light core installs a schema.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .bundle import Migration, config_snippet, packaged_migrations
from .install import run_db_install

__all__ = ["Migration", "config_snippet", "db_install", "packaged_migrations"]


def db_install(project_dir: Path, *, check: bool = False) -> int:
    """``supabase-monitoring db install [PROJECT_DIR] [--check]``; returns the exit code."""
    from .. import __version__

    return run_db_install(
        project_dir, packaged_migrations(), __version__, check=check, out=sys.stdout, err=sys.stderr
    )
