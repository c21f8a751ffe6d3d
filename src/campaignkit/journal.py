"""The send journal: what was planned, in flight and done, per campaign and per row key.

A SQLite file in WAL mode. For every request the *intent* (``pending``) is committed before
the request leaves and the outcome after it (reliability.md §1.1: an intent record plus an
in-doubt state is the only way to get both losses and duplicates to zero). A row found
``pending`` on the next run was in flight when the sender died: it is reconciled (where the
channel can look a message up) or becomes ``unknown``; it is never resent blindly.

Row states (column ``status``):

``pending``   the request may have left; outcome not yet known
``sent``      the provider accepted it (live) -- never sent again
``dry-run``   the sandbox accepted it (dry run) -- never counts for a live run
``failed``    the provider refused it (``retry=0``: not sent again unless the row's content
              changes) or it could not be delivered to the provider at all (``retry=1``:
              certainly not processed, so the next run sends it)
``unknown``   the request may or may not have been processed: never resent automatically;
              `Journal.resolve` settles it

Dry-run and live records are kept apart (``mode``), so a dry run never counts as sent.
Nothing secret is ever written: keys, statuses, provider ids, redacted error text, digests.

>>> Journal("spring.journal.db")  # doctest: +SKIP
Journal('spring.journal.db')
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import socket
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from ._errors import CampaignChanged, JournalLocked, SendError

__all__ = [
    "Journal", "JournalWriter", "Mode", "Record", "Upsert", "default_journal_path", "resolve_hint",
]

Mode = Literal["live", "dry-run"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (
    campaign    TEXT NOT NULL,
    mode        TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'open',  -- open | done | paused | halted | interrupted
    resume_at   TEXT,                          -- UTC ISO time, when paused by a Retry-After
    note        TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (campaign, mode)
);
CREATE TABLE IF NOT EXISTS rows (
    campaign    TEXT NOT NULL,
    mode        TEXT NOT NULL,
    key         TEXT NOT NULL,
    row         TEXT,                 -- the sheet row label when last sent (for the reader)
    digest      TEXT NOT NULL,        -- sha256 of the rendered content (to, text, media, template)
    "to"        TEXT,                 -- the E.164 number (frequency caps across campaigns)
    status      TEXT NOT NULL,
    retry       INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    http_status INTEGER,
    message_id  TEXT,
    job_id      TEXT,
    error       TEXT,
    sent_at     TEXT,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (campaign, mode, key)
);
CREATE TABLE IF NOT EXISTS locks (
    campaign    TEXT PRIMARY KEY,
    token       TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    host        TEXT NOT NULL,
    heartbeat   REAL NOT NULL          -- time.time() of the holder's last sign of life
);
"""

#: A lock whose holder has not written a heartbeat for this long is free (a crashed holder
#: on another host, or a reused pid); on this host a dead pid frees it at once.
STALE_AFTER = 30.0


