"""The send plan: what `send` will do with a frame, counted before anything is sent.

A plan is `decide` put into words: the same function `send` calls, so the plan's counts are
what `send` then does. Its sentence is what a user confirms before a live send (the command
line and the Composer show it): how many messages, segments and money, to which host, and
what the guardrails held back.
"""

from __future__ import annotations

import html
import os
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._columns import codes
from ._errors import EXAMPLES, SendError, require
from ._memory import system_pool
from .channels._base import Channel
from .decisions import FATES, Decisions, decide, describe_duration, provider_validity
from .guardrails import Guardrails, QuietHours
from .guardrails._budget import _money
from .guardrails._quiet import check_now
from .ledger import History, Ledger, locate_ledger, sandbox_ledger_path

__all__ = ["PLAN_STATUSES", "SendPlan", "describe_duration", "plan", "provider_validity"]

#: a plan row's ``plan``: the fates of `campaignkit.decide`
PLAN_STATUSES = FATES

_HELD = (
    ("already-sent", "already sent"), ("lookup", "in doubt, looked up first"),
    ("unknown", "in doubt (unknown)"), ("failed", "refused before"),
    ("suppressed", "suppressed"), ("capped", "capped"), ("deferred", "deferred"),
    ("skipped", "skipped (problems)"), ("duplicate", "duplicate"),
    ("waiting", "waiting"), ("over-budget", "over budget"),
)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class SendPlan:
    """What `send` will do: counts per fate, segments, cost, host, time and warnings.

    ``frame`` has one row per input row (same index): ``to``, ``plan`` (the fate, see
    `PLAN_STATUSES`), ``reason``, ``sendable_at`` (UTC, deferred and capped rows) and
    ``segments``. ``refused`` holds the refusal (a budget, a changed campaign) when `send`
    would send nothing. ``decisions`` is what `decide` returned.
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
    host: str | None = None
    limit: int | None = None
    quiet_hours: QuietHours | None = None
    warnings: tuple[str, ...] = ()
    refused: str | None = None
    deferred_until: str | None = None
    decisions: Decisions | None = None

    @property
    def messages(self) -> int:
        """Messages sent now."""
        return self.counts["send"]

    def _held(self) -> list[str]:
        parts: list[str] = []
        for fate, words in _HELD:
            n = self.counts.get(fate, 0)
            if not n:
                continue
            if fate == "deferred" and self.deferred_until:
                words = f"deferred until {self.deferred_until}"
            if fate == "waiting" and self.limit is not None:
                words = f"waiting (limit={self.limit:,})"
            if fate == "duplicate" and n != 1:
                words = "duplicates"
            parts.append(f"{n:,} {words}")
        return parts

    def confirmation_text(self) -> str:
        """The sentence a user confirms before a send, with every warning after it.

        It counts what is still to send: rows an earlier run sent are "already sent", and a
        campaign fully sent says so.
        """
        held = self._held()
        if self.refused is not None:
            head = f"Refused: {self.refused}"
        elif self.messages == 0:
            everything = self.counts.get("already-sent", 0)
            head = ("Nothing to send: every message of this campaign was already sent"
                    if everything and everything == sum(self.counts.values()) - self.counts.get(
                        "skipped", 0) - self.counts.get("duplicate", 0)
                    else "Nothing to send")
        else:
            money = (f", about {_money(self.cost, self.currency)}"
                     if self.cost is not None else "")
            via = f" via {self.host}" if self.host else ""
            head = (f"Send {_plural(self.messages, 'message')} "
                    f"({_plural(self.segments, 'segment')}{money}) to "
                    f"{_plural(self.recipients, 'recipient')}{via}")
        text = head + "".join(f"; {p}" for p in (", ".join(held),) if p)
        if self.refused is None and self.messages:
            text += f"; finishes in about {describe_duration(self.seconds)} at {self.rate:g}/s"
        return text + "".join(f"\nWarning: {w}" for w in self.warnings)

    def __repr__(self) -> str:
        counts = ", ".join(f"{s} {self.counts[s]}" for s in PLAN_STATUSES if self.counts[s])
        money = f", about {_money(self.cost, self.currency)}" if self.cost is not None else ""
        tail = ", REFUSED" if self.refused else ""
        warn = f", {_plural(len(self.warnings), 'warning')}" if self.warnings else ""
        return (f"<SendPlan {counts or 'no rows'}: {_plural(self.segments, 'segment')}{money}, "
                f"about {describe_duration(self.seconds)} at {self.rate:g}/s{warn}{tail}>")

    def _repr_html_(self) -> str:
        e = html.escape
        rows = "".join(f"<tr><th>{e(s)}</th><td>{self.counts[s]:,}</td></tr>"
                       for s in PLAN_STATUSES if self.counts[s])
        notes = "".join(f"<li>{e(w)}</li>" for w in self.warnings)
        refused = f"<p><strong>Refused:</strong> {e(self.refused)}</p>" if self.refused else ""
        return (f"<div><p>{e(self.confirmation_text().splitlines()[0])}</p>{refused}"
                f"<table>{rows}</table>{f'<ul>{notes}</ul>' if notes else ''}</div>")

    @classmethod
    def of(cls, frame: pd.DataFrame, decisions: Decisions, channel: Channel | None, *,
           limit: int | None = None, throughput: float | None = None) -> SendPlan:
        """Put ``decisions`` (about ``frame``) into a plan's words."""
        table = decisions.table
        counts = decisions.counts
        fates, sending = _fates(decisions)
        to = _numbers(frame)
        recipients = _distinct(to, sending)  # before the frame: its buffers never beside it
        segments = table["segments"].to_numpy(dtype=np.int64)
        chosen = segments[sending]
        guard = decisions.guardrails
        budget = guard.budget
        cost: Decimal | None = None
        if budget is not None and budget.priced:
            costs = table["cost"].to_numpy(dtype=object)[sending].tolist()
            cost = sum([c for c in costs if c is not None], Decimal(0))
        seconds = decisions.seconds
        warnings = list(decisions.warnings)
        if throughput is not None:
            if not throughput > 0:
                raise ValueError(f"throughput must be > 0 segments per second, got "
                                 f"{throughput!r}")
            drained = float(chosen.sum()) / throughput
            if drained > seconds:
                seconds = drained
                warnings.append(
                    f"the sender delivers {throughput:g} segments per second: the queue of "
                    f"{_plural(int(chosen.sum()), 'segment')} takes about "
                    f"{describe_duration(drained)} to reach every phone")
        plan_frame = pd.DataFrame(
            {
                "to": to,
                "plan": fates,
                "reason": _as_str(table["reason"]),
                "sendable_at": table["sendable_at"],
                "segments": table["segments"].astype("int64"),
            },
            index=frame.index,
        )
        return cls(
            frame=plan_frame,
            counts=counts,
            recipients=recipients,
            segments=int(chosen.sum()),
            cost=cost,
            currency=budget.currency if budget is not None else "$",
            rate=decisions.rate,
            seconds=seconds,
            now=decisions.now,
            host=_host(channel.base_url) if channel is not None else None,
            limit=limit,
            quiet_hours=guard.quiet_hours,
            warnings=tuple(warnings),
            refused=None if decisions.refusal is None else str(decisions.refusal),
            deferred_until=(f"{guard.quiet_hours.start:%H:%M} local"
                            if guard.quiet_hours is not None else None),
            decisions=decisions,
        )


