"""Files that fight back: bombs, damage, odd encodings, control characters, stray quotes,
and files that are not spreadsheets. Each gives one sentence, in bounded memory."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from campaignkit import DataError, Problem
from campaignkit.recipients import load_recipients, load_summary

# A workbook written part by part, so a test can put any XML in its sheet.
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/'
    'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
    '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
    '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    'spreadsheetml.worksheet+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.'
    'org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/'
    'workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.'
    'org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/'
    'sheet1.xml"/></Relationships>'
)
_HEADER_AND_ADA = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>Phone</t></is></c></row>'
    '<row r="2"><c r="A2" t="inlineStr"><is><t>+16175550101</t></is></c></row>'
)
_FAR = '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'


def workbook(path: Path, rows_xml: str, *, dimension: str | None = None,
             padding: int = 0) -> Path:
    """An XLSX whose sheet holds ``rows_xml``; ``padding`` spaces of whitespace after it."""
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    head = (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.'
        f'org/spreadsheetml/2006/main">{dim}<sheetData>{rows_xml}</sheetData>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("[Content_Types].xml", _CONTENT_TYPES)
        book.writestr("_rels/.rels", _RELS)
        book.writestr("xl/workbook.xml", _WORKBOOK)
        book.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(head.encode())
            for _ in range(padding // (1 << 20)):
                sheet.write(b" " * (1 << 20))
            sheet.write(b"</worksheet>")
    return path


# The load runs in a child process: its peak memory is measured there, and a reader that
# tried to allocate a bomb's grid would take only the child down.
_CHILD = """
import json, resource, sys
from campaignkit import CampaignError
from campaignkit.recipients import load_recipients

before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    load_recipients(sys.argv[1])
    outcome = "loaded"
except CampaignError as error:
    outcome = f"{type(error).__name__}: {error}"
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "grew_mib": (peak - before) / 1024}))
"""


def load_in_child(path: Path) -> tuple[str, float]:
    """load_recipients(path) in a fresh process: its outcome and how much its peak RSS grew."""
    done = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, f"the child died ({done.returncode}): {done.stderr[-2000:]}"
    found = json.loads(done.stdout)
    return found["outcome"], found["grew_mib"]


_REFUSED = (
    "DataError: sheet \"Sheet1\" of {name} was refused: it {reach} XFD1048576, a grid of "
    "17,179,869,184 cells for 3 filled ones, more than campaignkit reads; delete the stray "
    "cells far below or to the right of your data (or the empty rows and columns), or save "
    "the sheet as CSV"
)


@pytest.mark.parametrize(
    ("dimension", "reach"),
    [("A1:XFD1048576", "declares cells up to"), ("A1:A2", "has cells up to"), (None,
                                                                             "has cells up to")],
    ids=["declared", "dimension-lies", "no-dimension"],
)
def test_dimension_bomb_refused_in_bounded_memory(
    tmp_path: Path, dimension: str | None, reach: str
) -> None:
    """A 2 KB workbook with cells at A1 and XFD1048576 is refused before any grid is built."""
    path = workbook(tmp_path / "bomb.xlsx", _HEADER_AND_ADA + _FAR, dimension=dimension)
    assert path.stat().st_size < 2000
    outcome, grew = load_in_child(path)
    assert outcome == _REFUSED.format(name="bomb.xlsx", reach=reach)
    assert grew < 100


def test_zip_bomb_refused_in_bounded_memory(tmp_path: Path) -> None:
    """A part that would unpack a thousand times its size is refused from the zip's header."""
    path = workbook(tmp_path / "zipbomb.xlsx", _HEADER_AND_ADA, padding=200 << 20)
    info = zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml")
    ratio = info.file_size / info.compress_size
    outcome, grew = load_in_child(path)
    assert outcome == (
        f"DataError: zipbomb.xlsx was refused: its part xl/worksheets/sheet1.xml would unpack "
        f"{ratio:,.0f} times its size ({info.file_size:,} bytes), which only a zip bomb does; "
        "open it in Excel and save it again if it is a real sheet"
    )
    assert grew < 100


def _corrupt(path: Path, part: str) -> Path:
    """Overwrite the middle of a part's compressed bytes: a broken deflate stream."""
    data = bytearray(path.read_bytes())
    info = zipfile.ZipFile(path).getinfo(part)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    middle = start + info.compress_size // 2
    data[middle : middle + 64] = bytes(range(64))
    path.write_bytes(bytes(data))
    return path


