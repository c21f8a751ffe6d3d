"""load_recipients on sheets as people keep them: number formats, header rows, sheets, filters."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from campaignkit import ColumnError, DataError, Problem
from campaignkit.recipients import load_recipients, load_summary

PHONE = 16175550101  # a number cell: valid in the US once its lost + is restored

# (format code, typed value, what Excel (English, US) shows in the cell)
FORMATS = [
    ("00000", 2134, "02134"),
    ('"$"#,##0.00', 12.5, "$12.50"),
    ("[$$-409]#,##0.00", 1234.5, "$1,234.50"),
    ("#,##0.00 [$€-407]", 12.5, "12.50 €"),
    ("0%", 0.15, "15%"),
    ("0.0%", 0.155, "15.5%"),
    ("#,##0", 1234567.891, "1,234,568"),
    ("#,##0.00", 1234567.891, "1,234,567.89"),
    ("0.00", 3.14159, "3.14"),
    ("#,##0.00_);[Red](#,##0.00)", -1234.5, "(1,234.50)"),
    ('_("$"* #,##0.00_);_("$"* \\(#,##0.00\\);_("$"* "-"??_);_(@_)', 12.5, "$12.50"),
    ("0.00E+00", 447400123470, "4.47E+11"),
    ("# ?/?", 0.5, "1/2"),
    ("h:mm AM/PM", dt.time(14, 30), "2:30 PM"),
    ("h:mm:ss", dt.time(9, 5), "9:05:00"),
    ("[h]:mm", dt.timedelta(hours=26, minutes=3), "26:03"),
    ("dd/mm/yyyy", dt.date(2026, 12, 1), "01/12/2026"),
    ("mm/dd/yyyy", dt.date(2026, 12, 1), "12/01/2026"),
    ("m/d/yyyy", dt.date(2026, 12, 1), "12/1/2026"),
    ("mm-dd-yy", dt.date(2026, 12, 1), "12/1/2026"),  # built-in 14: the locale's short date
    ("d-mmm-yy", dt.date(2026, 12, 1), "1-Dec-26"),
    ("dddd, mmmm d, yyyy", dt.date(2026, 12, 1), "Tuesday, December 1, 2026"),
    ("yyyy-mm-dd", dt.date(2026, 12, 1), "2026-12-01"),
    ("m/d/yyyy h:mm", dt.datetime(2026, 12, 1, 9, 5), "12/1/2026 9:05"),
    ("General", 12.5, "12.5"),
    ("@", "00123", "00123"),
]


def _book(tmp_path: Path, rows: list[list[object]], formats: dict[str, str] | None = None,
          name: str = "people.xlsx") -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    for ref, code in (formats or {}).items():
        sheet[ref].number_format = code
    path = tmp_path / name
    book.save(path)
    return path


# -- cells as shown ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def formatted(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """One sheet with a column per format: header "F<n>", one row."""
    folder = tmp_path_factory.mktemp("formats")
    header = ["Phone"] + [f"F{i}" for i in range(len(FORMATS))]
    values: list[object] = [PHONE] + [value for _, value, _ in FORMATS]
    codes = {f"{openpyxl.utils.get_column_letter(i + 2)}2": code
             for i, (code, _, _) in enumerate(FORMATS)}
    return load_recipients(_book(folder, [header, values], codes), default_region="US")


@pytest.mark.parametrize(("position", "case"), list(enumerate(FORMATS)),
                         ids=[code for code, _, _ in FORMATS])
def test_cells_equal_what_excel_shows(
    formatted: pd.DataFrame, position: int, case: tuple[str, object, str]
) -> None:
    """Each number, date and time cell reads as its number format shows it in Excel."""
    _, _, shown = case
    assert formatted.loc[2, f"F{position}"] == shown


@pytest.mark.parametrize(
    ("column", "typed"),
    [("F0", "2134"), ("F1", "12.5"), ("F4", "0.15"), ("F11", "447400123470"),
     ("F13", "14:30"), ("F15", "26:03:00"), ("F16", "2026-12-01"),
     ("F23", "2026-12-01 09:05")],
)  # fmt: skip
def test_typed_values_follow_in_a_value_column(
    formatted: pd.DataFrame, column: str, typed: str
) -> None:
    """A formatted column's typed values are in "<column> (value)": plain numbers, ISO dates."""
    assert formatted.loc[2, f"{column} (value)"] == typed


