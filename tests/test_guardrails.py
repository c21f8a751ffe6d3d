"""Guardrails: suppression, quiet hours, budgets and frequency caps decide rows before a send.

The policies are applied by `campaignkit.decide` (the one decision every front door calls);
these tests read its fates, reasons and times.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from campaignkit import ColumnError, LimitExceeded, Problem, decide
from campaignkit.guardrails import (
    Budget,
    FrequencyCap,
    Guardrails,
    QuietHours,
    Suppression,
    opted_out,
    zones_for_number,
)
from campaignkit.ledger import History, Ledger, Spend
from campaignkit.recipients import load_recipients
from campaignkit.templating import render

NOON_UTC = datetime(2026, 6, 1, 12, tzinfo=UTC)


def frame(
    numbers: list[str], *, segments: list[int] | None = None, **columns: list[str]
) -> pd.DataFrame:
    """A rendered-like frame, rows numbered like the sheet (from 2)."""
    n = len(numbers)
    return pd.DataFrame(
        {"to": numbers, "text": ["Hi"] * n, "segments": segments or [1] * n,
         "problems": [()] * n, **columns},
        index=pd.Index(range(2, 2 + n), name="row"),
    )


class Verdict:
    """`decide`'s table read the way these tests ask: a guardrail status or None for "send"."""

    def __init__(self, guard: Guardrails, rows: pd.DataFrame, *, now: datetime,
                 history: History | None = None) -> None:
        self.table = decide(rows, guardrails=guard, now=now, history=history, rate=1000).table
        self.sendable = self.table["fate"] == "send"
        self.sendable_at = self.table["sendable_at"]
        self.error = self.table["reason"]
        self.problems = {k: v for k, v in self.table["problems"].items() if v}


def statuses(verdict: Verdict) -> list[str | None]:
    return [None if fate == "send" else fate for fate in verdict.table["fate"]]


# -- suppression ------------------------------------------------------------------------------


def test_suppression_normalises_numbers_in_any_format_and_keeps_the_rejected() -> None:
    """Numbers typed any way become E.164; entries that are not numbers are kept as rejected."""
    s = Suppression.of(
        ["(617) 555-0101", "+1 617 555 0102", "16175550103", "1.6175550104E+10",
         "617.555.0105\u200b", "+44 7400 123401", "", "not a number"],
        default_region="US",
    )
    assert sorted(s) == ["+16175550101", "+16175550102", "+16175550103", "+16175550104",
                         "+16175550105", "+447400123401"]
    assert s.rejected == ("not a number",)
    assert repr(s) == "Suppression(6 numbers, 1 rejected)"


def test_suppression_from_a_series_matches_the_rendered_frames_numbers() -> None:
    """A suppression Series in mixed formats matches the E.164 numbers `render` produces."""
    sheet = io.StringIO(
        "Name,Phone\nAda,+1 617 555 0101\nBo,(617) 555-0102\nCy,617-555-0103\n"
        "Di,+44 7400 123401\nEd,+49 1512 3456701\n"
    )
    rendered = render(load_recipients(sheet, default_region="US", countries=["US", "GB", "DE"]),
                      "Hi {{ name }}")
    suppression = Suppression.of(
        pd.Series(["6175550101", "+1 (617) 555-0103", "011 44 7400 123401", None]),
        default_region="US",
    )
    verdict = Verdict(Guardrails(suppression=suppression), rendered, now=NOON_UTC)
    assert statuses(verdict) == ["suppressed", None, "suppressed", "suppressed", None]
    assert verdict.sendable.tolist() == [False, True, False, False, True]
    assert verdict.error.loc[2] == (
        "suppressed: the number is on the suppression list (opted out or blocked); not sent"
    )


