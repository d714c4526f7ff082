"""The fixed parts of the OpenAPI document: tags, the problem shape, headers, status texts,
and examples synthesised for schemas that carry none."""

from __future__ import annotations

from typing import Any

from chalicelib.api.openapi_refine import VAT_RATE
from chalicelib.domain.identifiers import EMAIL_PATTERN

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

TAGS: list[dict[str, str]] = [
    {"name": "availability", "description": "Free seats per relay, resource and 30-minute slot."},
    {"name": "bookings", "description": "Book, list, read, cancel, check in; iCalendar events."},
    {"name": "catalogue", "description": "Operators, relays, resources, closures and products."},
    {"name": "wallet", "description": "Credit packs, the wallet, and memberships."},
    {"name": "invoices", "description": "Invoices and credit notes: JSON, Factur-X PDF, payments."},
    {"name": "companies", "description": "Company accounts that pay for their employees."},
    {"name": "members", "description": "The member's own profile, erasure and calendar feed."},
    {"name": "accounting", "description": "FEC, VAT, integrity, CSV, clearing, reconciliation."},
    {"name": "admin", "description": "Running scheduled jobs by hand."},
    {"name": "audit", "description": "Who changed what: the trail of staff writes."},
    {"name": "stats", "description": "Occupancy figures for the Living Lab, no personal data."},
    {"name": "webhooks", "description": "Events from the payment provider (signed)."},
    {"name": "meta", "description": "Liveness and this document."},
]

# What an operation checks beyond its schema (answered 422 naming the field, unless said).
NOTES = {
    ("POST", "/v1/bookings"): "The date must be today or later (the relay's time zone) and "
    "within the booking horizon; the unit one the resource offers; `start`/`end` (hourly "
    "bookings) within the relay's opening hours and not over. A full slot or closed day is "
    "409. A card booking answers a `client_secret` to confirm with Stripe.js.",
    ("POST", "/v1/purchases"): "The product must be a credit pack.",
    ("POST", "/v1/memberships"): "The product must be a membership.",
    ("POST", "/v1/invoices/{invoice_id}/payments"): "`paid_at` must not be in the future "
    "and the amount not above what is due on the company invoice.",
    ("GET", "/v1/calendar/{feed}"): "`{feed}` is `{token}.ics` as given by "
    "`GET /v1/me/calendar-feed`; the secret token is the only credential.",
    ("POST", "/v1/webhooks/stripe"): "The `Stripe-Signature` must verify against the raw "
    "body with the endpoint's secret (else 400 `invalid_signature`).",
    ("POST", "/v1/einvoicing/platforms/{operator_id}/webhook"): "Sent by the operator's "
    "accredited platform: `X-PA-Signature` must verify against the raw body with the "
    "operator's webhook secret (else 400 `invalid_signature`); each status is taken once "
    "and never moves a final status back.",
    ("GET", "/v1/openapi.json"): "`servers` is where this document was served from.",
}


# OpenAPI links: what a created resource's id opens next (clients and stateful fuzzing).
def _links(param: str, value: str, **ops: str) -> dict[str, dict[str, Any]]:
    return {name: {"operationId": op, "parameters": {param: value}} for name, op in ops.items()}


def _nested_links(parent: str, param: str, value: str, **ops: str) -> dict[str, dict[str, Any]]:
    """Links to operations under the parent of the request's path (`parent`, e.g.
    relay_id) naming the created resource (`param`)."""
    parameters = {parent: f"$request.path.{parent}", param: value}
    return {name: {"operationId": op, "parameters": dict(parameters)} for name, op in ops.items()}


