"""The ledger: every message of every campaign, per person, across runs, folders and processes.

One SQLite database (WAL) per user, found without the user passing anything: the
``ledger=`` argument, else the ``CAMPAIGNKIT_LEDGER`` environment variable, else
``ledger.db`` in the per-user data folder (`platformdirs`). Never the current folder, never
beside the results, never named by a campaign file: the same campaign run from another
folder, with another results file or from another process finds the same ledger.

For every request the *intent* (``pending``) is committed before the request leaves and the
outcome after it: an intent record plus an in-doubt state is the only way to get both
losses and duplicates to zero (docs/reliability.md#the-ledger). Row states (``status``):

``pending``   the request may have left; outcome not yet known
``sent``      the provider accepted it -- never sent again
``failed``    the provider refused it (``retry=0``: not sent again unless the content
              changes) or it could not be delivered to the provider at all (``retry=1``:
              certainly not processed, so the next run sends it)
``unknown``   the request may or may not have been processed: never resent blindly;
              a channel that can look messages up settles it on a later run, else
              `Ledger.resolve` (or ``campaignkit ledger resolve``) does

What the ledger holds besides: the campaigns' fingerprints (a changed message under the
same name is refused), the numbers never to text again (`Ledger.suppress`), each row's
segments and estimated cost (budgets are per campaign, across runs), what happened after
the send (deliveries and replies, `campaignkit.refresh`), and one *claim* per
campaign being sent: an OS-level file lock held for the whole run (a paused process keeps
it; a dead one loses it at once) plus a fencing token checked in the same transaction as
every intent, so a process that lost its claim can never write an intent, hence never send.

Dry runs never write the ledger, and live sends aimed at the sandbox on loopback keep a
ledger of their own beside it (`sandbox_ledger_path`): trying things never marks a real
recipient as texted. Nothing secret is ever written: keys, numbers, statuses, provider ids,
redacted error text, digests.

>>> Ledger(tmp / "ledger.db")  # doctest: +SKIP
Ledger('.../ledger.db')
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import os
import queue
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import platformdirs
from filelock import FileLock, Timeout

from ._errors import CampaignChanged, CampaignLocked, ClaimLost, LedgerError, SendError
from ._store import OUTCOME_SCHEMA, OutcomeTables

__all__ = [
    "COUNTED",
    "ENV_VAR",
    "Claim",
    "History",
    "Ledger",
    "LedgerWriter",
    "Mode",
    "Record",
    "Spend",
    "Upsert",
    "default_ledger_path",
    "locate_ledger",
    "resolve_hint",
    "sandbox_ledger_path",
]

Mode = Literal["live", "dry-run"]
#: the environment variable naming the ledger's file
ENV_VAR = "CAMPAIGNKIT_LEDGER"
#: statuses that mean "this message may have reached the person": never sent again, and
#: counted by frequency caps and budgets
COUNTED = ("sent", "pending", "unknown")
#: the schema this code writes (PRAGMA user_version); 0 is a journal of campaignkit 0.1,
#: 3 added what happened after the send (deliveries, replies)
SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS campaigns (
    campaign    TEXT NOT NULL,
    mode        TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'open',  -- open | done | paused | halted | stopped...
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
    digest      TEXT,                 -- sha256 of the content (to, text, media, template)
    "to"        TEXT,                 -- the E.164 number
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
CREATE TABLE IF NOT EXISTS claims (
    campaign    TEXT PRIMARY KEY,
    token       TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    host        TEXT NOT NULL,
    since       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS suppressions (
    number      TEXT PRIMARY KEY,
    reason      TEXT NOT NULL,
    source      TEXT NOT NULL,
    added_at    TEXT NOT NULL
);
"""
# Columns added by schema 2 to a journal's ``rows`` (ALTER TABLE keeps old journals readable).
_ADDED_COLUMNS = (("attempted_at", "TEXT"), ("segments", "INTEGER"), ("cost", "TEXT"))
_INDEXES = """
CREATE INDEX IF NOT EXISTS rows_by_digest ON rows (campaign, mode, digest);
CREATE INDEX IF NOT EXISTS rows_by_number ON rows ("to", mode);
"""

#: how long a writer waits for another process's transaction before giving up
BUSY_TIMEOUT = 30.0


def _utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def default_ledger_path() -> Path:
    """``ledger.db`` in the per-user data folder (e.g. ``~/.local/share/campaignkit``)."""
    return platformdirs.user_data_path("campaignkit", appauthor=False) / "ledger.db"


def locate_ledger(ledger: str | os.PathLike[str] | None = None) -> Path:
    """The ledger's path: ``ledger``, else ``$CAMPAIGNKIT_LEDGER``, else the per-user default.

    >>> locate_ledger("/srv/clinic/ledger.db")
    PosixPath('/srv/clinic/ledger.db')
    """
    if ledger is not None:
        return Path(ledger).expanduser()
    named = os.environ.get(ENV_VAR, "").strip()
    return Path(named).expanduser() if named else default_ledger_path()


