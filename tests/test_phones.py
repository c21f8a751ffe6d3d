"""Phone normalisation: repairs, problem messages, and the fast path equal to phonenumbers."""

from __future__ import annotations

import pandas as pd
import phonenumbers
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaignkit import DataError, Problem
from campaignkit._phones import (
    PhoneResult,
    _fast_resolve,
    _resolve,
    _Resolved,
    _without,
    check_countries,
    check_region,
    normalise_phone,
    normalise_phones,
)

REGIONS = ["US", "GB", "IN", "DE", "ES", "FR", "IT", "AU", "BR", "CN", "JP", "MX", "NG", "RU", "CA"]


@pytest.mark.parametrize(
    ("raw", "region", "e164", "repairs"),
    [
        ("+1 617-555-0101", None, "+16175550101", ()),
        ("(617) 555-0101", "US", "+16175550101", ()),
        ("617.555.0101", "US", "+16175550101", ()),
        ("07400 123456", "GB", "+447400123456", ()),
        ("+44 (0) 7400 123456", "US", "+447400123456", ()),
        ("1.6175550101E+10", "US", "+16175550101", ("scientific-notation", "added-plus")),
        ("4.47400123456e11", "US", "+447400123456", ("scientific-notation", "added-plus")),
        ("16175550101.0", "US", "+16175550101", ("trailing-.0", "added-plus")),
        ("+16175550101.0", None, "+16175550101", ("trailing-.0",)),
        ("16175550101", "US", "+16175550101", ("added-plus",)),
        ("16175550101", None, "+16175550101", ("added-plus",)),
        ("447400123456", "US", "+447400123456", ("added-plus",)),
        ("7400123456", "GB", "+447400123456", ("added-leading-zero",)),
        ("6175550101", "US", "+16175550101", ()),
        ("+44\u00a07400\u00a0123456", "US", "+447400123456", ("stripped-characters",)),
        ("\u200b+1 617 555 0101\u200b", None, "+16175550101", ("stripped-characters",)),
        ("+1 617\u2013555\u20130101", None, "+16175550101", ("stripped-characters",)),
        ("'+16175550101", "US", "+16175550101", ("stripped-characters",)),
        ("++44 7400 123456", "US", "+447400123456", ("stripped-characters",)),
        ("٠٧٤٠٠١٢٣٤٥٦", "GB", "+447400123456", ("converted-digits",)),
        (
            " 16175550101.0\u00a0",
            "US",
            "+16175550101",
            ("stripped-characters", "trailing-.0", "added-plus"),
        ),
    ],
)
def test_repairs_give_exact_e164(
    raw: str, region: str | None, e164: str, repairs: tuple[str, ...]
) -> None:
    """Each spreadsheet repair yields the exact E.164 number and names itself."""
    assert normalise_phone(raw, region) == PhoneResult(e164, repairs)


