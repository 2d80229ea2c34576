"""docs/design.md §9: `delivery` imports `generation`, never the other way round."""

from __future__ import annotations

import ast
from pathlib import Path

import generation

SOURCE = Path(generation.__file__).parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_generation_never_imports_delivery() -> None:
    modules = sorted(SOURCE.rglob("*.py"))
    assert len(modules) >= 10  # the walk found the package, not an empty directory
    offenders = {
        str(path.relative_to(SOURCE)): sorted(n for n in imported_modules(path) if n.split(".")[0] in {"delivery", "tests"})
        for path in modules
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_check_would_see_an_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from delivery.settings import Settings\n    import delivery.app as app\n")
    assert imported_modules(module) == {"delivery.settings", "delivery.app"}
