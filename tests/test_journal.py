"""The journal: SQLite WAL, a campaign lock, change detection, resolving unknown rows."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from campaignkit import CampaignChanged, JournalLocked, SendError
from campaignkit.journal import Journal, default_journal_path

HOLDER = """
import sys
from campaignkit.journal import Journal
journal = Journal(sys.argv[1])
journal.acquire("spring")
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def journal(tmp_path: Path):
    with Journal(tmp_path / "spring.journal.db") as opened:
        yield opened


def test_the_database_is_in_wal_mode(journal):
    """The journal file uses SQLite's write-ahead log."""
    with sqlite3.connect(journal.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_repr_names_the_file(tmp_path):
    """A journal shows its path."""
    with Journal(tmp_path / "x.db") as journal:
        assert repr(journal) == f"Journal({str(tmp_path / 'x.db')!r})"


@pytest.mark.parametrize(
    ("campaign", "name"),
    [("spring", "spring.journal.db"), ("Spring 2026 / GB", "Spring_2026___GB.journal.db"),
     ("../x", "_x.journal.db")],
)
def test_default_path_is_a_safe_name_in_the_directory(campaign, name, tmp_path):
    """The default journal is <campaign>.journal.db with the name made file-safe."""
    assert default_journal_path(campaign, tmp_path) == tmp_path / name


def test_a_live_campaign_with_another_fingerprint_is_refused(journal):
    """Another channel under the same live campaign raises CampaignChanged naming the fix."""
    journal.open_campaign("spring", "live", {"channel": {"provider": "sociocs"}, "message": None})
    with pytest.raises(CampaignChanged) as raised:
        journal.open_campaign("spring", "live", {"channel": {"provider": "bird"}, "message": None})
    assert str(raised.value) == (
        f'campaign "spring" was sent before with a different channel (journal {journal.path}); '
        'nothing was sent. To send the new version, use a new campaign name '
        '(e.g. campaign="spring-2")'
    )


def test_a_dry_run_with_another_fingerprint_starts_over(journal):
    """Dry runs are for trying changes: a new fingerprint drops the old dry-run rows."""
    journal.open_campaign("spring", "dry-run", {"message": "a"})
    journal.mark_outcome("spring", "dry-run", [("k", "2", "d")], status="dry-run", attempts=1)
    journal.open_campaign("spring", "dry-run", {"message": "b"})
    assert journal.records("spring", "dry-run") == {}


def test_the_lock_refuses_a_second_holder_until_released(journal):
    """A second acquire of a held campaign raises JournalLocked; after release it succeeds."""
    token = journal.acquire("spring")
    with pytest.raises(JournalLocked) as raised:
        journal.acquire("spring")
    assert str(raised.value).startswith(
        f'campaign "spring" is being sent by process {os.getpid()} on ')
    journal.release("spring", token)
    journal.release("spring", journal.acquire("spring"))


def test_another_process_holding_the_lock_blocks_and_its_death_frees_it(tmp_path):
    """A live holder process gives JournalLocked; once it is killed -9 the lock is free."""
    path = tmp_path / "spring.journal.db"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1] / "src"))
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with Journal(path) as journal:
            with pytest.raises(JournalLocked):
                journal.acquire("spring")
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=10)
            journal.release("spring", journal.acquire("spring"))
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=10)


def test_a_stale_heartbeat_frees_the_lock(journal):
    """A holder silent for longer than STALE_AFTER no longer blocks (e.g. a reused pid)."""
    journal.acquire("spring")
    with sqlite3.connect(journal.path) as db:
        db.execute("UPDATE locks SET heartbeat = ?", (time.time() - 31,))
    journal.release("spring", journal.acquire("spring"))


def test_resolve_marks_unknown_rows_sent_or_lets_them_be_resent(journal):
    """resolve touches only unknown rows: "sent" records them, "resend" forgets them."""
    journal.open_campaign("spring", "live", {})
    journal.mark_outcome("spring", "live", [("a", "2", "d"), ("b", "3", "d")], status="unknown",
                         attempts=1)
    journal.mark_outcome("spring", "live", [("c", "4", "d")], status="sent", attempts=1)
    assert journal.unknown("spring") == ["a", "b"]
    assert journal.resolve("spring", ["a", "c"], "sent") == 1
    assert journal.resolve("spring", ["b"], "resend") == 1
    records = journal.records("spring")
    assert {k: (r.status, r.error) for k, r in records.items()} == {
        "a": ("sent", "marked sent by hand"), "c": ("sent", None)}


def test_resolve_refuses_other_outcomes(journal):
    """Only "sent" and "resend" settle a row."""
    with pytest.raises(SendError, match='outcome must be "sent" or "resend", not \'failed\''):
        journal.resolve("spring", ["a"], "failed")  # type: ignore[arg-type]


def test_resolve_hint_is_one_runnable_line(journal):
    """The hint names the count, the journal, the campaign and the keys."""
    assert journal.resolve_hint("spring", ["+447700900001", "+447700900002"]) == (
        "2 rows are unknown (the provider may or may not have sent them): check with the "
        f"provider, then run Journal({str(journal.path)!r}).resolve('spring', "
        "['+447700900001', '+447700900002'], 'sent') or 'resend'"
    )


