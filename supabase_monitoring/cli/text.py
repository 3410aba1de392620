"""Terminal output of rows other workers may have written."""

from __future__ import annotations


def cell(value: object, width: int = 120) -> str:
    """One table cell: control characters (escape sequences, newlines) become spaces, so a
    hostile row cannot rewrite the operator's terminal or break the table."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(value))
    return text if len(text) <= width else text[: width - 1] + "…"
