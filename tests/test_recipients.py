"""load_recipients: sheets of every kind to a recipients frame, with problems and repairs."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from campaignkit import ColumnError, DataError, Problem
from campaignkit.recipients import LoadSummary, load_recipients, load_summary

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
# The countries the sample clinic sends to (sample_data/campaign.toml declares the same).
COUNTRIES = ["US", "ES", "DE", "IN", "GB"]


def csv_file(
    tmp_path: Path, text: str, *, name: str = "people.csv", encoding: str = "utf-8"
) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def xlsx_file(tmp_path: Path, rows: list[list[object]], *, name: str = "people.xlsx") -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    path = tmp_path / name
    book.save(path)
    return path


# -- the sample sheets -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["recipients.xlsx", "recipients.csv"])
def test_sample_sheet_counts(name: str) -> None:
    """The sample loads with the designed counts of rows, problems and repairs."""
    summary = load_summary(load_recipients(SAMPLE / name, default_region="US", countries=COUNTRIES))
    assert repr(summary) == (
        "<LoadSummary 64 rows: 60 valid, 3 invalid-phone, 1 missing-phone; 1 repeated "
        "number; 7 repaired; 1 empty row dropped>"
    )
    assert summary.repairs == {
        "added-plus": 5,
        "scientific-notation": 1,
        "trailing-.0": 1,
        "stripped-characters": 2,
    }
    assert summary.empty_rows_dropped == (35,)
    assert summary.phone_column == "Phone"
    assert summary.source == name


def test_sample_xlsx_and_csv_load_identically() -> None:
    """The XLSX (typed cells) and the CSV (their text) give the same frame."""
    xlsx = load_recipients(SAMPLE / "recipients.xlsx", default_region="US", countries=COUNTRIES)
    csv = load_recipients(SAMPLE / "recipients.csv", default_region="US", countries=COUNTRIES)
    pd.testing.assert_frame_equal(xlsx, csv)


def test_sample_rows_exactly() -> None:
    """Damaged sample rows come out as specified: E.164, repairs, problems, cell text."""
    frame = load_recipients(SAMPLE / "recipients.xlsx", default_region="US", countries=COUNTRIES)
    assert frame.index.name == "row"
    assert frame.index[:3].tolist() == [2, 3, 4]
    assert 35 not in frame.index
    picked = frame.loc[[10, 21, 22, 23, 24, 26, 27, 28], ["Phone", "to", "repairs"]]
    assert picked.to_dict("split")["data"] == [
        ["6175550102", "+16175550102", ()],
        ["16175550166", "+16175550166", ("added-plus",)],
        ["918123456703", "+918123456703", ("added-plus",)],
        ["447400123470", "+447400123470", ("added-plus",)],
        ["1.6175550188E+10", "+16175550188", ("scientific-notation", "added-plus")],
        ["16175550177.0", "+16175550177", ("trailing-.0", "added-plus")],
        ["+44\u00a07400\u00a0123471", "+447400123471", ("stripped-characters",)],
        ["+1 (415) 555-0143\u200b", "+14155550143", ("stripped-characters",)],
    ]
    assert [str(p) for found in frame["problems"] for p in found] == [
        'row 25, column "Phone": "4.47401E+11" lost digits in the sheet (it was shown in '
        "scientific notation): format the phone column as Text and type the number again",
        'row 30, column "Phone": "555-0199" is not a valid US number',
        'row 31, column "Phone": "7400123456" is not a valid US number',
        'row 32, column "Phone": the phone number is empty',
    ]
    assert frame.loc[2, ["Patient ID", "Appointment Date"]].tolist() == ["1001", "2026-12-01"]
    assert frame.loc[33, "First Name"] == ""
    assert frame.loc[34, "Last Name"] == "NA"
    assert frame.loc[5, "First Name"] == "प्रिया"


# -- CSV dialects and encodings ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Name,Phone\nAda,+16175550101\nBo,+16175550102\n", "utf-8"),
        ("\ufeffName,Phone\nAda,+16175550101\nBo,+16175550102\n", "utf-8"),
        ("Name;Phone\nAda;+16175550101\nBo;+16175550102\n", "utf-8"),
        ("Name\tPhone\nAda\t+16175550101\nBo\t+16175550102\n", "utf-8"),
        ("Name,Phone\r\nAda,+16175550101\r\nBo,+16175550102\r\n", "utf-8"),
        ("\ufeffName\tPhone\r\nAda\t+16175550101\r\nBo\t+16175550102\r\n", "utf-16-le"),
    ],
    ids=["comma", "bom", "semicolon", "tab", "crlf", "utf16-unicode-text"],
)
def test_csv_dialects(tmp_path: Path, text: str, encoding: str) -> None:
    """Comma, semicolon and tab files, with or without Excel's BOM, read the same."""
    frame = load_recipients(csv_file(tmp_path, text, encoding=encoding))
    assert frame.columns.tolist() == ["Name", "Phone", "to", "problems", "repairs"]
    assert frame["Name"].tolist() == ["Ada", "Bo"]
    assert frame["to"].tolist() == ["+16175550101", "+16175550102"]


