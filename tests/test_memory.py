"""Memory while campaignkit works: the system allocator for Arrow, freed blocks reused."""

from __future__ import annotations

import platform
import resource
from typing import Any

import numpy as np
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


def faults_filling(mib: int) -> int:
    """Minor page faults taken to fill a fresh array of ``mib`` MiB, freed again after."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = np.empty(mib << 20, dtype=np.uint8)
    block.fill(1)
    del block
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_a_step_reuses_freed_memory_and_the_process_maps_fresh_memory_after() -> None:
    """Inside a step a freed 64 MiB block is reused (no new pages); after it, glibc's usual
    limits apply again: the step's free block serves once, goes back to the system when
    freed, and the next block is mapped fresh."""
    inside: list[int] = []

    @system_pool
    def step() -> None:
        faults_filling(64)
        inside.append(faults_filling(64))

    step()
    after = [faults_filling(64), faults_filling(64)]
    assert after[1] >= 32  # at least one fault per 2 MiB page (fewer with huge pages)
    assert inside[0] < after[1] // 10
