"""Phone numbers to E.164: repair what spreadsheets do, then validate with phonenumbers.

Two stages, each on *unique* values only:

1. **Clean** (`clean_phone`): undo spreadsheet damage and record each repair by a short
   name (`REPAIRS`): invisible or look-alike characters, scientific notation, a trailing
   ``.0``. Plain formatting (spaces, ``-``, ``.``, brackets, ``/``) is removed without being
   called a repair: people type numbers that way. The result is a *key*: ``+?digits``.
2. **Resolve** the key with phonenumbers (``parse`` → ``is_valid_number`` → E.164), trying
   a lost ``+`` when the number is not valid as written. A vectorised fast path
   (`_fast_resolve`) answers the common forms from phonenumbers' own metadata regexes
   (RE2 over Arrow strings) and sends everything else to phonenumbers. It accepts a key
   only where phonenumbers' parse provably takes the same route, so its output equals
   phonenumbers' (a Hypothesis property test checks this). phonenumbers costs about 47 µs
   a number (``/work/shared/notes/performance.md`` §4), the fast path well under 1 µs.

`normalise_phone` is the per-value reference (phonenumbers only); `normalise_phones` is
the vectorised, deduplicated version over a Series that `load_recipients` uses.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberFormat
from phonenumbers.phonenumber import CountryCodeSource

from ._errors import DataError
from .problems import Problem

__all__ = [
    "REPAIRS",
    "PhoneResult",
    "check_region",
    "clean_phone",
    "normalise_phone",
    "normalise_phones",
]

PhoneProblemKind = Literal["invalid-phone", "missing-phone"]

#: Every repair name, in the order they are applied.
REPAIRS: tuple[str, ...] = (
    "stripped-characters",  # NBSP, zero-width, bidi marks, look-alike dashes, a leading '
    "converted-digits",  # non-ASCII digits (full-width, Arabic-Indic...) to 0-9
    "scientific-notation",  # 1.6175551212E+10 as text, every digit still there
    "trailing-.0",  # 16175551212.0: a float column saved as text
    "added-plus",  # 16175551212: the leading + was lost (a number cell cannot hold it)
    "added-leading-zero",  # 7123456789 in GB: a number cell dropped the trunk 0
)

# Invisible characters that Excel, web forms and copy-paste leave in cells.
_INVISIBLE = frozenset(
    "\u00ad\u034f\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)
# Look-alikes of the separators people type: dashes, full-width brackets, dots and slashes.
_LOOKALIKE_SEPARATORS = frozenset(
    "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\uff08\uff09\uff0e\uff0f"
    "\u3002\u30fc"
)
_QUOTES = "'\u2018\u2019"
_FORMATTING = re.compile(r"[\s().\-/]")
_KEY = re.compile(r"\+?[0-9]+")
_SCIENTIFIC = re.compile(r"(\+?)([0-9])(?:[.,]([0-9]*))?[eE]\+?([0-9]{1,3})")
_TRAILING_ZERO = re.compile(r"(\+?[0-9]+)\.0+")
_EXTENSION = re.compile(r"(?i)(?:e?xt?n?|extension|#)\.?:?[0-9]+$")
_LETTER = re.compile(r"[^\W\d_]")
# What the vectorised cleaner handles alone: ASCII digits and formatting, no damage.
_SIMPLE = r"^\+?[0-9][0-9 ().\-/]*$"
_TRAILING_ZERO_VEC = r"^\s*\+?[0-9]+\.0+\s*$"


@dataclass(frozen=True, slots=True)
class PhoneResult:
    """One phone cell normalised: E.164 (``""`` when invalid), repairs, and any problem.

    ``repairs`` are the repairs that produced ``e164`` (empty when there is a problem);
    ``problem`` is the message without the row and column (``Problem`` adds them).
    """

    e164: str
    repairs: tuple[str, ...] = ()
    problem: str | None = None
    kind: PhoneProblemKind | None = None


@dataclass(frozen=True, slots=True)
class _Cleaned:
    key: str  # ``+?digits``, or the cleaned text for phonenumbers when it is not that simple
    repairs: tuple[str, ...] = ()
    failure: str | None = None  # "empty", "lost-digits", "decimal"


# -- stage 1: clean ------------------------------------------------------------------------


def check_region(default_region: str | None) -> str | None:
    """Return ``default_region`` upper-cased, or raise `DataError` if phonenumbers lacks it."""
    if default_region is None:
        return None
    region = default_region.strip().upper()
    if region in phonenumbers.SUPPORTED_REGIONS:
        return region
    hint = ' (the United Kingdom is "GB")' if region == "UK" else ""
    raise DataError(
        f"default_region={default_region!r} is not a region code{hint}: pass a two-letter "
        'ISO 3166 code such as "US", "GB" or "IN"'
    )


def clean_phone(raw: str) -> _Cleaned:
    """Undo spreadsheet damage in one phone cell and name each repair."""
    repairs: list[str] = []
    text = raw
    if not text.isascii() or text.lstrip().startswith(tuple(_QUOTES)):
        text = _strip_unusual(text, repairs)
    text = text.strip()
    if not text:
        return _Cleaned("", (), "empty")
    sci = _SCIENTIFIC.fullmatch(text)
    if sci is not None:
        plus, lead, fraction, exponent = sci.group(1, 2, 3, 4)
        fraction = fraction or ""
        if len(fraction) > int(exponent):
            return _Cleaned(text, tuple(repairs), "decimal")
        if len(fraction) < int(exponent):
            # Excel shows ~6 significant digits; the rest became zeros and cannot be recovered.
            return _Cleaned(text, tuple(repairs), "lost-digits")
        text = plus + lead + fraction
        repairs.append("scientific-notation")
    else:
        zero = _TRAILING_ZERO.fullmatch(text)
        if zero is not None:
            text = zero.group(1)
            repairs.append("trailing-.0")
    return _Cleaned(_FORMATTING.sub("", text), tuple(repairs))


def _strip_unusual(text: str, repairs: list[str]) -> str:
    """Drop invisible and look-alike characters, convert non-ASCII digits."""
    out: list[str] = []
    stripped = converted = False
    stripped_text = text.strip()
    if stripped_text[:1] in _QUOTES:  # Excel's text marker leaked into the value
        text = stripped_text[1:]
        stripped = True
    for char in text:
        if char.isascii():
            out.append(char)
        elif char in _INVISIBLE:
            stripped = True
        elif char in _LOOKALIKE_SEPARATORS or unicodedata.category(char) == "Zs":
            out.append(" ")
            stripped = True
        elif char == "\uff0b":  # full-width plus
            out.append("+")
            stripped = True
        elif unicodedata.category(char) == "Nd":
            out.append(str(unicodedata.decimal(char)))
            converted = True
        else:
            out.append(char)
    if stripped:
        repairs.append("stripped-characters")
    if converted:
        repairs.append("converted-digits")
    return "".join(out)


# -- stage 2: resolve with phonenumbers ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Resolved:
    e164: str
    repairs: tuple[str, ...] = ()
    failure: str | None = None  # "invalid", "no-region", "unknown-code", "extension", ...
    region: str | None = None  # the region the failure message names


def _resolve(key: str, region: str | None) -> _Resolved:
    """phonenumbers' verdict on a cleaned key, with the lost-plus and lost-zero repairs."""
    if not _KEY.fullmatch(key):
        if _EXTENSION.search(key):
            return _Resolved("", failure="extension")
        if _LETTER.search(key):
            return _Resolved("", failure="letters")
    try:
        number = phonenumbers.parse(key, region, keep_raw_input=True)
    except NumberParseException as error:
        return _resolve_unparsed(key, region, error)
    if number.extension:
        return _Resolved("", failure="extension")
    if phonenumbers.is_valid_number(number):
        e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        extra: tuple[str, ...] = () if _KEY.fullmatch(key) else ("stripped-characters",)
        source = number.country_code_source
        if source == CountryCodeSource.FROM_NUMBER_WITHOUT_PLUS_SIGN:
            return _Resolved(e164, (*extra, "added-plus"))
        if (
            source == CountryCodeSource.FROM_DEFAULT_COUNTRY
            and region is not None
            and phonenumbers.national_significant_number(number) == key
            and _shows_national_prefix(number, region)
        ):
            return _Resolved(e164, (*extra, "added-leading-zero"))
        return _Resolved(e164, extra)
    if region is not None and key.isdigit():
        lost_plus = _try_plus(key)
        if lost_plus is not None:
            return lost_plus
    return _Resolved("", failure="invalid", region=_region_of(number.country_code, region))


