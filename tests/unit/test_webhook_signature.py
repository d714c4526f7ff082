"""The platform webhooks' HMAC signature: raw body, secret, timestamp tolerance."""

from __future__ import annotations

import pytest

from chalicelib.domain.webhook_signature import BadSignature, check, signature_header

BODY = b'{"flowId": "flow-1", "trackingId": "in_1", "lifecycle": []}'
NOW = 1_800_000_000


def test_a_good_signature_passes_within_the_tolerance() -> None:
    check(BODY, signature_header("s3cret", NOW, BODY), "s3cret", NOW)
    check(BODY, signature_header("s3cret", NOW - 300, BODY), "s3cret", NOW)
    # a secret being rotated: either signature does
    rotated = (
        f"{signature_header('old', NOW, BODY)},v1="
        + signature_header("s3cret", NOW, BODY).split("v1=")[1]
    )
    check(BODY, rotated, "s3cret", NOW)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "v1=abc",
        "t=abc,v1=abc",
        f"t={NOW}",
        signature_header("other", NOW, BODY),
        signature_header("s3cret", NOW - 301, BODY),
        signature_header("s3cret", NOW + 301, BODY),
        signature_header("s3cret", NOW, BODY + b" "),
        # digits to str.isdigit but not to int(), and a signature compare_digest refuses
        signature_header("s3cret", NOW, BODY).replace(f"t={NOW}", "t=\u00b2"),
        signature_header("s3cret", NOW, BODY).replace(f"t={NOW}", "t=\u0661\u0662"),
        signature_header("s3cret", NOW, BODY).replace("v1=", "v1=\u00e9"),
    ],
)
def test_anything_else_is_refused(header: str | None) -> None:
    with pytest.raises(BadSignature):
        check(BODY, header, "s3cret", NOW)