@pytest.mark.parametrize(
    ("raw", "region", "message", "kind"),
    [
        ("0712 3456", "GB", '"0712 3456" is not a valid GB number', "invalid-phone"),
        ("555-0199", "US", '"555-0199" is not a valid US number', "invalid-phone"),
        ("+44 7400 12", "US", '"+44 7400 12" is not a valid GB number', "invalid-phone"),
        ("", "US", "the phone number is empty", "missing-phone"),
        (" \u00a0\u200b ", "US", "the phone number is empty", "missing-phone"),
        (
            "4.47401E+11",
            "US",
            '"4.47401E+11" lost digits in the sheet (it was shown in scientific notation): '
            "format the phone column as Text and type the number again",
            "invalid-phone",
        ),
        ("1.5E+0", "US", '"1.5E+0" is a decimal number, not a phone number', "invalid-phone"),
        (
            "0712 3456",
            None,
            '"0712 3456" has no country code: write it as +<country code><number> or pass '
            'default_region=, e.g. default_region="US"',
            "invalid-phone",
        ),
        (
            "+999 1234567",
            "US",
            '"+999 1234567" does not start with a known country code',
            "invalid-phone",
        ),
        (
            "+1 617 555 0101 ext. 12",
            None,
            '"+1 617 555 0101 ext. 12" has an extension: a text message cannot reach an '
            "extension, remove it",
            "invalid-phone",
        ),
        (
            "call me",
            "US",
            '"call me" contains letters: write the number in digits',
            "invalid-phone",
        ),
        ("***", "US", '"***" is not a phone number', "invalid-phone"),
    ],
)
def test_problem_messages(raw: str, region: str | None, message: str, kind: str) -> None:
    """An unusable number gets an exact message, no E.164 and no repairs."""
    assert normalise_phone(raw, region) == PhoneResult("", (), message, kind)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("tel:+16175550101", None),
        ("tel:+1-617-555-0101", None),
        ("TEL: +1 (617) 555-0101", None),
        ("tel:+16175550101;tgrp=x;trunk-context=example.com", None),
        ("tel:6175550101;phone-context=+1", None),
        ("tel:617-555-0101", "US"),
        ("sms:+16175550101", None),
        ("sms:+16175550101?body=Hi%20there", None),
        ("smsto:+16175550101", None),
        ("whatsapp:+16175550101", None),
        ("WhatsApp: +1 617 555 0101", None),
        ("https://wa.me/16175550101", None),
        ("wa.me/16175550101", None),
        ("https://api.whatsapp.com/send?phone=16175550101&text=hi", None),
    ],
)
def test_links_and_uri_prefixes_are_accepted(raw: str, region: str | None) -> None:
    """tel:, sms:, whatsapp: and wa.me links give their number, as plain formatting would."""
    assert normalise_phone(raw, region) == PhoneResult("+16175550101")


@pytest.mark.parametrize("raw", ["tel:+1-617-555-0101;ext=2", "tel:+16175550101;isub=12"])
def test_uri_parameters_past_the_number_are_problems(raw: str) -> None:
    """An RFC 3966 extension or subaddress cannot get a text: the row says so."""
    assert normalise_phone(raw, "US") == PhoneResult(
        "",
        (),
        f'"{raw}" has an extension: a text message cannot reach an extension, remove it',
        "invalid-phone",
    )


@pytest.mark.parametrize(
    ("raw", "countries", "shown", "country"),
    [
        ("+44 7400 123456", ["US"], '"+44 7400 123456" (+447400123456)', "GB"),
        ("whatsapp:+447400123456", ["US"], '"whatsapp:+447400123456" (+447400123456)', "GB"),
        ("(416) 555-0101", ["US"], '"(416) 555-0101" (+14165550101)', "CA"),
        ("+14165550101", ["US", "GB"], '"+14165550101"', "CA"),
    ],
)
def test_number_outside_the_countries_is_a_problem(
    raw: str, countries: list[str], shown: str, country: str
) -> None:
    """A valid number in a country that is not allowed names the country and the fix."""
    only = " and ".join(countries)
    listed = ", ".join(f'"{c}"' for c in [*countries, country])
    assert normalise_phone(raw, "US", countries=countries) == PhoneResult(
        "",
        (),
        f"{shown} is a number in {country}, and only numbers in {only} are allowed: to send "
        f"there, pass countries=[{listed}]",
        "country-not-allowed",
    )


def test_international_network_number_named() -> None:
    """A +800 number has no country: the message says so and how to allow it ("001")."""
    assert normalise_phone("+800 1234 5678", "US", countries=["US"]).problem == (
        '"+800 1234 5678" (+80012345678) is an international network number (no country), '
        'and only numbers in US are allowed: to send there, pass countries=["US", "001"]'
    )
    assert normalise_phone("+800 1234 5678", "US", countries=["US", "001"]).e164 == "+80012345678"


