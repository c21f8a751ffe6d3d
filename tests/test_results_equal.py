"""The column-wise `build_results` gives exactly the frame its per-row loop gave."""

from __future__ import annotations

from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _decide_reference import reference_decide
from _results_reference import reference_build_results
from campaignkit.ledger import Record
from campaignkit.results import build_results
from test_decide_equal import NOWS, arguments

STATUSES = ["pending", "sent", "dry-run", "failed", "unknown"]


@st.composite
def runs(draw: st.DrawFn) -> tuple[Any, ...]:
    """A decided frame, ledger records for some of its keys and some late rows."""
    given_ = draw(arguments())
    decisions = reference_decide(**given_)
    keys = decisions.table["key"].tolist()
    records = {}
    for key in draw(st.lists(st.sampled_from(keys), max_size=6)) if keys else []:
        records[key] = Record(
            key, "2", None, draw(st.sampled_from(STATUSES)), draw(st.booleans()),
            draw(st.integers(0, 4)), draw(st.sampled_from([None, 200, 503])),
            draw(st.sampled_from([None, "m-1"])), draw(st.sampled_from([None, "j-1"])),
            draw(st.sampled_from([None, "HTTP 500"])),
            draw(st.sampled_from([None, "2026-12-02T12:00:01.123456+00:00",
                                  "2026-12-02T12:00:02+00:00"])))
    late = {i: NOWS[0] for i in draw(st.lists(st.sampled_from(list(decisions.order)),
                                                max_size=2))} if decisions.order else {}
    return given_["frame"], decisions, records, late


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(runs())
def test_build_results_equals_the_per_row_reference(run: tuple[Any, ...]) -> None:
    """Every result column, its dtype and the attrs: equal to the per-row loop's."""
    frame, decisions, records, late = run
    attrs = {"campaign": "spring", "mode": "dry-run"}
    ours = build_results(frame, decisions, records, late, attrs)
    theirs = reference_build_results(frame, decisions, records, late, attrs)
    pd.testing.assert_frame_equal(ours, theirs)
    assert ours.attrs == theirs.attrs
