"""The README's quickstart is the quickstart notebook's first cells, and it works as written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_cells() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```python\n(.*?)```", section, re.S)]


def test_the_quickstart_is_the_notebooks_first_cells() -> None:
    """Each README quickstart block equals the notebook's code cell at the same place."""
    notebook = json.loads((ROOT / "notebooks" / "quickstart.ipynb").read_text(encoding="utf-8"))
    code = ["".join(c["source"]).strip() for c in notebook["cells"] if c["cell_type"] == "code"]
    cells = readme_cells()
    assert len(cells) == 4
    assert code[: len(cells)] == cells


def test_the_quickstart_runs_as_written_from_another_folder(tmp_path: Path) -> None:
    """The README's blocks, run in order as one script in an empty folder, dry-run the sample."""
    script = "\n\n".join(readme_cells()) + (
        "\nprint(repr(ck.summary(recipients)))"
        "\nprint(repr(ck.summary(results)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, text=True,
                          capture_output=True, timeout=120, check=False,
                          env={**os.environ, "PYTHONUTF8": "1"})
    assert done.returncode == 0, done.stderr
    loaded, sent = done.stdout.splitlines()
    assert loaded == (
        "<LoadSummary 64 rows: 60 valid, 3 invalid-phone, 1 missing-phone; 1 repeated "
        "number; 7 repaired; 1 empty row dropped>")
    # Quiet hours are on: at this hour some recipients may be asleep (deferred).
    found = re.fullmatch(r"<ResultsSummary quickstart \(dry-run\): (\d+) dry-run, 5 skipped, "
                         r"1 duplicate(?:, (\d+) deferred)?>", sent)
    assert found is not None, sent
    assert int(found[1]) + int(found[2] or 0) == 58
    assert (tmp_path / "quickstart-results.xlsx").is_file()


def test_the_guardrails_example_runs_after_the_quickstart(tmp_path: Path) -> None:
    """The README's guardrails block, after the quickstart, plans and sends with the guards."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Guardrails and the send plan", 1)[1].split("\n## ", 1)[0]
    (guards,) = re.findall(r"```python\n(.*?)```", section, re.S)
    planned = 'ck.plan(rendered, channel, campaign="guarded", guardrails=guard)'
    script = "\n\n".join([*readme_cells(), guards.replace(planned, f"print(repr({planned}))")])
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, text=True,
                          capture_output=True, timeout=120, check=False,
                          env={**os.environ, "PYTHONUTF8": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("<SendPlan ")
