"""campaignkit.sms: encoding, segments, look-alike suggestions and cost, per row and vectorised."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from campaignkit.sms import (
    _JOINING_PLANES,
    GSM7_BASIC,
    GSM7_EXTENSION,
    PartSizes,
    SmsInfo,
    _joining,
    analyse,
    analyse_part_arrays,
    analyse_parts,
    analyse_series,
    estimate_cost,
    part_sizes,
    suggest_gsm,
)

FLAG = "🏳️‍🌈"  # white flag, VS16, ZWJ, rainbow: one grapheme of 6 UTF-16 units


def reference_segments(text: str) -> tuple[str, int, int]:
    """A slow, obviously correct count: every grapheme packed greedily, as TW-CALC does."""
    gsm = set(GSM7_BASIC + GSM7_EXTENSION)
    if set(text) <= gsm:
        units = [2 if c in GSM7_EXTENSION else 1 for c in text]
        encoding, single, multi = "GSM-7", 160, 153
    else:
        units = []
        for g in regex.findall(r"\X", text):
            width = len(g.encode("utf-16-le")) // 2
            units += [width] if width <= 67 else [len(c.encode("utf-16-le")) // 2 for c in g]
        encoding, single, multi = "UCS-2", 70, 67
    total = sum(units)
    if total == 0:
        return encoding, 0, 0
    if total <= single:
        return encoding, 1, total
    segments, free = 1, multi
    for unit in units:
        if unit > free:
            segments, free = segments + 1, multi
        free -= unit
    return encoding, segments, total


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "characters"),
    [
        ("", "GSM-7", 0, 0),
        ("x" * 160, "GSM-7", 1, 160),
        ("x" * 161, "GSM-7", 2, 161),
        ("x" * 306, "GSM-7", 2, 306),
        ("x" * 307, "GSM-7", 3, 307),
        ("€" * 80, "GSM-7", 1, 160),
        ("€" * 81, "GSM-7", 2, 162),
        ("x" * 151 + "{" + "x" * 153, "GSM-7", 2, 306),
        ("x" * 152 + "{" + "x" * 152, "GSM-7", 3, 306),
        ("ë" * 70, "UCS-2", 1, 70),
        ("ë" * 71, "UCS-2", 2, 71),
        ("ë" * 134, "UCS-2", 2, 134),
        ("ë" * 135, "UCS-2", 3, 135),
        ("😜" + "2" * 68, "UCS-2", 1, 70),
        ("😜" + "2" * 69, "UCS-2", 2, 71),
        ("ë" * 65 + "😜" + "x" * 67, "UCS-2", 2, 134),
        ("ë" * 66 + "😜" + "x" * 66, "UCS-2", 3, 134),
        ("ë" * 66 + FLAG + "x" * 62, "UCS-2", 3, 134),
        ("ë" * 67 + FLAG + "x" * 61, "UCS-2", 2, 134),
        (FLAG, "UCS-2", 1, 6),
        ("a\r\nb", "GSM-7", 1, 4),
        ("Ç", "GSM-7", 1, 1),
        ("ç", "UCS-2", 1, 1),
        ("{[~]}", "GSM-7", 1, 10),
        ("ë{", "UCS-2", 1, 2),
    ],
)
def test_segments_encoding_and_characters(
    text: str, encoding: str, segments: int, characters: int
) -> None:
    """Segments follow 160/153 septets (GSM-7) and 70/67 UTF-16 units (UCS-2), kept whole."""
    info = analyse(text)
    assert (info.encoding, info.segments, info.characters) == (encoding, segments, characters)


def test_gsm_tables_have_the_documented_sizes() -> None:
    """The basic table has 127 characters (ESC left out) and the extension table 10."""
    assert (len(set(GSM7_BASIC)), len(GSM7_BASIC), len(GSM7_EXTENSION)) == (127, 127, 10)


@pytest.mark.parametrize(
    ("text", "culprits"),
    [
        ("Hi Zoë, café at 10", ("ë",)),
        ("Łukasz ç ç Ł 😜", ("Ł", "ç", "😜")),
        ("José e\u0301", ("e\u0301",)),
        ("backtick ` here", ("`",)),
        (f"go {FLAG}!", (FLAG,)),
        ("all GSM: [£€¥]", ()),
    ],
)
def test_ucs2_characters_lists_the_forcing_graphemes_once_in_order(
    text: str, culprits: tuple[str, ...]
) -> None:
    """The characters that forced UCS-2 are whole graphemes, unique, in order."""
    assert analyse(text).ucs2_characters == culprits


def test_analyse_returns_a_full_info_with_suggestion() -> None:
    """A text with curly quotes is UCS-2 and carries the GSM-7 suggestion."""
    assert analyse("It’s “fine”") == SmsInfo(
        encoding="UCS-2",
        segments=1,
        characters=11,
        ucs2_characters=("’", "“", "”"),
        suggestion='It\'s "fine"',
    )


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("It’s 5–6 pm — ok…", "It's 5-6 pm - ok..."),
        ("½ price\u00a0today", "1/2 price today"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("acute´s", "acute's"),
        ("‹a› «b»", '<a> "b"'),
        ("cafe\u0301", "café"),
        ("Zoë’s", None),
        ("plain GSM", None),
        ("😜 “hi”", None),
    ],
)
def test_suggest_gsm(text: str, suggestion: str | None) -> None:
    """Look-alikes map to GSM-7 only when the whole text then becomes GSM-7."""
    assert suggest_gsm(text) == suggestion


def test_suggest_gsm_never_changes_a_message_it_is_not_asked_about() -> None:
    """The suggestion is returned, the analysed text's counts are of the original text."""
    info = analyse("“x”")
    assert (info.encoding, info.characters, info.suggestion) == ("UCS-2", 3, '"x"')


