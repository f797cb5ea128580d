"""Text from AWS or a plan inside GitHub Markdown, so that no value can close the cell or span it sits
in (the review's comment, the drift issues). Standard library only."""

from __future__ import annotations

import re


def code(text: str) -> str:
    """``text`` as a code span in a table cell: no backtick, pipe or line break of its own survives."""
    return "`" + re.sub(r"[`|\r\n]", lambda m: {"`": "'", "|": "¦"}.get(m[0], " "), text) + "`"


def cell(text: str) -> str:
    """Plain text in a table cell or a list item: no pipe, line break, backtick or tag of its own."""
    return re.sub(
        r"[|\r\n`<>]", lambda m: {"|": "\\|", "`": "'", "<": "&lt;", ">": "&gt;"}.get(m[0], " "), text
    )