def _numbers(frame: pd.DataFrame) -> pd.Series:
    """Each row's number as text (str), "" where it is missing."""
    if "to" not in frame.columns:
        return pd.Series("", index=frame.index, dtype="str")
    column = frame["to"]
    if isinstance(column.dtype, pd.StringDtype):  # strings already: only the gaps to fill
        return column.fillna("").astype("str")
    return column.astype(object).where(column.notna(), "").astype("str")


def _distinct(to: pd.Series, rows: np.ndarray) -> int:
    """How many distinct numbers, "" aside, the rows ``rows`` (a mask) send to."""
    numbers = pa.array(to.array)
    numbers = numbers.filter(pa.array(rows & np.asarray(pc.not_equal(numbers, ""), dtype=bool)))
    return int(codes(numbers).max()) + 1 if len(numbers) else 0


def _fates(decisions: Decisions) -> tuple[pd.Series, np.ndarray]:
    """The table's fates as text (str), and where they are ``send``: from the fates' codes
    when `decide` gave them (one take, no string a row), else from the table."""
    table, codes = decisions.table, decisions._fate_codes
    if codes is None:
        fates = _as_str(table["fate"])
        return fates, np.asarray(fates == "send", dtype=bool)
    text = pa.array(FATES, pa.large_string()).take(pa.array(codes))
    return pd.Series(text, index=table.index, dtype="str"), codes == FATES.index("send")


