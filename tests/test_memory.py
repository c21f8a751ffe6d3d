"""Arrow's allocator while campaignkit works: the system's for one step, then the user's again."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from campaignkit import load_recipients, recipients
from campaignkit._memory import give_back, system_pool


def backend() -> str:
    return pa.default_memory_pool().backend_name


def test_a_step_allocates_from_the_system_pool_and_then_restores_the_pool() -> None:
    """Inside a step Arrow uses the system allocator; afterwards the pool is the one before."""
    before = backend()
    seen: list[str] = []

    @system_pool
    def step() -> None:
        seen.append(backend())

    step()
    assert (seen, backend()) == (["system"], before)


def test_nested_steps_switch_once() -> None:
    """plan calls decide: the inner step's end does not restore the pool under the outer one."""
    before = backend()
    seen: list[str] = []

    @system_pool
    def inner() -> None:
        seen.append(backend())

    @system_pool
    def outer() -> None:
        inner()
        seen.append(backend())

    outer()
    assert (seen, backend()) == (["system", "system"], before)


def test_a_failing_step_restores_the_pool() -> None:
    """An exception inside a step leaves the user's pool in place."""
    before = backend()

    @system_pool
    def step() -> None:
        raise ValueError("bad row")

    with pytest.raises(ValueError, match="bad row"):
        step()
    assert backend() == before


def test_the_users_chosen_pool_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ARROW_DEFAULT_MEMORY_POOL set, campaignkit never switches the pool."""
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "mimalloc")
    before = backend()
    seen: list[str] = []

    @system_pool
    def step() -> None:
        seen.append(backend())

    step()
    assert (seen, backend()) == ([before], before)


def test_loading_a_sheet_runs_on_the_system_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """load_recipients reads phones with the system allocator and hands the pool back."""
    before = backend()
    seen: list[str] = []
    normalise = recipients.normalise_phones

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(backend())
        return normalise(*args, **kwargs)

    monkeypatch.setattr(recipients, "normalise_phones", spy)
    frame = load_recipients(pd.DataFrame({"phone": ["+447400123456"]}), default_region="GB")
    give_back()
    assert (frame["to"].tolist(), seen, backend()) == (["+447400123456"], ["system"], before)