def test_semicolon_file_with_decimal_commas(tmp_path: Path) -> None:
    """A European file (semicolons, decimal commas in cells) splits on the semicolon."""
    text = "Name;Phone;Balance\nAda;+16175550101;3,50\nBo;+16175550102;12,00\n"
    frame = load_recipients(csv_file(tmp_path, text))
    assert frame["Balance"].tolist() == ["3,50", "12,00"]


def test_quoted_fields_and_row_numbers(tmp_path: Path) -> None:
    """A quoted cell spanning lines is one sheet row, so later row numbers stay Excel's."""
    text = 'Name,Phone,Note\nAda,+16175550101,"line one\nline two"\nBo,+16175550102,x\n'
    frame = load_recipients(csv_file(tmp_path, text))
    assert frame.index.tolist() == [2, 3]
    assert frame.loc[2, "Note"] == "line one\nline two"


def test_latin1_csv_is_read_and_reported(tmp_path: Path) -> None:
    """A Windows-1252 CSV (Excel's plain "CSV") is decoded, and the summary says so."""
    path = csv_file(tmp_path, "Name,Phone\nJosé Müller,+16175550101\n", encoding="cp1252")
    frame = load_recipients(path)
    assert frame.loc[2, "Name"] == "José Müller"
    note = (
        'the file is not UTF-8: it was read as Windows-1252 (what Excel writes for "CSV"); '
        'check accented names, or save it as "CSV UTF-8" to be sure'
    )
    summary = load_summary(frame)
    assert summary.encoding == note
    assert summary.notes == (Problem(None, None, note, "sheet"),)


def test_no_na_guessing(tmp_path: Path) -> None:
    """Cells reading NA, None, null or N/A are names, never missing values."""
    text = "First,Last,Phone\nNA,None,+16175550101\nnull,N/A,+16175550102\n"
    frame = load_recipients(csv_file(tmp_path, text))
    assert frame[["First", "Last"]].to_dict("list") == {
        "First": ["NA", "null"],
        "Last": ["None", "N/A"],
    }
    assert str(frame["First"].dtype) == "str"


def test_header_whitespace_trimmed_and_reported(tmp_path: Path) -> None:
    """Spaces around headers are trimmed, and each trim is a sheet note."""
    frame = load_recipients(csv_file(tmp_path, " First Name ,Phone\u00a0\nAda,+16175550101\n"))
    assert frame.columns.tolist()[:2] == ["First Name", "Phone"]
    summary = load_summary(frame)
    assert summary.headers_trimmed == ("First Name", "Phone")
    assert [str(n) for n in summary.notes] == [
        "row 1, column \"First Name\": the header ' First Name ' had spaces or invisible "
        "characters around it: trimmed to 'First Name'",
        "row 1, column \"Phone\": the header 'Phone\\xa0' had spaces or invisible characters "
        "around it: trimmed to 'Phone'",
    ]