def _utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def default_journal_path(campaign: str, directory: str | os.PathLike[str] | None = None) -> Path:
    """``<directory or cwd>/<campaign>.journal.db``, the campaign name made file-safe."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in campaign).strip(".") or "_"
    return Path(directory if directory is not None else Path.cwd()) / f"{safe}.journal.db"


@dataclass(frozen=True, slots=True)
class Record:
    """One row of the journal, as the engine reads it back."""

    key: str
    row: str | None
    digest: str
    status: str
    retry: bool
    attempts: int
    http_status: int | None
    message_id: str | None
    job_id: str | None
    error: str | None
    sent_at: str | None


def _pid_alive(pid: int) -> bool:
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate the process on Windows
        return True  # rely on the heartbeat alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@dataclass(frozen=True)
class _Statement:
    """An upsert of journal rows as one statement of many ``VALUES`` rows."""

    head: str
    row: str  # the placeholders of one row
    tail: str
    width: int  # placeholders per row

    def run(self, db: sqlite3.Connection, params: Sequence[tuple[Any, ...]]) -> None:
        # One statement, not executemany: each step of executemany gives up and takes back
        # the GIL, and the writer thread waits for the event loop's thread each time.
        step = 999 // self.width  # SQLite's oldest limit of parameters per statement
        for start in range(0, len(params), step):
            chunk = params[start:start + step]
            db.execute(self.head + ", ".join([self.row] * len(chunk)) + self.tail,
                       [value for row in chunk for value in row])


_PENDING = _Statement(
    'INSERT INTO rows (campaign, mode, key, row, digest, "to", status, retry, attempts, '
    "updated_at) VALUES ",
    "(?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
    " ON CONFLICT (campaign, mode, key) DO UPDATE SET row = excluded.row, "
    'digest = excluded.digest, "to" = excluded."to", status = \'pending\', retry = 0, '
    "attempts = excluded.attempts, http_status = NULL, message_id = NULL, job_id = NULL, "
    "error = NULL, sent_at = NULL, updated_at = excluded.updated_at",
    8,
)
_OUTCOME = _Statement(
    "INSERT INTO rows (campaign, mode, key, row, digest, status, retry, attempts, "
    "http_status, message_id, job_id, error, sent_at, updated_at) VALUES ",
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    " ON CONFLICT (campaign, mode, key) DO UPDATE SET row = excluded.row, "
    "digest = excluded.digest, status = excluded.status, retry = excluded.retry, "
    "attempts = excluded.attempts, http_status = excluded.http_status, "
    "message_id = excluded.message_id, job_id = excluded.job_id, error = excluded.error, "
    "sent_at = excluded.sent_at, updated_at = excluded.updated_at",
    14,
)


@dataclass(frozen=True)
class Upsert:
    """A write of journal rows (`Journal.pending`, `Journal.outcome`) for `JournalWriter`.

    Callable like any write; the writer runs consecutive upserts of one kind as one
    statement. Rows are applied in order, so a row given twice ends as its last version.
    """

    statement: _Statement
    params: list[tuple[Any, ...]]

    def __call__(self, db: sqlite3.Connection) -> None:
        self.statement.run(db, self.params)


class Journal:
    """The SQLite send journal of one or more campaigns.

    Parameters
    ----------
    path:
        The database file (created when missing). `send` defaults to
        ``<campaign>.journal.db`` in the current directory.
    synchronous:
        SQLite's ``synchronous``: ``"FULL"`` (default) survives a power loss;
        ``"NORMAL"`` survives any process crash and is faster (sqlite.org/pragma.html).

    Examples
    --------
    >>> j = Journal(tmp / "spring.journal.db")  # doctest: +SKIP
    >>> j.unknown("spring")  # doctest: +SKIP
    ['+447700900123']
    >>> j.resolve("spring", ["+447700900123"], "sent")  # doctest: +SKIP
    1
    """

    def __init__(
        self, path: str | os.PathLike[str], *, synchronous: Literal["FULL", "NORMAL"] = "FULL"
    ) -> None:
        self.path = Path(path)
        # One connection shared by the caller's thread and the sender's loop thread.
        self._db = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._mutex = threading.RLock()
        # Held from BEGIN to COMMIT, which `JournalWriter` runs on two threads: a plain Lock,
        # since the thread that releases it is not the one that took it. Taken before _mutex.
        self._txn = threading.Lock()
        # Switching a new file to WAL ignores the busy timeout: a second process creating the
        # same journal at the same instant gets "database is locked" at once, so wait here.
        deadline = time.monotonic() + 30.0
        while True:
            try:
                with self._mutex:
                    self._db.execute("PRAGMA journal_mode=WAL")
                    self._db.execute(f"PRAGMA synchronous={synchronous}")
                    self._db.executescript(_SCHEMA)
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc):
                    raise
                if time.monotonic() > deadline:
                    self._db.close()
                    raise JournalLocked(
                        f"the journal {self.path} stayed locked by another process for 30 s; "
                        "wait for the other send to finish, or use another journal= path"
                    ) from None
                time.sleep(0.05)

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    def close(self) -> None:
        """Close the database connection."""
        with self._mutex:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._txn, self._mutex:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- the campaign lock -----------------------------------------------------------

    def acquire(self, campaign: str) -> str:
        """Take the campaign's lock; return its token. Raise `JournalLocked` when held."""
        token = uuid.uuid4().hex
        host = socket.gethostname()
        with self._write() as db:
            held = db.execute(
                "SELECT pid, host, heartbeat FROM locks WHERE campaign = ?", (campaign,)
            ).fetchone()
            if held is not None:
                pid, holder_host, heartbeat = held
                fresh = time.time() - heartbeat < STALE_AFTER
                alive = holder_host != host or _pid_alive(pid)
                if fresh and alive:
                    raise JournalLocked(
                        f'campaign "{campaign}" is being sent by process {pid} on {holder_host} '
                        f"(journal {self.path}); wait for it to finish or stop it, then run "
                        "again: rows it already sent will not be sent twice"
                    )
            db.execute(
                "INSERT OR REPLACE INTO locks VALUES (?, ?, ?, ?, ?)",
                (campaign, token, os.getpid(), host, time.time()),
            )
        return token

    def heartbeat(self, campaign: str, token: str) -> None:
        """Say the lock holder is alive (the sender calls this every few seconds)."""
        with self._write() as db:
            self.write_heartbeat(db, campaign, token)

    @staticmethod
    def write_heartbeat(db: sqlite3.Connection, campaign: str, token: str) -> None:
        """`heartbeat` inside the caller's transaction (`JournalWriter`)."""
        db.execute(
            "UPDATE locks SET heartbeat = ? WHERE campaign = ? AND token = ?",
            (time.time(), campaign, token),
        )

    def release(self, campaign: str, token: str) -> None:
        """Give the campaign's lock back (only the holder's token does)."""
        with self._write() as db:
            db.execute("DELETE FROM locks WHERE campaign = ? AND token = ?", (campaign, token))

    @contextlib.contextmanager
    def lock(self, campaign: str) -> Iterator[str]:
        """Hold the campaign's lock for a ``with`` block (raises `JournalLocked` when held)."""
        token = self.acquire(campaign)
        try:
            yield token
        finally:
            self.release(campaign, token)

    # -- campaigns -------------------------------------------------------------------

    def open_campaign(
        self, campaign: str, mode: Mode, fingerprint: dict[str, Any]
    ) -> dict[str, Any]:
        """Register ``campaign`` or check it is the same one; return its state row.

        A live campaign with a different fingerprint is refused with `CampaignChanged`. A dry
        run with a different fingerprint starts over (dry runs are for trying changes).
        """
        text = json.dumps(fingerprint, sort_keys=True, ensure_ascii=False, default=str)
        now = _utcnow()
        with self._write() as db:
            found = db.execute(
                "SELECT fingerprint, state, resume_at, note FROM campaigns "
                "WHERE campaign = ? AND mode = ?",
                (campaign, mode),
            ).fetchone()
            if found is not None and found[0] != text:
                if mode == "live":
                    before = json.loads(found[0])
                    changed = sorted(k for k in fingerprint.keys() | before.keys()
                                     if fingerprint.get(k) != before.get(k))
                    raise CampaignChanged(
                        f'campaign "{campaign}" was sent before with a different '
                        f"{' and '.join(changed)} (journal {self.path}); nothing was sent. "
                        "To send the new version, use a new campaign name "
                        f'(e.g. campaign="{campaign}-2")'
                    )
                db.execute("DELETE FROM rows WHERE campaign = ? AND mode = ?", (campaign, mode))
                db.execute("DELETE FROM campaigns WHERE campaign = ? AND mode = ?",
                           (campaign, mode))
                found = None
            if found is None:
                db.execute(
                    "INSERT INTO campaigns (campaign, mode, fingerprint, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (campaign, mode, text, now, now),
                )
                return {"state": "open", "resume_at": None, "note": None}
        return {"state": found[1], "resume_at": found[2], "note": found[3]}

    def set_state(
        self, campaign: str, mode: Mode, state: str, *, note: str | None = None,
        resume_at: str | None = None,
    ) -> None:
        """Record how the campaign's last run ended (``done``, ``paused``, ``halted``...)."""
        with self._write() as db:
            db.execute(
                "UPDATE campaigns SET state = ?, note = ?, resume_at = ?, updated_at = ? "
                "WHERE campaign = ? AND mode = ?",
                (state, note, resume_at, _utcnow(), campaign, mode),
            )

    def campaign_state(self, campaign: str, mode: Mode = "live") -> dict[str, Any] | None:
        """``{"state", "resume_at", "note"}`` of a campaign, or None when never sent."""
        with self._mutex:
            found = self._db.execute(
                "SELECT state, resume_at, note FROM campaigns WHERE campaign = ? AND mode = ?",
                (campaign, mode),
            ).fetchone()
        return None if found is None else {"state": found[0], "resume_at": found[1],
                                           "note": found[2]}

    # -- rows ------------------------------------------------------------------------

    def records(self, campaign: str, mode: Mode = "live") -> dict[str, Record]:
        """Every journaled row of a campaign, by key."""
        with self._mutex:
            cursor = self._db.execute(
                "SELECT key, row, digest, status, retry, attempts, http_status, message_id, "
                "job_id, error, sent_at FROM rows WHERE campaign = ? AND mode = ?",
                (campaign, mode),
            )
            return {
                r[0]: Record(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6], r[7], r[8], r[9],
                             r[10])
                for r in cursor
            }

    def mark_pending(
        self, campaign: str, mode: Mode, items: Sequence[tuple[str, str, str]], attempts: int,
        *, recipients: Sequence[str | None] | None = None,
    ) -> None:
        """Commit the intent for ``items`` = (key, row label, digest) before the request leaves.

        ``recipients`` are the items' E.164 numbers, kept for frequency caps across campaigns.
        """
        with self._write() as db:
            self.write_pending(db, campaign, mode, items, attempts, recipients=recipients)

    @staticmethod
    def write_pending(
        db: sqlite3.Connection, campaign: str, mode: Mode, items: Sequence[tuple[str, str, str]],
        attempts: int, *, recipients: Sequence[str | None] | None = None,
    ) -> None:
        """`mark_pending` inside the caller's transaction (`JournalWriter`)."""
        Journal.pending(campaign, mode, items, attempts, recipients=recipients)(db)

    @staticmethod
    def pending(
        campaign: str, mode: Mode, items: Sequence[tuple[str, str, str]], attempts: int,
        *, recipients: Sequence[str | None] | None = None,
    ) -> Upsert:
        """`write_pending` as a write for `JournalWriter`, which merges consecutive ones."""
        now = _utcnow()
        numbers = list(recipients) if recipients is not None else [None] * len(items)
        return Upsert(_PENDING, [(campaign, mode, k, r, d, number, attempts, now)
                                 for (k, r, d), number in zip(items, numbers, strict=True)])

    def mark_outcome(
        self, campaign: str, mode: Mode, items: Sequence[tuple[str, str, str]], *, status: str,
        retry: bool = False, attempts: int, http_status: int | None = None,
        message_id: str | None = None, job_id: str | None = None, error: str | None = None,
        sent_at: str | None = None,
    ) -> None:
        """Commit the outcome for ``items`` = (key, row label, digest)."""
        with self._write() as db:
            self.write_outcome(
                db, campaign, mode, items, status=status, retry=retry, attempts=attempts,
                http_status=http_status, message_id=message_id, job_id=job_id, error=error,
                sent_at=sent_at)

    @staticmethod
    def write_outcome(
        db: sqlite3.Connection, campaign: str, mode: Mode, items: Sequence[tuple[str, str, str]],
        *, status: str, retry: bool = False, attempts: int, http_status: int | None = None,
        message_id: str | None = None, job_id: str | None = None, error: str | None = None,
        sent_at: str | None = None,
    ) -> None:
        """`mark_outcome` inside the caller's transaction (`JournalWriter`)."""
        Journal.outcome(
            campaign, mode, items, status=status, retry=retry, attempts=attempts,
            http_status=http_status, message_id=message_id, job_id=job_id, error=error,
            sent_at=sent_at)(db)

    @staticmethod
    def outcome(
        campaign: str, mode: Mode, items: Sequence[tuple[str, str, str]], *, status: str,
        retry: bool = False, attempts: int, http_status: int | None = None,
        message_id: str | None = None, job_id: str | None = None, error: str | None = None,
        sent_at: str | None = None,
    ) -> Upsert:
        """`write_outcome` as a write for `JournalWriter`, which merges consecutive ones."""
        now = _utcnow()
        return Upsert(_OUTCOME, [(campaign, mode, k, r, d, status, int(retry), attempts,
                                  http_status, message_id, job_id, error, sent_at, now)
                                 for k, r, d in items])

    def forget(self, campaign: str, mode: Mode, keys: Iterable[str]) -> None:
        """Drop rows whose request was certainly not processed (the rows wait again)."""
        with self._write() as db:
            self.write_forget(db, campaign, mode, keys)

    @staticmethod
    def write_forget(db: sqlite3.Connection, campaign: str, mode: Mode,
                     keys: Iterable[str]) -> None:
        """`forget` inside the caller's transaction (`JournalWriter`)."""
        db.executemany(
            "DELETE FROM rows WHERE campaign = ? AND mode = ? AND key = ? "
            "AND (status = 'pending' OR (status = 'failed' AND retry = 1))",
            [(campaign, mode, k) for k in keys],
        )

    def unknown(self, campaign: str, mode: Mode = "live") -> list[str]:
        """Keys of the rows whose outcome is unknown, sorted."""
        return sorted(k for k, r in self.records(campaign, mode).items() if r.status == "unknown")

    def resolve(
        self, campaign: str, keys: Iterable[str], outcome: Literal["sent", "resend"],
        *, mode: Mode = "live",
    ) -> int:
        """Settle ``unknown`` rows after checking with the provider; return how many changed.

        ``"sent"`` records them as sent (never sent again); ``"resend"`` lets the next run of
        the campaign send them again. Only ``unknown`` rows are touched.
        """
        if outcome not in ("sent", "resend"):
            raise SendError(f'outcome must be "sent" or "resend", not {outcome!r}')
        keys = list(keys)
        with self._write() as db:
            if outcome == "sent":
                cursor = db.executemany(
                    "UPDATE rows SET status = 'sent', error = 'marked sent by hand', "
                    "updated_at = ? WHERE campaign = ? AND mode = ? AND key = ? "
                    "AND status = 'unknown'",
                    [(_utcnow(), campaign, mode, k) for k in keys],
                )
            else:
                cursor = db.executemany(
                    "DELETE FROM rows WHERE campaign = ? AND mode = ? AND key = ? "
                    "AND status = 'unknown'",
                    [(campaign, mode, k) for k in keys],
                )
            return cursor.rowcount

    def resolve_hint(self, campaign: str, keys: Sequence[str], mode: Mode = "live") -> str:
        """The one line telling how to settle ``keys`` (``unknown`` rows); see `resolve_hint`."""
        return resolve_hint(self.path, campaign, keys, mode)