def test_suppression_reads_a_sheet_and_saves_a_csv_that_reads_back(tmp_path) -> None:
    """`read` finds the phone column like the recipients loader; `save` round-trips sorted."""
    path = tmp_path / "optouts.csv"
    path.write_text("Mobile,Reason\n(617) 555-0102,STOP\n+1 617 555 0101,asked\nxyz,?\n",
                    encoding="utf-8")
    s = Suppression.read(path, default_region="US")
    assert (sorted(s), s.rejected) == (["+16175550101", "+16175550102"], ("xyz",))
    saved = s.save(tmp_path / "saved.csv")
    assert saved.read_bytes() == b"phone\r\n+16175550101\r\n+16175550102\r\n"
    assert Suppression.read(saved).numbers == s.numbers


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        ("failed", "21610: Attempt to send to unsubscribed recipient", True),
        ("failed", "Twilio error 21610", True),
        ("failed", "The recipient has opted out", True),
        ("failed", "contact opted-out of messages", True),
        ("failed", "Contact is blocked", True),
        ("failed", "HTTP 400: to is not a valid phone number", False),
        ("failed", "21614: not a mobile number", False),
        ("sent", "unsubscribed", False),
        ("failed", None, False),
    ],
)
def test_opt_out_errors_are_recognised_only_on_refused_rows(status, error, expected) -> None:
    """Twilio 21610, "unsubscribed", "opted out" and "blocked" on a failed row mean opted out."""
    results = pd.DataFrame({"to": ["+16175550101"], "status": [status], "error": [error]})
    assert opted_out(results).tolist() == [expected]


def test_learn_returns_a_new_list_with_the_opted_out_numbers() -> None:
    """`learn` adds the numbers of refused opt-out rows and leaves the original untouched."""
    before = Suppression.of(["+16175550109"])
    results = pd.DataFrame(
        {"to": ["+16175550101", "+16175550102", "+16175550103", ""],
         "status": ["failed", "failed", "sent", "failed"],
         "error": ["21610: Attempt to send to unsubscribed recipient", "HTTP 500", None,
                   "21610"]},
        index=pd.Index([2, 3, 4, 5], name="row"),
    )
    after = before.learn(results)
    assert (sorted(before), sorted(after)) == (
        ["+16175550109"], ["+16175550101", "+16175550109"])


# -- quiet hours: the window's edges on the 2026 daylight-saving switch dates -----------------

# (zone, number in that zone, local date): the US switches on 2026-03-08 and 2026-11-01, the
# EU on 2026-03-29 and 2026-10-25; India keeps one offset all year.
EDGES = [
    # zone, number, day, 07:59:59 -> sendable at, 21:00:00 -> sendable at (UTC)
    ("America/New_York", "+12125550110", date(2026, 3, 8),
     "2026-03-08 12:00:00+00:00", "2026-03-09 12:00:00+00:00"),
    ("America/New_York", "+12125550110", date(2026, 11, 1),
     "2026-11-01 13:00:00+00:00", "2026-11-02 13:00:00+00:00"),
    ("America/Los_Angeles", "+14155550142", date(2026, 3, 8),
     "2026-03-08 15:00:00+00:00", "2026-03-09 15:00:00+00:00"),
    ("America/Los_Angeles", "+14155550142", date(2026, 11, 1),
     "2026-11-01 16:00:00+00:00", "2026-11-02 16:00:00+00:00"),
    ("Europe/London", "+447400123401", date(2026, 3, 29),
     "2026-03-29 07:00:00+00:00", "2026-03-30 07:00:00+00:00"),
    ("Europe/London", "+447400123401", date(2026, 10, 25),
     "2026-10-25 08:00:00+00:00", "2026-10-26 08:00:00+00:00"),
    ("Europe/Berlin", "+4915123456701", date(2026, 3, 29),
     "2026-03-29 06:00:00+00:00", "2026-03-30 06:00:00+00:00"),
    ("Europe/Berlin", "+4915123456701", date(2026, 10, 25),
     "2026-10-25 07:00:00+00:00", "2026-10-26 07:00:00+00:00"),
    ("Asia/Kolkata", "+918123456701", date(2026, 3, 29),
     "2026-03-29 02:30:00+00:00", "2026-03-30 02:30:00+00:00"),
    ("Asia/Kolkata", "+918123456701", date(2026, 10, 25),
     "2026-10-25 02:30:00+00:00", "2026-10-26 02:30:00+00:00"),
]
CASES = [
    pytest.param(zone, number, day, clock, expected, id=f"{zone}-{day}-{clock:%H%M%S}")
    for zone, number, day, early, late in EDGES
    for clock, expected in [
        (time(7, 59, 59), early), (time(8), None), (time(20, 59, 59), None), (time(21), late),
    ]
]


@pytest.mark.parametrize(("zone", "number", "day", "clock", "expected"), CASES)
def test_quiet_hours_send_only_from_08_00_to_before_21_00_local_across_dst(
    zone, number, day, clock, expected
) -> None:
    """At 07:59:59 and 21:00:00 local a row waits for 08:00 local; at 08:00 and 20:59:59 it goes."""
    now = datetime.combine(day, clock, tzinfo=ZoneInfo(zone)).astimezone(UTC)
    verdict = Verdict(Guardrails(), frame([number]), now=now)
    assert statuses(verdict) == ["deferred" if expected else None]
    got = verdict.sendable_at.iloc[0]
    assert (None if pd.isna(got) else str(got)) == expected
    assert str(verdict.sendable_at.dtype) == "datetime64[us, UTC]"


