"""Turning per-process samples into table cells: medians, failures, ratios, targets.

A *sample* is the outcome of one fresh-process repetition for one row and tool: a float
(already in the row's display unit), or a string describing why there is no number.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Row:
    """One line of the table.

    ``workload``/``n`` pick the subprocess run (rows may share one); ``metric`` is the key read
    from its JSON, in seconds (bytes for ``MiB`` rows), shown in ``unit``. ``target`` is the
    rivers bound in ``unit``; ``None`` makes an informational row. ``dagster=False`` rows have no
    Dagster counterpart. ``group`` is a name ``--only`` accepts for several rows at once.
    ``timeout`` (seconds) lowers ``--timeout`` for this row's processes; ``dagster_repeat`` caps
    Dagster's repetitions of a workload that takes minutes (``--dagster-repeat`` overrides it).
    ``dagster_quote`` fills the Dagster cell of a row Dagster cannot run here with what its
    users report (the source goes to the notes). Rate units (``runs/s``) are ``n`` over the
    metric's seconds, and their target is a floor.
    """

    id: str
    title: str
    workload: str
    n: int
    metric: str
    unit: str
    target: float | None = None
    target_text: str = ""
    dagster: bool = True
    group: str = ""
    timeout: float | None = None
    dagster_repeat: int | None = None
    dagster_quote: str = ""

    @property
    def higher_is_better(self) -> bool:
        """Rates: the target is a floor, not a ceiling."""
        return self.unit in RATE_UNITS

    def convert(self, seconds: float) -> float:
        """Seconds (bytes for ``MiB``) to the row's display unit."""
        if self.unit == "ms":
            return seconds * 1e3
        if self.unit == "µs":
            return seconds * 1e6
        if self.unit == "MiB":
            return seconds / 2**20
        if self.unit in ("ms/asset", "ms/step"):
            return seconds * 1e3 / self.n
        if self.unit in RATE_UNITS:
            return self.n / seconds if seconds > 0 else float("inf")
        return seconds


RATE_UNITS = ("runs/s",)
Sample = float | str | list[str]
NOT_APPLICABLE = "n/a: "  # prefix of a sample for something the tool cannot do at all


def is_na(sample: Sample) -> bool:
    """Whether ``sample`` says the tool cannot do this at all (rather than that it failed)."""
    return isinstance(sample, str) and sample.startswith(NOT_APPLICABLE)


def one_line(sample: str) -> str:
    """A multi-line reason (``n/a: short`` then details) on one line, for the notes."""
    return ": ".join(line.strip() for line in sample.splitlines() if line.strip())


def fmt(value: float) -> str:
    """Three significant digits, no scientific notation for the usual ranges."""
    if value >= 100:
        return f"{value:.0f}"
    if value >= 0.01:
        return f"{value:.3g}"
    return f"{value:.2g}"


@dataclass
class Cell:
    """What one tool did on one row over all repetitions."""

    samples: list[Sample]

    @property
    def numbers(self) -> list[float]:
        """The timings of the repetitions that produced one."""
        return [s for s in self.samples if isinstance(s, float)]

    @property
    def failures(self) -> list[str]:
        """Why the other repetitions produced no number."""
        return [s for s in self.samples if isinstance(s, str)]

    @property
    def median(self) -> float | None:
        """Median of the numbers, if any."""
        return statistics.median(self.numbers) if self.numbers else None

    def text(self, unit: str, repeat: int | None = None) -> str:
        """The table cell: median, error name, or loaded modules.

        A cell with fewer repetitions than ``repeat`` (the run's default) says how many it has.
        """
        lists = [s for s in self.samples if isinstance(s, list)]
        if lists:  # module lists: show the union over repetitions
            loaded = sorted({m for s in lists for m in s})
            return ", ".join(loaded) if loaded else "none"
        if not self.samples:
            return "not run"
        failures = self.failures
        if failures and self.median is None and all(is_na(f) for f in failures):
            return failures[0].splitlines()[0]  # the short reason; the details go to the notes
        short = failures[0].split(":")[0] if failures else ""
        if self.median is None:
            return short
        text = f"{fmt(self.median)} {unit}"
        if failures:
            text += f" ({len(failures)}/{len(self.samples)} failed: {short})"
        elif repeat and len(self.samples) < repeat:
            text += f" ({len(self.samples)} run{'s' if len(self.samples) > 1 else ''})"
        return text

    def to_json(self) -> dict[str, Any]:
        """Median and raw samples for results.json."""
        return {"median": self.median, "samples": self.samples}


def ratio(rivers: Cell, dagster: Cell | None) -> str:
    """Dagster median / rivers median, only when every repetition of both gave a number."""
    if dagster is None or rivers.failures or dagster.failures:
        return ""
    if rivers.median is None or dagster.median is None or not rivers.median:
        return ""
    value = dagster.median / rivers.median
    return f"{value:,.0f}x" if value >= 10 else f"{value:.1f}x"


def met(row: Row, rivers: Cell) -> str:
    """``yes``/``NO`` against the row's target, blank for informational rows."""
    if row.unit == "modules":
        lists = [s for s in rivers.samples if isinstance(s, list)]
        if not lists:
            return "NO (error)"
        return "yes" if not any(lists) else "NO"
    if row.target is None and not row.target_text:
        return ""
    if rivers.median is None or rivers.failures:
        return "NO (error)"
    if row.target is None:
        return "yes"
    if row.higher_is_better:
        return "yes" if rivers.median >= row.target else "NO"
    return "yes" if rivers.median <= row.target else "NO"


def target_text(row: Row) -> str:
    if row.target_text:
        return row.target_text
    if row.target is None:
        return "(info)"
    if row.higher_is_better:
        return f">= {fmt(row.target)} {row.unit}"
    return f"<= {fmt(row.target)} {row.unit}"


def render(header: list[str], lines: list[list[str]]) -> str:
    """A plain-text table with aligned columns."""
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(c) for c in lines)])
