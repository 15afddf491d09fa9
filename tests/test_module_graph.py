"""The package's shape: no import cycle between its modules, and each module's public surface
declared in its ``__all__``."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import docmail_nb

PACKAGE = Path(docmail_nb.__file__).parent
MODULES = sorted(path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__")
#: ``python -m docmail_nb`` runs the command line when imported: it has no surface of its own
LIBRARY = [name for name in MODULES if name != "__main__"]


def _tree(name: str) -> ast.Module:
    return ast.parse((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))


def _imports(name: str) -> set[str]:
    """The package modules ``name`` imports anywhere: at the top, in functions, under
    TYPE_CHECKING (``from .x import y``, ``from . import x``, ``import docmail_nb.x``)."""
    found: set[str] = set()
    for node in ast.walk(_tree(name)):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:
                found.update(alias.name for alias in node.names)
            elif node.level == 0 and (node.module or "").startswith("docmail_nb."):
                found.add((node.module or "").split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("docmail_nb."):
                    found.add(alias.name.split(".")[1])
    return found & set(MODULES)


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as a path (first module repeated at the end), or [] for none."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> list[str]:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        state[module] = "done"
        path.pop()
        return []

    for module in sorted(graph):
        if module not in state:
            found = visit(module)
            if found:
                return found
    return []


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_the_import_graph_has_no_cycle() -> None:
    graph = {name: _imports(name) - {name} for name in MODULES}
    assert graph["send"] >= {"ledger", "workers"}  # the walk sees the package's imports
    assert "ledger" in graph["documents"]  # ... and those under TYPE_CHECKING
    assert _cycle(graph) == []


def _is_type_variable(value: ast.expr | None) -> bool:
    """``F = TypeVar("F", ...)``: typing machinery, not part of a module's surface."""
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id in ("TypeVar", "ParamSpec")
    )


def _defined_names(name: str) -> tuple[set[str], list[str] | None]:
    """The names a module defines at its top level, and its ``__all__`` (None: not declared)."""
    defined: set[str] = set()
    declared: list[str] | None = None
    for node in _tree(name).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id == "__all__":
                    declared = list(ast.literal_eval(node.value))  # type: ignore[arg-type]
                elif isinstance(target, ast.Name) and not _is_type_variable(node.value):
                    defined.add(target.id)
    return defined, declared


@pytest.mark.parametrize("name", LIBRARY)
def test_every_module_declares_its_public_names(name: str) -> None:
    defined, declared = _defined_names(name)
    assert declared is not None, f"docmail_nb.{name} declares no __all__"
    assert len(declared) == len(set(declared)), f"docmail_nb.{name}.__all__ repeats a name"
    public = {n for n in defined if not n.startswith("_")}
    assert public <= set(declared), (
        f"docmail_nb.{name} defines public names missing from __all__ "
        f"(add them, or make them private with a leading underscore): "
        f"{sorted(public - set(declared))}"
    )
    module = importlib.import_module(f"docmail_nb.{name}")
    missing = [n for n in declared if not hasattr(module, n)]
    assert not missing, f"docmail_nb.{name}.__all__ names what it does not have: {missing}"


def test_the_package_exports_only_what_its_modules_declare() -> None:
    declared = {n for name in LIBRARY for n in _defined_names(name)[1] or []}
    assert set(docmail_nb.__all__) <= declared