def test_corrupt_deflate_is_damaged_in_bounded_memory(tmp_path: Path) -> None:
    """A broken compressed sheet gives "is damaged", whatever zlib's own words."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Name", "Phone"])
    for n in range(2000):
        sheet.append([f"Person {n}", f"+1617555{n:04d}"])
    path = tmp_path / "people.xlsx"
    book.save(path)
    outcome, grew = load_in_child(_corrupt(path, "xl/worksheets/sheet1.xml"))
    assert outcome.startswith("DataError: people.xlsx (xl/worksheets/sheet1.xml) is damaged: ")
    assert outcome.endswith("; open it in Excel and save it again, or save it as CSV")
    assert grew < 100


def test_million_columns_refused_in_bounded_memory(tmp_path: Path) -> None:
    """A 9 MB CSV with a million columns is refused before pandas builds them."""
    path = tmp_path / "wide.csv"
    header = "Phone," + ",".join(f"c{n:07d}" for n in range(999_999))
    path.write_text(header + "\n+16175550101\n", encoding="utf-8")
    assert 8_900_000 < path.stat().st_size < 10_000_000
    outcome, grew = load_in_child(path)
    assert outcome == (
        "DataError: wide.csv was refused: line 1 has 1,000,000 columns, more than a sheet has "
        "(16,384); check that it is the right file and its delimiter"
    )
    assert grew < 300


def test_malformed_sheet_xml_is_damaged(tmp_path: Path) -> None:
    """python_calamine's XmlError becomes one sentence naming the sheet, never a traceback."""
    rows = '<row r="1"><c r="A1" t="inlineStr"><is><t>Phone</t></is></c></row><row r="2"><c r="A2">'
    path = workbook(tmp_path / "broken.xlsx", rows + "<v>1</v></row>")
    with pytest.raises(DataError) as caught:
        load_recipients(path)
    assert str(caught.value) == (
        'sheet "Sheet1" of broken.xlsx is damaged: its XML is malformed (at <c>); open it in '
        "Excel and save it again, or save it as CSV"
    )


def test_truncated_workbook_is_damaged(tmp_path: Path) -> None:
    """A workbook cut short (an interrupted download) is damaged, said in one sentence."""
    path = workbook(tmp_path / "cut.xlsx", _HEADER_AND_ADA)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(DataError) as caught:
        load_recipients(path)
    assert str(caught.value).startswith("cut.xlsx is damaged: ")


# -- encodings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "text", "shown"),
    [
        ("utf-16-le", "Name,Phone\nJosé Müller,+16175550101\nZoë,+16175550102\n", "UTF-16"),
        ("utf-16-be", "Name,Phone\nJosé Müller,+16175550101\nZoë,+16175550102\n", "UTF-16"),
        ("shift_jis", "名前,電話\n山田太郎,+16175550101\n佐藤花子,+16175550102\n", "Shift-JIS"),
        ("cp1251", "Имя,Телефон\nАнна Иванова,+16175550101\nОльга,+16175550102\n",
         "Windows-1251 (Cyrillic)"),
    ],
)  # fmt: skip
def test_encodings_detected_and_named(tmp_path: Path, encoding: str, text: str,
                                      shown: str) -> None:
    """A CSV that is not UTF-8 (and has no BOM) is decoded right, and the note says how."""
    path = tmp_path / "people.csv"
    path.write_bytes(text.encode(encoding))
    frame = load_recipients(path, phone_column=text.split(",")[1].split("\n")[0])
    assert frame.iloc[:, 0].tolist() == [line.split(",")[0] for line in text.splitlines()[1:]]
    assert frame["to"].tolist() == ["+16175550101", "+16175550102"]
    assert load_summary(frame).encoding == (
        f"the file is not UTF-8: it was read as {shown} (detected by charset-normalizer); "
        'check the names, or save it as "CSV UTF-8" to be sure'
    )


# -- damage inside cells ---------------------------------------------------------------------


