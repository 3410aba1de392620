"""The one exception the CLI turns into a message and an exit code."""

from __future__ import annotations


class CliError(Exception):
    """An expected failure: printed as ``supabase-monitoring: <message>``, no traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
