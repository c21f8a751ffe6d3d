"""Phone numbers to E.164: repair what spreadsheets do, then validate with phonenumbers.

Two stages, each on *unique* values only:

1. **Clean** (`clean_phone`): undo spreadsheet damage and record each repair by a short
   name (`REPAIRS`): invisible or look-alike characters, scientific notation, a trailing
   ``.0``. Plain formatting (spaces, ``-``, ``.``, brackets, ``/``) and the ways links write
   a number (``tel:``, ``sms:``, ``whatsapp:``, ``https://wa.me/``, RFC 3966 parameters)
   are removed without being called a repair: people write numbers that way. The result is
   a *key*: ``+?digits``.
2. **Resolve** the key with phonenumbers (``parse`` → ``is_valid_number`` → E.164), trying
   a lost ``+`` when the number is not valid as written. A vectorised fast path
   (`_fast_resolve`) answers the common forms from phonenumbers' own metadata regexes
   (RE2 over Arrow strings) and sends everything else to phonenumbers. It accepts a key
   only where phonenumbers' parse provably takes the same route, so its output equals
   phonenumbers' (a Hypothesis property test checks this). phonenumbers costs about 47 µs
   a number (docs/performance.md#phones), the fast path well under 1 µs.

3. **Decide** (`_decide`, one function for both paths): the destination countries. A valid
   number outside ``countries`` is a ``country-not-allowed`` problem. A ``+`` is added to
   digits that were not valid as written (the ``added-plus`` repair of a lost plus) only when
   the cell was a number (a number cell, or text of digits alone as a number cell leaves
   it) and the result is in an allowed country; otherwise the row is a problem whose message
   shows the candidate, so a typo is never sent abroad. phonenumbers' own reading of the
   default region's country code without ``+`` (``1 617 555 0101`` in the US) is national
   dialling, not a guess: it only has to land in an allowed country.

`normalise_phone` is the per-value reference (phonenumbers only); `normalise_phones` is
the vectorised, deduplicated version over a Series that `load_recipients` uses.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberFormat
from phonenumbers.phonenumber import CountryCodeSource

from ._columns import string_buffers
from ._errors import DataError
from .problems import Problem

__all__ = [
    "REPAIRS",
    "PhoneResult",
    "check_countries",
    "check_region",
    "clean_phone",
    "normalise_phone",
    "normalise_phones",
]

PhoneProblemKind = Literal["invalid-phone", "missing-phone", "country-not-allowed"]

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
_NON_GEOGRAPHIC = "001"  # phonenumbers' region of +800, +808, +870, +881-+883, +888, +979
_FORMATTING = re.compile(r"[\s().\-/]")
_KEY = re.compile(r"\+?[0-9]+")
_SCIENTIFIC = re.compile(r"(\+?)([0-9])(?:[.,]([0-9]*))?[eE]\+?([0-9]{1,3})")
_TRAILING_ZERO = re.compile(r"(\+?[0-9]+)\.0+")
_EXTENSION = re.compile(r"(?i)(?:e?xt?n?|extension|#)\.?:?[0-9]+$")
_LETTER = re.compile(r"[^\W\d_]")
# What the vectorised cleaner handles alone: ASCII digits and formatting, no damage (a
# leading bracket too: "(072) 767-44515" is how many sheets write a national number).
_SIMPLE = r"^\+?[0-9(][0-9 ().\-/]*$"
_TRAILING_ZERO_VEC = r"^\s*\+?[0-9]+\.0+\s*$"
# What a number cell leaves in a sheet: digits alone, maybe with ".0" or in scientific notation.
_BARE = re.compile(r"[0-9]+(?:\.0+)?|[0-9](?:[.,][0-9]*)?[eE]\+?[0-9]{1,3}")
_BARE_VEC = r"^\s*[0-9]+\s*$"
# A number written as a link: tel:/sms:/whatsapp: URIs (RFC 3966, RFC 5724) and WhatsApp's
# click-to-chat links, whose digits are the full international number without its +
# (https://faq.whatsapp.com/5913398998672934).
_SCHEME = re.compile(
    r"(?i)\s*(?:(?:tel|sms|smsto|mms|mmsto|whatsapp|callto)\s*:\s*(?://)?"
    r"|(?P<wa>(?:https?://)?(?:www\.)?(?:wa\.me/|api\.whatsapp\.com/send/?\?phone=)))"
)
# RFC 3966 parameters that address something past the number: a text cannot reach them.
_BEYOND = frozenset({"ext", "isub", "postd"})


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
    failure: str | None = None  # "empty", "lost-digits", "decimal", "extension"
    bare: bool = False  # digits alone (maybe .0 or scientific): what a number cell leaves


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


def check_countries(
    countries: Iterable[str] | str | None, default_region: str | None
) -> tuple[str, ...] | None:
    """The allowed destination countries, upper-cased, or None for any country.

    ``None`` means the default region's country alone, or any country when there is no
    default region either (numbers must then carry their country code); ``"any"`` means
    any country (a suppression list, say, where refusing a number would be unsafe).
    """
    if countries is None:
        return None if default_region is None else (default_region,)
    if isinstance(countries, str):
        if countries.strip().lower() == "any":
            return None
        countries = [countries]
    out: list[str] = []
    for given in countries:
        code = str(given).strip().upper()
        if code not in phonenumbers.SUPPORTED_REGIONS and code != _NON_GEOGRAPHIC:
            hint = ' (the United Kingdom is "GB")' if code == "UK" else ""
            raise DataError(
                f"countries= holds {given!r}, which is not a country code{hint}: pass "
                'two-letter ISO 3166 codes, e.g. countries=["US", "GB"]'
            )
        if code not in out:
            out.append(code)
    if not out:
        raise DataError(
            'countries= is empty, so no number could be sent: pass the ISO 3166 codes of the '
            'countries you send to, e.g. countries=["US"]'
        )
    return tuple(out)


def clean_phone(raw: str) -> _Cleaned:
    """Undo spreadsheet damage in one phone cell and name each repair."""
    repairs: list[str] = []
    text = raw
    marked = False  # Excel's leading ' : the cell was typed as text on purpose
    if not text.isascii() or text.lstrip().startswith(tuple(_QUOTES)):
        marked = text.lstrip()[:1] in _QUOTES
        text = _strip_unusual(text, repairs)
    text = text.strip()
    if not text:
        return _Cleaned("", (), "empty")
    if _SCHEME.match(text):
        text, failure = _strip_link(text)
        if failure is not None:
            return _Cleaned(text, tuple(repairs), failure)
        marked = True  # a link is text: never a number cell that lost its +
    bare = not marked and _BARE.fullmatch(text) is not None
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
    return _Cleaned(_FORMATTING.sub("", text), tuple(repairs), bare=bare)


def _strip_link(text: str) -> tuple[str, str | None]:
    """The number of a ``tel:``/``sms:``/``whatsapp:`` URI or a wa.me link, and any failure.

    RFC 3966: ``;phone-context=+<digits>`` is the prefix of a local number; ``;ext=``,
    ``;isub=`` and ``;postd=`` reach past the number (a failure: a text cannot follow them);
    other parameters are routing hints and are dropped. A query (``?body=``) is dropped.
    """
    match = _SCHEME.match(text)
    assert match is not None
    rest = text[match.end() :]
    if match.group("wa"):
        rest = rest.split("&", 1)[0]
    number, *params = rest.split("?", 1)[0].split(";")
    number = number.strip().rstrip("/")
    context = ""
    for param in params:
        name, _, value = param.partition("=")
        name = name.strip().lower()
        if name in _BEYOND:
            return text, "extension"
        if name == "phone-context":
            context = value.strip()
    if context.startswith("+") and not number.startswith("+"):
        number = context + number
    if match.group("wa") and not number.startswith("+"):
        number = "+" + number  # click-to-chat digits are international by definition
    return number, None


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
    country: str | None = None  # a valid number's region ("001": no country)
    guess: bool = False  # valid only as the same digits with a + in front (a lost plus)


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
        country = _country_of(number)
        source = number.country_code_source
        if source == CountryCodeSource.FROM_NUMBER_WITHOUT_PLUS_SIGN:
            return _Resolved(e164, (*extra, "added-plus"), country=country)
        if (
            source == CountryCodeSource.FROM_DEFAULT_COUNTRY
            and region is not None
            and phonenumbers.national_significant_number(number) == key
            and _shows_national_prefix(number, region)
        ):
            return _Resolved(e164, (*extra, "added-leading-zero"), country=country)
        return _Resolved(e164, extra, country=country)
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
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return _Resolved(e164, ("added-plus",), country=_country_of(number), guess=True)


def _country_of(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.region_code_for_number(number) or _NON_GEOGRAPHIC


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
    if failure == "no-region":
        return (f"{shown} has no country code: write it as +<country code><number> or pass "
                'default_region=, e.g. default_region="US"'), "invalid-phone"
    if failure == "invalid":
        where = f" {region}" if region else ""
        return f"{shown} is not a valid{where} number", "invalid-phone"
    return shown + _FAILURES[failure], "invalid-phone"


#: What follows the quoted cell in the message of each other failure.
_FAILURES = {
    "lost-digits": " lost digits in the sheet (it was shown in scientific notation): "
    "format the phone column as Text and type the number again",
    "decimal": " is a decimal number, not a phone number",
    "unknown-code": " does not start with a known country code",
    "extension": " has an extension: a text message cannot reach an extension, remove it",
    "letters": " contains letters: write the number in digits",
    "not-a-number": " is not a phone number",
}


def _where(country: str | None) -> str:
    if country == _NON_GEOGRAPHIC:
        return "an international network number (no country)"
    return f"a number in {country}"


def _listed(codes: Iterable[str]) -> str:
    quoted = [f'"{c}"' for c in codes]
    return f"[{', '.join(quoted)}]"


def _not_allowed(raw: str, r: _Resolved, allowed: tuple[str, ...]) -> str:
    cell = raw.strip()
    shown = f'"{cell}"' if cell == r.e164 else f'"{cell}" ({r.e164})'
    return shown + _not_allowed_tail(allowed, r.country)


@functools.cache
def _not_allowed_tail(allowed: tuple[str, ...], country: str | None) -> str:
    """What follows the number in `_not_allowed`'s message: the same for a whole country."""
    only = " and ".join(allowed) if len(allowed) < 3 else ", ".join(allowed)
    return (
        f" is {_where(country)}, and only numbers in {only} are "
        f"allowed: to send there, pass countries={_listed([*allowed, str(country)])}"
    )


