"""The audit trail: who changed what, when, with which roles (API.md, `GET /v1/audit`).

An entry is written once and never changed. It keeps the before/after of each changed
field, never a secret: IBANs are masked, card data never reaches the catalogue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.editing import mask_iban

MASKED_FIELDS = {"iban": mask_iban}


class AuditEntry(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    id: str
    at: datetime
    actor: str
    roles: list[str]
    action: str  # create | update | delete | cancel | refund | erase | close ...
    entity: str  # operator | relay | resource | product | closure | company | booking ...
    entity_id: str
    operator_id: str | None = None
    relay_id: str | None = None
    changes: dict[str, list[Any]] = {}


def safe_changes(changes: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The changes as the trail may keep them: masked where a field is sensitive."""
    safe: dict[str, list[Any]] = {}
    for name, values in changes.items():
        mask = MASKED_FIELDS.get(name)
        safe[name] = [mask(v) for v in values] if mask else list(values)
    return safe


def created(fields: dict[str, Any]) -> dict[str, list[Any]]:
    """The changes of a creation: every field from nothing."""
    skip = {"id", "version", "created_at"}
    return safe_changes(
        {k: [None, v] for k, v in fields.items() if k not in skip and v is not None}
    )
