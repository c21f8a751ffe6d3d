"""Strip outputs, execution counts and widget state from notebooks before committing.

``python scripts/clean_notebooks.py notebooks tests/browser_app`` cleans every ``.ipynb``
under the given paths in place; ``--check`` changes nothing and exits 1 if any is not clean
(widget state can hold what a widget showed, so it never goes into git).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

__all__ = ["clean", "main"]


def clean(notebook: nbformat.NotebookNode) -> bool:
    """Clean ``notebook`` in place; return whether anything changed."""
    changed = notebook.metadata.pop("widgets", None) is not None
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        changed |= bool(cell.outputs) or cell.execution_count is not None
        changed |= cell.metadata.pop("execution", None) is not None
        cell.outputs = []
        cell.execution_count = None
    return changed


def main(argv: list[str] | None = None) -> int:
    """Clean (or ``--check``) every notebook under the given paths."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="report, change nothing")
    args = parser.parse_args(argv)
    dirty = []
    for root in args.paths:
        for path in sorted([root] if root.is_file() else root.rglob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts:
                continue
            notebook = nbformat.read(path, as_version=4)
            if clean(notebook):
                dirty.append(path)
                if not args.check:
                    nbformat.write(notebook, path)
    for path in dirty:
        print(f"{'not clean' if args.check else 'cleaned'}: {path}")
    return 1 if args.check and dirty else 0


if __name__ == "__main__":
    sys.exit(main())
