"""The DynamoDB table: lazy client, item (de)serialisation, transactions, paging.

Nothing is created at import: the boto3 resource is built on first use, so
`chalice package` and cold starts stay cheap.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import cached_property
from typing import Any

import orjson

from chalicelib.errors import ConcurrentUpdate, ServiceUnavailable, ValidationFailed

TRANSACTION_ATTEMPTS = 8
MAX_TRANSACTION_ITEMS = 100  # actions in one TransactWriteItems
# boto3's own retries: standard mode (exponential backoff with jitter, throttling and
# 5xx and timeouts retried), bounded so a throttled Lambda answers 503 within seconds
# rather than waiting out its timeout.
CLIENT_MAX_ATTEMPTS = 4
CONNECT_TIMEOUT_SECONDS = 3
READ_TIMEOUT_SECONDS = 10
# What DynamoDB answers when it is overloaded, throttled or briefly failing: retried by
# boto3 already; if still failing, the client is told to retry (503), never a 500.
TRANSIENT_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
        "LimitExceededException",
    }
)
TRANSIENT_CANCEL_REASONS = frozenset({"TransactionConflict", "ThrottlingError"})


def transient_failure(exc: BaseException) -> ServiceUnavailable | None:
    """The 503 for a DynamoDB (or any AWS) call that failed for a moment — throttled,
    timed out, unreachable, a transaction conflict — or None for anything else."""
    try:
        from botocore.exceptions import (
            ClientError,
            ConnectionError,
            HTTPClientError,
            ReadTimeoutError,
        )
    except ImportError:  # pragma: no cover - botocore ships with the Lambda runtime
        return None
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        reasons = {str(r.get("Code", "None")) for r in exc.response.get("CancellationReasons", [])}
        if code in TRANSIENT_ERROR_CODES or (
            code == "TransactionCanceledException"
            and reasons & TRANSIENT_CANCEL_REASONS
            and "ConditionalCheckFailed" not in reasons
        ):
            return ServiceUnavailable(f"The database is busy ({code}); please retry.")
        return None
    if isinstance(exc, (ConnectionError, HTTPClientError, ReadTimeoutError)):
        return ServiceUnavailable("The database did not answer in time; please retry.")
    return None


def oversized_item(exc: BaseException) -> ValidationFailed | None:
    """The 422 for a write DynamoDB refused because the item would pass its 400 KB (a
    body whose lists the models do not bound), else None."""
    try:
        from botocore.exceptions import ClientError
    except ImportError:  # pragma: no cover - botocore ships with the Lambda runtime
        return None
    if not isinstance(exc, ClientError):
        return None
    error = exc.response.get("Error", {})
    texts = [str(error.get("Message", ""))]
    texts += [str(r.get("Message", "")) for r in exc.response.get("CancellationReasons", [])]
    if any("item size" in text.lower() for text in texts):
        return ValidationFailed("The object would be too large to store.", field="body")
    return None


class TableCalls:
    """The item calls of boto3's `Table` resource (same parameters, same answers, native
    Python types), sent straight to the resource's client with the table's name: the
    resource's action layer cost 20–30 µs per call (measured in process), on every call
    of every request. The client converts types and conditions as the resource did. No
    Scan: the functions' roles may not (the tests scan through the client)."""

    def __init__(self, client: Any, name: str) -> None:
        self._client = client
        self.name = name

    def get_item(self, **params: Any) -> dict[str, Any]:
        return self._client.get_item(TableName=self.name, **params)

    def query(self, **params: Any) -> dict[str, Any]:
        return self._client.query(TableName=self.name, **params)

    def put_item(self, **params: Any) -> dict[str, Any]:
        return self._client.put_item(TableName=self.name, **params)

    def update_item(self, **params: Any) -> dict[str, Any]:
        return self._client.update_item(TableName=self.name, **params)

    def delete_item(self, **params: Any) -> dict[str, Any]:
        return self._client.delete_item(TableName=self.name, **params)

    def batch_writer(self, overwrite_by_pkeys: list[str] | None = None) -> Any:
        from boto3.dynamodb.table import BatchWriter

        return BatchWriter(self.name, self._client, overwrite_by_pkeys=overwrite_by_pkeys)


