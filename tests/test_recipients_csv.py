"""CSV files read by the fast paths exactly as by the reference ones: Arrow's CSV reader
against pandas' C parser, Arrow's UTF-8 check against Python's decoder, a byte scan of line
lengths against splitting the lines."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaignkit import _sheets
from campaignkit.recipients import load_recipients

# Cells a sheet holds, and the characters parsers trip on (no quote: Arrow reads none).
CELLS = ["", " ", "Ada", "José", "王伟", "+1 617 555 0101", "0012", "NA", "nan", "None",
         "#", "'", "\\", "=1+2", "\ufeff", "\u00a0", "\u200b", "\x85", "\u2028", "\x0b",
         "\x1a", "\x7f", "\x01", "a;b", "a,b", "a\tb"]  # fmt: skip
ENDS = ["\n", "\r\n", "\r"]


@st.composite
def quote_free_csv(draw: st.DrawFn) -> tuple[bytes, str]:
    """Rows of cells with mixed line ends, some ragged or blank, and a delimiter."""
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    width = draw(st.sampled_from([1, 2, 3, 6]))
    lines = []
    for _ in range(draw(st.integers(1, 12))):
        fields = width if draw(st.integers(0, 9)) else draw(st.integers(0, width + 1))
        lines.append(delimiter.join(draw(st.sampled_from(CELLS)) for _ in range(fields)))
    end = draw(st.sampled_from(ENDS))
    text = "".join(line + (end if draw(st.integers(0, 7)) else draw(st.sampled_from(ENDS)))
                   for line in lines)
    if draw(st.booleans()):
        text = text.rstrip("\r\n") + draw(st.sampled_from(["", "\n", "\n\n", "\r\n\r\n"]))
    return text.encode(), delimiter


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(sheet=quote_free_csv(), block=st.sampled_from([1 << 22, 16, 48]))
def test_arrow_reads_a_quote_free_csv_as_pandas_does(sheet: tuple[bytes, str], block: int) -> None:
    """Where Arrow's reader gives a grid (whatever its block size), pandas' C parser gives
    the same one: values, dtypes, column labels and index."""
    data, delimiter = sheet
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_sheets, "_CHUNK", block)
        fast = _sheets._arrow_grid(data, delimiter)
    if fast is not None:
        reference = _sheets._parse_grid(io.BytesIO(data), delimiter)
        assert reference is not None
        pd.testing.assert_frame_equal(fast, reference, check_exact=True)
        assert type(fast.columns) is type(reference.columns)


@pytest.mark.parametrize(
    ("data", "read"),
    [
        (b"Name,Phone\r\nAda,+16175550101\r\nBo,\r\n", True),
        (b"Phone\n+16175550101\n\n", True),
        (b'Name,Phone\n"Ada",+16175550101\n', False),  # quotes: pandas'
        (b"\xef\xbb\xbfName,Phone\nAda,+16175550101\n", False),  # a second BOM
        (b"\nName,Phone\nAda,+16175550101\n", False),  # a blank first line
        (b"Name,Phone\nAda,+16175550101\n\nBo,+16175550102\n\n", True),  # blank lines
        (b"Name,Phone\nAda\n", False),  # a short row
    ],
)
def test_which_files_arrow_reads(data: bytes, read: bool) -> None:
    """Arrow reads plain files; quotes, a BOM, a blank first line or a short row are left to
    pandas."""
    assert (_sheets._arrow_grid(data, ",") is not None) is read


def test_a_whole_load_through_either_parser_is_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """load_recipients gives the same frame and attrs whether Arrow or pandas parsed the file."""
    rows = [f"P{n}\u200b;Ná\x1bme {n}; +1 617 555 {n:04d} ;x\ty" for n in range(100, 160)]
    path = tmp_path / "people.csv"
    path.write_bytes(("Title\u00a0;Name;Phone;Note\r\n" + "\r\n".join(rows)).encode())
    fast = load_recipients(path, default_region="US")
    monkeypatch.setattr(_sheets, "_arrow_grid", lambda data, delimiter: None)
    reference = load_recipients(path, default_region="US")
    pd.testing.assert_frame_equal(fast, reference, check_exact=True)
    assert fast.attrs == reference.attrs
    assert fast.loc[2, "Name"] == "Náme 100"


@pytest.mark.parametrize(
    "data",
    [b"", b"plain", "José 王伟 \U0001f600".encode(), b"\xc3", b"\xff", b"\xc0\x80",
     b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xed\x9f\xbf", b"\xf4\x8f\xbf\xbf", b"\xf4\x90\x80\x80",
     b"\xf8\x88\x80\x80\x80", b"ok\xe2\x82", b"\xe2\x82\xac", b"\x80"],
)  # fmt: skip
def test_the_utf8_check_accepts_what_python_decodes(data: bytes) -> None:
    """Overlong forms, surrogates, code points past U+10FFFF and cut sequences are refused,
    as Python's strict decoder refuses them; everything it decodes is accepted."""
    try:
        data.decode("utf-8")
        decodes = True
    except UnicodeDecodeError:
        decodes = False
    assert (_sheets._utf8(b"Phone\n" + data) is not None) is decodes


@settings(max_examples=300, deadline=None, derandomize=True)
@given(data=st.lists(st.sampled_from([b"a", b"\n", b"\r", b",", b"\xc3\xa9"])).map(b"".join),
       step=st.integers(1, 9))
def test_the_longest_line_of_bytes(data: bytes, step: int) -> None:
    """The longest line of bytes, read a few bytes at a time, is the longest of their lines."""
    assert _sheets._longest_line(data, step) == max(map(len, data.split(b"\n")))