def test_empty_rows_dropped_and_reported(tmp_path: Path) -> None:
    """Fully empty rows are left out, named in the summary, and the numbering keeps Excel's."""
    text = "Name,Phone\nAda,+16175550101\n,\n\n  , \nBo,+16175550102\n"
    frame = load_recipients(csv_file(tmp_path, text))
    assert frame.index.tolist() == [2, 6]
    summary = load_summary(frame)
    assert summary.empty_rows_dropped == (3, 4, 5)
    assert repr(summary) == "<LoadSummary 2 rows: 2 valid; 3 empty rows dropped>"


def test_a_row_filled_only_in_a_later_column_is_kept(tmp_path: Path) -> None:
    """A row is empty only when every cell is: blank first cells do not drop a row, and
    invisible characters and whitespace count as empty in every column."""
    text = "Name,Note,Phone\nAda,,+16175550101\n,,+16175550102\n\u200b,\u00a0, \t\n,,\n,vip,\n"
    frame = load_recipients(csv_file(tmp_path, text))
    assert frame.index.tolist() == [2, 3, 6]
    assert frame["Note"].tolist() == ["", "", "vip"]
    assert load_summary(frame).empty_rows_dropped == (4, 5)


def test_leading_blank_lines_before_header(tmp_path: Path) -> None:
    """Blank rows above the header are skipped; row numbers still match the sheet."""
    frame = load_recipients(csv_file(tmp_path, "\n\nName,Phone\nAda,+16175550101\n"))
    assert frame.index.tolist() == [4]


def test_nameless_and_extra_columns(tmp_path: Path) -> None:
    """A column without header keeps its data under its letter; empty trailing columns go."""
    text = "Name,Phone,,\nAda,+16175550101,vip,\nBo,+16175550102,,\n"
    frame = load_recipients(csv_file(tmp_path, text))
    assert frame.columns.tolist() == ["Name", "Phone", "column C", "to", "problems", "repairs"]
    assert frame["column C"].tolist() == ["vip", ""]


def test_duplicate_headers_renamed(tmp_path: Path) -> None:
    """A header used twice keeps both columns, the second as "<name> (2)"."""
    frame = load_recipients(csv_file(tmp_path, "Name,Phone,Name\nAda,+16175550101,Lovelace\n"))
    assert frame[["Name", "Name (2)"]].iloc[0].tolist() == ["Ada", "Lovelace"]
    assert load_summary(frame).renamed == (("Name", "Name (2)"),)


def test_reserved_column_names_are_kept_renamed(tmp_path: Path) -> None:
    """Sheet columns named like campaignkit's own are kept as "<name> (sheet)" and reported."""
    text = "Name,Phone,text,segments\nAda,+16175550101,hello,3\n"
    frame = load_recipients(csv_file(tmp_path, text))
    assert frame.columns.tolist() == [
        "Name",
        "Phone",
        "text (sheet)",
        "segments (sheet)",
        "to",
        "problems",
        "repairs",
    ]
    assert load_summary(frame).renamed == (
        ("text", "text (sheet)"),
        ("segments", "segments (sheet)"),
    )


def test_phone_column_named_to(tmp_path: Path) -> None:
    """A sheet column named "to" is the phone column, kept as "to (sheet)"."""
    frame = load_recipients(csv_file(tmp_path, "Name,to\nAda,+16175550101\n"))
    assert frame.loc[2, ["to (sheet)", "to"]].tolist() == ["+16175550101", "+16175550101"]
    assert load_summary(frame).phone_column == "to (sheet)"


# -- spreadsheets --------------------------------------------------------------------------------


