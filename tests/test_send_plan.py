"""The send plan: what a send will do, counted before anything is sent."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import stamina

from _support import Counting, fast
from campaignkit import LimitExceeded
from campaignkit.channels.bird import Bird
from campaignkit.channels.sociocs import Sociocs
from campaignkit.channels.textus import TextUs
from campaignkit.guardrails import Budget, FrequencyCap, Guardrails, QuietHours, Suppression
from campaignkit.plan import SendPlan, plan, provider_validity
from campaignkit.recipients import load_recipients
from campaignkit.samples import SAMPLE_COUNTRIES
from campaignkit.sandbox import Sandbox
from campaignkit.sending import send
from campaignkit.templating import render

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
# 09:30 in New York, 08:30 in Chicago, 06:30 in Seattle and San Francisco (quiet), 13:30 in
# London, 14:30 in Madrid and Berlin, 19:00 in India.
MONDAY = datetime(2026, 3, 9, 13, 30, tzinfo=UTC)
# The sample's opt-outs as people type them: rows 2, 11 and 21 of the sheet.
OPT_OUTS = ["617-555-0101", "+44 (7400) 123402", "1 (617) 555 0166"]
WORKSPACE = "a1405560-c8d3-4b1a-877d-3f449ad95352"
BIRD_CHANNEL = "16e1df9e-c6ac-406b-b1ce-13f34d0dea08"


@pytest.fixture(autouse=True)
def _stamina_testing() -> Iterator[None]:
    with stamina.set_testing(True, attempts=5, cap=True):
        yield


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    """The sample campaign rendered: 64 recipients, default_region US."""
    recipients = load_recipients(SAMPLE / "recipients.xlsx", default_region="US",
                                 countries=SAMPLE_COUNTRIES)
    return render(recipients, (SAMPLE / "message.txt").read_text(encoding="utf-8").strip())


def sociocs() -> Sociocs:
    return Sociocs("kid:secret", "twlo_16175550100", "twlo")


def rows(numbers: list[str], segments: list[int] | None = None) -> pd.DataFrame:
    n = len(numbers)
    return pd.DataFrame(
        {"to": numbers, "text": ["Hi"] * n, "media": [()] * n, "template": [None] * n,
         "segments": segments or [1] * n, "problems": [()] * n},
        index=pd.Index(range(2, 2 + n), name="row"),
    )


GUARDS = {
    "suppression": Suppression.of(OPT_OUTS, default_region="US"),
    "quiet_hours": QuietHours(),
    "budget": Budget(price_per_segment="0.0079"),
}
GUARD = Guardrails(**GUARDS)


def counted(p) -> dict[str, int]:
    """A plan's counts without the fates no row has."""
    return {fate: n for fate, n in p.counts.items() if n}


# -- the sample campaign ----------------------------------------------------------------------


def test_the_sample_campaigns_plan_counts_every_row_once(sample) -> None:
    """64 rows: 47 sent now, 3 suppressed, 8 deferred (US west coast at 06:30), 5 skipped, 1
    duplicate."""
    p = plan(sample, sociocs(), rate=5, now=MONDAY, guardrails=GUARD)
    assert counted(p) == {"send": 47, "suppressed": 3, "deferred": 8, "skipped": 5, "duplicate": 1}
    assert (p.segments, p.cost, p.recipients) == (58, Decimal("0.4582"), 47)
    assert p.frame["plan"].loc[[2, 11, 21]].tolist() == ["suppressed"] * 3
    assert p.frame.index.equals(sample.index)
    assert p.frame.dtypes.astype(str).to_dict() == {
        "to": "str", "plan": "str", "reason": "str", "sendable_at": "datetime64[us, UTC]",
        "segments": "int64",
    }


