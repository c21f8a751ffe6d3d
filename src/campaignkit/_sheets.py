"""Open a recipients file safely and read its cells the way the sheet shows them.

`read_source` turns a path, bytes or a file object into a `Table`: records of text with the
row number Excel shows for each. On the way it refuses what is not a spreadsheet or would
not fit in memory, each with one sentence naming the file and the fix:

* **What the file is**, from its first bytes: a PNG, a PDF or a Word document is named as
  such, never parsed as CSV.
* **Workbooks (XLSX)** are checked before any reader allocates: the zip's declared sizes
  (a zip bomb), every part the reader will read decompressed once with its CRC checked
  (a corrupt deflate stream), and the cells the sheet reaches (a 2 KB file with cells at
  A1 and XFD1048576 would need a dense grid of 17 billion cells in calamine). Every error of
  the reader is caught and said as "... is damaged: ...".
* **Cells as shown**: each XLSX number or date cell is rendered with its number format, as
  Excel draws it (zip ``00000`` → ``02134``, ``$12.50``, ``15%``, ``2:30 PM``,
  ``01/12/2026``) by xlfmt, once per distinct (value, format). The typed values stay
  available (`Table.typed_column`): the phone column is read from them, and a formatted
  column's typed values become a ``"<column> (value)"`` column (see `load_recipients`).
  Hidden rows (by hand or by a filter) are listed.
* **Text (CSV)**: the encoding is detected with charset-normalizer when the file is not
  UTF-8 (UTF-16 without a BOM, Shift-JIS, Windows-1252...) and named in a note; more than
  16,384 columns (Excel's limit) is refused before parsing; a stray quote that swallowed
  the following lines is found and reported with those lines. A UTF-8 file without quotes
  is parsed by Arrow's CSV reader, any other by pandas' C parser, which reads it the same.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import io
import itertools
import math
import numbers
import os
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeAlias, cast
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from python_calamine import CalamineWorkbook, PasswordError

from ._errors import DataError
from ._memory import give_back
from .problems import Problem

__all__ = ["MAX_CELLS", "MAX_COLUMNS", "Table", "cell_text", "column_letter", "read_source"]

Source: TypeAlias = str | os.PathLike[str] | IO[bytes] | IO[str] | bytes

#: Columns a text file may have: Excel's own limit (XFD), so no real sheet is refused.
MAX_COLUMNS = 16_384
#: Cells of a sheet's grid (rows x columns from A1 to its last cell) campaignkit reads.
MAX_CELLS = 20_000_000
# A sheet's grid may be this much bigger than its filled cells (the rest is empty space
# the reader allocates anyway); below SPARSE_FLOOR cells it is always fine.
SPARSE_RATIO = 64
SPARSE_FLOOR = 4_000_000
# A workbook's parts, decompressed: far above any sheet of a million rows.
MAX_UNZIPPED = 2 << 30
# Deflate tops out near 1,000:1; real XML rarely passes 100:1.
MAX_RATIO = 400

_SPREADSHEETS = frozenset({".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"})
_ZIP_MAGIC = b"PK\x03\x04"  # xlsx, xlsm and ods are zip files
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and .doc, .ppt)
_DELIMITERS = ",;\t"
_CHUNK = 1 << 22

# First bytes of files people upload by mistake (https://en.wikipedia.org/wiki/List_of_file_signatures).
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x7fELF", "a program (ELF)"),
    (b"MZ", "a Windows program"),
    (b"ID3", "an MP3 audio file"),
    (b"OggS", "an Ogg audio file"),
    (b"{\\rtf", "an RTF document"),
)
_ZIP_KINDS = (
    ("word/", "a Word document (.docx)"),
    ("ppt/", "a PowerPoint presentation (.pptx)"),
)


@dataclass(slots=True)
class Table:
    """A sheet as text (as shown) with the row number Excel shows for each row: records
    of text (a CSV that pandas cannot parse, a DataFrame) or a frame of text columns."""

    records: list[list[str]]
    numbers: Sequence[int] | np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    notes: tuple[Problem, ...] = ()
    #: the same records as a frame of text columns 0..n-1 (CSV and workbooks), or None
    grid: pd.DataFrame | None = None
    #: a workbook's typed values as text (`cell_text`) for the columns in ``formatted``
    #: (None for text files)
    typed: dict[int, Any] | None = None
    #: per column of a workbook, which cells were typed as numbers (None: none were)
    numeric: list[np.ndarray | None] | None = None
    #: column positions where some cell's shown text differs from its typed value
    formatted: frozenset[int] = frozenset()
    #: rows hidden in the sheet (by hand or by a filter)
    hidden: tuple[int, ...] = ()
    #: merged ranges as 0-based (first row, first column, last row, last column)
    merged: tuple[tuple[int, int, int, int], ...] = ()
    #: every sheet of the workbook with its first rows as text, for messages
    overview: Callable[[], list[tuple[str, list[list[str]]]]] | None = None

    @property
    def workbook(self) -> bool:
        """Whether the cells were typed (a workbook) rather than text."""
        return self.numeric is not None

    def typed_column(self, position: int, rows: slice | np.ndarray) -> Any:
        """The typed values of a formatted column at ``rows`` (a slice or a mask), as text."""
        assert self.typed is not None
        return self.typed[position][rows]

    def number_cells(self, position: int, rows: slice | np.ndarray) -> np.ndarray:
        """Which of those cells were typed as numbers."""
        assert self.grid is not None
        found = self.numeric[position] if self.numeric is not None else None
        if found is None:
            return np.zeros(len(self.grid), bool)[rows]
        return found[rows]


# -- what the source is ------------------------------------------------------------------------


def read_source(source: Source, sheet: str | int | None) -> Table:
    """Read a path, bytes or a file object into a `Table` (see the module docstring)."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise DataError(f'no file at "{path}": check the path and the current folder')
        try:
            data = path.read_bytes()
        except OSError as error:
            raise DataError(f"{path.name} cannot be read: {error.strerror or error}") from error
        suffix = path.suffix.lower()
        return _read_bytes(data, path.name, sheet, suffix=suffix)
    if isinstance(source, bytes):
        return _read_bytes(source, None, sheet, suffix="")
    if hasattr(source, "read"):
        name = getattr(source, "name", None)
        name = Path(name).name if isinstance(name, str) else None
        content = source.read()
        if isinstance(content, str):
            _no_sheet(sheet, name)
            return _read_text(content, name, encoding=None, tab=False)
        suffix = Path(name).suffix.lower() if name else ""
        return _read_bytes(bytes(content), name, sheet, suffix=suffix)
    raise DataError(
        f"cannot read recipients from a {type(source).__name__}: pass a file path, "
        "an open binary file or a pandas DataFrame"
    )


