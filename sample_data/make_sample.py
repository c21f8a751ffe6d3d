"""Write the sample recipients sheet as recipients.xlsx and recipients.csv (same content).

Run ``python sample_data/make_sample.py``; the output is deterministic. The XLSX is written
with openpyxl so cells have real types: Patient IDs and some phones are number cells,
appointment dates are date cells, one phone is a number shown in scientific notation.
The CSV holds what those cells show as text, as Excel's "CSV UTF-8" would (with a BOM).

The sheet is a clinic's appointment reminders, ``default_region="US"``, sending to the US,
Spain, Germany, India and the UK: load it with ``countries=["US", "ES", "DE", "IN", "GB"]``
(without it, every number outside the US is a ``country-not-allowed`` problem). 64
recipients on sheet rows 2-66, row 35 empty. Damage, by sheet row:

* 10 phone typed as a number without country code (6175550102): valid as is
* 21 number cell 16175550166: lost plus -> ``added-plus``
* 22 number cell 918123456703: lost plus -> ``added-plus``
* 23 number cell 447400123470 shown as 4.47E+11: full value kept -> ``added-plus``
* 24 text "1.6175550188E+10": every digit there -> ``scientific-notation``, ``added-plus``
* 25 text "4.47401E+11": Excel kept 6 digits -> ``invalid-phone`` (lost digits)
* 26 text "16175550177.0": a float column saved as text -> ``trailing-.0``, ``added-plus``
* 27 NBSPs inside a GB number -> ``stripped-characters``
* 28 a zero-width space after a US number -> ``stripped-characters``
* 29 "617.555.0101": row 2's number again -> ``duplicate`` of row 2
* 30 "555-0199": too short -> ``invalid-phone``
* 31 "7400123456": a GB mobile without 0 or +44 in a US sheet -> ``invalid-phone``
* 32 empty phone -> ``missing-phone``
* 33 empty First Name (a template using it reports that row)
* 34 Last Name "NA" (a real name, never a missing value)
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import openpyxl

HERE = Path(__file__).resolve().parent
HEADER = [
    "Patient ID", "First Name", "Last Name", "Phone", "Appointment Date", "Clinic", "Language",
]  # fmt: skip
RIVERSIDE = "Riverside Clinic"
NORTHGATE = "Northgate Health Centre"
HARBOUR = "Harbour Family Practice"


class Sci(float):
    """A phone typed as a number and displayed by Excel in scientific notation."""


def _day(n: int) -> dt.date:
    return dt.date(2026, 12, 1) + dt.timedelta(days=n)


# (first name, last name, phone, day offset, clinic, language); Patient ID = 1001 + position.
ROWS: list[tuple[str, str, object, int, str, str] | None] = [
    ("Olivia", "Johnson", "(617) 555-0101", 0, RIVERSIDE, "en"),  # row 2
    ("José", "García", "+34 612 34 56 01", 0, RIVERSIDE, "es"),
    ("Zoë", "Müller", "+49 1512 3456701", 1, NORTHGATE, "de"),
    ("प्रिया", "शर्मा", "+91 81234 56701", 1, HARBOUR, "hi"),
    ("Анна", "Иванова", "+1 212 555 0110", 2, RIVERSIDE, "ru"),
    ("فاطمة", "الزهراء", "+1-312-555-0120", 2, NORTHGATE, "ar"),
    ("伟", "王", "+44 7400 123401", 3, HARBOUR, "zh"),
    ("Νίκος", "Παπαδόπουλος", "+1 206.555.0130", 3, RIVERSIDE, "el"),
    ("Łukasz", "Nowak", 6175550102, 4, NORTHGATE, "pl"),  # row 10
    ("Siobhán", "O'Brien", "+44 7400 123402", 4, HARBOUR, "en"),
    ("François", "Dubois", "(415) 555-0142", 5, RIVERSIDE, "fr"),
    ("Aarav", "Patel", "+91 81234 56702", 5, NORTHGATE, "hi"),
    ("Dmitri", "Sokolov", "617-555-0103", 6, HARBOUR, "ru"),
    ("Chloé", "Lefèvre", "+34 612 34 56 02", 6, RIVERSIDE, "fr"),
    ("Jürgen", "Schäfer", "+49 1512 3456702", 7, NORTHGATE, "de"),
    ("Mei", "Chen", "512 555 0140", 7, HARBOUR, "zh"),
    ("Yusuf", "Demir", "+44 7400 123403", 8, RIVERSIDE, "tr"),
    ("Ingrid", "Larsen", "+1 (212) 555-0111", 8, NORTHGATE, "en"),
    ("Mateo", "Rodríguez", "+34 612 34 56 03", 9, HARBOUR, "es"),  # row 20
    ("Hannah", "Brooks", 16175550166, 9, RIVERSIDE, "en"),  # row 21: lost plus
    ("Rohan", "Gupta", 918123456703, 10, NORTHGATE, "hi"),  # row 22: lost plus
    ("Amelia", "Clarke", Sci(447400123470), 10, HARBOUR, "en"),  # row 23: shown as 4.47E+11
    ("Ethan", "Walker", "1.6175550188E+10", 11, RIVERSIDE, "en"),  # row 24
    ("Grace", "Turner", "4.47401E+11", 11, NORTHGATE, "en"),  # row 25: digits lost
    ("Lucas", "Martin", "16175550177.0", 12, HARBOUR, "en"),  # row 26
    ("Emily", "Davies", "+44\u00a07400\u00a0123471", 12, RIVERSIDE, "en"),  # row 27: NBSP
    ("Noah", "Kim", "+1 (415) 555-0143\u200b", 13, NORTHGATE, "ko"),  # row 28: zero-width
    ("Olivia", "Johnson", "617.555.0101", 13, HARBOUR, "en"),  # row 29: duplicate of row 2
    ("Liam", "Murphy", "555-0199", 14, RIVERSIDE, "en"),  # row 30: too short
    ("Isla", "Thomson", "7400123456", 14, NORTHGATE, "en"),  # row 31: GB mobile, no 0 or +44
    ("Oscar", "Evans", "", 15, HARBOUR, "en"),  # row 32: no phone
    ("", "Robinson", "+1 312 555 0121", 15, RIVERSIDE, "en"),  # row 33: no first name
    ("Min-jun", "NA", "+1 206 555 0131", 16, NORTHGATE, "ko"),  # row 34: surname NA
    None,  # row 35: an empty row
    ("Sofía", "Hernández", "+34 612 34 56 04", 16, HARBOUR, "es"),
    ("Ольга", "Смирнова", "+49 1512 3456703", 17, RIVERSIDE, "ru"),
    ("Ananya", "Iyer", "+91 81234 56704", 17, NORTHGATE, "hi"),
    ("Ελένη", "Γεωργίου", "+44 7400 123404", 18, HARBOUR, "el"),
    ("Omar", "Haddad", "(617) 555-0104", 18, RIVERSIDE, "ar"),  # row 40
    ("Lena", "Fischer", "+49 1512 3456704", 19, NORTHGATE, "de"),
    ("Carlos", "López", "+34 612 34 56 05", 19, HARBOUR, "es"),
    ("Aisha", "Bello", "+1 415 555 0144", 20, RIVERSIDE, "en"),
    ("Kenji", "Watanabe", "+1 212-555-0112", 20, NORTHGATE, "ja"),
    ("Björn", "Andersson", "+44 7400 123405", 21, HARBOUR, "sv"),
    ("Nadia", "Rahman", "+91 81234 56705", 21, RIVERSIDE, "bn"),
    ("Tomás", "Silva", "(312) 555-0122", 22, NORTHGATE, "pt"),
    ("Ава", "Петрова", "+1 206 555 0132", 22, HARBOUR, "ru"),
    ("Elif", "Yılmaz", "+49 1512 3456705", 23, RIVERSIDE, "tr"),
    ("Samuel", "Okafor", "512-555-0141", 23, NORTHGATE, "en"),  # row 50
    ("Marta", "Kowalska", "+34 612 34 56 06", 24, HARBOUR, "pl"),
    ("Arjun", "Reddy", "+91 81234 56706", 24, RIVERSIDE, "te"),
    ("Chiara", "Romano", "+44 7400 123406", 25, NORTHGATE, "it"),
    ("Yara", "Nasser", "+1 312 555 0123", 25, HARBOUR, "ar"),
    ("Hugo", "Bernard", "(206) 555-0133", 26, RIVERSIDE, "fr"),
    ("Leila", "Karimi", "+49 1512 3456706", 26, NORTHGATE, "fa"),
    ("Xiao", "Li", "+1 415-555-0145", 27, HARBOUR, "zh"),
    ("Daniel", "Cohen", "+34 612 34 56 07", 27, RIVERSIDE, "he"),
    ("Saanvi", "Joshi", "+91 81234 56707", 28, NORTHGATE, "mr"),
    ("Rhys", "Jones", "+44 7400 123407", 28, HARBOUR, "cy"),  # row 60
    ("Maya", "Singh", "617 555 0105", 29, RIVERSIDE, "pa"),
    ("Felix", "Wagner", "+49 1512 3456707", 29, NORTHGATE, "de"),
    ("Lucía", "Torres", "+34 612 34 56 08", 30, HARBOUR, "es"),
    ("Kavya", "Nair", "+91 81234 56708", 30, RIVERSIDE, "ml"),
    ("George", "Wright", "+44 7400 123408", 31, NORTHGATE, "en"),
    ("Ava", "Nguyen", "(512) 555-0142", 31, HARBOUR, "vi"),  # row 66
]


def _shown(value: object) -> str:
    """The text a cell shows once read: what recipients.csv holds."""
    if isinstance(value, float):
        return str(int(value))
    if isinstance(value, int | dt.date):
        return str(value) if isinstance(value, int) else value.isoformat()
    return str(value)


def records() -> list[list[object]]:
    """The sheet's rows below the header, with cell types (empty row as blanks)."""
    out: list[list[object]] = []
    for position, row in enumerate(ROWS):
        if row is None:
            out.append([""] * len(HEADER))
            continue
        first, last, phone, day, clinic, language = row
        out.append([1001 + position, first, last, phone, _day(day), clinic, language])
    return out


def main() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Recipients"
    sheet.append(HEADER)
    for record in records():
        sheet.append([None if value == "" else value for value in record])
    for row in sheet.iter_rows(min_row=2):
        date_cell, phone_cell = row[4], row[3]
        if isinstance(date_cell.value, dt.datetime | dt.date):
            date_cell.number_format = "yyyy-mm-dd"
        if isinstance(phone_cell.value, float):
            phone_cell.number_format = "0.00E+00"
    for letter, width in zip("ABCDEFG", (11, 14, 16, 20, 17, 24, 10), strict=True):
        sheet.column_dimensions[letter].width = width
    book.save(HERE / "recipients.xlsx")
    with open(HERE / "recipients.csv", "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows([_shown(v) for v in record] for record in records())


if __name__ == "__main__":
    main()
