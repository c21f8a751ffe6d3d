"""Never twice, per person and campaign: across runs, folders, results files and processes.

Every test counts at the far side (what the sandbox received), never only in our records.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from _support import CAMPAIGNKIT, NOON, fast, run_cli
from campaignkit import Guardrails, Ledger, Sociocs, send
from campaignkit.sandbox import Sandbox, serve

SECRETS = {"CK_TEST_API_KEY": "kid:secret", "CK_TEST_CHANNEL_KEY": "twlo_16175550100"}
LIVE = ("--live", "--yes")


def numbers(n: int) -> list[str]:
    """``n`` distinct valid UK mobile numbers (a range phonenumbers knows as valid)."""
    return [f"+4474001{i:05d}" for i in range(n)]


def write_campaign(folder: Path, base_url: str, *, rows: int = 20, rate: float = 200.0,
                   name: str = "clinic", extra: str = "") -> Path:
    """A campaign folder: ``rows`` recipients, a message, a campaign.toml aimed at base_url."""
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"Patient ID": [f"{i:05d}" for i in range(rows)],
                  "First Name": [f"P{i}" for i in range(rows)],
                  "Phone": numbers(rows)}).to_csv(folder / "recipients.csv", index=False)
    (folder / "campaign.toml").write_text(f"""
[recipients]
path = "recipients.csv"
default_region = "GB"

[message]
text = "Hi {{{{ first_name }}}}, your appointment is on Tuesday."

[channel]
type = "sociocs"
provider = "twlo"
base_url = "{base_url}"
api_key_env = "CK_TEST_API_KEY"
channel_key_env = "CK_TEST_CHANNEL_KEY"

[send]
campaign = "{name}"
rate = {rate}
results = "results.xlsx"

