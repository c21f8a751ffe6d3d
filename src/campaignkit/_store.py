"""What happened after the send, kept in the ledger: deliveries and replies.

`OutcomeStore` is what `refresh`, `replies`, `report` and ``campaignkit listen`` need of a
store; `OutcomeTables` implements it on the ledger's own database (tables ``delivery`` and
``reply``, the suppression list shared with the sends), so a re-run hours later asks only
about rows not yet final, and a STOP reply holds back the next campaign's message to that
number. Writes are idempotent: saving the same delivery or reply again changes nothing (a
replayed webhook, a re-run refresh), and a final state is never replaced by an earlier one.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

__all__ = ["OUTCOME_SCHEMA", "DeliveryRecord", "OutcomeStore", "OutcomeTables", "ReplyKind",
           "ReplyRecord"]

ReplyKind = Literal["stop", "review", "reply"]

OUTCOME_SCHEMA = """
CREATE TABLE IF NOT EXISTS delivery (
    campaign        TEXT NOT NULL,
    key             TEXT NOT NULL,
    "to"            TEXT,
    message_id      TEXT,
    job_id          TEXT,
    sent_at         TEXT,
    delivery        TEXT,
    provider_status TEXT,
    delivery_at     TEXT,
    error_code      TEXT,
    error_text      TEXT,
    segments_billed INTEGER,
    checked_at      TEXT NOT NULL,
    final           INTEGER NOT NULL DEFAULT 0,
    reconciled      TEXT,
    PRIMARY KEY (campaign, key)
);
CREATE INDEX IF NOT EXISTS delivery_message_id ON delivery (message_id);
CREATE TABLE IF NOT EXISTS reply (
    provider_id TEXT PRIMARY KEY,
    provider    TEXT NOT NULL,
    number      TEXT NOT NULL,
    text        TEXT,
    received_at TEXT,
    kind        TEXT NOT NULL,
    campaign    TEXT,
    key         TEXT
);
CREATE INDEX IF NOT EXISTS reply_received_at ON reply (received_at);
"""
_DELIVERY_COLUMNS = ("campaign", "key", "to", "message_id", "job_id", "sent_at", "delivery",
                     "provider_status", "delivery_at", "error_code", "error_text",
                     "segments_billed", "checked_at", "final", "reconciled")


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """What is known of one row's message (one row of the ``delivery`` table)."""

    campaign: str
    key: str
    to: str | None
    message_id: str | None
    job_id: str | None
    sent_at: datetime | None
    delivery: str | None
    provider_status: str | None
    delivery_at: datetime | None
    error_code: str | None
    error_text: str | None
    segments_billed: int | None
    checked_at: datetime
    final: bool
    reconciled: str | None = None  # "found" | "absent" | "absent-once" | None


@dataclass(frozen=True, slots=True)
class ReplyRecord:
    """One incoming message (one row of the ``reply`` table)."""

    provider_id: str
    provider: str
    number: str
    text: str | None
    received_at: datetime | None
    kind: ReplyKind
    campaign: str | None = None
    key: str | None = None