@pytest.mark.parametrize(
    ("raw", "number_cell", "countries", "e164", "repairs"),
    [
        ("447400123456", True, ["US", "GB"], "+447400123456", ("added-plus",)),
        ("447400123456", None, ["US", "GB"], "+447400123456", ("added-plus",)),
        ("4.47400123456E+11", None, ["US", "GB"], "+447400123456",
         ("scientific-notation", "added-plus")),
        ("447400123456.0", None, ["US", "GB"], "+447400123456", ("trailing-.0", "added-plus")),
        ("16175550101", False, ["US"], "+16175550101", ("added-plus",)),
        ("1 (617) 555-0101", None, ["US"], "+16175550101", ("added-plus",)),
        ("1-617-555-0101", False, ["US"], "+16175550101", ("added-plus",)),
    ],
)  # fmt: skip
def test_lost_plus_restored_into_an_allowed_country(
    raw: str, number_cell: bool | None, countries: list[str], e164: str, repairs: tuple[str, ...]
) -> None:
    """A number cell's lost + is restored into an allowed country; the default region's own
    code without + (1 617 in the US) is national dialling, whatever the cell."""
    assert normalise_phone(raw, "US", countries=countries, number_cell=number_cell) == (
        PhoneResult(e164, repairs)
    )


@pytest.mark.parametrize(
    ("raw", "number_cell", "candidate", "fix"),
    [
        # the typos and digit strings: one extra digit, or digits of a foreign number
        ("(617) 555-01234", None, "+61755501234, a number in AU", "write it with its +"),
        ("31255501200", True, "+31255501200, a number in NL",
         'write it with its + and pass countries=["US", "NL"]'),
        ("41555501420", None, "+41555501420, a number in CH",
         'write it with its + and pass countries=["US", "CH"]'),
        ("20015550123", True, "+2015550123, a number in EG",
         'write it with its + and pass countries=["US", "EG"]'),
        ("31255501200", False, "+31255501200, a number in NL", "write it with its +"),
        ("44 7400 123456", None, "+447400123456, a number in GB", "write it with its +"),
        ("'447400123456", None, "+447400123456, a number in GB", "write it with its +"),
        ("tel:447400123456", None, "+447400123456, a number in GB", "write it with its +"),
    ],
)  # fmt: skip
def test_lost_plus_never_guessed_abroad(
    raw: str, number_cell: bool | None, candidate: str, fix: str
) -> None:
    """Digits that are valid only with a + are a problem showing the candidate, unless the
    cell was a number and the candidate's country is allowed."""
    assert normalise_phone(raw, "US", countries=["US"], number_cell=number_cell) == PhoneResult(
        "",
        (),
        f'"{raw}" is not a valid US number; with a + in front it would be {candidate}: if that '
        f"is meant, {fix}",
        "invalid-phone",
    )


def test_lost_plus_into_an_allowed_country_still_needs_a_number_cell() -> None:
    """Allowing the candidate's country is not enough for text: brackets and spaces stay a
    typo."""
    assert normalise_phone("(617) 555-01234", "US", countries=["US", "AU"]).problem == (
        '"(617) 555-01234" is not a valid US number; with a + in front it would be '
        "+61755501234, a number in AU: if that is meant, write it with its +"
    )


@pytest.mark.parametrize(
    ("countries", "expected"),
    [(None, ("US",)), (["us", " gb", "US"], ("US", "GB")), ("ca", ("CA",)), (["001"], ("001",))],
)
def test_check_countries(countries: list[str] | str | None, expected: tuple[str, ...]) -> None:
    """Countries are upper-cased and de-duplicated; none given means the default region's."""
    assert check_countries(countries, "US") == expected


def test_check_countries_without_region_allows_any() -> None:
    """With neither countries nor a default region, numbers must carry their code: any goes."""
    assert check_countries(None, None) is None


