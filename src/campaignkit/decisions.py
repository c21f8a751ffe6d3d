"""One decision: every row's fate, computed in one place and called by every front door.

`decide` is pure: a rendered frame, the channel's rules, the guardrails and a snapshot of the
ledger (`History`) in; one `fate` per row out. `preview`, `plan`, the Composer and `send`
all call it, so what the preview calls ready is what the plan counts and what `send` then
does. The fates, in the order they are decided (the first that applies wins):

``skipped``       the row has problems (its own, the channel's rules, an empty key)
``duplicate``     an earlier row has the same number: of the rows with one number, the
                  first that is otherwise sendable gets the message (unless the sheet was
                  loaded with ``duplicates="keep"``)
``already-sent``  this campaign already sent this message to this number (under any key)
``failed``        the provider refused this very message before: not tried again
``unknown``       an earlier request may have been processed and cannot be looked up:
                  never resent blindly (settle it with ``campaignkit ledger resolve``)
``lookup``        in doubt from an earlier run, on a channel that can look it up: the
                  sender asks the provider first and sends only on proof of absence
``changed``       this campaign sent another message to this key: the run is refused
``suppressed``    the number opted out (the ledger's list or the guardrails' list)
``capped``        the frequency cap: the number had enough messages in the period
``deferred``      outside quiet hours in the recipient's zone, now or at its departure
``waiting``       beyond ``limit``: the next run sends it
``over-budget``   beyond what the campaign's budget allows: the run is refused
``send``          a request goes out (``departs`` seconds after the start, at ``rate``)
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from ._columns import codes as codes_of
from ._columns import digests, empty_tuples, null_like, strings, stripped
from ._e164 import Numbers, classify
from ._errors import CampaignChanged, ColumnError, LimitExceeded, SendError
from ._memory import system_pool
from .channels._base import Channel
from .guardrails import Budget, Guardrails, QuietHours
from .guardrails._budget import price_of
from .guardrails._quiet import Window, _zone, check_now
from .ledger import History, Record, Spend, changed_campaign
from .message import Message
from .problems import Problem, row_number

__all__ = [
    "FATES",
    "Decisions",
    "content_digest",
    "decide",
    "describe_duration",
    "fingerprint_of",
    "provider_validity",
    "row_keys",
]

FATES = ("send", "lookup", "skipped", "duplicate", "already-sent", "failed", "unknown",
         "changed", "suppressed", "capped", "deferred", "waiting", "over-budget")
#: the fates that make a request in this run
GOING = ("send", "lookup")


# -- content and keys -------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def content_digest(to: Any, text: Any, media: Any, template: Any) -> str:
    """sha256 of a row's rendered content: what the recipient would receive.

    >>> content_digest("+447700900001", "Hi", (), None)[:12]
    'c63c73b13531'
    """
    blob = json.dumps([_plain(to), _plain(text), _plain(media), _plain(template)],
                      sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _cell_key(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def row_keys(frame: pd.DataFrame, key: str | None = None) -> tuple[pd.Series, str]:
    """Each row's ledger key and the column it comes from: ``key=``, else the number ``to``.

    The key comes from the data, never from the row's position, and never from a column
    picked by its name: an ID-like column (``Clinic ID``) can say nothing about who the
    recipient is, so only an explicit ``key="Patient ID"`` makes one the key.
    """
    keys, column = _keys(frame, key)
    return pd.Series(keys.to_pylist(), index=frame.index, dtype=object, name="key"), column


def _keys(frame: pd.DataFrame, key: str | None) -> tuple[pa.Array, str]:
    """`row_keys` as an Arrow string array: each cell's ``str(cell).strip()``, "" if missing."""
    column = "to" if key is None else key
    if column not in frame.columns:
        raise ColumnError(
            f'key="{column}": there is no such column; columns found: '
            f"{', '.join(map(str, frame.columns))}"
        )
    found = strings(frame[column])
    if found is None:  # numbers, or other cells: one by one
        return (pa.array([_cell_key(v) for v in frame[column].tolist()], pa.large_string()),
                str(column))
    arr, null = found
    return stripped(pc.fill_null(arr, "") if null.any() else arr, str.strip), str(column)


def fingerprint_of(channel: Channel | None, frame: pd.DataFrame) -> dict[str, Any]:
    """What identifies a campaign's sends: the channel and the message rendered into frame."""
    message = frame.attrs.get("message")
    return {
        "channel": None if channel is None else channel.fingerprint(),
        "message": message.model_dump(mode="json") if isinstance(message, Message) else None,
    }


# -- time and providers -----------------------------------------------------------------------

