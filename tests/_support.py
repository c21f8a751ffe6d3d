"""Test doubles shared by the sending tests: a clock that moves only when slept on, and a
transport that counts what the sandbox was asked (the transport is the seam: nothing is
monkey-patched)."""

from __future__ import annotations

import asyncio

import httpx

from campaignkit._pacer import Pacer


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


def fast() -> Pacer:
    """A pacer at 1,000/s on a fake clock: exact schedules, no real waiting."""
    clock = FakeClock()
    return Pacer(1000.0, clock=clock, sleep=clock.sleep)