def _declined_plus(
    raw: str, r: _Resolved, region: str | None, eligible: bool, allowed: tuple[str, ...] | None
) -> str:
    cell = raw.strip()
    base = f'"{cell}" is not a valid {region} number' if region else (
        f'"{cell}" has no country code')
    if eligible and allowed is not None:
        fix = f"write it with its + and pass countries={_listed([*allowed, str(r.country)])}"
    else:
        fix = "write it with its +"
    return (f"{base}; with a + in front it would be {r.e164}, {_where(r.country)}: "
            f"if that is meant, {fix}")


def _decide(
    raw: str,
    r: _Resolved,
    *,
    region: str | None,
    eligible: bool,
    allowed: tuple[str, ...] | None,
) -> PhoneResult | None:
    """The destination-country rules on a valid number; None when they let it through."""
    if r.guess:
        if eligible and (allowed is None or r.country in allowed):
            return None
        return PhoneResult("", (), _declined_plus(raw, r, region, eligible, allowed),
                           "invalid-phone")
    if allowed is not None and r.country not in allowed:
        return PhoneResult("", (), _not_allowed(raw, r, allowed), "country-not-allowed")
    return None


def normalise_phone(
    raw: str,
    default_region: str | None = None,
    *,
    countries: Iterable[str] | None = None,
    number_cell: bool | None = None,
) -> PhoneResult:
    """Normalise one phone cell to E.164 with phonenumbers alone (the reference path).

    Parameters
    ----------
    raw
        The cell as text, the way the sheet shows it.
    default_region
        ISO 3166 region for numbers written without a country code (``"US"``, ``"GB"``).
    countries
        The destination countries allowed (ISO 3166 codes); None: any country.
    number_cell
        True for a workbook cell typed as a number, False for a workbook text cell, None
        for text without types (CSV): then digits alone count as a number cell.

    Examples
    --------
    >>> normalise_phone("1.6175550123E+10", "US")
    PhoneResult(e164='+16175550123', repairs=('scientific-notation', 'added-plus'), \
problem=None, kind=None)
    >>> normalise_phone("0712 3456", "GB").problem
    '"0712 3456" is not a valid GB number'
    >>> normalise_phone("tel:+1-617-555-0123", countries=["US"]).e164
    '+16175550123'
    >>> print(normalise_phone("(617) 555-01234", "US").problem)  # doctest: +NORMALIZE_WHITESPACE
    "(617) 555-01234" is not a valid US number; with a + in front it would be +61755501234,
    a number in AU: if that is meant, write it with its +
    """
    region = check_region(default_region)
    allowed = None if countries is None else check_countries(countries, None)
    cleaned = clean_phone(raw)
    if cleaned.failure is not None:
        message, kind = _message(raw, cleaned.failure, region)
        return PhoneResult("", (), message, kind)
    resolved = _resolve(cleaned.key, region)
    eligible = cleaned.bare and number_cell is not False
    return _combine(raw, cleaned, resolved, region, eligible=eligible, allowed=allowed)


