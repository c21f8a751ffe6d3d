"""Test doubles shared by the sending tests: a clock that moves only when slept on, and a
transport that counts what the sandbox was asked (the transport is the seam: nothing is
monkey-patched)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx

from campaignkit import Pacing
from campaignkit._pacer import Pacer

#: a weekday noon in UTC: inside quiet hours in Europe and the US east coast
NOON = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
CAMPAIGNKIT = str(Path(sys.executable).parent / "campaignkit")


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the installed ``campaignkit`` command (the test's own ledger in its environment)."""
    environment = {**os.environ, "PYTHONUTF8": "1", **(env or {})}
    return subprocess.run([CAMPAIGNKIT, *args], cwd=cwd, env=environment, text=True,
                          capture_output=True, timeout=timeout, check=False)


class Counting(httpx.AsyncBaseTransport):
    """Delegates to the sandbox and counts what it was asked (POST = send, GET = lookup)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.methods: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.methods.append(request.method)
        return await self.inner.handle_async_request(request)


class FakeClock:
    """Monotonic time that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)


def fast_pacer(rate: float = 1000.0) -> Pacer:
    """A pacer at 1,000/s on a fake clock (for refresh and replies, which take a Pacer)."""
    clock = FakeClock()
    return Pacer(rate, clock=clock, sleep=clock.sleep)


def fast(rate: float = 1000.0, concurrency: int | None = None) -> Pacing:
    """Pacing at 1,000/s on a fake clock: exact schedules, no real waiting."""
    clock = FakeClock()
    return Pacing(rate, concurrency, clock=clock, sleep=clock.sleep)
