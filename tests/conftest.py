"""Every test runs with a ledger of its own: the user's ledger is never read or written.

``CAMPAIGNKIT_LEDGER`` points at a file in the test's temporary folder, and the per-user
data folder (where the ledger lives when nothing is set) is moved into it too, so a test that
forgets either still cannot reach the real one. The session ends by checking that the real
default location was left exactly as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from campaignkit.ledger import default_ledger_path

_REAL_DEFAULT = default_ledger_path()
_BEFORE = _REAL_DEFAULT.stat().st_mtime_ns if _REAL_DEFAULT.exists() else None
# Module- and session-scoped fixtures run before any test's own ledger is set: they get one
# for the whole session, never the user's.
_SESSION = Path(tempfile.mkdtemp(prefix="campaignkit-tests-"))
os.environ["CAMPAIGNKIT_LEDGER"] = str(_SESSION / "ledger.db")
os.environ["XDG_DATA_HOME"] = str(_SESSION / "data")


@pytest.fixture(autouse=True)
def _own_ledger(tmp_path_factory: pytest.TempPathFactory,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("CAMPAIGNKIT_LEDGER", str(home / "ledger.db"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    yield home / "ledger.db"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    after = _REAL_DEFAULT.stat().st_mtime_ns if _REAL_DEFAULT.exists() else None
    if after != _BEFORE and os.environ.get("PYTEST_XDIST_WORKER") is None:
        session.exitstatus = 1
        print(f"\nthe test suite touched the user's ledger at {_REAL_DEFAULT}")
