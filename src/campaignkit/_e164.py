"""Regions and time zones of many E.164 numbers at once, equal to phonenumbers' answers.

`decide` needs every row's region (a budget priced per region) and time zones (quiet
hours). phonenumbers answers one number at a time (``parse``, then
``region_code_for_number`` or ``timezone.time_zones_for_number``), about 30 µs a number:
half a minute for the largest sheet Excel holds. Here the same metadata is applied to whole
arrays. A number written ``+<country code><national number>`` takes one route through
``parse`` when its national number does not start with the region's national prefix
(nothing is stripped): its country code is the shortest valid prefix, its region and type
come from the metadata's patterns (RE2 over Arrow strings, as phonenumbers' ``re`` would
match them), and its zones from phonenumbers' prefix table, the longest prefix first. Any
other number is left to phonenumbers: `Numbers.known` is False for it.

tests/test_e164.py checks every answer against phonenumbers with Hypothesis.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumberType
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

__all__ = ["Numbers", "classify"]

#: what ``parse`` reads without a detour: a plus, a country code and at most 15 digits
_PLAIN = r"^\+[1-9][0-9]{6,14}$"
_UNKNOWN_ZONES = ("Etc/Unknown",)
# The order of phonenumbers' _number_type_helper after the general description.
_SPECIAL = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)


@dataclass(frozen=True)
class Numbers:
    """What phonenumbers says of each number, by position.

    ``known`` marks the numbers answered here; the others must be asked of phonenumbers.
    ``region`` and ``zones`` are codes into ``regions`` and ``zone_lists`` (-1 where not
    known): ``regions`` holds ``region_code_for_number``'s answers (None when it has none or
    the number does not parse) and ``zone_lists`` ``time_zones_for_number``'s tuples, as
    phonenumbers gives them (``("Etc/Unknown",)`` included; ``()`` when it does not parse).
    """

    known: np.ndarray
    region: np.ndarray
    regions: list[str | None]
    zones: np.ndarray
    zone_lists: list[tuple[str, ...]]


def classify(numbers: pa.Array | Sequence[str | None]) -> Numbers:
    """Regions and time zones of ``numbers`` (strings or nulls), as phonenumbers gives them.

    >>> found = classify(["+447400123401", "+12125550110", "07400 123401"])
    >>> found.known.tolist(), [found.regions[c] for c in found.region[:2]]
    ([True, True, False], ['GB', 'US'])
    >>> found.zone_lists[found.zones[1]]
    ('America/New_York',)
    """
    arr = numbers if isinstance(numbers, pa.Array) else pa.array(numbers, pa.string())
    if isinstance(arr, pa.ChunkedArray):  # pragma: no cover - callers pass plain arrays
        arr = arr.combine_chunks()
    n = len(arr)
    region = np.full(n, -1, dtype=np.int32)
    zones = np.full(n, -1, dtype=np.int32)
    regions: _Codes[str | None] = _Codes()
    zone_lists: _Codes[tuple[str, ...]] = _Codes()
    known = np.asarray(pc.match_substring_regex(arr, _PLAIN).fill_null(False))
    if not known.any():
        return Numbers(known, region, regions.values, zones, zone_lists.values)
    idx = np.flatnonzero(known)
    plain = _take(arr, idx)
    codes = _country_codes(plain)
    for code in np.unique(codes).tolist():
        mine = idx[codes == code]
        if code == 0:  # no valid country code: parse raises
            region[mine] = regions.code(None)
            zones[mine] = zone_lists.code(())
            continue
        numbers_of = _take(arr, mine)
        nsn = pc.utf8_slice_codeunits(numbers_of, 1 + len(str(code)))
        doubtful = _stripped(code, nsn)
        if doubtful is None:  # a country code whose parse this module does not mirror
            known[mine] = False
            continue
        if doubtful.any():
            known[mine[doubtful]] = False
            keep = ~doubtful
            mine, numbers_of = mine[keep], numbers_of.filter(pa.array(keep))
            nsn = nsn.filter(pa.array(keep))
        which, kinds = _regions_and_types(code, nsn)
        for r, name in enumerate(COUNTRY_CODE_TO_REGION_CODE[code]):
            region[mine[which == r]] = regions.code(name)
        region[mine[which == -1]] = regions.code(None)
        _zones(code, numbers_of, kinds, mine, zones, zone_lists)
    return Numbers(known, region, regions.values, zones, zone_lists.values)


T = TypeVar("T")


class _Codes(Generic[T]):
    """Distinct values numbered in order of appearance."""

    def __init__(self) -> None:
        self.values: list[T] = []
        self._index: dict[T, int] = {}

    def code(self, value: T) -> int:
        found = self._index.get(value)
        if found is None:
            found = self._index[value] = len(self.values)
            self.values.append(value)
        return found


def _country_codes(plain: pa.Array) -> np.ndarray:
    """``_extract_country_code``: the shortest prefix of 1 to 3 digits that is a code, else 0.

    ``plain`` numbers match `_PLAIN`: a digit 1-9 and six or more after the plus, so each
    prefix is its first three digits as an integer, divided by 100, 10 or 1.
    """
    first3 = np.asarray(pc.utf8_slice_codeunits(plain, 1, 4).cast(pa.int64()))
    out = np.zeros(len(plain), dtype=np.int64)
    valid = np.zeros(1000, dtype=bool)
    valid[list(COUNTRY_CODE_TO_REGION_CODE)] = True
    for width in (3, 2, 1):  # the shortest wins: assign the longest first, then overwrite
        prefix = first3 // 10 ** (3 - width)
        hit = valid[prefix]
        out[hit] = prefix[hit]
    return out


def _stripped(code: int, nsn: pa.Array) -> np.ndarray | None:
    """Numbers whose national prefix ``parse`` might strip (answered by phonenumbers), or
    None when the country code's main region is not geographic (its parse is not mirrored)."""
    main = phonenumbers.region_code_for_country_code(code)
    meta = PhoneMetadata.metadata_for_region(main, None)
    if meta is None:
        return None
    prefix = meta.national_prefix_for_parsing
    if not prefix:
        return np.zeros(len(nsn), dtype=bool)
    return _starts(nsn, prefix)