def test_check_countries_any() -> None:
    """countries="any" allows every country, whatever the default region."""
    assert check_countries("any", "US") is None
    assert normalise_phone("+44 7400 123456", "US", countries="any").e164 == "+447400123456"


@pytest.mark.parametrize(
    ("countries", "message"),
    [
        (["US", "UK"], "countries= holds 'UK', which is not a country code (the United Kingdom "
         'is "GB"): pass two-letter ISO 3166 codes, e.g. countries=["US", "GB"]'),
        ([], 'countries= is empty, so no number could be sent: pass the ISO 3166 codes of the '
         'countries you send to, e.g. countries=["US"]'),
    ],
)  # fmt: skip
def test_check_countries_refuses(countries: list[str], message: str) -> None:
    """An unknown or empty list of countries stops the load with the fix."""
    with pytest.raises(DataError) as caught:
        check_countries(countries, "US")
    assert str(caught.value) == message


def test_number_cells_decide_the_lost_plus_per_cell() -> None:
    """The same text gets a plus in a number cell and a problem in a text cell."""
    phones = pd.Series(["447400123456", "447400123456"], index=[2, 3], name="Phone")
    to, problems, repairs = normalise_phones(
        phones, "US", countries=["US", "GB"], number_cells=[True, False]
    )
    assert to.tolist() == ["+447400123456", ""]
    assert repairs.tolist() == [("added-plus",), ()]
    assert [str(p) for found in problems for p in found] == [
        'row 3, column "Phone": "447400123456" is not a valid US number; with a + in front it '
        "would be +447400123456, a number in GB: if that is meant, write it with its +"
    ]


@pytest.mark.parametrize(
    ("given_region", "expected"),
    [("us", "US"), (" gb ", "GB"), (None, None)],
)
def test_check_region_normalises(given_region: str | None, expected: str | None) -> None:
    """Region codes are accepted in any case and surrounding spaces."""
    assert check_region(given_region) == expected


@pytest.mark.parametrize(
    ("given_region", "message"),
    [
        (
            "UK",
            "default_region='UK' is not a region code (the United Kingdom is \"GB\"): pass a "
            'two-letter ISO 3166 code such as "US", "GB" or "IN"',
        ),
        (
            "USA",
            "default_region='USA' is not a region code: pass a two-letter ISO 3166 code such "
            'as "US", "GB" or "IN"',
        ),
    ],
)
def test_check_region_refuses_unknown(given_region: str, message: str) -> None:
    """An unknown region stops the load with the fix in the message."""
    with pytest.raises(DataError) as caught:
        check_region(given_region)
    assert str(caught.value) == message


def test_normalise_phones_series() -> None:
    """The Series API keeps the index and names the row and column in each problem."""
    phones = pd.Series(
        ["(617) 555-0101", "", "16175550101.0", "bad"],
        index=pd.Index([2, 3, 5, 6], name="row"),
        name="Phone",
    )
    to, problems, repairs = normalise_phones(phones, "US")
    assert to.tolist() == ["+16175550101", "", "+16175550101", ""]
    assert str(to.dtype) == "str"
    assert to.index.tolist() == [2, 3, 5, 6]
    assert repairs.tolist() == [(), (), ("trailing-.0", "added-plus"), ()]
    assert problems.tolist() == [
        (),
        (Problem(3, "Phone", "the phone number is empty", "missing-phone"),),
        (),
        (
            Problem(
                6, "Phone", '"bad" contains letters: write the number in digits', "invalid-phone"
            ),
        ),
    ]


def test_normalise_phones_empty_series() -> None:
    """An empty column gives three empty Series."""
    to, problems, repairs = normalise_phones(pd.Series([], dtype="str"), "US")
    assert (to.tolist(), problems.tolist(), repairs.tolist()) == ([], [], [])


