"""The command line after the send: refresh, replies and report, against the served sandbox.

The sandbox plays the rest of the story (`Story`): messages move to delivered, undelivered
or failed over virtual time, some recipients reply, some reply STOP. What the commands print
and write is compared with the sandbox's own truth.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pandas as pd

from _support import run_cli
from campaignkit.outcomes import classify_reply
from campaignkit.sandbox import Sandbox, Story, serve
from test_once import SECRETS, write_campaign


def test_refresh_replies_and_report_tell_what_happened(tmp_path: Path) -> None:
    """send --live, six virtual hours, refresh, replies, report: each agrees with the sandbox,
    and a STOP reply keeps the number out of the next campaign (0 requests to it)."""
    box = Sandbox(seed=11, story=Story(replies=0.5, stop=0.5),
                  record=tmp_path / "record.sqlite")
    with box, serve(box) as base_url:
        path = write_campaign(tmp_path, base_url, rows=40)
        sent = run_cli("send", str(path), "--live", "--yes", cwd=tmp_path, env=SECRETS)
        assert sent.returncode == 0, sent.stderr
        assert httpx.post(base_url + "/_sandbox/advance",
                          json={"seconds": 6 * 3600}).status_code == 200
        refreshed = run_cli("refresh", str(path), cwd=tmp_path, env=SECRETS)
        answered = run_cli("replies", str(path), cwd=tmp_path, env=SECRETS)
        reported = run_cli("report", str(path), "--out", "report.html", cwd=tmp_path,
                           env=SECRETS)
        truth = box.fates()
        stops = set(truth.loc[truth["reply"].map(classify_reply) == "stop", "to"])
        before = Counter(box.accepted()["to"])
        follow_up = write_campaign(tmp_path / "next", base_url, rows=40, name="follow-up")
        again = run_cli("send", str(follow_up), "--live", "--yes", cwd=tmp_path / "next",
                        env=SECRETS)
        after = Counter(box.accepted()["to"]) - before
    for done in (refreshed, answered, reported, again):
        assert done.returncode == 0, done.stdout + done.stderr
    states = Counter(truth["state"])
    results = pd.read_excel(tmp_path / "results.xlsx", dtype=str, engine="calamine")
    assert Counter(results["delivery"].dropna()) == {
        state: n for state, n in states.items() if n}
    assert f"{len(stops)} opted out and are suppressed in the ledger" in answered.stdout
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    assert reported.stdout.splitlines()[-1] == f"report written to {tmp_path / 'report.html'}"
    assert stops and set(after) & stops == set()
    assert sum(after.values()) == 40 - len(stops)