@pytest.mark.parametrize(
    ("segments", "price", "total"),
    [
        (3, "0.0079", Decimal("0.0237")),
        ([1, 2, 4], "0.0079", Decimal("0.0553")),
        (pd.Series([1, 0, 3]), 0.04, Decimal("0.16")),
        (np.int64(2), Decimal("0.5"), Decimal("1.0")),
        (0, 1, Decimal("0")),
    ],
)
def test_estimate_cost(segments: object, price: object, total: Decimal) -> None:
    """Cost is segments times the per-segment price, in exact decimal money."""
    assert estimate_cost(segments, price) == total  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("segments", "price", "message"),
    [
        (1, "-0.01", "price_per_segment must be a finite price ≥ 0, not '-0.01'"),
        (1, float("nan"), "price_per_segment must be a finite price ≥ 0, not nan"),
        (-2, "0.01", "segments must be ≥ 0, not -2"),
    ],
)
def test_estimate_cost_refuses_nonsense(segments: int, price: object, message: str) -> None:
    """A negative or non-finite price and negative segments are refused with the value."""
    with pytest.raises(ValueError) as error:
        estimate_cost(segments, price)  # type: ignore[arg-type]
    assert str(error.value) == message


def test_analyse_series_columns_dtypes_and_missing_text() -> None:
    """The series result keeps the index; a missing text is None, 0 segments, 0 characters."""
    index = pd.Index([5, 6, 7, 9], name="row")
    texts = pd.Series(["Hi", None, "Hi 😜", "x" * 161], index=index)
    expected = pd.DataFrame(
        {
            "encoding": pd.Series(["GSM-7", None, "UCS-2", "GSM-7"], index=index, dtype=object),
            "segments": np.array([1, 0, 1, 2], dtype=np.int64),
            "characters": np.array([2, 0, 5, 161], dtype=np.int64),
        },
        index=index,
    )
    pd.testing.assert_frame_equal(analyse_series(texts), expected)


def test_analyse_series_of_nothing() -> None:
    """An empty series gives an empty frame with the three columns."""
    out = analyse_series(pd.Series([], dtype="str"))
    assert (list(out.columns), len(out)) == (["encoding", "segments", "characters"], 0)


