"""Fuzz load_recipients with damaged sheets written to real CSV and XLSX files."""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd
import phonenumbers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaignkit.recipients import load_recipients, load_summary

COUNTRIES = ["US", "GB", "DE", "IN"]
# Text that a number cell leaves: a CSV cell of it may have lost its +, a workbook text cell
# may not (it was typed as text), so there it is good only for the default region's code.
NUMBER_TEXT = frozenset({"lost-plus", "scientific-text", "trailing-.0"})

# Distinct valid numbers, so no row is a duplicate of another by accident.
POOL = (
    [f"+1617555{n:04d}" for n in range(100, 200)]
    + [f"+447400123{n:03d}" for n in range(400, 500)]
    + [f"+4915123456{n:03d}" for n in range(700, 800)]
    + [f"+9181234{n:05d}" for n in range(56700, 56800)]
)


def _international(e164: str) -> str:
    number = phonenumbers.parse(e164)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _scientific(digits: str) -> str:
    return f"{digits[0]}.{digits[1:]}E+{len(digits) - 1}"


# How a good number can be written (every one resolves to its E.164 with default_region="US"
# and the COUNTRIES allowed, in a CSV file).
GOOD_FORMS = {
    "e164": lambda e: e,
    "international": _international,
    "nbsp": lambda e: _international(e).replace(" ", "\u00a0"),
    "zero-width": lambda e: _international(e) + "\u200b",
    "lost-plus": lambda e: e[1:],
    "number-cell": lambda e: int(e[1:]),
    "scientific-text": lambda e: _scientific(e[1:]),
    "trailing-.0": lambda e: e[1:] + ".0",
}
BAD_FORMS = {
    "empty": lambda e: "",
    "too-short": lambda e: e[:5],
    "letters": lambda e: "call " + e,
    "lost-digits": lambda e: f"{e[1]}.{e[2:7]}E+{len(e) - 2}",
}


@dataclass(frozen=True)
class Row:
    name: str
    note: str
    phone: object  # str, or int for a number cell
    e164: str
    good: bool
    form: str = ""

    def good_in(self, kind: str) -> bool:
        if kind == "xlsx" and self.form in NUMBER_TEXT and not self.e164.startswith("+1"):
            return False
        return self.good


NAMES = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc", "Co", "Cn", "Zl", "Zp")),
    min_size=1,
    max_size=10,
).filter(lambda s: s.strip() != "" and s[0] not in "=+-@" and s == s.strip())


@st.composite
def sheets(draw: st.DrawFn) -> tuple[list[Row | None], str]:
    """Rows of good and bad numbers with empty rows between them, and a CSV delimiter."""
    n = draw(st.integers(1, 12))
    numbers = draw(st.lists(st.sampled_from(POOL), min_size=n, max_size=n, unique=True))
    rows: list[Row | None] = []
    for e164 in numbers:
        if draw(st.booleans()) and draw(st.booleans()):
            rows.append(None)  # an empty row before this one
        good = draw(st.integers(0, 3)) > 0
        form = draw(st.sampled_from(sorted(GOOD_FORMS if good else BAD_FORMS)))
        phone = (GOOD_FORMS if good else BAD_FORMS)[form](e164)
        name = draw(st.one_of(NAMES, st.sampled_from(["NA", "None", "null", "José", "王伟"])))
        note = draw(st.sampled_from(["", "vip", "2026-12-01", "0012", "1e5"]))
        rows.append(Row(name, note, phone, e164, good, form))
    return rows, draw(st.sampled_from([",", ";", "\t"]))


def write_csv(path: Path, rows: list[Row | None], delimiter: str) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(["Name", "Phone", "Note"])
        for row in rows:
            writer.writerow(["", "", ""] if row is None else [row.name, str(row.phone), row.note])


def write_xlsx(path: Path, rows: list[Row | None]) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Name", "Phone", "Note"])
    for row in rows:
        sheet.append([None, None, None] if row is None else [row.name, row.phone, row.note or None])
    book.save(path)


def clean_frame(rows: list[Row | None], folder: Path) -> pd.DataFrame:
    """The good rows alone, numbers written plainly: what the damaged sheet should equal."""
    clean = [Row(r.name, r.note, r.e164, r.e164, True) for r in rows if r is not None and r.good]
    path = folder / "clean.csv"
    write_csv(path, list(clean), ",")
    return load_recipients(path, default_region="US", countries=COUNTRIES)


@settings(
    max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(sheet=sheets())
def test_damaged_sheets(sheet: tuple[list[Row | None], str]) -> None:
    """No crash; bad rows name their row and column; good rows equal a clean sheet's; a
    workbook's text cell never gets a + restored into another country."""
    rows, delimiter = sheet
    with tempfile.TemporaryDirectory() as folder:
        where = Path(folder)
        write_csv(where / "damaged.csv", rows, delimiter)
        write_xlsx(where / "damaged.xlsx", rows)
        expected = clean_frame(rows, where)
        numbered = list(enumerate(rows, start=2))
        sheet_rows = {n: r for n, r in numbered if r is not None}
        empty_rows = tuple(n for n, r in numbered if r is None)
        for name in ("damaged.csv", "damaged.xlsx"):
            kind = name.split(".")[1]
            frame = load_recipients(where / name, default_region="US", countries=COUNTRIES)
            assert frame.index.tolist() == list(sheet_rows)
            assert load_summary(frame).empty_rows_dropped == empty_rows
            for number, row in sheet_rows.items():
                problems = frame.loc[number, "problems"]
                if row.good_in(kind):
                    assert problems == ()
                else:
                    assert len(problems) == 1
                    assert (problems[0].row, problems[0].column) == (number, "Phone")
                    assert problems[0].kind in ("invalid-phone", "missing-phone")
            good = frame.loc[[r.good_in(kind) for r in sheet_rows.values()]]
            wanted = expected.loc[[r.good_in(kind) for r in sheet_rows.values() if r.good]]
            assert good[["Name", "Note", "to"]].to_dict("list") == wanted[
                ["Name", "Note", "to"]
            ].to_dict("list")
