"""Storage stays in the stores: outside chalicelib/adapters no module calls DynamoDB or
spells a key format (DESIGN.md: services never see a key or a boto3 call)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE_ADAPTERS = sorted(
    path
    for layer in ("api", "services", "jobs", "domain")
    for path in (ROOT / "chalicelib" / layer).rglob("*.py")
)
# `.table` is how anything reaches the Table; the others are boto3's own calls (a bare
# `.query` is left out: the API's query-string parameters are `call.query`).
TABLE_CALLS = {
    "table",
    "put_item",
    "get_item",
    "update_item",
    "delete_item",
    "query_all",
    "query_page",
    "scan",
    "transact_write_items",
    "batch_get_item",
    "batch_writer",
}
KEY_TEXT = re.compile(r"^[A-Z][A-Z_]{2,}#")
# The one place that hands the table to the stores; a domain rule spelled as a key's
# text (`CreditPack.sort_key`, recorded in bookings) is pinned against keys.pack_sk.
ALLOWED = {("services/context.py", "table"), ("domain/wallet.py", "PACK#")}


def offences(path: Path) -> list[str]:
    where = path.relative_to(ROOT / "chalicelib").as_posix()
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in TABLE_CALLS:
            if (where, node.attr) not in ALLOWED:
                found.append(f"{where}:{node.lineno} .{node.attr}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = KEY_TEXT.match(node.value)
            if match and (where, match.group(0)) not in ALLOWED:
                found.append(f"{where}:{node.lineno} {node.value!r}")
    return found


@pytest.mark.parametrize("path", OUTSIDE_ADAPTERS, ids=lambda p: p.stem)
def test_no_table_call_or_key_format_outside_the_stores(path: Path) -> None:
    assert offences(path) == []