def test_joining_code_points_live_in_the_scanned_planes() -> None:
    """Every code point that can join a grapheme is in the planes `_joining` scans."""
    kinds = "".join(
        rf"\p{{Grapheme_Cluster_Break={k}}}"
        for k in ("Extend", "ZWJ", "SpacingMark", "Prepend", "L", "V", "T", "Regional_Indicator")
    )
    everything = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert ["\r", *regex.findall(f"[{kinds}]", everything)] == _joining()
    assert all(any(ord(c) in plane for plane in _JOINING_PLANES) for c in _joining()[1:])


# Texts built from the characters that decide boundaries: GSM, extension, non-GSM BMP,
# astral emoji, combining marks, ZWJ, VS16, regional indicators, CR LF and Hangul jamo.
_ALPHABET = st.sampled_from(
    [*"ax €{[Çç’éë", "😜", "\u0301", "\u200d", "\ufe0f", "🇬", "🇧", "\r", "\n", "ᄀ", "ᅡ", FLAG]
)
_TEXTS = st.one_of(
    st.lists(_ALPHABET, max_size=400).map("".join),
    st.builds(
        lambda n, tail: "x" * n + tail,
        st.integers(0, 320),
        st.lists(_ALPHABET, max_size=12).map("".join),
    ),
    st.builds(
        lambda n, tail: "ë" * n + tail,
        st.integers(0, 210),
        st.lists(_ALPHABET, max_size=12).map("".join),
    ),
    st.text(max_size=300),
)


@settings(max_examples=400, deadline=None)
@given(_TEXTS)
def test_analyse_matches_the_greedy_grapheme_packing(text: str) -> None:
    """The per-row shortcuts give the counts of packing every grapheme one by one."""
    info = analyse(text)
    assert (info.encoding, info.segments, info.characters) == reference_segments(text)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), _TEXTS), max_size=40))
def test_analyse_series_equals_analyse_row_by_row(texts: list[str | None]) -> None:
    """The vectorised analysis gives exactly the per-row analysis for every text."""
    out = analyse_series(pd.Series(texts, dtype=object))
    expected = [
        (None, 0, 0)
        if t is None
        else (lambda i: (i.encoding, i.segments, i.characters))(analyse(t))
        for t in texts
    ]
    assert list(out.itertuples(index=False, name=None)) == expected


# --- analysis part by part (a template's literals and column values) ------------------------