def _resolve_unparsed(key: str, region: str | None, error: NumberParseException) -> _Resolved:
    if error.error_type == NumberParseException.INVALID_COUNTRY_CODE:
        if key.startswith("+") or region is not None:
            return _Resolved("", failure="unknown-code")
        lost_plus = _try_plus(key) if key.isdigit() else None
        return lost_plus or _Resolved("", failure="no-region")
    if error.error_type == NumberParseException.NOT_A_NUMBER:
        return _Resolved("", failure="not-a-number")
    code = _country_code_prefix(key)
    named = _region_of(code, region) if code else region
    return _Resolved("", failure="invalid", region=named)


def _try_plus(digits: str) -> _Resolved | None:
    """The same digits read as an international number, if that makes a valid one."""
    try:
        number = phonenumbers.parse("+" + digits)
    except NumberParseException:
        return None
    if number.extension or not phonenumbers.is_valid_number(number):
        return None
    return _Resolved(phonenumbers.format_number(number, PhoneNumberFormat.E164), ("added-plus",))


def _shows_national_prefix(number: phonenumbers.PhoneNumber, region: str) -> bool:
    """True if the national format starts with the trunk prefix (GB ``07…``, not US ``(617)``)."""
    meta = PhoneMetadata.metadata_for_region(region)
    prefix = meta.national_prefix if meta is not None else None
    if not prefix:
        return False
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    return re.sub(r"\D", "", national).startswith(prefix)