class Table:
    """One DynamoDB table reached through boto3's resource client (native Python types)."""

    def __init__(self, name: str, region: str, endpoint_url: str | None = None) -> None:
        self.name = name
        self._region = region
        self._endpoint_url = endpoint_url

    @cached_property
    def resource(self) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(
            retries={"max_attempts": CLIENT_MAX_ATTEMPTS, "mode": "standard"},
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=READ_TIMEOUT_SECONDS,
            max_pool_connections=50,
        )
        return boto3.resource(
            "dynamodb", region_name=self._region, endpoint_url=self._endpoint_url, config=config
        )

    @cached_property
    def table(self) -> TableCalls:
        return TableCalls(self.client, self.name)

    @property
    def client(self) -> Any:
        """The resource's client: takes native Python types, as the resource does."""
        return self.resource.meta.client

    @property
    def exceptions(self) -> Any:
        return self.client.exceptions

    def get(self, pk: str, sk: str, consistent: bool = True) -> dict[str, Any] | None:
        response = self.table.get_item(Key={"PK": pk, "SK": sk}, ConsistentRead=consistent)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def get_key(self, key: dict[str, str], consistent: bool = True) -> dict[str, Any] | None:
        """The item with this `{"PK": …, "SK": …}` key (see `keys`), or None."""
        return self.get(key["PK"], key["SK"], consistent)

    def query_all(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every item of a query, following DynamoDB's pages."""
        while True:
            response = self.table.query(**kwargs)
            yield from response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def query_page(
        self, limit: int, cursor: str | None, **kwargs: Any
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of at most `limit` items and the opaque cursor of the next one, None
        when nothing follows. One item past the page is read to know: DynamoDB answers a
        LastEvaluatedKey whenever it stops at its Limit, even at the partition's end, which
        would give a last page an empty successor. The cursor is the key of the page's
        last item."""
        items: list[dict[str, Any]] = []
        scope = query_scope(kwargs)
        start = decode_key_cursor(cursor, scope, kwargs)
        from_cursor = start is not None
        while len(items) <= limit:
            if start:
                kwargs["ExclusiveStartKey"] = start
            try:
                response = self.table.query(Limit=limit + 1 - len(items), **kwargs)
            except Exception as exc:
                # A start key from a client's cursor that DynamoDB refuses (outside the
                # key condition, say) is the client's error, not a 500.
                if from_cursor and _error_code(exc) == "ValidationException":
                    raise _bad_cursor() from exc
                raise
            from_cursor = False
            items.extend(response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if not start:
                break
        if len(items) <= limit:
            return items, None
        page = items[:limit]
        return page, encode_cursor(_key_of(page[-1], kwargs), scope)

    def transact(self, items: list[dict[str, Any]], on_cancel: Callable[[list[str]], None]) -> None:
        """Run a TransactWriteItems; conflicts are retried, condition failures handed to
        `on_cancel` with the reason code of each item (it must raise)."""
        for attempt in range(TRANSACTION_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=items)
                return
            except self.exceptions.TransactionCanceledException as exc:
                reasons = [
                    r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])
                ]
                if "ConditionalCheckFailed" in reasons:
                    on_cancel(reasons)
                    raise
                if not any(r in ("TransactionConflict", "ThrottlingError") for r in reasons):
                    raise
            except self.exceptions.TransactionConflictException:
                pass
            time.sleep(min(0.5, 0.01 * 2**attempt) * random.random())
        raise ConcurrentUpdate("The resource is under heavy contention; please retry.")


# Stored as they are, besides non-empty strings (exact types: an Enum that is also a str
# or an int is not one of them).
_AS_IS = frozenset({str, int, bool, Decimal, type(None)})
_KEPT = frozenset({int, bool, Decimal})


def to_item(value: Any) -> Any:
    """Python values (pydantic dumps) → what DynamoDB stores (no floats, no empty strings,
    no None in a map). Exact types are tried before any isinstance: an item's ~25 values
    go through here on every write."""
    kind = type(value)
    if kind in _AS_IS:
        return value
    if kind is dict or isinstance(value, dict):
        item = {}
        for key, v in value.items():
            v_kind = type(v)
            if v_kind is str:
                if v:
                    item[key] = v
            elif v_kind in _KEPT:
                item[key] = v
            elif v is not None:
                item[key] = to_item(v)
        return item
    if kind is datetime or kind is date:
        return iso_text(value)
    if isinstance(value, (list, tuple)):
        return [v if type(v) in _AS_IS else to_item(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, (datetime, date)):
        return iso_text(value)
    if isinstance(value, Enum):
        return value.value
    return value


def iso_text(moment: date) -> str:
    """`moment.isoformat()`, written by orjson: the same text (tested), a third of the
    time (CPython's own goes through `printf`, ~0.75 µs a datetime)."""
    if type(moment) in (datetime, date):
        return orjson.dumps(moment)[1:-1].decode()
    return moment.isoformat()  # a subclass: its own


def strip_keys(item: dict[str, Any]) -> dict[str, Any]:
    """An item without its table keys and bookkeeping attributes."""
    return {k: v for k, v in item.items() if k not in _KEY_ATTRIBUTES}


_KEY_ATTRIBUTES = frozenset({"PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "ttl", "entity"})


def query_scope(query: dict[str, Any]) -> str:
    """What a cursor belongs to: the index and partition it pages through."""
    partition = query.get("ExpressionAttributeValues", {}).get(":pk", "")
    return hashlib.sha256(f"{query.get('IndexName', '')}|{partition}".encode()).hexdigest()[:16]


def encode_cursor(position: dict[str, Any], scope: str) -> str:
    raw = json.dumps({"p": position, "s": scope}, default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, scope: str) -> dict[str, Any]:
    """The position a cursor holds, if this API gave it for this very listing."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad_cursor() from exc
    if not isinstance(data, dict) or data.get("s") != scope or not isinstance(data.get("p"), dict):
        raise _bad_cursor()
    position: dict[str, Any] = data["p"]
    return position


def decode_key_cursor(
    cursor: str | None, scope: str, query: dict[str, Any]
) -> dict[str, Any] | None:
    """The ExclusiveStartKey a cursor holds: exactly the key attributes of `query` (the
    table's key, plus its index's key when it runs on an index), each a non-empty
    string, in the partition the query reads; 422 on `cursor` for anything else."""
    if not cursor:
        return None
    key = decode_cursor(cursor, scope)
    index = query.get("IndexName") or ""
    expected = {"PK", "SK"} | ({f"{index}PK", f"{index}SK"} if index else set())
    if set(key) != expected or not all(isinstance(v, str) and v for v in key.values()):
        raise _bad_cursor()
    partition = query.get("ExpressionAttributeValues", {}).get(":pk")
    if isinstance(partition, str) and key[f"{index}PK"] != partition:
        raise _bad_cursor()
    return key


def _key_of(item: dict[str, Any], query: dict[str, Any]) -> dict[str, Any]:
    """An item's key as an ExclusiveStartKey of `query`: the table's key, plus its
    index's key when the query runs on an index (every index projects all attributes)."""
    index = query.get("IndexName") or ""
    names = ["PK", "SK"] + ([f"{index}PK", f"{index}SK"] if index else [])
    return {name: item[name] for name in names}


def _error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError, else ""."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def _bad_cursor() -> ValidationFailed:
    return ValidationFailed("The cursor is not one this listing gave.", field="cursor")