def test_value_columns_only_where_the_format_changes_the_text(formatted: pd.DataFrame) -> None:
    """Text, General numbers and ISO dates need no value column; each follows its column."""
    columns = formatted.columns.tolist()
    assert "F24 (value)" not in columns  # General
    assert "F25 (value)" not in columns  # text typed as "00123"
    assert "F22 (value)" not in columns  # yyyy-mm-dd shows the ISO date itself
    assert columns[columns.index("F0") + 1] == "F0 (value)"
    assert str(formatted["F0 (value)"].dtype) == "str"


def test_phone_column_keeps_the_typed_number(tmp_path: Path) -> None:
    """A phone typed as a number but shown as 4.47E+11 keeps every digit (and no value column)."""
    path = _book(tmp_path, [["Name", "Phone"], ["Ada", 447400123470]], {"B2": "0.00E+00"})
    frame = load_recipients(path, default_region="US", countries=["US", "GB"])
    assert frame.loc[2, ["Phone", "to", "repairs"]].tolist() == [
        "447400123470", "+447400123470", ("added-plus",)]
    assert frame.columns.tolist() == ["Name", "Phone", "to", "problems", "repairs"]


def test_zip_prints_with_its_leading_zero(tmp_path: Path) -> None:
    """The issue's case: a zip typed 2134 in a 00000 column is "02134" for {{ zip }}."""
    path = _book(tmp_path, [["Phone", "Zip"], [PHONE, 2134]], {"B2": "00000"})
    frame = load_recipients(path, default_region="US")
    assert frame[["Zip", "Zip (value)"]].iloc[0].tolist() == ["02134", "2134"]


# -- header rows -------------------------------------------------------------------------------


def test_title_rows_above_the_header_are_left_out(tmp_path: Path) -> None:
    """A Google Sheets export with a title and a blank row: the header is found on row 3."""
    path = tmp_path / "export.csv"
    path.write_text("Clinic reminders – December,,\n,,\nName,Phone,Clinic\n"
                    "Ada,+16175550101,Riverside\nBo,+16175550102,Northgate\n", encoding="utf-8")
    frame = load_recipients(path)
    assert frame.index.tolist() == [4, 5]
    assert frame.columns.tolist()[:3] == ["Name", "Phone", "Clinic"]
    assert load_summary(frame).notes[0] == Problem(
        1, None, "row 1 above the header (row 3) was left out, starting with 'Clinic reminders "
        "– December'; pass header_row= if the header is another row", "sheet")


def test_title_row_in_a_workbook(tmp_path: Path) -> None:
    """A title in A1 of a workbook is not the header; row numbers stay Excel's."""
    path = _book(tmp_path, [["Appointments for December"], ["Name", "Mobile", "Clinic"],
                            ["Ada", "+16175550101", "Riverside"]])
    frame = load_recipients(path)
    assert frame.index.tolist() == [3]
    assert load_summary(frame).phone_column == "Mobile"