def _as_str(column: pd.Series) -> pd.Series:
    """``column.astype("str")`` of an object column of strings and None (fates, reasons),
    converted to Arrow text in one pass (no hash of each string); other cells: pandas' way."""
    values = column.to_numpy(dtype=object)
    if not set(map(type, values)) <= {str, type(None)}:
        return column.astype("str")
    text = pa.array(values, pa.large_string(), from_pandas=True)  # None: missing
    return pd.Series(text, index=column.index, dtype="str")


def _host(base_url: str) -> str:
    """The host a send goes to, with its port when it is not the scheme's default."""
    url = httpx.URL(base_url)
    return f"{url.host}:{url.port}" if url.port else url.host


def read_history(channel: Channel | None, campaign: str | None,
                 ledger: Ledger | str | os.PathLike[str] | None, guardrails: Guardrails,
                 now: datetime) -> History:
    """What the ledger knows for a plan or a preview (nothing is created or written)."""
    if isinstance(ledger, Ledger):
        opened: Ledger | None = ledger
    else:
        path = locate_ledger(ledger)
        if channel is not None and channel.on_loopback:
            path = sandbox_ledger_path(path)
        opened = Ledger.existing(path)
    if opened is None:
        return History()
    try:
        cap = guardrails.frequency_cap
        return opened.history(campaign or "", since=None if cap is None else now - cap.period)
    finally:
        if not isinstance(ledger, Ledger):
            opened.close()


@system_pool
def plan(
    frame: pd.DataFrame,
    channel: Channel,
    *,
    campaign: str | None = None,
    ledger: Ledger | str | os.PathLike[str] | None = None,
    guardrails: Guardrails | None = None,
    rate: float | None = None,
    limit: int | None = None,
    key: str | None = None,
    resend: Collection[str] = (),
    now: datetime | None = None,
    throughput: float | None = None,
) -> SendPlan:
    """Count what `send` would do with ``frame`` through ``channel`` at ``rate``, now.

    Parameters
    ----------
    frame, channel, campaign, ledger, guardrails, limit, key, resend, now
        As for `send`. Without ``campaign`` the plan knows nothing of earlier runs of the
        campaign (already sent, budget spent) but still reads the ledger's suppression list
        and every campaign's sends for the frequency cap.
    rate
        Messages per second (default: the channel's).
    throughput
        Segments per second the sender delivers (e.g. 1 for a US long code), when slower
        than ``rate``: the queue drains at that pace.

    Returns
    -------
    SendPlan
        Counts per fate, segments, cost, host, time to finish and warnings.

    Examples
    --------
    >>> p = plan(rendered, channel, campaign="spring", rate=5)  # doctest: +SKIP
    >>> print(p.confirmation_text())  # doctest: +SKIP
    Send 47 messages (47 segments, about $0.37) to 47 recipients via api.sociocs.com; ...
    """
    require("frame", frame, pd.DataFrame, EXAMPLES["frame"], SendError)
    require("channel", channel, Channel, EXAMPLES["channel"], SendError)
    require("guardrails", guardrails, Guardrails, EXAMPLES["guardrails"], SendError,
            optional=True)
    guard = Guardrails() if guardrails is None else guardrails
    moment = check_now(now)
    history = read_history(channel, campaign, ledger, guard, moment)
    decisions = decide(frame, channel, campaign=campaign or "", history=history,
                       guardrails=guard, key=key, limit=limit, resend=resend, rate=rate,
                       now=moment)
    return SendPlan.of(frame, decisions, channel, limit=limit, throughput=throughput)
