"""Printing a benchmark's figures: the machine line, fixed-width tables, percentiles, ratios and
target verdicts. Figures are printed, never asserted."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass


def machine(*parts: str) -> str:
    """``"machine: 2 cores, Python 3.11.2"``, then ``parts``, comma-separated."""
    cores = f"machine: {os.cpu_count()} cores, Python {platform.python_version()}"
    return ", ".join((cores, *parts))


def where(url: str) -> str:
    """A database URL without its user: ``127.0.0.1:5432/convstore_bench``."""
    return url.split("@")[-1]


def verdict(met: bool) -> str:
    """How a target is reported: ``met`` or ``NOT met``."""
    return "met" if met else "NOT met"


def ratio(part: float, whole: float) -> float:
    """``part / whole``; ``nan`` where ``whole`` is 0 (a run that did nothing)."""
    return part / whole if whole else float("nan")


def percentile(values: list[float], fraction: float) -> float:
    """The value at ``fraction`` (0 to 1) of ``values`` sorted, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


@dataclass(frozen=True)
class Column:
    """A table column: its ``title``, ``width``, the format of its values (``fmt``, e.g.
    ``".1f"``), its alignment (``">"`` or ``"<"``) and the spaces before it (``gap``)."""

    title: str
    width: int
    fmt: str = ""
    align: str = ">"
    gap: int = 1


class Table:
    """Fixed-width rows under a header line, one per :meth:`row`."""

    def __init__(self, *columns: Column):
        self.columns = columns

    def _line(self, cells) -> str:
        return "".join(
            f"{' ' * column.gap if index else ''}{cell:{column.align}{column.width}}"
            for index, (column, cell) in enumerate(zip(self.columns, cells, strict=True))
        )

    def header(self) -> str:
        """The column titles, aligned as the values are."""
        return self._line(column.title for column in self.columns)

    def row(self, *values) -> str:
        """One line of ``values``, each in its column's format."""
        return self._line(
            format(value, column.fmt) for column, value in zip(self.columns, values, strict=True)
        )