def test_control_characters_removed_with_a_repair(tmp_path: Path) -> None:
    """NUL and ESC never reach a message: removed, with a repair on the row and a note."""
    path = tmp_path / "people.csv"
    path.write_bytes(b"Name,Phone\nA\x00da,+16175550101\nBo\x1b[1m,+16175550102\nCy,+1617555"
                     b"0103\x00\n")
    frame = load_recipients(path)
    assert frame["Name"].tolist() == ["Ada", "Bo[1m", "Cy"]
    assert frame["to"].tolist() == ["+16175550101", "+16175550102", "+16175550103"]
    assert frame["repairs"].tolist() == [("removed-control-characters",)] * 3
    assert [n for n in load_summary(frame).notes if n.column] == [
        Problem(2, "Name", "control characters (NUL, ESC) removed from 2 cells in rows 2, 3: "
                "they cannot be sent in a message", "sheet"),
        Problem(4, "Phone", "control characters (NUL) removed from 1 cell in rows 4: they "
                "cannot be sent in a message", "sheet"),
    ]


@pytest.mark.parametrize(
    ("cell", "kinds"),
    [("Bo\x01b", "U+0001"), ("Bo\x7fb", "DEL"), ("Bo\x85b", "U+0085"), ("Bo\x9fb", "U+009F")],
)
def test_each_kind_of_control_character_is_found(tmp_path: Path, cell: str, kinds: str) -> None:
    """C0, DEL and C1 control characters in any row are removed and named, with a repair."""
    rows = "".join(f"P{n},+1617555{n:04d}\n" for n in range(100, 140))
    path = tmp_path / "people.csv"
    path.write_text(f"Name,Phone\n{rows}{cell},+16175550199\n", encoding="utf-8")
    frame = load_recipients(path)
    assert frame.loc[42, "Name"] == "Bob"
    assert frame.loc[42, "repairs"] == ("removed-control-characters",)
    assert [n for n in load_summary(frame).notes if n.column] == [
        Problem(42, "Name", f"control characters ({kinds}) removed from 1 cell in rows 42: "
                "they cannot be sent in a message", "sheet"),
    ]


@pytest.mark.parametrize("cell", ["Bo\tb", '"Bo\r\nb"', "Bo\u00a0b", "Bo£b"])
def test_tabs_line_breaks_and_latin_1_are_not_control_characters(
    tmp_path: Path, cell: str
) -> None:
    """Tab, CR, LF, no-break space and £ (C2 A0, C2 A3 in UTF-8) are left in their cells."""
    path = tmp_path / "people.csv"
    path.write_text(f"Name,Phone\nAda,+16175550101\n{cell},+16175550102\n", encoding="utf-8")
    frame = load_recipients(path)
    assert frame.loc[3, "Name"] == cell.strip('"')
    assert frame["repairs"].tolist() == [(), ()]
    assert [n for n in load_summary(frame).notes if n.column] == []


def test_stray_quote_names_the_rows_it_swallowed(tmp_path: Path) -> None:
    """The issue's file: Bob's stray quote swallows Cy and Dee; his row says so, naming them."""
    path = tmp_path / "quote.csv"
    path.write_text('Name,Phone\nAda,+16175550101\n"Bob,+16175550102\nCy,+16175550103\n'
                    "Dee,+16175550104\n", encoding="utf-8")
    frame = load_recipients(path)
    assert frame.index.tolist() == [2, 3]
    message = (
        'a stray quote (") at the start of this cell swallowed the next 3 lines of the file, '
        "which hold the rows of 'Cy', 'Dee': remove the quote (or close it) and load the file "
        "again"
    )
    assert frame.loc[3, "problems"][0] == Problem(3, "Name", message, "damaged-row")
    assert Problem(3, "Name", message, "sheet") in load_summary(frame).notes


def test_quoted_multiline_note_is_not_a_stray_quote(tmp_path: Path) -> None:
    """A real multi-line cell (no delimiter on its first line) is left alone."""
    path = tmp_path / "notes.csv"
    path.write_text('Name,Phone,Note\nAda,+16175550101,"call after 5\nthen, text, her"\n',
                    encoding="utf-8")
    frame = load_recipients(path)
    assert frame["problems"].tolist() == [()]


# -- not spreadsheets -----------------------------------------------------------------------