def resolve_hint(
    path: str | os.PathLike[str], campaign: str, keys: Sequence[str], mode: Mode = "live"
) -> str:
    """One line: how many rows are unknown and the call that settles them.

    >>> hint = resolve_hint("spring.journal.db", "spring", ["+447700900001"])
    >>> hint[:56]
    '1 row is unknown (the provider may or may not have sent '
    >>> hint[-56:]
    "resolve('spring', ['+447700900001'], 'sent') or 'resend'"
    """
    journal = f"Journal({str(path)!r})"
    extra = "" if mode == "live" else f", mode={mode!r}"
    listed = repr(list(keys)) if len(keys) <= 3 else f"{journal}.unknown({campaign!r}{extra})"
    noun, it = ("row is", "it") if len(keys) == 1 else ("rows are", "them")
    return (
        f"{len(keys)} {noun} unknown (the provider may or may not have sent {it}): check with "
        f"the provider, then run {journal}.resolve({campaign!r}, {listed}, 'sent'{extra}) or "
        "'resend'"
    )


Work = Callable[[sqlite3.Connection], None]


class JournalWriter:
    """Commits a sender's journal writes in groups, the fsync off the event loop.

    A synchronous commit on the loop thread (an fsync under ``synchronous=FULL``) stalls
    every coroutine: requests released meanwhile start together and the fsyncs cap the
    throughput. Here each write is a function of the connection. The writes submitted while
    a commit is under way wait; when it ends they all run, in order, in *one* transaction
    (group commit: one fsync for many rows). The statements run on the loop's thread (in
    memory, microseconds); only ``COMMIT`` goes to the writer's thread, which wakes each
    writer's coroutine once it is durable. `run` therefore returns only once its write is
    durable, exactly like the synchronous methods; a transaction that fails rolls back
    whole and every coroutine in it gets the error.

    Why the split: SQLite gives up the GIL around every statement, so a thread running
    the statements waits for the busy loop thread at each one. Measured at 700 rows/s
    (`benchmarks/bench_send.py`): statements in the thread took 1.4 ms a commit, against
    0.1 ms on the loop. ``BEGIN`` waits on the loop while another process writes the same
    file (rare: `send` keeps a journal per campaign by default). Use it from the loop's
    thread only.

    >>> with JournalWriter(journal) as writer:  # doctest: +SKIP
    ...     await writer.run(lambda db: journal.write_forget(db, "spring", "live", ["k"]))
    """

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._queue: queue.SimpleQueue[list[_Batch] | None] = queue.SimpleQueue()
        self._closed = False
        # Writes submitted during this pass of the event loop, then those waiting for the
        # commit under way; `_committing` holds the writes of that commit.
        self._tick: _Batch | None = None
        self._waiting: list[_Batch] = []
        self._committing: list[_Batch] | None = None
        self._thread = threading.Thread(target=self._serve, name="campaignkit-journal",
                                        daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"JournalWriter({self.journal!r})"

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def run(self, work: Work) -> None:
        """Run ``work(db)`` in the writer's next transaction; return once it is committed.

        A cancelled caller stops waiting, but its write still commits (or fails) in order:
        `close` waits for it.
        """
        await self.submit(work)

    def submit(self, work: Work) -> asyncio.Future[None]:
        """Queue ``work(db)``; the future resolves once it is committed (or its batch failed).

        Writes are committed in the order submitted, so a later write to the same row (the
        next attempt's intent) never lands before an earlier one.
        """
        if self._closed:
            raise RuntimeError("the journal writer is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        if self._tick is None:
            self._tick = _Batch(loop)
            loop.call_soon(self._flush)  # after every write of this pass
        self._tick.works.append(work)
        self._tick.futures.append(future)
        return future

    def _flush(self) -> None:
        """On the loop: this pass's writes wait; start a transaction unless one commits."""
        self._take_tick()
        while self._waiting and self._committing is None and not self._closed:
            batches, self._waiting = self._waiting, []
            try:
                self._execute(batches)
            except BaseException as exc:  # rolled back: every writer in it gets the error
                for batch in batches:
                    batch.settle(exc)
                continue
            self._committing = batches
            self._queue.put(batches)

    def _take_tick(self) -> None:
        if self._tick is not None:
            self._waiting.append(self._tick)
            self._tick = None

    def _execute(self, batches: list[_Batch]) -> None:
        """BEGIN and every write of ``batches``, or ROLLBACK and raise.

        On success the journal's transaction lock stays held until `_commit` releases it.
        """
        db = self.journal._db
        self.journal._txn.acquire()
        try:
            with self.journal._mutex:
                db.execute("BEGIN IMMEDIATE")
                try:
                    for work in _merged(w for batch in batches for w in batch.works):
                        work(db)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
        except BaseException:
            self.journal._txn.release()
            raise

    def _commit(self) -> None:
        """COMMIT the transaction `_execute` began (ROLLBACK if that fails), then unlock."""
        db = self.journal._db
        try:
            with self.journal._mutex:
                try:
                    db.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                    raise
        finally:
            self.journal._txn.release()

    def _committed(self, batches: list[_Batch], error: BaseException | None) -> None:
        """On the loop: the commit of ``batches`` ended; the waiting writes go next."""
        if self._committing is batches:
            self._committing = None
        for batch in batches:
            batch.settle(error)
        self._flush()

    def close(self) -> None:
        """Commit every write submitted so far, then stop the thread (idempotent).

        Called on the loop's thread, which cannot run callbacks meanwhile: the commit under
        way is waited for, and the writes behind it are committed here.
        """
        if self._closed:
            self._thread.join()
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()  # the commit under way has ended (its callback is queued)
        self._take_tick()
        batches, self._waiting = self._waiting, []
        if batches:
            error: BaseException | None = None
            try:
                self._execute(batches)
                self._commit()
            except BaseException as exc:
                error = exc
            for batch in batches:
                batch.settle(error)
            if error is not None:
                raise error

    def _serve(self) -> None:
        while (batches := self._queue.get()) is not None:
            error: BaseException | None = None
            try:
                self._commit()
            except BaseException as exc:  # reported to every waiting coroutine
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                batches[0].loop.call_soon_threadsafe(self._committed, batches, error)


def _merged(works: Iterable[Work]) -> list[Work]:
    """``works`` in order, each run of upserts of one statement joined into one upsert."""
    out: list[Work] = []
    for work in works:
        last = out[-1] if out else None
        if (isinstance(work, Upsert) and isinstance(last, Upsert)
                and last.statement is work.statement):
            out[-1] = Upsert(work.statement, last.params + work.params)
        else:
            out.append(work)
    return out


@dataclass
class _Batch:
    """The writes of one event-loop pass and the futures of their callers."""

    loop: asyncio.AbstractEventLoop
    works: list[Work] = field(default_factory=list)
    futures: list[asyncio.Future[None]] = field(default_factory=list)

    def settle(self, error: BaseException | None) -> None:
        for future in self.futures:
            if future.done():  # the caller was cancelled
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