def test_merged_two_row_header_is_joined(tmp_path: Path) -> None:
    """Group labels merged over the names below them prefix those names."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Patient", None, "Contact", None])
    sheet.append(["First", "Last", "Phone", "Email"])
    sheet.append(["Ada", "Lovelace", "+16175550101", "ada@example.org"])
    sheet.merge_cells("A1:B1")
    sheet.merge_cells("C1:D1")
    path = tmp_path / "merged.xlsx"
    book.save(path)
    frame = load_recipients(path)
    assert frame.columns.tolist()[:4] == [
        "Patient First", "Patient Last", "Contact Phone", "Contact Email"]
    assert frame.index.tolist() == [3]
    assert load_summary(frame).phone_column == "Contact Phone"
    assert Problem(2, None, "the header is rows 1-2: the group labels of row 1 were joined to "
                   "the names below them", "sheet") in load_summary(frame).notes


def test_two_row_header_without_merges(tmp_path: Path) -> None:
    """Without merged cells a group label runs right until the next one."""
    path = tmp_path / "groups.csv"
    path.write_text("Patient,,Contact,\nFirst,Last,Phone,Email\nAda,L,+16175550101,a@x.org\n",
                    encoding="utf-8")
    frame = load_recipients(path)
    assert frame.columns.tolist()[:4] == [
        "Patient First", "Patient Last", "Contact Phone", "Contact Email"]


def test_phone_header_beats_a_title_naming_phones(tmp_path: Path) -> None:
    """"Phone list, December" on row 1 is a title; "Phone" on row 2 is the header."""
    path = tmp_path / "list.csv"
    path.write_text("Phone list,December\nName,Phone\nAda,+16175550101\n", encoding="utf-8")
    assert load_recipients(path).index.tolist() == [3]


def test_header_row_chooses_the_header(tmp_path: Path) -> None:
    """header_row= names the header row when the first one is not it."""
    path = tmp_path / "two.csv"
    path.write_text("Mobile,Name\nnot,this\nName,Phone\nAda,+16175550101\n", encoding="utf-8")
    assert load_recipients(path).columns.tolist()[:2] == ["Mobile", "Name"]
    frame = load_recipients(path, header_row=3)
    assert frame.columns.tolist()[:2] == ["Name", "Phone"]
    assert frame.index.tolist() == [4]


@pytest.mark.parametrize(
    ("header_row", "message"),
    [
        (0, "header_row=0 is not a row number: pass the number Excel shows at the left of the "
            "header row, e.g. header_row=3"),
        (9, "header_row=9 is past the end of people.csv, whose last row is 3"),
        (2, "header_row=2 of people.csv is empty: pass the row that holds the column names"),
    ],
)
def test_header_row_checked(tmp_path: Path, header_row: int, message: str) -> None:
    """A header_row that is no row, past the end or empty is refused with the fix."""
    path = tmp_path / "people.csv"
    path.write_text("Name,Phone\n,\nAda,+16175550101\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        load_recipients(path, header_row=header_row)
    assert str(caught.value) == message


# -- sheets and phone columns --------------------------------------------------------------------


def test_no_phone_column_lists_the_sheets_and_suggests_one(tmp_path: Path) -> None:
    """Data on the second sheet: the error lists every sheet and says sheet="People"."""
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "Notes"
    first.append(["Read me first", "v2"])
    second = book.create_sheet("People")
    second.append(["Name", "Phone"])
    second.append(["Ada", "+16175550101"])
    path = tmp_path / "book.xlsx"
    book.save(path)
    with pytest.raises(ColumnError) as caught:
        load_recipients(path)
    assert str(caught.value) == (
        "no phone number column found among: 'Read me first', 'v2' (sheet \"Notes\", header row "
        "1); sheet \"People\" has a column 'Phone': pass sheet='People'; pass "
        'phone_column="<its header>", or header_row=<the row number of the headers>, or sheet= '
        '(a name or a 0-based position); the sheets of book.xlsx are "Notes" (\'Read me first\', '
        "'v2'), \"People\" ('Name', 'Phone', 'Ada')"
    )
    assert load_recipients(path, sheet="People")["to"].tolist() == ["+16175550101"]


@pytest.mark.parametrize(
    "header",
    ["Phone (Mobile)", "Primary Phone", "Phone1", "Contact No", "Contact #", "Contact No.",
     "Mobile Number", "Cell", "WhatsApp", "Tel", "Mobile Phone No.", "WhatsApp Number",
     "Telephone 1", "SMS"],
)  # fmt: skip
def test_more_phone_header_names(tmp_path: Path, header: str) -> None:
    """Headers people give their phone column are recognised."""
    path = tmp_path / "people.csv"
    path.write_text(f"Name,Phone Type,{header}\nAda,mobile,+16175550101\n", encoding="utf-8")
    frame = load_recipients(path)
    assert load_summary(frame).phone_column == header
    assert frame["to"].tolist() == ["+16175550101"]


def test_two_phone_words_are_still_ambiguous(tmp_path: Path) -> None:
    """Phone1 and Phone2: the choice is the user's."""
    path = tmp_path / "people.csv"
    path.write_text("Phone1,Phone2\n+16175550101,+16175550102\n", encoding="utf-8")
    with pytest.raises(ColumnError) as caught:
        load_recipients(path)
    assert str(caught.value) == (
        "several columns could hold the phone numbers: 'Phone1', 'Phone2'; pass phone_column= "
        "to choose one, e.g. phone_column='Phone1'"
    )


# -- row numbers through DataFrames -------------------------------------------------------------


