"""The vectorised `decide` gives exactly what the per-row loop it replaced gives.

`_decide_reference.reference_decide` is that loop, kept verbatim. Random frames (numbers in
many zones, duplicates, shared keys, empty cells, media, templates, problems), histories,
guardrails, limits and rates go through both; every column of the table, the order, the
refusal, the warnings and the times must be equal. The only difference allowed is the
storage of the ``key`` and ``digest`` columns: Arrow-backed strings instead of Python
objects, the same values.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _decide_reference import reference_decide
from campaignkit import Bird, Media, Sociocs, Template, TextUs
from campaignkit._columns import codes, stripped
from campaignkit.decisions import Decisions, content_digest, decide
from campaignkit.guardrails import Budget, FrequencyCap, Guardrails, QuietHours, Suppression
from campaignkit.ledger import History, Record, Spend
from campaignkit.problems import Problem

NUMBERS = [
    "+447400123401", "+447400123402", "+447911123456", "+441481123456",  # GB, Guernsey
    "+12125550110", "+14155550142", "+18005550100",  # New York, San Francisco, toll free
    "+353851234567", "+4915123456701", "+918123456701", "+61412345678",
    "+447700900123",  # Ofcom's drama range: not a valid number, no zone
    "+999123456", "", " +447400123401", "07400 123401",
]
# Weighted towards rows that can be sent, so every later rule has rows to decide.
TEXTS = ["Hi"] * 6 + ["Hi Ada, see you at 9:00."] * 4 + [
    "", None, pd.NA, "é" * 1601, 'say "hi"\\ok', "two\nlines", "tab\tand\x01control",
    "👋 emoji"]
MEDIA = [()] * 12 + [(Media(url="https://example.com/a.png"),), [], None]
TEMPLATES = [None] * 12 + [Template(id="HX" + "a" * 32, variables={"1": "x"})]
ZONES = [None, "Europe/London", "America/New_York", "Mars/Olympus", "", "  ", float("nan")]
NOWS = [
    datetime(2026, 12, 2, 12, tzinfo=UTC), datetime(2026, 12, 2, 20, 58, tzinfo=UTC),
    datetime(2026, 12, 2, 3, tzinfo=UTC), datetime(2026, 3, 29, 7, 59, 59, tzinfo=UTC),
    # 30 s before 21:00 in London: at 0.1/s the fourth message leaves exactly at the close
    datetime(2026, 12, 2, 20, 59, 30, tzinfo=UTC),
]
WORKSPACE = "a1405560-c8d3-4b1a-877d-3f449ad95352"
CHANNEL = "ce6a2fd6-b2fa-4f5a-a2cd-f3bd15883318"
CHANNELS = [
    None,
    lambda: Sociocs("kid:secret", "twlo_16175550000", "twlo"),
    lambda: Bird(WORKSPACE, CHANNEL, "bird-secret", now=lambda: NOWS[0]),
    lambda: TextUs("clinic", "token-secret", "sms"),
]


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    """A rendered-like frame and everything `decide` takes."""
    n = draw(st.integers(0, 14))
    numbers = draw(st.lists(st.sampled_from(NUMBERS[:11] * 3 + NUMBERS), min_size=n,
                            max_size=n))
    frame = pd.DataFrame({
        "to": pd.Series(numbers, dtype=draw(st.sampled_from(["str", object]))),
        "text": pd.Series(draw(st.lists(st.sampled_from(TEXTS), min_size=n, max_size=n)),
                          dtype=draw(st.sampled_from([object, object, "str"]))),
        "media": pd.Series(draw(st.lists(st.sampled_from(MEDIA), min_size=n, max_size=n)),
                           dtype=object),
        "template": pd.Series(draw(st.lists(st.sampled_from(TEMPLATES), min_size=n,
                                            max_size=n)), dtype=object),
        "segments": draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)),
    })
    frame["problems"] = pd.Series(
        [(Problem(None, "phone", "bad", "invalid-phone"),) if bad else ()
         for bad in draw(st.lists(st.sampled_from([False] * 7 + [True]), min_size=n,
                                  max_size=n))], dtype=object)
    key = None
    if draw(st.booleans()):
        frame["pid"] = pd.Series(draw(st.lists(
            st.sampled_from(["a", "b", "c", "", " b ", None, "d"]), min_size=n, max_size=n)),
            dtype=draw(st.sampled_from(["str", object])))
        key = draw(st.sampled_from(["pid", None]))
    if draw(st.booleans()):
        frame["tz"] = pd.Series(draw(st.lists(st.sampled_from(ZONES), min_size=n, max_size=n)),
                                dtype=object)
    frame.index = draw(st.sampled_from([pd.RangeIndex(2, 2 + n, name="row"),
                                        pd.Index([f"r{i}" for i in range(n)], dtype="str")]))
    if draw(st.booleans()):
        frame.attrs["campaignkit.load"] = {"duplicates": "keep"}
    return {"frame": frame, "key": key}


def history_for(frame: pd.DataFrame, key: str | None, draw: st.DrawFn) -> History:
    """Records for some of the frame's rows: the same or another digest, every status."""
    column = "to" if key is None else key
    records: dict[str, Record] = {}
    by_digest: dict[str, Record] = {}
    for position in draw(st.lists(st.integers(0, max(len(frame) - 1, 0)), max_size=8)):
        if not len(frame):
            break
        row = frame.iloc[position]
        cell = row[column]
        k = "" if cell is None or (isinstance(cell, float) and math.isnan(cell)) else str(
            cell).strip()
        same = content_digest(row["to"] if isinstance(row["to"], str) else "", row["text"],
                              row["media"], row["template"])
        record = Record(
            key=draw(st.sampled_from([k, k, k, f"other-{position}"])), row=str(position + 2),
            digest=draw(st.sampled_from([same, same, "0" * 64, None])),
            status=draw(st.sampled_from(["sent", "pending", "unknown", "failed"])),
            retry=draw(st.booleans()), attempts=draw(st.integers(0, 3)), http_status=None,
            message_id=draw(st.sampled_from([None, "m-1"])), job_id=None,
            error=draw(st.sampled_from([None, "HTTP 500"])),
            sent_at=draw(st.sampled_from([None, "2026-12-01T10:00:00+00:00"])),
            to=row["to"] if isinstance(row["to"], str) else None)
        records[record.key] = record
        if record.counted and record.digest:
            by_digest.setdefault(record.digest, record)
    sends = {number: [NOWS[0] - timedelta(hours=h) for h in range(draw(st.integers(0, 3)))]
             for number in draw(st.lists(st.sampled_from(NUMBERS[:6]), max_size=3))}
    suppressed = {number: "opted out" for number in
                  draw(st.lists(st.sampled_from(NUMBERS[:6]), max_size=2))}
    spent = draw(st.sampled_from([Spend(), Spend(3, 4, Decimal("0.10"))]))
    return History(records, by_digest, sends, suppressed, spent, None)


