"""Time to render one Factur-X invoice PDF (the B2B sample of the unit tests), warm."""

from __future__ import annotations

from bench.stats import Row, median, ms, timed
from chalicelib.adapters.invoice_pdf import render_invoice_pdf
from tests.unit.test_invoice_pdf import b2b_invoice, invoice

REPEAT = 5
SECTION = f"invoice PDF rendering, in process (median of {REPEAT}, warm)"


def render_time(repeat: int = REPEAT) -> list[Row]:
    render_invoice_pdf(invoice())  # imports and font caches warm
    document = b2b_invoice()
    size = len(render_invoice_pdf(document))
    samples = [timed(lambda: render_invoice_pdf(document)) for _ in range(repeat)]
    return [Row(SECTION, "render_invoice_pdf (B2B, 2 rates)", ms(median(samples)), f"{size} bytes")]
