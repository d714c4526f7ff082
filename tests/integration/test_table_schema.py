"""Tables built for tests and local runs match the CloudFormation definition in infra/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.table import create_table, table_resource

REGION = "eu-west-3"


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("dynamodb", region_name=REGION)


def _index_shapes(indexes: list[dict[str, Any]]) -> dict[str, tuple[Any, Any]]:
    return {i["IndexName"]: (i["KeySchema"], i["Projection"]) for i in indexes}


def test_created_table_has_the_key_schema_and_attributes_of_infra(dynamodb: Any) -> None:
    props = table_resource()["Properties"]

    create_table(dynamodb, "t")

    table = dynamodb.describe_table(TableName="t")["Table"]
    assert table["KeySchema"] == props["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        props["AttributeDefinitions"], key=lambda a: a["AttributeName"]
    )
    assert table["BillingModeSummary"]["BillingMode"] == props["BillingMode"]


def test_created_table_has_both_gsis_of_infra(dynamodb: Any) -> None:
    props = table_resource()["Properties"]

    create_table(dynamodb, "t")

    table = dynamodb.describe_table(TableName="t")["Table"]
    assert set(_index_shapes(table["GlobalSecondaryIndexes"])) == {"GSI1", "GSI2"}
    assert _index_shapes(table["GlobalSecondaryIndexes"]) == _index_shapes(
        props["GlobalSecondaryIndexes"]
    )


def test_created_table_expires_items_on_the_ttl_attribute_of_infra(dynamodb: Any) -> None:
    ttl = table_resource()["Properties"]["TimeToLiveSpecification"]

    create_table(dynamodb, "t")

    description = dynamodb.describe_time_to_live(TableName="t")["TimeToLiveDescription"]
    assert description == {"TimeToLiveStatus": "ENABLED", "AttributeName": ttl["AttributeName"]}


def test_creating_an_existing_table_again_is_a_no_op_unless_asked_to_fail(dynamodb: Any) -> None:
    create_table(dynamodb, "t")

    create_table(dynamodb, "t")

    with pytest.raises(dynamodb.exceptions.ResourceInUseException):
        create_table(dynamodb, "t", exist_ok=False)
