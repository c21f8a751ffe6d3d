"""`Channel.problems_frame` gives every row exactly what `Channel.problems` gives it."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaignkit import Bird, ColumnError, Media, Sociocs, Template, TextUs
from campaignkit.channels import Channel
from campaignkit.problems import row_number

WORKSPACE = "a1405560-c8d3-4b1a-877d-3f449ad95352"
CHANNEL = "ce6a2fd6-b2fa-4f5a-a2cd-f3bd15883318"
NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)

CHANNELS = {
    "sociocs twlo": lambda: Sociocs("kid:secret", "twlo_16175550000", "twlo"),
    "sociocs twlowa": lambda: Sociocs("kid:secret", "twlowa_16175550000", "twlowa"),
    "sociocs gswa": lambda: Sociocs("kid:secret", "gswa_16175550000", "gswa"),
    "sociocs bad schedule": lambda: Sociocs("kid:secret", "twlo_16175550000", "twlo",
                                            schedule="tomorrow"),
    "textus sms": lambda: TextUs("clinic", "token-secret", "sms"),
    "textus saved reply": lambda: TextUs("clinic", "token-secret", "whatsapp",
                                         saved_reply="/saved_replies/QxvonQv"),
    "bird": lambda: Bird(WORKSPACE, CHANNEL, "bird-secret", now=lambda: NOW),
    "bird far schedule": lambda: Bird(WORKSPACE, CHANNEL, "bird-secret", now=lambda: NOW,
                                      scheduled_for="2027-06-01T09:00:00+00:00"),
}

texts = st.one_of(
    st.none(), st.just(""), st.just(float("nan")), st.just(pd.NA), st.text(max_size=20),
    st.integers(1590, 1610).map(lambda n: "é" * n),
)
media = st.one_of(
    st.just(()), st.just(()), st.just([]), st.none(),
    st.lists(st.sampled_from([Media(url="https://example.com/a.png"),
                              Media(url="https://example.com/b.pdf", kind="file"),
                              Media(url="not a url")]), max_size=3).map(tuple),
)
templates = st.one_of(
    st.none(), st.none(), st.just(float("nan")),
    st.sampled_from([Template(id="HX" + "0" * 32, variables={"1": "x"}),
                     Template(id="", variables={"Body": {"1": ""}})]),
)


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    """Rendered-like frames: text, media and template cells of every shape, any index."""
    n = draw(st.integers(0, 12))
    rows = draw(st.lists(st.tuples(texts, media, templates), min_size=n, max_size=n))
    index = draw(st.sampled_from([pd.RangeIndex(2, 2 + n, name="row"),
                                  pd.Index([f"r{i}" for i in range(n)], dtype="str")]))
    frame = pd.DataFrame(
        {"to": ["+447400123401"] * n, "first_name": ["Ada"] * n,
         "text": pd.Series([r[0] for r in rows], dtype=object),
         "media": pd.Series([r[1] for r in rows], dtype=object),
         "template": pd.Series([r[2] for r in rows], dtype=object)},
    )
    if draw(st.booleans()) and n and all(isinstance(r[0], str) for r in rows):
        frame["text"] = frame["text"].astype("str")  # Arrow-backed text, as a user may pass
    frame.index = index
    return frame


def row_by_row(channel: Channel, frame: pd.DataFrame) -> list[tuple[object, ...]]:
    """The reference: `problems` on each row, with the row number of its label."""
    columns = {c: frame[c].tolist() for c in frame.columns}
    return [channel.problems({c: v[i] for c, v in columns.items()},
                             row_number=row_number(label))
            for i, label in enumerate(frame.index)]


@pytest.mark.parametrize("name", list(CHANNELS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=frames())
def test_problems_frame_equals_problems_on_every_row(name: str, frame: pd.DataFrame) -> None:
    """Every row's problems, in order, with the same row numbers and messages."""
    channel = CHANNELS[name]()
    found = channel.problems_frame(frame)
    assert (found.tolist(), list(found.index), str(found.dtype)) == (
        row_by_row(channel, frame), list(frame.index), "object")


@pytest.mark.parametrize(
    ("channel", "message"),
    [
        (lambda: Sociocs("kid:secret", "twlo_1", "twlo", name_column="Name"),
         'Sociocs(name_column="Name"): there is no such column; columns found: to, text'),
    ],
)
def test_a_misnamed_column_raises_as_problems_does(channel, message) -> None:
    """A missing name column stops the whole frame with `problems`' own message."""
    frame = pd.DataFrame({"to": ["+447400123401"] * 3, "text": ["Hi"] * 3})
    with pytest.raises(ColumnError) as raised:
        channel().problems_frame(frame)
    assert str(raised.value) == message


def test_text_only_rows_at_the_length_limit_and_empty() -> None:
    """Text-only rows (array path): 1,600 characters pass; 1,601 and an empty text do not."""
    frame = pd.DataFrame({"to": ["+447400123401"] * 1000,
                          "text": ["x" * 1600] * 998 + ["x" * 1601, None],
                          "media": [()] * 1000, "template": [None] * 1000},
                         index=pd.RangeIndex(2, 1002, name="row"))
    found = Sociocs("kid:secret", "twlo_1", "twlo").problems_frame(frame)
    flagged = {label: [str(p) for p in v] for label, v in found.items() if v}
    assert flagged == {
        1000: ['row 1000, column "text": text is 1,601 characters; Sociocs rejects text over '
               "1,600 characters: shorten it by 1"],
        1001: ['row 1001, column "text": the message is empty: give it text, one media file '
               "(twlo) or a WhatsApp template (twlowa, gswa)"],
    }