@pytest.mark.parametrize(
    ("keys", "region", "expected"),
    [
        (
            ["+16175550101", "+447400123456", "+4915123456789"],
            None,
            {
                "+16175550101": "+16175550101",
                "+447400123456": "+447400123456",
                "+4915123456789": "+4915123456789",
            },
        ),
        (
            ["6175550101", "16175550101"],
            "US",
            {"6175550101": "+16175550101", "16175550101": "+16175550101"},
        ),
        (
            ["07400123456", "7400123456"],
            "GB",
            {"07400123456": "+447400123456", "7400123456": "+447400123456"},
        ),
        # An IDD prefix and a trunk 0 after +44 (issue 17), the US IDD from the US.
        (
            ["00447400123456", "+4407400123456", "00353871234567"],
            "GB",
            {"00447400123456": "+447400123456", "+4407400123456": "+447400123456",
             "00353871234567": "+353871234567"},
        ),
        (["011447400123456"], "US", {"011447400123456": "+447400123456"}),
        # Left to phonenumbers: a region with leading digits, a 0 after the IDD prefix.
        (["+79123456789", "0007400123456"], "GB", {}),
    ],
)
def test_fast_path_takes_common_forms(
    keys: list[str], region: str | None, expected: dict[str, str]
) -> None:
    """The metadata fast path answers the everyday forms itself and leaves the rest."""
    assert {k: r.e164 for k, r in _fast_resolve(keys, region).items()} == expected


@pytest.mark.parametrize(
    ("keys", "region", "expected"),
    [
        # A calling code shared by several regions names the one phonenumbers names.
        (
            ["07509992106", "+447524412208"],
            "GB",
            {"07509992106": _Resolved("+447509992106", country="JE"),
             "+447524412208": _Resolved("+447524412208", country="IM")},
        ),
        (["4166715555"], "US", {"4166715555": _Resolved("+14166715555", country="CA")}),
        # Surely invalid: valid in no region of the code, and no lost plus to try.
        (
            ["07911692675", "+4479116926"],
            "GB",
            {"07911692675": _Resolved("", failure="invalid", region="GB"),
             "+4479116926": _Resolved("", failure="invalid", region="GB")},
        ),
        # Left to phonenumbers: digits that a lost plus might make valid elsewhere.
        (["16465550102", "4166715555"], "GB", {}),
    ],
)
def test_fast_path_answers_shared_codes_and_sure_failures(
    keys: list[str], region: str, expected: dict[str, _Resolved]
) -> None:
    """The fast path names the region of a shared calling code and answers sure failures."""
    assert _fast_resolve(keys, region) == expected


def _example_nsns() -> list[tuple[str, str, str]]:
    out = []
    for region in REGIONS:
        meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                nsn = phonenumbers.national_significant_number(example)
                out.append((str(example.country_code), meta.national_prefix or "", nsn))
    return out


EXAMPLES = _example_nsns()


@st.composite
def keys(draw: st.DrawFn) -> str:
    """Digit strings near real numbers, in every form a sheet holds them."""
    code, trunk, nsn = draw(st.sampled_from(EXAMPLES))
    digits = list(nsn)
    for _ in range(draw(st.integers(0, 2))):
        digits[draw(st.integers(0, len(digits) - 1))] = draw(st.sampled_from("0123456789"))
    tail = draw(st.sampled_from(["", "", "", "0", "12"]))
    cut = draw(st.integers(0, 2))
    national = "".join(digits)[: len(digits) - cut] + tail
    form = draw(
        st.sampled_from(
            ["+{c}{n}", "{c}{n}", "{t}{n}", "{n}", "00{c}{n}", "011{c}{n}", "+{c}{t}{n}"]
        )
    )
    return form.format(c=code, t=trunk, n=national)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    batch=st.lists(
        st.one_of(keys(), st.from_regex(r"\+?[0-9]{2,16}", fullmatch=True)), min_size=1, max_size=40
    ),
    region=st.sampled_from([*REGIONS, None]),
)
def test_fast_path_equals_phonenumbers(batch: list[str], region: str | None) -> None:
    """Whatever the fast path accepts, phonenumbers resolves identically (E.164 and repairs)."""
    fast = _fast_resolve(batch, region)
    assert fast == {key: _resolve(key, region) for key in fast}


