"""One decision: what preview calls ready, what the plan counts and what send does agree.

Random frames (duplicates, problems, numbers in several time zones), random guardrails
(suppression, quiet hours on or off, a budget, a frequency cap), a random limit, a random
hour, and a ledger holding an earlier run of the same campaign and a run of another one:
the three front doors give the same numbers, and the sandbox receives exactly what the
plan said.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import stamina
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _support import fast
from campaignkit import (
    Budget,
    CampaignChanged,
    FrequencyCap,
    Guardrails,
    Ledger,
    LimitExceeded,
    Problem,
    QuietHours,
    Sociocs,
    Suppression,
    plan,
    preview,
    send,
)
from campaignkit.sandbox import Sandbox

#: numbers in New York, Los Angeles, London and Delhi: at most hours some are asleep
POOL = ["+12125550110", "+12125550111", "+14155550142", "+14155550143", "+447400123401",
        "+447400123402", "+918123456701", "+918123456702"]
TEXTS = ["Hi, see you at 9:00", "Your appointment is tomorrow", "Reminder: bring your card, " * 6]
CHANNEL = Sociocs("kid:secret", "twlo_16175550100", "twlo")
#: result statuses by the fate `decide` gave (the rows that went: sent)
STATUS_OF = {"send": "sent", "changed": "skipped"}


@pytest.fixture(autouse=True)
def _stamina_testing() -> Iterator[None]:
    with stamina.set_testing(True, attempts=5, cap=True):
        yield


@st.composite
def campaigns(draw: st.DrawFn) -> dict[str, object]:
    n = draw(st.integers(1, 14))
    to = draw(st.lists(st.sampled_from(POOL), min_size=n, max_size=n))
    text = draw(st.lists(st.sampled_from(TEXTS), min_size=n, max_size=n))
    broken = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    frame = pd.DataFrame(
        {"to": to, "text": text, "media": [()] * n, "template": [None] * n,
         "segments": [1 if len(t) < 160 else 2 for t in text],
         "problems": [(Problem(i + 2, "name", "the cell is empty", "missing-value"),)
                      if bad else () for i, bad in enumerate(broken)]},
        index=pd.Index(range(2, 2 + n), name="row"))
    budget = draw(st.one_of(st.none(), st.builds(
        lambda segments: Budget(max_total_segments=segments), st.integers(0, 12))))
    cap = draw(st.one_of(st.none(), st.builds(
        lambda k: FrequencyCap(k, timedelta(days=1)), st.integers(1, 2))))
    suppressed = draw(st.lists(st.sampled_from(POOL), max_size=3, unique=True))
    guard = Guardrails(
        suppression=Suppression.of(suppressed) if suppressed else None,
        quiet_hours=draw(st.sampled_from([QuietHours(), None])),
        budget=budget, frequency_cap=cap)
    return {
        "frame": frame,
        "guard": guard,
        "limit": draw(st.one_of(st.none(), st.integers(0, n))),
        "now": datetime(2026, 12, 2, tzinfo=UTC) + timedelta(hours=draw(st.integers(0, 23))),
        "earlier": draw(st.lists(st.integers(0, n - 1), max_size=n, unique=True)),
        "elsewhere": draw(st.lists(st.sampled_from(POOL), max_size=4)),
    }


def _earlier_runs(case: dict[str, object], sandbox: Sandbox, ledger: Ledger) -> None:
    """Fill the ledger: some rows of this campaign sent before, another campaign's sends."""
    frame = case["frame"]
    assert isinstance(frame, pd.DataFrame)
    before = case["now"] - timedelta(hours=2)  # type: ignore[operator]
    quiet = Guardrails(quiet_hours=None)
    earlier = frame.iloc[sorted(case["earlier"])]  # type: ignore[call-overload]
    if len(earlier):
        send(earlier, CHANNEL, campaign="spring", live=True, ledger=ledger, now=before,
             transport=sandbox.transport(), pacing=fast(), progress=False, guardrails=quiet)
    elsewhere: list[str] = case["elsewhere"]  # type: ignore[assignment]
    if elsewhere:
        other = pd.DataFrame(
            {"to": elsewhere, "text": ["Another campaign"] * len(elsewhere),
             "media": [()] * len(elsewhere), "template": [None] * len(elsewhere),
             "segments": [1] * len(elsewhere), "problems": [()] * len(elsewhere)},
            index=pd.Index(range(2, 2 + len(elsewhere)), name="row"))
        other.attrs["campaignkit.load"] = {"duplicates": "keep"}
        send(other, CHANNEL, campaign="autumn", live=True, ledger=ledger, now=before,
             transport=sandbox.transport(), pacing=fast(), progress=False, guardrails=quiet)


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=campaigns())
def test_preview_plan_and_send_agree_and_the_sandbox_receives_the_plan(case, tmp_path_factory):
    """preview's ready rows == the plan's "send" == the rows send sends == what the sandbox
    receives; every other fate is the row's status; a refused plan means a refused send."""
    # synchronous=NORMAL: the same ledger, without an fsync per commit (many examples)
    ledger = Ledger(tmp_path_factory.mktemp("ledger") / "ledger.db", synchronous="NORMAL")
    sandbox = Sandbox(seed=1)
    _earlier_runs(case, sandbox, ledger)
    before = len(sandbox.accepted())
    frame, guard, limit, now = case["frame"], case["guard"], case["limit"], case["now"]
    options = {"campaign": "spring", "ledger": ledger, "guardrails": guard, "now": now}
    p = plan(frame, CHANNEL, rate=1000, limit=limit, **options)
    shown = preview(frame, CHANNEL, rate=1000, limit=limit, **options)
    assert int((shown["fate"] == "send").sum()) == p.counts["send"]
    assert shown["fate"].tolist() == p.frame["plan"].tolist()
    if p.refused is not None:
        with pytest.raises((LimitExceeded, CampaignChanged)) as refused:
            send(frame, CHANNEL, live=True, limit=limit, transport=sandbox.transport(),
                 pacing=fast(), progress=False, **options)
        assert str(refused.value) == p.refused
        assert len(sandbox.accepted()) == before
        return
    results = send(frame, CHANNEL, live=True, limit=limit, transport=sandbox.transport(),
                   pacing=fast(), progress=False, **options)
    expected = Counter(STATUS_OF.get(f, f) for f in p.frame["plan"])
    assert Counter(results["status"]) == expected
    assert results["status"].tolist() == [STATUS_OF.get(f, f) for f in p.frame["plan"]]
    assert len(sandbox.accepted()) - before == p.counts["send"]
