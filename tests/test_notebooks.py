"""The notebooks run top to bottom against the sandbox and are committed without outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
COMMITTED = [NOTEBOOKS / "quickstart.ipynb", NOTEBOOKS / "composer.ipynb",
             ROOT / "tests" / "browser_app" / "composer.ipynb"]


def _execute(name: str, cwd: Path) -> nbformat.NotebookNode:
    """Run a notebook in memory with cwd = ``cwd`` (the committed file is not touched)."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return notebook


def _text(notebook: nbformat.NotebookNode, cell_id: str) -> str:
    """The text/plain result of one cell."""
    cell = next(c for c in notebook.cells if c.get("id") == cell_id)
    results = [o for o in cell.outputs if o.output_type == "execute_result"]
    return "".join(o["data"]["text/plain"] for o in results)


def test_quickstart_runs_and_saves_the_results(tmp_path: Path) -> None:
    """The quickstart loads, renders, previews, dry-runs, saves and plots the sample campaign."""
    notebook = _execute("quickstart.ipynb", tmp_path)
    assert _text(notebook, "quickstart-02") == (
        "<LoadSummary 64 rows: 59 valid, 3 invalid-phone, 1 duplicate, 1 missing-phone; "
        "7 repaired; 1 empty row dropped>")
    assert _text(notebook, "quickstart-05") == (
        "<ResultsSummary quickstart (dry-run): 58 dry-run, 6 skipped>")
    assert _text(notebook, "quickstart-07") == "<StatusChart 58 dry-run, 6 skipped>"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "quickstart-results.xlsx", "quickstart.journal.db"]


def test_composer_notebook_checks_itself(tmp_path: Path) -> None:
    """The composer notebook drives its widgets with .value/.click() and all asserts hold."""
    notebook = _execute("composer.ipynb", tmp_path)
    assert _text(notebook, "composer-08") == (
        "'<b>Send 58 messages (73 segments, about $0.58) to 58 recipients; 6 skipped "
        "(problems); finishes in about 1 s at 500/s</b> through sociocs:twlo, live. Rows "
        "already sent in campaign “recipients” are not sent again.'")


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_notebooks_are_clean(path: Path) -> None:
    """No outputs, execution counts or widget state in git (scripts/clean_notebooks.py)."""
    notebook = nbformat.read(path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert [(c.outputs, c.execution_count) for c in code] == [([], None)] * len(code)
    assert "widgets" not in notebook.metadata
