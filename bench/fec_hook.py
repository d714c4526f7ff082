"""The FEC export figures come from bench/fec.py (`measure() -> dict`), written with the
FEC streaming work; until it is merged, the table says so."""

from __future__ import annotations

from typing import Any

from bench.stats import Row

SECTION = "FEC export of 100,000 lines (streaming; goal: peak RSS <= 256 MB)"
RSS_GOAL_MB = 256


def fec_rows() -> list[Row]:
    try:
        from bench import fec  # type: ignore[attr-defined]  # bench/fec.py, another branch
    except ImportError:
        return [Row(SECTION, "FEC", "see bench/fec.py (not merged)")]
    figures: dict[str, Any] = fec.measure()
    rows = []
    for name, value in figures.items():
        is_rss = "rss" in name.lower() and "mb" in name.lower() and isinstance(value, (int, float))
        rows.append(
            Row(
                SECTION,
                name,
                f"{value:,.1f}" if isinstance(value, float) else str(value),
                f"goal <= {RSS_GOAL_MB} MB" if is_rss else "",
                figure=float(value) if isinstance(value, (int, float)) else None,
                goal=float(RSS_GOAL_MB) if is_rss else None,
            )
        )
    return rows