def _take(arr: pa.Array, rows: np.ndarray) -> pa.Array:
    """``arr`` at the positions ``rows`` (increasing): ``arr`` itself when they are all."""
    return arr if len(rows) == len(arr) else arr.take(pa.array(rows))


@functools.cache
def _compiles(pattern: str) -> bool:
    """Whether RE2 (pyarrow) takes phonenumbers' pattern; else Python's ``re`` is used."""
    try:
        pc.match_substring_regex(pa.array(["0"]), pattern)
    except pa.ArrowInvalid:
        return False
    return True


def _regex(arr: pa.Array, pattern: str) -> np.ndarray:
    if _compiles(pattern):
        return np.asarray(pc.match_substring_regex(arr, pattern).fill_null(False))
    compiled = re.compile(pattern)
    return np.array([compiled.search(v) is not None for v in arr.to_pylist()], dtype=bool)


def _starts(arr: pa.Array, pattern: str) -> np.ndarray:
    """``re.match(pattern, s)``: a match at the start."""
    return _regex(arr, f"^(?:{pattern})")


def _matching(nsn: pa.Array, lengths: np.ndarray, desc: object) -> np.ndarray:
    """``_is_number_matching_desc``: the possible lengths, then the whole pattern."""
    out = np.zeros(len(nsn), dtype=bool)
    pattern = getattr(desc, "national_number_pattern", None) if desc is not None else None
    if not pattern:
        return out
    possible = getattr(desc, "possible_length", None) or ()
    ok = np.isin(lengths, possible) if possible else np.ones(len(nsn), dtype=bool)
    if ok.any():
        idx = np.flatnonzero(ok)
        out[idx] = _regex(_take(nsn, idx), f"^(?:{pattern})$")
    return out


def _types(nsn: pa.Array, meta: object) -> np.ndarray:
    """``_number_type_helper`` for every number: a `PhoneNumberType` each."""
    kinds = np.full(len(nsn), PhoneNumberType.UNKNOWN, dtype=np.int8)
    lengths = np.asarray(pc.utf8_length(nsn))
    todo = _matching(nsn, lengths, meta.general_desc)  # type: ignore[attr-defined]
    # The special types are rare: one pass of all their patterns at once finds the numbers
    # that may have one, and only those are asked type by type, in phonenumbers' order.
    rare = np.flatnonzero(todo & _any_special(nsn, meta))
    sub, sub_lengths, left = _take(nsn, rare), lengths[rare], np.ones(len(rare), dtype=bool)
    for name, kind in _SPECIAL:
        if not left.any():
            break
        hit = left & _matching(sub, sub_lengths, getattr(meta, name))
        kinds[rare[hit]], left = kind, left & ~hit
        todo[rare[hit]] = False
    if not todo.any():
        return kinds
    same = meta.same_mobile_and_fixed_line_pattern  # type: ignore[attr-defined]
    fixed = todo & _matching(nsn, lengths, meta.fixed_line)  # type: ignore[attr-defined]
    if same:
        kinds[fixed] = PhoneNumberType.FIXED_LINE_OR_MOBILE
        return kinds
    mobile = todo & _matching(nsn, lengths, meta.mobile)  # type: ignore[attr-defined]
    kinds[fixed & mobile] = PhoneNumberType.FIXED_LINE_OR_MOBILE
    kinds[fixed & ~mobile] = PhoneNumberType.FIXED_LINE
    kinds[mobile & ~fixed] = PhoneNumberType.MOBILE
    return kinds


