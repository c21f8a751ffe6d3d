"""End to end on loopback: 1,000 rows sent live to the served sandbox, time passes, refresh,
replies and the report agree with what the sandbox says happened."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd

import campaignkit as ck
from campaignkit.sandbox import Sandbox, Story, serve


def test_a_thousand_rows_sent_refreshed_and_reported_match_the_sandbox(tmp_path: Path) -> None:
    """Counts at the sandbox equal the report's; every STOP number ends up suppressed."""
    n = 1000
    frame = pd.DataFrame(
        {"to": [f"+1617555{i:04d}" for i in range(n)],
         "text": [f"Hi {i}, your appointment is at 9:00" for i in range(n)],
         "media": [()] * n, "template": [None] * n, "problems": [()] * n, "segments": [1] * n},
        index=pd.Index(range(2, 2 + n), name="row"))
    box = Sandbox(seed=11, story=Story(), record=tmp_path / "record.sqlite")
    with box, serve(box) as base_url:
        channel = ck.Sociocs("kid:secret", "twlo_16175550000", "twlo", base_url=base_url)
        results = ck.send(frame, channel, campaign="e2e", live=True,
                          pacing=ck.Pacing(1000.0, 16), progress=False,
                          guardrails=ck.Guardrails(quiet_hours=None))
        assert Counter(results["status"]) == {"sent": n}
        moved = httpx.post(base_url + "/_sandbox/advance", json={"seconds": 6 * 3600})
        assert moved.status_code == 200
        now = lambda: datetime.now(UTC) + timedelta(hours=6)  # noqa: E731
        # Everything after the send goes to the ledger the send wrote (the sandbox's own,
        # beside the user's): nothing to pass.
        refreshed = ck.refresh(results, channel, rate=1000.0, now=now, progress=False)
        answers = ck.replies(channel, since=datetime.now(UTC) - timedelta(days=1),
                             rate=1000.0, now=now)
        with ck.Ledger(results.attrs["ledger"]) as store:
            suppressed = sorted(store.suppressed())
            full = ck.report(refreshed, replies=answers, store=store)
        plain = ck.report(refreshed)
        truth = box.fates()
        # The next campaign sends nothing to those who replied STOP: counted at the sandbox.
        before = Counter(box.accepted()["to"])
        follow_up = frame.assign(text=[f"Hi {i}, a follow-up" for i in range(n)])
        nxt = ck.send(follow_up, channel, campaign="e2e-follow-up", live=True,
                      pacing=ck.Pacing(1000.0, 16), progress=False,
                      guardrails=ck.Guardrails(quiet_hours=None))
        after = Counter(box.accepted()["to"]) - before

    states = Counter(truth["state"])
    assert sum(states.values()) == n
    assert plain.counts == {
        "delivered": states["delivered"],
        "failed": states["undelivered"] + states["failed"],
        "pending": states["queued"] + states["sent"],
        "opted out": 0,
        "not sent": 0,
    }
    stops = truth.loc[truth["reply"].map(ck.outcomes.classify_reply) == "stop", "to"]
    assert suppressed == sorted(stops)
    assert len(stops) > 0
    assert full.counts["opted out"] == len(stops)
    assert full.counts["delivered"] == states["delivered"] - len(stops)
    codes = truth["error_code"].dropna().astype(int).astype(str)
    assert Counter(refreshed["error_code"].dropna()) == Counter(codes)
    assert set(answers["campaign"]) == {"e2e"}
    held = set(nxt.loc[nxt["status"] == "suppressed", "to"])
    assert held >= set(suppressed)  # and the numbers Sociocs itself reports blocked
    assert set(after) & held == set()
    assert sum(after.values()) == n - len(held)