@pytest.mark.parametrize(
    ("zone", "now", "expected"),
    [
        # 21:00 EST on the eve of spring-forward: 08:00 EDT next morning is only 10 h later.
        ("America/New_York", "2026-03-08 02:00:00+00:00", "2026-03-08 12:00:00+00:00"),
        # 21:00 EDT on the eve of fall-back: 08:00 EST next morning is 12 h later.
        ("America/New_York", "2026-11-01 01:00:00+00:00", "2026-11-01 13:00:00+00:00"),
        # 21:00 GMT on the eve of the EU spring switch: 08:00 BST is 07:00 UTC.
        ("Europe/London", "2026-03-28 21:00:00+00:00", "2026-03-29 07:00:00+00:00"),
        # 21:00 CEST on the eve of the EU autumn switch: 08:00 CET is 07:00 UTC.
        ("Europe/Berlin", "2026-10-24 19:00:00+00:00", "2026-10-25 07:00:00+00:00"),
    ],
)
def test_a_row_deferred_overnight_opens_at_08_00_after_the_clocks_change(
    zone, now, expected
) -> None:
    """The next window opens at 08:00 wall-clock time even when the offset changes overnight."""
    rows = frame(["+16175550101"], tz=[zone])
    verdict = Verdict(Guardrails(), rows, now=datetime.fromisoformat(now))
    assert str(verdict.sendable_at.iloc[0]) == expected


def test_deferred_rows_say_when_and_where() -> None:
    """A deferred row's error names the window, the zone and the UTC and local time it opens."""
    now = datetime(2026, 3, 8, 11, 59, 59, tzinfo=UTC)  # 07:59:59 EDT
    verdict = Verdict(Guardrails(), frame(["+12125550110"]), now=now)
    assert verdict.error.tolist() == [
        "quiet hours: outside 08:00-21:00 local in America/New_York; sendable at "
        "2026-03-08 12:00 UTC (08:00 America/New_York)"
    ]


@pytest.mark.parametrize(
    ("number", "now", "status", "sendable_at"),
    [
        # +34 6.. is in Europe/Madrid and Atlantic/Canary (one hour behind): 08:30 Madrid is
        # 07:30 in the Canaries, so it waits for 09:00 Madrid = 08:00 Canary.
        ("+34612345601", "2026-06-01 06:30:00+00:00", "deferred", "2026-06-01 07:00:00+00:00"),
        ("+34612345601", "2026-06-01 07:00:00+00:00", None, None),
        # 20:30 Madrid is 19:30 Canary: inside both.
        ("+34612345601", "2026-06-01 18:30:00+00:00", None, None),
        # 21:00 Madrid: closed there though open in the Canaries.
        ("+34612345601", "2026-06-01 19:00:00+00:00", "deferred", "2026-06-02 07:00:00+00:00"),
        # +1 907 is Anchorage and Adak (one hour behind): 08:00 Anchorage waits for Adak.
        ("+19075550100", "2026-06-01 16:00:00+00:00", "deferred", "2026-06-01 17:00:00+00:00"),
        ("+19075550100", "2026-06-01 17:00:00+00:00", None, None),
    ],
)
def test_a_multi_zone_number_is_sent_only_when_the_window_holds_in_all_zones(
    number, now, status, sendable_at
) -> None:
    """A number that maps to several zones goes only when it is 08:00-21:00 in every one."""
    verdict = Verdict(Guardrails(), frame([number]), now=datetime.fromisoformat(now))
    got = verdict.sendable_at.iloc[0]
    assert (statuses(verdict), None if pd.isna(got) else str(got)) == ([status], sendable_at)


def test_the_zones_of_a_multi_zone_number_come_from_phonenumbers() -> None:
    """The zones used are phonenumbers' own, sorted."""
    assert zones_for_number("+34612345601") == ("Atlantic/Canary", "Europe/Madrid")
    assert zones_for_number("+19075550100") == ("America/Adak", "America/Anchorage")
    assert len(zones_for_number("+18005550100")) == 42


