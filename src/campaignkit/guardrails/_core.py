"""`Guardrails`: the one function `send` and `plan` both call, so their counts agree."""

from __future__ import annotations

import os
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ..channels._base import Channel
from ..problems import Problem, add_problems
from ._budget import Budget
from ._cap import FrequencyCap, read_history
from ._quiet import QuietHours, Window, check_now
from ._suppression import Suppression

if TYPE_CHECKING:
    from ..journal import Journal
    from ._plan import SendPlan

__all__ = ["GUARD_STATUSES", "Guardrails", "HistorySource", "Verdict"]

#: the statuses guardrails give rows that are not sent now (0 requests each)
GUARD_STATUSES = ("suppressed", "deferred", "capped")

#: where the frequency cap reads earlier live sends: a journal, its path, or a results frame
HistorySource: TypeAlias = "Journal | str | os.PathLike[str] | pd.DataFrame"


@dataclass(frozen=True)
class Verdict:
    """What the guardrails decided for every row of a frame (all Series on its index).

    Attributes
    ----------
    sendable
        True for rows to send now: no problem (the frame's, the channel's or a
        guardrail's) and no guardrail status.
    status
        ``"suppressed"``, ``"deferred"``, ``"capped"`` or None.
    error
        Why, for rows with a status (None otherwise).
    sendable_at
        UTC moment a deferred or capped row may be sent (NaT otherwise).
    closes_at
        UTC end of the sending window for rows sendable now (NaT without quiet hours).
    problems
        New problems by index label (a time zone that cannot be told, zones too far apart,
        the channel's rules): those rows are ``skipped``.
    """

    sendable: pd.Series
    status: pd.Series
    error: pd.Series
    sendable_at: pd.Series
    closes_at: pd.Series
    problems: dict[Hashable, tuple[Problem, ...]]

    def counts(self) -> dict[str, int]:
        """Rows per guardrail status."""
        return {s: int((self.status == s).sum()) for s in GUARD_STATUSES}

    def with_problems(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``frame`` with the guardrails' problems added (those rows are skipped)."""
        return add_problems(frame, self.problems)  # type: ignore[arg-type]

    def annotate(self, results: pd.DataFrame) -> pd.DataFrame:
        """A copy of a results frame with the guardrail statuses and a ``sendable_at`` column.

        Only rows `send` left ``waiting`` change: a row a previous run already sent keeps
        its result even if it is now in quiet hours.
        """
        out = results.copy()
        waiting = out["status"] == "waiting"
        guarded = waiting & self.status.notna().reindex(out.index, fill_value=False)
        status = out["status"].astype(object)
        status[guarded] = self.status[guarded]
        error = out["error"].astype(object)
        error[guarded] = self.error[guarded]
        out["status"] = pd.Series(status, index=out.index, dtype="str")
        out["error"] = pd.Series(error, index=out.index, dtype="str")
        at = self.sendable_at.where(guarded)
        out["sendable_at"] = at.astype("datetime64[us, UTC]")
        return out


@dataclass(frozen=True)
class Guardrails:
    """Suppression, quiet hours, a frequency cap and a budget, applied together.

    `apply` decides every row (pure over the frame, reads the journal only);
    `check_budget` refuses the rows a run would send. `send` and `plan` call both, so a
    plan's counts are what `send` then does.

    Examples
    --------
    >>> Guardrails(quiet_hours=QuietHours())
    Guardrails(quiet_hours=QuietHours(08:00-21:00 local))
    """

    suppression: Suppression | None = None
    quiet_hours: QuietHours | None = None
    budget: Budget | None = None
    frequency_cap: FrequencyCap | None = None

    def __repr__(self) -> str:
        parts = [f"{name}={value!r}" for name, value in (
            ("suppression", self.suppression), ("quiet_hours", self.quiet_hours),
            ("budget", self.budget), ("frequency_cap", self.frequency_cap),
        ) if value is not None]
        return f"Guardrails({', '.join(parts)})"

    def apply(
        self,
        frame: pd.DataFrame,
        *,
        channel: Channel | None = None,
        journal: HistorySource | Sequence[HistorySource] | None = None,
        now: datetime | None = None,
    ) -> Verdict:
        """Decide every row of a rendered frame: send now, or why not (0 requests).

        Parameters
        ----------
        frame
            A rendered frame (``to``, ``problems``, ``segments``...). Never modified.
        channel
            When given, rows without problems are checked against the channel's rules
            too (as `send` does); those problems make the row ``skipped``.
        journal
            Where the frequency cap reads live sends: a `Journal`, a journal path, a results
            frame, or a list of them (campaigns kept in different journals).
        now
            The instant to decide for (aware; default the real clock).

        Precedence: a row with problems is skipped; then suppressed; then capped; then
        deferred by quiet hours.
        """
        now = check_now(now)
        index = frame.index
        labels = list(index)
        n = len(frame)
        to = [v if isinstance(v, str) else "" for v in
              (frame["to"].tolist() if "to" in frame.columns else [""] * n)]
        own = frame["problems"].tolist() if "problems" in frame.columns else [()] * n
        found: dict[Hashable, tuple[Problem, ...]] = {}
        open_ = np.array([not p for p in own], dtype=bool)
        if channel is not None:
            columns = {c: frame[c].tolist() for c in frame.columns}
            for i in np.flatnonzero(open_).tolist():
                row = {c: values[i] for c, values in columns.items()}
                rules = tuple(channel.problems(row, row_number=_row_number(labels[i])))
                if rules:
                    found[labels[i]] = rules
                    open_[i] = False

        status: list[str | None] = [None] * n
        error: list[str | None] = [None] * n
        sendable_at: list[datetime | None] = [None] * n
        closes_at: list[datetime | None] = [None] * n

        if self.suppression is not None:
            for i in np.flatnonzero(open_).tolist():
                if to[i] in self.suppression.numbers:
                    status[i] = "suppressed"
                    error[i] = ("suppressed: the number is on the suppression list (opted out "
                                "or blocked); not sent")
                    open_[i] = False

        windows: list[Window | None] = [None] * n
        if self.quiet_hours is not None:
            positions = np.flatnonzero(open_).tolist()
            for i, window in zip(positions, self.quiet_hours.windows(frame.iloc[positions], now),
                                 strict=True):
                if window.problem is not None:
                    found[labels[i]] = (Problem(_row_number(labels[i]), None, window.problem,
                                                "schedule"),)
                    open_[i] = False
                else:
                    windows[i] = window

        if self.frequency_cap is not None:
            cap = self.frequency_cap
            sources = _sources(journal)
            history = read_history(sources, (to[i] for i in np.flatnonzero(open_)), now,
                                   cap.period)
            for i, (at, why) in cap.apply(to, open_.tolist(), history, now).items():
                status[i], error[i], sendable_at[i] = "capped", why, at
                open_[i] = False

        if self.quiet_hours is not None:
            label = self.quiet_hours.label
            for i in np.flatnonzero(open_).tolist():
                held = windows[i]
                assert held is not None
                if held.sendable_at is None:
                    closes_at[i] = held.closes_at
                    continue
                first = held.zones[0]
                local = held.sendable_at.astimezone(ZoneInfo(first))
                status[i], sendable_at[i] = "deferred", held.sendable_at
                error[i] = (
                    f"quiet hours: outside {label} in {_zones_text(held.zones)}; sendable at "
                    f"{held.sendable_at:%Y-%m-%d %H:%M} UTC ({local:%H:%M} {first})"
                )
                open_[i] = False

        return Verdict(
            sendable=pd.Series(open_, index=index, dtype=bool, name="sendable"),
            status=pd.Series(status, index=index, dtype=object, name="status"),
            error=pd.Series(error, index=index, dtype=object, name="error"),
            sendable_at=_times(sendable_at, index, "sendable_at"),
            closes_at=_times(closes_at, index, "closes_at"),
            problems=found,
        )

    def plan(
        self,
        frame: pd.DataFrame,
        channel: Channel,
        *,
        rate: float,
        limit: int | None = None,
        journal: HistorySource | Sequence[HistorySource] | None = None,
        now: datetime | None = None,
        throughput: float | None = None,
    ) -> SendPlan:
        """The `SendPlan` of ``frame`` under these guardrails (see `plan`)."""
        from ._plan import guard_plan

        return guard_plan(self, frame, channel, rate=rate, limit=limit, journal=journal,
                          now=now, throughput=throughput)

    def check_budget(self, frame: pd.DataFrame, sending: pd.Series | Sequence[bool]) -> None:
        """Raise `LimitExceeded` when the rows ``sending`` marks break the budget.

        Call it with the rows the run will actually request (after the journal and
        ``limit``), before the first request; nothing is sent when it raises.
        """
        if self.budget is None:
            return
        mask = np.asarray(sending, dtype=bool)
        chosen = frame[mask]
        segments = (chosen["segments"].tolist() if "segments" in chosen.columns
                    else [0] * len(chosen))
        self.budget.check(chosen["to"].astype(str).tolist(), segments, list(chosen.index))


def _sources(journal: object) -> list[object]:
    if journal is None:
        return []
    if isinstance(journal, (list, tuple)):
        return list(journal)
    return [journal]


def _times(values: list[datetime | None], index: pd.Index, name: str) -> pd.Series:
    series = pd.Series(pd.to_datetime(pd.Series(values, dtype=object), utc=True).array,
                       index=index, name=name)
    return series.astype("datetime64[us, UTC]")


def _row_number(label: Hashable) -> int | None:
    return label if isinstance(label, int) and not isinstance(label, bool) else None


def _zones_text(zones: tuple[str, ...]) -> str:
    return ", ".join(zones) if len(zones) <= 3 else f"{len(zones)} time zones ({zones[0]}...)"
