"""CSV files read by the fast paths exactly as by the reference ones: Arrow's UTF-8 check
against Python's decoder, a byte scan of line lengths against splitting the lines."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaignkit import _sheets


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
