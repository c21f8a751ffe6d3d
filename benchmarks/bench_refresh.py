"""refresh paces itself within a read limit: 2,000 rows against the served sandbox at 100/s.

``refresh-pace``: 2,000 Bird rows are sent live to the sandbox on loopback (with a story),
virtual time moves an hour, then `refresh(rate=100)` reads each message once
(``GET .../messages/{id}``). Client-side request starts give the achieved rate and the most
starts in any sliding one-second window; the target is 0.9-1.01 of the limit with no window
over it.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pandas as pd
from _common import Result, say

STAGES = ("refresh",)
WS = "a1405560-c8d3-4b1a-877d-3f449ad95352"
CH = "16e1df9e-c6ac-406b-b1ce-13f34d0dea08"


def max_window(times: list[float], width: float = 1.0) -> int:
    """The most starts in any sliding window of ``width`` seconds."""
    best = lo = 0
    for hi, t in enumerate(times):
        while t - times[lo] >= width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


class Starts(httpx.AsyncBaseTransport):
    """A real HTTP transport that notes when each request leaves."""

    def __init__(self, connections: int) -> None:
        limits = httpx.Limits(max_connections=connections,
                              max_keepalive_connections=connections)
        self.inner = httpx.AsyncHTTPTransport(limits=limits)
        self.starts: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.starts.append(time.monotonic())
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def pace(rows: int, limit: float, work: Path) -> Result:
    import campaignkit as ck
    from campaignkit.sandbox import Sandbox, Story, serve

    frame = pd.DataFrame(
        {"to": [f"+3161{i:07d}" for i in range(rows)], "text": [f"Hi {i}" for i in range(rows)],
         "media": [()] * rows, "template": [None] * rows, "problems": [()] * rows},
        index=pd.RangeIndex(2, 2 + rows, name="row"))
    box = Sandbox(seed=1, story=Story())
    with box, serve(box) as base_url, ck.Ledger(work / "ledger.db") as store:
        channel = ck.Bird(WS, CH, "bench-key", base_url=base_url)
        results = ck.send(frame, channel, campaign="bench-refresh", live=True,
                          pacing=ck.Pacing(2000.0, 32), ledger=work / "ledger.db",
                          progress=False, guardrails=ck.Guardrails(quiet_hours=None))
        box.advance(3600)
        transport = Starts(connections=16)
        began = time.monotonic()
        out = ck.refresh(results, channel, store=store, rate=limit, concurrency=16,
                         transport=transport, progress=False,
                         now=lambda: datetime.fromtimestamp(box.now(), UTC))
        elapsed = time.monotonic() - began
    starts = sorted(transport.starts)
    achieved = (len(starts) - 1) / (starts[-1] - starts[0])
    window = max_window(starts)
    ratio = achieved / limit
    final = Counter(out["delivery"])
    passed = (len(starts) == rows and 0.9 <= ratio <= 1.01 and window <= limit
              and sum(final.values()) == rows)
    return Result(
        f"refresh-pace {limit:g}/s ({rows:,} rows)", f"limit {limit:g}/s",
        f"refresh(rate={limit:g})", (rows - 1) / limit, elapsed, ratio, "0.9–1.01×, max 1-s ≤ "
        f"{limit:g}", passed,
        f"{len(starts)} reads, {achieved:.2f}/s; max 1-s window {window}; outcomes "
        f"{dict(sorted(final.items()))}",
    )


def run(quick: bool) -> list[Result]:
    rows = 500 if quick else 2000
    with tempfile.TemporaryDirectory() as tmp:
        say(f"refresh-pace: {rows} rows at 100/s ...")
        return [pace(rows, 100.0, Path(tmp))]


if __name__ == "__main__":
    for result in run(quick=False):
        print(result)
