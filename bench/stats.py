"""Small statistics and the printed table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Row:
    """One line of the report: what was measured, its figure, and how."""

    section: str
    name: str
    value: str
    note: str = ""
    figure: float | None = None  # the number behind `value`, for results.json
    goal: float | None = None  # an upper bound `figure` should stay under
    command: str = ""  # how to measure this row's section alone

    @property
    def met(self) -> bool | None:
        """Whether the figure is within its goal (None: no goal)."""
        if self.goal is None or self.figure is None:
            return None
        return self.figure <= self.goal


def timed(call: Callable[[], Any]) -> float:
    """Seconds one call took (perf_counter)."""
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def render(rows: list[Row]) -> str:
    """A plain-text table, one block per section."""
    width_name = max(len(r.name) for r in rows)
    width_value = max(len(r.value) for r in rows)
    lines: list[str] = []
    section = None
    for row in rows:
        if row.section != section:
            section = row.section
            lines.extend([""] if lines else [])
            lines.append(f"== {section}")
            if row.command:
                lines.append(f"   ({row.command})")
        note = f"  {row.note}" if row.note else ""
        if row.met is not None:
            note = f"  [{'ok' if row.met else 'MISSED'}]{note}"
        lines.append(f"  {row.name:<{width_name}}  {row.value:>{width_value}}{note}")
    return "\n".join(lines)