def _combine(
    raw: str,
    cleaned: _Cleaned,
    resolved: _Resolved,
    region: str | None,
    *,
    eligible: bool,
    allowed: tuple[str, ...] | None,
) -> PhoneResult:
    repairs = cleaned.repairs + tuple(r for r in resolved.repairs if r not in cleaned.repairs)
    if resolved.failure is not None:
        message, kind = _message(raw, resolved.failure, resolved.region or region)
        return PhoneResult("", (), message, kind)
    refused = _decide(raw, resolved, region=region, eligible=eligible, allowed=allowed)
    return refused or PhoneResult(resolved.e164, repairs)


# -- the vectorised fast path ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Desc:
    lengths: tuple[int, ...]  # empty: any length
    pattern: str


@dataclass(frozen=True, slots=True)
class _Rules:
    """What makes a national significant number valid in one region (phonenumbers'
    ``_number_type_helper`` is not UNKNOWN): the general description, then any type's."""

    general: _Desc
    types: tuple[_Desc, ...]


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
def _rules(region: str) -> _Rules | None:
    """A region's validity rules, or None where its metadata lacks them."""
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None:
        return None
    general = _desc(meta.general_desc)
    # The types phonenumbers' _number_type_helper tries; any match means "not UNKNOWN".
    kinds = ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "voip",
             "personal_number", "pager", "uan", "voicemail")  # fmt: skip
    types = tuple(d for d in (_desc(getattr(meta, k)) for k in kinds) if d is not None)
    return None if general is None or not types else _Rules(general, types)


