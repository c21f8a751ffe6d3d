"""The code base stays as strict as pyproject.toml says: ruff clean, mypy --strict clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=300, check=False)


def test_ruff_finds_nothing() -> None:
    """ruff check over the package, the tests and the benchmarks reports no finding."""
    done = _run("ruff", "check", "--output-format", "concise", "src", "tests", "benchmarks")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_finds_nothing_in_the_package() -> None:
    """mypy --strict (configured in pyproject.toml) passes over src/."""
    done = _run("mypy", "src")
    assert done.returncode == 0, done.stdout + done.stderr