def _region_of(country_code: int | None, fallback: str | None) -> str | None:
    if not country_code:
        return fallback
    region = phonenumbers.region_code_for_country_code(country_code)
    return f"+{country_code}" if region in ("001", "ZZ") else region


def _country_code_prefix(key: str) -> int | None:
    if not key.startswith("+"):
        return None
    match = _country_code_regex().match(key[1:])
    return int(match.group(0)) if match else None


@functools.cache
def _country_code_regex() -> re.Pattern[str]:
    # Country codes are prefix-free, so the alternation finds the one phonenumbers would.
    codes = sorted(map(str, phonenumbers.COUNTRY_CODE_TO_REGION_CODE), key=len, reverse=True)
    return re.compile("|".join(codes))


# -- messages --------------------------------------------------------------------------------


def _message(raw: str, failure: str, region: str | None) -> tuple[str, PhoneProblemKind]:
    shown = f'"{raw.strip()}"'
    if failure == "empty":
        return "the phone number is empty", "missing-phone"
    messages = {
        "lost-digits": f"{shown} lost digits in the sheet (it was shown in scientific notation): "
        "format the phone column as Text and type the number again",
        "decimal": f"{shown} is a decimal number, not a phone number",
        "no-region": f"{shown} has no country code: write it as +<country code><number> "
        'or pass default_region=, e.g. default_region="US"',
        "unknown-code": f"{shown} does not start with a known country code",
        "extension": f"{shown} has an extension: a text message cannot reach an extension, "
        "remove it",
        "letters": f"{shown} contains letters: write the number in digits",
        "not-a-number": f"{shown} is not a phone number",
    }
    if failure == "invalid":
        where = f" {region}" if region else ""
        return f"{shown} is not a valid{where} number", "invalid-phone"
    return messages[failure], "invalid-phone"


def normalise_phone(raw: str, default_region: str | None = None) -> PhoneResult:
    """Normalise one phone cell to E.164 with phonenumbers alone (the reference path).

    Parameters
    ----------
    raw
        The cell as text, the way the sheet shows it.
    default_region
        ISO 3166 region for numbers written without a country code (``"US"``, ``"GB"``).

    Examples
    --------
    >>> normalise_phone("1.6175550123E+10", "US")
    PhoneResult(e164='+16175550123', repairs=('scientific-notation', 'added-plus'), \
problem=None, kind=None)
    >>> normalise_phone("0712 3456", "GB").problem
    '"0712 3456" is not a valid GB number'
    """
    region = check_region(default_region)
    cleaned = clean_phone(raw)
    if cleaned.failure is not None:
        message, kind = _message(raw, cleaned.failure, region)
        return PhoneResult("", (), message, kind)
    resolved = _resolve(cleaned.key, region)
    return _combine(raw, cleaned, resolved, region)