def test_a_plan_reads_the_same_fates_from_the_decisions_codes_and_from_their_table(sample):
    """`SendPlan.of` gives the same frame and counts whether `decide` gave its fates' codes."""
    made = plan(sample, sociocs(), rate=5, now=MONDAY, guardrails=GUARD)
    assert made.decisions is not None
    without = SendPlan.of(sample, dataclasses.replace(made.decisions, _fate_codes=None),
                          sociocs())
    pd.testing.assert_frame_equal(without.frame, made.frame, check_exact=True)
    assert (without.counts, without.recipients, made.decisions._fate_codes is not None) == (
        made.counts, made.recipients, True)


def test_the_confirmation_text_says_what_will_happen_in_one_sentence(sample) -> None:
    """Messages, segments, cost, recipients, host, what is held back and how long it takes."""
    p = plan(sample, sociocs(), rate=5, now=MONDAY, guardrails=GUARD)
    assert p.confirmation_text() == (
        "Send 47 messages (58 segments, about $0.46) to 47 recipients via api.sociocs.com; "
        "3 suppressed, 8 deferred until 08:00 local, 5 skipped (problems), 1 duplicate; "
        "finishes in about "
        "10 s at 5/s"
    )
    assert repr(p) == (
        "<SendPlan send 47, skipped 5, duplicate 1, suppressed 3, deferred 8: 58 segments, "
        "about $0.46, "
        "about 10 s at 5/s>"
    )


def test_deferred_rows_carry_the_utc_time_they_become_sendable(sample) -> None:
    """The west-coast rows wait for 08:00 PDT = 15:00 UTC."""
    p = plan(sample, sociocs(), rate=5, now=MONDAY, guardrails=GUARD)
    deferred = p.frame[p.frame["plan"] == "deferred"]
    assert deferred.index.tolist() == [9, 12, 28, 34, 43, 48, 55, 57]
    assert deferred["sendable_at"].astype(str).unique().tolist() == ["2026-03-09 15:00:00+00:00"]


def test_a_limit_leaves_the_rest_waiting(sample) -> None:
    """limit=10 sends the first 10 sendable rows; the other 37 wait for the next run."""
    p = plan(sample, sociocs(), rate=5, limit=10, now=MONDAY, guardrails=GUARD)
    assert (p.counts["send"], p.counts["waiting"]) == (10, 37)
    assert p.confirmation_text().endswith(
        "5 skipped (problems), 1 duplicate, 37 waiting (limit=10); finishes in about 2 s at 5/s")


def test_an_over_budget_plan_is_refused_with_the_budgets_message(sample) -> None:
    """The plan shows the refusal `send` would raise, instead of a send sentence."""
    budget = Budget(max_total_segments=50, price_per_segment="0.0079")
    guard = Guardrails(suppression=GUARDS["suppression"], budget=budget)
    p = plan(sample, sociocs(), rate=5, now=MONDAY, guardrails=guard)
    message = ("the campaign needs 58 segments, 8 over max_total_segments=50; raise the limit "
               "or send fewer rows (limit=40 fits)")
    assert p.refused == message
    assert p.confirmation_text() == (
        f"Refused: {message}; 3 suppressed, 8 deferred until 08:00 local, 5 skipped "
        "(problems), 1 duplicate, 7 over budget")


def test_a_campaign_already_sent_says_so_and_counts_nothing_to_send(sample, tmp_path) -> None:
    """After a live run, the plan of the same campaign counts what is still to send: nothing."""
    guard = Guardrails(suppression=GUARDS["suppression"], quiet_hours=None)
    _send(sample, sociocs(), Sandbox(seed=1), tmp_path, guardrails=guard, now=MONDAY)
    p = plan(sample, sociocs(), campaign="clinic", ledger=tmp_path / "ledger.db", rate=5,
             now=MONDAY, guardrails=guard)
    assert counted(p) == {"already-sent": 55, "skipped": 5, "duplicate": 1, "suppressed": 3}
    assert p.confirmation_text().splitlines()[0] == (
        "Nothing to send; 55 already sent, 3 suppressed, 5 skipped (problems), 1 duplicate")


