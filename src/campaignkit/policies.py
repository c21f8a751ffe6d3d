"""The campaign's choices about pace and retries, as small value objects for `send`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import httpx

from ._errors import SendError
from ._pacer import Clock, Sleep
from .channels._base import Channel

__all__ = ["DEFAULT_TIMEOUT", "Pacing", "Retry"]

#: httpx timeouts per request: 10 s to connect, write and pool, 30 s for an answer
DEFAULT_TIMEOUT = httpx.Timeout(10.0, read=30.0)


@dataclass(frozen=True)
class Pacing:
    """How fast a campaign goes: messages per second and requests in flight.

    None takes the channel's default, chosen under the provider's documented limit
    (e.g. 3/s for TextUs, whose limit is 1,000 requests per 5 minutes). ``clock`` and
    ``sleep`` replace real time in tests. A dry run never waits: it runs as fast as the
    sandbox answers and says how long the live run would take at this rate.

    >>> Pacing(rate=5)
    Pacing(rate=5)
    """

    rate: float | None = None
    concurrency: int | None = None
    clock: Clock | None = None
    sleep: Sleep | None = None

    def __post_init__(self) -> None:
        rate, concurrency = self.rate, self.concurrency
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float))
                                 or not (math.isfinite(rate) and rate > 0)):
            raise SendError(f"rate={rate!r} is not a rate: give messages per second as a "
                            "number above 0, e.g. Pacing(rate=5)")
        if concurrency is not None and (isinstance(concurrency, bool)
                                        or not isinstance(concurrency, int) or concurrency < 1):
            raise SendError(f"concurrency={concurrency!r} is not a number of requests: give a "
                            "whole number of 1 or more, e.g. Pacing(concurrency=4)")

    def __repr__(self) -> str:
        parts = [f"{name}={value!r}" for name, value in
                 (("rate", self.rate), ("concurrency", self.concurrency)) if value is not None]
        return f"Pacing({', '.join(parts)})"

    def rate_for(self, channel: Channel) -> float:
        """Messages per second for ``channel``."""
        return float(self.rate) if self.rate is not None else channel.default_rate

    def concurrency_for(self, channel: Channel) -> int:
        """Requests in flight at most for ``channel``."""
        return self.concurrency if self.concurrency is not None else channel.default_concurrency


@dataclass(frozen=True)
class Retry:
    """What is tried again, how often, and how long to wait for a provider.

    Parameters
    ----------
    attempts
        Attempts per row for failures that were certainly not processed.
    retry_after_cap
        A ``Retry-After`` longer than this pauses the campaign (`CampaignPaused`).
    timeout
        httpx timeouts per request.
    absent_after
        Seconds after an attempt before a lookup that cannot find the message counts as
        proof it was never accepted (a provider's list can lag behind what it accepted);
        until then the row stays ``unknown`` and the next run looks again.

    >>> Retry()
    Retry(attempts=5, retry_after_cap=300, absent_after=600)
    """

    attempts: int = 5
    retry_after_cap: float = 300.0
    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TIMEOUT)
    absent_after: float = 600.0

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int) or (
                self.attempts < 1):
            raise SendError(f"attempts={self.attempts!r}: give a whole number of 1 or more")
        for name in ("retry_after_cap", "absent_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    math.isfinite(value) and value >= 0):
                raise SendError(f"{name}={value!r}: give seconds as a number, 0 or more")

    def __repr__(self) -> str:
        return (f"Retry(attempts={self.attempts}, retry_after_cap={self.retry_after_cap:g}, "
                f"absent_after={self.absent_after:g})")