def sandbox_ledger_path(path: str | os.PathLike[str]) -> Path:
    """Where live sends to the sandbox are recorded: beside the ledger, never in it.

    >>> sandbox_ledger_path("/srv/clinic/ledger.db")
    PosixPath('/srv/clinic/ledger.sandbox.db')
    """
    path = Path(path)
    return path.with_name(f"{path.stem}.sandbox{path.suffix or '.db'}")


@dataclass(frozen=True, slots=True)
class Record:
    """One row of the ledger, as the engine reads it back."""

    key: str
    row: str | None
    digest: str | None
    status: str
    retry: bool
    attempts: int
    http_status: int | None
    message_id: str | None
    job_id: str | None
    error: str | None
    sent_at: str | None
    to: str | None = None
    attempted_at: str | None = None
    segments: int | None = None
    cost: str | None = None
    updated_at: str | None = None

    @property
    def counted(self) -> bool:
        """Whether the message may have reached the person (sent, pending or unknown)."""
        return self.status in COUNTED

    @property
    def moment(self) -> datetime | None:
        """When it was sent, else last attempted, else last written (UTC)."""
        when = self.sent_at or self.attempted_at or self.updated_at
        return None if when is None else _aware(datetime.fromisoformat(when))


@dataclass(frozen=True, slots=True)
class Spend:
    """What a campaign has sent (or may have sent) so far: for budgets across runs."""

    messages: int = 0
    segments: int = 0
    cost: Decimal = Decimal(0)

    def __bool__(self) -> bool:
        return bool(self.messages or self.segments or self.cost)


@dataclass(frozen=True)
class History:
    """What the ledger knows that decides a run, read once before deciding (a snapshot).

    Attributes
    ----------
    records
        This campaign's rows by key.
    by_digest
        This campaign's rows that may have reached the person, by content digest: the same
        message to the same number under another key is already sent.
    sends
        Live sends per number within the frequency cap's period, across every campaign.
    suppressed
        Numbers never to text again, with the reason.
    spent
        This campaign's messages, segments and cost so far.
    fingerprint
        How the campaign was first sent (channel and message), or None.
    """

    records: Mapping[str, Record] = field(default_factory=dict)
    by_digest: Mapping[str, Record] = field(default_factory=dict)
    sends: Mapping[str, Sequence[datetime]] = field(default_factory=dict)
    suppressed: Mapping[str, str] = field(default_factory=dict)
    spent: Spend = field(default_factory=Spend)
    fingerprint: dict[str, Any] | None = None


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# -- errors a user can act on ---------------------------------------------------------------

def _ledger_error(exc: BaseException, path: Path, doing: str) -> LedgerError:
    """One sentence for a SQLite or OS error on the ledger: the path, what failed, the fix."""
    text = str(exc).lower()
    if "full" in text or getattr(exc, "errno", None) == 28:
        why = (f"the disk holding the ledger {path} is full while {doing}; free some space and "
               "run again (nothing was sent after the ledger stopped taking writes)")
    elif "readonly" in text or "read-only" in text or isinstance(exc, PermissionError) or (
            "unable to open" in text and path.parent.exists()):
        why = (f"the ledger {path} cannot be written ({doing}): the file or its folder is "
               f"read-only; make it writable, or point {ENV_VAR} (or ledger=) at a writable "
               "file")
    elif "not a database" in text or "malformed" in text or "corrupt" in text:
        why = (f"the ledger {path} is damaged ({doing}: {exc}); restore it from a backup "
               "(campaignkit ledger backup makes one), or move it aside to start a new one, "
               "which forgets what was sent")
    elif "locked" in text or "busy" in text:
        why = (f"the ledger {path} stayed locked by another process for "
               f"{BUSY_TIMEOUT:g} s while {doing}; wait for the other send to finish and run "
               "again")
    elif "unable to open" in text:
        why = (f"the ledger {path} cannot be opened: its folder {path.parent} does not exist "
               f"and could not be made; point {ENV_VAR} (or ledger=) at a file in a folder "
               "that exists")
    else:
        why = f"the ledger {path} failed while {doing}: {exc}"
    return LedgerError(why)


@contextlib.contextmanager
def _translated(path: Path, doing: str) -> Iterator[None]:
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise _ledger_error(exc, path, doing) from None


# -- statements -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Statement:
    """An upsert of ledger rows as one statement of many ``VALUES`` rows."""

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
            db.execute(self.sql(len(chunk)), [value for row in chunk for value in row])

    @functools.lru_cache(maxsize=256)  # noqa: B019 - a few module-level statements
    def sql(self, rows: int) -> str:
        """The statement's text for ``rows`` rows (made once per size: SQLite's own
        statement cache then finds it again)."""
        return self.head + ", ".join([self.row] * rows) + self.tail