def _combine(raw: str, cleaned: _Cleaned, resolved: _Resolved, region: str | None) -> PhoneResult:
    repairs = cleaned.repairs + tuple(r for r in resolved.repairs if r not in cleaned.repairs)
    if resolved.failure is not None:
        message, kind = _message(raw, resolved.failure, resolved.region or region)
        return PhoneResult("", (), message, kind)
    return PhoneResult(resolved.e164, repairs)


# -- the vectorised fast path ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Desc:
    lengths: tuple[int, ...]  # empty: any length
    pattern: str


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the fast path needs of one region's metadata."""

    region: str
    code: str  # the country calling code as digits
    general: _Desc
    types: tuple[_Desc, ...]  # every number type: a match on any makes the number valid
    national_prefix: str | None  # the parsing pattern, only when it has no groups or transform
    prefix_groups: bool  # national prefix parsing with groups or a transform: national forms slow
    international_prefix: str | None
    may_show_prefix: bool  # some national format writes the trunk prefix


def _desc(desc: object) -> _Desc | None:
    pattern = getattr(desc, "national_number_pattern", None)
    if not pattern:
        return None
    return _Desc(tuple(getattr(desc, "possible_length", ()) or ()), pattern)


@functools.cache
def _plan(region: str) -> _Plan | None:
    """The fast-path plan for a region, or None where its parse is too intricate to mirror."""
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.leading_digits is not None or meta.country_code is None:
        return None
    if phonenumbers.COUNTRY_CODE_TO_REGION_CODE[meta.country_code][0] != region:
        return None  # not the main region of its code: phonenumbers may pick another region
    general = _desc(meta.general_desc)
    # The types phonenumbers' _number_type_helper tries; any match means "not UNKNOWN".
    kinds = ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "voip",
             "personal_number", "pager", "uan", "voicemail")  # fmt: skip
    types = tuple(d for d in (_desc(getattr(meta, k)) for k in kinds) if d is not None)
    if general is None or not types:
        return None
    parsing = meta.national_prefix_for_parsing or None
    grouped = bool(
        parsing and (re.compile(parsing).groups or meta.national_prefix_transform_rule)
    )
    trunk = meta.national_prefix or ""
    rules = [f.national_prefix_formatting_rule for f in meta.number_format]
    shown = bool(trunk) and any(r and trunk in r.split("\\1")[0] for r in rules)
    return _Plan(
        region=region,
        code=str(meta.country_code),
        general=general,
        types=types,
        national_prefix=parsing,
        prefix_groups=grouped,
        international_prefix=meta.international_prefix or None,
        may_show_prefix=shown,
    )


def _full(arr: pa.Array, pattern: str) -> np.ndarray:
    return np.asarray(pc.match_substring_regex(arr, f"^(?:{pattern})$").fill_null(False))


def _starts(arr: pa.Array, pattern: str) -> np.ndarray:
    return np.asarray(pc.match_substring_regex(arr, f"^(?:{pattern})").fill_null(False))


def _matches(arr: pa.Array, lengths: np.ndarray, desc: _Desc) -> np.ndarray:
    """phonenumbers' ``_is_number_matching_desc``: the length check, then the full pattern."""
    ok = np.isin(lengths, desc.lengths) if desc.lengths else np.ones(len(arr), bool)
    if not ok.any():
        return ok
    out = np.zeros(len(arr), bool)
    idx = np.flatnonzero(ok)
    out[idx] = _full(arr.take(pa.array(idx)), desc.pattern)
    return out


def _valid(nsn: pa.Array, plan: _Plan) -> np.ndarray:
    """``is_valid_number`` for national significant numbers of the plan's own region."""
    lengths = np.asarray(pc.utf8_length(nsn))
    ok = _matches(nsn, lengths, plan.general)
    if not ok.any():
        return ok
    typed = np.zeros(len(nsn), bool)
    for desc in plan.types:
        typed |= _matches(nsn, lengths, desc)
    return ok & typed