PHONE_TEXT = st.text(
    alphabet=st.sampled_from([*"0123456789 +-.()/eE,x'", "\u00a0", "\u200b", "\u2013", "٣"]),
    max_size=18,
)
LINKS = ["", "", "", "tel:", "sms:", "whatsapp:", "https://wa.me/", "TEL: "]
PARAMETERS = ["", "", "", ";ext=2", ";phone-context=+44", ";tgrp=x", "?body=hi"]


@st.composite
def written(draw: st.DrawFn) -> str:
    """A phone cell as people write it: plain, damaged, or as a link with parameters."""
    body = draw(st.one_of(PHONE_TEXT, keys()))
    return draw(st.sampled_from(LINKS)) + body + draw(st.sampled_from(PARAMETERS))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    cells=st.lists(st.tuples(written(), st.sampled_from([None, True, False])), max_size=30),
    region=st.sampled_from(["US", "GB", "DE", None]),
    countries=st.sampled_from([None, ["US"], ["GB", "DE"], ["US", "GB", "IN", "AU", "NL"]]),
    typed=st.booleans(),
)
def test_vectorised_equals_per_value_reference(
    cells: list[tuple[str, bool | None]],
    region: str | None,
    countries: list[str] | None,
    typed: bool,
) -> None:
    """normalise_phones (fast path, deduplicated) equals normalise_phone cell by cell, with
    links, destination countries and number cells."""
    raws = [raw for raw, _ in cells]
    flags = [bool(flag) for _, flag in cells] if typed else None
    phones = pd.Series(raws, dtype="str", name="Phone", index=range(2, len(raws) + 2))
    to, problems, repairs = normalise_phones(
        phones, region, countries=countries, number_cells=flags
    )
    reference = [
        normalise_phone(
            raw, region, countries=countries, number_cell=None if flags is None else flags[i]
        )
        for i, raw in enumerate(raws)
    ]
    assert to.tolist() == [r.e164 for r in reference]
    assert repairs.tolist() == [r.repairs for r in reference]
    assert [tuple((p.message, p.kind) for p in found) for found in problems] == [
        ((r.problem, r.kind),) if r.problem else () for r in reference
    ]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(region=st.sampled_from(REGIONS), data=st.data())
def test_clean_formatted_numbers_equal_phonenumbers_on_the_raw_text(
    region: str, data: st.DataObject
) -> None:
    """Typed numbers with ordinary separators get phonenumbers' own result on the raw text."""
    code, _, nsn = data.draw(st.sampled_from([e for e in EXAMPLES]))
    separators = data.draw(
        st.lists(st.sampled_from(["", "", " ", "-", "."]), min_size=len(nsn), max_size=len(nsn))
    )
    raw = (
        "+" + code + " " + "".join(d + s for d, s in zip(nsn, separators, strict=True)).strip(" -.")
    )
    number = phonenumbers.parse(raw, region)
    expected = (
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if phonenumbers.is_valid_number(number)
        else ""
    )
    to, _, _ = normalise_phones(pd.Series([raw], dtype="str"), region)
    assert to.tolist() == [expected]


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_without_drops_the_separators_byte_by_byte(kind: pa.DataType) -> None:
    """Separators go from every string, whatever surrounds them; nulls and offsets are kept."""
    arr = pa.array(["(0)7700 900-123", None, "", "é.1/2 3", "-- ", "+447700900123", "x"], kind)
    kept = _without(arr.slice(1), b" ().-/")
    assert kept.type == pa.large_string()
    assert kept.to_pylist() == [None, "", "é123", "", "+447700900123", "x"]
