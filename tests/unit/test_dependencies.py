"""Every third-party module the service imports is installed by `pip install .` alone.

`make run` and the Docker image install only the runtime dependencies, while
the test venv also has the `test` extra, so a module that only an extra brings
(Pillow was one) passes every test and fails on a fresh machine.
"""

from __future__ import annotations

import ast
import importlib.metadata
import sys
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from harness.processes import REPO

OPTIONAL = {"aiohttp"}
"""Imported inside a function, only when google-genai itself runs on aiohttp."""


def _imported_modules() -> dict[str, str]:
    """Top-level module -> a file importing it, for every non-stdlib absolute import under src/."""
    modules: dict[str, str] = {}
    for path in sorted((REPO / "src").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("delivery", "generation"):
                    modules.setdefault(top, str(path.relative_to(REPO)))
    return modules


def _runtime_closure() -> set[str]:
    """The declared runtime dependencies and, from installed metadata, everything they require here (no extras)."""
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    todo, seen = [canonicalize_name(Requirement(r).name) for r in declared], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for line in importlib.metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(requirement.name))
    return seen


def test_every_imported_module_comes_with_the_runtime_dependencies() -> None:
    closure = _runtime_closure()
    distributions = importlib.metadata.packages_distributions()
    missing = {
        module: where
        for module, where in _imported_modules().items()
        if module not in OPTIONAL and not any(canonicalize_name(d) in closure for d in distributions.get(module, [module]))
    }
    assert not missing, f"imported but not installed by `pip install .`: {missing}"


def test_the_check_sees_an_extra_only_module() -> None:
    """pytest comes only with the `test` extra: the closure must not contain it."""
    assert "pytest" not in _runtime_closure()
    assert {"pyvips", "litestar", "msgspec"} <= _runtime_closure()
