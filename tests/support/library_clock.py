"""The time the PDF libraries read (fpdf2 and factur-x call `datetime.now()` themselves): set
it, to show that a document rendered at another moment is the same file."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

import facturx.facturx
import fpdf.fpdf
import fpdf.output
import pytest

RENDERING_MODULES = (fpdf.fpdf, fpdf.output, facturx.facturx)


def set_pdf_libraries_clock(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    """fpdf2 and factur-x read `moment` as now (aware); their `datetime` is otherwise the
    real one, so the datetimes they are given still pass their `isinstance` checks."""

    class AnyDatetime(type):
        def __instancecheck__(cls, instance: Any) -> bool:
            return isinstance(instance, datetime)

    class Frozen(datetime, metaclass=AnyDatetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Frozen:
            return cls.fromtimestamp(moment.timestamp(), tz)

    for module in RENDERING_MODULES:
        monkeypatch.setattr(module, "datetime", Frozen)