class OutcomeStore(Protocol):
    """Where outcomes persist: `campaignkit.Ledger` (see the module docstring)."""

    def deliveries(self, campaign: str) -> dict[str, DeliveryRecord]:
        """Every delivery record of ``campaign``, by row key."""
        ...

    def delivery_by_message_id(self, message_id: str) -> DeliveryRecord | None:
        """The record of the message with this provider id (a webhook names only that)."""
        ...

    def save_deliveries(self, records: Sequence[DeliveryRecord]) -> int:
        """Upsert by (campaign, key), never replacing a final state; count the changes."""
        ...

    def save_replies(self, replies: Sequence[ReplyRecord]) -> list[ReplyRecord]:
        """Insert replies not yet stored (by ``provider_id``); returns the new ones."""
        ...

    def replies(self, since: datetime | None = None) -> list[ReplyRecord]:
        """Stored replies received at or after ``since``, oldest first."""
        ...

    def last_sent_to(self, number: str, before: datetime | None) -> tuple[str, str] | None:
        """(campaign, key) of the latest message sent to ``number`` before ``before``."""
        ...

    def suppress(self, numbers: Iterable[str], *, reason: str, source: str = "user") -> int:
        """Never text ``numbers`` again; return how many were new (the first reason stays)."""
        ...

    def suppressed(self) -> dict[str, str]:
        """Every suppressed number with its reason."""
        ...


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _dt(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class OutcomeTables:
    """`OutcomeStore` on the ledger's connection (mixed into `campaignkit.Ledger`).

    The host provides ``_read(sql, params)`` (rows) and ``_write(doing)`` (a transaction).
    """

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError  # pragma: no cover - the Ledger's

    def _write(self, doing: str = "writing") -> contextlib.AbstractContextManager[
            sqlite3.Connection]:
        raise NotImplementedError  # pragma: no cover - the Ledger's

    @staticmethod
    def _delivery(row: Sequence[Any]) -> DeliveryRecord:
        item = dict(zip(_DELIVERY_COLUMNS, row, strict=True))
        for name in ("sent_at", "delivery_at", "checked_at"):
            item[name] = _dt(item[name])
        item["final"] = bool(item["final"])
        return DeliveryRecord(**item)

    def _deliveries(self, where: str, params: Sequence[Any]) -> list[DeliveryRecord]:
        columns = ", ".join(f'"{c}"' for c in _DELIVERY_COLUMNS)
        return [self._delivery(r) for r in
                self._read(f"SELECT {columns} FROM delivery WHERE {where}", params)]

    def deliveries(self, campaign: str) -> dict[str, DeliveryRecord]:
        """Every delivery record of ``campaign``, by row key."""
        return {r.key: r for r in self._deliveries("campaign = ?", (campaign,))}

    def delivery_by_message_id(self, message_id: str) -> DeliveryRecord | None:
        """The record of the message with this provider id."""
        found = self._deliveries("message_id = ?", (message_id,))
        return found[0] if found else None

    def save_deliveries(self, records: Sequence[DeliveryRecord]) -> int:
        """Upsert by (campaign, key), never moving a final state back; count the changes."""
        columns = ", ".join(f'"{c}"' for c in _DELIVERY_COLUMNS)
        changed = 0
        with self._write("recording deliveries") as db:
            for record in records:
                old = db.execute(f"SELECT {columns} FROM delivery WHERE campaign = ? AND key = ?",
                                 (record.campaign, record.key)).fetchone()
                if old is not None:
                    before = self._delivery(old)
                    if before.final and not record.final:
                        continue  # a late or replayed "sent" after "delivered"
                    if replace(before, checked_at=record.checked_at) == record:
                        continue
                values = [_iso(v) if isinstance(v, datetime) else v
                          for v in (getattr(record, c) for c in _DELIVERY_COLUMNS)]
                values[_DELIVERY_COLUMNS.index("final")] = int(record.final)
                db.execute(f"INSERT OR REPLACE INTO delivery ({columns}) VALUES "
                           f"({', '.join('?' * len(_DELIVERY_COLUMNS))})", values)
                changed += 1
        return changed

    def last_sent_to(self, number: str, before: datetime | None) -> tuple[str, str] | None:
        """(campaign, key) of the latest live message sent to ``number`` before ``before``."""
        sql = ('SELECT campaign, key FROM rows WHERE "to" = ? AND mode = \'live\' AND '
               "status = 'sent' AND sent_at IS NOT NULL")
        params: list[Any] = [number]
        if before is not None:
            sql += " AND sent_at <= ?"
            params.append(_iso(before))
        found = self._read(sql + " ORDER BY sent_at DESC LIMIT 1", params)
        return None if not found else (found[0][0], found[0][1])

    def save_replies(self, replies: Sequence[ReplyRecord]) -> list[ReplyRecord]:
        """Insert replies not stored yet (by ``provider_id``); returns the new ones."""
        new = []
        with self._write("recording replies") as db:
            for r in replies:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO reply (provider_id, provider, number, text, "
                    "received_at, kind, campaign, key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (r.provider_id, r.provider, r.number, r.text, _iso(r.received_at),
                     r.kind, r.campaign, r.key))
                if cursor.rowcount:
                    new.append(r)
        return new

    def replies(self, since: datetime | None = None) -> list[ReplyRecord]:
        """Stored replies received at or after ``since``, oldest first."""
        sql = ("SELECT provider_id, provider, number, text, received_at, kind, campaign, key "
               "FROM reply")
        params: tuple[Any, ...] = ()
        if since is not None:
            sql += " WHERE received_at >= ?"
            params = (_iso(since),)
        rows = self._read(sql + " ORDER BY received_at, provider_id", params)
        return [ReplyRecord(r[0], r[1], r[2], r[3], _dt(r[4]), r[5], r[6], r[7]) for r in rows]

    def suppressed(self) -> dict[str, str]:
        """Every suppressed number with its reason."""
        return dict(self._read("SELECT number, reason FROM suppressions ORDER BY number"))
