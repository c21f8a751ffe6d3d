"""Read a recipients sheet (CSV, XLSX, ODS or a DataFrame) into a recipients frame.

The recipients frame keeps every sheet column as text, exactly as the sheet shows it, on
an index of the sheet's own row numbers (index name ``"row"``: the header is row 1, so
the first recipient is row 2), and adds:

``to``
    the phone number in E.164 (``"+16175550123"``), or ``""`` when it is missing or invalid;
``problems``
    a tuple of `Problem` per row (a row with any problem is never sent);
``repairs``
    a tuple of short repair names per row (see `campaignkit._phones.REPAIRS`).

Spreadsheets are hostile (STYLE.md habit 11): BOMs, header whitespace, numbers stored as
floats, lost leading zeros and plus signs, empty rows. Each is handled and reported:
per row in ``problems`` / ``repairs``, for the sheet in `load_summary`.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import difflib
import html
import io
import numbers
import os
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, TypeAlias

import numpy as np
import pandas as pd
from python_calamine import CalamineError, CalamineWorkbook, PasswordError

from ._errors import ColumnError, DataError
from ._phones import check_region, normalise_phones
from .problems import Problem

__all__ = [
    "RESERVED_COLUMNS",
    "LoadSummary",
    "load_recipients",
    "load_summary",
    "normalise_phones",
]

#: Columns campaignkit writes; a sheet column with one of these names is kept as "<name> (sheet)".
RESERVED_COLUMNS: tuple[str, ...] = (
    "to",
    "problems",
    "repairs",
    "text",
    "encoding",
    "segments",
    "characters",
    "media",
    "template",
)
ATTRS_KEY = "campaignkit.load"

# Header names of a phone column, compared without case, spaces, punctuation, "_" or "-".
_PHONE_NAMES = frozenset(
    {
        "phone", "phones", "phonenumber", "phoneno", "mobile", "mobilenumber", "mobileno",
        "mobilephone", "mobilephonenumber", "cell", "cellphone", "cellnumber", "cellno",
        "cellular", "whatsapp", "whatsappnumber", "to", "number", "msisdn", "tel", "telno",
        "telephone", "telephonenumber", "telephoneno", "contactnumber", "sms", "smsnumber",
    }
)  # fmt: skip
_SPREADSHEETS = frozenset({".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"})
_TEXTS = frozenset({".csv", ".tsv", ".tab", ".txt"})
_ZIP_MAGIC = b"PK\x03\x04"  # xlsx, xlsm and ods are zip files
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls
_INVISIBLE = "\ufeff\u200b\u200c\u200d\u2060\u00a0\u200e\u200f"
# What a cell may hold and still be empty: whitespace and the invisible characters above.
_BLANK = _INVISIBLE + " \t\r\n\x0b\x0c\u2007\u202f\u3000"
_DELIMITERS = ",;\t"
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}

Source: TypeAlias = str | os.PathLike[str] | IO[bytes] | IO[str] | bytes | pd.DataFrame


@dataclass(frozen=True, slots=True)
class _Table:
    """A sheet as records of text with the row number Excel shows for each."""

    records: list[list[str]]
    numbers: list[int]
    info: dict[str, Any] = field(default_factory=dict)
    notes: tuple[Problem, ...] = ()
    #: the same records as a frame of text columns 0..n-1 (the fast CSV path), or None
    grid: pd.DataFrame | None = None


# -- public API ------------------------------------------------------------------------------


def load_recipients(
    source: Source,
    *,
    phone_column: str | None = None,
    default_region: str | None = None,
    sheet: str | int | None = None,
    duplicates: Literal["first", "keep"] = "first",
) -> pd.DataFrame:
    """Read recipients from a CSV/XLSX/ODS file, a binary file object or a DataFrame.

    Parameters
    ----------
    source
        A path (``.csv``, ``.tsv``, ``.txt``, ``.xlsx``, ``.xlsm``, ``.xls``, ``.xlsb``,
        ``.ods``), a binary file object (a spreadsheet is recognised by its zip header), a
        text file object (CSV), or a DataFrame. A frame this function returned can be
        passed again: its problems are recomputed (after you fix cells), nothing else moves.
    phone_column
        The column holding phone numbers. By default the one column named like a phone
        column (phone, mobile, cell, whatsapp, to, number, msisdn, tel, ...).
    default_region
        ISO 3166 region (``"US"``, ``"GB"``) for numbers written without a country code;
        it also lets a lost leading zero or plus sign be restored.
    sheet
        Sheet name or 0-based position in a workbook (default: the first sheet).
    duplicates
        ``"first"``: a number seen on an earlier row gives a ``duplicate`` problem (the row
        is not sent); ``"keep"``: send to every row, as Sociocs's ``duplicates_allowed``.

    Returns
    -------
    pandas.DataFrame
        Every sheet column as text, plus ``to``, ``problems`` and ``repairs``, indexed by
        the sheet's row numbers (index name ``"row"``). What concerns the sheet rather than
        a row (empty rows dropped, trimmed headers, the encoding) is in `load_summary`.

    Raises
    ------
    DataError
        The source cannot be read (no such file, not a spreadsheet, no header row).
    ColumnError
        No phone column, several candidates, or ``phone_column`` names no column.

    Examples
    --------
    >>> frame = load_recipients(io.StringIO("Name,Phone\\nAda,(617) 555-0123\\n"),
    ...                         default_region="US")
    >>> frame.loc[2, "to"], frame.index.name
    ('+16175550123', 'row')
    """
    region = check_region(default_region)
    if duplicates not in ("first", "keep"):
        raise DataError(f'duplicates={duplicates!r} is not an option: use "first" or "keep"')
    previous: dict[str, Any] = {}
    if isinstance(source, pd.DataFrame):
        previous = dict(source.attrs.get(ATTRS_KEY, {}))
        frame, notes, info = _frame_from_dataframe(source, previous)
    else:
        table = _read(source, sheet)
        frame, notes, info = _frame_from_table(table)
    original_names = {old: new for old, new in info.get("renamed", ())}
    phone = _find_phone_column(
        list(frame.columns), phone_column, original_names, previous.get("phone_column")
    )
    to, problems, repairs = normalise_phones(frame[phone], region)
    if duplicates == "first":
        problems = _mark_duplicates(frame[phone], to, problems, phone)
    out = frame.assign(to=to, problems=problems, repairs=repairs)
    out.index.name = "row"
    out.attrs = {
        ATTRS_KEY: {
            **info,
            "phone_column": phone,
            "default_region": region,
            "duplicates": duplicates,
            "notes": notes,
        }
    }
    return out


@dataclass(frozen=True)
class LoadSummary:
    """What `load_recipients` found: counts per problem kind and repair, and sheet notes.

    ``problems`` and ``repairs`` count rows (a row with two problems of one kind counts
    once). ``notes`` are the sheet-level reports (kind ``"sheet"``): empty rows dropped,
    headers trimmed or renamed, the encoding.
    """

    rows: int
    valid: int
    problems: Mapping[str, int]
    repairs: Mapping[str, int]
    repaired: int
    empty_rows_dropped: tuple[int, ...] = ()
    headers_trimmed: tuple[str, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()
    encoding: str | None = None
    source: str | None = None
    phone_column: str | None = None
    notes: tuple[Problem, ...] = ()

    def __repr__(self) -> str:
        parts = [f"{self.valid} valid"]
        parts += [f"{n} {kind}" for kind, n in _by_count(self.problems)]
        tail = f"; {self.repaired} repaired" if self.repaired else ""
        if self.empty_rows_dropped:
            n = len(self.empty_rows_dropped)
            tail += f"; {n} empty row{'s' if n != 1 else ''} dropped"
        return f"<LoadSummary {self.rows} rows: {', '.join(parts)}{tail}>"

    def _repr_html_(self) -> str:
        e = html.escape
        lines = [("rows", str(self.rows)), ("valid", str(self.valid))]
        lines += [(kind, str(n)) for kind, n in _by_count(self.problems)]
        lines += [(f"repair: {name}", str(n)) for name, n in _by_count(self.repairs)]
        if self.empty_rows_dropped:
            lines.append(("empty rows dropped", ", ".join(map(str, self.empty_rows_dropped))))
        if self.headers_trimmed:
            lines.append(("headers trimmed", ", ".join(self.headers_trimmed)))
        for old, new in self.renamed:
            lines.append(("renamed", f"{old} → {new}"))
        if self.encoding:
            lines.append(("encoding", self.encoding))
        if self.phone_column:
            lines.append(("phone column", self.phone_column))
        body = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in lines)
        title = e(self.source) if self.source else "recipients"
        return f"<table><caption>{title}</caption>{body}</table>"


def load_summary(frame: pd.DataFrame) -> LoadSummary:
    """Summarise a recipients frame: rows, valid rows, problems and repairs, sheet notes.

    >>> load_summary(load_recipients(io.StringIO("Phone\\n+16175550123\\n\\n+16175550123\\n")))
    <LoadSummary 2 rows: 1 valid, 1 duplicate; 1 empty row dropped>
    """
    if "problems" not in frame.columns or "repairs" not in frame.columns:
        raise DataError(
            "this frame has no problems/repairs columns: load it with load_recipients() first"
        )
    problems = Counter(
        kind for found in frame["problems"] for kind in {p.kind for p in found}
    )
    repairs = Counter(name for done in frame["repairs"] for name in set(done))
    info = frame.attrs.get(ATTRS_KEY, {})
    return LoadSummary(
        rows=len(frame),
        valid=sum(1 for found in frame["problems"] if not found),
        problems=dict(problems),
        repairs=dict(repairs),
        repaired=sum(1 for done in frame["repairs"] if done),
        empty_rows_dropped=tuple(info.get("empty_rows", ())),
        headers_trimmed=tuple(info.get("headers_trimmed", ())),
        renamed=tuple(info.get("renamed", ())),
        encoding=info.get("encoding_note"),
        source=info.get("source"),
        phone_column=info.get("phone_column"),
        notes=tuple(info.get("notes", ())),
    )


def _by_count(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


# -- reading ---------------------------------------------------------------------------------


def _read(source: Source, sheet: str | int | None) -> _Table:
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise DataError(f'no file at "{path}": check the path and the current folder')
        suffix = path.suffix.lower()
        if suffix in _SPREADSHEETS:
            return _read_workbook(path, sheet, path.name)
        data = path.read_bytes()
        if suffix not in _TEXTS and data.startswith((_ZIP_MAGIC, _OLE_MAGIC)):
            return _read_workbook(io.BytesIO(data), sheet, path.name)
        return _read_text_bytes(data, path.name, sheet, tab=suffix in (".tsv", ".tab"))
    if isinstance(source, bytes):
        return _read_bytes(source, None, sheet)
    if hasattr(source, "read"):
        name = getattr(source, "name", None)
        name = Path(name).name if isinstance(name, str) else None
        content = source.read()
        if isinstance(content, str):
            _no_sheet(sheet, name)
            return _read_text(content, name, encoding=None, tab=False)
        return _read_bytes(content, name, sheet)
    raise DataError(
        f"cannot read recipients from a {type(source).__name__}: pass a file path, "
        "an open binary file or a pandas DataFrame"
    )


def _read_bytes(data: bytes, name: str | None, sheet: str | int | None) -> _Table:
    if data.startswith((_ZIP_MAGIC, _OLE_MAGIC)):
        return _read_workbook(io.BytesIO(data), sheet, name)
    return _read_text_bytes(data, name, sheet, tab=False)


def _no_sheet(sheet: str | int | None, name: str | None) -> None:
    if sheet is not None:
        raise DataError(
            f"sheet={sheet!r} was given but {name or 'the source'} is a CSV file, which has "
            "no sheets: leave sheet= out"
        )


def _read_workbook(where: Path | IO[bytes], sheet: str | int | None, name: str | None) -> _Table:
    label = name or "the workbook"
    try:
        book = (
            CalamineWorkbook.from_path(str(where))
            if isinstance(where, Path)
            else CalamineWorkbook.from_filelike(where)
        )
    except PasswordError as error:
        raise DataError(f"{label} is password-protected: save a copy without one") from error
    except (CalamineError, OSError, ValueError) as error:
        raise DataError(
            f"{label} cannot be read as a spreadsheet ({error}): save it as .xlsx or .csv"
        ) from error
    names = list(book.sheet_names)
    if not names:
        raise DataError(f"{label} has no sheets")
    if sheet is None:
        chosen = names[0]
    elif isinstance(sheet, int) and not isinstance(sheet, bool):
        if not 0 <= sheet < len(names):
            raise DataError(f"{label} has no sheet {sheet} (0-based): its sheets are {names}")
        chosen = names[sheet]
    elif sheet in names:
        chosen = sheet
    else:
        raise DataError(f"{label} has no sheet {sheet!r}: its sheets are {names}")
    # skip_empty_area=False keeps the grid anchored at A1, so list position = row number - 1.
    rows = book.get_sheet_by_name(chosen).to_python(skip_empty_area=False)
    records = [[v if type(v) is str else _cell_text(v) for v in row] for row in rows]
    info = {"source": name, "format": "workbook", "sheet": chosen, "encoding": None}
    return _Table(records, list(range(1, len(records) + 1)), info)


def _read_text_bytes(
    data: bytes, name: str | None, sheet: str | int | None, *, tab: bool
) -> _Table:
    _no_sheet(sheet, name)
    if data.startswith(codecs.BOM_UTF8):
        return _read_text(data[3:].decode("utf-8", "replace"), name, "utf-8-sig", tab)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode Text" export: UTF-16 with a BOM, tab-separated.
        return _read_text(data.decode("utf-16"), name, "utf-16", tab)
    try:
        return _read_text(data.decode("utf-8"), name, "utf-8", tab)
    except UnicodeDecodeError:
        pass
    try:
        text, encoding = data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        text, encoding = data.decode("latin-1"), "latin-1"
    return _read_text(text, name, encoding, tab)


_ENCODING_NOTES = {
    "cp1252": 'the file is not UTF-8: it was read as Windows-1252 (what Excel writes for '
    '"CSV"); check accented names, or save it as "CSV UTF-8" to be sure',
    "latin-1": 'the file is not UTF-8: it was read as Latin-1; check accented names, or save '
    'it as "CSV UTF-8" to be sure',
    "utf-16": 'the file is UTF-16 (Excel\'s "Unicode Text"): read as such',
}


def _read_text(text: str, name: str | None, encoding: str | None, tab: bool) -> _Table:
    text = text.removeprefix("\ufeff")
    delimiter = "\t" if tab else _sniff_delimiter(text)
    grid = _read_grid(text, delimiter)
    records = [] if grid is not None else list(
        csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    numbers = list(range(1, (len(grid) if grid is not None else len(records)) + 1))
    note = _ENCODING_NOTES.get(encoding or "")
    info = {
        "source": name,
        "format": "csv",
        "encoding": encoding,
        "encoding_note": note,
        "delimiter": delimiter,
    }
    notes = (Problem(None, None, note, "sheet"),) if note else ()
    return _Table(records, numbers, info, notes, grid)


def _read_grid(text: str, delimiter: str) -> pd.DataFrame | None:
    """Every record as text by pandas' C parser: a tenth of the memory and time of csv.reader
    lists at a million rows. None when it cannot (ragged rows, NUL bytes): csv.reader then."""
    if "\x00" in text:
        return None
    try:
        grid = pd.read_csv(
            io.StringIO(text), sep=delimiter, header=None, dtype=str, engine="c",
            keep_default_na=False, na_filter=False, skip_blank_lines=False, quotechar='"',
            doublequote=True, skipinitialspace=False,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        return None
    grid.columns = range(grid.shape[1])
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


def _float_text(value: float) -> str:
    if value != value:  # NaN
        return ""
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


def _cell_text(value: object) -> str:
    """A cell value as the sheet shows it: no ``.0`` on whole numbers, dates without 00:00."""
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
    if isinstance(value, pd.Timestamp | dt.timedelta | pd.Timedelta):
        return str(value)
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


# -- from records to a frame -------------------------------------------------------------------


def _blank(cell: str) -> bool:
    return not cell.strip(_BLANK)


def _blank_row(record: list[str]) -> bool:
    return not "".join(record).strip(_BLANK)


def _frame_from_table(table: _Table) -> tuple[pd.DataFrame, tuple[Problem, ...], dict[str, Any]]:
    if table.grid is not None:
        return _frame_from_grid(table, table.grid)
    records, numbers = table.records, table.numbers
    start = next((i for i, r in enumerate(records) if not _blank_row(r)), None)
    label = table.info.get("source") or "the sheet"
    if start is None:
        raise DataError(f"{label} is empty: it needs a header row and a row per recipient")
    header = records[start]
    header_row = numbers[start]
    kept: list[list[str]] = []
    kept_numbers: list[int] = []
    empty: list[int] = []
    for record, number in zip(records[start + 1 :], numbers[start + 1 :], strict=True):
        if _blank_row(record):
            empty.append(number)
        else:
            kept.append(record)
            kept_numbers.append(number)
    width = max([len(header), *map(len, kept)])
    header = header + [""] * (width - len(header))
    if any(len(r) != width for r in kept):
        kept = [r + [""] * (width - len(r)) for r in kept]
    columns = [list(c) for c in zip(*kept, strict=True)]
    if not columns:
        columns = [[] for _ in range(width)]
    names, columns, notes, info = _tidy_header(header, columns, header_row)
    notes = table.notes + notes + tuple(
        Problem(n, None, "the row is empty: it was left out", "sheet") for n in empty
    )
    index = pd.Index(kept_numbers, name="row", dtype="int64")
    frame = pd.DataFrame(
        {
            name: pd.Series(col, index=index, dtype="str")
            for name, col in zip(names, columns, strict=True)
        },
        index=index,
    )
    return frame, notes, {**table.info, **info, "empty_rows": tuple(empty)}


def _frame_from_grid(
    table: _Table, grid: pd.DataFrame
) -> tuple[pd.DataFrame, tuple[Problem, ...], dict[str, Any]]:
    """`_frame_from_table` column by column, for the fast CSV path (same result)."""
    numbers = np.asarray(table.numbers, dtype="int64")
    blank = np.ones(len(grid), dtype=bool)
    for position in grid.columns:
        blank &= (grid[position].str.strip(_BLANK) == "").to_numpy(dtype=bool)
    label = table.info.get("source") or "the sheet"
    filled = np.flatnonzero(~blank)
    if not len(filled):
        raise DataError(f"{label} is empty: it needs a header row and a row per recipient")
    start = int(filled[0])
    header = [str(v) for v in grid.iloc[start].tolist()]
    header_row = int(numbers[start])
    body = slice(start + 1, len(grid))
    keep = ~blank[body]
    empty = numbers[body][~keep].tolist()
    kept_numbers = numbers[body][keep]
    columns = [grid[p].iloc[body][keep].array for p in grid.columns]
    names, columns, notes, info = _tidy_header(header, columns, header_row)
    notes = table.notes + notes + tuple(
        Problem(n, None, "the row is empty: it was left out", "sheet") for n in empty
    )
    index = pd.Index(kept_numbers, name="row", dtype="int64")
    frame = pd.DataFrame(
        {name: pd.Series(col, index=index, dtype="str")
         for name, col in zip(names, columns, strict=True)},
        index=index,
    )
    return frame, notes, {**table.info, **info, "empty_rows": tuple(empty)}


def _tidy_header(
    header: list[str], columns: list[list[str]], header_row: int
) -> tuple[list[str], list[list[str]], tuple[Problem, ...], dict[str, Any]]:
    """Trim header names, name or drop nameless columns, de-duplicate, rename reserved names."""
    notes: list[Problem] = []
    trimmed: list[str] = []
    renamed: list[tuple[str, str]] = []
    names: list[str] = []
    kept: list[list[str]] = []
    for position, (raw, values) in enumerate(zip(header, columns, strict=True)):
        name = raw.strip(_BLANK).strip()
        letter = _column_letter(position)
        if name != raw:
            trimmed.append(name)
            if name:
                notes.append(
                    Problem(header_row, name, f"the header {raw!r} had spaces or invisible "
                            f"characters around it: trimmed to {name!r}", "sheet")
                )
        if not name:
            if all(map(_blank, values)):
                continue  # a column with no header and no data (trailing commas, formatting)
            name = f"column {letter}"
            notes.append(
                Problem(header_row, name, f"column {letter} has no header: "
                        f"named {name!r}; give it a header to use it in a template", "sheet")
            )
        if name in names:
            new = _unique(name, names)
            notes.append(
                Problem(header_row, new, f"the header {name!r} appears twice: column "
                        f"{letter} kept as {new!r}", "sheet")
            )
            renamed.append((name, new))
            name = new
        if name in RESERVED_COLUMNS:
            new = _unique(f"{name} (sheet)", names)
            notes.append(
                Problem(header_row, new, f"the sheet's column {name!r} has a name campaignkit "
                        f"writes: kept as {new!r}", "sheet")
            )
            renamed.append((name, new))
            name = new
        names.append(name)
        kept.append(values)
    info = {"headers_trimmed": tuple(trimmed), "renamed": tuple(renamed)}
    return names, kept, tuple(notes), info


def _unique(name: str, taken: list[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name} ({n})" in taken:
        n += 1
    return f"{name} ({n})"


def _column_letter(position: int) -> str:
    letters = ""
    position += 1
    while position:
        position, rest = divmod(position - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _frame_from_dataframe(
    source: pd.DataFrame, previous: dict[str, Any]
) -> tuple[pd.DataFrame, tuple[Problem, ...], dict[str, Any]]:
    """A DataFrame as a sheet; a frame this module made keeps its rows and sheet notes."""
    ours = bool(previous) and {"to", "problems", "repairs"} <= set(source.columns)
    frame = source.drop(columns=["to", "problems", "repairs"]) if ours else source
    if frame.index.name == "row" and pd.api.types.is_integer_dtype(frame.index.dtype):
        numbers = [int(n) for n in frame.index]
    else:
        numbers = list(range(2, len(frame) + 2))
    header = [_cell_text(c) for c in frame.columns]
    columns = [
        [_cell_text(v) for v in frame.iloc[:, i].tolist()] for i in range(frame.shape[1])
    ]
    records = [list(r) for r in zip(*columns, strict=True)] if columns else [[] for _ in numbers]
    table = _Table(
        [header, *records],
        [1, *numbers],
        {"source": previous.get("source"), "format": previous.get("format", "dataframe")},
    )
    out, notes, info = _frame_from_table(table)
    if ours:
        # Sheet facts from the first load cannot be seen in the frame any more: keep them.
        for key in ("sheet", "encoding", "encoding_note", "delimiter"):
            if key in previous:
                info[key] = previous[key]
        info["empty_rows"] = tuple(previous.get("empty_rows", ())) + info["empty_rows"]
        info["headers_trimmed"] = tuple(previous.get("headers_trimmed", ()))
        info["renamed"] = tuple(previous.get("renamed", ())) + info["renamed"]
        old = tuple(previous.get("notes", ()))
        notes = old + tuple(n for n in notes if n not in old)
    return out, notes, info


# -- the phone column and duplicates ---------------------------------------------------------


def _squash(name: str) -> str:
    return re.sub(r"[\W_]+", "", name.casefold())


def _find_phone_column(
    columns: list[str],
    wanted: str | None,
    renamed: Mapping[str, str],
    previous: str | None,
) -> str:
    listed = ", ".join(repr(c) for c in columns) or "none"
    if wanted is not None:
        if wanted in columns:
            return wanted
        if wanted in renamed:
            return renamed[wanted]
        loose = [c for c in columns if _squash(c) == _squash(wanted)]
        if len(loose) == 1:
            return loose[0]
        close = difflib.get_close_matches(wanted, columns, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ColumnError(
            f"phone_column={wanted!r} is not a column of the sheet{hint}; the columns are: "
            f"{listed}"
        )
    if previous is not None and previous in columns:
        return previous
    found = [c for c in columns if _squash(c) in _PHONE_NAMES]
    if not found:
        found = [new for old, new in renamed.items() if _squash(old) in _PHONE_NAMES]
    if len(found) == 1:
        return found[0]
    if not found:
        raise ColumnError(
            f"no phone number column found among: {listed}; name it \"phone\" or pass "
            'phone_column="<its header>"'
        )
    raise ColumnError(
        f"several columns could hold the phone numbers: {', '.join(map(repr, found))}; pass "
        f"phone_column= to choose one, e.g. phone_column={found[0]!r}"
    )


def _mark_duplicates(
    raw: pd.Series, to: pd.Series, problems: pd.Series, column: str
) -> pd.Series:
    """Give every later row with an already-seen E.164 number a ``duplicate`` problem."""
    valid = to != ""
    repeated = to.duplicated(keep="first") & valid
    if not repeated.any():
        return problems
    firsts = valid & ~repeated & to.isin(set(to[repeated]))
    first = dict(zip(to[firsts].tolist(), to.index[firsts].tolist(), strict=True))
    values = problems.tolist()
    positions = repeated.to_numpy().nonzero()[0].tolist()
    labels, numbers, cells = to.index, to.tolist(), raw.tolist()  # .iloc per row is slow
    for position in positions:
        number = numbers[position]
        cell = str(cells[position]).strip()
        shown = number if cell == number else f'"{cell}" ({number})'
        problem = Problem(
            int(labels[position]),
            column,
            f"{shown} is a duplicate of row {first[number]}",
            "duplicate",
        )
        values[position] = (*values[position], problem)
    return pd.Series(values, index=problems.index, dtype=object, name="problems")
