"""Destination countries: a number is sent only where the sheet's owner said they send, and a
lost + is never guessed into another country."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import phonenumbers
import pytest

from campaignkit import Problem
from campaignkit.recipients import load_recipients, load_summary

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
EVERY_COUNTRY = sorted(phonenumbers.SUPPORTED_REGIONS)


def test_sample_with_the_default_countries_sends_to_the_us_only() -> None:
    """Without countries=, the sample's Spanish, German, Indian and British rows are held."""
    frame = load_recipients(SAMPLE / "recipients.xlsx", default_region="US")
    assert repr(load_summary(frame)) == (
        "<LoadSummary 64 rows: 27 valid, 31 country-not-allowed, 5 invalid-phone, "
        "1 missing-phone; 1 repeated number; 4 repaired; 1 empty row dropped>"
    )
    assert frame.loc[3, "problems"] == (
        Problem(3, "Phone", '"+34 612 34 56 01" (+34612345601) is a number in ES, and only '
                'numbers in US are allowed: to send there, pass countries=["US", "ES"]',
                "country-not-allowed"),
    )
    # A number cell that lost its +: the candidate is shown, the country is not allowed.
    assert [str(p) for p in frame.loc[22, "problems"]] == [
        'row 22, column "Phone": "918123456703" is not a valid US number; with a + in front it '
        'would be +918123456703, a number in IN: if that is meant, write it with its + and '
        'pass countries=["US", "IN"]'
    ]


def test_declared_countries_restore_a_lost_plus_in_number_cells() -> None:
    """With the sample's countries, number cells that lost their + are repaired."""
    frame = load_recipients(SAMPLE / "recipients.xlsx", default_region="US",
                            countries=["US", "ES", "DE", "IN", "GB"])
    assert frame.loc[[21, 22, 23], ["to", "repairs"]].to_dict("split")["data"] == [
        ["+16175550166", ("added-plus",)],
        ["+918123456703", ("added-plus",)],
        ["+447400123470", ("added-plus",)],
    ]
    assert load_summary(frame).countries == ("US", "ES", "DE", "IN", "GB")


def test_workbook_text_cell_never_gets_a_foreign_plus(tmp_path: Path) -> None:
    """The same digits typed as text in a workbook are a problem even when GB is allowed."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [["Phone"], [447400123456], ["447400123457"]]:
        sheet.append(row)
    path = tmp_path / "people.xlsx"
    book.save(path)
    frame = load_recipients(path, default_region="US", countries=["US", "GB"])
    assert frame["to"].tolist() == ["+447400123456", ""]
    assert [p.message for p in frame.loc[3, "problems"]] == [
        '"447400123457" is not a valid US number; with a + in front it would be '
        "+447400123457, a number in GB: if that is meant, write it with its +"
    ]


# -- the corpus of the issue ----------------------------------------------------------------------


def _random_digits(n: int, seed: int) -> list[str]:
    """Digit strings of 7 to 15 digits, as random as a typo-prone sheet gets."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(7, 16, n)
    return ["".join(map(str, rng.integers(0, 10, k))) for k in lengths]


def _us_numbers(count: int, seed: int) -> list[str]:
    """Valid US national numbers (10 digits) over many area codes."""
    rng = np.random.default_rng(seed)
    out: list[str] = []
    while len(out) < count:
        digits = str(rng.integers(2_000_000_000, 9_999_999_999))
        number = phonenumbers.parse(digits, "US")
        if phonenumbers.is_valid_number(number) and phonenumbers.region_code_for_number(
            number
        ) == "US":
            out.append(digits)
    return out


def _typos(digits: str) -> list[str]:
    """Every single-digit typo: a digit inserted, deleted or replaced."""
    out = {digits[:i] + d + digits[i:] for i in range(len(digits) + 1) for d in "0123456789"}
    out |= {digits[:i] + digits[i + 1 :] for i in range(len(digits))}
    out |= {digits[:i] + d + digits[i + 1 :] for i in range(len(digits)) for d in "0123456789"}
    return sorted(out - {digits})


def _written(digits: str) -> list[str]:
    """A US number's digits as people write them: bare, (617) 555-0101, 617-555-0101."""
    return [digits, f"({digits[:3]}) {digits[3:6]}-{digits[6:]}", f"{digits[:3]}-{digits[3:6]}-"
            f"{digits[6:]}"]


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    """100k random digit strings and every single-digit typo of 30 valid US numbers."""
    typos = [w for number in _us_numbers(30, seed=7) for t in _typos(number) for w in _written(t)]
    return _random_digits(100_000, seed=12) + typos


def _write_xlsx(path: Path, cells: list[str]) -> Path:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Corpus")
    sheet.append(["Phone"])
    for cell in cells:
        sheet.append([cell])  # a text cell: typed as text, never a number
    book.save(path)
    return path


def _write_csv(path: Path, cells: list[str]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Phone"])
        writer.writerows([c] for c in cells)
    return path


def _foreign_without_problem(frame: pd.DataFrame) -> list[str]:
    """Cells that became a valid number of another calling code than +1 with no problem,
    leaving out those written with the US international prefix 011 (an explicit choice)."""
    clean = frame[(frame["to"] != "") & (frame["problems"].map(len) == 0)]
    return [
        f"{cell} -> {to}"
        for cell, to in zip(clean["Phone"], clean["to"], strict=True)
        if not to.startswith("+1") and not cell.startswith("011")
    ]


def _not_us_without_problem(frame: pd.DataFrame) -> list[str]:
    clean = frame[(frame["to"] != "") & (frame["problems"].map(len) == 0)]
    return [
        f"{cell} -> {to}"
        for cell, to in zip(clean["Phone"], clean["to"], strict=True)
        if phonenumbers.region_code_for_number(phonenumbers.parse(to)) != "US"
    ]


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_corpus_with_default_countries_sends_nothing_abroad(
    tmp_path: Path, corpus: list[str], kind: str
) -> None:
    """default_region="US" alone: no cell of the corpus becomes a number outside the US
    without a problem (a CSV's bare digits may lose a +, but only into the US)."""
    path = (_write_csv if kind == "csv" else _write_xlsx)(tmp_path / f"corpus.{kind}", corpus)
    frame = load_recipients(path, default_region="US", duplicates="keep")
    assert len(frame) == len(corpus)
    assert _not_us_without_problem(frame) == []


def test_corpus_with_every_country_allowed_guesses_no_plus(
    tmp_path: Path, corpus: list[str]
) -> None:
    """Every country allowed, so only the lost-plus rule stands: text cells and formatted
    typos never get a + that takes them to another calling code."""
    formatted = [c for c in corpus if not c.isdigit()]
    for path in (_write_xlsx(tmp_path / "corpus.xlsx", corpus),
                 _write_csv(tmp_path / "typed.csv", formatted)):
        frame = load_recipients(path, default_region="US", countries=EVERY_COUNTRY,
                                duplicates="keep")
        assert _foreign_without_problem(frame) == [], path.name