def test_zones_too_far_apart_for_the_window_are_a_problem_not_a_silent_wait() -> None:
    """When no moment is inside the window in all zones, the row gets a schedule problem."""
    guard = Guardrails(quiet_hours=QuietHours(start=time(9), end=time(12)))
    verdict = Verdict(guard, frame(["+16175550101", "+18005550100"]), now=NOON_UTC)
    assert statuses(verdict) == ["deferred", "skipped"]  # 08:00 in Boston: waits for 09:00
    assert verdict.sendable.tolist() == [False, False]
    assert verdict.problems == {3: (Problem(
        3, None,
        "the number spans time zones too far apart (America/Adak, America/Anchorage, "
        "America/Anguilla, America/Antigua and 38 more): no moment is inside 09:00-12:00 "
        'local in all of them; add a time-zone column ("tz") naming the recipient\'s zone',
        "schedule"),)}


def test_a_time_zone_column_overrides_the_numbers_zones() -> None:
    """A tz cell decides the zone; an empty one falls back to the number; a bad one is a problem."""
    rows = frame(["+18005550100", "+12125550110", "+12125550110"],
                 **{"Time Zone": ["America/Chicago", "", "Mars/Olympus"]})
    rows.attrs["campaignkit.load"] = {"duplicates": "keep"}
    now = datetime(2026, 6, 1, 13, 30, tzinfo=UTC)  # 08:30 Chicago, 09:30 New York
    verdict = Verdict(Guardrails(), rows, now=now)
    assert verdict.sendable.tolist() == [True, True, False]
    assert [str(p) for p in verdict.problems[4]] == [
        'row 4: "Mars/Olympus" in column "Time Zone" is not an IANA time zone: write it like '
        '"America/New_York" or "Europe/London", or leave it empty to use the number\'s'
    ]


def test_a_named_tz_column_must_exist() -> None:
    """QuietHours(tz_column=...) naming no column raises ColumnError listing the columns."""
    with pytest.raises(ColumnError, match=r'^tz_column="zone": there is no such column; '
                                          r"columns found: to, text, segments, problems$"):
        Verdict(Guardrails(quiet_hours=QuietHours(tz_column="zone")), frame(["+12125550110"]),
                now=NOON_UTC)


def test_the_clock_must_be_timezone_aware() -> None:
    """A naive `now` is refused: a wall time without a zone cannot be placed."""
    with pytest.raises(ValueError, match="has no time zone"):
        Verdict(Guardrails(), frame(["+12125550110"]), now=datetime(2026, 6, 1, 12))


def test_quiet_hours_reject_a_window_that_ends_before_it_starts() -> None:
    """start must come before end."""
    with pytest.raises(ValueError, match=r"^start=22:00 must be before end=06:00"):
        QuietHours(start=time(22), end=time(6))


# -- budgets ----------------------------------------------------------------------------------


def test_a_campaign_over_max_total_segments_is_refused_naming_the_limit_and_excess() -> None:
    """1,204 segments against max_total_segments=1,000: refused, 204 over, the limit that fits."""
    rows = frame([f"+1617555{i:04d}" for i in range(602)], segments=[2] * 602)
    with pytest.raises(LimitExceeded) as caught:
        check(Budget(max_total_segments=1_000), rows)
    assert str(caught.value) == (
        "the campaign needs 1,204 segments, 204 over max_total_segments=1,000; raise the "
        "limit or send fewer rows (limit=500 fits)"
    )


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        (Budget(max_recipients=2),
         "the campaign sends 3 messages, 1 over max_recipients=2; raise the limit or send "
         "fewer rows (limit=2 fits)"),
        (Budget(max_segments_per_message=2),
         "1 message (row 4) take up to 4 segments, 2 over max_segments_per_message=2; shorten "
         "the message or replace the characters that force UCS-2; raise the limit or send "
         "fewer rows (limit=2 fits)"),
        (Budget(max_cost="0.05", price_per_segment={"US": "0.0079", "GB": "0.04"}),
         "the campaign costs about $0.12, $0.07 over max_cost=$0.05; raise the limit or send "
         "fewer rows (limit=1 fits)"),
        (Budget(max_cost=1, price_per_segment={"US": "0.0079"}),
         'max_cost cannot be checked: price_per_segment has no price for GB (row 3); add it, '
         'e.g. {"GB": "0.05"}, or a "*" price for every other region'),
    ],
)
def test_each_budget_limit_names_itself_and_the_excess(budget, message) -> None:
    """Every limit's refusal names the limit, the excess and what to do."""
    rows = frame(["+16175550101", "+447400123401", "+16175550102"], segments=[1, 2, 4])
    with pytest.raises(LimitExceeded) as caught:
        check(budget, rows)
    assert str(caught.value) == message