LINKS: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("POST", "/v1/exports"): _links(
        "export_id", "$response.body#/id", ReadExport="get_exports_export_id"
    ),
    ("POST", "/v1/bookings"): _links(
        "booking_id",
        "$response.body#/booking/id",
        ReadBooking="get_bookings_booking_id",
        CancelBooking="post_bookings_booking_id_cancel",
        CheckIn="post_bookings_booking_id_check_in",
        BookingCalendar="get_bookings_booking_id_ics",
    ),
    ("POST", "/v1/operators"): _links(
        "operator_id",
        "$response.body#/id",
        ReadOperator="get_operators_operator_id",
        EditOperator="patch_operators_operator_id",
        ReadAccountingSettings="get_operators_operator_id_accounting_settings",
        SetAccountingSettings="put_operators_operator_id_accounting_settings",
        ReadPlatform="get_operators_operator_id_einvoicing_platform",
        SetPlatform="put_operators_operator_id_einvoicing_platform",
        ReadChorusPro="get_operators_operator_id_chorus_pro",
        SetChorusPro="put_operators_operator_id_chorus_pro",
        EReports="get_operators_operator_id_ereports",
        Periods="get_operators_operator_id_periods",
        VerifyPeriods="get_operators_operator_id_periods_verify",
    ),
    # An operator's own platform or Chorus Pro account exists once set (a new operator's
    # removal is 404): removing one is linked from setting it.
    ("PUT", "/v1/operators/{operator_id}/einvoicing-platform"): _links(
        "operator_id",
        "$request.path.operator_id",
        RemovePlatform="delete_operators_operator_id_einvoicing_platform",
    ),
    ("PUT", "/v1/operators/{operator_id}/chorus-pro"): _links(
        "operator_id",
        "$request.path.operator_id",
        RemoveChorusPro="delete_operators_operator_id_chorus_pro",
    ),
    ("POST", "/v1/relays"): _links(
        "relay_id",
        "$response.body#/id",
        ReadRelay="get_relays_relay_id",
        EditRelay="patch_relays_relay_id",
        AddResource="post_relays_relay_id_resources",
        CloseDay="post_relays_relay_id_closures",
    ),
    ("POST", "/v1/relays/{relay_id}/resources"): _nested_links(
        "relay_id",
        "resource_id",
        "$response.body#/id",
        ReadResource="get_relays_relay_id_resources_resource_id",
        EditResource="patch_relays_relay_id_resources_resource_id",
    ),
    ("POST", "/v1/products"): _links(
        "product_id",
        "$response.body#/id",
        ReadProduct="get_products_product_id",
        EditProduct="patch_products_product_id",
    ),
    ("POST", "/v1/companies"): _links(
        "company_id",
        "$response.body#/id",
        ReadCompany="get_companies_company_id",
        EditCompany="patch_companies_company_id",
        AddEmployee="post_companies_company_id_members",
        Statement="get_companies_company_id_statement",
    ),
    ("POST", "/v1/memberships"): _links(
        "membership_id",
        "$response.body#/membership/id",
        CancelMembership="post_memberships_membership_id_cancel",
        ReplacePaymentMethod="put_memberships_membership_id_payment_method",
    ),
    # The newest invoice of a listing (none: the link is not followed)
    ("GET", "/v1/invoices"): _links(
        "invoice_id",
        "$response.body#/items/0/id",
        ReadInvoice="get_invoices_invoice_id",
        InvoicePdf="get_invoices_invoice_id_pdf",
        InvoiceXml="get_invoices_invoice_id_xml",
        Lifecycle="get_invoices_invoice_id_lifecycle",
        Resend="post_invoices_invoice_id_lifecycle_resend",
        RecordTransfer="post_invoices_invoice_id_payments",
        SendByMail="post_invoices_invoice_id_send",
    ),
}

STATUS_TEXT = {
    304: "Not modified: the document is the one the client holds (`If-None-Match`).",
    400: "Malformed request: the body is not JSON, or a signature does not verify.",
    401: "No valid bearer token.",
    402: "The payment provider refused the payment.",
    403: "The token's holder may not do this.",
    404: "No such resource (or not visible to this caller).",
    409: "Conflict with the current state, or an Idempotency-Key reused or still in flight.",
    412: "`If-Match` names a version the object no longer has (`precondition_failed`).",
    413: "Too large for a direct download (`too_large`): ask for it with `POST /v1/exports`.",
    422: "A parameter or body field is not valid; `errors` names each field.",
    428: "`If-Match` is required to change this object (`precondition_required`).",
    429: "Too many requests: retry after the `Retry-After` seconds.",
    502: "The payment provider refused or failed the request (`payment_provider_error`).",
    503: "Service unavailable (`service_unavailable`, with `Retry-After`) or misconfigured "
    "(`misconfigured`).",
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An error, RFC 9457 problem details; `code` is stable, texts may change "
    "(French with `Accept-Language: fr`).",
    "required": ["type", "title", "status", "detail", "code", "errors", "request_id"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the problem type."},
        "title": {"type": "string", "description": "Short summary of the problem type."},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What went wrong with this request."},
        "code": {"type": "string", "description": "Stable machine-readable code."},
        "errors": {
            "type": "array",
            "description": "One entry per invalid field (422); empty otherwise.",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {"type": "string", "description": "Dotted path, e.g. `lines.0.vat`"},
                    "message": {"type": "string"},
                },
            },
        },
        "request_id": {"type": "string", "description": "The answer's X-Request-Id."},
    },
    "examples": [
        {
            "type": "https://relais.coop/problems/validation_error",
            "title": "Validation failed",
            "status": 422,
            "detail": "date: must be a date written YYYY-MM-DD",
            "code": "validation_error",
            "errors": [{"field": "date", "message": "must be a date written YYYY-MM-DD"}],
            "request_id": "req_3kq9w0c2x1",
        }
    ],
}