[guardrails]
quiet_hours = false
{extra}
""", encoding="utf-8")
    return folder / "campaign.toml"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Sandbox, str]]:
    box = Sandbox(seed=3, record=tmp_path / "record.sqlite")
    with box, serve(box) as base_url:
        yield box, base_url


def twice(box: Sandbox) -> int:
    """How many numbers the sandbox received more than once."""
    received = box.accepted()["to"]
    return int(received.duplicated().sum())


def test_one_campaign_run_from_two_folders_reaches_each_number_once(tmp_path, served):
    """The same campaign.toml run live from two folders: 20 messages at the sandbox, not 40."""
    box, base_url = served
    for folder in ("a", "b"):
        path = write_campaign(tmp_path / folder, base_url)
        done = run_cli("send", str(path), *LIVE, cwd=tmp_path / folder, env=SECRETS)
        assert done.returncode == 0, done.stderr
    assert (len(box.accepted()), twice(box)) == (20, 0)


def test_another_results_file_does_not_resend(tmp_path, served):
    """--results other.xlsx names only where results go: the second run sends 0 requests."""
    box, base_url = served
    path = write_campaign(tmp_path, base_url)
    first = run_cli("send", str(path), *LIVE, cwd=tmp_path, env=SECRETS)
    second = run_cli("send", str(path), *LIVE, "--results", "other.xlsx", cwd=tmp_path,
                     env=SECRETS)
    assert (first.returncode, second.returncode) == (0, 0), second.stderr
    assert (len(box.accepted()), twice(box)) == (20, 0)
    other = pd.read_excel(tmp_path / "other.xlsx", dtype=str, engine="calamine")
    assert other["status"].value_counts().to_dict() == {"already-sent": 20}


def sheet(ids: list[str]) -> pd.DataFrame:
    """A rendered frame keyed by "Patient ID", as `render` makes it."""
    n = len(ids)
    return pd.DataFrame(
        {"Patient ID": ids, "to": numbers(n), "text": [f"Hi P{i}" for i in range(n)],
         "segments": [1] * n, "media": [()] * n, "template": [None] * n,
         "problems": [()] * n},
        index=pd.Index(range(2, 2 + n), name="row"))


def sociocs() -> Sociocs:
    return Sociocs("kid:secret", "twlo_16175550100", "twlo")


def test_ids_that_lost_their_leading_zeros_are_already_sent_not_resent(tmp_path):
    """Excel re-saved "00001" as "1": same number and text under a new key is already sent."""
    box = Sandbox(seed=1)
    options = dict(campaign="ids", live=True, transport=box.transport(), pacing=fast(),
                   progress=False, now=NOON, key="Patient ID")
    first = send(sheet(["00001", "00002", "00003"]), sociocs(), **options)
    again = send(sheet(["1", "2", "3"]), sociocs(), **options)
    assert len(box.accepted()) == 3
    assert again["status"].tolist() == ["already-sent"] * 3
    sent_at = first.at[2, "sent_at"]
    assert again.at[2, "error"] == (
        f"already sent by this campaign on {sent_at:%Y-%m-%d %H:%M} UTC (row 2, key "
        '"00001"): the same message to the same number is never sent twice; pass resend= '
        "to send it again"
    )


def test_a_dry_run_after_a_live_run_says_already_sent(tmp_path):
    """A dry run reads the ledger: rows the live run sent are already-sent, 0 requests."""
    box = Sandbox(seed=1)
    options = dict(campaign="spring", transport=box.transport(), pacing=fast(),
                   progress=False, now=NOON)
    send(sheet(["a", "b", "c"]), sociocs(), live=True, **options)
    dry = send(sheet(["a", "b", "c"]), sociocs(), live=False, **options)
    assert dry["status"].tolist() == ["already-sent"] * 3
    assert len(box.accepted()) == 3


def test_a_missing_ledger_with_a_results_file_is_refused(tmp_path, served):
    """The ledger deleted after a live run: the results file proves sends, so 0 are repeated."""
    box, base_url = served
    path = write_campaign(tmp_path, base_url)
    first = run_cli("send", str(path), *LIVE, cwd=tmp_path, env=SECRETS)
    assert first.returncode == 0, first.stderr
    ledger = Path(first.stdout.split("ledger: ", 1)[1].split()[0])
    assert ledger.exists()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{ledger}{suffix}").unlink(missing_ok=True)
    again = run_cli("send", str(path), *LIVE, cwd=tmp_path, env=SECRETS)
    assert again.returncode == 2
    assert again.stderr.strip() == (
        f"error: {tmp_path / 'results.xlsx'} shows 20 rows of campaign \"clinic\" already "
        f"sent, but the ledger {ledger} has no record of them (it was deleted, replaced or "
        "restored from an older copy); nothing was sent. Restore the ledger from a backup, "
        f"or record those rows as sent: campaignkit ledger adopt {tmp_path / 'results.xlsx'} "
        "--campaign clinic --sandbox"
    )
    assert len(box.accepted()) == 20


SENDER = """
import sys
from campaignkit.cli import main
raise SystemExit(main(["send", sys.argv[1], "--live", "--yes"]))
"""


@pytest.mark.slow
def test_a_paused_sender_keeps_its_claim_and_nothing_is_sent_twice(tmp_path, served):
    """Sender A stopped with SIGSTOP for 60 s: B is refused, A resumes: 0 numbers twice."""
    box, base_url = served
    path = write_campaign(tmp_path, base_url, rows=300, rate=20.0, name="paused")
    env = {**os.environ, **SECRETS, "PYTHONUTF8": "1"}
    a = subprocess.Popen([sys.executable, "-c", SENDER, str(path)], cwd=tmp_path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(box.accepted()) < 40:
            assert time.monotonic() < deadline and a.poll() is None, a.stderr
            time.sleep(0.05)
        a.send_signal(signal.SIGSTOP)
        time.sleep(60)
        b = run_cli("send", str(path), *LIVE, cwd=tmp_path, env=SECRETS)
        a.send_signal(signal.SIGCONT)
        _, err = a.communicate(timeout=120)
    finally:
        if a.poll() is None:
            a.kill()
    assert a.returncode == 0, err
    assert b.returncode == 2
    assert b.stderr.startswith(f'error: campaign "paused" is being sent by process {a.pid}')
    assert (len(box.accepted()), twice(box)) == (300, 0)


def test_the_demo_leaves_the_default_ledger_location_untouched(tmp_path):
    """`campaignkit demo` with nothing set writes no ledger in the per-user data folder."""
    env = {k: v for k, v in os.environ.items() if k != "CAMPAIGNKIT_LEDGER"}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), HOME=str(tmp_path / "home"),
               PYTHONUTF8="1")
    (tmp_path / "home").mkdir()
    done = subprocess.run([CAMPAIGNKIT, "demo", "--out", "out"], cwd=tmp_path, env=env,
                          text=True, capture_output=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "data").exists()
    assert list((tmp_path / "home").iterdir()) == []


def test_a_copied_ledger_keeps_sending_nothing_twice(tmp_path):
    """A ledger backed up with the API and restored elsewhere knows every send."""
    box = Sandbox(seed=1)
    options = dict(campaign="copy", live=True, transport=box.transport(), pacing=fast(),
                   progress=False, now=NOON)
    first = send(sheet(["a", "b"]), sociocs(), **options)
    backup = Ledger(first.attrs["ledger"]).backup(tmp_path / "backup.db")
    again = send(sheet(["a", "b"]), sociocs(), ledger=backup, **options)
    assert again["status"].tolist() == ["already-sent"] * 2
    assert len(box.accepted()) == 2


def test_no_guardrails_object_still_means_quiet_hours_on(tmp_path):
    """Quiet hours are on by default for a live send: 23:00 in London defers the row."""
    box = Sandbox(seed=1)
    late = datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
    results = send(sheet(["a"]), sociocs(), campaign="night", live=True,
                   transport=box.transport(), pacing=fast(), progress=False, now=late)
    assert results["status"].tolist() == ["deferred"]
    assert len(box.accepted()) == 0
    off = send(sheet(["a"]), sociocs(), campaign="night", live=True,
               transport=box.transport(), pacing=fast(), progress=False, now=late,
               guardrails=Guardrails(quiet_hours=None))
    assert off["status"].tolist() == ["sent"]



WORKSPACE = "a1405560-c8d3-4b1a-877d-3f449ad95352"
BIRD_CHANNEL = "16e1df9e-c6ac-406b-b1ce-13f34d0dea08"


def test_bird_lookups_against_a_list_that_lags_never_send_twice(tmp_path):
    """A list that shows a message 5 s after accepting it, 30% of answers lost after
    acceptance, 60 rows run three times: 0 numbers twice at the sandbox (it was 36 when
    "not found yet" counted as "never sent")."""
    from campaignkit import Bird, Faults

    box = Sandbox(seed=7, faults=Faults(p_drop_after=0.3, list_lag=5.0))
    channel = Bird(WORKSPACE, BIRD_CHANNEL, "bird-key")
    frame = sheet([f"{i}" for i in range(60)])
    statuses = []
    for _ in range(3):
        results = send(frame, channel, campaign="lagging", live=True,
                       transport=box.transport(), pacing=fast(), progress=False, now=NOON)
        statuses.append(results["status"].value_counts().to_dict())
    assert twice(box) == 0
    unknown = statuses[0]["unknown"]
    assert unknown > 10  # the lost answers: in doubt, not resent
    assert statuses[2] == {"already-sent": 60 - unknown, "unknown": unknown}
    # Once the list has caught up, the next run finds each of them: sent, still once.
    time.sleep(5.1)
    settled = send(frame, channel, campaign="lagging", live=True, transport=box.transport(),
                   pacing=fast(), progress=False, now=NOON)
    assert settled["status"].value_counts().to_dict() == {
        "already-sent": 60 - unknown, "sent": unknown}
    assert (len(box.accepted()), twice(box)) == (60, 0)


def test_taking_not_found_as_never_sent_is_what_duplicates(tmp_path):
    """The mutation check of the test above: with absent_after=0 ("not found" proves absence
    at once, the old behaviour), the same three runs put numbers into the sandbox twice."""
    from campaignkit import Bird, Faults, Retry

    box = Sandbox(seed=7, faults=Faults(p_drop_after=0.3, list_lag=5.0))
    channel = Bird(WORKSPACE, BIRD_CHANNEL, "bird-key")
    for _ in range(3):
        send(sheet([f"{i}" for i in range(60)]), channel, campaign="lagging", live=True,
             transport=box.transport(), pacing=fast(), progress=False, now=NOON,
             retry=Retry(absent_after=0))
    assert twice(box) > 10
