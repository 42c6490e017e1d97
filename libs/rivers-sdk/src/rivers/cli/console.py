"""Terminal output of the ``rivers`` command: live progress lines and summary tables."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

__all__ = ["Console", "format_table"]


class Console:
    """Writes command output; falls back to ASCII marks where the terminal lacks UTF-8."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        encoding = (getattr(self.stream, "encoding", None) or "").lower()
        self.unicode = "utf" in encoding
        self.color = bool(getattr(self.stream, "isatty", lambda: False)())

    def mark(self, kind: str) -> str:
        """The glyph for a status: ok, fail, skip, retry."""
        glyphs = {"ok": "✓", "fail": "✗", "skip": "↷", "retry": "↻"}
        ascii_ = {"ok": "+", "fail": "x", "skip": "-", "retry": "r"}
        text = (glyphs if self.unicode else ascii_)[kind]
        if self.color:
            code = {"ok": "32", "fail": "31", "skip": "33", "retry": "33"}[kind]
            return f"\033[{code}m{text}\033[0m"
        return text

    def line(self, text: str = "") -> None:
        """Write one line and flush, so progress shows while the run goes on."""
        self.stream.write(text + "\n")
        self.stream.flush()


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain left-aligned text table with a header rule."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(headers), rule, *(fmt(r) for r in rows)])