# The problem an error status most often carries: (code, title, detail), for examples.
PROBLEM_EXAMPLES: dict[str, tuple[str, str, str]] = {
    "400": ("malformed_json", "Malformed JSON", "The body is not valid JSON."),
    "401": ("unauthenticated", "Unauthenticated", "A valid bearer token is required."),
    "402": ("payment_failed", "Payment failed", "Your card was declined."),
    "403": ("forbidden", "Forbidden", "You may not do this."),
    "404": ("not_found", "Not found", "No booking with id 'bkg_x'."),
    "405": ("method_not_allowed", "Method not allowed", "This path does not take DELETE."),
    "409": ("invalid_state", "Invalid state", "A booking in status cancelled cannot be cancelled."),
    "412": ("precondition_failed", "Precondition failed", "The object is at version 3, not 2."),
    "413": ("too_large", "Too large for a direct download", "Ask for it with POST /v1/exports."),
    "428": ("precondition_required", "Precondition required", "This change needs If-Match."),
    "429": ("rate_limited", "Too many requests", "Too many writes; retry after 30 s."),
    "502": ("payment_provider_error", "Payment provider error", "Stripe refused the call."),
    "503": ("service_unavailable", "Service unavailable", "Try again shortly."),
}


def problem_example(status: int) -> dict[str, Any]:
    code, title, detail = PROBLEM_EXAMPLES[str(status)]
    return {
        "type": f"https://relais.coop/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": [],
        "request_id": "req_3kq9w0c2x1",
    }


def header(description: str, required: bool = True, **schema: Any) -> dict[str, Any]:
    return {
        "description": description,
        "required": required,
        "schema": {"type": "string", **schema},
    }


REQUEST_ID = header("This answer's id, quoted in logs (the client's own if it sent one).")
ETAG = header("Entity tag of the issued document; send it back as `If-None-Match`.")
CACHE_CONTROL = header("Issued documents never change: `private, max-age=31536000, immutable`.")
RETRY_AFTER = header("Seconds to wait before retrying.", pattern="^[0-9]+$")
REPLAYED = header(
    "`true` when this is the stored answer to an earlier request with the same key.",
    required=False,
    enum=["true"],
)
DISPOSITION = header("`attachment` or `inline`, with a file name.", required=False)
LOCATION = header("Where to follow the accepted work (`GET` it until it is done).")

# Sample values for the patterns of the models, so that synthesised examples validate.
PATTERN_SAMPLES = {
    "^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$": "2026-11",
    "^([01][0-9]|2[0-3]):(00|30)$": "09:00",
    "^(([01][0-9]|2[0-3]):(00|30)|24:00)$": "12:00",
    "^[0-9]{9}$": "552100554",
    "^(fr|en)$": "fr",
    "^[A-Za-z0-9_-]+$": "eyJwIjp7Im8iOjIwfX0",
    "^[A-Z0-9]{2,10}$": "R77",
    VAT_RATE: "20.00",
    EMAIL_PATTERN: "camille@example.org",
}
FORMAT_SAMPLES = {
    "date": "2026-12-01",
    "date-time": "2026-12-01T09:00:00+01:00",
    "email": "camille@example.org",
    "siren": "552100554",
    "siret": "55210055400013",
    "vat_number": "FR96552100554",  # the SIREN's above: an FR VAT number carries its SIREN
    "iban": "FR7630006000011234567890189",
    "bic": "BNPAFRPPXXX",
}


def example(schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> Any:
    """A value valid for `schema`: its own example if it has one, else one built from it."""
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    for key in ("examples", "default", "const"):
        if key == "examples" and schema.get("examples"):
            return schema["examples"][0]
        if key in schema and key != "examples" and schema[key] is not None:
            return schema[key]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example(options[0], defs, depth + 1)
    kind = schema.get("type", "object")
    kind = next(k for k in kind if k != "null") if isinstance(kind, list) else kind
    if kind == "object":
        props = schema.get("properties", {})
        return {name: example(sub, defs, depth + 1) for name, sub in props.items() if depth < 12}
    if kind == "array":
        item = example(schema.get("items", {}), defs, depth + 1)
        return [item] * max(1, schema.get("minItems", 1)) if depth < 12 else []
    if kind == "string":
        return _string_example(schema)
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        value = low + 1 if "exclusiveMinimum" in schema else max(low, 1)
        return int(value) if kind == "integer" else value
    return True if kind == "boolean" else None


def _string_example(schema: dict[str, Any]) -> str:
    if schema.get("pattern") in PATTERN_SAMPLES:
        return PATTERN_SAMPLES[schema["pattern"]]
    if schema.get("format") in FORMAT_SAMPLES:
        return FORMAT_SAMPLES[schema["format"]]
    return "x" * max(1, schema.get("minLength", 1)) if "maxLength" in schema else "text"
