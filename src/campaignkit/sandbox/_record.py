"""The record: every message the sandbox accepted, durably in SQLite (the ground truth).

A test counts what a provider would have received from here, never from the client's own
belief (docs/reliability.md#ground-truth-the-sandboxs-record), also after the client or the
sandbox was killed.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMNS", "Accepted", "Record", "read_record"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accepted (
    seq         INTEGER PRIMARY KEY,
    request     INTEGER NOT NULL,
    provider    TEXT NOT NULL,
    account     TEXT NOT NULL,
    channel     TEXT NOT NULL,
    "to"        TEXT NOT NULL,
    text        TEXT,
    reference   TEXT,
    message_id  TEXT,
    job_id      TEXT,
    received_at TEXT NOT NULL,
    body        TEXT NOT NULL,
    response    TEXT
)
"""
#: the columns of `Sandbox.accepted` and `read_record`, in order
COLUMNS = (
    "seq", "request", "provider", "account", "channel", "to", "text", "reference",
    "message_id", "job_id", "received_at", "body", "response",
)
_STR_COLUMNS = ("provider", "account", "channel", "to", "text", "reference", "message_id",
                "job_id")


@dataclass(frozen=True, slots=True)
class Accepted:
    """One message as the provider received it (one row per recipient)."""

    provider: str  # "sociocs", "textus" or "bird"
    account: str  # Sociocs API key fingerprint, TextUs account slug, Bird workspace
    channel: str  # Sociocs channel key fingerprint, TextUs "sms"/"whatsapp", Bird channel id
    to: str  # E.164 with "+"
    text: str | None
    reference: str | None  # Bird's caller-chosen reference
    message_id: str | None
    job_id: str | None  # Sociocs bulk job
    received_at: str  # ISO 8601 UTC with milliseconds
    body: dict[str, Any]  # the request body, secrets masked
    response: dict[str, Any] | None = None  # the provider's answer for this message


class Record:
    """An append-only SQLite table of accepted messages (WAL; committed before the reply)."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = None if path is None else Path(path)
        target = ":memory:" if self.path is None else str(self.path)
        # One connection shared by the sandbox's threads, guarded by our own lock.
        self._conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            if self.path is not None:
                self._conn.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL survives a crash of either process (kill -9); only a power
                # loss may lose the last commits (sqlite.org/pragma.html#pragma_synchronous).
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)
            # Bird's lookup by reference (reconciliation) reads one message, not the record.
            self._conn.execute(
                "CREATE INDEX IF NOT EXISTS accepted_reference ON accepted (reference)")
            # The follow-up reads: one message by id, every message to one number.
            self._conn.execute(
                "CREATE INDEX IF NOT EXISTS accepted_message_id ON accepted (message_id)")
            self._conn.execute('CREATE INDEX IF NOT EXISTS accepted_to ON accepted ("to")')

    def requests_so_far(self) -> int:
        """How many requests were accepted before (continues numbering after a restart)."""
        with self._lock:
            row = self._conn.execute("SELECT COALESCE(MAX(request), 0) FROM accepted").fetchone()
        return int(row[0])

    def add(self, request: int, messages: Sequence[Accepted]) -> None:
        """Commit the messages of one accepted request, all or none."""
        rows = [
            (request, m.provider, m.account, m.channel, m.to, m.text, m.reference, m.message_id,
             m.job_id, m.received_at, json.dumps(m.body, ensure_ascii=False),
             None if m.response is None else json.dumps(m.response, ensure_ascii=False))
            for m in messages
        ]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    'INSERT INTO accepted (request, provider, account, channel, "to", text, '
                    "reference, message_id, job_id, received_at, body, response) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, where: str = "", params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts (``body``/``response`` decoded), oldest first."""
        with self._lock:
            return _select(self._conn, where, params)

    def frame(self) -> pd.DataFrame:
        """Every accepted message as a DataFrame (see `read_record`)."""
        return _frame(self.query())

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _select(conn: sqlite3.Connection, where: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    sql = "SELECT " + ", ".join(f'"{c}"' for c in COLUMNS) + " FROM accepted"
    if where:
        sql += " WHERE " + where
    rows = conn.execute(sql + " ORDER BY seq", tuple(params)).fetchall()
    out = []
    for row in rows:
        item = dict(zip(COLUMNS, row, strict=True))
        item["body"] = json.loads(item["body"])
        item["response"] = None if item["response"] is None else json.loads(item["response"])
        out.append(item)
    return out


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd  # only readers of the record need pandas, not the server

    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame = frame.astype({"seq": "int64", "request": "int64", **dict.fromkeys(_STR_COLUMNS, "str")})
    frame["received_at"] = pd.to_datetime(frame["received_at"], utc=True, format="ISO8601")
    frame["body"] = frame["body"].astype(object)
    frame["response"] = frame["response"].astype(object)
    return frame


def read_record(path: str | Path) -> pd.DataFrame:
    """Every message a sandbox recorded at ``path``, readable from any other process.

    Opens the SQLite file read-only, so it works while the sandbox is running or after it
    (or its client) was killed. Columns: ``seq request provider account channel to text
    reference message_id job_id received_at body response``; one row per recipient.

    Examples
    --------
    >>> read_record(tmp_path / "record.sqlite")["to"].value_counts()  # doctest: +SKIP
    """
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    try:
        return _frame(_select(conn, "", ()))
    finally:
        conn.close()