@functools.cache
def _plan(region: str) -> _Plan | None:
    """The fast-path plan for a region, or None where its parse is too intricate to mirror."""
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.leading_digits is not None or meta.country_code is None:
        return None
    if phonenumbers.COUNTRY_CODE_TO_REGION_CODE[meta.country_code][0] != region:
        return None  # not the main region of its code: the code's parse is its main region's
    rules = _rules(region)
    if rules is None:
        return None
    parsing = meta.national_prefix_for_parsing or None
    grouped = bool(
        parsing and (re.compile(parsing).groups or meta.national_prefix_transform_rule)
    )
    trunk = meta.national_prefix or ""
    formats = [f.national_prefix_formatting_rule for f in meta.number_format]
    shown = bool(trunk) and any(r and trunk in r.split("\\1")[0] for r in formats)
    return _Plan(
        region=region,
        code=str(meta.country_code),
        general=rules.general,
        types=rules.types,
        national_prefix=parsing,
        prefix_groups=grouped,
        international_prefix=meta.international_prefix or None,
        may_show_prefix=shown,
    )


def _full(arr: pa.Array, pattern: str) -> np.ndarray:
    return np.asarray(pc.match_substring_regex(arr, f"^(?:{pattern})$").fill_null(False))


def _starts(arr: pa.Array, pattern: str) -> np.ndarray:
    return np.asarray(pc.match_substring_regex(arr, f"^(?:{pattern})").fill_null(False))


def _matches(arr: pa.Array, lengths: np.ndarray, desc: _Desc,
             among: np.ndarray | None = None) -> np.ndarray:
    """phonenumbers' ``_is_number_matching_desc``: the length check, then the full pattern
    (asked only ``among`` these, when given: the others are False)."""
    ok = np.isin(lengths, desc.lengths) if desc.lengths else np.ones(len(arr), bool)
    if among is not None:
        ok &= among
    if not ok.any():
        return ok
    out = np.zeros(len(arr), bool)
    idx = np.flatnonzero(ok)
    out[idx] = _full(arr.take(pa.array(idx)), desc.pattern)
    return out


def _valid(nsn: pa.Array, rules: _Plan | _Rules) -> np.ndarray:
    """``_number_type_helper(nsn) != UNKNOWN`` with a region's rules."""
    lengths = np.asarray(pc.utf8_length(nsn))
    ok = _matches(nsn, lengths, rules.general)
    if not ok.any():
        return ok
    typed = np.zeros(len(nsn), bool)
    for desc in rules.types:  # any type will do: each asks only the numbers still untyped
        left = ok & ~typed
        if not left.any():
            break
        typed |= _matches(nsn, lengths, desc, left)
    return ok & typed


@dataclass(frozen=True, slots=True)
class _Claims:
    """`_claim`'s verdicts, one per number: the index of its region in ``regions`` where
    valid, -1 where surely invalid, -2 where the metadata is beyond this mirror."""

    code: np.ndarray  # int16
    regions: tuple[str, ...]

    @property
    def valid(self) -> np.ndarray:
        return np.asarray(self.code >= 0)

    @property
    def invalid(self) -> np.ndarray:
        return np.asarray(self.code == -1)

    def countries(self, where: np.ndarray) -> np.ndarray:
        """The regions of the valid numbers selected by ``where``."""
        names = np.array([*self.regions, ""], dtype=object)
        return np.asarray(names[self.code[where]])


def _claim(nsn: pa.Array, code: str) -> _Claims:
    """``is_valid_number`` for national significant numbers of calling code ``code``, with
    the region ``region_code_for_number`` names: the code's only region, else the first of
    its regions whose leading digits match or (without leading digits) whose types do."""
    regions = tuple(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(code), ()))
    out = np.full(len(nsn), -2, dtype=np.int16)
    open_ = np.ones(len(nsn), bool)
    for number, region in enumerate(regions):
        meta = PhoneMetadata.metadata_for_region(region)
        if meta is None:
            continue
        rules = _rules(region)
        if rules is None:
            return _Claims(out, regions)
        idx = np.flatnonzero(open_)
        if not len(idx):
            break
        sub = _take(nsn, idx)
        if len(regions) > 1 and meta.leading_digits is not None:
            claims = _starts(sub, meta.leading_digits)
            valid = np.zeros(len(sub), bool)
            valid[claims] = _valid(sub.filter(pa.array(claims)), rules)
        else:
            valid = _valid(sub, rules)
            claims = np.ones(len(sub), bool) if len(regions) == 1 else valid
        out[idx[claims & valid]] = number
        out[idx[claims & ~valid]] = -1
        open_[idx[claims]] = False
    out[open_] = -1  # no region of the code claims it: not valid anywhere
    return _Claims(out, regions)


#: The repairs a fast-path route implies, by the code `_Fast.route` holds.
_ROUTE_REPAIRS: tuple[tuple[str, ...], ...] = ((), ("added-plus",), ("added-leading-zero",))
_AS_IS, _PLUS, _ZERO = range(3)
# The national significant number lengths phonenumbers parses without raising.
_NSN_LENGTHS = (2, 17)