def test_pending_then_outcome_is_what_a_reader_sees(journal):
    """The intent is committed before the outcome; a second connection sees each step."""
    journal.open_campaign("spring", "live", {})
    journal.mark_pending("spring", "live", [("k", "2", "d")], 1)
    with Journal(journal.path) as reader:
        assert reader.records("spring")["k"].status == "pending"
    journal.mark_outcome("spring", "live", [("k", "2", "d")], status="sent", attempts=1,
                         message_id="m1", sent_at="2026-01-01T00:00:00+00:00")
    with Journal(journal.path) as reader:
        record = reader.records("spring")["k"]
    assert (record.status, record.message_id, record.attempts) == ("sent", "m1", 1)


# -- the writer: group commit, one statement per run of upserts, close --------------------


def _traced(journal: Journal) -> list[str]:
    """Every statement the journal's connection runs from now on, first word upper-cased."""
    statements: list[str] = []
    journal._db.set_trace_callback(lambda sql: statements.append(sql.split()[0].upper()))
    return statements


def test_writes_of_one_loop_pass_commit_together_as_one_statement(journal):
    """Fifty intents submitted in one pass of the event loop: 1 transaction, 1 INSERT."""
    from campaignkit.journal import JournalWriter

    journal.open_campaign("spring", "live", {"channel": {}, "message": None})
    statements = _traced(journal)

    async def main() -> None:
        with JournalWriter(journal) as writer:
            await asyncio.gather(*(
                writer.run(Journal.pending("spring", "live", [(f"k{i}", str(i + 2), "d")], 1))
                for i in range(50)))

    asyncio.run(main())
    assert statements == ["BEGIN", "INSERT", "COMMIT"]
    assert len(journal.records("spring")) == 50


def test_upserts_merge_only_with_their_neighbours_so_the_last_version_wins(journal):
    """Intent, outcome, intent in one pass: three statements in order; the outcome stands."""
    from campaignkit.journal import JournalWriter

    journal.open_campaign("spring", "live", {"channel": {}, "message": None})
    statements = _traced(journal)

    async def main() -> None:
        with JournalWriter(journal) as writer:
            await asyncio.gather(
                writer.run(Journal.pending("spring", "live", [("a", "2", "d")], 1)),
                writer.run(Journal.outcome("spring", "live", [("a", "2", "d")], status="sent",
                                           attempts=1, message_id="m1")),
                writer.run(Journal.pending("spring", "live", [("b", "3", "d")], 1)),
            )

    asyncio.run(main())
    assert statements == ["BEGIN", "INSERT", "INSERT", "INSERT", "COMMIT"]
    records = journal.records("spring")
    assert {k: (r.status, r.message_id) for k, r in records.items()} == {
        "a": ("sent", "m1"), "b": ("pending", None)}


def test_close_commits_the_writes_waiting_behind_a_commit_under_way(journal):
    """An interrupt closes the writer on the loop's thread: every submitted write lands."""
    from campaignkit.journal import JournalWriter

    journal.open_campaign("spring", "live", {"channel": {}, "message": None})

    async def main() -> None:
        writer = JournalWriter(journal)
        writer.submit(Journal.pending("spring", "live", [("a", "2", "d")], 1))
        await asyncio.sleep(0)  # the first pass ends: "a" is committing on the thread
        writer.submit(Journal.pending("spring", "live", [("b", "3", "d")], 1))
        writer.submit(Journal.pending("spring", "live", [("c", "4", "d")], 1))
        writer.close()  # no await: the loop runs no callback meanwhile
        with pytest.raises(RuntimeError, match="the journal writer is closed"):
            writer.submit(Journal.pending("spring", "live", [("d", "5", "d")], 1))

    asyncio.run(main())
    assert sorted(journal.records("spring")) == ["a", "b", "c"]


def test_another_thread_writing_the_same_journal_waits_for_the_writers_transaction(
    journal, monkeypatch
):
    """The writer's transaction spans two threads (statements on the loop, COMMIT on its
    own): a write from a third thread on the same Journal waits for it, then lands."""
    import threading

    from campaignkit.journal import JournalWriter

    journal.open_campaign("spring", "live", {"channel": {}, "message": None})
    gate = threading.Event()
    commit = JournalWriter._commit

    def held_commit(self: JournalWriter) -> None:
        gate.wait(10)
        commit(self)

    monkeypatch.setattr(JournalWriter, "_commit", held_commit)
    errors: list[BaseException] = []

    def other() -> None:
        try:
            journal.mark_pending("spring", "live", [("b", "3", "d")], 1)
        except BaseException as exc:
            errors.append(exc)

    async def main() -> None:
        with JournalWriter(journal) as writer:
            written = writer.submit(Journal.pending("spring", "live", [("a", "2", "d")], 1))
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
    assert {k: r.status for k, r in journal.records("spring").items()} == {
        "a": "pending", "b": "pending"}
