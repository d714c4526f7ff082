"""The single source of the table schema: infra/table.json.

`chalice package` output gets it as a CloudFormation resource (infra/package.py);
tests, `make run` and benchmarks create their tables from it with `create_table`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TABLE_RESOURCE = Path(__file__).with_name("table.json")


def table_resource() -> dict[str, Any]:
    """The CloudFormation `AWS::DynamoDB::Table` resource."""
    return json.loads(TABLE_RESOURCE.read_text())


def create_table_kwargs(table_name: str) -> dict[str, Any]:
    """The same definition as `CreateTable` arguments (for DynamoDB Local and moto)."""
    props = table_resource()["Properties"]
    return {
        "TableName": table_name,
        "BillingMode": props["BillingMode"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "GlobalSecondaryIndexes": props["GlobalSecondaryIndexes"],
        "SSESpecification": {"Enabled": props["SSESpecification"]["SSEEnabled"]},
    }


def create_table(client: Any, table_name: str, *, exist_ok: bool = True) -> None:
    """Create the table (and enable TTL) with a low-level boto3 DynamoDB client."""
    try:
        client.create_table(**create_table_kwargs(table_name))
    except client.exceptions.ResourceInUseException:
        if not exist_ok:
            raise
        return
    client.get_waiter("table_exists").wait(TableName=table_name)
    ttl = table_resource()["Properties"]["TimeToLiveSpecification"]
    try:
        client.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )
    except client.exceptions.ClientError as exc:  # DynamoDB Local may not support TTL
        if "TimeToLive" not in str(exc):
            raise
