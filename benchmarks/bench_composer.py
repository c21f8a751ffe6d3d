"""The Composer at 50,000 rows, measured headless on its state (issue 14's targets).

- ``composer-keystroke``: a keystroke (the message text set) to the current row's preview:
  the row is rendered alone, its request built; every row is counted later, debounced, in a
  worker thread ("updating…"). Keys are typed 400 ms apart, so the counting of the previous
  key runs while the next one is typed (the contention a user sees). Target < 150 ms.
- ``composer-totals``: the same keystroke to the totals of every row (informs: off the
  keystroke path).
- ``composer-provider``: switching the provider to the row's new preview. Target < 500 ms.
- ``composer-stop``: a 50,000-row dry run stopped after 1,000 rows: from Stop to the results
  and the outcome shown. Target < 2 s.

Measured on a running event loop, as in a kernel. The browser adds the widget round trip
(about 10-30 ms on loopback), not measured here.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REGION, Result, people, say, wanted

from campaignkit import load_recipients
from campaignkit.composer import ComposerState

STAGES = ("composer-keystroke", "composer-totals", "composer-provider", "composer-stop")
ROWS = 50_000
MESSAGE = "Hi {{ first_name }}, your appointment at {{ clinic }} is on {{ appt_date }}."
TYPED = " Reply STOP to opt out"
NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _state(rows: int, folder: str) -> ComposerState:
    frame = load_recipients(people(rows), default_region=REGION)
    state = ComposerState(frame, default_region=REGION, journal_dir=folder, clock=lambda: NOON)
    state.set_settings(replace(state.settings, quiet_hours=False))
    state.set_secret("sociocs.api_key", "bench:key")
    state.set_secret("sociocs.channel_key", "twlo_16175550000")
    return state


async def _typing(state: ComposerState) -> tuple[list[float], list[float]]:
    """Per key: seconds to the row's preview, and to the totals of every row."""
    state.set_text(MESSAGE)
    await state.settled()
    preview: list[float] = []
    totals: list[float] = []
    for n in range(1, len(TYPED) + 1):
        start = time.perf_counter()
        state.set_text(MESSAGE + TYPED[:n])
        preview.append(time.perf_counter() - start)
        assert state.view is not None and state.view.text is not None
        await state.settled()
        totals.append(time.perf_counter() - start)
        await asyncio.sleep(max(0.0, 0.4 - (time.perf_counter() - start)))
    return preview, totals


async def _switch(state: ComposerState) -> list[float]:
    out = []
    for choice in ("textus:sms", "bird", "sociocs:twlowa", "sociocs:twlo") * 2:
        start = time.perf_counter()
        state.set_provider(choice)
        out.append(time.perf_counter() - start)
        assert state.view is not None
        await state.settled()
    return out


async def _stop(state: ComposerState) -> float:
    state.set_text(MESSAGE + TYPED)
    state.set_rate(5_000)
    state.set_campaign(f"stop-{time.monotonic_ns()}")
    await state.settled()
    state.dry_run()
    deadline = time.monotonic() + 300
    while state.progress.done < 1_000:
        if not state.running or time.monotonic() > deadline:
            raise RuntimeError(f"the dry run did not start: {state.errors.get('send')}")
        await asyncio.sleep(0.005)
    start = time.perf_counter()
    state.stop()
    assert state.task is not None
    await state.task
    assert state.outcome is not None and state.results is not None
    return time.perf_counter() - start


def run(quick: bool) -> list[Result]:
    """The Composer's lines at 50,000 rows (``--quick``: 10,000)."""
    rows = 10_000 if quick else ROWS
    size = f"{rows // 1000}k"
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as folder:
        say(f"composer: building a {size}-row state")
        state = _state(rows, folder)

        async def main() -> None:
            if wanted("composer-keystroke") or wanted("composer-totals"):
                preview, totals = await _typing(state)
                say(f"  keystroke: {[round(p * 1000) for p in preview]} ms")
                results.append(Result.limit(
                    f"composer keystroke → row preview ({size})", "state.set_text",
                    statistics.median(preview) * 1000, 150, "ms",
                    note=f"median of {len(preview)} keys; slowest "
                         f"{max(preview) * 1000:.0f} ms"))
                results.append(Result.limit(
                    f"composer keystroke → totals ({size})", "render + plan, debounced",
                    statistics.median(totals) * 1000, None, "ms",
                    note="off the keystroke path: the panel says updating… meanwhile"))
            if wanted("composer-provider"):
                switches = await _switch(state)
                results.append(Result.limit(
                    f"composer switch provider ({size})", "state.set_provider",
                    statistics.median(switches) * 1000, 500, "ms",
                    note=f"median of {len(switches)}; slowest {max(switches) * 1000:.0f} ms"))
            if wanted("composer-stop"):
                seconds = await _stop(state)
                results.append(Result.limit(
                    f"composer Stop → results ({size} dry run)", "state.stop", seconds * 1000,
                    2000, "ms", note="stopped after 1,000 rows; results frame and outcome "
                                     "built"))

        asyncio.run(main())
        state.close()
    return results


if __name__ == "__main__":
    from _common import format_table

    print(format_table(run("--quick" in sys.argv)))
