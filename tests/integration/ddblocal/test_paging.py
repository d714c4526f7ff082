"""Pages end where the items end, on the real engine: DynamoDB answers a LastEvaluatedKey
whenever a query stops at its Limit, even at the partition's end (moto does not), so a
page exactly as long as what is left must still answer `next_cursor: null`."""

from __future__ import annotations

import pytest

from chalicelib.adapters.dynamo import Table

ITEMS = 5


def fill(table: Table) -> dict[str, dict[str, str]]:
    """ITEMS items in one partition, also indexed in one GSI1 partition; the two queries."""
    for n in range(ITEMS):
        table.table.put_item(
            Item={"PK": "P#1", "SK": f"S#{n}", "GSI1PK": "G#1", "GSI1SK": f"G#{n}", "n": n}
        )
    return {
        "table": {
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": "P#1"},
        },
        "index": {
            "IndexName": "GSI1",
            "KeyConditionExpression": "GSI1PK = :pk",
            "ExpressionAttributeValues": {":pk": "G#1"},
        },
    }


@pytest.mark.parametrize("where", ["table", "index"])
def test_a_page_that_takes_the_last_items_has_no_next_cursor(ddb_table: Table, where: str) -> None:
    query = fill(ddb_table)[where]
    everything, after = ddb_table.query_page(ITEMS, None, **dict(query))
    assert (len(everything), after) == (ITEMS, None)
    first, cursor = ddb_table.query_page(ITEMS - 2, None, **dict(query))
    assert cursor is not None
    rest, end = ddb_table.query_page(2, cursor, **dict(query))
    assert end is None
    assert [i["n"] for i in first + rest] == list(range(ITEMS))