def _read_bytes(data: bytes, name: str | None, sheet: str | int | None, *, suffix: str) -> Table:
    label = name or "the file"
    kind = _not_a_sheet(data)
    if kind is not None:
        fix = ("if Excel opens it, save it there as .xlsx or CSV and load that"
               if kind == _WEB_PAGE else "choose the CSV or Excel file of your recipients")
        raise DataError(f"{label} is {kind}, not a spreadsheet: {fix}")
    if data.startswith(_ZIP_MAGIC):
        return _read_zip(data, name, sheet)
    if data.startswith(_OLE_MAGIC):
        return _read_workbook(io.BytesIO(data), sheet, name, formats=None)
    if suffix in _SPREADSHEETS:
        raise DataError(
            f"{label} is not a workbook despite its name (it is neither Excel nor "
            "OpenDocument data): if it is a CSV file, rename it to .csv"
        )
    return _read_text_bytes(data, name, sheet, tab=suffix in (".tsv", ".tab"))


def _not_a_sheet(data: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<table", b"<?xml")) and (
        b"<html" in head or b"<table" in head or b"<!doctype html" in head
    ):
        return _WEB_PAGE
    if _looks_binary(data[:8192]):
        return "binary data"
    if data[8:12] == b"WEBP" and data.startswith(b"RIFF"):
        return "a WebP image"
    if data[4:8] == b"ftyp":
        return "a video or photo (MP4/HEIC)"
    return None


_WEB_PAGE = "a web page (HTML)"
_CONTROL_BYTES = bytes([*range(0, 9), *range(14, 32)])


def _looks_binary(head: bytes) -> bool:
    """Many control bytes, and not in the every-other-byte pattern of UTF-16/32 text."""
    if not head or head.startswith((_ZIP_MAGIC, _OLE_MAGIC)):
        return False
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if controls * 10 < len(head):
        return False
    half = len(head) / 2
    even, odd = head[0::2].count(0), head[1::2].count(0)
    return not (max(even, odd) > 0.3 * half and min(even, odd) < 0.1 * half)


def _no_sheet(sheet: str | int | None, name: str | None) -> None:
    if sheet is not None:
        raise DataError(
            f"sheet={sheet!r} was given but {name or 'the source'} is a CSV file, which has "
            "no sheets: leave sheet= out"
        )


def _damaged(label: str, error: BaseException) -> DataError:
    detail = str(error).strip().rstrip(".")
    if type(error).__name__ == "XmlError":  # calamine names only the element it choked on
        detail = f"its XML is malformed (at <{detail}>)" if detail else "its XML is malformed"
    detail = detail or type(error).__name__
    return DataError(
        f"{label} is damaged: {detail}; open it in Excel and save it again, or save it as CSV"
    )


# -- zip files: XLSX, ODS --------------------------------------------------------------------


def _read_zip(data: bytes, name: str | None, sheet: str | int | None) -> Table:
    label = name or "the workbook"
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = {info.filename: info for info in archive.infolist()}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise _damaged(label, error) from error
    if "mimetype" in members and "content.xml" in members:
        _check_sizes(members, label)
        ods = _scan_ods(archive, label, sheet)
        return _read_workbook(io.BytesIO(data), ods.sheet if ods.sheet is not None else sheet,
                              name, formats=ods)
    if "xl/workbook.xml" not in members and "xl/workbook.bin" not in members:
        kind = next((k for prefix, k in _ZIP_KINDS if any(m.startswith(prefix) for m in members)),
                    "a zip archive")
        raise DataError(
            f"{name or 'the file'} is {kind}, not a spreadsheet: choose the CSV or Excel file "
            "of your recipients"
        )
    _check_sizes(members, label)
    if "xl/workbook.bin" in members:  # .xlsb: no XML to check or format
        return _read_workbook(io.BytesIO(data), sheet, name, formats=None)
    book = _XlsxParts(archive, members, label)
    chosen = book.choose(sheet)
    scan = book.scan(chosen)
    return _read_workbook(io.BytesIO(data), chosen, name, formats=(book, scan))


def _check_sizes(members: dict[str, zipfile.ZipInfo], label: str) -> None:
    total = 0
    for info in members.values():
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 16 << 20 and ratio > MAX_RATIO:
            raise DataError(
                f"{label} was refused: its part {info.filename} would unpack {ratio:,.0f} "
                f"times its size ({info.file_size:,} bytes), which only a zip bomb does; "
                "open it in Excel and save it again if it is a real sheet"
            )
    if total > MAX_UNZIPPED:
        raise DataError(
            f"{label} was refused: it would unpack to {total:,} bytes, more than "
            f"campaignkit reads ({MAX_UNZIPPED:,}); split the sheet or save it as CSV"
        )


def _unzip(archive: zipfile.ZipFile, name: str, label: str) -> Iterator[bytes]:
    """A part's bytes in chunks, its CRC and declared size checked (zipfile stops there)."""
    try:
        with archive.open(name) as handle:
            while chunk := handle.read(_CHUNK):
                yield chunk
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as error:
        raise _damaged(f"{label} ({name})", error) from error


_ODS_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_ODS_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_ODS_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_ODS_SHOWN = frozenset({"float", "percentage", "currency", "date", "time"})


@dataclass(frozen=True, slots=True)
class _OdsScan:
    """One pass over an ODS sheet: its name and the text each number or date cell shows."""

    sheet: str | None
    # (first row, rows, first column, columns, text): repeats kept as blocks
    shown: list[tuple[int, int, int, int, str]]