# -- quiet hours at departure, warnings -------------------------------------------------------


def test_a_row_that_would_leave_after_the_window_closes_is_deferred() -> None:
    """At 20:59:57 in New York and 1/s, the 4th message would leave at 21:00:00: deferred."""
    now = datetime(2026, 6, 2, 0, 59, 57, tzinfo=UTC)
    p = plan(rows(["+12125550110", "+12125550111", "+12125550112", "+12125550113"]),
             sociocs(), rate=1, guardrails=Guardrails(), now=now)
    assert counted(p) == {"send": 3, "deferred": 1}
    assert p.frame.at[5, "reason"] == (
        "quiet hours: would leave after the window closes 08:00-21:00 local in "
        "America/New_York; sendable at 2026-06-02 12:00 UTC (08:00 America/New_York)")


def test_a_slow_sender_throughput_stretches_the_queue() -> None:
    """At 1 segment/s, 3 messages of 2 segments take 6 s however fast they are submitted."""
    now = datetime(2026, 6, 2, 0, 59, 50, tzinfo=UTC)
    p = plan(rows(["+12125550110", "+12125550111", "+12125550112"], [2, 2, 2]), sociocs(),
             rate=100, throughput=1, guardrails=Guardrails(), now=now)
    assert p.seconds == 6.0
    assert p.warnings == (
        "the sender delivers 1 segments per second: the queue of 6 segments takes about 6 s "
        "to reach every phone",)


@pytest.mark.parametrize(
    ("channel", "rate", "warning"),
    [
        (Bird(WORKSPACE, BIRD_CHANNEL, "key"), 2e-5,
         "the queue takes about 41 h 40 min, longer than Bird's validity of 36 h (129,600 s): "
         "messages still queued then expire unsent; send fewer rows (limit=) or raise the rate"),
        (Bird(WORKSPACE, BIRD_CHANNEL, "key", validity=600), 0.004,
         "the queue takes about 13 min, longer than Bird's validity of 10 min (600 s): "
         "messages still queued then expire unsent; send fewer rows (limit=) or raise the rate"),
        (sociocs(), 5e-5,
         "the queue takes about 16 h 40 min, longer than Twilio's default validity period of "
         "10 h (36,000 s): messages still queued then expire unsent; send fewer rows (limit=) "
         "or raise the rate"),
        (sociocs(), 1e-4, None),
        (TextUs("acme", "token", "sms"), 1e-6, None),
    ],
)
def test_a_queue_longer_than_the_providers_validity_is_warned_about(channel, rate, warning) -> None:
    """Bird's validity (default 36 h) and Twilio's 10 h default are compared with the drain time."""
    p = plan(rows(["+12125550110", "+12125550111", "+12125550112"]), channel, rate=rate,
             now=datetime(2026, 6, 1, 14, tzinfo=UTC), guardrails=Guardrails(quiet_hours=None))
    assert p.warnings == ("quiet hours are off: messages may reach people at night "
                          "(Guardrails(quiet_hours=None))",) + (
        () if warning is None else (warning,))


@pytest.mark.parametrize(
    ("channel", "rate", "warning"),
    [
        (TextUs("acme", "token", "sms"), 5,
         "rate=5/s is above textus:sms's documented limit of 1,000 requests per 5 minutes: "
         "expect 429 answers and pauses; use rate=3.33 or less"),
        (TextUs("acme", "token", "sms"), 3, None),
        (Bird(WORKSPACE, BIRD_CHANNEL, "key"), 600,
         "rate=600/s is above bird's documented limit of 500 requests per second: expect 429 "
         "answers and pauses; use rate=500 or less"),
    ],
)
def test_a_rate_above_the_providers_documented_limit_is_warned_about(channel, rate, warning):
    """TextUs allows 1,000 requests per 5 minutes, Bird 500 sends per second per workspace."""
    p = plan(rows(["+12125550110"]), channel, rate=rate,
             now=datetime(2026, 6, 1, 14, tzinfo=UTC), guardrails=Guardrails())
    assert p.warnings == (() if warning is None else (warning,))


