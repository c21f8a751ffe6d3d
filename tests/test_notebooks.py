"""The notebooks run top to bottom against the sandbox and are committed without outputs."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
COMMITTED = [NOTEBOOKS / "quickstart.ipynb", NOTEBOOKS / "composer.ipynb",
             ROOT / "tests" / "browser_app" / "composer.ipynb"]


def _execute(name: str, cwd: Path, *extra: str) -> nbformat.NotebookNode:
    """Run a notebook in memory with cwd = ``cwd``, then the ``extra`` cells in its kernel.

    The committed file is not touched; the extra cells get ids ``extra-1``, ``extra-2``...
    """
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    notebook.cells += [nbformat.v4.new_code_cell(code, id=f"extra-{n}")
                       for n, code in enumerate(extra, start=1)]
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
        "<LoadSummary 64 rows: 60 valid, 3 invalid-phone, 1 missing-phone; 1 repeated "
        "number; 7 repaired; 1 empty row dropped>")
    # Quiet hours are on: at this hour some recipients may be asleep (deferred).
    summary = re.fullmatch(r"<ResultsSummary quickstart \(dry-run\): (\d+) dry-run, 5 skipped, "
                           r"1 duplicate(?:, (\d+) deferred)?>", _text(notebook, "quickstart-05"))
    assert summary is not None, _text(notebook, "quickstart-05")
    assert int(summary[1]) + int(summary[2] or 0) == 58
    saved = pd.read_excel(tmp_path / "quickstart-results.xlsx", dtype=str, engine="calamine")
    assert saved["status"].value_counts().to_dict() == {
        k: v for k, v in {"dry-run": int(summary[1]), "skipped": 5, "duplicate": 1,
                          "deferred": int(summary[2] or 0)}.items() if v}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quickstart-results.xlsx"]


# The composer notebook's self-check, driven from here in the notebook's own kernel: the
# shipped notebook only shows the Composer (no keys typed, no clicks, no run).
DRIVE = (
    """
from datetime import UTC, datetime

from campaignkit.samples import sample_path

composer.state.clock = lambda: datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
composer.guardrails_panel.quiet.value = False
composer.recipients_panel.countries.value = "US, GB, ES, DE, IN"
composer.recipients_panel.path.value = str(sample_path("recipients.xlsx"))
composer.message_panel.editor.value = sample_path("message.txt").read_text()
composer.provider_panel.fields["sociocs.api_key"].value = "demo:key"
composer.provider_panel.fields["sociocs.channel_key"].value = "twlo_16175550100"
composer.send_panel.rate.value = 10_000.0
await composer.state.settled()
(composer.provider_panel.fields["sociocs.api_key"].value, composer.preview_panel.counter.value)
""",
    """
composer.send_panel.dry_run_button.click()  # a task on the kernel's loop: Stop is heard
await composer.task
composer.results["status"].value_counts().to_dict()
""",
    """
composer.send_panel.send_button.click()  # only asks: nothing is sent before "Yes"
composer.state.confirmation.sentence
""",
)


def test_composer_notebook_only_shows_the_composer(tmp_path: Path) -> None:
    """Opened, the composer notebook has no sheet, no channel, no run, and live disarmed."""
    notebook = _execute("composer.ipynb", tmp_path, (
        "s = composer.state\n(s.recipients, s.channel, s.results, "
        "composer.send_panel.send_button.disabled)"))
    assert _text(notebook, "extra-1") == "(None, None, None, True)"
    assert list(tmp_path.iterdir()) == []


def test_composer_notebook_driven_from_the_tests(tmp_path: Path) -> None:
    """Driven by .value and .click() in its kernel: the key leaves its field, a dry run of
    the sample sheet, and the live confirmation of what is still to send."""
    notebook = _execute("composer.ipynb", tmp_path, *DRIVE)
    assert _text(notebook, "extra-1") == "('', 'GSM-7 · 1 segment · 103 characters')"
    assert _text(notebook, "extra-2") == "{'dry-run': 58, 'skipped': 5, 'duplicate': 1}"
    assert _text(notebook, "extra-3").startswith(
        "'Send 58 messages (73 segments, about $3.10) to 58 recipients via api.sociocs.com; "
        "5 skipped (problems), 1 duplicate; finishes in about 1 s at 10000/s. Sent live, and "
        "recorded in "
        "the ledger ")


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_no_shipped_notebook_types_keys_or_clicks(path: Path) -> None:
    """A shipped notebook never sets a widget's value, clicks a button or types a key."""
    notebook = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert re.findall(r"\.click\(|\.value\s*=|_panel\.|fields\[", code) == []


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_notebooks_are_clean(path: Path) -> None:
    """No outputs, execution counts or widget state in git (scripts/clean_notebooks.py)."""
    notebook = nbformat.read(path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert [(c.outputs, c.execution_count) for c in code] == [([], None)] * len(code)
    assert "widgets" not in notebook.metadata
