"""Every problem code the API can answer is in docs/API.md's list, with its status."""

from __future__ import annotations

import re
from pathlib import Path

from chalicelib import errors

API_MD = Path(__file__).resolve().parents[2] / "docs" / "API.md"


def _error_classes() -> list[type[errors.RelaisError]]:
    found: list[type[errors.RelaisError]] = []
    pending = [errors.RelaisError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return [cls for cls in found if cls is not errors.RelaisError]


def test_every_error_code_is_listed_with_its_status_in_api_md() -> None:
    text = API_MD.read_text(encoding="utf-8")
    missing = [
        f"{cls.code} ({cls.status})"
        for cls in _error_classes()
        if not re.search(rf"`{cls.code}` \({cls.status}\b", text)
    ]
    assert missing == []


def test_the_error_classes_cover_every_status_family_the_api_answers() -> None:
    statuses = {cls.status for cls in _error_classes()}
    assert {400, 401, 403, 404, 405, 409, 412, 413, 422, 428, 429, 502, 503} <= statuses