def _scan_ods(archive: zipfile.ZipFile, label: str, sheet: str | int | None) -> _OdsScan:
    """Check the grid an ODS sheet's repeated rows and cells make (calamine expands them),
    and collect the text LibreOffice shows for its number and date cells."""
    parser: ElementTree.XMLPullParser[ElementTree.Element] = ElementTree.XMLPullParser(
        events=("start", "end"))
    index = -1
    chosen: str | None = None
    active = False
    row = last_row = width = filled = 0
    shown: list[tuple[int, int, int, int, str]] = []
    try:
        for chunk in _unzip(archive, "content.xml", label):
            parser.feed(chunk)
            events = cast("Iterator[tuple[str, Any]]", parser.read_events())
            for event, node in events:
                if not isinstance(node, ElementTree.Element):
                    continue
                tag = node.tag
                if tag == f"{_ODS_TABLE}table":
                    if event == "start":
                        index += 1
                        name = node.get(f"{_ODS_TABLE}name", "")
                        wanted = index == 0 if sheet is None else sheet in (index, name)
                        active = chosen is None and wanted
                        if active:
                            chosen, row = name, 0
                    else:
                        active = False
                        node.clear()
                    continue
                if event != "end" or tag != f"{_ODS_TABLE}table-row":
                    continue
                if not active:
                    node.clear()
                    continue
                rows = int(node.get(f"{_ODS_TABLE}number-rows-repeated", "1"))
                column = row_filled = row_width = 0
                for cell in node:
                    if _local(cell.tag) not in ("table-cell", "covered-table-cell"):
                        continue
                    columns = int(cell.get(f"{_ODS_TABLE}number-columns-repeated", "1"))
                    kind = cell.get(f"{_ODS_OFFICE}value-type")
                    if kind is not None or len(cell):
                        row_filled += columns
                        row_width = column + columns
                        if kind in _ODS_SHOWN:
                            text = "\n".join("".join(p.itertext()) for p in cell
                                             if p.tag == f"{_ODS_TEXT}p")
                            shown.append((row, rows, column, columns, text))
                    column += columns
                if row_filled:
                    last_row, width = row + rows, max(width, row_width)
                    filled += rows * row_filled
                    if last_row * width > _allowed(filled):
                        raise DataError(
                            f'sheet "{chosen}" of {label} was refused: its repeated rows and '
                            f"cells make a grid of {last_row * width:,} cells for {filled:,} "
                            "filled ones, more than campaignkit reads; open it in LibreOffice, "
                            "delete what lies far below or right of your data, and save it again"
                        )
                row += rows
                node.clear()
        parser.close()
    except ElementTree.ParseError as error:
        raise _damaged(f"{label} (content.xml)", error) from error
    return _OdsScan(chosen, shown)


# Built-in formats whose look depends on the reader's locale: Excel in English (US) shows
# 14 as m/d/yyyy and 22 as m/d/yyyy h:mm, not the spec's mm-dd-yy (ECMA-376 §18.8.30).
_LOCAL_BUILTINS = {14: "m/d/yyyy", 22: "m/d/yyyy h:mm"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _nodes(root: ElementTree.Element, name: str) -> Iterator[ElementTree.Element]:
    """Elements by local name: transitional and strict OOXML use different namespaces."""
    return (node for node in root.iter() if _local(node.tag) == name)


@dataclass(frozen=True, slots=True)
class _Scan:
    """What one pass over a worksheet's XML found, before any reader allocates."""

    styled: dict[int, tuple[np.ndarray, np.ndarray]]  # xf index -> 0-based rows, columns
    hidden: tuple[int, ...]  # 1-based rows hidden by hand or by a filter
    filtered: bool  # the sheet has an autofilter


class _XlsxParts:
    """The parts of an XLSX that decide how to read it: sheets, styles, the date system."""

    def __init__(
        self, archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], label: str
    ) -> None:
        self.archive, self.members, self.label = archive, members, label
        # calamine reads these when it opens the file: each is unzipped once here first.
        for part in members:
            if not part.startswith("xl/worksheets/") and not part.endswith("/"):
                for _ in _unzip(archive, part, label):
                    pass
        workbook = self._xml("xl/workbook.xml")
        rels = self._xml("xl/_rels/workbook.xml.rels") if (
            "xl/_rels/workbook.xml.rels" in members) else None
        targets = {}
        if rels is not None:
            for rel in _nodes(rels, "Relationship"):
                target = rel.get("Target", "")
                target = target.lstrip("/") if target.startswith("/") else "xl/" + target
                targets[rel.get("Id")] = target
        self.sheets: list[tuple[str, str | None]] = []
        for node in _nodes(workbook, "sheet"):
            rid = next((v for k, v in node.attrib.items() if k.endswith("}id")), None)
            self.sheets.append((node.get("name", ""), targets.get(rid)))
        self.formats = self._formats()

    def _xml(self, part: str) -> ElementTree.Element:
        try:
            return ElementTree.fromstring(b"".join(_unzip(self.archive, part, self.label)))
        except (ElementTree.ParseError, KeyError) as error:
            raise _damaged(f"{self.label} ({part})", error) from error

    def _formats(self) -> list[str | None]:
        """Each cell style's number format code; None where it shows the value as typed."""
        if "xl/styles.xml" not in self.members:
            return []
        from openpyxl.styles.numbers import BUILTIN_FORMATS

        styles = self._xml("xl/styles.xml")
        custom = {int(f.get("numFmtId", "0")): f.get("formatCode", "")
                  for f in _nodes(styles, "numFmt")}
        xfs = next(_nodes(styles, "cellXfs"), None)
        out: list[str | None] = []
        for xf in [] if xfs is None else [x for x in xfs if _local(x.tag) == "xf"]:
            fid = int(xf.get("numFmtId", "0") or 0)
            code = custom.get(fid, _LOCAL_BUILTINS.get(fid, BUILTIN_FORMATS.get(fid)))
            plain = code is None or code.strip().lower() in ("general", "@", "")
            out.append(None if plain else code)
        return out

    def choose(self, sheet: str | int | None) -> str:
        names = [n for n, _ in self.sheets]
        if not names:
            raise DataError(f"{self.label} has no sheets")
        if sheet is None:
            return names[0]
        if isinstance(sheet, int) and not isinstance(sheet, bool):
            if not 0 <= sheet < len(names):
                raise DataError(
                    f"{self.label} has no sheet {sheet} (0-based): its sheets are {names}"
                )
            return names[sheet]
        if sheet in names:
            return str(sheet)
        raise DataError(f"{self.label} has no sheet {sheet!r}: its sheets are {names}")

    def scan(self, sheet: str) -> _Scan:
        """Check the cells the sheet reaches and find its styled cells and hidden rows.

        One pass over the XML with few regexes per chunk: the extent is bounded by the rows
        that hold cells and the first chunk's columns, and a cell beyond those bounds (one
        that lies about its place) is looked for; the exact extent is computed only when
        such a cell exists or the bounds allow too large a grid.
        """
        part = dict(self.sheets).get(sheet)
        where = f'sheet "{sheet}" of {self.label}'
        if part is None or part not in self.members:
            raise _damaged(where, KeyError(f"its part {part} is missing"))
        wanted = [i for i, code in enumerate(self.formats) if code is not None]
        # Excel, LibreOffice, Google Sheets and openpyxl write r= then s=; a cell written
        # otherwise shows its typed value.
        styled_re = re.compile(
            rb'<c r="([A-Z]{1,3})([0-9]{1,7})" s="('
            + b"|".join(str(i).encode() for i in wanted) + rb')"'
        ) if wanted else None
        hidden_re = re.compile(rb'<row r="([0-9]+)"[^>]*? hidden="(?:1|true)"')
        # A row element that holds cells (or ends the chunk: counted, to be safe).
        row_re = re.compile(rb'<row r="([0-9]{1,7})"[^>]*(?<!/)>(?=\s*<c[ >]|\s*\Z)')
        cells = max_row = max_col = 0
        refless = filtered = stray = False
        declared = ""
        found_styled: list[tuple[bytes, bytes, bytes]] = []
        hidden: list[int] = []
        for buf in _chunks(_unzip(self.archive, part, self.label)):
            if not declared:
                found = re.search(rb'<dimension ref="([A-Z0-9:$]+)"', buf)
                declared = found.group(1).decode() if found else "-"
            found_cells = buf.count(b'<c r="')
            cells += found_cells
            # a cell without a reference: <c> or <c ...> whose first attribute is not r=
            refless = refless or b"<c>" in buf or buf.count(b"<c ") > found_cells
            # The extent: rows from the row elements that hold cells, columns from the first
            # chunk's cells; then a search per chunk for a cell right of those columns or
            # below those rows (one that lies about its place): the exact extent if found.
            rows = row_re.findall(buf)
            if rows:
                max_row = max(max_row, int(np.array(rows).astype(np.int64).max()))
            if not max_col:
                max_col = _max_column(_LETTERS.findall(buf))
            if not stray and (max_row or max_col):
                stray = _found(_beyond(max_col, max_row), buf)
            if b"hidden=" in buf:
                hidden += [int(r) for r in hidden_re.findall(buf)]
            filtered = filtered or b"<autoFilter" in buf
            if styled_re is not None:
                found_styled += styled_re.findall(buf)
        if declared and declared != "-" and ":" in declared:
            corner = declared.split(":")[1].replace("$", "")
            self._refuse(where, corner, *_cell_position(corner), cells, declared=True)
        if refless:
            self._walk_area(where, part, cells)
        elif stray or max_row * max_col > _allowed(cells):
            self._exact_area(where, part, cells)  # the exact extent may be smaller
        else:
            reach = f"{column_letter(max_col - 1)}{max_row}" if max_col else None
            self._refuse(where, reach, max_row, max_col, cells)
        return _Scan(_by_style(found_styled), tuple(hidden), filtered)

    def _exact_area(self, where: str, part: str, cells: int) -> None:
        """The grid's exact extent from every cell reference (numpy does the maxima)."""
        digits = re.compile(rb'<c r="[A-Z]{1,3}([0-9]{1,7})"')
        rows = cols = 0
        for buf in _chunks(_unzip(self.archive, part, self.label)):
            cols = max(cols, _max_column(_LETTERS.findall(buf)))
            found = digits.findall(buf)
            if found:
                rows = max(rows, int(np.array(found).astype(np.int64).max()))
        last = f"{column_letter(cols - 1)}{rows}" if cols else None
        self._refuse(where, last, rows, cols, cells)

    def _walk_area(self, where: str, part: str, cells: int) -> None:
        """The grid's exact extent, tag by tag: cells without a reference follow the last."""
        tag = re.compile(rb'<(row|c)\b([^>]*)>')
        attr_r = re.compile(rb' r="([A-Z]{0,3})([0-9]{0,7})"')
        rows = cols = count = row = col = 0
        last = ""
        for buf in _chunks(_unzip(self.archive, part, self.label)):
            for kind, attrs in tag.findall(buf):
                ref = attr_r.search(attrs)
                if kind == b"row":
                    row = int(ref.group(2)) if ref and ref.group(2) else row + 1
                    col = 0
                    continue
                count += 1
                if ref and ref.group(1):
                    col = _column(ref.group(1)) + 1
                    row = int(ref.group(2)) if ref.group(2) else row
                else:
                    col += 1
                if row > rows or col > cols:
                    rows, cols = max(rows, row), max(cols, col)
                    last = f"{column_letter(cols - 1)}{rows}"
        self._refuse(where, last, rows, cols, max(count, cells))

    def _refuse(
        self, where: str, last: str | None, rows: int, cols: int, cells: int, *,
        declared: bool = False,
    ) -> None:
        area = rows * cols
        if area <= _allowed(cells):
            return
        reach = f"declares cells up to {last}" if declared else (
            f"has cells up to {last}" if last else f"has {cells:,} cells in one row")
        raise DataError(
            f"{where} was refused: it {reach}, a grid of {area:,} cells for {cells:,} filled "
            "ones, more than campaignkit reads; delete the stray cells far below or to the "
            "right of your data (or the empty rows and columns), or save the sheet as CSV"
        )

