"""No import cycle in the package: every import counts, under TYPE_CHECKING and in functions.

The graph is read from the source with `ast` (nothing is imported): an edge for every
``import`` and ``from ... import`` anywhere in a module, to the submodule it names when the
imported name is one, else to the module (or package ``__init__``) it comes from. A cycle
means two modules cannot be understood, tested or changed one without the other; a lower
module depends on a small interface instead (ARCHITECTURE.md#what-each-module-may-import).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def modules(src: Path) -> dict[str, Path]:
    """Every module under ``src`` by dotted name (a package is its ``__init__``)."""
    found = {}
    for path in sorted(src.rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that module ``name`` (at ``path``) imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if child in known else base)
    return {target for target in found if target in known and target != name}


def graph(src: Path) -> dict[str, set[str]]:
    """``{module: modules it imports}`` for every module under ``src``."""
    found = modules(src)
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(groups)


def test_the_package_has_no_import_cycle() -> None:
    """No two modules of src/campaignkit import each other, directly or through others."""
    assert cycles(graph(SRC)) == []


def test_imports_under_type_checking_and_in_functions_count(tmp_path: Path) -> None:
    """The walk sees an import under TYPE_CHECKING and one inside a function: a cycle."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .high import High\n"
    )
    (package / "high.py").write_text("def make():\n    from . import low\n    return low\n")
    (package / "apart.py").write_text("import json\nfrom pkg import low\n")
    assert graph(tmp_path) == {
        "pkg": set(), "pkg.apart": {"pkg.low"}, "pkg.high": {"pkg.low"}, "pkg.low": {"pkg.high"},
    }
    assert cycles(graph(tmp_path)) == [["pkg.high", "pkg.low"]]