@pytest.mark.parametrize(
    ("value", "sizes"),
    [
        ("", (True, 0, 0, False, True, 0, True)),
        (None, (True, 0, 0, False, True, 0, True)),
        ("Ann", (True, 3, 3, False, True, 1, True)),
        ("a€[", (True, 5, 3, True, True, 1, True)),
        ("Zoë’s", (False, 5, 5, False, True, 1, True)),
        ("a\r\nb", (True, 4, 4, False, False, 2, True)),
        ("e\u0301", (False, 2, 2, False, False, 2, False)),
        ("\u0301e", (False, 2, 2, False, False, 1, False)),
        ("😜", (False, 1, 2, False, False, 2, True)),
        (FLAG, (False, 4, 6, False, False, 6, True)),
        ("प्रिया", (False, 6, 6, False, False, 4, True)),  # may end with a spacing mark
        ("\u093eप", (False, 2, 2, False, False, 1, False)),  # but not start with one
        ("x\u200d", (False, 2, 2, False, False, 2, False)),
    ],
)
def test_part_sizes(value: str | None, sizes: tuple[bool, int, int, bool, bool, int, bool]) -> None:
    """A part's GSM-ness, septets, UTF-16 units, extension, simple, widest grapheme, closed."""
    got = part_sizes([value])
    assert (
        bool(got.gsm[0]),
        int(got.septets[0]),
        int(got.units[0]),
        bool(got.extension[0]),
        bool(got.simple[0]),
        int(got.widest[0]),
        bool(got.closed[0]),
    ) == sizes


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (["x" * 152, "€", "x" * 152], ("GSM-7", 3, 306)),  # the € moves on whole
        (["x" * 150, "€", "x" * 150], ("GSM-7", 2, 302)),
        (["ë" * 66, "😜", "ë" * 66], ("UCS-2", 3, 134)),  # the emoji moves on whole
        (["ë" * 66, "e", "\u0301", "ë" * 66], ("UCS-2", 3, 134)),  # so does e + accent
        (["प्रिया", "x" * 94], ("UCS-2", 2, 100)),  # 4-unit graphemes, 2 segments either way
        (["x" * 63, "प्रिया", "x" * 63], ("UCS-2", 2, 132)),  # "प्रि" just fits
        (["x" * 64, "प्रिया", "x" * 62], ("UCS-2", 3, 132)),  # "प्रि" moves on whole
        (["x" * 64, "प्रि", "या" + "x" * 62], ("UCS-2", 3, 132)),
        (["ë" * 35, "x" * 35], ("UCS-2", 1, 70)),
        (["ë" * 35, "x" * 36], ("UCS-2", 2, 71)),
        (["x" * 100, "x" * 60], ("GSM-7", 1, 160)),
        (["x" * 100, "x" * 61], ("GSM-7", 2, 161)),
        (["ë" * 66 + "\r", "\n" + "ë" * 66], ("UCS-2", 3, 134)),  # CR LF is one grapheme
        (["ë" * 65 + "👩\u200d", "👩" + "ë" * 65], ("UCS-2", 3, 135)),  # so is a ZWJ pair
        (["ë" * 66 + "e", "\u0301" + "ë" * 66], ("UCS-2", 3, 134)),  # and e + accent
        (["", ""], ("GSM-7", 0, 0)),
        ([], ("GSM-7", 0, 0)),
    ],
)
def test_analyse_parts_across_boundaries(parts: list[str], expected: tuple[str, int, int]) -> None:
    """Sizes add up over parts; a character never split across a boundary is walked."""
    sizes = [part_sizes([p]) for p in parts]
    out = analyse_parts(["".join(parts)], sizes)
    assert list(out.itertuples(index=False, name=None)) == [expected]


# Parts rich in what sums cannot see: extension characters, emoji, combining marks, ZWJ,
# CR LF, curly quotes, and runs that put the whole text near 160/153 or 70/67.
_PART = st.one_of(
    st.lists(_ALPHABET, max_size=6).map("".join),
    st.sampled_from(["€", "{}", "’", "“x”", "\r", "\n", "\r\n", "\u0301", "\u200d", FLAG]),
    # Devanagari: a spacing mark (ा), a virama that links consonants (्), conjuncts
    st.lists(st.sampled_from(["प", "र", "ि", "ा", "्", "या", "प्रिया", "x"]), max_size=8).map(
        "".join
    ),
    st.builds(lambda c, n: c * n, st.sampled_from(["x", "ë", "€", "😜"]), st.integers(0, 160)),
    # a run that puts the next part's first character at a UCS-2 segment boundary
    st.builds(
        lambda n, c: "ë" * n + c, st.integers(62, 67), st.sampled_from(["", "\r", "👩\u200d"])
    ),
    st.text(max_size=20),
)


@st.composite
def texts_in_parts(draw: st.DrawFn) -> tuple[list[str | None], list[PartSizes]]:
    k = draw(st.integers(0, 5))
    rows = draw(st.lists(st.lists(_PART, min_size=k, max_size=k), min_size=1, max_size=12))
    missing = draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows)))
    texts = [None if m else "".join(r) for r, m in zip(rows, missing, strict=True)]
    sizes = [part_sizes([r[j] for r in rows]) for j in range(k)]
    return texts, sizes