def _zip(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("logo.png", b"\x89PNG\r\n\x1a\n" + bytes(64),
         "logo.png is a PNG image, not a spreadsheet: choose the CSV or Excel file of your "
         "recipients"),
        ("scan.csv", b"\xff\xd8\xff\xe0" + bytes(64),
         "scan.csv is a JPEG image, not a spreadsheet: choose the CSV or Excel file of your "
         "recipients"),
        ("list.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
         "list.pdf is a PDF document, not a spreadsheet: choose the CSV or Excel file of your "
         "recipients"),
        ("letter.docx", _zip({"word/document.xml": "<w/>", "[Content_Types].xml": "<T/>"}),
         "letter.docx is a Word document (.docx), not a spreadsheet: choose the CSV or Excel "
         "file of your recipients"),
        ("people.zip", _zip({"people.csv": "Phone\n+16175550101\n"}),
         "people.zip is a zip archive, not a spreadsheet: choose the CSV or Excel file of your "
         "recipients"),
        ("report.xls", b"<html><body><table><tr><td>Phone</td></tr></table></body></html>",
         "report.xls is a web page (HTML), not a spreadsheet: if Excel opens it, save it there "
         "as .xlsx or CSV and load that"),
        ("data.csv", bytes(range(256)) * 8,
         "data.csv is binary data, not a spreadsheet: choose the CSV or Excel file of your "
         "recipients"),
    ],
    ids=["png", "jpeg", "pdf", "docx", "zip", "html", "binary"],
)  # fmt: skip
def test_not_a_spreadsheet_is_named(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    """An upload that is not a sheet is named for what it is, never parsed as CSV."""
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(DataError) as caught:
        load_recipients(path)
    assert str(caught.value) == message
    with pytest.raises(DataError) as caught:
        load_recipients(io.BytesIO(data))
    assert str(caught.value) == message.replace(name, "the file", 1)


# -- OpenDocument ------------------------------------------------------------------------------

_ODS_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
)


def ods(path: Path, rows_xml: str) -> Path:
    """An ODS file whose one sheet holds ``rows_xml`` (table:table-row elements)."""
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODS_NS} '
        'office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Sheet1">'
        f"{rows_xml}</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:'
        'names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry '
        'manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.'
        'spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" '
        'manifest:media-type="text/xml"/></manifest:manifest>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        mimetype = "application/vnd.oasis.opendocument.spreadsheet"
        archive.writestr(zipfile.ZipInfo("mimetype"), mimetype)
        archive.writestr("META-INF/manifest.xml", manifest)
        archive.writestr("content.xml", content)
    return path


def ods_text(text: str) -> str:
    return (f'<table:table-cell office:value-type="string"><text:p>{text}</text:p>'
            "</table:table-cell>")


def test_ods_repeat_bomb_refused_in_bounded_memory(tmp_path: Path) -> None:
    """A 1.5 KB ODS whose one cell is repeated over every row and column is refused."""
    cell = ('<table:table-cell table:number-columns-repeated="16384" office:value-type="float" '
            'office:value="1"><text:p>1</text:p></table:table-cell>')
    rows = (f"<table:table-row>{ods_text('Phone')}</table:table-row>"
            f'<table:table-row table:number-rows-repeated="1048575">{cell}</table:table-row>')
    path = ods(tmp_path / "bomb.ods", rows)
    assert path.stat().st_size < 2000
    outcome, grew = load_in_child(path)
    assert outcome == (
        'DataError: sheet "Sheet1" of bomb.ods was refused: its repeated rows and cells make a '
        "grid of 17,179,869,184 cells for 17,179,852,801 filled ones, more than campaignkit "
        "reads; open it in LibreOffice, delete what lies far below or right of your data, and "
        "save it again"
    )
    assert grew < 100


def test_ods_cells_read_as_libreoffice_shows_them(tmp_path: Path) -> None:
    """An ODS number or currency cell reads as the text LibreOffice saved; typed values follow."""
    rows = (
        f"<table:table-row>{ods_text('Phone')}{ods_text('Zip')}{ods_text('Amount')}"
        "</table:table-row><table:table-row>"
        f"{ods_text('+16175550101')}"
        '<table:table-cell office:value-type="float" office:value="2134"><text:p>02134</text:p>'
        '</table:table-cell><table:table-cell office:value-type="currency" office:currency="USD" '
        'office:value="12.5"><text:p>$12.50</text:p></table:table-cell></table:table-row>'
    )
    frame = load_recipients(ods(tmp_path / "people.ods", rows))
    assert frame.drop(columns=["problems", "repairs"]).to_dict("list") == {
        "Phone": ["+16175550101"],
        "Zip": ["02134"],
        "Zip (value)": ["2134"],
        "Amount": ["$12.50"],
        "Amount (value)": ["12.5"],
        "to": ["+16175550101"],
    }