@dataclass(frozen=True, slots=True)
class _Fast:
    """The fast path's answers by position in its keys: where ``found``, the E.164, the
    repair of the route taken (`_ROUTE_REPAIRS`) and the number's country; where
    ``invalid`` is a region, the key is surely not a valid number (named in that region)."""

    found: np.ndarray  # bool
    e164: np.ndarray  # object: str where found
    route: np.ndarray  # int8
    country: np.ndarray  # object: str where found
    invalid: np.ndarray  # object: the region a failure names, None elsewhere

    @classmethod
    def empty(cls, n: int) -> _Fast:
        return cls(np.zeros(n, bool), np.full(n, "", object), np.zeros(n, np.int8),
                   np.full(n, None, object), np.full(n, None, object))

    def put(self, positions: np.ndarray, e164: pa.Array, country: str | np.ndarray,
            route: int | np.ndarray = _AS_IS) -> None:
        if not len(positions):
            return
        self.found[positions] = True
        self.e164[positions] = e164.to_numpy(zero_copy_only=False)
        self.route[positions] = route
        self.country[positions] = country

    def resolved(self, i: int) -> _Resolved:
        if self.invalid[i] is not None:
            return _Resolved("", failure="invalid", region=self.invalid[i])
        return _Resolved(str(self.e164[i]), _ROUTE_REPAIRS[self.route[i]],
                         country=self.country[i])


def _fast_resolve(keys: list[str], region: str | None) -> dict[str, _Resolved]:
    """`_fast_answers` as a mapping of the keys it answers to their results."""
    fast = _fast_answers(pa.array(keys, pa.string()), region)
    known = fast.found | (fast.invalid != None)  # noqa: E711 (elementwise)
    return {keys[i]: fast.resolved(i) for i in np.flatnonzero(known).tolist()}


def _fast_answers(arr: pa.Array, region: str | None) -> _Fast:
    """Resolve the keys the metadata answers for sure; the rest are left to phonenumbers.

    Each accepted form follows one route through ``phonenumbers.parse`` (see its source:
    ``_maybe_strip_i18n_prefix_and_normalize``, ``_maybe_extract_country_code``,
    ``_maybe_strip_national_prefix_carrier_code``), and validity follows
    ``is_valid_number`` over every region of the calling code (`_claim`):

    * ``+<cc><nsn>``, and ``+<cc><trunk prefix><nsn>`` (``+44 (0)7700 900123``) where the
      prefix is stripped because nsn is valid;
    * with a default region R: ``<nsn>`` and ``<trunk prefix><nsn>`` when the key starts
      with neither R's international prefix nor R's country code; ``<cc><nsn>`` when the
      whole key is not a national number of R but nsn is (phonenumbers' lost-plus rule);
      and ``<R's international prefix><cc>...`` (``00353...`` in GB) as ``+<cc>...``, when
      no 0 follows the prefix.

    Surely invalid: ``+<cc><nsn>`` whose nsn is valid in no region of the code, and a
    national key starting with 0 (so no lost plus can save it) that is invalid whether or
    not its trunk prefix is stripped. Only keys of the form ``+?digits`` are considered.
    """
    fast = _Fast.empty(len(arr))
    if not len(arr):
        return fast
    keyed = np.asarray(pc.match_substring_regex(arr, r"^\+?[0-9]+$").fill_null(False))
    plus = np.asarray(pc.starts_with(arr, "+").fill_null(False)) & keyed
    idx = np.flatnonzero(plus)
    if len(idx):
        _put(fast, idx, _international(_take(arr, idx)))
    plan = _plan(region) if region is not None else None
    if plan is not None and not plan.prefix_groups:
        _fast_national(arr, np.flatnonzero(keyed & ~plus), plan, fast)
    return fast


def _put(fast: _Fast, idx: np.ndarray, answers: Iterator[_Answer]) -> None:
    for answer in answers:
        positions = idx[answer.positions]
        if answer.e164 is None:
            fast.invalid[positions] = answer.country
        else:
            fast.put(positions, answer.e164, answer.country)


@dataclass(frozen=True, slots=True)
class _Answer:
    """Some positions of `_international`'s keys: their E.164 and countries, or (``e164``
    None) surely invalid, named in ``country``."""

    positions: np.ndarray
    e164: pa.Array | None
    country: str | np.ndarray


def _without(arr: pa.Array, chars: bytes) -> pa.Array:
    """Each string (as large_string) without the ASCII characters ``chars``.

    One pass over the bytes (``replace_substring_regex`` takes about twice as long): an
    ASCII byte in UTF-8 is only ever that character.
    """
    arr = arr.cast(pa.large_string())
    found = string_buffers(arr)
    if found is None:
        return arr
    offsets, data = found
    raw = data[offsets[0]:offsets[-1]]
    drop = np.zeros(256, dtype=bool)
    drop[list(chars)] = True
    gone = np.flatnonzero(drop[raw])
    if not len(gone):
        return arr
    # Each string's bytes less the dropped ones: the new offsets.
    owner = np.searchsorted(offsets, gone + offsets[0], side="right") - 1
    removed = np.bincount(owner, minlength=len(arr))
    fresh = np.empty(len(arr) + 1, dtype=np.int64)
    fresh[0] = 0
    np.cumsum(np.diff(offsets) - removed, out=fresh[1:])
    kept = np.delete(raw, gone)
    validity = pa.py_buffer(pc.is_valid(arr).buffers()[1]) if arr.null_count else None
    return pa.Array.from_buffers(pa.large_string(), len(arr),
                                 [validity, pa.py_buffer(fresh), pa.py_buffer(kept)])


