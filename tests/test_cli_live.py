"""`campaignkit send --live`: what it will do, confirmed by typing the count back.

At a terminal the command shows the count, segments, cost, host and what the guardrails hold
back, then asks for the count; anything else sends nothing. Without a terminal (a script, a
scheduler, CI) it needs --yes. A run the provider halts still writes the results it has.
Driven through the installed command, at a pseudo-terminal (pexpect) where one is needed,
against a served sandbox that counts what reached it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pexpect
import pytest

from _support import CAMPAIGNKIT
from campaignkit.sandbox import Sandbox, SandboxCredentials, serve

ENV = {"CK_LIVE_API_KEY": "kid:Canary-live-secret-4", "CK_LIVE_CHANNEL_KEY": "twlo_16175550100"}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Sandbox, str]]:
    box = Sandbox(seed=5, record=tmp_path / "record.sqlite")
    with box, serve(box) as base_url:
        yield box, base_url


def campaign(folder: Path, base_url: str) -> Path:
    """Four recipients, one of them on the opt-out list; priced; quiet hours off."""
    (folder / "recipients.csv").write_text(
        "phone,name\n+16175551212,Ada\n+16175551213,Bo\n+16175551214,Cy\n+16175551215,Di\n",
        encoding="utf-8")
    (folder / "optouts.csv").write_text("phone\n+16175551215\n", encoding="utf-8")
    path = folder / "campaign.toml"
    path.write_text(
        f"""[recipients]
path = "recipients.csv"
default_region = "US"

[message]
text = "Hi {{{{ name }}}}"

[channel]
type = "sociocs"
provider = "twlo"
base_url = "{base_url}"
api_key_env = "CK_LIVE_API_KEY"
channel_key_env = "CK_LIVE_CHANNEL_KEY"

[send]
campaign = "live-test"
rate = 100.0
concurrency = 1
results = "results.xlsx"

[guardrails]
quiet_hours = false
suppression = ["optouts.csv"]
budget = {{ price_per_segment = "0.0079" }}
""", encoding="utf-8")
    return path


def _environment() -> dict[str, str]:
    return {**os.environ, "PYTHONUTF8": "1", **ENV}


def _statuses(path: Path) -> dict[str, int]:
    frame = pd.read_excel(path, dtype=str, engine="calamine")
    return {str(k): int(v) for k, v in frame["status"].value_counts().items()}


def confirmation(base_url: str) -> str:
    host = base_url.removeprefix("http://").rstrip("/")
    return (f"LIVE: Send 3 messages (3 segments, about $0.02) to 3 recipients via {host}; "
            "1 suppressed; finishes in about 1 s at 100/s")


def at_terminal(path: Path, answer: str) -> tuple[int, list[str]]:
    """``send --live`` at a pseudo-terminal, typing ``answer`` at the prompt."""
    child = pexpect.spawn(CAMPAIGNKIT, ["send", str(path), "--live"], cwd=str(path.parent),
                          env=_environment(), encoding="utf-8", timeout=120)
    try:
        child.expect_exact("Type 3 to send 3 messages (anything else cancels): ")
        shown = child.before.replace("\r\n", "\n").splitlines()
        child.sendline(answer)
        child.expect(pexpect.EOF)
        shown += child.before.replace("\r\n", "\n").splitlines()
    finally:
        child.close()
    return child.exitstatus, shown


@pytest.mark.parametrize("answer", ["2", "yes", "", "33"])
def test_a_wrong_count_at_the_terminal_sends_nothing(answer: str, tmp_path: Path,
                                                     served: tuple[Sandbox, str]) -> None:
    """The prompt shows count, segments, cost, host and guardrails; a wrong answer cancels."""
    box, base_url = served
    code, shown = at_terminal(campaign(tmp_path, base_url), answer)
    assert confirmation(base_url) in shown
    assert shown[-1] == "cancelled: nothing was sent"
    assert (code, len(box.accepted())) == (1, 0)
    assert not (tmp_path / "results.xlsx").exists()


def test_the_right_count_at_the_terminal_sends(tmp_path: Path,
                                               served: tuple[Sandbox, str]) -> None:
    """Typing 3 sends the 3 messages; the opted-out number gets nothing."""
    box, base_url = served
    code, shown = at_terminal(campaign(tmp_path, base_url), "3")
    assert code == 0, shown
    assert sorted(box.accepted()["to"]) == ["+16175551212", "+16175551213", "+16175551214"]
    assert _statuses(tmp_path / "results.xlsx") == {"sent": 3, "suppressed": 1}


def test_without_a_terminal_live_needs_yes(tmp_path: Path, served: tuple[Sandbox, str]) -> None:
    """stdin not a terminal, no --yes: exit 2, one sentence, 0 requests reach the host."""
    box, base_url = served
    path = campaign(tmp_path, base_url)
    done = subprocess.run([CAMPAIGNKIT, "send", str(path), "--live"], cwd=tmp_path,
                          env=_environment(), stdin=subprocess.DEVNULL, text=True,
                          capture_output=True, timeout=120, check=False)
    assert done.returncode == 2
    assert done.stderr == (
        "error: --live needs --yes when no one is at a terminal to confirm (a script, a "
        "scheduler, CI): read the line above, then run the same command with --live --yes\n")
    assert confirmation(base_url) in done.stdout.splitlines()
    assert len(box.accepted()) == 0


def test_yes_sends_without_asking(tmp_path: Path, served: tuple[Sandbox, str]) -> None:
    """--live --yes with no terminal: the line is printed, the messages go."""
    box, base_url = served
    done = subprocess.run([CAMPAIGNKIT, "send", str(campaign(tmp_path, base_url)), "--live",
                           "--yes"], cwd=tmp_path, env=_environment(),
                          stdin=subprocess.DEVNULL, text=True, capture_output=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert confirmation(base_url) in done.stdout.splitlines()
    assert len(box.accepted()) == 3


def test_a_run_halted_by_the_provider_still_writes_its_results(tmp_path: Path) -> None:
    """A 401 to the opt-out lookup halts the run before any send: results.xlsx holds every
    row as waiting or suppressed."""
    box = Sandbox(seed=5, credentials=SandboxCredentials(sociocs_api_keys=["kid:another-key"]))
    with box, serve(box) as base_url:
        done = subprocess.run([CAMPAIGNKIT, "send", str(campaign(tmp_path, base_url)),
                               "--live", "--yes"], cwd=tmp_path, env=_environment(),
                              stdin=subprocess.DEVNULL, text=True, capture_output=True,
                              timeout=120, check=False)
        accepted = len(box.accepted())
    assert (done.returncode, accepted) == (2, 0)
    assert done.stderr.splitlines()[-1] == (
        "error: sociocs:twlo refused the credentials (HTTP 401) when asked for its opt-out "
        "list, before any message was sent. Check the API key, then run the same campaign again")
    assert "Traceback" not in done.stderr
    assert f"results written to {tmp_path / 'results.xlsx'}" in done.stdout.splitlines()
    assert _statuses(tmp_path / "results.xlsx") == {"waiting": 3, "suppressed": 1}
