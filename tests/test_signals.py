"""SIGTERM and SIGHUP stop a live send like Stop does.

A kernel restart, ``docker stop`` or a CI timeout sends SIGTERM; closing a terminal sends
SIGHUP. Either way no new request starts, the requests in flight finish, the remaining rows
are ``waiting`` (none ``unknown``, so nothing is left to settle by hand), the results are
saved, and the command exits 143. Real processes, a real served sandbox with latency, and a
rate low enough that the signal lands mid-campaign; the sandbox's record is the ground truth.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from _support import CAMPAIGNKIT
from campaignkit.sandbox import Sandbox, serve

ROWS = 20
ENV = {"CK_SIG_API_KEY": "kid:signal-test-secret", "CK_SIG_CHANNEL_KEY": "twlo_16175550100"}
STOPPED = ("stopped: stopped by a signal (SIGTERM or SIGHUP): requests in flight finished, the "
           "remaining rows are waiting")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Sandbox, str]]:
    box = Sandbox(seed=7, latency=0.2, record=tmp_path / "record.sqlite")
    with box, serve(box) as base_url:
        yield box, base_url


def campaign(folder: Path, base_url: str) -> Path:
    numbers = "".join(f"+1617555{2000 + i},P{i}\n" for i in range(ROWS))
    (folder / "recipients.csv").write_text("phone,name\n" + numbers, encoding="utf-8")
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
api_key_env = "CK_SIG_API_KEY"
channel_key_env = "CK_SIG_CHANNEL_KEY"

[send]
campaign = "signals"
rate = 4.0
concurrency = 2
results = "results.xlsx"

[guardrails]
quiet_hours = false
""", encoding="utf-8")
    return path


def wait_for(box: Sandbox, count: int, child: subprocess.Popen[str]) -> None:
    """Until the sandbox has accepted ``count`` messages (the child still running)."""
    deadline = time.monotonic() + 60
    while len(box.accepted()) < count:
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the campaign did not start"
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_stops_the_command_with_nothing_unknown(
        signum: signal.Signals, tmp_path: Path, served: tuple[Sandbox, str]) -> None:
    """Signal after 3 sends: exit 143, results saved, 0 unknown, sent = what the host got."""
    box, base_url = served
    child = subprocess.Popen([CAMPAIGNKIT, "send", str(campaign(tmp_path, base_url)), "--live",
                              "--yes"], cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                             env={**os.environ, "PYTHONUTF8": "1", **ENV})
    try:
        wait_for(box, 3, child)
        child.send_signal(signum)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    assert child.returncode == 143, err
    assert STOPPED in out.splitlines()
    statuses = pd.read_excel(tmp_path / "results.xlsx", dtype=str, engine="calamine")["status"]
    counts = statuses.value_counts().to_dict()
    sent = counts.get("sent", 0)
    assert set(counts) == {"sent", "waiting"}
    assert (sent + counts["waiting"], len(box.accepted())) == (ROWS, sent)
    assert 3 <= sent < ROWS


RUNNING_LOOP_CHILD = """
import asyncio, json, sys
from campaignkit import Guardrails, Message, Pacing, Sociocs, load_recipients, render, send

sheet = load_recipients(sys.argv[2], default_region="US")
rendered = render(sheet, Message(text="Hi {{ name }}"))
channel = Sociocs("kid:signal-test-secret", "twlo_16175550100", "twlo", base_url=sys.argv[1])

async def cell():  # a notebook cell: a loop runs on the main thread, send() blocks in it
    return send(rendered, channel, campaign="signals-cell", live=True, progress=False,
                pacing=Pacing(rate=4, concurrency=2), guardrails=Guardrails(quiet_hours=None))

results = asyncio.new_event_loop().run_until_complete(cell())
print(json.dumps({"status": results["status"].value_counts().to_dict(),
                  "stopped": results.attrs["stopped"]}))
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_stops_send_inside_a_running_loop(
        signum: signal.Signals, tmp_path: Path, served: tuple[Sandbox, str]) -> None:
    """As in Jupyter (the run on campaignkit's loop thread): the same stop, and send returns."""
    box, base_url = served
    sheet = tmp_path / "recipients.csv"
    campaign(tmp_path, base_url)
    child = subprocess.Popen([sys.executable, "-c", RUNNING_LOOP_CHILD, base_url, str(sheet)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONUTF8": "1"})
    try:
        wait_for(box, 3, child)
        child.send_signal(signum)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    assert child.returncode == 0, err
    report = json.loads(out)
    sent = report["status"].get("sent", 0)
    assert set(report["status"]) == {"sent", "waiting"}
    assert (sent + report["status"]["waiting"], len(box.accepted())) == (ROWS, sent)
    assert report["stopped"] == STOPPED.removeprefix("stopped: ")