def _take(arr: pa.Array, positions: np.ndarray) -> pa.Array:
    return arr.take(pa.array(positions, pa.int64()))


def _strip_start(arr: pa.Array, pattern: str) -> pa.Array:
    """Each string without the match of ``pattern`` at its start (its first match there)."""
    return pc.replace_substring_regex(arr, f"^(?:{pattern})", "", max_replacements=1)


def _sized(nsn: pa.Array) -> np.ndarray:
    lengths = np.asarray(pc.utf8_length(nsn))
    return (lengths >= _NSN_LENGTHS[0]) & (lengths <= _NSN_LENGTHS[1])


def _international(sub: pa.Array) -> Iterator[_Answer]:
    """What the metadata answers for sure of ``sub`` (``+<digits>`` keys), by calling code."""
    codes = pc.extract_regex(sub, rf"^\+(?P<cc>{_country_code_regex().pattern})")
    found = pc.dictionary_encode(pc.struct_field(codes, "cc"))  # null: no known code
    which = np.asarray(found.indices.fill_null(-1))
    for j, code in enumerate(found.dictionary.to_pylist()):
        plan = _plan(phonenumbers.region_code_for_country_code(int(code))) if code else None
        if plan is None:
            continue
        mine = np.flatnonzero(which == j)
        nsn = pc.utf8_slice_codeunits(_take(sub, mine), 1 + len(code))
        prefixed = (
            _starts(nsn, plan.national_prefix) if plan.national_prefix else np.zeros(len(nsn), bool)
        )
        free = np.flatnonzero(~prefixed)
        written = _take(nsn, free) if len(free) < len(nsn) else nsn
        claimed = _claim(written, code)
        ok = claimed.valid
        yield _Answer(mine[free[ok]], _with_code(written.filter(pa.array(ok)), code),
                      claimed.countries(ok))
        yield _Answer(mine[free[claimed.invalid & _sized(written)]], None, plan.region)
        if not prefixed.any() or plan.prefix_groups:
            continue
        # The trunk prefix after the code is stripped when what follows is valid (viable).
        rest = _strip_start(nsn.filter(pa.array(prefixed)), plan.national_prefix or "")
        claimed = _claim(rest, code)
        good = claimed.valid & _matches(rest, np.asarray(pc.utf8_length(rest)), plan.general)
        yield _Answer(mine[prefixed][good], _with_code(rest.filter(pa.array(good)), code),
                      claimed.countries(good))


def _with_code(nsn: pa.Array, code: str) -> pa.Array:
    return pc.utf8_replace_slice(nsn, 0, 0, f"+{code}")


def _fast_national(arr: pa.Array, idx: np.ndarray, plan: _Plan, fast: _Fast) -> None:
    if not len(idx):
        return
    sub = _take(arr, idx)
    free = np.ones(len(sub), bool)
    if plan.international_prefix:
        dialled = np.flatnonzero(_starts(sub, plan.international_prefix))
        free[dialled] = False
        if len(dialled):
            _fast_dialled(sub, dialled, idx, plan, fast)
    with_code = np.asarray(pc.starts_with(sub, plan.code)) & free
    _fast_lost_plus(sub, np.flatnonzero(with_code), idx, plan, fast)
    national = np.flatnonzero(free & ~with_code)
    keys = _take(sub, national)
    prefixed = (
        _starts(keys, plan.national_prefix) if plan.national_prefix else np.zeros(len(keys), bool)
    )
    bare = np.flatnonzero(~prefixed)
    written = _take(keys, bare) if len(bare) < len(keys) else keys
    claimed = _claim(written, plan.code)
    valid = claimed.valid
    chosen = written.filter(pa.array(valid))
    route: int | np.ndarray = _AS_IS
    if plan.may_show_prefix:
        route = np.array([_ZERO if _shows_prefix(key, plan) else _AS_IS
                          for key in chosen.to_pylist()], np.int8)
    fast.put(idx[national[bare[valid]]], _with_code(chosen, plan.code),
             claimed.countries(valid), route)
    # Invalid as written and, with a 0 in front, no lost plus to try: surely invalid
    # (a key with a trunk prefix also when stripping it leaves no valid number).
    zero = _starts(keys, "0") & _sized(keys)
    invalid = np.zeros(len(keys), bool)
    invalid[bare] = claimed.invalid & zero[bare]
    if plan.national_prefix and prefixed.any():
        trunk = np.flatnonzero(prefixed)
        rest = _strip_start(_take(keys, trunk), plan.national_prefix)
        stripped = _claim(rest, plan.code)
        # The prefix is stripped only when the rest still fits the general pattern.
        ok = stripped.valid & _matches(rest, np.asarray(pc.utf8_length(rest)), plan.general)
        fast.put(idx[national[trunk[ok]]], _with_code(rest.filter(pa.array(ok)), plan.code),
                 stripped.countries(ok))
        doubt = trunk[stripped.invalid & _sized(rest) & zero[trunk]]
        if len(doubt):
            invalid[doubt[_claim(_take(keys, doubt), plan.code).invalid]] = True
    fast.invalid[idx[national[invalid]]] = plan.region


