"""The per-row reference of `campaignkit.results.build_results`, kept verbatim.

tests/test_results_equal.py checks that the vectorised ``build_results`` gives exactly the
frame this loop gives.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from campaignkit.decisions import Decisions
from campaignkit.ledger import Record
from campaignkit.results import RESULT_COLUMNS


def reference_build_results(
    frame: pd.DataFrame, decisions: Decisions, records: dict[str, Record],
    late: dict[int, datetime], attrs: dict[str, Any],
) -> pd.DataFrame:
    """The results frame of a run: ``frame`` plus `RESULT_COLUMNS`, one status per row.

    Rows that made a request take their outcome from the ledger (``records``, by key);
    rows settled before any request take their fate from ``decisions``; ``late`` holds the
    rows whose window closed before their slot (deferred). A refused run (``attrs`` from a
    refusal, no records) reports its sendable rows ``waiting``.
    """
    out = frame.copy()
    for name in RESULT_COLUMNS:
        if name in out.columns:
            out = out.rename(columns={name: f"{name} (sheet)"})
    table = decisions.table
    n = len(table)
    keys, fates = table["key"].tolist(), table["fate"].tolist()
    reasons = table["reason"].tolist()
    earlier_ids, earlier_at = table["message_id"].tolist(), table["sent_at"].tolist()
    attempts_before = table["attempts"].tolist()
    held_until = [None if pd.isna(t) else t for t in table["sendable_at"]]
    status: list[Any] = [None] * n
    error: list[Any] = [None] * n
    message_id: list[Any] = [None] * n
    job_id: list[Any] = [None] * n
    http_status: list[Any] = [None] * n
    attempts: list[int] = [0] * n
    sent_at: list[Any] = [None] * n
    sendable_at: list[Any] = [None] * n
    for i in range(n):
        fate = fates[i]
        if fate in ("send", "lookup"):
            record = records.get(keys[i])
            if i in late:
                status[i], sendable_at[i] = "deferred", late[i]
                error[i] = ("quiet hours: the recipient's window closed before the message's "
                            f"turn; sendable at {late[i]:%Y-%m-%d %H:%M} UTC")
            elif record is not None:
                status[i] = "unknown" if record.status == "pending" else record.status
                error[i], message_id[i], job_id[i] = record.error, record.message_id, record.job_id
                http_status[i], attempts[i] = record.http_status, record.attempts
                sent_at[i] = record.sent_at
            elif fate == "lookup":
                status[i], error[i] = "unknown", (
                    f"{reasons[i]}; a live run asks the provider before sending it")
            else:
                status[i] = "waiting"
            continue
        status[i] = "skipped" if fate == "changed" else fate
        error[i] = reasons[i]
        attempts[i] = attempts_before[i]
        if fate in ("already-sent", "failed", "unknown"):
            message_id[i], sent_at[i] = earlier_ids[i], earlier_at[i]
        if fate in ("deferred", "capped"):
            sendable_at[i] = held_until[i]
    index = out.index
    out["key"] = pd.Series([k or None for k in keys], index=index, dtype="str")
    out["status"] = pd.Series(status, index=index, dtype="str")
    out["error"] = pd.Series(error, index=index, dtype="str")
    out["message_id"] = pd.Series(message_id, index=index, dtype="str")
    out["job_id"] = pd.Series(job_id, index=index, dtype="str")
    out["http_status"] = pd.Series(http_status, index=index, dtype="Int64")
    out["attempts"] = pd.Series(attempts, index=index, dtype="int64")
    out["sent_at"] = _utc(sent_at, index)
    out["sendable_at"] = _utc(sendable_at, index)
    out.attrs = {**frame.attrs, **attrs}
    return out


def _utc(values: list[Any], index: pd.Index) -> pd.Series:
    moments = pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")
    return pd.Series(moments.array, index=index).astype("datetime64[us, UTC]")
