"""Frequency cap: at most K messages per recipient per period, across campaigns.

The history is what the ledger holds of every campaign: live rows ``sent``, ``pending`` or
``unknown`` (a message that may have left counts: the cap errs on the side of the
recipient). Dry runs never count; they never write the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["FrequencyCap", "describe_period"]



def describe_period(period: timedelta) -> str:
    """``7 days``, ``24 h``, ``90 min``: a period the way a person says it."""
    seconds = int(period.total_seconds())
    if seconds % 86400 == 0 and seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    if seconds == 86400:
        return "1 day"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


@dataclass(frozen=True, slots=True)
class FrequencyCap:
    """At most ``max_messages`` to one number per ``period``, counted across campaigns.

    A row over the cap gets status ``capped`` (not ``deferred``: the campaign does not
    wait for it) with ``sendable_at`` the moment a slot frees; running the campaign again
    after that sends it. Rows of the same number in one frame count in frame order.

    Examples
    --------
    >>> FrequencyCap(max_messages=2, period=timedelta(days=7))
    FrequencyCap(2 per 7 days)
    """

    max_messages: int
    period: timedelta

    def __post_init__(self) -> None:
        if isinstance(self.max_messages, bool) or not isinstance(self.max_messages, int) or (
            self.max_messages < 1
        ):
            raise ValueError(f"max_messages={self.max_messages!r} must be a whole number >= 1")
        if not isinstance(self.period, timedelta) or self.period <= timedelta(0):
            raise ValueError(f"period={self.period!r} must be a positive timedelta, e.g. "
                             "timedelta(days=7)")

    def __repr__(self) -> str:
        return f"FrequencyCap({self.max_messages} per {describe_period(self.period)})"

    def apply(
        self, numbers: Sequence[str], eligible: Sequence[bool],
        history: Mapping[str, Sequence[datetime]], now: datetime,
    ) -> dict[int, tuple[datetime, str]]:
        """Positions over the cap: ``{position: (sendable_at, error)}``.

        ``numbers`` are the rows' E.164 numbers, ``eligible`` the rows that would otherwise
        be sent, ``history`` the live sends per number (`campaignkit.ledger.History`).
        """
        since = now - self.period
        times = {n: sorted(t for t in ts if t > since) for n, ts in history.items()}
        out: dict[int, tuple[datetime, str]] = {}
        limit = self.max_messages
        for position, (number, ok) in enumerate(zip(numbers, eligible, strict=True)):
            if not ok or not number:
                continue
            sent = times.setdefault(number, [])
            if len(sent) < limit:
                sent.append(now)  # this run's message counts for the next row of the number
                continue
            frees = sent[len(sent) - limit] + self.period
            earlier = len(sent) - sent.count(now)
            out[position] = (frees, (
                f"frequency cap: {earlier} message{'s' if earlier != 1 else ''} to this number "
                f"in the last {describe_period(self.period)}"
                + (f" and {len(sent) - earlier} earlier in this campaign" if len(sent) > earlier
                   else "")
                + f" (max_messages={limit} per {describe_period(self.period)}); a slot frees at "
                f"{frees:%Y-%m-%d %H:%M} UTC: run the campaign again then"
            ))
        return out