def _shows_prefix(key: str, plan: _Plan) -> bool:
    """True if phonenumbers writes this national number of the plan's region with its trunk
    prefix (a number cell that dropped its 0 has had a zero added back)."""
    number = phonenumbers.PhoneNumber(country_code=int(plan.code), national_number=int(key))
    if key.startswith("0"):  # keep leading zeros the way parse would
        _set_leading_zeros(number, key)
    return _shows_national_prefix(number, plan.region)


def _fast_dialled(
    sub: pa.Array, dialled: np.ndarray, idx: np.ndarray, plan: _Plan, fast: _Fast
) -> None:
    """Keys dialled with the default region's international prefix (00, 011): read with +.

    phonenumbers strips the prefix only when no 0 follows it (``_parse_prefix_as_idd``).
    """
    assert plan.international_prefix is not None
    rest = _strip_start(_take(sub, dialled), plan.international_prefix)
    usable = np.flatnonzero(np.asarray(pc.match_substring_regex(rest, "^[1-9]")))
    if len(usable):
        plus = pc.utf8_replace_slice(_take(rest, usable), 0, 0, "+")
        _put(fast, idx[dialled[usable]], (a for a in _international(plus) if a.e164 is not None))


def _fast_lost_plus(
    sub: pa.Array, with_code: np.ndarray, idx: np.ndarray, plan: _Plan, fast: _Fast
) -> None:
    if not len(with_code):
        return
    keys = _take(sub, with_code)
    rest = pc.utf8_slice_codeunits(keys, len(plan.code))
    ok = ~_full(keys, plan.general.pattern) & _full(rest, plan.general.pattern)
    if plan.national_prefix:
        ok &= ~_starts(rest, plan.national_prefix)
    claimed = _claim(rest, plan.code)
    ok &= claimed.valid
    plus = pc.utf8_replace_slice(keys.filter(pa.array(ok)), 0, 0, "+")
    fast.put(idx[with_code[ok]], plus, claimed.countries(ok), _PLUS)


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
    countries: Iterable[str] | None = None,
    number_cells: Sequence[bool] | np.ndarray | pd.Series | None = None,
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
    countries
        The destination countries allowed (ISO 3166 codes). A valid number elsewhere is a
        ``country-not-allowed`` problem, and a lost ``+`` is restored only into these
        countries. None: any country (a suppression list, say).
    number_cells
        One flag per cell: True where a workbook cell was typed as a number, False for its
        text cells; None for text without types (CSV), where digits alone count as a
        number cell. Only a number cell can have lost its ``+``.
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
    >>> to, problems, _ = normalise_phones(
    ...     pd.Series(["whatsapp:+447400123456"]), "US", countries=["US"])
    >>> str(problems[0][0])
    'row 0: "whatsapp:+447400123456" (+447400123456) is a number in GB, and only numbers \
in US are allowed: to send there, pass countries=["US", "GB"]'
    """
    region = check_region(default_region)
    allowed = None if countries is None else check_countries(countries, None)
    column = None if phones.name is None else str(phones.name)
    codes, uniques = pd.factorize(phones.astype("str").fillna(""), sort=False)
    unique = _normalise_unique(_arrow(uniques), region, fast=fast)
    # Most distinct values are plain valid numbers: their E.164 and repairs are taken as
    # they are; the rest go through `_outcome` (failures, countries, a guessed plus).
    n = len(uniques)
    e164 = np.empty(2 * n, dtype=object)
    fixes = np.empty(2 * n, dtype=object)
    e164[:n] = unique.e164
    fixes[:n] = unique.repairs
    special = np.zeros(n, bool)
    special[list(unique.unusual)] = True
    if allowed is not None:
        special |= ~np.isin(unique.country, np.array(allowed, dtype=object))
    failures: dict[int, tuple[str, PhoneProblemKind]] = {}  # a code's message and kind
    guessed = np.zeros(n, bool)
    asked = np.flatnonzero(special)
    for i, raw in zip(asked.tolist(), _take(unique.raws, asked).to_pylist(), strict=True):
        r = unique.resolved(i)
        guessed[i] = r.guess
        for j, eligible in ((i, True), (i + n, False)) if r.guess else ((i, True),):
            o = _outcome(raw, r, region, eligible=eligible, allowed=allowed)
            e164[j], fixes[j] = o.e164, o.repairs
            if o.problem is not None:
                assert o.kind is not None
                failures[j] = (o.problem, o.kind)
    # A lost plus depends on the cell, not only its text: a guessed value's cells that
    # cannot have lost a plus (text cells, formatted text) take its second code.
    if guessed.any():
        eligible_cells = unique.bare[codes]
        if number_cells is not None:
            eligible_cells &= np.asarray(number_cells, dtype=bool)
        codes = np.where(guessed[codes] & ~eligible_cells, codes + n, codes)
    index = phones.index
    shown = pa.array(e164, pa.large_string()).take(pa.array(codes, pa.int64()))
    to = pd.Series(shown, index=index, dtype="str", name="to")
    repairs = pd.Series(fixes[codes], index=index, dtype=object, name="repairs")
    found = np.empty(len(index), dtype=object)
    found.fill(())
    if failures:
        positions = np.flatnonzero(np.isin(codes, list(failures)))
        said = [failures[c] for c in codes[positions].tolist()]
        rows = [_row(label) for label in index[positions].tolist()]
        found[positions] = np.fromiter(
            ((Problem(row, column, *message),) for row, message in zip(rows, said, strict=True)),
            dtype=object, count=len(rows))
    problems = pd.Series(found, index=index, dtype=object, name="problems", copy=False)
    return to, problems, repairs


def _arrow(values: object) -> pa.Array:
    """Text values (a pandas string array) as one Arrow string array."""
    arr = pa.array(values, pa.large_string()) if not isinstance(values, pa.Array) else values
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _outcome(
    raw: str, r: _Resolved, region: str | None, *, eligible: bool, allowed: tuple[str, ...] | None
) -> PhoneResult:
    if r.failure is not None:
        message, kind = _message(raw, r.failure, r.region or region)
        return PhoneResult("", (), message, kind)
    refused = _decide(raw, r, region=region, eligible=eligible, allowed=allowed)
    return refused or PhoneResult(r.e164, r.repairs)


def _row(label: object) -> int | None:
    return int(label) if isinstance(label, int | np.integer) else None


@dataclass(frozen=True, slots=True)
class _Unique:
    """Distinct cells resolved, as columns: E.164 (``""`` on failure), repairs (cleaning's
    included), country, whether the cell is bare digits, and the full record of every
    value that is not a plain valid number (`unusual`: failures and guessed pluses)."""

    raws: pa.Array
    e164: np.ndarray
    repairs: np.ndarray
    country: np.ndarray
    bare: np.ndarray
    records: dict[int, _Resolved]
    unusual: frozenset[int]

    def resolved(self, i: int) -> _Resolved:
        found = self.records.get(i)
        if found is not None:
            return found
        return _Resolved(str(self.e164[i]), self.repairs[i], country=self.country[i])


def _normalise_unique(raws: pa.Array, region: str | None, *, fast: bool) -> _Unique:
    """Each distinct cell resolved (repairs of cleaning included).

    Cleaning is vectorised where it is safe: ASCII digits with plain formatting; the fast
    path answers what it can for whole columns, phonenumbers the rest, each key once.
    """
    n = len(raws)
    simple = np.asarray(pc.match_substring_regex(raws, _SIMPLE)) & ~np.asarray(
        pc.match_substring_regex(raws, _TRAILING_ZERO_VEC)
    )
    bare = np.asarray(pc.match_substring_regex(raws, _BARE_VEC))
    keys = _without(raws, b" ().-/")
    cleaned: dict[int, tuple[str, ...]] = {}
    records: dict[int, _Resolved] = {}
    messy = np.flatnonzero(~simple)
    if len(messy):
        texts: list[str] = []
        for i, raw in zip(messy.tolist(), _take(raws, messy).to_pylist(), strict=True):
            c = clean_phone(raw)
            bare[i] = c.bare
            texts.append(c.key)
            if c.failure is not None:
                records[i] = _Resolved("", failure=c.failure)
            else:
                cleaned[i] = c.repairs
        keys = pc.replace_with_mask(keys, pa.array(~simple), pa.array(texts, keys.type))
    answers = _fast_answers(keys, region) if fast else _Fast.empty(n)
    e164, country = answers.e164, answers.country
    repairs = _objects(_ROUTE_REPAIRS)[answers.route]
    for i in np.flatnonzero(answers.invalid != None).tolist():  # noqa: E711 (elementwise)
        records.setdefault(i, answers.resolved(i))
    rest = np.flatnonzero(~answers.found)
    by_key: dict[str, _Resolved] = {}
    for i, key in zip(rest.tolist(), _take(keys, rest).to_pylist(), strict=True):
        if i in records:
            continue
        r = by_key.get(key)
        if r is None:
            r = by_key[key] = _resolve(key, region)
        records[i] = r
    for i, r in records.items():
        e164[i], repairs[i], country[i] = r.e164, r.repairs, r.country
    for i, before in cleaned.items():
        if before and (i not in records or records[i].failure is None):
            added = tuple(x for x in repairs[i] if x not in before)
            repairs[i] = before + added
            if i in records:
                records[i] = dataclasses.replace(records[i], repairs=repairs[i])
    unusual = frozenset(i for i, r in records.items() if r.failure is not None or r.guess)
    return _Unique(raws, e164, repairs, country, bare, records, unusual)


def _objects(values: Sequence[object]) -> np.ndarray:
    """A 1-D object array holding ``values`` as they are (tuples stay elements)."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out