def _fast_resolve(keys: list[str], region: str | None) -> dict[str, _Resolved]:
    """Resolve the keys the metadata answers for sure; the rest are absent from the result.

    Each accepted form follows one route through ``phonenumbers.parse`` (see its source:
    ``_maybe_extract_country_code``, ``_maybe_strip_national_prefix_carrier_code``):

    * ``+<cc><nsn>`` where nsn does not start with the national prefix (nothing stripped);
    * with a default region R: ``<nsn>`` and ``<trunk prefix><nsn>`` when the key starts
      with neither R's international prefix nor R's country code, and ``<cc><nsn>`` when the
      whole key is not a national number of R but nsn is (phonenumbers' lost-plus rule).
    """
    out: dict[str, _Resolved] = {}
    if not keys:
        return out
    arr = pa.array(keys, pa.string())
    plus = np.asarray(pc.starts_with(arr, "+"))
    _fast_international(arr, np.flatnonzero(plus), out)
    plan = _plan(region) if region is not None else None
    if plan is not None and not plan.prefix_groups:
        _fast_national(arr, np.flatnonzero(~plus), plan, out)
    return out


def _fast_international(arr: pa.Array, idx: np.ndarray, out: dict[str, _Resolved]) -> None:
    if not len(idx):
        return
    sub = arr.take(pa.array(idx))
    codes = pc.extract_regex(sub, rf"^\+(?P<cc>{_country_code_regex().pattern})")
    cc = np.asarray(codes.field("cc").fill_null(""), dtype=object)
    for code in set(cc) - {""}:
        plan = _plan(phonenumbers.region_code_for_country_code(int(code)))
        if plan is None:
            continue
        mine = np.flatnonzero(cc == code)
        keys = sub.take(pa.array(mine))
        nsn = pc.utf8_slice_codeunits(keys, 1 + len(code))
        ok = _valid(nsn, plan)
        if plan.national_prefix:
            ok &= ~_starts(nsn, plan.national_prefix)
        for key in keys.filter(pa.array(ok)).to_pylist():
            out[key] = _Resolved(key)


def _fast_national(arr: pa.Array, idx: np.ndarray, plan: _Plan, out: dict[str, _Resolved]) -> None:
    if not len(idx):
        return
    sub = arr.take(pa.array(idx))
    free = np.ones(len(sub), bool)
    if plan.international_prefix:
        free &= ~_starts(sub, plan.international_prefix)
    with_code = np.asarray(pc.starts_with(sub, plan.code)) & free
    _fast_lost_plus(sub.filter(pa.array(with_code)), plan, out)
    national = free & ~with_code
    keys = sub.filter(pa.array(national))
    prefixed = (
        _starts(keys, plan.national_prefix) if plan.national_prefix else np.zeros(len(keys), bool)
    )
    bare = keys.filter(pa.array(~prefixed))
    for key in bare.filter(pa.array(_valid(bare, plan))).to_pylist():
        repairs: tuple[str, ...] = ()
        if plan.may_show_prefix:
            number = phonenumbers.PhoneNumber(country_code=int(plan.code), national_number=int(key))
            if key.startswith("0"):  # keep leading zeros the way parse would
                _set_leading_zeros(number, key)
            if _shows_national_prefix(number, plan.region):
                repairs = ("added-leading-zero",)
        out[key] = _Resolved(f"+{plan.code}{key}", repairs)
    if plan.national_prefix and prefixed.any():
        trunk = keys.filter(pa.array(prefixed))
        found = pc.extract_regex(trunk, f"^(?P<np>{plan.national_prefix})")
        ends = np.asarray(pc.utf8_length(found.field("np")))
        rests = [k[e:] for k, e in zip(trunk.to_pylist(), ends.tolist(), strict=True)]
        rest = pa.array(rests, pa.string())
        # The prefix is stripped only when the rest still fits the general pattern.
        ok = _full(rest, plan.general.pattern) & _valid(rest, plan)
        for key, nsn, good in zip(trunk.to_pylist(), rests, ok.tolist(), strict=True):
            if good:
                out[key] = _Resolved(f"+{plan.code}{nsn}")


def _fast_lost_plus(keys: pa.Array, plan: _Plan, out: dict[str, _Resolved]) -> None:
    if not len(keys):
        return
    rest = pc.utf8_slice_codeunits(keys, len(plan.code))
    ok = ~_full(keys, plan.general.pattern) & _full(rest, plan.general.pattern)
    if plan.national_prefix:
        ok &= ~_starts(rest, plan.national_prefix)
    ok &= _valid(rest, plan)
    for key in keys.filter(pa.array(ok)).to_pylist():
        out[key] = _Resolved(f"+{key}", ("added-plus",))


def _set_leading_zeros(number: phonenumbers.PhoneNumber, nsn: str) -> None:
    zeros = len(nsn) - len(nsn.lstrip("0"))
    number.italian_leading_zero = True
    if zeros > 1:
        number.number_of_leading_zeros = zeros