def check(budget: Budget, rows: pd.DataFrame, spent: Spend | None = None) -> None:
    budget.check(rows["to"].tolist(), rows["segments"].tolist(), list(rows.index), spent=spent)


def test_a_budget_counts_only_the_rows_that_will_be_sent() -> None:
    """A row the decision does not send (a problem) does not count against the budget."""
    rows = frame(["+16175550101", "+16175550102", "+16175550103"], segments=[1, 5, 1])
    rows.loc[3, "problems"] = (Problem(3, "Phone", "is wrong", "invalid-phone"),)
    guard = Guardrails(quiet_hours=None, budget=Budget(max_total_segments=2))
    decisions = decide(rows, guardrails=guard, now=NOON_UTC, rate=10)
    assert (decisions.refusal, decisions.table["fate"].tolist()) == (
        None, ["send", "skipped", "send"])


def test_a_budget_holds_across_runs_and_names_what_is_spent_and_left() -> None:
    """$0.14 spent before, 16 more messages at $0.0079 each: refused, limit=7 fits."""
    rows = frame([f"+1617555{i:04d}" for i in range(16)], segments=[1] * 16)
    budget = Budget(max_cost="0.20", price_per_segment="0.0079")
    with pytest.raises(LimitExceeded) as caught:
        check(budget, rows, Spend(16, 16, Decimal("0.1264")))
    assert str(caught.value) == (
        "the campaign costs about $0.25 ($0.13 spent before, $0.07 left), $0.05 over "
        "max_cost=$0.20; raise the limit or send fewer rows (limit=9 fits)"
    )


def test_budget_prices_by_region_with_a_default() -> None:
    """A price map picks the number's region, "*" for the rest; a float price is exact."""
    budget = Budget(price_per_segment={"us": 0.0079, "*": "0.05"})
    assert budget.cost(["+16175550101", "+447400123401"], [2, 1]) == (Decimal("0.0658"), [])
    assert repr(budget) == "Budget(price_per_segment={'US': '0.0079', '*': '0.05'})"


# -- frequency cap ----------------------------------------------------------------------------


def _ledger(tmp_path, rows: list[tuple[str, str, str, str, str | None]]) -> Ledger:
    """A ledger with (campaign, mode, number, status, sent_at) rows, written the engine's way."""
    ledger = Ledger(tmp_path / "ledger.db")
    for campaign, mode, number, status, sent_at in rows:
        entry = [(number, "2", "digest")]
        ledger.mark_pending(campaign, mode, entry, 1, recipients=[number])
        ledger.mark_outcome(campaign, mode, entry, status=status, attempts=1, sent_at=sent_at)
    return ledger


def test_the_frequency_cap_counts_live_sends_across_campaigns_but_not_dry_runs(tmp_path) -> None:
    """Two live sends in 7 days cap the number; dry runs and older sends do not count."""
    ledger = _ledger(tmp_path, [
        ("spring", "live", "+16175550101", "sent", "2026-05-27T09:00:00+00:00"),
        ("summer", "live", "+16175550101", "sent", "2026-05-30T10:15:00.250000+00:00"),
        ("spring", "dry-run", "+16175550102", "dry-run", "2026-05-31T09:00:00+00:00"),
        ("summer", "dry-run", "+16175550102", "dry-run", "2026-05-31T09:00:00+00:00"),
        ("spring", "live", "+16175550103", "sent", "2026-05-20T09:00:00+00:00"),
        ("autumn", "live", "+16175550103", "failed", None),
    ])
    cap = FrequencyCap(max_messages=2, period=timedelta(days=7))
    rows = frame(["+16175550101", "+16175550102", "+16175550103"])
    history = ledger.history("winter", since=NOON_UTC - cap.period)
    ledger.close()
    verdict = Verdict(Guardrails(quiet_hours=None, frequency_cap=cap), rows, now=NOON_UTC,
                      history=history)
    assert statuses(verdict) == ["capped", None, None]
    assert str(verdict.sendable_at.iloc[0]) == "2026-06-03 09:00:00+00:00"
    assert verdict.error.iloc[0] == (
        "frequency cap: 2 messages to this number in the last 7 days (max_messages=2 per "
        "7 days); a slot frees at 2026-06-03 09:00 UTC: run the campaign again then"
    )


