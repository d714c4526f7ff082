"""The dependency rule's own check (tools/check_imports.py): it holds on chalicelib, and it
fails on a new cycle or an undocumented function-level import."""

from __future__ import annotations

from pathlib import Path

from tools import check_imports
from tools.check_imports import check, cycles


def write_package(base: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_chalicelib_keeps_the_rule() -> None:
    assert (
        check(
            check_imports.ROOT,
            check_imports.PACKAGE,
            check_imports.ACYCLIC,
            check_imports.LAZY_ALLOWED,
        )
        == []
    )


def test_a_cycle_between_services_fails_even_through_a_function_level_import(
    tmp_path: Path,
) -> None:
    write_package(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/services/__init__.py": "",
            "app/services/a.py": "from app.services import b\n",
            "app/services/b.py": "def f() -> None:\n    from app.services.c import g\n",
            "app/services/c.py": "from . import a\n",
            "app/services/d.py": "from app.services import a\n",
        },
    )
    problems = check(
        tmp_path, "app", ["app.services"], {("app.services.b", "app.services.c"): "reason"}
    )
    assert problems == ["cycle in app.services: a ↔ b ↔ c"]


def test_an_undocumented_function_level_import_of_a_project_module_fails(tmp_path: Path) -> None:
    write_package(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/domain.py": "",
            "app/heavy.py": "",
            "app/services/__init__.py": "",
            "app/services/a.py": (
                "import json\n"
                "def f() -> None:\n"
                "    import decimal\n"  # third party / stdlib: not checked
                "    from app import domain\n"
                "def g() -> None:\n"
                "    from app.heavy import x\n"
            ),
        },
    )
    problems = check(
        tmp_path, "app", ["app.services"], {("app.services.a", "app.heavy"): "cold start"}
    )
    assert problems == [
        "app.services.a:4: imports app.domain inside a function "
        "(import it at module level, or list it in LAZY_ALLOWED with a reason)"
    ]


def test_an_allowance_no_longer_used_fails_so_the_list_stays_true(tmp_path: Path) -> None:
    write_package(
        tmp_path, {"app/__init__.py": "", "app/a.py": "from app import b\n", "app/b.py": ""}
    )
    problems = check(tmp_path, "app", [], {("app.a", "app.b"): "was lazy once"})
    assert problems == ["LAZY_ALLOWED lists app.a → app.b, not imported lazily"]


def test_cycles_are_the_strongly_connected_components() -> None:
    edges = [("a", "b"), ("b", "a"), ("b", "c"), ("c", "d"), ("d", "c"), ("e", "e")]
    assert cycles(edges) == [["a", "b"], ["c", "d"]]