@settings(max_examples=300, deadline=None)
@given(texts_in_parts())
def test_analyse_parts_equals_analyse_row_by_row(
    case: tuple[list[str | None], list[PartSizes]],
) -> None:
    """Analysing part by part gives exactly `analyse` of each whole text."""
    texts, sizes = case
    out = analyse_parts(texts, sizes)
    expected = [
        (None, 0, 0)
        if t is None
        else (lambda i: (i.encoding, i.segments, i.characters))(analyse(t))
        for t in texts
    ]
    assert list(out.itertuples(index=False, name=None)) == expected


@st.composite
def coded_parts(draw: st.DrawFn) -> tuple[list[list[str]], list[np.ndarray], int]:
    """Parts as a column's distinct values and each text's code into them."""
    n = draw(st.integers(1, 12))
    pools = draw(st.lists(st.lists(_PART, min_size=1, max_size=4), max_size=5))
    codes = [
        np.array(draw(st.lists(st.integers(0, len(p) - 1), min_size=n, max_size=n))) for p in pools
    ]
    return pools, codes, n


_FIELDS = ("gsm", "septets", "units", "extension", "simple", "widest", "closed")


@settings(max_examples=300, deadline=None)
@given(coded_parts(), st.data())
def test_sizes_found_by_code_equal_analyse(
    case: tuple[list[list[str]], list[np.ndarray], int], data: st.DataObject
) -> None:
    """Parts given as distinct values and codes (gathered inside) analyse like the texts."""
    pools, codes, n = case
    texts = np.array(
        ["".join(p[c[i]] for p, c in zip(pools, codes, strict=True)) for i in range(n)], object
    )
    present = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    encoding, segments, characters = analyse_part_arrays(
        np.where(present, texts, None), [part_sizes(p) for p in pools], present, codes
    )
    expected = [
        (lambda i: (i.encoding, i.segments, i.characters))(analyse(t)) if here else (None, 0, 0)
        for t, here in zip(texts, present, strict=True)
    ]
    got = zip(encoding.tolist(), segments.tolist(), characters.tolist(), strict=True)
    assert list(got) == expected
    assert (segments.dtype, characters.dtype) == (np.int64, np.int64)


@settings(max_examples=200, deadline=None)
@given(coded_parts(), st.integers(0, 5))
def test_a_join_of_joins_is_the_join(
    case: tuple[list[list[str]], list[np.ndarray], int], split: int
) -> None:
    """Parts joined in two groups, then the groups joined, equal every part joined at once."""
    pools, codes, n = case
    sizes = [part_sizes(p) for p in pools]
    flat = PartSizes.join(sizes, n, codes)
    groups = [
        PartSizes.join(sizes[:split], n, codes[:split]),
        PartSizes.join(sizes[split:], n, codes[split:]),
    ]
    joined = PartSizes.join(groups, n)
    assert {f: getattr(joined, f).tolist() for f in _FIELDS} == {
        f: getattr(flat, f).tolist() for f in _FIELDS
    }


def test_join_of_no_parts_is_the_empty_text() -> None:
    """No parts make "" in every text, and a length-1 part is the same in every text."""
    empty = part_sizes([""])
    assert {f: getattr(PartSizes.join([], 3), f).tolist() for f in _FIELDS} == {
        f: getattr(empty, f).tolist() * 3 for f in _FIELDS
    }
    hi = PartSizes.join([part_sizes(["Hi "]), part_sizes(["Ann", "Zoë😜"])], 2)
    assert (hi.gsm.tolist(), hi.septets.tolist(), hi.units.tolist()) == (
        [True, False],
        [6, 7],
        [6, 8],
    )


def test_part_sizes_of_an_arrow_array_equal_those_of_a_list() -> None:
    """One Arrow array of many values (what render passes) gives the same sizes as a list."""
    values = ["Ann", None, "a€[", FLAG, "e\u0301"]
    by_list, by_arrow = part_sizes(values), part_sizes(pa.array(values, pa.string()))
    assert {f: getattr(by_arrow, f).tolist() for f in _FIELDS} == {
        f: getattr(by_list, f).tolist() for f in _FIELDS
    }
