"""The per-row reference of `campaignkit.decide`: the loop it was before it was vectorised.

A verbatim copy of ``decide`` (and of ``row_keys``) as of the commit that introduced the
ledger and the one decision, kept only for tests/test_decide_equal.py, which checks that
the vectorised ``decide`` gives exactly what this loop gives on random frames.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from campaignkit._errors import CampaignChanged, ColumnError, LimitExceeded, SendError
from campaignkit.channels._base import Channel
from campaignkit.decisions import (
    GOING,
    Decisions,
    _already,
    _deferred_reason,
    _rate,
    _rate_warnings,
    _times,
    content_digest,
    describe_duration,
    fingerprint_of,
    provider_validity,
)
from campaignkit.guardrails import Guardrails
from campaignkit.guardrails._quiet import check_now
from campaignkit.ledger import History, Record, changed_campaign
from campaignkit.problems import Problem, row_number


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
    column = "to" if key is None else key
    if column not in frame.columns:
        raise ColumnError(
            f'key="{column}": there is no such column; columns found: '
            f"{', '.join(map(str, frame.columns))}"
        )
    base = [_cell_key(v) for v in frame[column].tolist()]
    return pd.Series(base, index=frame.index, dtype=object, name="key"), str(column)



def reference_decide(
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
    """The per-row reference: today's `decide` as it was before vectorising."""
    guard = Guardrails() if guardrails is None else guardrails
    past = History() if history is None else history
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 0):
        raise SendError(f"limit={limit!r} must be a whole number of messages, 0 or more "
                        "(or None for all)")
    pace = _rate(rate, channel)
    moment = check_now(now)
    n = len(frame)
    labels = list(frame.index)
    numbers_of = [row_number(label) for label in labels]
    cols = {c: frame[c].tolist() for c in frame.columns}
    empty: list[Any] = [None] * n
    to = [v if isinstance(v, str) else "" for v in cols.get("to", [""] * n)]
    text, template = cols.get("text", empty), cols.get("template", empty)
    media = cols.get("media", [()] * n)
    own = cols.get("problems", [()] * n)
    segments = np.asarray([int(s) if s == s and s is not None else 0
                           for s in cols.get("segments", [0] * n)], dtype=np.int64)
    digests = [content_digest(to[i], text[i], media[i], template[i]) for i in range(n)]

    fate = np.full(n, "send", dtype=object)
    reason: list[str | None] = [None] * n
    problems: dict[int, tuple[Problem, ...]] = {}
    sendable_at: list[datetime | None] = [None] * n
    closes_at: list[datetime | None] = [None] * n
    departs = np.full(n, np.nan)
    attempts = np.zeros(n, dtype=np.int64)
    earlier: dict[int, Record] = {}  # the ledger's record behind a row settled without a send
    warnings: list[str] = []

    def settle(i: int, what: str, why: str | None) -> None:
        fate[i], reason[i] = what, why

    # 1. problems: the row's own, then the channel's rules
    for i in range(n):
        found = tuple(own[i] or ())
        if channel is not None:
            row = {c: values[i] for c, values in cols.items()}
            found += tuple(channel.problems(row, row_number=numbers_of[i]))
        if found:
            problems[i] = found
    base, key_column = row_keys(frame, key)
    base_keys = base.tolist()
    for i, k in enumerate(base_keys):
        if i not in problems and not k:
            problems[i] = (Problem(numbers_of[i], key_column,
                                   "the row's key is empty: fill it in, or pass key= another "
                                   "column", "missing-value"),)
    for i, found in problems.items():
        settle(i, "skipped", "; ".join(str(p) for p in found))

    # 2. duplicates of a number: the first otherwise sendable row gets it
    keep = frame.attrs.get("campaignkit.load", {}).get("duplicates") == "keep"
    if not keep:
        first: dict[str, int] = {}
        for i in range(n):
            if fate[i] != "send" or not to[i]:
                continue
            held = first.get(to[i])
            if held is None or (digests[i] in past.by_digest
                                and digests[held] not in past.by_digest):
                first[to[i]] = i
        for i in range(n):
            if fate[i] == "send" and to[i] and first[to[i]] != i:
                settle(i, "duplicate", f"the same number as row {labels[first[to[i]]]}, which "
                                       "gets the message")

    # 3. keys: identical content under one key is numbered K, K#2...; different content
    # under one key cannot be told apart after a shuffle, so those rows are skipped
    keys = list(base_keys)
    groups: dict[str, list[int]] = {}
    for i in range(n):
        if fate[i] == "send":
            groups.setdefault(keys[i], []).append(i)
    for k, members in groups.items():
        if len(members) < 2:
            continue
        if len({digests[i] for i in members}) == 1:
            for count, i in enumerate(members[1:], start=2):
                keys[i] = f"{k}#{count}"
            continue
        rows = ", ".join(str(labels[i]) for i in members)
        for i in members:
            problem = Problem(numbers_of[i], key_column,
                              f'"{k}" is the key of rows {rows}, which have different '
                              "messages: pass key= a column that tells them apart (so a re-run "
                              "never mixes them up)", "duplicate")
            problems[i] = (problem,)
            settle(i, "skipped", str(problem))

    # 4. the ledger: what this campaign already did
    again = set(resend)
    changed: list[str] = []
    for i in range(n):
        if fate[i] != "send":
            continue
        record = past.records.get(keys[i])
        if keys[i] in again:
            attempts[i] = record.attempts if record is not None else 0
            continue
        if record is not None:
            same = record.digest is None or record.digest == digests[i]
            attempts[i] = record.attempts
            earlier[i] = record
            if not same and record.counted:
                changed.append(str(labels[i]))
                settle(i, "changed", "this campaign sent (or may have sent) another message to "
                                     f'key "{keys[i]}"')
            elif record.status == "sent":
                settle(i, "already-sent", _already(record, keys[i]))
            elif record.status in ("pending", "unknown"):
                going = channel is not None and channel.supports_lookup
                label = channel.label if channel is not None else "the provider"
                settle(i, "lookup" if going else "unknown",
                       record.error or "in flight when an earlier run stopped (a crash or a "
                                       f"kill); {label} may have sent it, so it is not sent "
                                       "again automatically")
            elif record.status == "failed" and not record.retry and same:
                settle(i, "failed", record.error)
            continue
        other = past.by_digest.get(digests[i])
        if other is not None:
            earlier[i] = other
            if other.status == "sent":
                settle(i, "already-sent", _already(other, other.key))
            else:
                settle(i, "unknown", f'the same message to this number is in doubt under key '
                                     f'"{other.key}" (row {other.row}): not sent again')

    # 5. suppression: the ledger's list and the guardrails' own
    listed = guard.suppression.numbers if guard.suppression is not None else frozenset()
    for i in range(n):
        if fate[i] in GOING and to[i] in past.suppressed:
            settle(i, "suppressed", f"suppressed: {past.suppressed[to[i]]}; not sent")
        elif fate[i] in GOING and to[i] in listed:
            settle(i, "suppressed", "suppressed: the number is on the suppression list (opted "
                                    "out or blocked); not sent")
    if guard.suppression is not None and guard.suppression.rejected:
        shown = ", ".join(repr(r) for r in guard.suppression.rejected[:3])
        more = len(guard.suppression.rejected) - 3
        count = len(guard.suppression.rejected)
        warnings.append(
            f"{count:,} suppression {'entry is' if count == 1 else 'entries are'} not a phone "
            f"number and suppress{'es' if count == 1 else ''} nobody: {shown}"
            f"{f' and {more} more' if more > 0 else ''}")

    # 6. the frequency cap, across every campaign in the ledger
    if guard.frequency_cap is not None:
        eligible = [f == "send" for f in fate.tolist()]
        for i, (at, why) in guard.frequency_cap.apply(to, eligible, past.sends, moment).items():
            settle(i, "capped", why)
            sendable_at[i] = at

    # 7. quiet hours now and at each row's departure, with the limit
    quiet = guard.quiet_hours
    windows: dict[int, Any] = {}
    if quiet is not None:
        positions = [i for i in range(n) if fate[i] in GOING]
        for i, window in zip(positions, quiet.windows(frame.iloc[positions], moment),
                             strict=True):
            if window.problem is not None:
                problem = Problem(numbers_of[i], None, window.problem, "schedule")
                problems[i] = (problem,)
                settle(i, "skipped", str(problem))
            elif window.sendable_at is not None:
                settle(i, "deferred", _deferred_reason(quiet, window.zones, window.sendable_at))
                sendable_at[i] = window.sendable_at
            else:
                windows[i] = window
                closes_at[i] = window.closes_at
    else:
        warnings.append("quiet hours are off: messages may reach people at night "
                        "(Guardrails(quiet_hours=None))")
    slot, taken = 0, 0
    lookups = [i for i in range(n) if fate[i] == "lookup"]
    sends = [i for i in range(n) if fate[i] == "send"]
    order: list[int] = []
    for i in lookups + sends:
        if fate[i] == "send" and limit is not None and taken >= limit:
            settle(i, "waiting", f"waiting: beyond limit={limit:,}; the next run sends it")
            continue
        leaves = moment + timedelta(seconds=slot / pace)
        close = closes_at[i]
        if close is not None and leaves >= close:
            assert quiet is not None
            later = quiet.window(windows[i].zones, close).sendable_at or close
            settle(i, "deferred", _deferred_reason(quiet, windows[i].zones, later, closing=True))
            sendable_at[i], closes_at[i] = later, None
            continue
        departs[i] = slot / pace
        slot += 1
        order.append(i)
        if fate[i] == "send":
            taken += 1

    # 8. the budget, across this campaign's runs
    refusal: SendError | None = None
    budget = guard.budget
    costs: list[Decimal | None] = [None] * n
    chosen = [i for i in order if fate[i] == "send"]
    if budget is not None:
        for i, cost in zip(chosen, budget.costs([to[i] for i in chosen],
                                                segments[chosen].tolist()), strict=True):
            costs[i] = cost
        refused = budget.refusal([to[i] for i in chosen], segments[chosen].tolist(),
                                 [labels[i] for i in chosen], spent=past.spent)
        if refused is not None:
            fits = budget.fitting([to[i] for i in chosen], segments[chosen].tolist(),
                                  [labels[i] for i in chosen], spent=past.spent)
            for i in chosen[fits:]:
                settle(i, "over-budget", refused)
            refusal = LimitExceeded(refused)

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
    seconds = slot / pace
    if channel is not None and chosen:
        validity = provider_validity(channel)
        if validity is not None and seconds > validity[0]:
            warnings.append(
                f"the queue takes about {describe_duration(seconds)}, longer than "
                f"{validity[1]} of {describe_duration(validity[0])} ({validity[0]:,} s): "
                "messages still queued then expire unsent; send fewer rows (limit=) or raise "
                "the rate")

    index = frame.index
    table = pd.DataFrame(
        {
            "key": pd.Series(keys, index=index, dtype=object),
            "digest": pd.Series(digests, index=index, dtype=object),
            "fate": pd.Series(fate, index=index, dtype=object),
            "reason": pd.Series(reason, index=index, dtype=object),
            "sendable_at": _times(sendable_at, index),
            "closes_at": _times(closes_at, index),
            "departs": pd.Series(departs, index=index, dtype="float64"),
            "segments": pd.Series(segments, index=index, dtype="int64"),
            "cost": pd.Series(costs, index=index, dtype=object),
            "attempts": pd.Series(attempts, index=index, dtype="int64"),
            "message_id": pd.Series([earlier[i].message_id if i in earlier else None
                                     for i in range(n)], index=index, dtype=object),
            "sent_at": pd.Series([earlier[i].sent_at if i in earlier else None
                                  for i in range(n)], index=index, dtype=object),
            "problems": pd.Series([problems.get(i, ()) for i in range(n)], index=index,
                                  dtype=object),
        },
        index=index,
    )
    return Decisions(table, tuple(order), refusal, tuple(warnings), moment, pace, seconds,
                     past.spent, guard, key_column, fingerprint)