def _any_special(nsn: pa.Array, meta: object) -> np.ndarray:
    """Numbers that may match a special type's pattern (all of them when RE2 cannot take the
    patterns together)."""
    patterns = [p for name, _ in _SPECIAL
                if (p := getattr(getattr(meta, name), "national_number_pattern", None))]
    if not patterns:
        return np.zeros(len(nsn), dtype=bool)
    together = "^(?:" + "|".join(f"(?:{p})" for p in patterns) + ")$"
    if not _compiles(together):
        return np.ones(len(nsn), dtype=bool)
    return np.asarray(pc.match_substring_regex(nsn, together).fill_null(False))


def _regions_and_types(code: int, nsn: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``region_code_for_number`` (a position in the code's regions, -1 for None) and
    ``number_type`` of every national number of one country code."""
    names = COUNTRY_CODE_TO_REGION_CODE[code]
    n = len(nsn)
    which = np.full(n, -1, dtype=np.int32)
    kinds = np.full(n, PhoneNumberType.UNKNOWN, dtype=np.int8)
    if len(names) == 1:
        which[:] = 0
    todo = np.ones(n, dtype=bool) if len(names) > 1 else np.zeros(n, dtype=bool)
    typed = np.zeros(n, dtype=bool)
    for r, name in enumerate(names):
        if not todo.any():
            break
        meta = PhoneMetadata.metadata_for_region(name.upper(), None)
        if meta is None:
            continue
        idx = np.flatnonzero(todo)
        sub = _take(nsn, idx)
        if meta.leading_digits is not None:
            hit = _starts(sub, meta.leading_digits)
        else:
            found = _types(sub, meta)
            hit = found != PhoneNumberType.UNKNOWN
            kinds[idx[hit]] = found[hit]  # number_type asks the same metadata again
            typed[idx[hit]] = True
        which[idx[hit]] = r
        todo[idx[hit]] = False
    for r, name in enumerate(names):
        mine = np.flatnonzero((which == r) & ~typed)
        if not len(mine):
            continue
        meta = PhoneMetadata.metadata_for_region_or_calling_code(code, name)
        if meta is not None:
            kinds[mine] = _types(_take(nsn, mine), meta)
    return which, kinds


def _zones(code: int, numbers: pa.Array, kinds: np.ndarray, where: np.ndarray,
           zones: np.ndarray, lists: _Codes[tuple[str, ...]]) -> None:
    """``time_zones_for_number``: unknown type, country-level zones, or the longest prefix."""
    from phonenumbers.timezone import _country_level_time_zones_for_number

    zones[where[kinds == PhoneNumberType.UNKNOWN]] = lists.code(_UNKNOWN_ZONES)
    geographic = np.zeros(len(kinds), dtype=bool)
    for kind in np.unique(kinds).tolist():
        if kind == PhoneNumberType.UNKNOWN:
            continue
        if phonenumbers.is_number_type_geographical(kind, code):
            geographic |= kinds == kind
        else:
            level = _country_level_time_zones_for_number(
                phonenumbers.PhoneNumber(country_code=code))
            zones[where[kinds == kind]] = lists.code(tuple(level))
    todo = np.flatnonzero(geographic)
    keys = pa.array(list(TIMEZONE_DATA))
    for width in range(TIMEZONE_LONGEST_PREFIX, 0, -1):
        if not len(todo):
            return
        prefix = pc.utf8_slice_codeunits(_take(numbers, todo), 1, 1 + width)
        hit = np.asarray(pc.is_in(prefix, value_set=keys))
        if not hit.any():
            continue
        found = prefix.filter(pa.array(hit)).dictionary_encode()
        codes = np.array([lists.code(tuple(TIMEZONE_DATA[p]))
                          for p in found.dictionary.to_pylist()], dtype=np.int32)
        zones[where[todo[hit]]] = codes[np.asarray(found.indices)]
        todo = todo[~hit]
    zones[where[todo]] = lists.code(_UNKNOWN_ZONES)