def test_filtered_pandas_frame_keeps_sheet_rows(tmp_path: Path) -> None:
    """A frame read by pandas and filtered is numbered as its sheet: index + 2."""
    path = tmp_path / "people.csv"
    path.write_text("Name,Phone\nAda,+16175550101\nBo,+16175550102\nCy,x\n", encoding="utf-8")
    source = pd.read_csv(path, dtype=str)
    frame = load_recipients(source[source["Name"] != "Bo"])
    assert frame.index.tolist() == [2, 4]
    assert [str(p) for found in frame["problems"] for p in found] == [
        'row 4, column "Phone": "x" contains letters: write the number in digits']


def test_filtered_recipients_frame_keeps_its_rows(tmp_path: Path) -> None:
    """A frame load_recipients made, filtered, keeps the sheet's row numbers when reloaded."""
    path = tmp_path / "people.csv"
    path.write_text("Name,Phone\nAda,+16175550101\nBo,+16175550102\nCy,x\n", encoding="utf-8")
    loaded = load_recipients(path)
    again = load_recipients(loaded[loaded["Name"] != "Bo"][["Name", "Phone"]])
    assert again.index.tolist() == [2, 4]


def test_reloaded_workbook_frame_remembers_number_cells(tmp_path: Path) -> None:
    """Reloading a workbook's frame keeps which phone cells were numbers (a lost + only there)."""
    path = _book(tmp_path, [["Phone"], [447400123456], ["447400123457"]])
    first = load_recipients(path, default_region="US", countries=["US", "GB"])
    again = load_recipients(first, default_region="US", countries=["US", "GB"])
    assert first["to"].tolist() == again["to"].tolist() == ["+447400123456", ""]


# -- hidden and filtered rows --------------------------------------------------------------------


def test_hidden_and_filtered_rows_are_a_warning(tmp_path: Path) -> None:
    """Rows a filter hides are loaded, and the summary says which."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [["Name", "Phone"], ["Ada", "+16175550101"], ["Bo", "+16175550102"],
                ["Cy", "+16175550103"]]:
        sheet.append(row)
    sheet.auto_filter.ref = "A1:B4"
    sheet.row_dimensions[3].hidden = True
    path = tmp_path / "filtered.xlsx"
    book.save(path)
    summary = load_summary(load_recipients(path))
    assert summary.hidden_rows == (3,)
    assert repr(summary) == "<LoadSummary 3 rows: 3 valid; 1 hidden row loaded>"
    assert summary.notes == (
        Problem(3, None, "1 row hidden in the sheet (by its filter or by hand) were loaded all "
                "the same: 3; delete them from the sheet if they should not get the message",
                "sheet"),
    )
    assert "<tr><th>hidden rows loaded</th><td>3</td></tr>" in summary._repr_html_()


@pytest.mark.parametrize("cells", [1, 4, 7], ids=["row-per-chunk", "cut-inside-rows", "two-rows"])
def test_a_sheet_read_in_small_chunks_reads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cells: int
) -> None:
    """Rows are converted a chunk at a time: formats, value columns and number cells come
    out the same wherever the chunks are cut."""
    from campaignkit import _sheets

    rows: list[list[object]] = [["Name", "Phone", "Zip", "Visit"]]
    rows += [[f"P{i}", PHONE + i if i % 2 else f"+1 617 555 {i:04d}", 2134 + i,
              dt.date(2026, 12, 1 + i)] for i in range(6)]
    codes = {"C2": "00000", "C4": "00000", "C7": "00000", "D3": "dd/mm/yyyy",
             "D4": "dd/mm/yyyy"}
    path = _book(tmp_path, rows, codes)
    whole = load_recipients(path, default_region="US")
    monkeypatch.setattr(_sheets, "_CHUNK_CELLS", cells)
    chunked = load_recipients(path, default_region="US")
    pd.testing.assert_frame_equal(chunked, whole)
    assert chunked.attrs == whole.attrs
    assert chunked["Zip"].tolist() == ["02134", "2135", "02136", "2137", "2138", "02139"]
    assert chunked["Visit"].tolist() == ["2026-12-01", "02/12/2026", "03/12/2026",
                                         "2026-12-04", "2026-12-05", "2026-12-06"]
    assert chunked["Visit (value)"].tolist() == [f"2026-12-0{d}" for d in range(1, 7)]
    assert chunked["to"].tolist() == [f"+1617555{i:04d}" if not i % 2 else f"+{PHONE + i}"
                                      for i in range(6)]
