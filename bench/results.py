"""bench/results.json: every row of the table, machine-readable, with the run's context."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.stats import Row

PATH = Path(__file__).with_name("results.json")
SCHEMA = 1


def document(rows: list[Row], context: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "context": context,
        "rows": [
            {
                "section": r.section,
                "name": r.name,
                "value": r.value,
                "figure": r.figure,
                "goal": r.goal,
                "met": r.met,
                "note": r.note,
                "command": r.command,
            }
            for r in rows
        ],
    }


def write(rows: list[Row], context: dict[str, Any], path: Path = PATH) -> Path:
    path.write_text(json.dumps(document(rows, context), indent=2, ensure_ascii=False) + "\n")
    return path