def test_each_provider_has_a_default_rate_under_its_documented_limit() -> None:
    """The default rate never draws a 429 by itself: TextUs 3/s, Bird 50/s, Sociocs 5/s."""
    channels = [TextUs("acme", "token", "sms"), Bird(WORKSPACE, BIRD_CHANNEL, "key"), sociocs()]
    assert [plan(rows(["+12125550110"]), c, now=datetime(2026, 6, 1, 14, tzinfo=UTC)).rate
            for c in channels] == [3.0, 50.0, 5.0]


def test_provider_validity_follows_the_providers_documents() -> None:
    """Bird 129,600 s unless set, Sociocs over Twilio 36,000 s, Gupshup and TextUs unknown."""
    assert [provider_validity(c) for c in (
        Bird(WORKSPACE, BIRD_CHANNEL, "key"), sociocs(),
        Sociocs("kid:secret", "gswa_1", "gswa"), TextUs("acme", "token", "sms"),
    )] == [(129_600, "Bird's validity"), (36_000, "Twilio's default validity period"),
           None, None]


def test_the_html_view_is_escaped() -> None:
    """Text in the notebook view is HTML-escaped."""
    p = plan(rows(["+12125550110"]), sociocs(), rate=1,
             guardrails=Guardrails(budget=Budget(price_per_segment=1, currency="<b>")),
             now=datetime(2026, 6, 1, 14, tzinfo=UTC))
    view = p._repr_html_()
    assert "&lt;b&gt;1.00" in view
    assert "<b>" not in view


# -- plan and send agree (the engine integration) ---------------------------------------------


def _send(frame: pd.DataFrame, channel: Sociocs, sandbox: Sandbox, tmp_path: Path,
          **options: object) -> pd.DataFrame:
    return send(frame, channel, campaign="clinic", live=True, transport=sandbox.transport(),
                ledger=tmp_path / "ledger.db", progress=False, pacing=fast(), **options)


def test_suppressed_numbers_in_mixed_formats_get_0_requests_counted_by_the_sandbox(
    sample, tmp_path
) -> None:
    """send(guardrails=...) makes 0 requests for suppressed rows and reports them suppressed."""
    sandbox = Sandbox(seed=1)
    results = _send(sample, sociocs(), sandbox, tmp_path, guardrails=GUARD, now=MONDAY)
    received = set(sandbox.accepted()["to"].tolist())
    assert len(received) == 47
    assert {"+16175550101", "+447400123402", "+16175550166"} & received == set()
    assert results.loc[[2, 11, 21], "status"].tolist() == ["suppressed"] * 3
    assert results["status"].value_counts().to_dict() == {
        "sent": 47, "deferred": 8, "skipped": 5, "duplicate": 1, "suppressed": 3}


def test_the_send_plans_counts_equal_what_send_then_does(sample, tmp_path) -> None:
    """Every plan count equals the matching result count, and the requests made."""
    guard = Guardrails(**GUARDS, frequency_cap=FrequencyCap(1, timedelta(days=1)))
    p = plan(sample, sociocs(), rate=5, limit=40, now=MONDAY, guardrails=guard)
    sandbox = Sandbox(seed=1)
    results = _send(sample, sociocs(), sandbox, tmp_path, limit=40, guardrails=guard, now=MONDAY)
    done = results["status"].value_counts().to_dict()
    assert counted(p) == {("send" if s == "sent" else s): n for s, n in done.items()}
    assert len(sandbox.accepted()) == p.counts["send"]