def describe_duration(seconds: float) -> str:
    """``12 s``, ``4 min``, ``2 h 5 min``: a duration rounded up, the way a person says it.

    >>> describe_duration(0.2), describe_duration(61), describe_duration(7500)
    ('1 s', '2 min', '2 h 5 min')
    """
    whole = math.ceil(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes = math.ceil(whole / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def provider_validity(channel: Channel) -> tuple[int, str] | None:
    """Seconds a provider keeps a queued message before it expires, and whose rule it is.

    Bird: the channel's ``validity``, else 129,600 s (docs/providers/bird.md#validity).
    Sociocs over Twilio (``twlo``, ``twlowa``): Twilio's ``ValidityPeriod`` default of
    36,000 s (https://www.twilio.com/docs/messaging/api/message-resource). Others: unknown.
    """
    if channel.provider == "bird":
        validity = getattr(channel, "validity", None)
        return (int(validity), "Bird's validity") if validity else (129_600, "Bird's validity")
    if channel.provider == "sociocs" and getattr(channel, "sociocs_provider", "") in (
        "twlo", "twlowa",
    ):
        return 36_000, "Twilio's default validity period"
    return None


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


# -- the result -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Decisions:
    """Every row's fate and what the run will do (see the module docstring for the fates).

    ``table`` is indexed like the frame: ``key``, ``digest``, ``fate``, ``reason``,
    ``sendable_at`` and ``closes_at`` (UTC), ``departs`` (seconds after the start, for rows
    that go), ``segments``, ``cost``, ``attempts`` (earlier attempts of the row), the
    ``problems`` that skip it, and the ``message_id`` and ``sent_at`` of the ledger's record
    for a row settled by an earlier run.
    ``order`` lists the positions of the rows that make a request, in the order they go.
    ``refusal`` is why the whole run is refused before any request (a changed campaign, a
    budget), or None. ``_fate_codes`` (private, for speed) holds the table's fates as
    positions in `FATES` (None when not given: the table's are read).
    """

    table: pd.DataFrame
    order: tuple[int, ...]
    refusal: SendError | None
    warnings: tuple[str, ...]
    now: datetime
    rate: float
    seconds: float
    spent: Spend
    guardrails: Guardrails
    key_column: str
    fingerprint: dict[str, Any]
    _fate_codes: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def counts(self) -> dict[str, int]:
        """Rows per fate, every fate listed."""
        if self._fate_codes is not None:
            return dict(zip(FATES, np.bincount(self._fate_codes, minlength=len(FATES)).tolist(),
                            strict=True))
        found = self.table["fate"].value_counts().to_dict()
        return {fate: int(found.get(fate, 0)) for fate in FATES}

    @property
    def going(self) -> int:
        """Rows that make a request in this run (``send`` and ``lookup``)."""
        return len(self.order)

    def __repr__(self) -> str:
        counts = ", ".join(f"{n:,} {fate}" for fate, n in self.counts.items() if n)
        tail = " (refused)" if self.refusal is not None else ""
        return f"<Decisions {counts or 'no rows'}{tail}>"


# -- the decision -----------------------------------------------------------------------------

@system_pool
def decide(
    frame: pd.DataFrame,
    channel: Channel | None = None,
    *,
    campaign: str = "",
    history: History | None = None,
    guardrails: Guardrails | None = None,
    key: str | None = None,
    limit: int | None = None,
    resend: Collection[str] = (),
    rate: float | None = None,
    now: datetime | None = None,
) -> Decisions:
    """Decide the fate of every row of a rendered frame (pure: no I/O, nothing modified).

    Parameters
    ----------
    frame
        A rendered frame (`render`): ``to``, ``text``, ``media``, ``template``,
        ``problems``, ``segments`` and the sheet's columns, indexed by sheet row.
    channel
        The provider whose rules every row is checked against (None: no channel rules).
    campaign
        The campaign's name, for messages.
    history
        What the ledger knows (`Ledger.history`); empty by default.
    guardrails
        The policies; `Guardrails()` (quiet hours on) by default.
    key
        The column that identifies a recipient; the number ``to`` by default.
    limit
        At most this many new messages; the rest are ``waiting``.
    resend
        Keys to send again although the ledger shows them sent (an explicit choice).
    rate
        Messages per second: when each row would leave, for quiet hours and the plan.
    now
        The instant of the first departure (aware; default the real clock).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"to": ["+447400123401", "+447400123401"], "text": ["Hi"] * 2,
    ...     "media": [()] * 2, "template": [None] * 2, "problems": [()] * 2,
    ...     "segments": [1] * 2}, index=pd.Index([2, 3], name="row"))
    >>> noon = datetime(2026, 12, 2, 12, tzinfo=UTC)
    >>> decide(frame, now=noon, rate=5).table[["fate", "reason"]].values.tolist()
    [['send', None], ['duplicate', 'the same number as row 2, which gets the message']]
    """
    guard = Guardrails() if guardrails is None else guardrails
    past = History() if history is None else history
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 0):
        raise SendError(f"limit={limit!r} must be a whole number of messages, 0 or more "
                        "(or None for all)")
    pace = _rate(rate, channel)
    moment = check_now(now)
    run = _Run(frame, pace, moment)
    warnings: list[str] = []

    run.problems_of_rows(channel, key)                          # 1. problems
    single = frame.attrs.get("campaignkit.load", {}).get("duplicates") != "keep"
    if single:
        run.duplicates(past)                                    # 2. one number, one row
    run.shared_keys(single)                                     # 3. keys
    changed = run.ledger(past, channel, set(resend))            # 4. the ledger
    warnings += run.suppression(past, guard)                    # 5. suppression
    if guard.frequency_cap is not None:                         # 6. the frequency cap
        run.frequency_cap(guard, past)
    quiet = guard.quiet_hours                                   # 7. quiet hours, the limit
    if quiet is not None:
        run.quiet_hours(quiet)
    else:
        warnings.append("quiet hours are off: messages may reach people at night "
                        "(Guardrails(quiet_hours=None))")
    order, seconds = run.departures(quiet, limit)
    refusal: SendError | None = None                            # 8. the budget
    chosen = order[run.fate[order] == _SEND]
    if guard.budget is not None:
        refusal = run.budget(guard.budget, chosen, past.spent)

    # 9. a campaign name reused for another message or channel is refused whole
    fingerprint = fingerprint_of(channel, frame)
    if past.fingerprint is not None and past.fingerprint != fingerprint:
        refusal = changed_campaign(campaign, past.fingerprint, fingerprint, None)
    elif changed:
        refusal = CampaignChanged(
            f'campaign "{campaign}" already sent (or may have sent) a different message to '
            f"row(s) {', '.join(changed[:10])}{'...' if len(changed) > 10 else ''}; nothing was "
            f'sent. To send the new version, use a new campaign name (e.g. campaign="'
            f'{campaign}-2")')

    if channel is not None:
        warnings.extend(_rate_warnings(channel, pace))
    if channel is not None and len(chosen):
        validity = provider_validity(channel)
        if validity is not None and seconds > validity[0]:
            warnings.append(
                f"the queue takes about {describe_duration(seconds)}, longer than "
                f"{validity[1]} of {describe_duration(validity[0])} ({validity[0]:,} s): "
                "messages still queued then expire unsent; send fewer rows (limit=) or raise "
                "the rate")
    return Decisions(run.table(), tuple(order.tolist()), refusal, tuple(warnings), moment,
                     pace, seconds, past.spent, guard, run.key_column, fingerprint, run.fate)


# -- the stages, on whole columns -------------------------------------------------------------

# Fates as small integers while deciding (positions in FATES), names in the table.
(_SEND, _LOOKUP, _SKIPPED, _DUPLICATE, _ALREADY, _FAILED, _UNKNOWN, _CHANGED, _SUPPRESSED,
 _CAPPED, _DEFERRED, _WAITING, _OVER) = range(len(FATES))
_NAMES = np.array(FATES, dtype=object)
_NAT = np.iinfo(np.int64).min  # NaT as microseconds
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_UNKNOWN_ZONE = "Etc/Unknown"


def _us(moment: datetime) -> int:
    """An aware datetime as whole microseconds since the epoch (exact)."""
    return (moment - _EPOCH) // _ONE_US


def _moment(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


class _Run:
    """One decision under way: every row's fate so far, as arrays by position.

    The stages below are the per-row rules of the module docstring applied to whole
    columns: each selects the rows a rule can touch with array operations and writes the
    same fate, reason and times the row-by-row rule would (tests/test_decide_equal.py).
    Strings only exist for rows that need one (a reason, a problem).
    """

    def __init__(self, frame: pd.DataFrame, pace: float, moment: datetime) -> None:
        n = len(frame)
        self.frame, self.n, self.labels = frame, n, frame.index
        self.pace, self.moment = pace, moment
        self.fate = np.zeros(n, dtype=np.int8)
        self.reason = np.full(n, None, dtype=object)
        self.found: dict[int, tuple[Problem, ...]] = {}
        self.sendable_at = np.full(n, _NAT, dtype=np.int64)
        self.closes_at = np.full(n, _NAT, dtype=np.int64)
        self.departs = np.full(n, np.nan)
        self.attempts = np.zeros(n, dtype=np.int64)
        self.costs = np.full(n, None, dtype=object)
        self.earlier: dict[int, Record] = {}
        self.window_of = np.full(n, -1, dtype=np.int32)  # rows inside their window now
        self.windows: list[Window] = []
        self.to = self._numbers()
        self.segments = self._segments()
        self.keys = pa.nulls(0, pa.string())
        self.key_column = ""
        self.digest = pa.nulls(0, pa.string())
        self._facts: tuple[np.ndarray, Numbers] | None = None

    # -- the frame's columns ---------------------------------------------------------------

    def _numbers(self) -> pa.Array:
        """``to`` as strings, "" where the cell is not a string (as every rule reads it)."""
        if "to" not in self.frame.columns:
            return pa.array([""] * self.n, pa.large_string())
        column = self.frame["to"]
        try:
            arr = pa.array(column, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arr = None
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if arr is not None and pa.types.is_null(arr.type):
            return pa.array([""] * self.n, pa.large_string())
        if arr is None or not (pa.types.is_string(arr.type)
                               or pa.types.is_large_string(arr.type)):
            return pa.array([v if isinstance(v, str) else "" for v in column.tolist()],
                            pa.large_string())
        return pc.fill_null(arr, "") if arr.null_count else arr

    def _segments(self) -> np.ndarray:
        if "segments" not in self.frame.columns:
            return np.zeros(self.n, dtype=np.int64)
        column = self.frame["segments"]
        if (pd.api.types.is_integer_dtype(column.dtype)
                or pd.api.types.is_bool_dtype(column.dtype)) and not column.hasnans:
            return np.array(column.to_numpy(dtype=np.int64), dtype=np.int64)
        return np.asarray([int(s) if s == s and s is not None else 0 for s in column.tolist()],
                          dtype=np.int64)

    def _objects(self, name: str, default: Any) -> np.ndarray:
        if name not in self.frame.columns:
            values = np.empty(self.n, dtype=object)
            values.fill(default)
            return values
        return np.asarray(self.frame[name].to_numpy(dtype=object), dtype=object)

    def _digests(self) -> pa.Array:
        frame, n = self.frame, self.n
        simple = np.ones(n, dtype=bool)
        if "media" in frame.columns:
            simple &= empty_tuples(frame["media"].to_numpy(dtype=object))
        if "template" in frame.columns:
            simple &= null_like(frame["template"].to_numpy(dtype=object))
        text = frame["text"] if "text" in frame.columns else None
        cells: dict[str, np.ndarray] = {}

        def one(i: int) -> str:  # a row the arrays do not build: the per-row function
            if not cells:
                cells.update(text=self._objects("text", None), media=self._objects("media", ()),
                             template=self._objects("template", None))
            return content_digest(self.to[i].as_py(), cells["text"][i], cells["media"][i],
                                  cells["template"][i])

        return digests(self.to, text, simple, one)

    def facts(self, rows: np.ndarray) -> Numbers:
        """`classify` of the numbers of ``rows`` (asked once: quiet hours, then budgets)."""
        if self._facts is not None:
            asked, found = self._facts
            at = np.searchsorted(asked, rows)
            if len(asked) and (at < len(asked)).all() and (asked[np.minimum(
                    at, len(asked) - 1)] == rows).all():
                return Numbers(found.known[at], found.region[at], found.regions,
                               found.zones[at], found.zone_lists)
        found = classify(self.to.take(pa.array(rows)))
        self._facts = (rows, found)
        return found

    def problem(self, i: int, column: str | None, message: str, kind: Any) -> Problem:
        return Problem(row_number(self.labels[i]), column, message, kind)

    def settle(self, rows: np.ndarray | list[int], fate: int, why: Any) -> None:
        self.fate[rows] = fate
        self.reason[rows] = why  # a reason a row, or one shared string (or None) for all

    def where(self, *fates: int) -> np.ndarray:
        return np.flatnonzero(np.isin(self.fate, fates))

    # -- 1. problems -----------------------------------------------------------------------

    def problems_of_rows(self, channel: Channel | None, key: str | None) -> None:
        found = self.found
        if "problems" in self.frame.columns:
            own = self.frame["problems"].to_numpy(dtype=object)
            for i in np.flatnonzero(~empty_tuples(own)).tolist():
                listed = tuple(own[i] or ())
                if listed:
                    found[i] = listed
        if channel is not None:
            theirs = channel.problems_frame(self.frame).to_numpy(dtype=object)
            for i in np.flatnonzero(~empty_tuples(theirs)).tolist():
                found[i] = found.get(i, ()) + tuple(theirs[i])
        self.keys, self.key_column = _keys(self.frame, key)
        for i in np.flatnonzero(np.asarray(pc.equal(self.keys, ""))).tolist():
            if i not in found:
                found[i] = (self.problem(i, self.key_column,
                                         "the row's key is empty: fill it in, or pass key= "
                                         "another column", "missing-value"),)
        self.digest = self._digests()
        rows = np.fromiter(found, dtype=np.int64, count=len(found))
        self.fate[rows] = _SKIPPED
        said = np.empty(len(rows), dtype=object)
        said[:] = [str(listed[0]) if len(listed) == 1 else "; ".join(map(str, listed))
                   for listed in found.values()]
        self.reason[rows] = said

    # -- 2. one number, one message --------------------------------------------------------

    def duplicates(self, past: History) -> None:
        """Of the sendable rows with one number, the first gets it, unless the ledger shows
        one of them already sent (a run of part of the sheet): that one keeps it. The others
        are duplicates."""
        rows = np.flatnonzero((self.fate == _SEND) & np.asarray(pc.not_equal(self.to, "")))
        if len(rows) < 2:
            return
        codes = codes_of(self.to.take(pa.array(rows)))
        unsent = np.ones(len(rows), dtype=bool)
        if past.by_digest:
            unsent = ~np.asarray(pc.is_in(self.digest.take(pa.array(rows)),
                                          value_set=pa.array(list(past.by_digest), pa.string())))
        if unsent.all():  # each number's first row; codes number them as they first appear
            winner = np.flatnonzero(np.r_[True, codes[1:] > np.maximum.accumulate(codes)[:-1]])
        else:
            ranked = np.lexsort((np.arange(len(rows)), unsent, codes))  # by number, sent first
            heads = ranked[np.r_[True, np.diff(codes[ranked]) != 0]]
            winner = np.empty(codes.max() + 1, dtype=np.int64)
            winner[codes[heads]] = heads
        firsts = rows[winner[codes]]
        later = firsts != rows
        if not later.any():
            return
        heads_of, which = np.unique(firsts[later], return_inverse=True)
        said = np.array([f"the same number as row {label}, which gets the message"
                         for label in self.labels.take(heads_of).tolist()], dtype=object)
        self.settle(rows[later], _DUPLICATE, said[which])

    # -- 3. keys ---------------------------------------------------------------------------

    def shared_keys(self, single: bool) -> None:
        """Identical content under one key is numbered K, K#2...; different content under one
        key cannot be told apart after a shuffle, so those rows are skipped. ``single``: step 2
        left one row a number, so keys that are the numbers are not shared."""
        rows = np.flatnonzero(self.fate == _SEND)
        if len(rows) < 2:
            return
        keys = self.keys.take(pa.array(rows))
        if single and pc.all(pc.equal(keys, self.to.take(pa.array(rows)))).as_py():
            return
        codes = codes_of(keys)
        counts = np.bincount(codes)
        shared = counts[codes] > 1
        if not shared.any():
            return
        mine, theirs = rows[shared], codes[shared]
        ordered = np.argsort(theirs, kind="stable")
        groups = np.split(mine[ordered], np.flatnonzero(np.diff(theirs[ordered])) + 1)
        renamed: dict[int, str] = {}
        for members in groups:
            key = self.keys[int(members[0])].as_py()
            if len(set(self.digest.take(pa.array(members)).to_pylist())) == 1:
                for count, i in enumerate(members[1:].tolist(), start=2):
                    renamed[i] = f"{key}#{count}"
                continue
            listed = ", ".join(str(self.labels[i]) for i in members.tolist())
            for i in members.tolist():
                problem = self.problem(i, self.key_column,
                                       f'"{key}" is the key of rows {listed}, which have '
                                       "different messages: pass key= a column that tells them "
                                       "apart (so a re-run never mixes them up)", "duplicate")
                self.found[i] = (problem,)
                self.settle([i], _SKIPPED, str(problem))
        if renamed:
            values = np.full(self.n, None, dtype=object)
            values[list(renamed)] = list(renamed.values())
            self.keys = pc.coalesce(pa.array(values, self.keys.type), self.keys)

    # -- 4. the ledger ---------------------------------------------------------------------

    def ledger(self, past: History, channel: Channel | None, again: set[str]) -> list[str]:
        """What this campaign already did; returns the rows whose message changed."""
        changed: list[str] = []
        if not (past.records or past.by_digest or again):
            return changed
        rows = np.flatnonzero(self.fate == _SEND)
        keys = self.keys.take(pa.array(rows))
        touched = np.zeros(len(rows), dtype=bool)
        for known in (list(past.records), list(again)):
            if known:
                touched |= np.asarray(pc.is_in(keys, value_set=pa.array(known, pa.string())))
        if past.by_digest:
            touched |= np.asarray(pc.is_in(self.digest.take(pa.array(rows)),
                                           value_set=pa.array(list(past.by_digest),
                                                              pa.string())))
        rows = rows[touched]
        keys_of = self.keys.take(pa.array(rows)).to_pylist()
        digests_of = self.digest.take(pa.array(rows)).to_pylist()
        for i, key, digest in zip(rows.tolist(), keys_of, digests_of, strict=True):
            record = past.records.get(key)
            if key in again:
                self.attempts[i] = record.attempts if record is not None else 0
                continue
            if record is not None:
                same = record.digest is None or record.digest == digest
                self.attempts[i] = record.attempts
                self.earlier[i] = record
                if not same and record.counted:
                    changed.append(str(self.labels[i]))
                    self.settle([i], _CHANGED, "this campaign sent (or may have sent) another "
                                               f'message to key "{key}"')
                elif record.status == "sent":
                    self.settle([i], _ALREADY, _already(record, key))
                elif record.status in ("pending", "unknown"):
                    going = channel is not None and channel.supports_lookup
                    label = channel.label if channel is not None else "the provider"
                    self.settle([i], _LOOKUP if going else _UNKNOWN,
                                record.error or "in flight when an earlier run stopped (a crash "
                                f"or a kill); {label} may have sent it, so it is not sent "
                                "again automatically")
                elif record.status == "failed" and not record.retry and same:
                    self.settle([i], _FAILED, record.error)
                continue
            other = past.by_digest.get(digest)
            if other is not None:
                self.earlier[i] = other
                if other.status == "sent":
                    self.settle([i], _ALREADY, _already(other, other.key))
                else:
                    self.settle([i], _UNKNOWN, "the same message to this number is in doubt "
                                               f'under key "{other.key}" (row {other.row}): '
                                               "not sent again")
        return changed

    # -- 5. suppression --------------------------------------------------------------------

    def suppression(self, past: History, guard: Guardrails) -> list[str]:
        """The ledger's list and the guardrails' own; returns the warnings."""
        listed = guard.suppression.numbers if guard.suppression is not None else frozenset()
        rows = self.where(_SEND, _LOOKUP)
        if past.suppressed and len(rows):
            numbers = self.to.take(pa.array(rows))
            hit = np.asarray(pc.is_in(numbers, value_set=pa.array(list(past.suppressed),
                                                                   pa.string())))
            said: dict[str, str] = {}
            why = np.array([said.setdefault(n, f"suppressed: {past.suppressed[n]}; not sent")
                            for n in numbers.filter(pa.array(hit)).to_pylist()], dtype=object)
            self.settle(rows[hit], _SUPPRESSED, why)
            rows = rows[~hit]
        if listed and len(rows):
            hit = np.asarray(pc.is_in(self.to.take(pa.array(rows)),
                                      value_set=pa.array(list(listed), pa.string())))
            self.settle(rows[hit], _SUPPRESSED, "suppressed: the number is on the suppression "
                                                "list (opted out or blocked); not sent")
        warnings: list[str] = []
        if guard.suppression is not None and guard.suppression.rejected:
            shown = ", ".join(repr(r) for r in guard.suppression.rejected[:3])
            more = len(guard.suppression.rejected) - 3
            count = len(guard.suppression.rejected)
            warnings.append(
                f"{count:,} suppression {'entry is' if count == 1 else 'entries are'} not a "
                f"phone number and suppress{'es' if count == 1 else ''} nobody: {shown}"
                f"{f' and {more} more' if more > 0 else ''}")
        return warnings

    # -- 6. the frequency cap --------------------------------------------------------------

    def frequency_cap(self, guard: Guardrails, past: History) -> None:
        """Across every campaign in the ledger. Only numbers with sends in the period, or on
        several rows, can reach the cap: the cap's own rule is asked about those alone."""
        cap = guard.frequency_cap
        assert cap is not None
        rows = np.flatnonzero((self.fate == _SEND) & np.asarray(pc.not_equal(self.to, "")))
        if not len(rows):
            return
        numbers = self.to.take(pa.array(rows))
        ask = np.array(pd.Series(numbers, dtype="str").duplicated(keep=False), dtype=bool)
        if past.sends:
            ask |= np.asarray(pc.is_in(numbers, value_set=pa.array(list(past.sends),
                                                                   pa.string())))
        rows = rows[ask]
        found = cap.apply(self.to.take(pa.array(rows)).to_pylist(), [True] * len(rows),
                          past.sends, self.moment)
        for j, (at, why) in found.items():
            i = int(rows[j])
            self.settle([i], _CAPPED, why)
            self.sendable_at[i] = _us(at)

    # -- 7. quiet hours, the limit and each row's departure --------------------------------

    def quiet_hours(self, quiet: QuietHours) -> None:
        """Every going row's window now in its recipient's zones (`QuietHours.windows`)."""
        column = quiet.zone_column(self.frame)  # raises as QuietHours.windows does
        rows = self.where(_SEND, _LOOKUP)
        window_of = np.full(len(rows), -1, dtype=np.int32)
        ids: dict[Window, int] = {}

        def id_of(window: Window) -> int:
            found = ids.get(window)
            if found is None:
                found = ids[window] = len(self.windows)
                self.windows.append(window)
            return found

        by_number = np.ones(len(rows), dtype=bool)
        if column is not None:  # a zone cell decides; the same cell, the same window
            cells = self.frame[column].to_numpy(dtype=object)[rows]
            empty = null_like(cells)
            text = np.array([isinstance(c, str) for c in cells], dtype=bool)
            for cell in set(cells[text].tolist()):
                if not cell.strip():
                    continue
                same = np.flatnonzero(text & (cells == cell))
                window_of[same] = id_of(quiet.windows(self.frame.iloc[rows[same[:1]]],
                                                      self.moment)[0])
            by_number = empty | (text & (window_of < 0))
            other = ~by_number & (window_of < 0)  # cells of another kind: row by row
            for j, window in zip(np.flatnonzero(other).tolist(),
                                 quiet.windows(self.frame.iloc[rows[other]], self.moment),
                                 strict=True):
                window_of[j] = id_of(window)
        numbers = np.flatnonzero(by_number)
        if len(numbers):
            facts = self.facts(rows[numbers])
            zones = [_usable(z) for z in facts.zone_lists]
            per_code = np.array([id_of(quiet.window(z, self.moment)) if z else -1
                                 for z in zones] or [-1], dtype=np.int32)
            answered = facts.known & (facts.zones >= 0)
            window_of[numbers[answered]] = per_code[facts.zones[answered]]
            left = numbers[window_of[numbers] < 0]  # phonenumbers itself, through the rule
            for j, window in zip(left.tolist(),
                                 quiet.windows(self.frame.iloc[rows[left]], self.moment),
                                 strict=True):
                window_of[j] = id_of(window)
        for w, window in enumerate(self.windows):
            mine = rows[window_of == w]
            if not len(mine):
                continue
            if window.problem is not None:
                for i in mine.tolist():
                    problem = self.problem(i, None, window.problem, "schedule")
                    self.found[i] = (problem,)
                    self.settle([i], _SKIPPED, str(problem))
            elif window.sendable_at is not None:
                self.settle(mine, _DEFERRED,
                            _deferred_reason(quiet, window.zones, window.sendable_at))
                self.sendable_at[mine] = _us(window.sendable_at)
            else:
                assert window.closes_at is not None
                self.window_of[mine] = w
                self.closes_at[mine] = _us(window.closes_at)

    def departures(self, quiet: QuietHours | None, limit: int | None
                   ) -> tuple[np.ndarray, float]:
        """Rows in doubt first, then the sends: each takes the next slot (``slot / rate`` s
        after the start) unless its window closes by then (deferred) or ``limit`` sends
        went before it (waiting). Returns the order of the rows that go and the seconds."""
        lookups, sends = np.flatnonzero(self.fate == _LOOKUP), np.flatnonzero(self.fate == _SEND)
        rows = np.concatenate([lookups, sends])
        m = len(rows)
        close = self.closes_at[rows]
        deadline = np.full(m, m, dtype=np.int64)  # the first slot too late for each row
        for value in np.unique(close[close != _NAT]).tolist():
            deadline[close == value] = self._first_late_slot(_moment(value), m)
        taken = _accepted(deadline)
        waiting = np.zeros(m, dtype=bool)
        if limit is not None:
            is_send = np.arange(m) >= len(lookups)
            counted = np.cumsum(taken & is_send)
            reached = np.flatnonzero(counted >= limit)
            cut = len(lookups) if limit == 0 else (int(reached[0]) + 1 if len(reached) else m)
            waiting = is_send & (np.arange(m) >= max(cut, len(lookups)))
            taken &= ~waiting
        if waiting.any():
            assert limit is not None
            self.settle(rows[waiting], _WAITING,
                        f"waiting: beyond limit={limit:,}; the next run sends it")
        late = rows[~taken & ~waiting]
        if len(late):
            assert quiet is not None
            later: dict[tuple[int, int], tuple[int, str]] = {}
            for i in late.tolist():
                window = self.windows[self.window_of[i]]
                close_us = int(self.closes_at[i])
                found = later.get((int(self.window_of[i]), close_us))
                if found is None:
                    close_at = _moment(close_us)
                    opens = quiet.window(window.zones, close_at).sendable_at or close_at
                    found = later[(int(self.window_of[i]), close_us)] = (
                        _us(opens), _deferred_reason(quiet, window.zones, opens, closing=True))
                self.settle([i], _DEFERRED, found[1])
                self.sendable_at[i], self.closes_at[i] = found[0], _NAT
        order = rows[taken]
        self.departs[order] = np.arange(len(order)) / self.pace
        return order, len(order) / self.pace

    def _first_late_slot(self, close: datetime, m: int) -> int:
        """The first slot ``s`` whose departure ``start + s / rate`` is at or after ``close``
        (``m`` when none of the ``m`` rows' slots is)."""
        lo, hi = 0, m
        while lo < hi:
            mid = (lo + hi) // 2
            if self.moment + timedelta(seconds=mid / self.pace) >= close:
                hi = mid
            else:
                lo = mid + 1
        return lo

    # -- 8. the budget ---------------------------------------------------------------------

    def budget(self, budget: Budget, chosen: np.ndarray, spent: Spend) -> SendError | None:
        """Each chosen row's cost, and the refusal of a run that breaks a limit (the budget's
        own words; `Budget.fitting` says how many rows fit, the rest are over budget)."""
        numbers = self.to.take(pa.array(chosen))
        segments = self.segments[chosen]
        stand_in, prices = _prices(budget, numbers, lambda: self.facts(chosen))
        if budget.priced:  # each (price, segments) pair priced once, Decimal exact
            top = int(segments.max()) + 1 if len(segments) else 1
            which, pairs = pd.factorize(stand_in * top + segments)
            said = np.empty(len(pairs), dtype=object)
            said[:] = [None if prices[p] is None else prices[p] * s
                       for p, s in (divmod(pair, top) for pair in pairs.tolist())]
            self.costs[chosen] = said[which]
        if _within(budget, stand_in, prices, segments, spent):
            return None
        # Broken (or unpriced): the budget words it. Each number stands in for by one of its
        # region (the budget reads a number's region only), so phonenumbers runs once a region.
        reps = _representatives(numbers, stand_in)
        labels = [self.labels[i] for i in chosen.tolist()]
        counts = segments.tolist()
        refused = budget.refusal(reps, counts, labels, spent=spent)
        if refused is None:
            return None
        fits = budget.fitting(reps, counts, labels, spent=spent)
        self.settle(chosen[fits:], _OVER, refused)
        return LimitExceeded(refused)

    # -- the table -------------------------------------------------------------------------

    def table(self) -> pd.DataFrame:
        index = self.labels
        problems = np.empty(self.n, dtype=object)
        problems.fill(())
        for i, listed in self.found.items():
            problems[i] = listed
        message_id = np.full(self.n, None, dtype=object)
        sent_at = np.full(self.n, None, dtype=object)
        for i, record in self.earlier.items():
            message_id[i], sent_at[i] = record.message_id, record.sent_at
        return pd.DataFrame(  # copy=False: the columns are new; joining them would copy
            {
                "key": pd.Series(self.keys, index=index, dtype="str"),
                "digest": pd.Series(self.digest, index=index, dtype="str"),
                "fate": pd.Series(_NAMES[self.fate], index=index, dtype=object, copy=False),
                "reason": pd.Series(self.reason, index=index, dtype=object, copy=False),
                "sendable_at": _utc(self.sendable_at, index),
                "closes_at": _utc(self.closes_at, index),
                "departs": pd.Series(self.departs, index=index, dtype="float64", copy=False),
                "segments": pd.Series(self.segments, index=index, dtype="int64", copy=False),
                "cost": pd.Series(self.costs, index=index, dtype=object, copy=False),
                "attempts": pd.Series(self.attempts, index=index, dtype="int64", copy=False),
                "message_id": pd.Series(message_id, index=index, dtype=object, copy=False),
                "sent_at": pd.Series(sent_at, index=index, dtype=object, copy=False),
                "problems": pd.Series(problems, index=index, dtype=object, copy=False),
            },
            index=index, copy=False,
        )


def _accepted(deadline: np.ndarray) -> np.ndarray:
    """Which rows get a slot, in order, when row ``i`` is refused once ``deadline[i]`` slots
    are taken before it (refused rows take none).

    Slots only grow, so once ``s`` are taken every row with ``deadline <= s`` is refused:
    between two successive deadlines every other row is taken. One pass per distinct
    deadline (a few: one per zone and closing time).
    """
    m = len(deadline)
    taken = np.zeros(m, dtype=bool)
    slots, start = 0, 0
    for threshold in [*np.unique(deadline[deadline < m]).tolist(), m + 1]:
        if threshold <= slots:
            continue
        alive = deadline[start:] > slots
        count = np.cumsum(alive)
        need = threshold - slots
        if not len(count) or count[-1] < need:
            taken[start:] = alive
            break
        end = int(np.searchsorted(count, need)) + 1
        taken[start:start + end] = alive[:end]
        slots, start = threshold, start + end
    return taken


def _usable(zones: tuple[str, ...]) -> tuple[str, ...]:
    """`zones_for_number`'s cleaning of phonenumbers' answer: known zones, sorted, once."""
    return tuple(sorted({z for z in zones if z != _UNKNOWN_ZONE and _zone(z) is not None}))


def _prices(budget: Budget, numbers: pa.Array, facts_of: Callable[[], Numbers]
            ) -> tuple[np.ndarray, list[Decimal | None]]:
    """Each number's price per segment, as a code into a list of prices.

    The budget prices a number by its region (`Budget.price`): it is asked once a region,
    with the first number of that region; numbers not answered by `classify` are asked one
    by one.
    """
    n = len(numbers)
    codes = np.zeros(n, dtype=np.int64)
    if not n or not budget.priced:
        return codes, [None]
    first = numbers[0].as_py()
    if budget.price_per_segment is not None and not isinstance(budget.price_per_segment,
                                                                Mapping):
        return codes, [budget.price(first)]  # one price for every region
    facts = facts_of()
    prices: list[Decimal | None] = []
    seen: dict[object, int] = {}
    known = np.flatnonzero(facts.known)
    if len(known):
        regions, where = np.unique(facts.region[known], return_index=True)
        for region, at in zip(regions.tolist(), where.tolist(), strict=True):
            seen[("region", region)] = len(prices)
            prices.append(budget.price(numbers[int(known[at])].as_py()))
        lookup = np.full(len(facts.regions) or 1, 0, dtype=np.int64)
        for region in regions.tolist():
            lookup[region] = seen[("region", region)]
        codes[known] = lookup[facts.region[known]]
    others = np.flatnonzero(~facts.known)
    for j, number in zip(others.tolist(), numbers.take(pa.array(others)).to_pylist(),
                         strict=True):
        if ("number", number) not in seen:
            seen[("number", number)] = len(prices)
            prices.append(budget.price(number))
        codes[j] = seen[("number", number)]
    return codes, prices


def _within(budget: Budget, codes: np.ndarray, prices: list[Decimal | None],
            segments: np.ndarray, spent: Spend) -> bool:
    """Whether the rows keep every limit of ``budget`` after ``spent`` (`Budget.refusal` is
    None exactly then; when not, the budget itself words the refusal)."""
    n = len(segments)
    if budget.max_recipients is not None and spent.messages + n > budget.max_recipients:
        return False
    if (budget.max_segments_per_message is not None and n
            and int(segments.max()) > budget.max_segments_per_message):
        return False
    if (budget.max_total_segments is not None
            and spent.segments + int(segments.sum()) > budget.max_total_segments):
        return False
    if budget.max_cost is not None:
        total = Decimal(0)
        for code in np.unique(codes).tolist():
            price = prices[code]
            if price is None:
                return False  # unpriced: the budget cannot check its cost
            total += price * int(segments[codes == code].sum())
        if spent.cost + total > price_of(budget.max_cost):
            return False
    return True


def _representatives(numbers: pa.Array, codes: np.ndarray) -> list[str]:
    """Each number replaced by the first number with its price code (same region)."""
    first = {c: numbers[int(i)].as_py() for c, i in zip(
        *np.unique(codes, return_index=True), strict=True)}
    return [first[c] for c in codes.tolist()]


def _utc(us: np.ndarray, index: pd.Index) -> pd.Series:
    return pd.Series(us.view("M8[us]"), index=index, copy=False).dt.tz_localize(UTC)


def _rate(rate: float | None, channel: Channel | None) -> float:
    if rate is None:
        return channel.default_rate if channel is not None else 10.0
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not (
            math.isfinite(rate) and rate > 0):
        raise SendError(f"rate={rate!r} must be a number of messages per second above 0, "
                        "e.g. rate=5")
    return float(rate)


def _rate_warnings(channel: Channel, rate: float) -> list[str]:
    limit = channel.send_limit
    if limit is None or rate <= limit.rate:
        return []
    return [f"rate={rate:g}/s is above {channel.label}'s documented limit of {limit}: expect "
            f"429 answers and pauses; use rate={math.floor(limit.rate * 100) / 100:g} or less"]


def _already(record: Record, key: str) -> str:
    moment = record.moment
    when = f" on {moment:%Y-%m-%d %H:%M} UTC" if moment is not None else ""
    row = f"row {record.row}, " if record.row else ""
    how = f"; {record.error}" if record.status == "sent" and record.error else ""
    return (f'already sent by this campaign{when} ({row}key "{key}"{how}): the same message to '
            "the same number is never sent twice; pass resend= to send it again")


def _deferred_reason(quiet: QuietHours, zones: Sequence[str], at: datetime, *,
                     closing: bool = False) -> str:
    from zoneinfo import ZoneInfo

    local = at.astimezone(ZoneInfo(zones[0]))
    listed = ", ".join(zones) if len(zones) <= 3 else f"{len(zones)} time zones ({zones[0]}...)"
    when = "would leave after the window closes" if closing else "outside"
    return (f"quiet hours: {when} {quiet.label} in {listed}; sendable at {at:%Y-%m-%d %H:%M} "
            f"UTC ({local:%H:%M} {zones[0]})")


def _times(values: list[datetime | None], index: pd.Index) -> pd.Series:
    series = pd.Series(pd.to_datetime(pd.Series(values, dtype=object), utc=True).array,
                       index=index)
    return series.astype("datetime64[us, UTC]")


