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
# What the vectorised cleaner handles alone: ASCII digits and formatting, no damage.
_SIMPLE = r"^\+?[0-9][0-9 ().\-/]*$"
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
    messages = {
        "lost-digits": f"{shown} lost digits in the sheet (it was shown in scientific notation): "
        "format the phone column as Text and type the number again",
        "decimal": f"{shown} is a decimal number, not a phone number",
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
    only = " and ".join(allowed) if len(allowed) < 3 else ", ".join(allowed)
    return (
        f"{shown} is {_where(r.country)}, and only numbers in {only} are "
        f"allowed: to send there, pass countries={_listed([*allowed, str(r.country)])}"
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
    ``_maybe_strip_i18n_prefix_and_normalize``, ``_maybe_extract_country_code``,
    ``_maybe_strip_national_prefix_carrier_code``):

    * ``+<cc><nsn>``, and ``+<cc><trunk prefix><nsn>`` (``+44 (0)7700 900123``) where the
      prefix is stripped because nsn is valid;
    * with a default region R: ``<nsn>`` and ``<trunk prefix><nsn>`` when the key starts
      with neither R's international prefix nor R's country code; ``<cc><nsn>`` when the
      whole key is not a national number of R but nsn is (phonenumbers' lost-plus rule);
      and ``<R's international prefix><cc>...`` (``00353...`` in GB) as ``+<cc>...``, when
      no 0 follows the prefix.
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
    for position, resolved in _international(sub):
        out[sub[position].as_py()] = resolved


def _international(sub: pa.Array) -> Iterator[tuple[int, _Resolved]]:
    """Positions in ``sub`` (``+<digits>`` keys) that resolve for sure, with their results."""
    codes = pc.extract_regex(sub, rf"^\+(?P<cc>{_country_code_regex().pattern})")
    cc = np.asarray(codes.field("cc").fill_null(""), dtype=object)
    for code in set(cc) - {""}:
        plan = _plan(phonenumbers.region_code_for_country_code(int(code)))
        if plan is None:
            continue
        mine = np.flatnonzero(cc == code)
        nsn = pc.utf8_slice_codeunits(sub.take(pa.array(mine)), 1 + len(code))
        prefixed = (
            _starts(nsn, plan.national_prefix) if plan.national_prefix else np.zeros(len(nsn), bool)
        )
        ok = _valid(nsn, plan) & ~prefixed
        for position, digits in zip(mine[ok].tolist(), nsn.filter(pa.array(ok)).to_pylist(),
                                    strict=True):
            yield position, _Resolved(f"+{code}{digits}", country=plan.region)
        if not prefixed.any() or plan.prefix_groups:
            continue
        # The trunk prefix after the code is stripped when what follows is valid (viable).
        trunk = nsn.filter(pa.array(prefixed))
        found = pc.extract_regex(trunk, f"^(?P<np>{plan.national_prefix})")
        ends = np.asarray(pc.utf8_length(found.field("np"))).tolist()
        rests = [k[e:] for k, e in zip(trunk.to_pylist(), ends, strict=True)]
        valid = _valid(pa.array(rests, pa.string()), plan).tolist()
        for position, rest, good in zip(mine[prefixed].tolist(), rests, valid, strict=True):
            if good:
                yield position, _Resolved(f"+{code}{rest}", country=plan.region)


def _fast_national(arr: pa.Array, idx: np.ndarray, plan: _Plan, out: dict[str, _Resolved]) -> None:
    if not len(idx):
        return
    sub = arr.take(pa.array(idx))
    free = np.ones(len(sub), bool)
    if plan.international_prefix:
        dialled = _starts(sub, plan.international_prefix)
        free &= ~dialled
        if dialled.any():
            _fast_dialled(sub.filter(pa.array(dialled)), plan, out)
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
        out[key] = _Resolved(f"+{plan.code}{key}", repairs, country=plan.region)
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
                out[key] = _Resolved(f"+{plan.code}{nsn}", country=plan.region)


def _fast_dialled(keys: pa.Array, plan: _Plan, out: dict[str, _Resolved]) -> None:
    """Keys dialled with the default region's international prefix (00, 011): read with +.

    phonenumbers strips the prefix only when no 0 follows it (``_parse_prefix_as_idd``).
    """
    assert plan.international_prefix is not None
    found = pc.extract_regex(keys, f"^(?P<idd>{plan.international_prefix})")
    ends = np.asarray(pc.utf8_length(found.field("idd"))).tolist()
    originals = keys.to_pylist()
    rests = [k[e:] for k, e in zip(originals, ends, strict=True)]
    usable = [i for i, rest in enumerate(rests) if rest and rest[0] != "0"]
    if not usable:
        return
    plus = pa.array(["+" + rests[i] for i in usable], pa.string())
    for position, resolved in _international(plus):
        out[originals[usable[position]]] = resolved


def _fast_lost_plus(keys: pa.Array, plan: _Plan, out: dict[str, _Resolved]) -> None:
    if not len(keys):
        return
    rest = pc.utf8_slice_codeunits(keys, len(plan.code))
    ok = ~_full(keys, plan.general.pattern) & _full(rest, plan.general.pattern)
    if plan.national_prefix:
        ok &= ~_starts(rest, plan.national_prefix)
    ok &= _valid(rest, plan)
    for key in keys.filter(pa.array(ok)).to_pylist():
        out[key] = _Resolved(f"+{key}", ("added-plus",), country=plan.region)


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
    values = phones.astype("str").fillna("")
    codes, uniques = pd.factorize(values, sort=False)
    raws: list[str] = uniques.tolist()
    resolved, bare = _normalise_unique(raws, region, fast=fast)
    # Most distinct values are plain valid numbers: their E.164 and repairs are taken as
    # they are; the rest go through `_outcome` (failures, countries, a guessed plus).
    n = len(raws)
    e164 = np.empty(2 * n, dtype=object)
    fixes = np.empty(2 * n, dtype=object)
    e164[:n] = [r.e164 for r in resolved]
    fixes[:n] = [r.repairs for r in resolved]
    if allowed is None:
        special = np.fromiter((r.failure is not None or r.guess for r in resolved), bool, n)
    else:
        permitted = frozenset(allowed)
        special = np.fromiter(
            (r.failure is not None or r.guess or r.country not in permitted for r in resolved),
            bool, n)
    failures: dict[int, PhoneResult] = {}
    guessed = np.zeros(n, bool)
    for i in np.flatnonzero(special).tolist():
        r = resolved[i]
        guessed[i] = r.guess
        for j, eligible in ((i, True), (i + n, False)) if r.guess else ((i, True),):
            o = _outcome(raws[i], r, region, eligible=eligible, allowed=allowed)
            e164[j], fixes[j] = o.e164, o.repairs
            if o.problem is not None:
                failures[j] = o
    # A lost plus depends on the cell, not only its text: a guessed value's cells that
    # cannot have lost a plus (text cells, formatted text) take its second code.
    if guessed.any():
        eligible_cells = bare[codes]
        if number_cells is not None:
            eligible_cells &= np.asarray(number_cells, dtype=bool)
        codes = np.where(guessed[codes] & ~eligible_cells, codes + n, codes)
    index = phones.index
    to = pd.Series(e164[codes], index=index, dtype="str", name="to")
    repairs = pd.Series(fixes[codes], index=index, dtype=object, name="repairs")
    found: list[tuple[Problem, ...]] = [()] * len(index)
    if failures:
        positions = np.flatnonzero(np.isin(codes, list(failures)))
        labels = index[positions].tolist()
        for position, label in zip(positions.tolist(), labels, strict=True):
            o = failures[int(codes[position])]
            assert o.problem is not None and o.kind is not None
            found[position] = (Problem(_row(label), column, o.problem, o.kind),)
    problems = pd.Series(found, index=index, dtype=object, name="problems")
    return to, problems, repairs


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


def _normalise_unique(
    raws: list[str], region: str | None, *, fast: bool
) -> tuple[list[_Resolved], np.ndarray]:
    """Each distinct cell resolved (repairs of cleaning included) and whether it is bare.

    Cleaning is vectorised where it is safe: ASCII digits with plain formatting.
    """
    if not raws:
        return [], np.zeros(0, bool)
    arr = pa.array(raws, pa.string())
    simple = np.asarray(pc.match_substring_regex(arr, _SIMPLE)) & ~np.asarray(
        pc.match_substring_regex(arr, _TRAILING_ZERO_VEC)
    )
    bare = np.asarray(pc.match_substring_regex(arr, _BARE_VEC))
    keys: list[str] = pc.replace_substring_regex(arr, r"[ ().\-/]", "").to_pylist()
    cleaned: dict[int, tuple[str, ...]] = {}
    failed: dict[int, _Resolved] = {}
    for i in np.flatnonzero(~simple).tolist():
        c = clean_phone(raws[i])
        bare[i] = c.bare
        if c.failure is not None:
            failed[i] = _Resolved("", failure=c.failure)
        else:
            keys[i] = c.key
            cleaned[i] = c.repairs
    done = _resolve_keys({k for i, k in enumerate(keys) if i not in failed}, region, fast=fast)
    out: list[_Resolved] = []
    for i, key in enumerate(keys):
        if i in failed:
            out.append(failed[i])
            continue
        r = done[key]
        before = cleaned.get(i, ())
        if before and r.failure is None:
            added = tuple(x for x in r.repairs if x not in before)
            r = dataclasses.replace(r, repairs=before + added)
        out.append(r)
    return out, bare


def _resolve_keys(keys: Iterable[str], region: str | None, *, fast: bool) -> dict[str, _Resolved]:
    todo = list(keys)
    done = _fast_resolve([k for k in todo if _KEY.fullmatch(k)], region) if fast else {}
    for key in todo:
        if key not in done:
            done[key] = _resolve(key, region)
    return done
