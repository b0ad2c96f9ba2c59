"""The layers, checked on the source (imports parsed with `ast`, nothing imported):

  deepstory_kernel/  leaves: imports neither modules/ nor deepstory_core/
  modules/           the networks and signal code: imports only deepstory_kernel (+ third-party)
  deepstory_core/    the library: never streamlit; no import cycles among its modules
  pages/, ui/, studio.py   the studio: never modules/ (everything goes through deepstory_core)

Imports under `if TYPE_CHECKING:` are annotations only and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _sources(*roots: str) -> list[Path]:
    files: list[Path] = []
    for root in roots:
        path = REPO / root
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return files


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(path: Path) -> set[str]:
    """Absolute names of every module `path` imports at run time (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            found.add(stem)
            found.update(f"{stem}.{alias.name}" for alias in node.names)   # `from . import x` names a module
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def _violations(roots: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    return [f"{path.relative_to(REPO)} imports {name}" for path in _sources(*roots) for name in sorted(imports(path))
            if _top(name) in forbidden]


@pytest.mark.parametrize("roots, forbidden", [
    (("deepstory_kernel",), ("modules", "deepstory_core", "pages", "ui", "streamlit")),
    (("modules",), ("deepstory_core", "pages", "ui", "streamlit")),
    (("deepstory_core",), ("streamlit", "pages", "ui")),
    (("pages", "ui", "studio.py"), ("modules",)),
])
def test_layer_imports(roots, forbidden):
    assert _violations(roots, forbidden) == []


def test_no_import_cycles_in_the_library():
    """Among deepstory_core's modules (run-time imports at any depth, lazy ones included)."""
    files = {_module_name(path): path for path in _sources("deepstory_core")}
    graph = {name: {dep for dep in imports(path) if dep in files and dep != name} for name, path in files.items()}
    for name in graph:   # a package's __init__ imports nothing of note; a submodule needs its package anyway
        graph[name] = {dep for dep in graph[name] if not name.startswith(dep + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                walk(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)
    assert cycles == []


def test_the_rules_see_real_imports():
    """The parser finds what the rules look for: relative imports resolved, lazy ones (inside functions) seen."""
    found = imports(REPO / "deepstory_core" / "render.py")
    assert "deepstory_core.chunk_jobs" in found and "deepstory_core.stages.export" in found
    assert any(_top(name) == "modules" for path in _sources("deepstory_core") for name in imports(path))
