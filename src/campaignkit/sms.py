"""SMS encoding and segments: what a message will cost before it is sent.

Carrier rules (docs/providers/carrier-rules.md#gsm-7-character-sets and
docs/providers/carrier-rules.md#segment-sizes, after TwilioDevEd/message-segment-calculator):

* A message is **GSM-7** when every character is in the GSM 03.38 basic or extension table,
  otherwise the whole message is **UCS-2**.
* GSM-7 counts septets: a basic character is 1, an extension character (``\\ ^ ~ [ ] { } | €``
  and form feed) is 2 (ESC + code) and is never split, so a segment may hold 152.
  160 septets fit one segment; longer messages are cut into segments of 153.
* UCS-2 counts UTF-16 code units: a character outside the BMP (most emoji) is 2, and a
  grapheme (a flag, a ZWJ family, a letter with a combining accent) is never split.
  70 units fit one segment; longer messages are cut into segments of 67.

``characters`` is the size in those units (septets for GSM-7, UTF-16 units for UCS-2): the
number a segment's capacity is measured in, so ``characters`` against 160/153 or 70/67
explains ``segments``. An empty text is GSM-7 with 0 characters and 0 segments (nothing
is sent).

>>> analyse("Hi Zoë, see you at 10:00")
SmsInfo(encoding='UCS-2', segments=1, characters=24, ucs2_characters=('ë',), suggestion=None)
>>> analyse("It’s on")
SmsInfo(encoding='UCS-2', segments=1, characters=7, ucs2_characters=('’',), suggestion="It's on")
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from numbers import Integral
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import regex

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "PartSizes",
    "SmsEncoding",
    "SmsInfo",
    "analyse",
    "analyse_part_arrays",
    "analyse_parts",
    "analyse_series",
    "estimate_cost",
    "part_sizes",
    "suggest_gsm",
]

SmsEncoding = Literal["GSM-7", "UCS-2"]

#: The GSM 03.38 basic table in code order, ESC (0x1B) left out: 127 characters, 1 septet each.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: The extension table: 2 septets each (ESC + code), never split across segments.
GSM7_EXTENSION = "\f^{}\\[~]|€"

_GSM_ALL = frozenset(GSM7_BASIC + GSM7_EXTENSION)
_GSM_EXT = frozenset(GSM7_EXTENSION)

# (single-segment capacity, capacity of each segment of a concatenated message): 140 octets,
# 6 of them the User Data Header once concatenated (docs/providers/carrier-rules.md#segment-sizes).
_LIMITS: dict[SmsEncoding, tuple[int, int]] = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


@dataclass(frozen=True, slots=True)
class SmsInfo:
    """How one text goes out as SMS.

    Attributes
    ----------
    encoding
        ``"GSM-7"`` or ``"UCS-2"``.
    segments
        How many SMS the carrier sends and bills (0 for an empty text).
    characters
        The size in the encoding's units: septets for GSM-7 (an extension character is 2),
        UTF-16 code units for UCS-2 (an emoji is 2).
    ucs2_characters
        The characters (whole graphemes) that forced UCS-2, in order of first appearance.
    suggestion
        A GSM-7 text with look-alikes replaced (a curly apostrophe by ``'``), when that makes
        the whole message GSM-7; shown to the user, never applied silently.
    """

    encoding: SmsEncoding
    segments: int
    characters: int
    ucs2_characters: tuple[str, ...] = ()
    suggestion: str | None = None


def analyse(text: str) -> SmsInfo:
    """Encoding, segment count and UCS-2 culprits of one text (the per-row function).

    >>> analyse("x" * 161)
    SmsInfo(encoding='GSM-7', segments=2, characters=161, ucs2_characters=(), suggestion=None)
    """
    if not _NON_GSM.search(text):
        size = len(text) + len(_EXT.findall(text))
        return SmsInfo("GSM-7", _gsm_segments(text, size), size)
    size = _utf16_units(text)
    culprits: dict[str, None] = {}
    pos = 0
    for start, end in _clusters(text):
        culprits.update(dict.fromkeys(_NON_GSM.findall(text, pos, start)))
        if _NON_GSM.search(text, start, end):
            culprits[text[start:end]] = None
        pos = end
    culprits.update(dict.fromkeys(_NON_GSM.findall(text, pos)))
    return SmsInfo("UCS-2", _ucs2_segments(text, size), size, tuple(culprits), suggest_gsm(text))


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _gsm_segments(text: str, size: int) -> int:
    """Segments of a GSM-7 text of ``size`` septets."""
    single, multi = _LIMITS["GSM-7"]
    if size <= single:
        return min(size, 1)
    fewest = -(-size // multi)
    # A segment holds 153 septets, or 152 when a 2-septet character moves on whole, so the
    # count lies between ceil(size/153) and ceil(size/152): walk only when these differ.
    if size == len(text) or -(-size // (multi - 1)) == fewest:
        return fewest
    pieces: list[tuple[int, bool]] = []
    for run, _ext in _GSM_PIECES.findall(text):
        pieces.append((len(run), True) if run else (2, False))
    return _walk(pieces, multi)


def _ucs2_segments(text: str, size: int) -> int:
    """Segments of a UCS-2 text of ``size`` UTF-16 units, graphemes kept whole."""
    single, multi = _LIMITS["UCS-2"]
    if size <= single:
        return 1
    fewest = -(-size // multi)
    # Without a joining code point every grapheme is one code point: 1 unit, or 2 for an
    # astral one, which can leave one unit unused per segment: walk only when
    # ceil(size/66) != ceil(size/67).
    simple = _joining_set().isdisjoint(_cluster_re().findall(text))
    if simple and (size == len(text) or -(-size // (multi - 1)) == fewest):
        return fewest
    pieces: list[tuple[int, bool]] = []
    pos = 0
    for start, end in _clusters(text):
        pieces.append((start - pos, True))  # single-unit graphemes: may be cut anywhere
        grapheme = text[start:end]
        width = _utf16_units(grapheme)
        if width <= multi:
            pieces.append((width, False))
        else:  # longer than a segment: it cannot stay whole, so cut it between code points
            pieces.extend((_utf16_units(c), False) for c in grapheme)
        pos = end
    pieces.append((len(text) - pos, True))
    return _walk(pieces, multi)


def _walk(pieces: list[tuple[int, bool]], multi: int) -> int:
    """Fill segments of ``multi`` units greedily; a whole piece that does not fit moves on."""
    segments, free = 1, multi
    for width, splittable in pieces:
        if width <= free:
            free -= width
        elif splittable:
            rest = width - free
            extra = -(-rest // multi)
            segments, free = segments + extra, extra * multi - rest
        else:
            segments, free = segments + 1, multi - width
    return segments


def _clusters(text: str) -> list[tuple[int, int]]:
    """(start, end) of every grapheme that is not a single BMP code point, in order.

    Between two code points that can join nothing (no Extend, ZWJ, SpacingMark, Prepend,
    Hangul jamo, CR, or astral code point) there is always a grapheme boundary, so ``\\X``
    only has to run next to the code points that can.
    """
    found = []
    pos = 0
    for match in _cluster_re().finditer(text):
        i = match.start()
        if i < pos:
            continue
        start = max(i - 1, pos)  # the code point before may be the base this one joins
        while (end := _GRAPHEME.match(text, start).end()) <= i:
            start = end
        found.append((start, end))
        pos = end
    return found


# Look-alikes with a GSM-7 replacement, after Twilio's Smart Encoding map (TW-CALC
# src/libs/SmartEncodingMap.ts), corrected where that map is wrong (‹ › swapped, ‗ and
# spaces mapped to two characters) and extended with a few common ones (soft hyphen,
# minus sign, non-breaking hyphen, primes, more fractions).
_LOOK_ALIKES: dict[str, str] = {
    # quotation marks and apostrophes
    **dict.fromkeys("«»“”„‟❝❞〝〞＂ʺ˝ˮ″", '"'),
    **dict.fromkeys("‘’‚‛ʻʼʽʹˈ＇´ˊ`ˋ❛❜\u0313\u0314︐︑′", "'"),
    "‹": "<",
    "›": ">",
    # dashes, hyphens, bullets
    **dict.fromkeys("‐‑‒–—―⁃﹣－−⎼⎽•", "-"),
    # spaces, invisible characters and controls
    **dict.fromkeys("\t\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008", " "),
    **dict.fromkeys("\u2009\u200a\u202f\u205f\u3000\u2028\u2029", " "),
    **dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff\u00ad", ""),
    **dict.fromkeys([chr(c) for c in range(0x20) if chr(c) not in "\n\r\f\t"], ""),
    **dict.fromkeys([chr(c) for c in range(0x7F, 0xA0)], ""),
    # fractions and slashes
    "½": "1/2",
    "¼": "1/4",
    "¾": "3/4",
    "⅓": "1/3",
    "⅔": "2/3",
    "÷": "/",
    **dict.fromkeys("⁄∕⧸／\u0337\u0338", "/"),
    **dict.fromkeys("⧹⧵﹨＼\u20e5", "\\"),
    # punctuation
    "…": "...",
    "‼": "!!",
    "‗": "_",
    **dict.fromkeys("＿\u0332", "_"),
    **dict.fromkeys("∣｜⎸⎹⏐⎜⎟\u20d2\u20d3", "|"),
    **dict.fromkeys("﹫＠", "@"),
    **dict.fromkeys("﹩＄", "$"),
    **dict.fromkeys("ǃ︕﹗！", "!"),
    **dict.fromkeys("﹟＃", "#"),
    **dict.fromkeys("﹪％", "%"),
    **dict.fromkeys("﹠＆", "&"),
    **dict.fromkeys("﹐﹑，､、\u0326", ","),
    **dict.fromkeys("❨❪﹙（⟮⦅", "("),
    **dict.fromkeys("❩❫﹚）⟯⦆", ")"),
    **dict.fromkeys("⁎∗⊛✢✣✤✥✱✲✳✺✻✼✽❃❉❊❋⧆﹡＊", "*"),
    **dict.fromkeys("˖﹢＋", "+"),
    **dict.fromkeys("。﹒．｡", "."),
    **dict.fromkeys("ː˸⦂꞉︓：", ":"),
    **dict.fromkeys("⁏︔﹔；", ";"),
    **dict.fromkeys("﹤＜", "<"),
    **dict.fromkeys("꞊﹦＝\u0347", "="),
    **dict.fromkeys("﹥＞", ">"),
    **dict.fromkeys("︖﹖？", "?"),
    **dict.fromkeys("ˆ＾\u0302\u1dcd", "^"),
    **dict.fromkeys("❴﹛｛", "{"),
    **dict.fromkeys("❵﹜｝", "}"),
    "［": "[",
    "］": "]",
    **dict.fromkeys("˜˷∼～\u0303\u0330\u0334", "~"),
    # full-width digits and letters, small capitals
    **{chr(0xFF10 + i): str(i) for i in range(10)},
    **{chr(0xFF21 + i): chr(ord("A") + i) for i in range(26)},
    **dict(zip("ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢ", "ABCDEFGHIJKLMNOPRSTUVWYZ", strict=True)),
}
_LOOK_ALIKE_TABLE = str.maketrans(_LOOK_ALIKES)


def suggest_gsm(text: str) -> str | None:
    """A GSM-7 version of ``text`` with look-alikes replaced, or None.

    None when ``text`` is already GSM-7 or when some character has no GSM-7 look-alike
    (a real accent such as ``ë``, an emoji): a partial replacement would not save a cent.
    Decomposed accents are composed first (``e`` + U+0301 → ``é``, which is GSM-7).

    >>> suggest_gsm("Fees: ½ price — “today”…")
    'Fees: 1/2 price - "today"...'
    >>> suggest_gsm("Zoë’s") is None
    True
    """
    if _GSM_ALL.issuperset(text):
        return None
    candidate = unicodedata.normalize("NFC", text).translate(_LOOK_ALIKE_TABLE)
    return candidate if _GSM_ALL.issuperset(candidate) else None


def estimate_cost(
    segments: int | Iterable[int], price_per_segment: Decimal | str | int | float
) -> Decimal:
    """The total price of ``segments`` (a count or the ``segments`` column) at a per-segment price.

    Money is a `Decimal`; a float price is read through its shortest repr, so ``0.04``
    is four cents, not 0.040000000000000000832.

    >>> estimate_cost([1, 2, 4], "0.0079")
    Decimal('0.0553')
    """
    price = Decimal(
        str(price_per_segment) if isinstance(price_per_segment, float) else price_per_segment
    )
    if not price.is_finite() or price < 0:
        raise ValueError(f"price_per_segment must be a finite price ≥ 0, not {price_per_segment!r}")
    if isinstance(segments, Integral):
        total = int(segments)
    else:
        total = int(np.asarray(list(segments), dtype=np.int64).sum())  # type: ignore[arg-type]
    if total < 0:
        raise ValueError(f"segments must be ≥ 0, not {total}")
    return total * price


def _ranges(chars: Iterable[str], *, re2: bool = False) -> str:
    """A character-class body for ``chars`` in Python ``re`` or (``re2=True``) RE2 syntax."""
    spans: list[list[int]] = []
    for code in sorted({ord(c) for c in chars}):
        if spans and spans[-1][1] == code - 1:
            spans[-1][1] = code
        else:
            spans.append([code, code])

    def one(code: int) -> str:
        return f"\\x{{{code:X}}}" if re2 else f"\\U{code:08X}"

    return "".join(one(a) if a == b else f"{one(a)}-{one(b)}" for a, b in spans)


# Per row (Python re) and vectorised (Arrow's RE2) forms of the same character classes.
_NON_GSM = re.compile(f"[^{_ranges(_GSM_ALL)}]")
_EXT = re.compile(f"[{_ranges(_GSM_EXT)}]")
_GSM_PIECES = re.compile(f"([^{_ranges(_GSM_EXT)}]+)|([{_ranges(_GSM_EXT)}])")
_NON_GSM_RE2 = f"[^{_ranges(_GSM_ALL, re2=True)}]"
_EXT_RE2 = f"[{_ranges(_GSM_EXT, re2=True)}]"
_ASTRAL_RE2 = r"[^\x{0}-\x{FFFF}]"
_GRAPHEME = regex.compile(r"\X")
_SPACING_MARK = regex.compile(r"\p{Grapheme_Cluster_Break=SpacingMark}")


# Planes that hold a code point with a joining grapheme break property (0, 1 and 14 in every
# Unicode version so far; tests/test_sms.py checks the whole range).
_JOINING_PLANES = (range(0xD800), range(0xE000, 0x20000), range(0xE0000, 0xE1000))


@functools.cache
def _joining() -> list[str]:
    """The code points that can make a grapheme of more than one code point.

    Taken once (about 20 ms) from ``regex``'s grapheme cluster break property, the Unicode
    data its ``\\X`` uses: Extend, ZWJ, SpacingMark, Prepend, Hangul L/V/T and regional
    indicators, plus CR (of CR LF). Between two code points outside this set there is
    always a grapheme boundary.
    """
    kinds = "".join(
        rf"\p{{Grapheme_Cluster_Break={k}}}"
        for k in ("Extend", "ZWJ", "SpacingMark", "Prepend", "L", "V", "T", "Regional_Indicator")
    )
    candidates = "".join(chr(c) for plane in _JOINING_PLANES for c in plane)
    return ["\r", *regex.findall(f"[{kinds}]", candidates)]


@functools.cache
def _cluster_re() -> re.Pattern[str]:
    # Where a grapheme of more than one UTF-16 unit can be: at a joining code point or at
    # any astral one (2 units on its own). Astral code points as one range: Python's re
    # tests a long list of astral ranges one by one for every character.
    bmp = [c for c in _joining() if ord(c) <= 0xFFFF]
    return re.compile(f"[{_ranges(bmp)}\\U00010000-\\U0010FFFF]")


@functools.cache
def _joining_set() -> frozenset[str]:
    return frozenset(_joining())


@functools.cache
def _joining_re2() -> str:
    return f"[{_ranges(_joining(), re2=True)}]"


def analyse_series(texts: pd.Series) -> pd.DataFrame:
    """Vectorised `analyse` of a column of texts: columns encoding, segments, characters.

    Equal to `analyse` row by row; a missing text (None/NaN) gives encoding None,
    0 segments and 0 characters. The index is kept. It runs on Arrow kernels and walks a
    row in Python only where a boundary needs it: an extension character that may
    straddle a GSM-7 boundary, or a multi-unit grapheme in a long UCS-2 text.

    >>> analyse_series(pd.Series(["Hi", "Hi 😜", None]))
      encoding  segments  characters
    0    GSM-7         1           2
    1    UCS-2         1           5
    2     None         0           0
    """
    arr = pa.array(texts, type=pa.large_string(), from_pandas=True)
    present = _np(pc.is_valid(arr))
    ucs2 = _np(pc.fill_null(pc.match_substring_regex(arr, _NON_GSM_RE2), False))
    gsm = present & ~ucs2
    size = _np(pc.fill_null(pc.utf8_length(arr), 0)).astype(np.int64)
    # GSM-7: an extension character is 2 septets; UCS-2: an astral one is 2 UTF-16 units.
    # Counted only in the rows that have any (a match is far cheaper than a count).
    for where, pattern in ((gsm, _EXT_RE2), (ucs2, _ASTRAL_RE2)):
        has = _np(pc.fill_null(pc.match_substring_regex(arr, pattern), False)) & where
        rows = np.flatnonzero(has)
        size[rows] += _np(pc.count_substring_regex(arr.take(rows), pattern))
        if pattern == _EXT_RE2:
            has_ext = has
        else:
            has_astral = has

    segments = np.zeros(len(arr), dtype=np.int64)
    # The same bounds as `_gsm_segments` and `_ucs2_segments`: the fewest segments is
    # ceil(size / multi); an unsplittable 2-unit character can leave a unit unused per
    # segment, so where ceil(size / (multi - 1)) differs the row is walked, as it is when a
    # longer grapheme (a joining code point) is in a long UCS-2 text.
    walk = np.zeros(len(arr), dtype=bool)
    for where, two_units, (single, multi) in (
        (gsm, has_ext, _LIMITS["GSM-7"]),
        (ucs2, has_astral, _LIMITS["UCS-2"]),
    ):
        s = size[where]
        segments[where] = np.where(s <= single, np.minimum(s, 1), -(-s // multi))
        long = where & (size > single)
        walk |= long & two_units & (-(-size // (multi - 1)) != -(-size // multi))
    long_ucs2 = np.flatnonzero(ucs2 & (size > _LIMITS["UCS-2"][0]))
    if len(long_ucs2):
        joins = _np(pc.match_substring_regex(arr.take(long_ucs2), _joining_re2()))
        walk[long_ucs2[joins]] = True

    walk_rows = np.flatnonzero(walk)
    seen: dict[str, int] = {}  # texts repeat (a template with few columns): walk each once
    for row, text in zip(walk_rows, arr.take(walk_rows).to_pylist(), strict=True):
        if text not in seen:
            count = _gsm_segments if gsm[row] else _ucs2_segments
            seen[text] = count(text, int(size[row]))
        segments[row] = seen[text]

    encoding_values = np.full(len(arr), None, dtype=object)
    encoding_values[gsm] = "GSM-7"
    encoding_values[ucs2] = "UCS-2"
    return pd.DataFrame(
        {
            # object dtype: a missing text is None, as in the rendered frame's contract
            "encoding": pd.Series(encoding_values, index=texts.index, dtype=object),
            "segments": pd.Series(segments, index=texts.index),
            "characters": pd.Series(size, index=texts.index),
        }
    )


def _np(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return array.to_numpy(zero_copy_only=False)  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class PartSizes:
    """SMS sizes of texts that are parts of longer texts (a literal, a column's values).

    Each attribute is an array with one entry per part. Every count is a count of single
    code points, so the sizes of a concatenation are the sums of its parts' sizes; what
    addition cannot capture (a character that is never split) is flagged for a walk.

    Attributes
    ----------
    gsm
        Every character is in the GSM-7 basic or extension table.
    septets
        The GSM-7 size: code points, an extension character counted twice.
    units
        The UCS-2 size in UTF-16 code units: an astral code point counted twice.
    extension
        Has a GSM-7 extension character (2 septets, never split across segments).
    simple
        Has no astral code point and no code point that can join its neighbours into one
        grapheme (combining marks, ZWJ, variation selectors, CR of CR LF…): in UCS-2 every
        unit may then be cut anywhere.
    widest
        The UTF-16 units of its widest grapheme (1 when simple, 0 when empty).
    closed
        Starts with a code point that joins nothing and ends with one that joins nothing
        to what follows it (or is empty): its graphemes are the same next to any neighbour.
    """

    gsm: np.ndarray
    septets: np.ndarray
    units: np.ndarray
    extension: np.ndarray
    simple: np.ndarray
    widest: np.ndarray
    closed: np.ndarray

    def take(self, indices: np.ndarray) -> PartSizes:
        """The sizes at ``indices`` (a part's sizes gathered for every row it is in)."""
        return PartSizes(
            self.gsm[indices],
            self.septets[indices],
            self.units[indices],
            self.extension[indices],
            self.simple[indices],
            self.widest[indices],
            self.closed[indices],
        )

    @staticmethod
    def join(
        parts: Sequence[PartSizes], n: int, at: Sequence[np.ndarray | None] | None = None
    ) -> PartSizes:
        """The sizes of ``n`` concatenations: entry ``i`` joins every part's entry ``i``, or
        its entry ``at[k][i]`` for a part ``k`` with indices (a part of length 1 without is
        the same in every concatenation).

        Sizes add up, flags combine (GSM-7 and simple if every part is, an extension if any
        part has one); ``closed`` says that every part is closed, so the graphemes are the
        parts' own and ``widest`` the widest of theirs. That makes a join of joins equal to
        the join of all the parts, so parts may be joined in groups.

        >>> hi, names = part_sizes(["Hi "]), part_sizes(["Ann", "Zoë"])
        >>> PartSizes.join([hi, names], 2).units
        array([6, 6])
        """
        if at is not None:
            parts = [p if i is None else p.take(i) for p, i in zip(parts, at, strict=True)]
        fixed = [p for p in parts if len(p.gsm) == 1]
        varying = [p for p in parts if len(p.gsm) != 1]
        # Length-1 parts folded into scalars first: a few scalar operations each, not a
        # pass over every entry.
        gsm = all(bool(p.gsm[0]) for p in fixed)
        septets = sum(int(p.septets[0]) for p in fixed)
        units = sum(int(p.units[0]) for p in fixed)
        extension = any(bool(p.extension[0]) for p in fixed)
        simple = all(bool(p.simple[0]) for p in fixed)
        widest = max((int(p.widest[0]) for p in fixed), default=0)
        closed = all(bool(p.closed[0]) for p in fixed)
        if not varying:
            return PartSizes(
                np.full(n, gsm),
                np.full(n, septets, dtype=np.int64),
                np.full(n, units, dtype=np.int64),
                np.full(n, extension),
                np.full(n, simple),
                np.full(n, widest, dtype=np.int64),
                np.full(n, closed),
            )
        first, *rest = varying
        gsm_a, septets_a, units_a = first.gsm & gsm, first.septets + septets, first.units + units
        extension_a, simple_a = first.extension | extension, first.simple & simple
        widest_a, closed_a = np.maximum(first.widest, widest), first.closed & closed
        for part in rest:  # in place: these arrays are this join's own
            gsm_a &= part.gsm
            septets_a += part.septets
            units_a += part.units
            extension_a |= part.extension
            simple_a &= part.simple
            np.maximum(widest_a, part.widest, out=widest_a)
            closed_a &= part.closed
        return PartSizes(gsm_a, septets_a, units_a, extension_a, simple_a, widest_a, closed_a)


def part_sizes(values: Sequence[str | None] | pd.Series | pa.Array) -> PartSizes:
    """The `PartSizes` of each value (a missing value is an empty part).

    One call for many values (every literal and column value of a message together) is
    much cheaper than one call each: the regular expressions are compiled once a call.

    >>> part_sizes(["a€", "😜"])
    PartSizes(gsm=array([ True, False]), septets=array([3, 1]), units=array([2, 2]), \
extension=array([ True, False]), simple=array([ True, False]), widest=array([1, 2]), \
closed=array([ True,  True]))
    """
    if isinstance(values, pa.Array):
        arr = values.cast(pa.large_string())
    else:
        arr = pa.array(values, type=pa.large_string(), from_pandas=True)

    def count(pattern: str) -> np.ndarray:
        return _np(pc.fill_null(pc.count_substring_regex(arr, pattern), 0)).astype(np.int64)

    points = _np(pc.fill_null(pc.utf8_length(arr), 0)).astype(np.int64)
    extension = count(_EXT_RE2)
    astral = count(_ASTRAL_RE2)
    joins = _np(pc.fill_null(pc.match_substring_regex(arr, _joining_re2()), False))
    simple = (astral == 0) & ~joins
    widest = np.minimum(points, 1)
    closed = np.ones(len(arr), dtype=bool)
    joining = _joining_set()
    rows = np.flatnonzero(~simple)
    for row, text in zip(rows, arr.take(rows).to_pylist(), strict=True):
        widest[row] = max(_utf16_units(text[a:b]) for a, b in [(0, 1), *_clusters(text)])
        # No rule joins a spacing mark to what follows it (UAX #29 GB9a joins it to what
        # precedes), so a part may end with one.
        last = text[-1]
        closed[row] = text[0] not in joining and (
            last not in joining or _SPACING_MARK.fullmatch(last) is not None
        )
    return PartSizes(
        gsm=~_np(pc.fill_null(pc.match_substring_regex(arr, _NON_GSM_RE2), False)),
        septets=points + extension,
        units=points + astral,
        extension=extension > 0,
        simple=simple,
        widest=widest,
        closed=closed,
    )


def analyse_parts(
    texts: Sequence[str | None] | np.ndarray, parts: Sequence[PartSizes]
) -> pd.DataFrame:
    """`analyse_series` of texts that are concatenations of parts whose sizes are known.

    ``parts[k]`` holds the sizes of every text's k-th part (gathered with `PartSizes.take`,
    or of length 1 for a part that is the same in every text), so ``texts[i]`` is the
    concatenation of the parts at ``i``. Equal to ``analyse_series(pd.Series(texts))`` row
    by row; a missing text gives encoding None, 0 segments and 0 characters. The work is
    `analyse_part_arrays`'s; this wraps its arrays in a frame.

    >>> hi, names = part_sizes(["Hi "]), part_sizes(["Ann", "Zoë"])
    >>> analyse_parts(["Hi Ann", "Hi Zoë"], [hi.take(np.array([0, 0])), names])
      encoding  segments  characters
    0    GSM-7         1           6
    1    UCS-2         1           6
    """
    texts = np.asarray(texts, dtype=object)
    present = np.asarray(texts != None, dtype=bool)  # noqa: E711 (elementwise, not identity)
    encoding, segments, characters = analyse_part_arrays(texts, parts, present)
    return pd.DataFrame(
        {
            "encoding": pd.Series(encoding, dtype=object, copy=False),
            "segments": pd.Series(segments, copy=False),
            "characters": pd.Series(characters, copy=False),
        }
    )


_ENCODINGS = np.array(["UCS-2", "GSM-7", None], dtype=object)
# The sizes of "" (what no parts at all make), as `part_sizes` gives them.
_EMPTY_PART = {
    "gsm": True,
    "septets": 0,
    "units": 0,
    "extension": False,
    "widest": 0,
    "closed": True,
}


def analyse_part_arrays(
    texts: np.ndarray,
    parts: Sequence[PartSizes],
    present: np.ndarray,
    at: Sequence[np.ndarray | None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`analyse_parts` as arrays: (encoding, segments, characters), one entry per text.

    Text ``i`` is the concatenation of every part's sizes at ``i``, or at ``at[k][i]`` for a
    part ``k`` with indices (the sizes of a column's distinct values and each row's code:
    gathered here, and only the sizes each text needs). ``present`` says which texts exist
    (the others give None, 0, 0); ``texts`` is only read where the sizes cannot decide, so
    it may be an object array holding anything elsewhere. Encoding and size add up over
    the parts; the segments follow from the size unless a character that is never split
    may straddle a boundary (the conditions `analyse_series` walks on): only those texts
    are analysed whole. ``encoding`` is an object array of "GSM-7", "UCS-2" and None;
    ``segments`` and ``characters`` are int64.

    >>> hi, names = part_sizes(["Hi "]), part_sizes(["Ann", "Zoë"])
    >>> texts = np.array(["Hi Zoë", "Hi Ann", None], dtype=object)
    >>> analyse_part_arrays(texts, [hi, names], texts != None, [None, np.array([1, 0, 0])])
    (array(['UCS-2', 'GSM-7', None], dtype=object), array([1, 1, 0]), array([6, 6, 0]))
    """
    n = len(present)
    where = list(at) if at is not None else [None] * len(parts)

    def fold(field: str, combine: np.ufunc, rows: np.ndarray | None = None) -> np.ndarray:
        """``field`` of every text (of the texts at ``rows``), combined over the parts."""
        out: np.ndarray | None = None
        for part, index in zip(parts, where, strict=True):
            values: np.ndarray = getattr(part, field)
            if index is None and len(values) == 1:
                picked = values[:1]  # the same in every text: broadcast
            elif index is None:
                picked = values if rows is None else values[rows]
            else:
                picked = values[index if rows is None else index[rows]]
            out = picked if out is None else combine(out, picked)
        length = n if rows is None else len(rows)
        if out is None:  # no parts: the empty text
            return np.full(length, _EMPTY_PART[field])
        return np.broadcast_to(out, (length,))

    gsm = fold("gsm", np.logical_and)
    size = np.where(gsm, fold("septets", np.add), fold("units", np.add))
    size[~present] = 0
    (gsm_single, gsm_multi), (ucs2_single, ucs2_multi) = _LIMITS["GSM-7"], _LIMITS["UCS-2"]
    long = np.flatnonzero(size > np.where(gsm, gsm_single, ucs2_single))
    # One segment (none for an empty GSM-7 text) unless longer than a single segment.
    segments = ((size > 0) | ~gsm).astype(np.int64)
    # The bounds of `analyse_series`, on the long texts only: past one segment, a GSM-7 text
    # with an extension character is walked where ceil(size / 152) != ceil(size / 153). A
    # UCS-2 grapheme of w units that moves on whole leaves at most w - 1 units of a segment
    # unused, so the count lies between ceil(size / 67) and ceil(size / (68 - w)); a text is
    # analysed whole where these differ, or where a part's edge may join its neighbour into
    # one grapheme (`PartSizes.join`: ``closed`` and ``widest`` as a join has them).
    long_gsm, long_size = gsm[long], size[long]
    widest = fold("widest", np.maximum, long)
    multi = np.where(long_gsm, gsm_multi, ucs2_multi)
    fewest = -(-long_size // multi)
    segments[long] = fewest
    # The units a segment may leave unused: 1 before an extension character, w - 1 before
    # a grapheme of w units (0 when every character is one unit that may be cut anywhere).
    slack = np.where(long_gsm, fold("extension", np.logical_or, long), np.maximum(widest - 1, 0))
    exact = (long_gsm | (fold("closed", np.logical_and, long) & (widest <= ucs2_multi))) & (
        -(-long_size // np.maximum(multi - slack, 1)) == fewest
    )
    kind = gsm.astype(np.intp)
    kind[~present] = 2
    encoding = _ENCODINGS[kind]
    segments[~present] = 0
    walk = long[~exact]  # present: a missing text has size 0, so it is never long
    if len(walk):
        sms = analyse_series(pd.Series(texts[walk], dtype=object))
        encoding[walk] = sms["encoding"].to_numpy(dtype=object)
        segments[walk] = sms["segments"].to_numpy()
        size[walk] = sms["characters"].to_numpy()
    return encoding, segments, size.astype(np.int64, copy=False)
