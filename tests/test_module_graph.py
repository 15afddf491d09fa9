"""The package's shape: its rooms, no import cycle between its modules, imports that run one
way (faces over the public core over the private rooms), and each module's public surface
declared in its ``__all__``."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import docmail_nb

PACKAGE = Path(docmail_nb.__file__).parent


def _dotted(path: Path) -> str:
    """``_store/ledger.py`` → ``_store.ledger``; a package's ``__init__.py`` → the package."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = sorted(_dotted(path) for path in PACKAGE.rglob("*.py") if path != PACKAGE / "__init__.py")
#: The rooms: private subpackages, each named for its concern (their ``__init__`` only names them).
ROOMS = sorted({name.split(".")[0] for name in MODULES if name.startswith("_") and "." in name})
#: ``python -m docmail_nb`` runs the command line when imported: it has no surface of its own
LIBRARY = [name for name in MODULES if name != "__main__" and name not in ROOMS]
#: The faces: presentation over the public core.
FACES = sorted(
    name
    for name in MODULES
    if name.split(".")[0] in {"cli", "widgets", "sendpanel", "scheduled", "demo", "workfolder"}
    or name in ("_panelkit", "_grid")
)


def _path(name: str) -> Path:
    module = PACKAGE.joinpath(*name.split("."))
    return module / "__init__.py" if module.is_dir() else module.with_suffix(".py")


def _tree(name: str) -> ast.Module:
    return ast.parse(_path(name).read_text(encoding="utf-8"))


def _resolve(target: str) -> str | None:
    """The package module a dotted name (below ``docmail_nb``) is, or lives in."""
    parts = target.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _imports(name: str) -> set[str]:
    """The package modules ``name`` imports anywhere: at the top, in functions, under
    TYPE_CHECKING (``from docmail_nb.x.y import z``, ``from docmail_nb.x import y``,
    ``import docmail_nb.x``, and relative imports)."""
    package = name.split(".")[:-1] if _path(name).name != "__init__.py" else name.split(".")
    found: set[str] = set()
    for node in ast.walk(_tree(name)):
        targets: list[str] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                stem = ".".join([*base, *([node.module] if node.module else [])])
            elif (node.module or "").startswith("docmail_nb."):
                stem = (node.module or "").removeprefix("docmail_nb.")
            elif node.module == "docmail_nb":
                stem = ""
            else:
                continue
            targets = [f"{stem}.{alias.name}".lstrip(".") for alias in node.names]
            targets += [stem] if stem else []
        elif isinstance(node, ast.Import):
            targets = [
                alias.name.removeprefix("docmail_nb.")
                for alias in node.names
                if alias.name.startswith("docmail_nb.")
            ]
        for target in targets:
            module = _resolve(target)
            if module is not None:
                found.add(module)
    return found


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
    assert graph["_run.send"] >= {"_store.ledger", "_run.pool"}  # the walk sees the imports
    assert "_store.ledger" in graph["_documents.planned"]  # ... and those under TYPE_CHECKING
    # a subpackage's __init__ is a module of its own; a module of it does not import it back
    graph = {
        name: {t for t in targets if "." in t or t not in ROOMS} for name, targets in graph.items()
    }
    assert _cycle(graph) == []


def test_the_rooms_name_their_concerns() -> None:
    concerns = {"_auth", "_compose", "_documents", "_mail", "_mailbox", "_run", "_sheets", "_store"}
    assert set(ROOMS) >= concerns
    # below the faces and the public core, nothing lives outside a room but these two
    loose = {
        n for n in MODULES if "." not in n and n.startswith("_") and n not in {*ROOMS, "__main__"}
    }
    assert loose == {"_panelkit", "_grid", "_sample"}


@pytest.mark.parametrize("name", [m for m in MODULES if m.split(".")[0] in ROOMS])
def test_a_room_never_imports_a_face(name: str) -> None:
    assert not _imports(name) & set(FACES), f"docmail_nb.{name} imports a face"


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


#: What a face may import: the package's names, the public core, and the other faces (their
#: private helpers included: the panels' kit and grid, the sample data the faces ship).
PUBLIC_CORE = {"batch", "setup", "words", "errors"}


@pytest.mark.parametrize("name", FACES)
def test_a_face_imports_only_the_public_core(name: str) -> None:
    allowed = PUBLIC_CORE | set(FACES) | {"_sample"}
    reached = {target for target in _imports(name) if target.split(".")[0] not in allowed}
    assert not reached, (
        f"docmail_nb.{name} reaches past the public core into {sorted(reached)}: import it from "
        "docmail_nb (the package's names) or from batch, setup, words or errors"
    )


#: the most lines a module may have before it wants cutting on its seam
MAX_MODULE_LINES = 600


@pytest.mark.parametrize("name", MODULES)
def test_no_module_is_longer_than_it_can_be_read(name: str) -> None:
    lines = len(_path(name).read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, (
        f"docmail_nb.{name} has {lines} lines: cut it on a seam into a sibling module"
    )


def _exception_classes(name: str) -> list[str]:
    """Classes ``name`` defines whose bases name an exception or a warning."""
    found = []
    for node in ast.walk(_tree(name)):
        if isinstance(node, ast.ClassDef):
            bases = [ast.unparse(base) for base in node.bases]
            if any(
                base.endswith(("Exception", "Error", "Warning", "Problem")) for base in bases
            ) or any(base.split(".")[-1] in _ERRORS for base in bases):
                found.append(node.name)
    return found


#: every class defined in errors, so that a subclass of one elsewhere is found too
_ERRORS = {node.name for node in ast.walk(_tree("errors")) if isinstance(node, ast.ClassDef)}


@pytest.mark.parametrize("name", [m for m in MODULES if m != "errors"])
def test_every_exception_lives_in_errors(name: str) -> None:
    assert _exception_classes(name) == [], (
        f"docmail_nb.{name} defines an exception: move it to errors"
    )
