"""The throttle: a pacer that gives every request a start time fixed in advance.

Why not a library limiter: ``aiolimiter.AsyncLimiter(rate, 1)`` admits ``rate`` requests at
once (2x the target in the first second) and ``AsyncLimiter(1, 1/rate)`` under-delivers by
5-24 % (docs/performance.md#throttle-precision); ``asynciolimiter.Limiter`` schedules like
this pacer but has no way to pause every request to a channel until a ``Retry-After`` has
passed, nor an injectable clock. Slot *i* starts at ``t0 + i/rate`` on a monotonic clock,
which held 1.000 of target at 50, 500 and 2,000/s with no first-second burst
(docs/performance.md#how-the-pacer-holds-the-rate-within-1-percent).

>>> Pacer(rate=50.0)
Pacer(rate=50.0)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = ["CATCH_UP", "TOLERANCE", "Clock", "Pacer", "Sleep", "VirtualClock"]

#: no two requests start closer than 1 / (CATCH_UP * rate): after a stall the pacer catches
#: up at 1 % above the rate, so timing jitter still leaves every 1-s window within 2 %
CATCH_UP = 1.01
#: seconds of timing noise a release may take from the next one (a GCRA tolerance): without it
#: each late wake-up delays every later caller and the rate sags; with it, any 1-s window
#: holds at most 1 + CATCH_UP * rate * (1 + TOLERANCE) starts (51, 203 and 507 at 50, 200
#: and 500/s)
TOLERANCE = 0.002

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class VirtualClock:
    """Time that moves only when someone sleeps: a dry run's schedule without the waiting.

    >>> clock = VirtualClock()
    >>> clock()
    0.0
    """

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        """Move time forward by ``seconds`` and let other tasks run."""
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)


class Pacer:
    """Hold a rate (requests per second) on an absolute schedule, with a shared pause.

    Parameters
    ----------
    rate:
        Requests per second, > 0.
    clock:
        Monotonic seconds; injected by tests to assert exact schedules.
    sleep:
        ``async`` sleep matching ``clock``; injected together with it.

    Notes
    -----
    At most one interval of catch-up: a caller that arrives after its slot takes the next
    free one at once, so a late wake-up does not lower the rate, but a stalled sender never
    bursts to recover. When
    the event loop itself stalls (a slow disk under the ledger's commits), every caller
    already holding a slot wakes late at once; a gate releases callers no closer together than
    ``1 / (CATCH_UP * rate)``, so no one-second window rises more than 2 % above the rate.
    `pause_for` (a ``429`` with ``Retry-After``) holds *every* later slot until the pause ends,
    including callers already sleeping towards an earlier slot.
    """

    __slots__ = ("_clock", "_gate", "_interval", "_next", "_resume_at", "_sleep", "_tat",
                 "rate")

    def __init__(
        self, rate: float, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0 messages per second, got {rate!r}")
        self.rate = float(rate)
        self._interval = 1.0 / self.rate
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None
        self._gate = float("-inf")  # the earliest time the next caller may leave
        self._tat = float("-inf")  # the earliest time the next caller may actually leave
        self._resume_at = float("-inf")

    def __repr__(self) -> str:
        return f"Pacer(rate={self.rate!r})"

    def now(self) -> float:
        """The pacer's clock (monotonic seconds)."""
        return self._clock()

    @property
    def resume_at(self) -> float:
        """Clock time before which no slot starts (``-inf`` when not paused)."""
        return self._resume_at

    def pause_for(self, seconds: float) -> None:
        """Start no request before ``seconds`` from now (a provider's ``Retry-After``)."""
        self._resume_at = max(self._resume_at, self._clock() + max(0.0, seconds))

    def _reserve(self) -> float:
        now = self._clock()
        start = now if self._next is None else max(self._next, now - self._interval)
        start = max(start, self._resume_at)
        self._next = start + self._interval
        return start

    async def acquire(self) -> float:
        """Wait for this caller's slot; return its start time on the pacer's clock."""
        while True:
            start = self._reserve()  # no await between reading and moving the schedule
            delay = start - self._clock()
            if delay > 0:
                await self._sleep(delay)
            now = self._clock()
            if now >= self._resume_at:
                # Callers that woke late together leave through a gate, one per
                # interval / CATCH_UP. No await before the gate moves. A gate sleeper can
                # itself wake late, together with others (a stalled loop), so the actual
                # releases are checked too (GCRA: at most one gap after the last actual one,
                # less TOLERANCE), else the caller waits for that time.
                gap = self._interval / CATCH_UP
                release = max(now, self._gate, self._tat - TOLERANCE)
                self._gate = release + gap
                while True:
                    if release > now:
                        await self._sleep(release - now)
                        now = self._clock()
                    earliest = self._tat - TOLERANCE
                    if now >= earliest:
                        break
                    release = earliest  # another caller left under a gap ago
                self._tat = max(self._tat, now) + gap
                return start
            # A pause began while this caller slept: take a new slot after it.