_PENDING = _Statement(
    'INSERT INTO rows (campaign, mode, key, row, digest, "to", status, retry, attempts, '
    "segments, cost, attempted_at, updated_at) VALUES ",
    "(?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?)",
    " ON CONFLICT (campaign, mode, key) DO UPDATE SET row = excluded.row, "
    'digest = excluded.digest, "to" = excluded."to", status = \'pending\', retry = 0, '
    "attempts = excluded.attempts, http_status = NULL, message_id = NULL, job_id = NULL, "
    "error = NULL, sent_at = NULL, segments = excluded.segments, cost = excluded.cost, "
    "attempted_at = excluded.attempted_at, updated_at = excluded.updated_at",
    11,
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
class Fence:
    """The claim a write needs: the campaign's token in ``claims`` must still be ``token``."""

    campaign: str
    token: str

    def check(self, db: sqlite3.Connection) -> None:
        held = db.execute("SELECT token, pid, host FROM claims WHERE campaign = ?",
                          (self.campaign,)).fetchone()
        if held is None or held[0] != self.token:
            holder = "nobody" if held is None else f"process {held[1]} on {held[2]}"
            raise ClaimLost(
                f'this process no longer holds campaign "{self.campaign}" (now held by '
                f"{holder}), so it sent nothing more; rows it sent are in the ledger. Run the "
                "campaign again once the other run has finished"
            )


@dataclass(frozen=True)
class Upsert:
    """A write of ledger rows (`Ledger.pending`, `Ledger.outcome`) for `LedgerWriter`.

    Callable like any write; the writer runs consecutive upserts of one kind as one
    statement. Rows are applied in order, so a row given twice ends as its last version.
    An upsert with a ``fence`` first checks that the campaign's claim is still held, in
    the same transaction: an intent is never written by a process that lost its claim.
    """

    statement: _Statement
    params: list[tuple[Any, ...]]
    fence: Fence | None = None

    def __call__(self, db: sqlite3.Connection) -> None:
        if self.fence is not None:
            self.fence.check(db)
        self.statement.run(db, self.params)


Entry = tuple[str, str, str]  # (key, row label, digest)


class Claim:
    """A campaign held by this process: an OS file lock plus the fencing token in the ledger."""

    def __init__(self, ledger: Ledger, campaign: str, token: str, lock: FileLock | None) -> None:
        self.ledger, self.campaign, self.token, self._lock = ledger, campaign, token, lock

    @property
    def fence(self) -> Fence:
        """What every intent of this run checks."""
        return Fence(self.campaign, self.token)

    def release(self) -> None:
        """Give the campaign back (idempotent)."""
        if self._lock is None:
            return
        try:
            with contextlib.suppress(LedgerError), self.ledger._write("releasing a claim") as db:
                db.execute("DELETE FROM claims WHERE campaign = ? AND token = ?",
                           (self.campaign, self.token))
        finally:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"Claim({self.campaign!r})"


class Ledger(OutcomeTables):
    """The SQLite ledger of every campaign (see the module docstring).

    Parameters
    ----------
    path:
        The database file, created when missing (its folder too). `locate_ledger` finds the
        default; ``":memory:"`` is a ledger for one run (what a dry run writes to).
    synchronous:
        SQLite's ``synchronous``: ``"FULL"`` (default) survives a power loss; ``"NORMAL"``
        survives any process crash and is faster (https://sqlite.org/pragma.html#pragma_synchronous).

    Examples
    --------
    >>> ledger = Ledger(tmp / "ledger.db")  # doctest: +SKIP
    >>> ledger.unknown("spring")  # doctest: +SKIP
    ['+447700900123']
    >>> ledger.resolve("spring", ["+447700900123"], "sent")  # doctest: +SKIP
    1
    """

    def __init__(
        self, path: str | os.PathLike[str], *, synchronous: Literal["FULL", "NORMAL"] = "FULL"
    ) -> None:
        memory = str(path) == ":memory:"
        self.path = Path(path) if not memory else Path(":memory:")
        self.memory = memory
        with _translated(self.path, "opening it"):
            if not memory:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # One connection shared by the caller's thread and the sender's loop thread.
            self._db = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, isolation_level=None,
                                       check_same_thread=False)
        self._mutex = threading.RLock()
        # Held from BEGIN to COMMIT, which `LedgerWriter` runs on two threads: a plain Lock,
        # since the thread that releases it is not the one that took it. Taken before _mutex.
        self._txn = threading.Lock()
        try:
            self._prepare(synchronous)
        except BaseException:
            self._db.close()
            raise

    def _prepare(self, synchronous: str) -> None:
        # Switching a new file to WAL ignores the busy timeout: a second process creating the
        # same ledger at the same instant gets "database is locked" at once, so wait here.
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            try:
                with self._mutex:
                    self._db.execute("PRAGMA journal_mode=WAL")
                    self._db.execute(f"PRAGMA synchronous={synchronous}")
                    version = self._db.execute("PRAGMA user_version").fetchone()[0]
                    if version < SCHEMA_VERSION:
                        self._migrate()
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise _ledger_error(exc, self.path, "opening it") from None
                time.sleep(0.05)
            except sqlite3.Error as exc:
                raise _ledger_error(exc, self.path, "opening it") from None

    def _migrate(self) -> None:
        """Create the schema, or bring a 0.1 journal (or an older ledger) up to date."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                _script(db, _SCHEMA + OUTCOME_SCHEMA)
                columns = {r[1] for r in db.execute("PRAGMA table_info(rows)")}
                for name, kind in _ADDED_COLUMNS:
                    if name not in columns:
                        db.execute(f"ALTER TABLE rows ADD COLUMN {name} {kind}")
                db.execute("DROP TABLE IF EXISTS locks")  # 0.1's heartbeat locks
                _script(db, _INDEXES)
                db.execute("INSERT OR IGNORE INTO meta VALUES ('id', ?)", (uuid.uuid4().hex,))
                db.execute("INSERT OR IGNORE INTO meta VALUES ('created_at', ?)", (_utcnow(),))
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise

    @classmethod
    def existing(cls, path: str | os.PathLike[str]) -> Ledger | None:
        """The ledger at ``path`` when the file exists, else None (never creates one)."""
        return cls(path) if Path(path).exists() else None

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    @property
    def id(self) -> str:
        """This ledger's identity (a UUID written when it was created)."""
        with self._mutex:
            return str(self._db.execute("SELECT value FROM meta WHERE key = 'id'").fetchone()[0])

    def close(self) -> None:
        """Close the database connection."""
        with self._mutex:
            self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self, doing: str = "writing") -> Iterator[sqlite3.Connection]:
        with _translated(self.path, doing), self._txn, self._mutex:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with _translated(self.path, "reading it"), self._mutex:
            return self._db.execute(sql, params).fetchall()

    # -- claims ----------------------------------------------------------------------------

    def _lock_path(self, campaign: str) -> Path:
        digest = hashlib.sha256(campaign.encode()).hexdigest()[:20]
        return self.path.with_name(f"{self.path.name}.locks") / f"{digest}.lock"

    def claim(self, campaign: str) -> Claim:
        """Hold ``campaign`` for a run; raise `CampaignLocked` when another process holds it.

        The OS releases the lock when its process dies (``kill -9`` included), never while
        it lives (a paused process keeps it). The new token replaces any older one, so a
        process that somehow lost the lock can no longer write an intent (`Fence`).
        """
        token = uuid.uuid4().hex
        lock: FileLock | None = None
        if not self.memory:
            path = self._lock_path(campaign)
            with _translated(path, "taking the campaign's lock"):
                path.parent.mkdir(parents=True, exist_ok=True)
                lock = FileLock(path, timeout=0, fallback_to_soft=False, thread_local=False)
                try:
                    lock.acquire()
                except Timeout:
                    raise self._locked(campaign) from None
        try:
            with self._write("claiming the campaign") as db:
                db.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)",
                           (campaign, token, os.getpid(), socket.gethostname(), _utcnow()))
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        return Claim(self, campaign, token, lock)

    def _locked(self, campaign: str) -> CampaignLocked:
        held = self._read("SELECT pid, host, since FROM claims WHERE campaign = ?", (campaign,))
        who = (f"process {held[0][0]} on {held[0][1]} since "
               f"{_aware(datetime.fromisoformat(held[0][2])):%Y-%m-%d %H:%M:%S} UTC"
               if held else "another process")
        return CampaignLocked(
            f'campaign "{campaign}" is being sent by {who} (ledger {self.path}); wait for it '
            "to finish or stop it, then run again: rows it already sent will not be sent twice"
        )

    # -- campaigns -------------------------------------------------------------------------

    def fingerprint(self, campaign: str, mode: Mode = "live") -> dict[str, Any] | None:
        """How ``campaign`` was first sent (channel and message), or None."""
        found = self._read("SELECT fingerprint FROM campaigns WHERE campaign = ? AND mode = ?",
                           (campaign, mode))
        return json.loads(found[0][0]) if found else None

    def open_campaign(
        self, campaign: str, mode: Mode, fingerprint: dict[str, Any]
    ) -> dict[str, Any]:
        """Register ``campaign`` or check it is the same one; return its state row.

        A campaign with a different fingerprint is refused with `CampaignChanged`.
        """
        text = _dumps(fingerprint)
        now = _utcnow()
        with self._write("opening the campaign") as db:
            found = db.execute(
                "SELECT fingerprint, state, resume_at, note FROM campaigns "
                "WHERE campaign = ? AND mode = ?",
                (campaign, mode),
            ).fetchone()
            if found is not None and found[0] != text:
                raise changed_campaign(campaign, json.loads(found[0]), fingerprint, self.path)
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
        with self._write("recording how the run ended") as db:
            db.execute(
                "UPDATE campaigns SET state = ?, note = ?, resume_at = ?, updated_at = ? "
                "WHERE campaign = ? AND mode = ?",
                (state, note, resume_at, _utcnow(), campaign, mode),
            )

    def campaign_state(self, campaign: str, mode: Mode = "live") -> dict[str, Any] | None:
        """``{"state", "resume_at", "note"}`` of a campaign, or None when never sent."""
        found = self._read(
            "SELECT state, resume_at, note FROM campaigns WHERE campaign = ? AND mode = ?",
            (campaign, mode))
        return None if not found else {"state": found[0][0], "resume_at": found[0][1],
                                       "note": found[0][2]}

    def campaigns(self) -> pd.DataFrame:
        """Every live campaign: its state and how many rows are in each status.

        Columns ``campaign``, ``state``, ``sent``, ``unknown``, ``failed``, ``pending``,
        ``first_sent``, ``last_sent``, ``note``, sorted by name.
        """
        rows = self._read(
            "SELECT c.campaign, c.state, c.note, "
            "SUM(r.status = 'sent'), SUM(r.status = 'unknown'), SUM(r.status = 'failed'), "
            "SUM(r.status = 'pending'), MIN(r.sent_at), MAX(r.sent_at) "
            "FROM campaigns c LEFT JOIN rows r ON r.campaign = c.campaign AND r.mode = c.mode "
            "WHERE c.mode = 'live' GROUP BY c.campaign ORDER BY c.campaign")
        frame = pd.DataFrame(rows, columns=["campaign", "state", "note", "sent", "unknown",
                                            "failed", "pending", "first_sent", "last_sent"])
        for name in ("sent", "unknown", "failed", "pending"):
            frame[name] = frame[name].fillna(0).astype("int64")
        return frame[["campaign", "state", "sent", "unknown", "failed", "pending",
                      "first_sent", "last_sent", "note"]]

    # -- rows ------------------------------------------------------------------------------

    _COLUMNS = ('key, row, digest, status, retry, attempts, http_status, message_id, job_id, '
                'error, sent_at, "to", attempted_at, segments, cost, updated_at')

    @staticmethod
    def _record(r: Sequence[Any]) -> Record:
        return Record(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6], r[7], r[8], r[9], r[10],
                      r[11], r[12], r[13], r[14], r[15])

    def records(self, campaign: str, mode: Mode = "live") -> dict[str, Record]:
        """Every row of a campaign, by key."""
        found = self._read(f"SELECT {self._COLUMNS} FROM rows WHERE campaign = ? AND mode = ?",
                           (campaign, mode))
        return {r[0]: self._record(r) for r in found}

    def records_for(self, campaign: str, mode: Mode, keys: Sequence[str]) -> dict[str, Record]:
        """The rows of ``keys``, by key (those the ledger has)."""
        found = self._read(
            f"SELECT {self._COLUMNS} FROM rows WHERE campaign = ? AND mode = ? AND key IN "
            f"({', '.join('?' * len(keys))})", (campaign, mode, *keys))
        return {r[0]: self._record(r) for r in found}

    def history(
        self, campaign: str, *, mode: Mode = "live", since: datetime | None = None,
    ) -> History:
        """What a run of ``campaign`` must know before deciding (a consistent snapshot).

        ``since`` bounds the live sends read for frequency caps (all campaigns); None reads
        none.
        """
        with _translated(self.path, "reading it"), self._mutex:
            self._db.execute("BEGIN")  # one read transaction: a snapshot
            try:
                records = {r[0]: self._record(r) for r in self._db.execute(
                    f"SELECT {self._COLUMNS} FROM rows WHERE campaign = ? AND mode = ?",
                    (campaign, mode))}
                sends: dict[str, list[datetime]] = {}
                if since is not None:
                    # ISO strings compare in time order within one format; a day of slack
                    # covers mixed precisions, and the exact cut is made after parsing.
                    cutoff = (since - timedelta(days=1)).isoformat()
                    for number, when in self._db.execute(
                            'SELECT "to", COALESCE(sent_at, attempted_at, updated_at) FROM rows '
                            "WHERE mode = 'live' AND status IN ('sent', 'pending', 'unknown') "
                            'AND "to" IS NOT NULL AND COALESCE(sent_at, attempted_at, '
                            "updated_at) >= ?", (cutoff,)):
                        moment = _aware(datetime.fromisoformat(when))
                        if moment > since:
                            sends.setdefault(number, []).append(moment)
                suppressed = {n: r for n, r in self._db.execute(
                    "SELECT number, reason FROM suppressions")}
                found = self._db.execute(
                    "SELECT fingerprint FROM campaigns WHERE campaign = ? AND mode = ?",
                    (campaign, mode)).fetchone()
            finally:
                self._db.execute("COMMIT")
        by_digest: dict[str, Record] = {}
        messages, segments, cost = 0, 0, Decimal(0)
        for record in records.values():
            if not record.counted:
                continue
            messages += 1
            segments += record.segments or 0
            cost += Decimal(record.cost) if record.cost else Decimal(0)
            if record.digest:
                by_digest.setdefault(record.digest, record)
        return History(records, by_digest, sends, suppressed, Spend(messages, segments, cost),
                       json.loads(found[0]) if found else None)

    @staticmethod
    def pending(
        campaign: str, mode: Mode, items: Sequence[Entry], attempts: int, *,
        recipients: Sequence[str | None] | None = None,
        segments: Sequence[int | None] | None = None,
        costs: Sequence[str | None] | None = None,
        fence: Fence | None = None,
    ) -> Upsert:
        """The intent for ``items`` = (key, row label, digest), committed before the request.

        ``recipients`` are the E.164 numbers (frequency caps across campaigns), ``segments``
        and ``costs`` what each message counts against a budget.
        """
        now = _utcnow()
        n = len(items)
        numbers = list(recipients) if recipients is not None else [None] * n
        parts = list(segments) if segments is not None else [None] * n
        prices = list(costs) if costs is not None else [None] * n
        return Upsert(_PENDING, [
            (campaign, mode, k, r, d, number, attempts, s, c, now, now)
            for (k, r, d), number, s, c in zip(items, numbers, parts, prices, strict=True)
        ], fence)

    def mark_pending(self, campaign: str, mode: Mode, items: Sequence[Entry], attempts: int,
                     **options: Any) -> None:
        """`pending`, committed at once."""
        with self._write("recording an intent") as db:
            self.pending(campaign, mode, items, attempts, **options)(db)

    @staticmethod
    def outcome(
        campaign: str, mode: Mode, items: Sequence[Entry], *, status: str,
        retry: bool = False, attempts: int, http_status: int | None = None,
        message_id: str | None = None, job_id: str | None = None, error: str | None = None,
        sent_at: str | None = None,
    ) -> Upsert:
        """The outcome for ``items`` = (key, row label, digest), for `LedgerWriter`."""
        now = _utcnow()
        return Upsert(_OUTCOME, [(campaign, mode, k, r, d, status, int(retry), attempts,
                                  http_status, message_id, job_id, error, sent_at, now)
                                 for k, r, d in items])

    def mark_outcome(self, campaign: str, mode: Mode, items: Sequence[Entry], **options: Any
                     ) -> None:
        """`outcome`, committed at once."""
        with self._write("recording an outcome") as db:
            self.outcome(campaign, mode, items, **options)(db)

    @staticmethod
    def write_forget(db: sqlite3.Connection, campaign: str, mode: Mode,
                     keys: Iterable[str]) -> None:
        """Drop rows whose request was certainly not processed (the rows wait again)."""
        db.executemany(
            "DELETE FROM rows WHERE campaign = ? AND mode = ? AND key = ? "
            "AND (status = 'pending' OR (status = 'failed' AND retry = 1))",
            [(campaign, mode, k) for k in keys],
        )

    def forget(self, campaign: str, mode: Mode, keys: Iterable[str]) -> None:
        """`write_forget`, committed at once."""
        with self._write("forgetting rows never sent") as db:
            self.write_forget(db, campaign, mode, keys)

    def unknown(self, campaign: str, mode: Mode = "live") -> list[str]:
        """Keys of the rows whose outcome is unknown, sorted."""
        return sorted(r[0] for r in self._read(
            "SELECT key FROM rows WHERE campaign = ? AND mode = ? AND status = 'unknown'",
            (campaign, mode)))

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
        with self._write("settling unknown rows") as db:
            if outcome == "sent":
                cursor = db.executemany(
                    "UPDATE rows SET status = 'sent', error = 'marked sent by hand', "
                    "sent_at = COALESCE(sent_at, attempted_at), updated_at = ? "
                    "WHERE campaign = ? AND mode = ? AND key = ? "
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

    def resolve_hint(self, campaign: str, keys: Sequence[str]) -> str:
        """The one line telling how to settle ``keys`` (``unknown`` rows); see `resolve_hint`."""
        return resolve_hint(self.path, campaign, keys)

    def adopt(self, campaign: str, results: pd.DataFrame) -> int:
        """Record as sent the rows a results file shows sent; return how many were added.

        For a ledger that lost them (deleted, or restored from an older copy): the results
        file is the evidence. Rows the ledger already has are left as they are.
        """
        shown = results[results["status"].isin(["sent", "already-sent", "unknown"])]
        now = _utcnow()
        added = 0
        with self._write("adopting a results file") as db:
            for label, row in shown.iterrows():
                key = _cell(row.get("key")) or _cell(row.get("to"))
                if not key:
                    continue
                cursor = db.execute(
                    'INSERT OR IGNORE INTO rows (campaign, mode, key, row, "to", status, '
                    "message_id, sent_at, error, updated_at) VALUES (?, 'live', ?, ?, ?, ?, ?, "
                    "?, ?, ?)",
                    (campaign, key, str(label), _cell(row.get("to")),
                     "unknown" if row["status"] == "unknown" else "sent",
                     _cell(row.get("message_id")), _cell(row.get("sent_at")),
                     "adopted from a results file", now))
                added += cursor.rowcount
        return added

    # -- suppression -----------------------------------------------------------------------

    def suppress(self, numbers: Iterable[str], *, reason: str, source: str = "user") -> int:
        """Never text ``numbers`` (E.164) again, in any campaign; return how many were new."""
        with self._write("recording suppressions") as db:
            return self.write_suppress(db, numbers, reason=reason, source=source)

    @staticmethod
    def write_suppress(db: sqlite3.Connection, numbers: Iterable[str], *, reason: str,
                       source: str) -> int:
        """`suppress` inside the caller's transaction (`LedgerWriter`)."""
        now = _utcnow()
        cursor = db.executemany(
            "INSERT OR IGNORE INTO suppressions VALUES (?, ?, ?, ?)",
            [(n, reason, source, now) for n in dict.fromkeys(numbers) if n])
        return cursor.rowcount

    def unsuppress(self, numbers: Iterable[str]) -> int:
        """Take ``numbers`` off the suppression list (they opted back in); return how many."""
        with self._write("removing suppressions") as db:
            cursor = db.executemany("DELETE FROM suppressions WHERE number = ?",
                                    [(n,) for n in numbers])
            return cursor.rowcount

    def suppressions(self) -> pd.DataFrame:
        """The suppression list: ``number``, ``reason``, ``source``, ``added_at``."""
        rows = self._read("SELECT number, reason, source, added_at FROM suppressions "
                          "ORDER BY number")
        return pd.DataFrame(rows, columns=["number", "reason", "source", "added_at"])

    # -- maintenance -----------------------------------------------------------------------

    def backup(self, target: str | os.PathLike[str]) -> Path:
        """Copy the ledger to ``target`` with SQLite's online backup; return the path.

        Safe while a send is running (https://sqlite.org/backup.html).
        """
        target = Path(target)
        with _translated(target, "writing the backup"):
            target.parent.mkdir(parents=True, exist_ok=True)
            copy = sqlite3.connect(target)
            try:
                with self._mutex:
                    self._db.backup(copy)
            finally:
                copy.close()
        return target

    def import_journal(self, journal: str | os.PathLike[str]) -> int:
        """Copy the live rows of a campaignkit 0.1 journal file; return how many were added."""
        Ledger(journal).close()  # brings the journal's schema up to date in place
        with _translated(self.path, "importing a journal"), self._txn, self._mutex:
            self._db.execute("ATTACH DATABASE ? AS old", (str(journal),))
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("INSERT OR IGNORE INTO campaigns SELECT * FROM old.campaigns "
                                 "WHERE mode = 'live'")
                added = self._db.execute(
                    f"INSERT OR IGNORE INTO rows (campaign, mode, {self._COLUMNS}) "
                    f"SELECT campaign, mode, {self._COLUMNS} FROM old.rows "
                    "WHERE mode = 'live'").rowcount
                self._db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise
            finally:
                self._db.execute("DETACH DATABASE old")
        return added


def _script(db: sqlite3.Connection, script: str) -> None:
    """Run each statement of ``script`` inside the open transaction.

    (``executescript`` would commit the transaction first.)
    """
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    for statement in "\n".join(lines).split(";"):
        if statement.strip():
            db.execute(statement)


def _cell(value: Any) -> str | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def changed_campaign(campaign: str, before: dict[str, Any], now: dict[str, Any],
                     path: Path | None) -> CampaignChanged:
    """The refusal of a campaign name reused with another channel or message."""
    changed = sorted(k for k in now.keys() | before.keys() if now.get(k) != before.get(k))
    where = f" (ledger {path})" if path is not None else ""
    return CampaignChanged(
        f'campaign "{campaign}" was sent before with a different '
        f"{' and '.join(changed)}{where}; nothing was sent. To send the new version, use a new "
        f'campaign name (e.g. campaign="{campaign}-2")'
    )


def resolve_hint(path: str | os.PathLike[str], campaign: str, keys: Sequence[str]) -> str:
    """One line: how many rows are unknown and the command that settles them.

    >>> hint = resolve_hint(locate_ledger(), "spring", ["+447700900001"])
    >>> hint[:56]
    '1 row is unknown (the provider may or may not have sent '
    >>> hint[-74:]
    'campaignkit ledger resolve spring +447700900001 --as sent (or --as resend)'
    """
    noun, it = ("row is", "it") if len(keys) == 1 else ("rows are", "them")
    listed = " ".join(keys) if len(keys) <= 3 else "--all-unknown"
    path = Path(path)
    where = ""
    if path == sandbox_ledger_path(locate_ledger()):
        where = " --sandbox"
    elif path != locate_ledger():
        where = f" --ledger {path}"
    return (
        f"{len(keys)} {noun} unknown (the provider may or may not have sent {it}): check with "
        f"the provider, then run campaignkit ledger{where} resolve {campaign} {listed} --as "
        "sent (or --as resend)"
    )


Work = Callable[[sqlite3.Connection], None]


class LedgerWriter:
    """Commits a sender's ledger writes in groups, the fsync off the event loop.

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
    0.1 ms on the loop. Use it from the loop's thread only.

    >>> with LedgerWriter(ledger) as writer:  # doctest: +SKIP
    ...     await writer.run(lambda db: ledger.write_forget(db, "spring", "live", ["k"]))
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._queue: queue.SimpleQueue[list[_Batch] | None] = queue.SimpleQueue()
        self._closed = False
        # Writes submitted during this pass of the event loop, then those waiting for the
        # commit under way; `_committing` holds the writes of that commit.
        self._tick: _Batch | None = None
        self._waiting: list[_Batch] = []
        self._committing: list[_Batch] | None = None
        #: the first failure of a write nobody awaited (`post`)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="campaignkit-ledger",
                                        daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"LedgerWriter({self.ledger!r})"

    def __enter__(self) -> LedgerWriter:
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
            raise RuntimeError("the ledger writer is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        if self._tick is None:
            self._tick = _Batch(loop)
            loop.call_soon(self._flush)  # after every write of this pass
        self._tick.works.append(work)
        self._tick.futures.append(future)
        return future

    def post(self, work: Work) -> None:
        """Queue ``work(db)`` with nobody waiting for it (an outcome: only intents are awaited).

        It commits in order like `submit`; a failure is kept in `error` (the first one), and
        `drain` waits for it and every earlier write. No future a write: at a sender's top
        rate a future and its callback per row are a visible share of the loop's time.
        """
        if self._closed:
            raise RuntimeError("the ledger writer is closed")
        if self._tick is None:
            loop = asyncio.get_running_loop()
            self._tick = _Batch(loop)
            loop.call_soon(self._flush)
        self._tick.works.append(work)
        self._tick.posted = True

    async def drain(self) -> None:
        """Return once every write queued so far has committed or failed (see `error`)."""
        with contextlib.suppress(Exception):  # a failure is kept in `error` for the caller
            await self.submit(_nothing)

    def _flush(self) -> None:
        """On the loop: this pass's writes wait; start a transaction unless one commits."""
        self._take_tick()
        while self._waiting and self._committing is None and not self._closed:
            batches, self._waiting = self._waiting, []
            try:
                self._execute(batches)
            except BaseException as exc:  # rolled back: every writer in it gets the error
                self._settle(batches, exc)
                continue
            self._committing = batches
            self._queue.put(batches)

    def _take_tick(self) -> None:
        if self._tick is not None:
            self._waiting.append(self._tick)
            self._tick = None

    def _execute(self, batches: list[_Batch]) -> None:
        """BEGIN and every write of ``batches``, or ROLLBACK and raise.

        On success the ledger's transaction lock stays held until `_commit` releases it.
        """
        db = self.ledger._db
        self.ledger._txn.acquire()
        try:
            with self.ledger._mutex:
                db.execute("BEGIN IMMEDIATE")
                try:
                    for work in _merged(w for batch in batches for w in batch.works):
                        work(db)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
        except BaseException:
            self.ledger._txn.release()
            raise

    def _commit(self) -> None:
        """COMMIT the transaction `_execute` began (ROLLBACK if that fails), then unlock."""
        db = self.ledger._db
        try:
            with self.ledger._mutex:
                try:
                    db.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                    raise
        finally:
            self.ledger._txn.release()

    def _committed(self, batches: list[_Batch], error: BaseException | None) -> None:
        """On the loop: the commit of ``batches`` ended; the waiting writes go next."""
        if self._committing is batches:
            self._committing = None
        self._settle(batches, error)
        self._flush()

    def _settle(self, batches: list[_Batch], error: BaseException | None) -> None:
        for batch in batches:
            batch.settle(error)
            if error is not None and batch.posted and self.error is None:
                self.error = error

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
            self._settle(batches, error)
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
    joined: list[tuple[Any, ...]] | None = None  # the params of out[-1] when it is a join
    for work in works:
        last = out[-1] if out else None
        if (isinstance(work, Upsert) and isinstance(last, Upsert)
                and last.statement is work.statement and last.fence == work.fence):
            if joined is None:  # a new list once per run of upserts, then extended
                joined = list(last.params)
                out[-1] = Upsert(work.statement, joined, work.fence)
            joined.extend(work.params)
        else:
            out.append(work)
            joined = None
    return out


def _nothing(db: sqlite3.Connection) -> None:
    """A write that writes nothing (`LedgerWriter.drain` waits for it)."""


@dataclass
class _Batch:
    """The writes of one event-loop pass and the futures of their callers."""

    loop: asyncio.AbstractEventLoop
    works: list[Work] = field(default_factory=list)
    futures: list[asyncio.Future[None]] = field(default_factory=list)
    posted: bool = False  # holds writes nobody awaits (their failure goes to `error`)

    def settle(self, error: BaseException | None) -> None:
        for future in self.futures:
            if future.done():  # the caller was cancelled
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
