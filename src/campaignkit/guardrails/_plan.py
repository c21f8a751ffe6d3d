"""The send plan: what `send` will do with a frame, counted before anything is sent."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from .._errors import LimitExceeded
from ..channels._base import Channel
from ._budget import Budget, _money
from ._cap import FrequencyCap
from ._core import Guardrails, HistorySource
from ._quiet import QuietHours, check_now
from ._suppression import Suppression

__all__ = ["PLAN_STATUSES", "SendPlan", "plan", "provider_validity"]

#: a plan row's ``plan``: sent now, held by a guardrail, skipped for problems, or left
#: ``waiting`` after ``limit`` (the same word `send` uses)
PLAN_STATUSES = ("send", "suppressed", "deferred", "capped", "skipped", "waiting")


def provider_validity(channel: Channel) -> tuple[int, str] | None:
    """Seconds a provider keeps a queued message before it expires, and whose rule it is.

    Bird: the channel's ``validity``, else 129,600 s for promotional, conversational and
    transactional channels (providers.md §3.2). Sociocs over Twilio (``twlo``, ``twlowa``):
    Twilio's ``ValidityPeriod`` default of 36,000 s (providers.md §5). Others: unknown.
    """
    if channel.provider == "bird":
        validity = getattr(channel, "validity", None)
        return (int(validity), "Bird's validity") if validity else (129_600, "Bird's validity")
    if channel.provider == "sociocs" and getattr(channel, "sociocs_provider", "") in (
        "twlo", "twlowa",
    ):
        return 36_000, "Twilio's default validity period"
    return None


def describe_duration(seconds: float) -> str:
    """``12 s``, ``4 min``, ``2 h 5 min``: a duration rounded up, the way a person says it."""
    whole = math.ceil(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes = math.ceil(whole / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class SendPlan:
    """What `send` will do: counts, segments, cost, time to finish and warnings.

    ``frame`` has one row per input row (same index): ``to``, ``plan`` (see
    `PLAN_STATUSES`), ``reason``, ``sendable_at`` (UTC, deferred and capped rows) and
    ``segments``. ``refused`` holds the `LimitExceeded` message when the budget refuses
    the campaign (then `send` sends nothing).
    """

    frame: pd.DataFrame
    counts: dict[str, int]
    recipients: int
    segments: int
    cost: Decimal | None
    currency: str
    rate: float
    seconds: float
    now: datetime
    limit: int | None = None
    quiet_hours: QuietHours | None = None
    warnings: tuple[str, ...] = ()
    refused: str | None = None
    deferred_until: str | None = field(default=None)

    @property
    def messages(self) -> int:
        """Messages sent now."""
        return self.counts["send"]

    def _held(self) -> list[str]:
        parts: list[str] = []
        c = self.counts
        if c["suppressed"]:
            parts.append(f"{c['suppressed']:,} suppressed")
        if c["deferred"]:
            until = f" until {self.deferred_until}" if self.deferred_until else ""
            parts.append(f"{c['deferred']:,} deferred{until}")
        if c["capped"]:
            parts.append(f"{c['capped']:,} capped")
        if c["skipped"]:
            parts.append(f"{c['skipped']:,} skipped (problems)")
        if c["waiting"]:
            parts.append(f"{c['waiting']:,} waiting (limit={self.limit:,})")
        return parts

    def confirmation_text(self) -> str:
        """The sentence a user confirms before a send, with every warning after it."""
        held = self._held()
        if self.refused is not None:
            head = f"Refused: {self.refused}"
        elif self.messages == 0:
            head = "Nothing to send"
        else:
            money = (f", about {_money(self.cost, self.currency)}"
                     if self.cost is not None else "")
            head = (f"Send {_plural(self.messages, 'message')} "
                    f"({_plural(self.segments, 'segment')}{money}) to "
                    f"{_plural(self.recipients, 'recipient')}")
        text = head + "".join(f"; {p}" for p in (", ".join(held),) if p)
        if self.refused is None and self.messages:
            text += f"; finishes in about {describe_duration(self.seconds)} at {self.rate:g}/s"
        return text + "".join(f"\nWarning: {w}" for w in self.warnings)

    def __repr__(self) -> str:
        counts = ", ".join(f"{s} {self.counts[s]}" for s in PLAN_STATUSES)
        money = f", about {_money(self.cost, self.currency)}" if self.cost is not None else ""
        tail = ", REFUSED" if self.refused else ""
        warn = f", {_plural(len(self.warnings), 'warning')}" if self.warnings else ""
        return (f"<SendPlan {counts}: {_plural(self.segments, 'segment')}{money}, about "
                f"{describe_duration(self.seconds)} at {self.rate:g}/s{warn}{tail}>")

    def _repr_html_(self) -> str:
        e = html.escape
        rows = "".join(f"<tr><th>{e(s)}</th><td>{self.counts[s]:,}</td></tr>"
                       for s in PLAN_STATUSES)
        notes = "".join(f"<li>{e(w)}</li>" for w in self.warnings)
        refused = f"<p><strong>Refused:</strong> {e(self.refused)}</p>" if self.refused else ""
        return (f"<div><p>{e(self.confirmation_text().splitlines()[0])}</p>{refused}"
                f"<table>{rows}</table>{f'<ul>{notes}</ul>' if notes else ''}</div>")


def plan(
    frame: pd.DataFrame,
    channel: Channel,
    *,
    rate: float,
    limit: int | None = None,
    suppression: Suppression | None = None,
    quiet_hours: QuietHours | None = None,
    budget: Budget | None = None,
    frequency_cap: FrequencyCap | None = None,
    journal: HistorySource | Sequence[HistorySource] | None = None,
    now: datetime | None = None,
    throughput: float | None = None,
) -> SendPlan:
    """Count what `send` would do with ``frame`` through ``channel`` at ``rate``, now.

    Parameters
    ----------
    frame, channel, rate, limit
        As for `send` (rate in messages per second; ``limit`` the most new rows to send).
    suppression, quiet_hours, budget, frequency_cap
        The guardrails (see `Guardrails`); the budget's price gives the cost.
    journal
        Where the frequency cap reads earlier live sends (a `Journal`, path, results frame,
        or a list of them).
    now
        The instant to plan for (aware; default the real clock).
    throughput
        Segments per second the sender delivers (e.g. 1 for a US long code,
        reliability.md §1.6), when slower than ``rate``: the queue drains at that pace.

    Returns
    -------
    SendPlan
        Counts per `PLAN_STATUSES`, segments, cost, time to finish and warnings.

    Examples
    --------
    >>> p = plan(rendered, channel, rate=5, quiet_hours=QuietHours())  # doctest: +SKIP
    >>> print(p.confirmation_text())  # doctest: +SKIP
    Send 57 messages (71 segments, about $0.56) to 57 recipients; 3 suppressed, ...
    """
    guard = Guardrails(suppression=suppression, quiet_hours=quiet_hours, budget=budget,
                       frequency_cap=frequency_cap)
    return guard_plan(guard, frame, channel, rate=rate, limit=limit, journal=journal, now=now,
                      throughput=throughput)


def guard_plan(
    guard: Guardrails,
    frame: pd.DataFrame,
    channel: Channel,
    *,
    rate: float,
    limit: int | None = None,
    journal: HistorySource | Sequence[HistorySource] | None = None,
    now: datetime | None = None,
    throughput: float | None = None,
) -> SendPlan:
    """`plan` for a `Guardrails` object (what the composer and `send` hold)."""
    if not rate > 0:
        raise ValueError(f"rate must be > 0 messages per second, got {rate!r}")
    if throughput is not None and not throughput > 0:
        raise ValueError(f"throughput must be > 0 segments per second, got {throughput!r}")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit!r}")
    now = check_now(now)
    verdict = guard.apply(frame, channel=channel, journal=journal, now=now)
    n = len(frame)
    labels = list(frame.index)
    own = frame["problems"].tolist() if "problems" in frame.columns else [()] * n
    skipped = np.array([bool(p) or labels[i] in verdict.problems for i, p in enumerate(own)])
    status = verdict.status.to_numpy(dtype=object).copy()
    sendable = verdict.sendable.to_numpy(dtype=bool).copy()
    positions = np.flatnonzero(sendable)
    waiting = positions[limit:] if limit is not None else positions[:0]
    sending = positions[:limit] if limit is not None else positions
    plan_col = np.full(n, "send", dtype=object)
    plan_col[skipped] = "skipped"
    guarded = pd.notna(status)
    plan_col[guarded] = status[guarded]
    plan_col[waiting] = "waiting"

    reasons: list[str | None] = verdict.error.tolist()
    for i in np.flatnonzero(skipped).tolist():
        found = tuple(own[i]) + verdict.problems.get(labels[i], ())
        reasons[i] = "; ".join(str(p) for p in found)
    for i in waiting.tolist():
        reasons[i] = f"waiting: beyond limit={limit:,}; the next run sends it"

    to = [v if isinstance(v, str) else "" for v in
          (frame["to"].tolist() if "to" in frame.columns else [""] * n)]
    segments = (np.asarray(frame["segments"].tolist(), dtype=np.int64)
                if "segments" in frame.columns else np.zeros(n, dtype=np.int64))
    mask = np.zeros(n, dtype=bool)
    mask[sending] = True
    refused: str | None = None
    try:
        guard.check_budget(frame, mask)
    except LimitExceeded as exc:
        refused = str(exc)
    sent_numbers = [to[i] for i in sending.tolist()]
    sent_segments = segments[sending]
    cost: Decimal | None = None
    budget = guard.budget
    if budget is not None and budget.priced:
        cost, _unpriced = budget.cost(sent_numbers, sent_segments.tolist())

    # When each row leaves: request i at i/rate, or later when the sender delivers slower.
    offsets = np.arange(len(sending), dtype=float) / rate
    if throughput is not None:
        before = np.concatenate(([0], np.cumsum(sent_segments)[:-1])) if len(sending) else offsets
        offsets = np.maximum(offsets, before / throughput)
    seconds = float(len(sending) / rate)
    if throughput is not None:
        seconds = max(seconds, float(sent_segments.sum()) / throughput)

    warnings: list[str] = []
    if guard.quiet_hours is not None and len(sending):
        closes = verdict.closes_at.iloc[sending]
        leaves = [now + timedelta(seconds=float(o)) for o in offsets]
        late = [k for k, (t, c) in enumerate(zip(leaves, closes.tolist(), strict=True))
                if pd.notna(c) and t >= c]
        if late:
            first = int(sending[late[0]])
            end = closes.iloc[late[0]]
            fits = late[0]
            warnings.append(
                f"the queue takes about {describe_duration(seconds)} at {rate:g}/s and would "
                f"send {_plural(len(late), 'message')} after {guard.quiet_hours.label} ends "
                f"(first: row {labels[first]}, window ends {end:%Y-%m-%d %H:%M} UTC): send "
                f"fewer rows (limit={fits:,}) or raise the rate"
            )
    validity = provider_validity(channel)
    if validity is not None and len(sending) and seconds > validity[0]:
        warnings.append(
            f"the queue takes about {describe_duration(seconds)}, longer than "
            f"{validity[1]} of {describe_duration(validity[0])} ({validity[0]:,} s): messages "
            "still queued then expire unsent; send fewer rows (limit=) or raise the rate"
        )
    deferred_until = None
    if guard.quiet_hours is not None:
        deferred_until = f"{guard.quiet_hours.start:%H:%M} local"

    table = pd.DataFrame(
        {
            "to": pd.Series(to, index=frame.index, dtype="str"),
            "plan": pd.Series(plan_col, index=frame.index, dtype="str"),
            "reason": pd.Series(reasons, index=frame.index, dtype="str"),
            "sendable_at": verdict.sendable_at.where(pd.Series(guarded, index=frame.index)),
            "segments": pd.Series(segments, index=frame.index, dtype="int64"),
        },
        index=frame.index,
    )
    counts = {s: int((plan_col == s).sum()) for s in PLAN_STATUSES}
    return SendPlan(
        frame=table,
        counts=counts,
        recipients=len({t for t in sent_numbers if t}),
        segments=int(sent_segments.sum()),
        cost=cost,
        currency=budget.currency if budget is not None else "$",
        rate=float(rate),
        seconds=seconds,
        now=now,
        limit=limit,
        quiet_hours=guard.quiet_hours,
        warnings=tuple(warnings),
        refused=refused,
        deferred_until=deferred_until,
    )
