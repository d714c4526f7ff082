"""Storage stays in the stores: outside chalicelib/adapters no module calls DynamoDB or
spells a key format (DESIGN.md: services never see a key or a boto3 call), and inside
chalicelib/adapters only keys.py spells one."""

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
ADAPTERS_BUT_KEYS = sorted(
    path for path in (ROOT / "chalicelib" / "adapters").rglob("*.py") if path.name != "keys.py"
)
# `.table` is how anything reaches the Table; the others are boto3's own calls (a bare
# `.query` is checked outside the api only: the API's query-string parameters are
# `call.query`), and the expressions only a DynamoDB call takes.
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
NOT_IN_API = {"query"}
EXPRESSIONS = {
    "KeyConditionExpression",
    "ConditionExpression",
    "UpdateExpression",
    "FilterExpression",
    "ProjectionExpression",
}
KEY_TEXT = re.compile(r"^[A-Z][A-Z_]{2,}#")
# The one place that hands the table to the stores; a domain rule spelled as a key's
# text (`CreditPack.sort_key`, recorded in bookings) is pinned against keys.pack_sk.
ALLOWED = {("services/context.py", "table"), ("domain/wallet.py", "PACK#")}


def relative(path: Path) -> str:
    return path.relative_to(ROOT / "chalicelib").as_posix()


def key_texts(path: Path, where: str | None = None) -> list[str]:
    """Every string (or f-string's literal start) that reads like a key: `MEMBER#`..."""
    where = where or relative(path)
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = KEY_TEXT.match(node.value)
            if match and (where, match.group(0)) not in ALLOWED:
                found.append(f"{where}:{node.lineno} {node.value!r}")
    return found


def offences(path: Path, where: str | None = None) -> list[str]:
    """What `path` (at `where` under chalicelib/) does that only a store may do."""
    where = where or relative(path)
    calls = TABLE_CALLS if where.startswith("api/") else TABLE_CALLS | NOT_IN_API
    found = key_texts(path, where)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in calls:
            if (where, node.attr) not in ALLOWED:
                found.append(f"{where}:{node.lineno} .{node.attr}")
        elif isinstance(node, ast.keyword) and node.arg in EXPRESSIONS:
            found.append(f"{where}:{node.value.lineno} {node.arg}=")
        elif isinstance(node, ast.Constant) and node.value in EXPRESSIONS:
            found.append(f"{where}:{node.lineno} {node.value!r}")
    return found


@pytest.mark.parametrize("path", OUTSIDE_ADAPTERS, ids=lambda p: p.stem)
def test_no_table_call_or_key_format_outside_the_stores(path: Path) -> None:
    assert offences(path) == []


@pytest.mark.parametrize("path", ADAPTERS_BUT_KEYS, ids=lambda p: p.stem)
def test_no_key_format_in_an_adapter_but_keys(path: Path) -> None:
    assert key_texts(path) == []


def test_the_check_sees_a_key_format_a_query_and_an_expression(tmp_path: Path) -> None:
    module = tmp_path / "probe.py"
    module.write_text(
        "def f(ctx):\n"
        "    ctx.x.query(KeyConditionExpression='PK = :pk')\n"
        "    return f'MEMBER#{ctx}'\n"
    )
    assert offences(module, "services/probe.py") == [
        "services/probe.py:3 'MEMBER#'",
        "services/probe.py:2 .query",
        "services/probe.py:2 KeyConditionExpression=",
    ]