_LETTERS = re.compile(rb'<c r="([A-Z]{1,3})[0-9]')


def _columns(letters: Sequence[bytes]) -> np.ndarray:
    """Columns (1-based) of cell references' letters, vectorised (A -> 1, XFD -> 16384)."""
    codes = np.frombuffer(np.array(letters, dtype="S3").tobytes(), np.uint8).reshape(-1, 3)
    value = np.zeros(len(codes), np.int64)
    for j in range(3):
        present = codes[:, j] > 0
        value = np.where(present, value * 26 + codes[:, j].astype(np.int64) - 64, value)
    return value


def _max_column(letters: list[bytes]) -> int:
    return int(_columns(letters).max()) if letters else 0


def _by_style(
    found: list[tuple[bytes, bytes, bytes]],
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Styled cells (letters, row, style) grouped by style as 0-based rows and columns."""
    if not found:
        return {}
    letters, rows, styles = zip(*found, strict=True)
    row = np.array(rows).astype(np.int64) - 1
    column = _columns(letters) - 1
    style = np.array(styles).astype(np.int64)
    return {int(k): (row[style == k], column[style == k]) for k in np.unique(style)}


def _found(pattern: str, buf: bytes) -> bool:
    """Whether ``pattern`` occurs in ``buf``, by RE2 (Arrow's regex engine: linear time, and
    several times faster than Python's re on an alternation tried at every cell)."""
    return bool(pc.match_substring_regex(pa.array([buf], pa.large_binary()), pattern)[0].as_py())


@functools.cache
def _beyond(max_col: int, max_row: int) -> str:
    """An RE2 pattern for a cell reference right of column ``max_col`` or below row
    ``max_row`` (character classes only, no lookaround)."""
    letters = column_letter(max_col - 1) if max_col else ""
    wider = _greater(letters, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 3) if letters else "[A-Z]"
    lower = _greater(str(max_row), "0123456789", 7)
    return f'<c r="(?:{wider}|[A-Z]{{1,3}}(?:(?:{lower})"|[0-9]{{8}}))'


def _greater(value: str, alphabet: str, longest: int) -> str:
    """A regex for strings over ``alphabet`` that name a larger number than ``value``:
    as long and larger at the first difference, or longer (without a leading zero)."""
    options = []
    for i, ch in enumerate(value):
        above = alphabet[alphabet.index(ch) + 1 :]
        if above:
            rest = f"[{alphabet[0]}-{alphabet[-1]}]{{{len(value) - i - 1}}}"
            options.append(f"{re.escape(value[:i])}[{above[0]}-{above[-1]}]{rest}")
    if len(value) < longest:
        first = alphabet[1:] if alphabet[0] == "0" else alphabet
        options.append(f"[{first[0]}-{first[-1]}][{alphabet[0]}-{alphabet[-1]}]"
                       f"{{{len(value)},{longest - 1}}}")
    return "|".join(options) or "(?!)"


def _chunks(pieces: Iterator[bytes]) -> Iterator[bytes]:
    """Decompressed XML cut after a ``>``, so no tag is split between two chunks."""
    tail = b""
    for piece in pieces:
        buf = tail + piece
        cut = buf.rfind(b">") + 1
        if cut:
            buf, tail = buf[:cut], buf[cut:]
            yield buf
        else:
            tail = buf
    if tail:
        yield tail


def column_letter(position: int) -> str:
    """The spreadsheet letters of a 0-based column position (0 -> A, 26 -> AA)."""
    letters = ""
    position += 1
    while position:
        position, rest = divmod(position - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _allowed(cells: int) -> int:
    return min(MAX_CELLS, max(SPARSE_FLOOR, SPARSE_RATIO * cells))


def _column(letters: bytes | str) -> int:
    """0-based column of Excel letters (A -> 0, XFD -> 16383)."""
    n = 0
    for ch in letters if isinstance(letters, str) else letters.decode():
        n = n * 26 + ord(ch) - 64
    return n - 1


def _cell_position(ref: str) -> tuple[int, int]:
    """(rows, columns) of the grid from A1 to a reference like XFD1048576."""
    found = re.fullmatch(r"\$?([A-Z]{1,3})\$?([0-9]{1,7})", ref)
    if found is None:
        return 0, 0
    return int(found.group(2)), _column(found.group(1)) + 1


# -- reading a workbook with calamine ---------------------------------------------------------


def _read_workbook(
    where: IO[bytes],
    sheet: str | int | None,
    name: str | None,
    *,
    formats: tuple[_XlsxParts, _Scan] | _OdsScan | None,
) -> Table:
    label = name or "the workbook"
    try:
        book = CalamineWorkbook.from_filelike(where)
    except PasswordError as error:
        raise DataError(f"{label} is password-protected: save a copy without one") from error
    except Exception as error:  # every reader error, whatever its class, is one sentence
        raise _damaged(label, error) from error
    try:
        names = list(book.sheet_names)
    except Exception as error:
        raise _damaged(label, error) from error
    if not names:
        raise DataError(f"{label} has no sheets")
    if sheet is None:
        chosen = names[0]
    elif isinstance(sheet, int) and not isinstance(sheet, bool):
        if not 0 <= sheet < len(names):
            raise DataError(f"{label} has no sheet {sheet} (0-based): its sheets are {names}")
        chosen = names[sheet]
    elif sheet in names:
        chosen = str(sheet)
    else:
        raise DataError(f"{label} has no sheet {sheet!r}: its sheets are {names}")
    where_sheet = f'sheet "{chosen}" of {label}'
    try:
        found = book.get_sheet_by_name(chosen)
        merged = found.merged_cell_ranges or []
    except Exception as error:
        raise _damaged(where_sheet, error) from error
    hidden: tuple[int, ...] = ()
    info: dict[str, Any] = {"source": name, "format": "workbook", "sheet": chosen,
                            "encoding": None}
    show: _Shown | None = None
    if isinstance(formats, _OdsScan):
        show = _OdsShown(formats)
    elif formats is not None:
        parts, scan = formats
        show = _XlsxShown(parts, scan)
        hidden = scan.hidden
        info["filtered"] = scan.filtered
    cells = _Cells(show)
    for first, rows in _row_chunks(found, where_sheet):
        cells.add(first, rows)
    # The reader's copies of the sheet and its shared strings are as large as the text
    # columns: let them go (a message that needs the other sheets opens the file again).
    del found, book
    give_back()
    grid, typed, numeric, formatted = cells.finish()
    return Table(
        [],
        np.arange(1, len(grid) + 1, dtype=np.int64),
        info,
        grid=grid,
        typed=typed,
        numeric=numeric,
        formatted=formatted,
        hidden=hidden,
        merged=tuple((a[0], a[1], b[0], b[1]) for a, b in merged),
        overview=lambda: _overview(
            where, names, formats[0] if isinstance(formats, tuple) else None),
    )


# Cells converted at a time: the Python objects of a sheet live a chunk of rows at a time.
_CHUNK_CELLS = 1 << 19


def _row_chunks(found: Any, where: str) -> Iterator[tuple[int, list[list[Any]]]]:
    """The sheet's rows from A1 (row index 0 is row 1), a few thousand at a time, each as
    wide as the sheet's last column: calamine leaves out the empty columns before the first
    filled one, put back here (its ``to_python(skip_empty_area=False)`` grid)."""
    try:
        end = found.end
        rows = iter(found.iter_rows()) if end is not None else iter(())
    except Exception as error:  # every reader error, whatever its class, is one sentence
        raise _damaged(where, error) from error
    if end is None:
        return
    width = end[1] + 1
    size = max(1, _CHUNK_CELLS // width)
    first = 0
    while True:
        try:
            chunk = list(itertools.islice(rows, size))
        except Exception as error:
            raise _damaged(where, error) from error
        if not chunk:
            return
        if min(map(len, chunk)) < width:
            chunk = [[""] * (width - len(row)) + row for row in chunk]
        yield first, chunk
        first += len(chunk)


# Patches of one chunk: column -> {row in the chunk: the text its format shows}.
_Patches: TypeAlias = dict[int, dict[int, str]]
_Shown: TypeAlias = Callable[[int, list[tuple[Any, ...]]], _Patches]


class _Cells:
    """A sheet's cells, a chunk of rows at a time, as Arrow text columns: each cell as it is
    shown, the typed text kept for the chunks where that differs, and which were numbers."""

    def __init__(self, show: _Shown | None) -> None:
        self.show = show
        self.shown: list[list[pa.Array]] = []
        self.typed: list[list[pa.Array]] = []
        self.numbers: list[list[np.ndarray | None]] = []
        self.lengths: list[int] = []
        self.formatted: set[int] = set()

    def add(self, first: int, rows: list[list[Any]]) -> None:
        columns = list(zip(*rows, strict=True))
        if not self.shown:
            self.shown = [[] for _ in columns]
            self.typed = [[] for _ in columns]
            self.numbers = [[] for _ in columns]
        patches = self.show(first, columns) if self.show is not None else {}
        for c, values in enumerate(columns):
            typed, numbers = _column_text(values)
            shown = _patched(typed, patches[c]) if c in patches else typed
            if shown is not typed:
                self.formatted.add(c)
            self.shown[c].append(shown)
            self.typed[c].append(typed)
            self.numbers[c].append(numbers)
        self.lengths.append(len(rows))

    def finish(
        self,
    ) -> tuple[pd.DataFrame, dict[int, Any], list[np.ndarray | None], frozenset[int]]:
        grid = pd.DataFrame(
            {c: pd.Series(pa.chunked_array(chunks, pa.large_string()), dtype="str")
             for c, chunks in enumerate(self.shown)},
            index=pd.RangeIndex(sum(self.lengths)),
        )
        typed = {c: pd.array(pa.chunked_array(self.typed[c], pa.large_string()), dtype="str")
                 for c in sorted(self.formatted)}
        numeric: list[np.ndarray | None] = []
        for chunks in self.numbers:
            if all(m is None for m in chunks):
                numeric.append(None)
                continue
            numeric.append(np.concatenate([
                np.zeros(n, bool) if m is None else m
                for m, n in zip(chunks, self.lengths, strict=True)
            ]))
        return grid, typed, numeric, frozenset(self.formatted)


_WHEN = frozenset({dt.date, dt.datetime, dt.time, dt.timedelta})


def _column_text(values: tuple[Any, ...]) -> tuple[pa.Array, np.ndarray | None]:
    """A chunk of one column's typed values as text (`cell_text`), and which were numbers
    (None: none were)."""
    kinds = set(map(type, values))
    if kinds == {str}:
        return pa.array(values, pa.large_string()), None
    numbers = None
    if float in kinds or int in kinds:
        numbers = np.fromiter((type(v) is float or type(v) is int for v in values), bool,
                              len(values))
    if kinds == {float}:
        floats = np.array(values, dtype=np.float64)
        if ((np.trunc(floats) == floats) & (np.abs(floats) < 1e16)).all():
            # whole numbers, as `_float_text` writes them, in one cast
            return pc.cast(pa.array(floats.astype(np.int64)), pa.large_string()), numbers
    if kinds & _WHEN:  # dates repeat down a column: each converted once
        seen = {v: cell_text(v) for v in set(values) if type(v) in _WHEN}
        texts = [v if type(v) is str else seen[v] if type(v) in _WHEN else cell_text(v)
                 for v in values]
    else:
        texts = [v if type(v) is str else cell_text(v) for v in values]
    return pa.array(texts, pa.large_string()), numbers


def _patched(typed: pa.Array, patch: dict[int, str]) -> pa.Array:
    """``typed`` with the cells of ``patch`` that show other text replaced (``typed`` itself
    when none do)."""
    at = np.array(sorted(patch), dtype=np.int64)
    texts = pa.array([patch[r] for r in at.tolist()], pa.large_string())
    if len(at) == len(typed):  # every cell patched (a column of dates): the texts are it
        return texts if pc.any(pc.not_equal(typed, texts)).as_py() else typed
    differ = np.asarray(pc.not_equal(typed.take(pa.array(at)), texts))
    if not differ.any():
        return typed
    mask = np.zeros(len(typed), bool)
    mask[at[differ]] = True
    return pc.replace_with_mask(typed, pa.array(mask), texts.filter(pa.array(differ)))


class _XlsxShown:
    """The text each styled number or date cell of a chunk shows, by xlfmt: once per
    distinct (value, format)."""

    def __init__(self, parts: _XlsxParts, scan: _Scan) -> None:
        from xlfmt import format_value

        self.format_value = format_value
        self.codes = parts.formats
        self.known: dict[tuple[Any, str], str] = {}
        found = [(rows, columns, np.full(len(rows), style, np.int64))
                 for style, (rows, columns) in scan.styled.items()
                 if style < len(self.codes) and self.codes[style] is not None]
        # column -> (its styled rows, increasing; their styles)
        self.columns: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if found:
            rows, columns, styles = (np.concatenate(a) for a in zip(*found, strict=True))
            order = np.lexsort((rows, columns))
            rows, columns, styles = rows[order], columns[order], styles[order]
            cuts = np.flatnonzero(np.diff(columns)) + 1
            for r, c, s in zip(np.split(rows, cuts), np.split(columns, cuts),
                               np.split(styles, cuts), strict=True):
                self.columns[int(c[0])] = (r, s)

    def __call__(self, first: int, columns: list[tuple[Any, ...]]) -> _Patches:
        last = first + len(columns[0])
        out: _Patches = {}
        for c, (rows, styles) in self.columns.items():
            if c >= len(columns):
                continue
            i, j = np.searchsorted(rows, (first, last))
            if i == j:
                continue
            values = columns[c]
            patch: dict[int, str] = {}
            for r, style in zip((rows[i:j] - first).tolist(), styles[i:j].tolist(),
                                strict=True):
                value = values[r]
                if type(value) is str or type(value) is bool or value is None:
                    continue  # text shows as typed; booleans as TRUE/FALSE
                code = self.codes[style]
                assert code is not None
                text = self.known.get((value, code))
                if text is None:
                    text = self.known[value, code] = _format(self.format_value, value, code)
                patch[r] = text
            if patch:
                out[c] = patch
        return out


class _OdsShown:
    """The text LibreOffice showed, when it saved, for each number or date cell of a chunk."""

    def __init__(self, scan: _OdsScan) -> None:
        self.blocks = scan.shown
        self.tops = np.array([b[0] for b in scan.shown], np.int64)
        self.ends = self.tops + np.array([b[1] for b in scan.shown], np.int64)

    def __call__(self, first: int, columns: list[tuple[Any, ...]]) -> _Patches:
        last = first + len(columns[0])
        out: _Patches = {}
        for k in np.flatnonzero((self.tops < last) & (self.ends > first)).tolist():
            top, count, column, span, text = self.blocks[k]
            rows = range(max(top, first) - first, min(top + count, last) - first)
            for c in range(column, min(column + span, len(columns))):
                values = columns[c]
                for r in rows:
                    value = values[r]
                    if type(value) is str or type(value) is bool or value is None:
                        continue
                    out.setdefault(c, {})[r] = text
        return out


def _overview(
    where: IO[bytes], names: list[str], parts: _XlsxParts | None
) -> list[tuple[str, list[list[str]]]]:
    """Each sheet's first 30 rows as text, for a message; a sheet that cannot be read safely
    (or at all) shows no rows."""
    try:
        where.seek(0)
        book = CalamineWorkbook.from_filelike(where)
    except Exception:
        return [(name, []) for name in names]
    out: list[tuple[str, list[list[str]]]] = []
    for name in names:
        try:
            if parts is not None:
                parts.scan(name)  # never let the reader allocate a bomb's grid
            rows = book.get_sheet_by_name(name).to_python(nrows=30)
        except Exception:
            out.append((name, []))
            continue
        out.append((name, [[cell_text(v) for v in row] for row in rows]))
    return out


def _format(format_value: Callable[..., str], value: Any, code: str) -> str:
    """Excel's text for a value, trimmed of the padding ``_)`` and ``*`` fills add."""
    if isinstance(value, dt.timedelta):
        value = value.total_seconds() / 86400
    try:
        text = str(format_value(value, code))
    except Exception:  # a format xlfmt cannot draw: the typed value, as before
        return _typed_text(value)
    return text.strip()


def _typed_text(value: object) -> str:
    return value if isinstance(value, str) else cell_text(value)


# -- cell values as text ---------------------------------------------------------------------


def _float_text(value: float) -> str:
    if value != value:  # NaN
        return ""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return format(value, ".15g")  # Excel shows at most 15 significant digits


def _date_text(value: dt.date) -> str:
    return value.isoformat()


def _datetime_text(value: dt.datetime) -> str:
    if value.hour == value.minute == value.second == value.microsecond == 0 and not value.tzinfo:
        return value.date().isoformat()
    spec = "minutes" if value.second == 0 and value.microsecond == 0 else "seconds"
    return value.isoformat(sep=" ", timespec=spec)


# Exact types calamine returns, converted without the isinstance ladder (a third of all cells).
_FAST_TEXT: dict[type, Any] = {
    str: str,
    float: _float_text,
    int: str,
    bool: lambda v: "TRUE" if v else "FALSE",
    dt.date: _date_text,
    dt.datetime: _datetime_text,
    type(None): lambda v: "",
}


def cell_text(value: object) -> str:
    """A typed cell value as text: no ``.0`` on whole numbers, dates in ISO 8601 (no 00:00)."""
    fast = _FAST_TEXT.get(type(value))
    if fast is not None:
        return fast(value)  # type: ignore[no-any-return]
    if value is None or value is pd.NaT or value is pd.NA:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, np.datetime64 | np.timedelta64):
        value = pd.Timestamp(value) if isinstance(value, np.datetime64) else pd.Timedelta(value)
        if value is pd.NaT:
            return ""
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return _float_text(float(value))
    if isinstance(value, dt.datetime):
        return _datetime_text(value)
    if isinstance(value, dt.date):
        return _date_text(value)
    if isinstance(value, dt.time):
        spec = "minutes" if value.second == 0 and value.microsecond == 0 else "seconds"
        return value.isoformat(timespec=spec)
    if isinstance(value, dt.timedelta) and not isinstance(value, pd.Timedelta):
        seconds = int(value.total_seconds())  # a duration as Excel's [h]:mm:ss shows it
        sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
        return f"{sign}{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    if isinstance(value, pd.Timestamp | pd.Timedelta):
        return str(value)
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


# -- text files ------------------------------------------------------------------------------

_ENCODING_NAMES = {
    "utf_8": "UTF-8",
    "utf_16": "UTF-16",
    "utf_16_le": "UTF-16",
    "utf_16_be": "UTF-16",
    "utf_32": "UTF-32",
    "cp1252": "Windows-1252",
    "latin_1": "Latin-1",
    "cp932": "Shift-JIS",
    "shift_jis": "Shift-JIS",
    "euc_jp": "EUC-JP",
    "gb18030": "GB18030 (Chinese)",
    "gb2312": "GB2312 (Chinese)",
    "big5": "Big5 (Chinese)",
    "euc_kr": "EUC-KR (Korean)",
    "cp949": "EUC-KR (Korean)",
    "cp1251": "Windows-1251 (Cyrillic)",
    "koi8_r": "KOI8-R (Cyrillic)",
    "cp1250": "Windows-1250 (Central European)",
    "cp1253": "Windows-1253 (Greek)",
    "cp1254": "Windows-1254 (Turkish)",
    "cp1255": "Windows-1255 (Hebrew)",
    "cp1256": "Windows-1256 (Arabic)",
    "mac_roman": "Mac Roman",
}


def _encoding_note(encoding: str) -> str | None:
    if encoding in ("utf-8", "utf-8-sig"):
        return None
    if encoding == "cp1252":
        return (
            'the file is not UTF-8: it was read as Windows-1252 (what Excel writes for "CSV"); '
            'check accented names, or save it as "CSV UTF-8" to be sure'
        )
    if encoding == "utf-16":
        return 'the file is UTF-16 (Excel\'s "Unicode Text"): read as such'
    shown = _ENCODING_NAMES.get(encoding, encoding)
    return (
        f"the file is not UTF-8: it was read as {shown} (detected by charset-normalizer); "
        'check the names, or save it as "CSV UTF-8" to be sure'
    )


def _decode(data: bytes) -> tuple[str, str]:
    """The text of a file and the name of the encoding it was read with."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", "replace"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return data.decode("utf-32", "replace"), "utf-32"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode Text" export: UTF-16 with a BOM, tab-separated.
        return data.decode("utf-16", "replace"), "utf-16"
    head = data[:8192]
    # NUL bytes in a text file mean UTF-16/32 without a BOM (UTF-8 would take them as NULs).
    nuls = head.count(0)
    if not nuls or nuls * 50 < len(head):
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        return data.decode("cp1252", "replace"), "cp1252"
    encoding = best.encoding
    text = data.decode(encoding, "replace")
    if encoding != "cp1252":
        try:
            if data.decode("cp1252") == text and not text.isascii():
                return text, "cp1252"  # the same characters: Excel's own choice by name
        except UnicodeDecodeError:
            pass
    if encoding.startswith("utf_16"):
        encoding = "utf_16_le" if encoding.endswith("le") else "utf_16_be"
    return text, encoding


def _read_text_bytes(
    data: bytes, name: str | None, sheet: str | int | None, *, tab: bool
) -> Table:
    _no_sheet(sheet, name)
    utf8 = _utf8(data)
    if utf8 is not None:
        return _read_utf8(*utf8, name, tab)
    text, encoding = _decode(data)
    return _read_text(text, name, encoding, tab)


def _utf8(data: bytes) -> tuple[bytes, str] | None:
    """The bytes of a valid UTF-8 file's text (without its BOM) and the encoding `_decode`
    names for it; None for any other file. Checked a few megabytes at a time: the file is
    never held as a Python string (4 bytes a character once a name is in Chinese)."""
    encoding = "utf-8"
    if data.startswith(codecs.BOM_UTF8):
        data, encoding = data[3:], "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE,
                          codecs.BOM_UTF16_BE)):
        return None
    else:
        head = data[:8192]
        nuls = head.count(0)
        if nuls and nuls * 50 >= len(head):
            return None  # UTF-16/32 without a BOM: `_decode` asks charset-normalizer
    # Arrow's validation accepts exactly what Python's strict decoder does, five times faster.
    whole = pa.Array.from_buffers(pa.large_binary(), 1, [
        None, pa.py_buffer(np.array([0, len(data)], dtype=np.int64)), pa.py_buffer(data)])
    try:
        whole.cast(pa.large_string())
    except pa.ArrowInvalid:
        return None
    return data.removeprefix(codecs.BOM_UTF8), encoding


def _read_utf8(data: bytes, encoding: str, name: str | None, tab: bool) -> Table:
    """`_read_text` on a UTF-8 file's bytes: pandas parses them as they are."""
    head = codecs.getincrementaldecoder("utf-8")().decode(data[: 4 * 65536])
    delimiter = "\t" if tab else _sniff_delimiter(head)
    if _longest_line(data) > MAX_COLUMNS:  # a line of n bytes has at most n characters
        _check_width(data.decode("utf-8"), delimiter, name or "the file")
    grid = None
    if b"\x00" not in data:
        grid = _arrow_grid(data, delimiter)
        if grid is None:
            grid = _parse_grid(io.BytesIO(data), delimiter)
    if grid is None:
        return _read_text(data.decode("utf-8"), name, encoding, tab)
    return _text_table([], grid, name, encoding, delimiter)


def _read_text(text: str, name: str | None, encoding: str | None, tab: bool) -> Table:
    text = text.removeprefix("\ufeff")
    delimiter = "\t" if tab else _sniff_delimiter(text)
    _check_width(text, delimiter, name or "the file")
    grid = _read_grid(text, delimiter)
    records = [] if grid is not None else list(
        csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    return _text_table(records, grid, name, encoding, delimiter)


def _text_table(
    records: list[list[str]], grid: pd.DataFrame | None, name: str | None,
    encoding: str | None, delimiter: str,
) -> Table:
    numbers = np.arange(1, (len(grid) if grid is not None else len(records)) + 1,
                        dtype=np.int64)
    note = _encoding_note(encoding) if encoding else None
    info = {
        "source": name,
        "format": "csv",
        "encoding": encoding,
        "encoding_note": note,
        "delimiter": delimiter,
    }
    notes = (Problem(None, None, note, "sheet"),) if note else ()
    return Table(records, numbers, info, notes, grid)


def _check_width(text: str, delimiter: str, label: str) -> None:
    """Refuse a record wider than Excel's 16,384 columns before any parser builds it."""
    if _longest_line(text) <= MAX_COLUMNS:
        return  # a line of n characters has at most n + 1 fields, less its delimiters
    widest = line_no = 0
    for number, line in enumerate(text.split("\n"), start=1):
        if line.count(delimiter) >= MAX_COLUMNS:
            fields = len(next(csv.reader([line], delimiter=delimiter), []))
            if fields > widest:
                widest, line_no = fields, number
    if widest > MAX_COLUMNS:
        raise DataError(
            f"{label} was refused: line {line_no} has {widest:,} columns, more than a sheet "
            f"has ({MAX_COLUMNS:,}); check that it is the right file and its delimiter"
        )


def _longest_line(text: str | bytes, step: int = 1 << 23) -> int:
    """The length of the longest line, a few megabytes at a time."""
    if isinstance(text, bytes):
        return _longest_bytes_line(text, step)
    longest = current = 0
    for start in range(0, len(text), step):
        lines = text[start : start + step].split("\n")
        if len(lines) == 1:
            current += len(lines[0])
            continue
        longest = max(longest, current + len(lines[0]), max(map(len, lines[1:-1]), default=0))
        current = len(lines[-1])
    return max(longest, current)


def _longest_bytes_line(data: bytes, step: int) -> int:
    """`_longest_line` of bytes from where their newlines are (no line is made)."""
    longest, last = 0, -1  # the position of the last newline seen
    for start in range(0, len(data), step):
        chunk = np.frombuffer(data, np.uint8, min(step, len(data) - start), start)
        ends = np.flatnonzero(chunk == 0x0A) + start
        if len(ends):
            longest = max(longest, int(ends[0]) - last - 1, int(np.diff(ends).max(initial=1)) - 1)
            last = int(ends[-1])
    return max(longest, len(data) - last - 1)


def _read_grid(text: str, delimiter: str) -> pd.DataFrame | None:
    """Every record as text by pandas' C parser: a tenth of the memory and time of csv.reader
    lists at a million rows. None when it cannot (ragged rows, NUL bytes): csv.reader then."""
    if "\x00" in text:
        return None
    return _parse_grid(io.StringIO(text), delimiter)


def _parse_grid(handle: IO[str] | IO[bytes], delimiter: str) -> pd.DataFrame | None:
    try:
        grid = pd.read_csv(
            handle, sep=delimiter, header=None, dtype=str, engine="c", encoding="utf-8",
            keep_default_na=False, na_filter=False, skip_blank_lines=False, quotechar='"',
            doublequote=True, skipinitialspace=False,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        return None
    grid.columns = range(grid.shape[1])
    return grid


def _arrow_grid(data: bytes, delimiter: str) -> pd.DataFrame | None:
    """`_parse_grid` by Arrow's CSV reader, three times faster, for the files both read
    alike: no quote at all, no BOM left (pandas would take it off) and a first line that is
    not empty (pandas refuses those). None otherwise, and for any file Arrow will not read
    as a table (a row with fewer or more cells than the first): pandas reads it then."""
    if b'"' in data or data.startswith(codecs.BOM_UTF8):
        return None
    line = re.match(rb"[^\r\n]*", data)
    first = line[0] if line else b""
    if not first:
        return None
    width = first.count(delimiter.encode()) + 1
    try:
        table = pa_csv.read_csv(
            pa.BufferReader(data),
            read_options=pa_csv.ReadOptions(autogenerate_column_names=True, block_size=_CHUNK),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, quote_char=False,
                                              ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(
                column_types={f"f{i}": pa.large_string() for i in range(width)}),
        )
    except pa.ArrowInvalid:
        return None
    if table.num_columns != width or not all(
            pa.types.is_large_string(column.type) for column in table.columns):
        return None
    grid = pd.DataFrame({i: pd.Series(column, dtype="str")
                         for i, column in enumerate(table.columns)})
    grid.columns = range(width)
    if len(data) > _CHUNK:
        # The reader's blocks, freed, would stay in the heap and raise the later steps' peak
        # (by 60 MiB on the largest sheet).
        give_back()
    return grid


def _sniff_delimiter(text: str) -> str:
    """Comma, semicolon or tab: the one the header line uses most, csv.Sniffer on a tie."""
    sample = text[:65536]
    header = next((line for line in sample.splitlines() if line.strip()), "")
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(counts.values())
    tied = [d for d in _DELIMITERS if counts[d] == best]
    if best and len(tied) == 1:
        return tied[0]
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        sniffed = ""
    if sniffed and sniffed in (tied if best else _DELIMITERS):
        return sniffed
    return tied[0] if best else ","