def test_xlsx_cells_read_as_shown(tmp_path: Path) -> None:
    """Cells show as their number formats draw them (openpyxl's defaults for dates and
    times), whole numbers without .0, booleans as Excel shows them; typed values follow."""
    path = xlsx_file(
        tmp_path,
        [
            ["Phone", "Day", "At", "Count", "Price", "Member"],
            [16175550101, dt.date(2026, 12, 1), dt.datetime(2026, 12, 1, 14, 30), 3, 2.5, True],
            ["+16175550102", dt.datetime(2026, 12, 2), dt.time(9, 5), 1234567.0, 0.1 + 0.2, False],
        ],
    )
    frame = load_recipients(path, default_region="US")
    assert frame.drop(columns=["problems", "repairs"]).to_dict("list") == {
        "Phone": ["16175550101", "+16175550102"],
        "Day": ["2026-12-01", "2026-12-02 0:00:00"],
        "Day (value)": ["2026-12-01", "2026-12-02"],
        "At": ["2026-12-01 14:30:00", "9:05:00"],
        "At (value)": ["2026-12-01 14:30", "09:05"],
        "Count": ["3", "1234567"],
        "Price": ["2.5", "0.3"],
        "Member": ["TRUE", "FALSE"],
        "to": ["+16175550101", "+16175550102"],
    }
    assert frame["repairs"].tolist() == [("added-plus",), ()]


def test_xlsx_sheet_choice(tmp_path: Path) -> None:
    """sheet= picks a sheet by name or position; a wrong name lists the sheets."""
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "Notes"
    first.append(["nothing here"])
    second = book.create_sheet("People")
    second.append(["Phone"])
    second.append(["+16175550101"])
    path = tmp_path / "book.xlsx"
    book.save(path)
    assert load_recipients(path, sheet="People")["to"].tolist() == ["+16175550101"]
    assert load_recipients(path, sheet=1)["to"].tolist() == ["+16175550101"]
    with pytest.raises(DataError) as caught:
        load_recipients(path, sheet="Clients")
    assert (
        str(caught.value) == "book.xlsx has no sheet 'Clients': its sheets are ['Notes', 'People']"
    )


def test_xlsx_row_numbers_follow_the_sheet(tmp_path: Path) -> None:
    """With the header on row 3 the first recipient is row 4, as Excel shows it."""
    path = xlsx_file(tmp_path, [[], [], ["Phone"], ["+16175550101"], [], ["+16175550102"]])
    frame = load_recipients(path)
    assert frame.index.tolist() == [4, 6]
    assert load_summary(frame).empty_rows_dropped == (5,)


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_binary_file_objects(tmp_path: Path, kind: str) -> None:
    """An open binary file is read as CSV or, by its zip header, as a workbook."""
    path = (
        csv_file(tmp_path, "Phone\n+16175550101\n")
        if kind == "csv"
        else xlsx_file(tmp_path, [["Phone"], ["+16175550101"]])
    )
    with path.open("rb") as handle:
        frame = load_recipients(handle)
    assert frame["to"].tolist() == ["+16175550101"]
    assert load_summary(frame).source == path.name


def test_bytes_and_text_objects() -> None:
    """In-memory bytes and text streams are accepted."""
    assert load_recipients(io.BytesIO(b"Phone\n+16175550101\n"))["to"].tolist() == ["+16175550101"]
    assert load_recipients(io.StringIO("Phone\n+16175550101\n"))["to"].tolist() == ["+16175550101"]


def test_unknown_extension_sniffed(tmp_path: Path) -> None:
    """A workbook saved without its extension is still recognised."""
    path = xlsx_file(tmp_path, [["Phone"], ["+16175550101"]], name="export")
    assert load_recipients(path)["to"].tolist() == ["+16175550101"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda p: p / "missing.csv",
            'no file at "{p}/missing.csv": check the path and the current folder',
        ),
        (
            lambda p: csv_file(p, ""),
            "people.csv is empty: it needs a header row and a row per recipient",
        ),
        (
            lambda p: csv_file(p, "x", name="bad.xlsx"),
            "bad.xlsx is not a workbook despite its name (it is neither Excel nor OpenDocument "
            "data): if it is a CSV file, rename it to .csv",
        ),
    ],
    ids=["missing", "empty", "not-a-workbook"],
)
def test_unreadable_sources(tmp_path: Path, make: object, message: str) -> None:
    """What cannot be read raises DataError naming the file and the fix."""
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(DataError) as caught:
        load_recipients(path)
    text = str(caught.value)
    if "{err}" in message:
        head, tail = message.split("{err}")
        assert text.startswith(head) and text.endswith(tail)
    else:
        assert text == message.format(p=tmp_path)


