"""The invoices CSV: plain RFC 4180 by default, `dialect=excel-fr` for French spreadsheets."""

from __future__ import annotations

import csv
import io

import pytest

from chalicelib.services.context import Context
from tests.integration.test_periods import issue_paid
from tests.support.api import Api, operator_body


@pytest.fixture
def operator_id(ctx: Context, api: Api, admin: str) -> str:
    op = str(api.post("/v1/operators", operator_body(), token=admin).json["id"])
    issue_paid(ctx, op, "pi_csv", "2026-12-01T07:00:00+01:00")
    return op


def csv_answer(api: Api, token: str, query: str) -> tuple[str, dict[str, str]]:
    answer = api.get(f"/v1/accounting/invoices.csv?{query}", token=token)
    assert answer.status == 200
    body = answer.body.decode() if isinstance(answer.body, bytes) else answer.body
    return body, answer.headers


def test_excel_fr_starts_with_a_byte_order_mark(
    api: Api, accountant: str, operator_id: str
) -> None:
    body, _ = csv_answer(api, accountant, f"operator_id={operator_id}&dialect=excel-fr")
    assert body.startswith("\ufeffnumber;")


def test_excel_fr_writes_iso_dates_and_decimal_commas(
    api: Api, accountant: str, operator_id: str
) -> None:
    body, _ = csv_answer(api, accountant, f"operator_id={operator_id}&dialect=excel-fr")
    row = body.split("\r\n")[1].split(";")
    assert (row[2], row[10], row[13]) == ("2026-12-01", "20,00", "15,00")


def test_the_default_dialect_is_plain_rfc_4180_csv(
    api: Api, accountant: str, operator_id: str
) -> None:
    """No byte order mark, commas, amounts in euros with a decimal point: what
    `csv.DictReader` and most tools read (excel-fr is the opt-in French dialect)."""
    body, _ = csv_answer(api, accountant, f"operator_id={operator_id}")
    assert body.startswith("number,type,")
    (row,) = csv.DictReader(io.StringIO(body))
    assert (row["amount_incl_vat"], row["vat_rate"]) == ("15.00", "20.00")


def test_file_name_names_the_operator_and_the_span(
    api: Api, accountant: str, operator_id: str
) -> None:
    _, headers = csv_answer(
        api, accountant, f"operator_id={operator_id}&from=2026-12-01&to=2026-12-31"
    )
    assert headers["Content-Disposition"] == (
        f'attachment; filename="invoices-{operator_id}-2026-12-01_2026-12-31.csv"'
    )


def test_unknown_dialect_is_a_validation_error(api: Api, accountant: str, operator_id: str) -> None:
    answer = api.get(
        f"/v1/accounting/invoices.csv?operator_id={operator_id}&dialect=excel", token=accountant
    )
    assert answer.status == 422
