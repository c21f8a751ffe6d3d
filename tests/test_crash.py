"""kill -9 and resume against a faulty served sandbox: never send twice, never lose a row.

docs/reliability.md#the-crash-test: kill and resume, the mutation check (the harness catches a
bad sender) and two processes starting the same campaign. The sandbox runs as
``python -m campaignkit.sandbox`` in its own process with a SQLite record: the ground truth.
Senders are real processes (``tests/_crash_harness.py``) killed with SIGKILL at seeded random
moments.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from _crash_harness import (
    AFTER,
    CAMPAIGN,
    SandboxOptions,
    accepted_kinds,
    crash_run,
    number,
    replay_faults,
    sender,
    served_sandbox,
)
from campaignkit.ledger import Ledger
from campaignkit.sandbox import read_record

pytestmark = pytest.mark.slow

#: 10 % faults spread evenly over 429 (Retry-After: 0, so the run stays short; the throttle
#: test holds real Retry-After values), drop and 500 before and after accepting, and stalls
#: held past the sender's 0.3 s read timeout.
FAULTY = SandboxOptions(seed=11, faults=0.10, retry_after=0, stall_seconds=3.0)
ROWS, KILLS = 2_000, 20
SENDING = {"kill_rate": 80.0, "final_rate": 400.0, "concurrency": 16, "read_timeout": 0.3}
#: The sandbox answers a Bird lookup in ~80 ms at 2,000 messages while holding its lock (it
#: scans the whole record), so Bird gets fewer workers and a 1 s read timeout: a send queued
#: behind lookups must not time out as if stalled.
BIRD_SENDING = {**SENDING, "concurrency": 8, "read_timeout": 1.0}
#: Bird: the sandbox's lookups lag 0.5 s behind what it accepted (a read replica, a search
#: index), and a lookup that cannot find a message proves it absent only 2 s after the
#: attempt; the runs after the kills repeat, that far apart, until nothing is in doubt.
LAGGING = SandboxOptions(seed=11, faults=0.10, retry_after=0, stall_seconds=3.0, list_lag=0.5)
SETTLE = {"absent_after": 2.0, "settle": True}


@pytest.mark.parametrize("channel", ["bird", "sociocs"])
def test_twenty_kills_lose_nothing_and_send_nothing_twice(channel, tmp_path):
    """2,000 rows, 20 kill -9s, 10 % faults (Bird: and a list that lags): 0 duplicates,
    0 lost, unknown rows explained."""
    sending = {**BIRD_SENDING, **SETTLE} if channel == "bird" else SENDING
    report = crash_run(tmp_path, channel=channel, rows=ROWS, kills=KILLS, seed=5,
                       options=LAGGING if channel == "bird" else FAULTY, **sending)
    print(report.summary())
    assert (report.kills, report.duplicates, report.lost) == (KILLS, {}, [])
    assert report.statuses.get("waiting", 0) == 0
    # The faults really happened, as the sandbox itself drew them.
    assert min(report.faults_lower[k] for k in AFTER) >= 10
    # Every unknown row was either hit by an after-accept fault (exact, from the sandbox),
    # in flight at a kill (found pending right after it), or one of the before-accept
    # faults, which leave no trace in the record and are counted from the sandbox's draws.
    before = report.faults["drop_before"] + report.faults["500_before"]
    assert report.unexplained_unknown <= before
    assert report.unknown <= report.ambiguous + report.in_doubt_at_kills
    assert report.in_doubt_at_kills <= KILLS * int(sending["concurrency"])
    if channel == "bird":
        # A strong lookup by reference settles every ambiguous case once absence can be
        # proven: nothing stays unknown.
        assert report.unknown == 0
        assert set(report.statuses) <= {"sent", "already-sent"}
        assert sum(report.statuses.values()) == ROWS


def test_the_harness_catches_a_sender_that_resends_unknown_rows(tmp_path):
    """Mutation: resolving every unknown row as "resend" before each resume sends duplicates."""
    report = crash_run(tmp_path, channel="sociocs", rows=500, kills=5, seed=5, options=FAULTY,
                       bad=True, **SENDING)
    print(report.summary())
    assert report.kills == 5
    assert sum(c - 1 for c in report.duplicates.values()) > 0
    assert report.lost != []


def test_two_processes_starting_the_same_campaign_send_each_row_once(tmp_path):
    """T3: two senders told to go at the same instant: one sends, the other CampaignLocked."""
    rows, journal = 300, tmp_path / "crash.ledger.db"
    Ledger(journal).close()  # an existing ledger; creating it at once is the next test
    with served_sandbox(tmp_path / "rec.db", SandboxOptions(faults=0.0)) as base_url:
        senders = [sender(base_url, "sociocs", rows, journal, tmp_path / f"results{n}.json",
                          concurrency=16, read_timeout=5.0, bad=False) for n in (1, 2)]
        try:
            assert [s.line(timeout=60) for s in senders] == ["ready", "ready"]
            for s in senders:  # both within a millisecond or two: well inside 100 ms
                s.tell("go 300")
            codes = sorted(s.process.wait(timeout=60) for s in senders)
            last = sorted(s.line(timeout=10) for s in senders)
        finally:
            for s in senders:
                s.kill()
    assert (codes, last) == ([0, 3], ["done", "locked"])
    counts = Counter(read_record(tmp_path / "rec.db")["to"].tolist())
    assert (len(counts), max(counts.values())) == (rows, 1)
    assert set(counts) == {number(i) for i in range(rows)}
    finished = next(p for p in tmp_path.glob("results*.json"))
    assert Counter(json.loads(finished.read_text())["status"]) == {"sent": rows}
    with Ledger(journal) as reader:
        assert Counter(r.status for r in reader.records(CAMPAIGN).values()) == {"sent": rows}


def test_the_fault_replay_matches_what_the_sender_saw(tmp_path):
    """The twin replay of the sandbox's draws tells exactly which accepted rows were faulted."""
    options = SandboxOptions(seed=3, faults=0.5, retry_after=0, stall_seconds=2.0)
    crash_run(tmp_path, channel="sociocs", rows=80, kills=0, seed=1, options=options,
              **SENDING)
    accepted = read_record(tmp_path / "rec.db")
    kinds = accepted_kinds(accepted, replay_faults("sociocs", options,
                                                   int(accepted["request"].max())))
    final = json.loads((tmp_path / "results.json").read_text())
    seen = {to: status for to, status in zip(final["key"], final["status"], strict=True)
            if to in kinds}
    # Sociocs has no lookup: an accepted row is sent exactly when its one draw was clean.
    assert seen == {to: "sent" if found == ["none"] else "unknown"
                    for to, found in kinds.items()}
    assert {k for found in kinds.values() for k in found} == {"none", *AFTER}


CREATE = """
import sys, time
from campaignkit.ledger import Ledger
start = float(sys.argv[2])
while time.time() < start:  # both processes open the new file within a millisecond
    pass
try:
    Ledger(sys.argv[1]).close()
    print("opened")
except Exception as exc:
    print(type(exc).__name__, exc)
"""


def test_two_processes_creating_the_ledger_at_once_both_open_it(tmp_path):
    """Two processes creating the same new ledger at the same instant both open it."""
    import subprocess
    import sys
    import time

    outcomes = []
    for trial in range(5):  # the race went wrong in 8 of 10 trials on the test machine
        path, start = tmp_path / f"j{trial}.db", time.time() + 1.0
        children = [subprocess.Popen([sys.executable, "-c", CREATE, str(path), str(start)],
                                     stdout=subprocess.PIPE, text=True) for _ in range(2)]
        outcomes += [child.communicate(timeout=60)[0].strip() for child in children]
    assert outcomes == ["opened"] * 10