def test_the_frequency_cap_sees_an_id_keyed_campaign_in_the_same_ledger(sample, tmp_path) -> None:
    """A campaign keyed by "Patient ID" still counts per number for the next campaign's cap."""
    first = sample.loc[[3, 4]]
    _send(first, sociocs(), Sandbox(seed=1), tmp_path, key="Patient ID",
          guardrails=Guardrails(quiet_hours=None))
    cap = Guardrails(quiet_hours=None, frequency_cap=FrequencyCap(1, timedelta(days=1)))
    p = plan(sample.loc[[3, 4, 5]], sociocs(), campaign="next", ledger=tmp_path / "ledger.db",
             guardrails=cap, now=datetime.now(UTC) + timedelta(minutes=1))
    assert p.frame["plan"].tolist() == ["capped", "capped", "send"]


def test_a_frequency_cap_holds_across_campaigns_without_passing_anything(sample, tmp_path):
    """Campaign A texts everyone; campaign B with FrequencyCap(1, 1 day) sends 0 requests."""
    cap = Guardrails(quiet_hours=None, frequency_cap=FrequencyCap(1, timedelta(days=1)))
    sandbox = Sandbox(seed=1)
    a = send(sample, sociocs(), campaign="a", live=True, transport=sandbox.transport(),
             progress=False, pacing=fast(), guardrails=cap)
    texted = int((a["status"] == "sent").sum())
    counting = Counting(sandbox.transport())
    b = send(render(load_recipients(SAMPLE / "recipients.xlsx", default_region="US",
                                    countries=SAMPLE_COUNTRIES),
                    "Another message for {{ first_name }}"),
             sociocs(), campaign="b", live=True, transport=counting, progress=False,
             pacing=fast(), guardrails=cap)
    assert counting.methods == []
    assert int((b["status"] == "capped").sum()) == texted == 58


def test_a_budget_holds_across_four_limited_runs(sample, tmp_path) -> None:
    """max_cost=$0.20 and limit=16 four times: what the sandbox received costs $0.20 or less
    in all (it cost $0.58 when the budget was per run); each refusal says what is spent."""
    price = Decimal("0.0079")
    guard = Guardrails(quiet_hours=None, budget=Budget(max_cost="0.20", price_per_segment=price))
    sandbox = Sandbox(seed=1)
    refusals: list[str] = []
    for _ in range(4):
        try:
            _send(sample, sociocs(), sandbox, tmp_path, guardrails=guard, limit=16)
        except LimitExceeded as exc:
            refusals.append(str(exc))
    segments = dict(zip(sample["to"], sample["segments"], strict=False))
    spent = price * sum(segments[to] for to in sandbox.accepted()["to"])
    assert (len(sandbox.accepted()), spent, len(refusals)) == (16, Decimal("0.1975"), 3)
    assert refusals[0] == (
        "the campaign costs about $0.35 ($0.20 spent before, $0.00 left), $0.15 over "
        "max_cost=$0.20; raise the limit or nothing more fits this campaign's budget")


def test_an_over_budget_campaign_sends_0_requests_and_says_which_limit_and_by_how_much(
    sample, tmp_path
) -> None:
    """send(guardrails=) with a budget the campaign breaks: LimitExceeded, the sandbox saw 0."""
    sandbox = Sandbox(seed=1)
    guard = Guardrails(suppression=GUARDS["suppression"], quiet_hours=QuietHours(),
                       budget=Budget(max_total_segments=50, price_per_segment="0.0079"))
    with pytest.raises(LimitExceeded) as caught:
        _send(sample, sociocs(), sandbox, tmp_path, guardrails=guard, now=MONDAY)
    assert str(caught.value) == (
        "the campaign needs 58 segments, 8 over max_total_segments=50; raise the limit "
        "or send fewer rows (limit=40 fits)")
    assert len(sandbox.accepted()) == 0
    assert caught.value.results["status"].value_counts().to_dict() == {
        "waiting": 40, "deferred": 8, "over-budget": 7, "skipped": 5, "duplicate": 1,
        "suppressed": 3}
    fits = _send(sample, sociocs(), sandbox, tmp_path, guardrails=guard, now=MONDAY, limit=40)
    assert (fits["status"] == "sent").sum() == len(sandbox.accepted()) == 40