def test_sheet_on_csv_refused(tmp_path: Path) -> None:
    """sheet= on a CSV is a mistake, said so rather than ignored."""
    with pytest.raises(DataError) as caught:
        load_recipients(csv_file(tmp_path, "Phone\n+16175550101\n"), sheet="People")
    assert str(caught.value) == (
        "sheet='People' was given but people.csv is a CSV file, which has no sheets: "
        "leave sheet= out"
    )


# -- the phone column ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "phone",
        "Phone",
        "PHONE NUMBER",
        "phone_number",
        "Mobile",
        "mobile-number",
        "Cell Phone",
        "WhatsApp",
        "MSISDN",
        "Tel.",
        "telephone",
        "Number",
        "to",
    ],
)
def test_phone_column_found_by_name(tmp_path: Path, header: str) -> None:
    """The usual names of a phone column are recognised, whatever the case or separators."""
    frame = load_recipients(csv_file(tmp_path, f"Name,{header}\nAda,+16175550101\n"))
    assert frame["to"].tolist() == ["+16175550101"]


def test_no_phone_column(tmp_path: Path) -> None:
    """Without a phone-like column, ColumnError lists the columns and the fix."""
    with pytest.raises(ColumnError) as caught:
        load_recipients(csv_file(tmp_path, "Name,Contact\nAda,+16175550101\n"))
    assert str(caught.value) == (
        "no phone number column found among: 'Name', 'Contact' (header row 1); pass "
        'phone_column="<its header>", or header_row=<the row number of the headers> if the '
        "headers are on another row"
    )


def test_ambiguous_phone_column(tmp_path: Path) -> None:
    """Two phone-like columns are ambiguous until phone_column= picks one."""
    path = csv_file(tmp_path, "Phone,Mobile\n+16175550101,+16175550102\n")
    with pytest.raises(ColumnError) as caught:
        load_recipients(path)
    assert str(caught.value) == (
        "several columns could hold the phone numbers: 'Phone', 'Mobile'; pass phone_column= "
        "to choose one, e.g. phone_column='Phone'"
    )
    assert load_recipients(path, phone_column="Mobile")["to"].tolist() == ["+16175550102"]
    assert load_recipients(path, phone_column="mobile")["to"].tolist() == ["+16175550102"]


def test_wrong_phone_column_named(tmp_path: Path) -> None:
    """A phone_column= that names no column suggests the closest one."""
    with pytest.raises(ColumnError) as caught:
        load_recipients(csv_file(tmp_path, "Name,Contact\nAda,1\n"), phone_column="Contcat")
    assert str(caught.value) == (
        "phone_column='Contcat' is not a column of the sheet (did you mean 'Contact'?); "
        "the columns are: 'Name', 'Contact'"
    )


# -- duplicates ----------------------------------------------------------------------------------


DUPES = "Name,Phone\nAda,(617) 555-0101\nBo,+1 617 555 0101\nCy,16175550101\nDi,+16175550102\n"


def test_duplicates_are_counted_at_load_and_decided_with_the_rest(tmp_path: Path) -> None:
    """Loading only counts repeated numbers: which row of a number gets the message is
    decided with every other fate (a problem on the first row must not drop the second)."""
    frame = load_recipients(csv_file(tmp_path, DUPES), default_region="US")
    assert frame["problems"].tolist() == [(), (), (), ()]
    assert frame["to"].tolist() == ["+16175550101"] * 3 + ["+16175550102"]
    assert load_summary(frame).repeated == 2


def test_duplicates_keep(tmp_path: Path) -> None:
    """duplicates="keep" sends to every row, as Sociocs's duplicates_allowed."""
    frame = load_recipients(csv_file(tmp_path, DUPES), default_region="US", duplicates="keep")
    assert frame["problems"].tolist() == [(), (), (), ()]