# -- the Series API --------------------------------------------------------------------------


def normalise_phones(
    phones: pd.Series,
    default_region: str | None = None,
    *,
    fast: bool = True,
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Normalise a column of phone cells to E.164, each distinct value once.

    Parameters
    ----------
    phones
        The phone cells as text; its index labels are the rows named in problems and its
        name is the column named in problems.
    default_region
        ISO 3166 region for numbers written without a country code.
    fast
        Use the vectorised metadata fast path (results are identical either way).

    Returns
    -------
    (to, problems, repairs)
        Three Series on ``phones.index``: E.164 strings (``""`` when invalid or missing),
        tuples of `Problem` and tuples of repair names (`REPAIRS`).

    Examples
    --------
    >>> to, problems, repairs = normalise_phones(pd.Series(["(617) 555-0123", ""]), "US")
    >>> to.tolist(), [str(p) for p in problems[1]]
    (['+16175550123', ''], ['row 1: the phone number is empty'])
    """
    region = check_region(default_region)
    column = None if phones.name is None else str(phones.name)
    values = phones.astype("str").fillna("")
    codes, uniques = pd.factorize(values, sort=False)
    e164, fixes, failed = _normalise_unique(uniques.tolist(), region, fast=fast)
    index = phones.index
    to = pd.Series(np.asarray(e164, dtype=object)[codes], index=index, dtype="str", name="to")
    fixed = np.empty(len(fixes), dtype=object)
    fixed[:] = fixes
    repairs = pd.Series(fixed[codes], index=index, dtype=object, name="repairs")
    found: list[tuple[Problem, ...]] = [()] * len(index)
    if failed:
        positions = np.flatnonzero(np.isin(codes, list(failed)))
        labels = index[positions].tolist()
        for position, label in zip(positions.tolist(), labels, strict=True):
            message, kind = failed[int(codes[position])]
            found[position] = (Problem(_row(label), column, message, kind),)
    problems = pd.Series(found, index=index, dtype=object, name="problems")
    return to, problems, repairs


def _row(label: object) -> int | None:
    return int(label) if isinstance(label, int | np.integer) else None


def _normalise_unique(
    raws: list[str], region: str | None, *, fast: bool
) -> tuple[list[str], list[tuple[str, ...]], dict[int, tuple[str, PhoneProblemKind]]]:
    """E.164, repairs and failures of distinct cells; vectorised cleaning where it is safe."""
    if not raws:
        return [], [], {}
    arr = pa.array(raws, pa.string())
    simple = np.asarray(pc.match_substring_regex(arr, _SIMPLE)) & ~np.asarray(
        pc.match_substring_regex(arr, _TRAILING_ZERO_VEC)
    )
    keys: list[str] = pc.replace_substring_regex(arr, r"[ ().\-/]", "").to_pylist()
    cleaned: dict[int, tuple[str, ...]] = {}
    failed: dict[int, tuple[str, PhoneProblemKind]] = {}
    for i in np.flatnonzero(~simple).tolist():
        c = clean_phone(raws[i])
        if c.failure is not None:
            failed[i] = _message(raws[i], c.failure, region)
        else:
            keys[i] = c.key
            cleaned[i] = c.repairs
    resolved = _resolve_keys({k for i, k in enumerate(keys) if i not in failed}, region, fast=fast)
    e164: list[str] = []
    repairs: list[tuple[str, ...]] = []
    for i, key in enumerate(keys):
        r = resolved.get(key) if i not in failed else None
        if r is None or r.failure is not None:
            if r is not None:
                failed[i] = _message(raws[i], r.failure or "invalid", r.region or region)
            e164.append("")
            repairs.append(())
            continue
        e164.append(r.e164)
        before = cleaned.get(i, ())
        added = tuple(x for x in r.repairs if x not in before)
        repairs.append(before + added if before else r.repairs)
    return e164, repairs, failed


def _resolve_keys(keys: Iterable[str], region: str | None, *, fast: bool) -> dict[str, _Resolved]:
    todo = list(keys)
    done = _fast_resolve([k for k in todo if _KEY.fullmatch(k)], region) if fast else {}
    for key in todo:
        if key not in done:
            done[key] = _resolve(key, region)
    return done