@st.composite
def arguments(draw: st.DrawFn) -> dict[str, Any]:
    case = draw(cases())
    frame, key = case["frame"], case["key"]
    quiet = draw(st.sampled_from([None, QuietHours(), QuietHours(),
                                  QuietHours(start=time(9), end=time(9, 5))]))
    budget = draw(st.sampled_from([
        None, Budget(max_recipients=3), Budget(max_total_segments=6),
        Budget(max_segments_per_message=2), Budget(price_per_segment="0.04"),
        Budget(max_cost="0.20", price_per_segment={"GB": "0.04", "US": "0.01"}),
        Budget(max_cost="5", price_per_segment={"GB": "0.04", "*": "0.08"}),
    ]))
    guard = Guardrails(
        suppression=draw(st.sampled_from([None, Suppression.of(["+447400123402", "nope"])])),
        quiet_hours=quiet, budget=budget,
        frequency_cap=draw(st.sampled_from([None, FrequencyCap(1, timedelta(days=1)),
                                            FrequencyCap(2, timedelta(hours=2))])))
    history = history_for(frame, key, draw) if draw(st.sampled_from([0, 1, 1])) else None
    keys = [str(k).strip() for k in frame["to"].tolist() if isinstance(k, str)]
    channel = draw(st.sampled_from(CHANNELS))
    return {
        "frame": frame, "channel": channel() if channel is not None else None,
        "campaign": "spring", "history": history, "guardrails": guard, "key": key,
        "limit": draw(st.sampled_from([None, 0, 1, 2, 5])),
        "resend": draw(st.lists(st.sampled_from(keys), max_size=2)) if keys else (),
        "rate": draw(st.sampled_from([None, 0.01, 0.1, 0.5, 3.0, 1000.0])),
        "now": draw(st.sampled_from(NOWS)),
    }


def normal(decisions: Decisions) -> dict[str, Any]:
    """Everything a `Decisions` holds, in comparable plain values (NaT and NaN as None)."""
    table = decisions.table

    def plain(value: Any) -> Any:
        if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
            return None
        return value

    columns = {c: [plain(v) for v in table[c].tolist()] for c in table.columns}
    dtypes = {c: str(t) for c, t in table.dtypes.items() if c not in ("key", "digest")}
    refusal = decisions.refusal
    return {
        "columns": columns, "dtypes": dtypes, "index": list(table.index),
        "order": decisions.order, "warnings": decisions.warnings, "now": decisions.now,
        "rate": decisions.rate, "seconds": decisions.seconds, "spent": decisions.spent,
        "key_column": decisions.key_column, "fingerprint": decisions.fingerprint,
        "counts": decisions.counts,
        "refusal": None if refusal is None else (type(refusal).__name__, str(refusal)),
    }