def test_duplicates_option_checked(tmp_path: Path) -> None:
    """An unknown duplicates= option is refused with the choices."""
    with pytest.raises(DataError) as caught:
        load_recipients(csv_file(tmp_path, DUPES), duplicates="drop")  # type: ignore[arg-type]
    assert str(caught.value) == 'duplicates=\'drop\' is not an option: use "first" or "keep"'


# -- DataFrames ----------------------------------------------------------------------------------


def test_dataframe_source_numbered_like_a_sheet() -> None:
    """A plain DataFrame is numbered as a sheet (first row 2); cells become text."""
    source = pd.DataFrame(
        {
            "name": ["Ada", None],
            "phone": [16175550101.0, 6175550102.0],
            "day": pd.to_datetime(["2026-12-01", "2026-12-02"]),
        }
    )
    frame = load_recipients(source, default_region="US")
    assert frame.index.tolist() == [2, 3]
    assert frame[["name", "phone", "day", "to"]].to_dict("list") == {
        "name": ["Ada", ""],
        "phone": ["16175550101", "6175550102"],
        "day": ["2026-12-01", "2026-12-02"],
        "to": ["+16175550101", "+16175550102"],
    }


def test_dataframe_source_not_mutated() -> None:
    """The caller's frame is left exactly as it was."""
    source = pd.DataFrame({"to": ["+16175550101"], "x": [1]})
    before = source.copy()
    load_recipients(source)
    pd.testing.assert_frame_equal(source, before)
    assert source.attrs == {}


def test_reloading_is_idempotent(tmp_path: Path) -> None:
    """Loading a loaded frame again gives the same frame and summary."""
    first = load_recipients(SAMPLE / "recipients.csv", default_region="US", countries=COUNTRIES)
    again = load_recipients(first, default_region="US", countries=COUNTRIES)
    pd.testing.assert_frame_equal(again, first)
    assert again.attrs == first.attrs
    assert load_summary(again) == load_summary(first)


def test_reloading_after_a_fix_clears_the_problem() -> None:
    """Fixing a cell in a loaded frame and loading again recomputes that row only."""
    first = load_recipients(SAMPLE / "recipients.xlsx", default_region="US", countries=COUNTRIES)
    fixed = first.copy()
    fixed.loc[30, "Phone"] = "(617) 555-0199"
    again = load_recipients(fixed, default_region="US", countries=COUNTRIES)
    assert again.loc[30, ["to", "problems"]].tolist() == ["+16175550199", ()]
    assert repr(load_summary(again)) == (
        "<LoadSummary 64 rows: 61 valid, 2 invalid-phone, 1 missing-phone; 1 repeated "
        "number; 7 repaired; 1 empty row dropped>"
    )


# -- the summary ---------------------------------------------------------------------------------


def test_summary_html_is_escaped(tmp_path: Path) -> None:
    """The notebook view escapes what came from the sheet."""
    frame = load_recipients(
        csv_file(tmp_path, "<b>Phone</b>\n+16175550101\n", name="<x>.csv"),
        phone_column="<b>Phone</b>",
    )
    page = load_summary(frame)._repr_html_()
    assert page == (
        "<table><caption>&lt;x&gt;.csv</caption><tr><th>rows</th><td>1</td></tr>"
        "<tr><th>valid</th><td>1</td></tr>"
        "<tr><th>phone column</th><td>&lt;b&gt;Phone&lt;/b&gt;</td></tr></table>"
    )


def test_summary_needs_a_recipients_frame() -> None:
    """load_summary on another frame says how to get a recipients frame."""
    with pytest.raises(DataError) as caught:
        load_summary(pd.DataFrame({"a": [1]}))
    assert str(caught.value) == (
        "this frame has no problems/repairs columns: load it with load_recipients() first"
    )


def test_summary_fields() -> None:
    """LoadSummary is a frozen value with the counts as fields."""
    summary = load_summary(load_recipients(io.StringIO("Phone\n+16175550101\nx\n")))
    assert summary == LoadSummary(
        rows=2,
        valid=1,
        problems={"invalid-phone": 1},
        repairs={},
        repaired=0,
        encoding=None,
        source=None,
        phone_column="Phone",
    )
