"""The part of the dependency rule that import-linter does not say (run by `make lint`).

import-linter (`[tool.importlinter]` in pyproject.toml) checks the layers. This check adds:

1. **No cycle among sibling modules** of each package in `ACYCLIC` (the services): the import
   graph of the package's modules, every import counted (module level, inside a function,
   under `TYPE_CHECKING`), must have no strongly connected component of two or more modules.
2. **No function-level import of a project module** unless `LAZY_ALLOWED` lists the pair
   (importer, imported) with its reason. An import hidden in a function is how a cycle or a
   layer breach goes unnoticed; the few kept are there for cold starts (stripe, fpdf, the
   OpenAPI document are heavy to import). Third-party imports inside functions are not checked.

`python -m tools.check_imports` prints every violation and exits 1 if there is one.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "chalicelib"
ACYCLIC = ("chalicelib.services",)

# (importer, imported) → why it is imported inside a function.
LAZY_ALLOWED: dict[tuple[str, str], str] = {
    ("chalicelib.api.meta", "chalicelib.api.openapi"): (
        "the OpenAPI document walks every route and model; built on the first GET only"
    ),
    ("chalicelib.api.wiring", "chalicelib.config"): (
        "settings are read from the environment on the first request, not at import"
    ),
    ("chalicelib.api.wiring", "chalicelib.services.context"): (
        "the Context and its stores are built on the first request, not at import"
    ),
    ("chalicelib.api.wiring", "chalicelib.auth"): (
        "the token verifier (PyJWT, the JWKS) is built on the first request, not at import"
    ),
    ("chalicelib.api.invoices", "chalicelib.adapters.invoice_pdf"): (
        "fpdf2 and the fonts are loaded only when a PDF is asked for (cold start)"
    ),
    ("chalicelib.api.invoices", "chalicelib.adapters.invoice_cii"): (
        "the CII writer (xml.etree) is loaded only when a CII document is asked for"
    ),
    ("chalicelib.services.archive", "chalicelib.adapters.invoice_pdf"): (
        "fpdf2 and the fonts are loaded only when a month is archived (cold start)"
    ),
    ("chalicelib.services.archive", "chalicelib.adapters.invoice_cii"): (
        "the CII writer (xml.etree) is loaded only when a month is archived"
    ),
    ("chalicelib.services.context", "chalicelib.adapters.stripe_gateway"): (
        "the stripe SDK is imported on the first payment call (cold start)"
    ),
}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    in_function: bool


def module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = importer.split(".")
    keep = len(parts) - node.level + (1 if is_package else 0)
    base = ".".join(parts[:keep])
    return f"{base}.{node.module}" if node.module else base


class _Collector(ast.NodeVisitor):
    def __init__(self, importer: str, is_package: bool, modules: set[str]) -> None:
        self.importer = importer
        self.is_package = is_package
        self.modules = modules
        self.depth = 0
        self.found: list[Import] = []

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function
    visit_Lambda = _function

    def _add(self, target: str, line: int) -> None:
        # `from pkg import mod` names the module when mod is one; else the package itself.
        while target and target not in self.modules:
            target = target.rpartition(".")[0]
        found = Import(self.importer, target, line, self.depth > 0)
        if target and target != self.importer and found not in self.found:
            self.found.append(found)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        source = _resolve(node, self.importer, self.is_package)
        for alias in node.names:
            candidate = f"{source}.{alias.name}"
            self._add(candidate if candidate in self.modules else source, node.lineno)


def collect(base: Path, package: str) -> list[Import]:
    """Every import of a module of `package` (under `base`) by a module of `package`."""
    files = sorted((base / package.replace(".", "/")).rglob("*.py"))
    modules = {module_name(f, base) for f in files}
    found: list[Import] = []
    for path in files:
        collector = _Collector(module_name(path, base), path.name == "__init__.py", modules)
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        found.extend(collector.found)
    return found


def cycles(edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components of two or more nodes (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def check(
    base: Path,
    package: str,
    acyclic: Iterable[str],
    lazy_allowed: Mapping[tuple[str, str], str],
) -> list[str]:
    """Every violation, one line each (empty when the rule holds)."""
    imports = collect(base, package)
    problems: list[str] = []
    for pkg in acyclic:
        edges = [
            (i.importer, i.imported)
            for i in imports
            if i.importer.startswith(pkg + ".") and i.imported.startswith(pkg + ".")
        ]
        for component in cycles(edges):
            shown = " ↔ ".join(m.removeprefix(pkg + ".") for m in component)
            problems.append(f"cycle in {pkg}: {shown}")
    for i in imports:
        if i.in_function and (i.importer, i.imported) not in lazy_allowed:
            problems.append(
                f"{i.importer}:{i.line}: imports {i.imported} inside a function "
                "(import it at module level, or list it in LAZY_ALLOWED with a reason)"
            )
    unused = set(lazy_allowed) - {(i.importer, i.imported) for i in imports if i.in_function}
    for importer, imported in sorted(unused):
        if _within(importer, package):
            problems.append(f"LAZY_ALLOWED lists {importer} → {imported}, not imported lazily")
    return problems


def main() -> int:
    problems = check(ROOT, PACKAGE, ACYCLIC, LAZY_ALLOWED)
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} import rule violation(s); see docs/ARCHITECTURE.md")
        return 1
    print("import rules: no cycle among services, no undocumented function-level import")
    return 0


if __name__ == "__main__":
    sys.exit(main())