def outcome(function: Any, arguments: dict[str, Any]) -> Any:
    try:
        return normal(function(**arguments))
    except Exception as exc:  # both must raise the same error with the same words
        return (type(exc).__name__, str(exc))


@settings(max_examples=500, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(arguments())
def test_decide_equals_the_per_row_reference(arguments: dict[str, Any]) -> None:
    """Fates, reasons, keys, digests, times, costs, problems, order and refusals: equal."""
    assert outcome(decide, arguments) == outcome(reference_decide, arguments)


@pytest.mark.parametrize("column", ["key", "digest"])
def test_keys_and_digests_are_arrow_backed_strings(column: str) -> None:
    """The two string columns of every row are stored as Arrow strings, not Python objects."""
    frame = pd.DataFrame({"to": ["+447400123401", "+447400123402"], "text": ["Hi", "Yo"]},
                         index=pd.Index([2, 3], name="row"))
    table = decide(frame, now=NOWS[0]).table
    assert (str(table[column].dtype), table[column].tolist() == reference_decide(
        frame, now=NOWS[0]).table[column].tolist()) == ("str", True)


def rows(numbers: list[str]) -> pd.DataFrame:
    """Sendable text rows to ``numbers``, numbered like a sheet."""
    n = len(numbers)
    return pd.DataFrame({"to": numbers, "text": ["Hi"] * n, "media": [()] * n,
                         "template": [None] * n, "problems": [()] * n, "segments": [1] * n},
                        index=pd.RangeIndex(2, 2 + n, name="row"))


GB = [f"+4474001234{i:02d}" for i in range(1, 9)]
MIXED = ["+4915123456702", "+918123456702", "+447400123401", "+12125550111", "+14155550143",
         "+918123456703", "+4915123456703", "+447400123402", "+12125550112", "+447400123403",
         "+61412345679", "+447400123404"]
PENDING = Record("+447400123401", "2", content_digest("+447400123401", "Hi", (), None),
                 "pending", False, 1, None, None, None, None, None)
SCENARIOS = {
    # the fourth message leaves exactly when London's window closes: it and the rest wait
    "a departure at the close": (dict(frame=rows(GB), rate=0.1, now=NOWS[4]), {"deferred"}),
    # one an hour from 14:00 UTC: Kolkata closes first, then Berlin, London, New York
    "several closes": (dict(frame=rows(MIXED), rate=1 / 3600,
                            now=datetime(2026, 12, 2, 14, tzinfo=UTC)), {"deferred", "send"}),
    "several closes and a limit": (dict(frame=rows(MIXED), rate=1 / 3600, limit=4,
                                        now=datetime(2026, 12, 2, 14, tzinfo=UTC)),
                                   {"deferred", "send", "waiting"}),
    "a row in doubt is looked up": (dict(
        frame=rows(GB[:3]), channel=Bird(WORKSPACE, CHANNEL, "bird-secret", now=lambda: NOWS[0]),
        history=History({PENDING.key: PENDING}, {PENDING.digest: PENDING}), now=NOWS[0]),
        {"lookup", "send"}),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_decide_equals_the_reference_at_the_edges(name: str) -> None:
    """Hand-made edges random frames rarely reach: exact closes, several zones, lookups."""
    arguments, fates = SCENARIOS[name]
    ours = outcome(decide, {"guardrails": Guardrails(), **arguments})
    assert (ours == outcome(reference_decide, {"guardrails": Guardrails(), **arguments}),
            fates <= set(ours["columns"]["fate"])) == (True, True)


@pytest.mark.parametrize("strings", [
    ["+447400123401", "+12125550110", "+447400123401", "+1", "+01", "+001", "+01"],
    ["+447400123401", "", "+447400123401", " +447400123401"],
    ["+99999999999999999", "+09999999999999999", "+99999999999999999"],
    ["+447400123401", "+123456789012345678", "+447400123401"],
    ["+1", "+", "+\u0663", "+1\n", "++1", "+1", "+-1", "+ 1"],
])
def test_number_codes_equal_the_dictionary_encoding(strings: list[str]) -> None:
    """Numbers grouped as integers (digits and length) get Arrow's dictionary codes."""
    arr = pa.array(strings, pa.large_string())
    assert codes(arr).tolist() == pc.dictionary_encode(arr).indices.to_pylist()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(st.sampled_from(" \t\n\x00\x7f\xa0\u3000aZ!~é👋"), max_size=4),
                max_size=8),
       st.sampled_from([pa.string(), pa.large_string()]), st.integers(0, 2))
def test_stripped_strings_equal_pythons_strip(strings: list[str], kind: pa.DataType,
                                              skip: int) -> None:
    """Every string (of a sliced array too) is what Python's ``str.strip`` makes of it."""
    arr = pa.array(["x"] * skip + strings, kind).slice(skip)
    assert stripped(arr, str.strip).to_pylist() == [s.strip() for s in strings]
