"""Frequency cap: at most K messages per recipient per period, across campaigns.

The history is what was (or may have been) sent *live*: journal rows of mode ``live`` with
status ``sent``, ``pending`` or ``unknown`` (a message that may have left counts: the cap
errs on the side of the recipient), or results frames with status ``sent``/``unknown``.
Dry runs never count. The journal is only read (a read-only SQLite connection).
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from .._errors import DataError

__all__ = ["FrequencyCap", "describe_period", "read_history"]

_E164 = re.compile(r"\+[1-9]\d{6,14}")
_SUFFIX = re.compile(r"#\d+$")  # row_keys numbers duplicate rows K, K#2, K#3
_COUNTED = ("sent", "pending", "unknown")


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
        self, numbers: Sequence[str], eligible: Sequence[bool], history: dict[str, list[datetime]],
        now: datetime,
    ) -> dict[int, tuple[datetime, str]]:
        """Positions over the cap: ``{position: (sendable_at, error)}``.

        ``numbers`` are the rows' E.164 numbers, ``eligible`` the rows that would otherwise
        be sent, ``history`` the live sends per number (`read_history`).
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


def read_history(
    sources: Iterable[object], numbers: Iterable[str], now: datetime, period: timedelta
) -> dict[str, list[datetime]]:
    """Live send times per number within ``period`` before ``now``, from every source.

    A source is a `Journal`, a journal path, or a results frame (``to``, ``status``,
    ``sent_at``). Journal rows are matched by their ``to`` column when the journal has one,
    else by a key that is an E.164 number (``row_keys`` keys a campaign by ``to`` when it
    has no id column).
    """
    wanted = {n for n in numbers if n}
    since = now - period
    out: dict[str, list[datetime]] = {}
    for source in sources:
        if isinstance(source, pd.DataFrame):
            pairs = _from_results(source)
        else:
            pairs = _from_journal(_journal_path(source), since)
        for number, moment in pairs:
            if number in wanted and since < moment <= now:
                out.setdefault(number, []).append(moment)
    return out


def _journal_path(source: object) -> Path:
    path = getattr(source, "path", source)  # a Journal or a path
    if not isinstance(path, str | os.PathLike):
        raise DataError(
            f"cannot read send history from {type(source).__name__}: pass a Journal, a journal "
            "path or a results frame"
        )
    return Path(path)


def _from_journal(path: Path, since: datetime) -> list[tuple[str, datetime]]:
    if not path.exists():
        return []
    # Read-only: the frequency cap must never write to (or lock) a journal in use.
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)
    try:
        columns = {row[1] for row in db.execute("PRAGMA table_info(rows)")}
        if not columns:
            return []
        number = 'COALESCE("to", key)' if "to" in columns else "key"
        # ISO strings compare in time order within one format; a day of slack covers
        # "+00:00" vs ".000000+00:00", and the exact cut is made after parsing.
        cutoff = (since - timedelta(days=1)).isoformat()
        cursor = db.execute(
            f"SELECT {number}, COALESCE(sent_at, updated_at) FROM rows "
            f"WHERE mode = 'live' AND status IN ({', '.join('?' * len(_COUNTED))}) "
            "AND COALESCE(sent_at, updated_at) >= ?",
            (*_COUNTED, cutoff),
        )
        out: list[tuple[str, datetime]] = []
        for value, when in cursor:
            found = _SUFFIX.sub("", str(value or ""))
            if _E164.fullmatch(found) and when:
                out.append((found, _aware(datetime.fromisoformat(when))))
        return out
    finally:
        db.close()


def _from_results(results: pd.DataFrame) -> list[tuple[str, datetime]]:
    missing = [c for c in ("to", "status", "sent_at") if c not in results.columns]
    if missing:
        raise DataError(
            f"a results frame as send history needs the columns to, status and sent_at "
            f"(missing: {', '.join(missing)}): pass the frame send(..., live=True) returned"
        )
    counted = results[results["status"].isin(("sent", "unknown")) & results["sent_at"].notna()]
    moments = pd.to_datetime(counted["sent_at"], utc=True)
    return [
        (str(n), m.to_pydatetime())
        for n, m in zip(counted["to"].tolist(), moments.tolist(), strict=True)
    ]


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