def test_rows_of_one_number_in_the_same_frame_count_against_the_cap() -> None:
    """With max 1 per day and no history, the second row of a number is capped until tomorrow."""
    cap = FrequencyCap(max_messages=1, period=timedelta(days=1))
    rows = frame(["+16175550101", "+16175550102", "+16175550101"])
    rows.attrs["campaignkit.load"] = {"duplicates": "keep"}
    verdict = Verdict(Guardrails(quiet_hours=None, frequency_cap=cap), rows, now=NOON_UTC)
    assert statuses(verdict) == [None, None, "capped"]
    assert verdict.error.iloc[2] == (
        "frequency cap: 0 messages to this number in the last 1 day and 1 earlier in this "
        "campaign (max_messages=1 per 1 day); a slot frees at 2026-06-02 12:00 UTC: run the "
        "campaign again then"
    )


def test_precedence_is_problems_then_suppressed_then_capped_then_deferred() -> None:
    """Each row gets one verdict; a row with problems is left to be skipped."""
    rows = frame(["+12125550110", "+12125550111", "+12125550112", "+12125550112", ""])
    rows.loc[6, "problems"] = (Problem(6, "Phone", "the phone number is empty",
                                       "missing-phone"),)
    guard = Guardrails(
        suppression=Suppression.of(["+12125550111"]),
        quiet_hours=QuietHours(),
        frequency_cap=FrequencyCap(max_messages=1, period=timedelta(days=1)),
    )
    rows.attrs["campaignkit.load"] = {"duplicates": "keep"}
    night = datetime(2026, 6, 1, 3, tzinfo=UTC)  # 23:00 in New York
    verdict = Verdict(guard, rows, now=night)
    assert statuses(verdict) == ["deferred", "suppressed", "deferred", "capped", "skipped"]
    assert verdict.sendable.tolist() == [False, False, False, False, False]


def test_deciding_never_modifies_the_callers_frame() -> None:
    """The frame passed in is unchanged (DataFrames in, new objects out)."""
    rows = frame(["+12125550110", "+18005550100"])
    before = rows.copy()
    Verdict(Guardrails(quiet_hours=QuietHours(start=time(9), end=time(12)),
                       suppression=Suppression.of(["+12125550110"])), rows, now=NOON_UTC)
    pd.testing.assert_frame_equal(rows, before)


def test_reprs_show_policies_never_numbers() -> None:
    """Every guardrail's repr is short and shows no phone number."""
    guard = Guardrails(
        suppression=Suppression.of(["+12125550110"]), quiet_hours=QuietHours(),
        budget=Budget(max_recipients=500), frequency_cap=FrequencyCap(3, timedelta(days=7)),
    )
    assert repr(guard) == (
        "Guardrails(suppression=Suppression(1 number), quiet_hours=QuietHours(08:00-21:00 "
        "local), budget=Budget(max_recipients=500), frequency_cap=FrequencyCap(3 per 7 days))"
    )


def test_suppression_of_one_string_is_a_type_error_naming_the_fix() -> None:
    """A single number passed as a string would be read one character at a time."""
    with pytest.raises(TypeError) as raised:
        Suppression.of("+16175550101")
    assert str(raised.value) == (
        "Suppression.of takes a list of numbers, not one string: write "
        "Suppression.of(['+16175550101'])")


def test_entries_that_suppress_nobody_are_a_warning_of_the_decision() -> None:
    """Rejected suppression entries are named in the decision's warnings (plan and send)."""
    guard = Guardrails(suppression=Suppression.of(["+16175550101", "call me", "n/a"]))
    decisions = decide(frame(["+16175550101"]), guardrails=guard, now=NOON_UTC, rate=10)
    assert decisions.warnings == (
        "2 suppression entries are not a phone number and suppress nobody: 'call me', 'n/a'",)


def test_numbers_suppressed_in_the_ledger_are_never_sent() -> None:
    """The ledger's list (opt-outs learned from providers, ck.suppress) holds every campaign."""
    history = History(suppressed={"+16175550102": "replied STOP on 2 Dec"})
    verdict = Verdict(Guardrails(quiet_hours=None),
                      frame(["+16175550101", "+16175550102"]), now=NOON_UTC, history=history)
    assert statuses(verdict) == [None, "suppressed"]
    assert verdict.error.iloc[1] == "suppressed: replied STOP on 2 Dec; not sent"
