"""The ledger: where it lives, what it records, the campaign's claim, errors a user can fix."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from campaignkit import CampaignChanged, CampaignLocked, ClaimLost, LedgerError, SendError
from campaignkit.ledger import (
    Ledger,
    default_ledger_path,
    locate_ledger,
    resolve_hint,
    sandbox_ledger_path,
)

HOLDER = """
import sys
from campaignkit.ledger import Ledger
ledger = Ledger(sys.argv[1])
claim = ledger.claim("spring")
print("claimed", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def ledger(tmp_path: Path):
    with Ledger(tmp_path / "ledger.db") as opened:
        yield opened


# -- where it lives ------------------------------------------------------------------------


def test_the_ledger_is_the_argument_else_the_environment_else_the_user_data_folder(
    tmp_path, monkeypatch
):
    """ledger= wins, then $CAMPAIGNKIT_LEDGER, then ledger.db in the per-user data folder."""
    monkeypatch.setenv("CAMPAIGNKIT_LEDGER", str(tmp_path / "env.db"))
    assert locate_ledger(tmp_path / "arg.db") == tmp_path / "arg.db"
    assert locate_ledger() == tmp_path / "env.db"
    monkeypatch.delenv("CAMPAIGNKIT_LEDGER")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert locate_ledger() == default_ledger_path() == tmp_path / "data/campaignkit/ledger.db"


def test_the_location_never_depends_on_the_current_folder(tmp_path, monkeypatch):
    """Two working folders find one ledger."""
    found = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        found.append(locate_ledger())
    assert found[0] == found[1]


def test_sandbox_sends_are_recorded_beside_the_ledger():
    """Live sends to the sandbox on loopback go to <name>.sandbox.db, never the ledger."""
    assert sandbox_ledger_path("/srv/ledger.db") == Path("/srv/ledger.sandbox.db")


def test_the_database_is_in_wal_mode(ledger):
    """The ledger file uses SQLite's write-ahead log."""
    with sqlite3.connect(ledger.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_repr_names_the_file(tmp_path):
    """A ledger shows its path."""
    with Ledger(tmp_path / "x.db") as opened:
        assert repr(opened) == f"Ledger({str(tmp_path / 'x.db')!r})"


def test_a_missing_folder_is_created(tmp_path):
    """The per-user data folder need not exist yet."""
    with Ledger(tmp_path / "new" / "deeper" / "ledger.db") as opened:
        assert opened.path.exists()


def test_existing_never_creates_a_ledger(tmp_path):
    """A dry run reads the ledger only if it exists: no file appears."""
    assert Ledger.existing(tmp_path / "ledger.db") is None
    assert not (tmp_path / "ledger.db").exists()


def test_a_journal_of_campaignkit_0_1_opens_as_a_ledger_and_keeps_its_sends(tmp_path):
    """An old journal's tables gain the new columns; its sent rows are still there."""
    path = tmp_path / "spring.journal.db"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE campaigns (campaign TEXT, mode TEXT, fingerprint TEXT, state TEXT,
                resume_at TEXT, note TEXT, created_at TEXT, updated_at TEXT,
                PRIMARY KEY (campaign, mode));
            CREATE TABLE rows (campaign TEXT, mode TEXT, key TEXT, row TEXT, digest TEXT,
                "to" TEXT, status TEXT, retry INTEGER, attempts INTEGER, http_status INTEGER,
                message_id TEXT, job_id TEXT, error TEXT, sent_at TEXT, updated_at TEXT,
                PRIMARY KEY (campaign, mode, key));
            CREATE TABLE locks (campaign TEXT PRIMARY KEY, token TEXT, pid INTEGER,
                host TEXT, heartbeat REAL);
            INSERT INTO rows VALUES ('spring', 'live', '+447400123401', '2', 'd',
                '+447400123401', 'sent', 0, 1, 200, 'm1', NULL, NULL,
                '2026-11-30T10:00:00+00:00', '2026-11-30T10:00:00+00:00');
        """)
    with Ledger(tmp_path / "ledger.db") as opened:
        assert opened.import_journal(path) == 1
        record = opened.records("spring")["+447400123401"]
    assert (record.status, record.message_id, record.attempted_at) == ("sent", "m1", None)


# -- the campaign's claim ------------------------------------------------------------------


def test_a_live_campaign_with_another_fingerprint_is_refused(ledger):
    """Another channel under the same campaign raises CampaignChanged naming the fix."""
    ledger.open_campaign("spring", "live", {"channel": {"provider": "sociocs"}, "message": None})
    with pytest.raises(CampaignChanged) as raised:
        ledger.open_campaign("spring", "live", {"channel": {"provider": "bird"}, "message": None})
    assert str(raised.value) == (
        f'campaign "spring" was sent before with a different channel (ledger {ledger.path}); '
        'nothing was sent. To send the new version, use a new campaign name '
        '(e.g. campaign="spring-2")'
    )


def test_a_claim_refuses_a_second_holder_until_released(ledger):
    """A second claim of a held campaign raises CampaignLocked; after release it succeeds."""
    claim = ledger.claim("spring")
    with pytest.raises(CampaignLocked) as raised:
        ledger.claim("spring")
    assert str(raised.value).startswith(
        f'campaign "spring" is being sent by process {os.getpid()} on ')
    claim.release()
    ledger.claim("spring").release()


def test_another_campaign_is_not_held_by_the_claim(ledger):
    """Claims are per campaign."""
    with ledger.claim("spring"), ledger.claim("autumn"):
        pass


def _holder(path: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1] / "src"))
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env)
    assert holder.stdout is not None and holder.stdout.readline() == "claimed\n"
    return holder


def test_a_paused_holder_keeps_its_claim_and_its_death_frees_it(tmp_path):
    """A holder stopped with SIGSTOP still holds the campaign; once killed -9 it is free."""
    path = tmp_path / "ledger.db"
    holder = _holder(path)
    try:
        holder.send_signal(signal.SIGSTOP)
        with Ledger(path) as opened:
            with pytest.raises(CampaignLocked) as raised:
                opened.claim("spring")
            assert f"process {holder.pid} on " in str(raised.value)
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=10)
            opened.claim("spring").release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=10)


def test_a_process_that_lost_its_claim_cannot_write_an_intent(ledger):
    """The fencing token: once another claim replaced this one, an intent is refused."""
    claim = ledger.claim("spring")
    with sqlite3.connect(ledger.path) as db:  # what a second holder's claim would write
        db.execute("UPDATE claims SET token = 'other', pid = 4242")
    with pytest.raises(ClaimLost) as raised:
        ledger.mark_pending("spring", "live", [("k", "2", "d")], 1, fence=claim.fence)
    assert str(raised.value).startswith(
        'this process no longer holds campaign "spring" (now held by process 4242 on ')
    assert ledger.records("spring") == {}


# -- rows ----------------------------------------------------------------------------------


def test_resolve_marks_unknown_rows_sent_or_lets_them_be_resent(ledger):
    """resolve touches only unknown rows: "sent" records them, "resend" forgets them."""
    ledger.open_campaign("spring", "live", {})
    ledger.mark_outcome("spring", "live", [("a", "2", "d"), ("b", "3", "d")], status="unknown",
                        attempts=1)
    ledger.mark_outcome("spring", "live", [("c", "4", "d")], status="sent", attempts=1)
    assert ledger.unknown("spring") == ["a", "b"]
    assert ledger.resolve("spring", ["a", "c"], "sent") == 1
    assert ledger.resolve("spring", ["b"], "resend") == 1
    records = ledger.records("spring")
    assert {k: (r.status, r.error) for k, r in records.items()} == {
        "a": ("sent", "marked sent by hand"), "c": ("sent", None)}


def test_resolve_refuses_other_outcomes(ledger):
    """Only "sent" and "resend" settle a row."""
    with pytest.raises(SendError, match='outcome must be "sent" or "resend", not \'failed\''):
        ledger.resolve("spring", ["a"], "failed")  # type: ignore[arg-type]


def test_resolve_hint_is_one_runnable_command(ledger):
    """The hint names the count, the campaign, the keys, and the ledger when not the default."""
    assert ledger.resolve_hint("spring", ["+447700900001", "+447700900002"]) == (
        "2 rows are unknown (the provider may or may not have sent them): check with the "
        f"provider, then run campaignkit ledger --ledger {ledger.path} resolve spring "
        "+447700900001 +447700900002 --as sent (or --as resend)"
    )
    assert resolve_hint(locate_ledger(), "spring", ["a", "b", "c", "d"]) == (
        "4 rows are unknown (the provider may or may not have sent them): check with the "
        "provider, then run campaignkit ledger resolve spring --all-unknown --as sent (or "
        "--as resend)"
    )


def test_history_is_what_a_run_must_know(ledger):
    """Records by key and by content, sends per number across campaigns, suppression, spend."""
    from datetime import UTC, datetime, timedelta

    ledger.mark_pending("spring", "live", [("a", "2", "d1")], 1, recipients=["+447400123401"],
                        segments=[2], costs=["0.08"])
    ledger.mark_outcome("spring", "live", [("a", "2", "d1")], status="sent", attempts=1,
                        sent_at=datetime.now(UTC).isoformat())
    ledger.mark_pending("autumn", "live", [("b", "2", "d2")], 1, recipients=["+447400123402"],
                        segments=[1], costs=["0.04"])
    ledger.mark_outcome("autumn", "live", [("b", "2", "d2")], status="failed", attempts=1)
    ledger.suppress(["+447400123409"], reason="replied STOP")
    history = ledger.history("spring", since=datetime.now(UTC) - timedelta(days=1))
    assert list(history.records) == ["a"]
    assert list(history.by_digest) == ["d1"]
    assert list(history.sends) == ["+447400123401"]
    assert dict(history.suppressed) == {"+447400123409": "replied STOP"}
    assert (history.spent.messages, history.spent.segments, str(history.spent.cost)) == (
        1, 2, "0.08")


def test_a_backup_is_a_complete_copy(ledger, tmp_path):
    """backup() copies every row with SQLite's online backup."""
    ledger.mark_outcome("spring", "live", [("a", "2", "d")], status="sent", attempts=1)
    copy = ledger.backup(tmp_path / "copies" / "backup.db")
    with Ledger(copy) as restored:
        assert restored.records("spring")["a"].status == "sent"
        assert restored.id == ledger.id


def test_campaigns_lists_every_live_campaign_with_its_counts(ledger):
    """The list `campaignkit ledger list` prints."""
    ledger.open_campaign("spring", "live", {})
    ledger.mark_outcome("spring", "live", [("a", "2", "d"), ("b", "3", "d")], status="sent",
                        attempts=1, sent_at="2026-12-01T10:00:00+00:00")
    ledger.mark_outcome("spring", "live", [("c", "4", "d")], status="unknown", attempts=1)
    table = ledger.campaigns()
    assert table[["campaign", "state", "sent", "unknown", "failed"]].values.tolist() == [
        ["spring", "open", 2, 1, 0]]


# -- errors a user can act on --------------------------------------------------------------


def test_a_read_only_folder_gives_one_sentence_with_the_path_and_the_fix(tmp_path):
    """No raw sqlite traceback: the path, what failed and what to do."""
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(LedgerError) as raised:
            Ledger(folder / "ledger.db")
    finally:
        folder.chmod(0o700)
    assert "cannot be written" in str(raised.value)


def test_a_damaged_ledger_says_so_and_how_to_recover(tmp_path):
    """A file that is not a database: restore a backup or move it aside."""
    path = tmp_path / "ledger.db"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(LedgerError) as raised:
        Ledger(path)
    assert str(raised.value) == (
        f"the ledger {path} is damaged (opening it: file is not a database); restore it from a "
        "backup (campaignkit ledger backup makes one), or move it aside to start a new one, "
        "which forgets what was sent"
    )
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_a_ledger_path_in_a_missing_folder_that_cannot_be_made_is_explained(tmp_path):
    """A folder that cannot exist (a file is in the way) names the path and the fix."""
    (tmp_path / "file").write_text("x")
    with pytest.raises(LedgerError) as raised:
        Ledger(tmp_path / "file" / "ledger.db")
    assert str(raised.value).startswith(f"the ledger {tmp_path / 'file' / 'ledger.db'} ")


def test_pending_then_outcome_is_what_a_reader_sees(ledger):
    """The intent is committed before the outcome; a second connection sees each step."""
    ledger.open_campaign("spring", "live", {})
    ledger.mark_pending("spring", "live", [("k", "2", "d")], 1)
    with Ledger(ledger.path) as reader:
        assert reader.records("spring")["k"].status == "pending"
    ledger.mark_outcome("spring", "live", [("k", "2", "d")], status="sent", attempts=1,
                         message_id="m1", sent_at="2026-01-01T00:00:00+00:00")
    with Ledger(ledger.path) as reader:
        record = reader.records("spring")["k"]
    assert (record.status, record.message_id, record.attempts) == ("sent", "m1", 1)


# -- the writer: group commit, one statement per run of upserts, close --------------------


def _traced(ledger: Ledger) -> list[str]:
    """Every statement the ledger's connection runs from now on, first word upper-cased."""
    statements: list[str] = []
    ledger._db.set_trace_callback(lambda sql: statements.append(sql.split()[0].upper()))
    return statements


def test_writes_of_one_loop_pass_commit_together_as_one_statement(ledger):
    """Fifty intents submitted in one pass of the event loop: 1 transaction, 1 INSERT."""
    from campaignkit.ledger import LedgerWriter

    ledger.open_campaign("spring", "live", {"channel": {}, "message": None})
    statements = _traced(ledger)

    async def main() -> None:
        with LedgerWriter(ledger) as writer:
            await asyncio.gather(*(
                writer.run(Ledger.pending("spring", "live", [(f"k{i}", str(i + 2), "d")], 1))
                for i in range(50)))

    asyncio.run(main())
    assert statements == ["BEGIN", "INSERT", "COMMIT"]
    assert len(ledger.records("spring")) == 50


def test_upserts_merge_only_with_their_neighbours_so_the_last_version_wins(ledger):
    """Intent, outcome, intent in one pass: three statements in order; the outcome stands."""
    from campaignkit.ledger import LedgerWriter

    ledger.open_campaign("spring", "live", {"channel": {}, "message": None})
    statements = _traced(ledger)

    async def main() -> None:
        with LedgerWriter(ledger) as writer:
            await asyncio.gather(
                writer.run(Ledger.pending("spring", "live", [("a", "2", "d")], 1)),
                writer.run(Ledger.outcome("spring", "live", [("a", "2", "d")], status="sent",
                                           attempts=1, message_id="m1")),
                writer.run(Ledger.pending("spring", "live", [("b", "3", "d")], 1)),
            )

    asyncio.run(main())
    assert statements == ["BEGIN", "INSERT", "INSERT", "INSERT", "COMMIT"]
    records = ledger.records("spring")
    assert {k: (r.status, r.message_id) for k, r in records.items()} == {
        "a": ("sent", "m1"), "b": ("pending", None)}


def test_close_commits_the_writes_waiting_behind_a_commit_under_way(ledger):
    """An interrupt closes the writer on the loop's thread: every submitted write lands."""
    from campaignkit.ledger import LedgerWriter

    ledger.open_campaign("spring", "live", {"channel": {}, "message": None})

    async def main() -> None:
        writer = LedgerWriter(ledger)
        writer.submit(Ledger.pending("spring", "live", [("a", "2", "d")], 1))
        await asyncio.sleep(0)  # the first pass ends: "a" is committing on the thread
        writer.submit(Ledger.pending("spring", "live", [("b", "3", "d")], 1))
        writer.submit(Ledger.pending("spring", "live", [("c", "4", "d")], 1))
        writer.close()  # no await: the loop runs no callback meanwhile
        with pytest.raises(RuntimeError, match="the ledger writer is closed"):
            writer.submit(Ledger.pending("spring", "live", [("d", "5", "d")], 1))

    asyncio.run(main())
    assert sorted(ledger.records("spring")) == ["a", "b", "c"]


def test_another_thread_writing_the_same_ledger_waits_for_the_writers_transaction(
    ledger, monkeypatch
):
    """The writer's transaction spans two threads (statements on the loop, COMMIT on its
    own): a write from a third thread on the same Ledger waits for it, then lands."""
    import threading

    from campaignkit.ledger import LedgerWriter

    ledger.open_campaign("spring", "live", {"channel": {}, "message": None})
    gate = threading.Event()
    commit = LedgerWriter._commit

    def held_commit(self: LedgerWriter) -> None:
        gate.wait(10)
        commit(self)

    monkeypatch.setattr(LedgerWriter, "_commit", held_commit)
    errors: list[BaseException] = []

    def other() -> None:
        try:
            ledger.mark_pending("spring", "live", [("b", "3", "d")], 1)
        except BaseException as exc:
            errors.append(exc)

    async def main() -> None:
        with LedgerWriter(ledger) as writer:
            written = writer.submit(Ledger.pending("spring", "live", [("a", "2", "d")], 1))
            await asyncio.sleep(0)  # "a" is written, its COMMIT held at the gate
            third = threading.Thread(target=other)
            third.start()
            third.join(0.3)
            assert third.is_alive() and errors == []  # waiting, not failing
            gate.set()
            await written
            third.join(10)

    asyncio.run(main())
    assert errors == []
    assert {k: r.status for k, r in ledger.records("spring").items()} == {
        "a": "pending", "b": "pending"}


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (sqlite3.OperationalError("database or disk is full"),
         "the disk holding the ledger {path} is full while recording an intent; free some "
         "space and run again (nothing was sent after the ledger stopped taking writes)"),
        (sqlite3.OperationalError("attempt to write a readonly database"),
         "the ledger {path} cannot be written (recording an intent): the file or its folder is "
         "read-only; make it writable, or point CAMPAIGNKIT_LEDGER (or ledger=) at a writable "
         "file"),
        (sqlite3.OperationalError("database is locked"),
         "the ledger {path} stayed locked by another process for 30 s while recording an "
         "intent; wait for the other send to finish and run again"),
    ],
)
def test_sqlite_errors_become_one_sentence_with_the_path_and_the_fix(tmp_path, error, expected):
    """Full disk, read-only file, a lock held too long: each says what to do."""
    from campaignkit.ledger import _ledger_error

    path = tmp_path / "ledger.db"
    assert str(_ledger_error(error, path, "recording an intent")) == expected.format(path=path)
