"""The vectorised regions and time zones of E.164 numbers equal phonenumbers' own answers."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers.timezone import time_zones_for_number

from campaignkit._e164 import classify

CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def phonenumbers_region(number: str) -> str | None:
    """The per-number answer `classify` must equal (as the budget asks it)."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return None


def phonenumbers_zones(number: str) -> tuple[str, ...]:
    """The per-number answer `classify` must equal (as quiet hours ask it)."""
    try:
        return tuple(time_zones_for_number(phonenumbers.parse(number, None)))
    except phonenumbers.NumberParseException:
        return ()


def example(region: str, kind: str) -> str | None:
    """phonenumbers' own example number of a region and type, in E.164 (None when none)."""
    number = getattr(phonenumbers, f"example_number_for_{kind}", None)
    found = number(region) if kind == "region" else phonenumbers.example_number_for_type(
        region, getattr(phonenumbers.PhoneNumberType, kind.upper()))
    if found is None:
        return None
    return phonenumbers.format_number(found, phonenumbers.PhoneNumberFormat.E164)


EXAMPLES = sorted({
    e164 for region in phonenumbers.SUPPORTED_REGIONS
    for kind in ("fixed_line", "mobile", "toll_free", "premium_rate", "voip", "uan", "pager",
                 "personal_number", "shared_cost", "voicemail")
    if (e164 := example(region, kind)) is not None
})

digits = st.text("0123456789", min_size=1, max_size=16)
numbers = st.one_of(
    st.builds(lambda c, d: f"+{c}{d}", st.sampled_from(CODES), digits),
    st.builds(lambda e, d, k: e[:k] + d if k < len(e) else e,  # an example's prefix, other digits
              st.sampled_from(EXAMPLES), digits, st.integers(2, 14)),
    st.sampled_from(EXAMPLES),
    st.builds(lambda d: f"+{d}", digits),
    st.text(alphabet="+0123456789 -()", max_size=18),
)


def check(found: list[str]) -> list[tuple[str, object, object]]:
    """The numbers where `classify` answers otherwise than phonenumbers (empty when equal)."""
    facts = classify(found)
    wrong = []
    for i, number in enumerate(found):
        if not facts.known[i]:
            continue
        region = facts.regions[facts.region[i]]
        zones = facts.zone_lists[facts.zones[i]]
        if region != phonenumbers_region(number):
            wrong.append((number, region, phonenumbers_region(number)))
        if zones != phonenumbers_zones(number):
            wrong.append((number, zones, phonenumbers_zones(number)))
    return wrong


def test_every_example_number_of_every_region_gets_phonenumbers_region_and_zones() -> None:
    """phonenumbers' example numbers of every region and type: the same region and zones,
    and all but those whose national number starts like a national prefix are answered."""
    facts = classify(EXAMPLES)
    left = [e for e, known in zip(EXAMPLES, facts.known.tolist(), strict=True) if not known]
    assert (check(EXAMPLES), len(left) < 0.02 * len(EXAMPLES)) == ([], True)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(numbers, min_size=1, max_size=40))
def test_any_number_gets_phonenumbers_region_and_zones_or_is_left_to_it(found) -> None:
    """Random numbers and near-numbers: answered exactly as phonenumbers, or left to it."""
    assert check(found) == []


@pytest.mark.parametrize(
    ("number", "known"),
    [("+447400123401", True), ("+4407400123401", False), ("07400 123401", False),
     ("+44 7400 123401", False), ("", False), ("+80012345678", False), ("+2101234567", True)],
)
def test_only_the_plain_form_whose_parse_strips_nothing_is_answered(number, known) -> None:
    """A national prefix after the code, spaces, a national form or a non-geographic code
    are left to phonenumbers; a number with no valid country code is answered (no region)."""
    assert classify([number]).known.tolist() == [known]
