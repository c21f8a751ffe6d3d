"""Read a recipients sheet (CSV, XLSX, ODS or a DataFrame) into a recipients frame.

The recipients frame keeps every sheet column as text, exactly as the sheet shows it, on
an index of the sheet's own row numbers (index name ``"row"``: with the header on row 1,
the first recipient is row 2), and adds:

``to``
    the phone number in E.164 (``"+16175550123"``), or ``""`` when it is missing, invalid
    or in a country that is not allowed;
``problems``
    a tuple of `Problem` per row (a row with any problem is never sent);
``repairs``
    a tuple of short repair names per row (see `campaignkit._phones.REPAIRS`, and
    ``"removed-control-characters"``).

Spreadsheets are hostile (CONTRIBUTING.md#spreadsheets-are-hostile): BOMs, header
whitespace, title rows above the header, numbers stored as floats, lost leading zeros and
plus signs, empty rows, hidden rows, stray quotes, control characters, files that are not
sheets or would not fit in memory. Each is handled and reported: per row in ``problems`` /
``repairs``, for the sheet in `load_summary`. Opening the file safely is
`campaignkit._sheets`' job.
"""

from __future__ import annotations

import csv
import difflib
import html
import io  # noqa: F401 (the docstring examples use it)
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._columns import string_buffers
from ._errors import ColumnError, DataError
from ._memory import system_pool
from ._phones import check_countries, check_region, normalise_phones
from ._sheets import Source as _FileSource
from ._sheets import Table, cell_text, column_letter, read_source
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
#: The suffix of a column holding a formatted column's typed values (see `load_recipients`).
VALUE_SUFFIX = " (value)"

# Header names of a phone column, compared without case, spaces, punctuation, "_" or "-".
_PHONE_NAMES = frozenset(
    {
        "phone", "phones", "phonenumber", "phoneno", "mobile", "mobilenumber", "mobileno",
        "mobilephone", "mobilephonenumber", "cell", "cellphone", "cellnumber", "cellno",
        "cellular", "whatsapp", "whatsappnumber", "to", "number", "msisdn", "tel", "telno",
        "telephone", "telephonenumber", "telephoneno", "contactnumber", "sms", "smsnumber",
        "contactno", "contactnum", "phonemobile", "mobilephoneno", "primaryphone",
        "cellphonenumber", "whatsappno", "telnumber",
    }
)  # fmt: skip
# Words that make a header a phone column ("Primary Phone", "Phone1", "Phone (Mobile)")...
_PHONE_WORDS = frozenset(
    {"phone", "phones", "mobile", "cell", "cellphone", "cellular", "tel", "telephone",
     "whatsapp", "msisdn", "sms"}
)  # fmt: skip
# ...unless another word says it describes the phone rather than holds it ("Phone Type").
_NOT_PHONE_WORDS = frozenset(
    {"type", "kind", "ext", "extension", "country", "code", "prefix", "verified", "valid",
     "validated", "status", "carrier", "provider", "consent", "opt", "optin", "optout",
     "note", "notes", "comment", "comments", "time", "date", "owner", "label", "id", "ok",
     "confirmed", "preference", "preferred", "allowed", "area", "brand", "model"}
)  # fmt: skip
_INVISIBLE = "\ufeff\u200b\u200c\u200d\u2060\u00a0\u200e\u200f"
# What a cell may hold and still be empty: whitespace and the invisible characters above.
_BLANK = _INVISIBLE + " \t\r\n\x0b\x0c\u2007\u202f\u3000"
# A cell of nothing but those, as an RE2 pattern (Arrow's regex engine).
_BLANK_CELL = "^[" + "".join(f"\\x{{{ord(c):x}}}" for c in _BLANK) + "]*$"
# Control characters (C0 but tab, newline and carriage return; DEL; C1): never in a message.
_CONTROL = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]"
_CONTROL_NAMES = {"\x00": "NUL", "\x1b": "ESC", "\x7f": "DEL"}
_DIGITS = re.compile(r"(?:\d[\s().\-/]*){7}")
# How far down a header row is looked for (title rows, notes, blank rows above it).
_HEADER_WINDOW = 30

Source: TypeAlias = _FileSource | pd.DataFrame


# -- public API ------------------------------------------------------------------------------


@system_pool
def load_recipients(
    source: Source,
    *,
    phone_column: str | None = None,
    default_region: str | None = None,
    countries: Iterable[str] | Literal["any"] | None = None,
    sheet: str | int | None = None,
    header_row: int | None = None,
    duplicates: Literal["first", "keep"] = "first",
) -> pd.DataFrame:
    """Read recipients from a CSV/XLSX/ODS file, a binary file object or a DataFrame.

    Parameters
    ----------
    source
        A path (``.csv``, ``.tsv``, ``.txt``, ``.xlsx``, ``.xlsm``, ``.xls``, ``.xlsb``,
        ``.ods``), bytes or a binary file object (a workbook is recognised by its content),
        a text file object (CSV), or a DataFrame. A frame this function returned can be
        passed again (filtered or with cells fixed): its problems are recomputed and its
        row numbers kept. Any other DataFrame with an unnamed integer index (as
        ``pd.read_csv`` and ``pd.read_excel`` make, filtered or not) is numbered as the
        sheet it came from: index + 2, the header being row 1.
    phone_column
        The column holding phone numbers. By default the one column named like a phone
        column (Phone, Mobile, Cell, WhatsApp, Tel, Phone1, Primary Phone, Contact No, ...).
    default_region
        ISO 3166 region (``"US"``, ``"GB"``) for numbers written without a country code.
    countries
        The countries you send to (ISO 3166 codes, ``["US", "GB"]``); by default the
        default region's country alone (any country when there is no default region). A
        valid number elsewhere is a ``country-not-allowed`` problem naming its country, as
        a provider's geographic permissions would refuse it. A lost ``+`` is restored
        (``added-plus``) only in cells that were numbers and only into these countries;
        otherwise the row's problem shows the candidate number. ``"any"``: every country
        (for a list that is not sent to, such as opt-outs).
    sheet
        Sheet name or 0-based position in a workbook (default: the first sheet).
    header_row
        The row number of the headers, as Excel shows it (a CSV's line of records). By
        default the first row, among the first 30 filled ones, that names a phone column
        and is about as wide as the table: title rows and blank rows above it are left out
        (and said so). A row of group labels just above the header (``Contact`` over
        ``Phone`` and ``Email``) is joined into the names: ``"Contact Phone"``.
    duplicates
        ``"first"``: of the rows with one number, the first that is otherwise sendable gets
        the message, the others are ``duplicate`` (decided with the rest by
        `campaignkit.decide`, so a row with a problem never takes the message from a good
        one); ``"keep"``: send to every row, as Sociocs's ``duplicates_allowed``. The load
        summary counts the numbers that appear more than once.

    Returns
    -------
    pandas.DataFrame
        Every sheet column as text the way the sheet shows it, plus ``to``, ``problems`` and
        ``repairs``, indexed by the sheet's row numbers (index name ``"row"``). What
        concerns the sheet rather than a row (rows left out, hidden rows, trimmed headers,
        the encoding) is in `load_summary`.

        Workbook cells are shown with their number formats, as Excel draws them: a zip
        typed ``2134`` in a ``00000`` column is ``"02134"``, ``12.5`` as currency is
        ``"$12.50"``, a date in ``dd/mm/yyyy`` is ``"01/12/2026"``. Where a column's shown
        text differs from its typed values, the typed values follow it in a column named
        ``"<column> (value)"``: ``"2134"``, ``"12.5"``, ``"2026-12-01"`` (numbers without
        ``.0``, dates and times in ISO 8601). In a template, ``{{ amount }}`` prints
        ``$12.50`` and ``{{ amount_value }}`` prints ``12.5``. The phone column is always
        read from the typed value (a number shown as ``4.47E+11`` keeps all its digits).
        ODS cells show the text LibreOffice saved; ``.xls`` and ``.xlsb`` cells show their
        typed values.

        Control characters in a cell (NUL, ESC...) are removed, with the repair
        ``"removed-control-characters"`` on the row and a note naming the cells. In a CSV,
        a stray quote that swallowed the lines after it makes its row a ``damaged-row``
        problem naming the rows it swallowed. Rows a workbook hides (by hand or with a
        filter) are loaded and listed in the summary's ``hidden_rows``.

    Raises
    ------
    DataError
        The source cannot be read: no such file; not a spreadsheet (a PNG, a PDF, a Word
        document, a web page: named as such); damaged (``"... is damaged: ..."``); too
        large for memory (a workbook whose cells reach far beyond its data, a zip bomb, a
        text file wider than 16,384 columns).
    ColumnError
        No phone column (the message lists the workbook's sheets and suggests ``sheet=``,
        ``header_row=`` or ``phone_column=``), several candidates, or ``phone_column``
        names no column.

    Examples
    --------
    >>> frame = load_recipients(io.StringIO("Name,Phone\\nAda,(617) 555-0123\\n"),
    ...                         default_region="US")
    >>> frame.loc[2, "to"], frame.index.name
    ('+16175550123', 'row')
    >>> sheet = "Clinic reminders\\n\\nName,Phone\\nAda,+44 7400 123456\\n"
    >>> frame = load_recipients(io.StringIO(sheet), default_region="US",
    ...                         countries=["US", "GB"])
    >>> frame.loc[4, "to"]
    '+447400123456'
    """
    region = check_region(default_region)
    allowed = check_countries(countries, region)
    if duplicates not in ("first", "keep"):
        raise DataError(f'duplicates={duplicates!r} is not an option: use "first" or "keep"')
    if header_row is not None and (
        not isinstance(header_row, int) or isinstance(header_row, bool) or header_row < 1
    ):
        raise DataError(
            f"header_row={header_row!r} is not a row number: pass the number Excel shows "
            "at the left of the header row, e.g. header_row=3"
        )
    if isinstance(source, pd.DataFrame):
        loaded = _load_dataframe(source, phone_column)
    else:
        # No name for the table: its grid and reader are freed before the phones are read.
        loaded = _load_table(read_source(source, sheet), header_row=header_row,
                             wanted=phone_column)
    frame, phone = loaded.frame, loaded.phone
    to, problems, repairs = normalise_phones(
        frame[phone], region, countries=allowed, number_cells=loaded.number_cells
    )
    if loaded.extra_repairs:
        repairs = _add_repairs(repairs, loaded.extra_repairs)
    if loaded.row_problems:
        problems = _add_row_problems(problems, loaded.row_problems)
    out = frame.assign(to=to, problems=problems, repairs=repairs)
    out.index.name = "row"
    info = dict(loaded.info)
    if loaded.number_cells is not None:
        # Kept as bytes: attrs are deep-copied by pandas, and bytes copy for free.
        numbered = frame.index.to_numpy()[loaded.number_cells]
        info["number_cells"] = (phone, np.asarray(numbered, dtype="int64").tobytes())
    out.attrs = {
        ATTRS_KEY: {
            **info,
            "phone_column": phone,
            "default_region": region,
            "countries": allowed,
            "duplicates": duplicates,
            "notes": loaded.notes,
        }
    }
    return out


@dataclass(frozen=True)
class LoadSummary:
    """What `load_recipients` found: counts per problem kind and repair, and sheet notes.

    ``problems`` and ``repairs`` count rows (a row with two problems of one kind counts
    once). ``notes`` are the sheet-level reports (kind ``"sheet"``): rows left out, headers
    trimmed or renamed, hidden rows, the encoding. ``hidden_rows`` are rows the sheet hides
    (by hand or with a filter) that were loaded all the same: a warning, since a person
    looking at the sheet does not see them.
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
    hidden_rows: tuple[int, ...] = ()
    countries: tuple[str, ...] | None = None
    #: rows whose number an earlier row also has (one message per number, unless "keep")
    repeated: int = 0

    def __repr__(self) -> str:
        parts = [f"{self.valid} valid"]
        parts += [f"{n} {kind}" for kind, n in _by_count(self.problems)]
        tail = ""
        if self.repeated:
            tail += f"; {self.repeated} repeated number{'s' if self.repeated != 1 else ''}"
        tail += f"; {self.repaired} repaired" if self.repaired else ""
        if self.empty_rows_dropped:
            n = len(self.empty_rows_dropped)
            tail += f"; {n} empty row{'s' if n != 1 else ''} dropped"
        if self.hidden_rows:
            n = len(self.hidden_rows)
            tail += f"; {n} hidden row{'s' if n != 1 else ''} loaded"
        return f"<LoadSummary {self.rows} rows: {', '.join(parts)}{tail}>"

    def _repr_html_(self) -> str:
        e = html.escape
        lines = [("rows", str(self.rows)), ("valid", str(self.valid))]
        if self.repeated:
            lines.append(("repeated numbers", f"{self.repeated} (one message per number)"))
        lines += [(kind, str(n)) for kind, n in _by_count(self.problems)]
        lines += [(f"repair: {name}", str(n)) for name, n in _by_count(self.repairs)]
        if self.empty_rows_dropped:
            lines.append(("empty rows dropped", _rows_text(self.empty_rows_dropped)))
        if self.hidden_rows:
            lines.append(("hidden rows loaded", _rows_text(self.hidden_rows)))
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
    <LoadSummary 2 rows: 2 valid; 1 repeated number; 1 empty row dropped>
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
    hidden = set(info.get("hidden_rows", ()))
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
        hidden_rows=tuple(n for n in frame.index if n in hidden) if hidden else (),
        countries=info.get("countries"),
        repeated=int((frame["to"].duplicated() & (frame["to"] != "")).sum())
        if "to" in frame.columns else 0,
    )


def _by_count(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _rows_text(rows: Sequence[int], limit: int = 20) -> str:
    shown = ", ".join(map(str, rows[:limit]))
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


# -- from a table to a frame ----------------------------------------------------------------


@dataclass
class _Loaded:
    frame: pd.DataFrame
    notes: tuple[Problem, ...]
    info: dict[str, Any]
    phone: str
    number_cells: np.ndarray | None = None
    extra_repairs: dict[int, tuple[str, ...]] = field(default_factory=dict)
    row_problems: dict[int, tuple[Problem, ...]] = field(default_factory=dict)


def _blank(cell: str) -> bool:
    return not cell.strip(_BLANK)


def _blank_row(record: Sequence[str]) -> bool:
    return not "".join(record).strip(_BLANK)


def _filled(record: Sequence[str]) -> int:
    return sum(1 for cell in record if not _blank(cell))


def _load_table(
    table: Table,
    *,
    header_row: int | None,
    wanted: str | None,
    previous: str | None = None,
    join: bool = True,
) -> _Loaded:
    label = table.info.get("source") or "the sheet"
    grid = table.grid
    numbers = np.asarray(table.numbers, dtype="int64")
    if grid is not None:
        blank = np.ones(len(grid), dtype=bool)
        for position in grid.columns:
            # Only rows blank so far are looked at: after the first column, a handful.
            unfilled = np.flatnonzero(blank)
            if not len(unfilled):
                break
            cells = pa.array(grid[position].array)  # zero-copy from pandas' Arrow strings
            if len(unfilled) < len(cells):
                cells = cells.take(unfilled)
            blank[unfilled] = np.asarray(
                pc.match_substring_regex(cells, _BLANK_CELL).fill_null(False))
    else:
        blank = np.fromiter((_blank_row(r) for r in table.records), bool, len(table.records))
    filled = np.flatnonzero(~blank)
    if not len(filled):
        raise DataError(f"{label} is empty: it needs a header row and a row per recipient")

    def record(i: int) -> list[str]:
        return [str(v) for v in grid.iloc[i].tolist()] if grid is not None else table.records[i]

    window = [int(i) for i in filled[:_HEADER_WINDOW]]
    rows = {i: record(i) for i in window}
    start = _header_index(table, rows, window, numbers, header_row, wanted or previous, label)
    header = list(record(start))
    header_number = int(numbers[start])
    notes: list[Problem] = []
    top = start
    if join and start - 1 in rows and not blank[start - 1]:
        joined = _join_header(rows[start - 1], header, table.merged, start - 1)
        if joined is not None:
            header, top = joined, start - 1
            notes.append(Problem(header_number, None, f"the header is rows {numbers[top]}-"
                                 f"{header_number}: the group labels of row {numbers[top]} "
                                 "were joined to the names below them", "sheet"))
    above = numbers[filled[filled < top]].tolist()
    if above:
        first = " ".join(c.strip() for c in record(int(filled[0])) if c.strip())
        first = first if len(first) <= 60 else first[:59] + "…"
        rows_above = f"row {above[0]} above the header (row {header_number}) was" if len(
            above) == 1 else (f"rows {_rows_text(above)} above the header (row "
                              f"{header_number}) were")
        notes.append(Problem(above[0], None, f"{rows_above} left out, starting with "
                             f"{first!r}; pass header_row= if the header is another row",
                             "sheet"))
    body = np.arange(start + 1, len(numbers))
    keep = ~blank[start + 1 :]
    empty = numbers[body][~keep].tolist()
    kept_idx = body[keep]
    kept_numbers = numbers[kept_idx]
    pick = _picker(kept_idx, len(numbers))
    if grid is not None:
        # Arrow-backed slices: a million rows never become ten million Python strings.
        columns: list[Sequence[str]] = [grid[p].array[pick] for p in grid.columns]
    else:
        kept = [table.records[i] for i in kept_idx.tolist()]
        width = max([len(header), *map(len, kept)])
        if any(len(r) != width for r in kept):
            kept = [r + [""] * (width - len(r)) for r in kept]
        columns = [list(c) for c in zip(*kept, strict=True)] or [[] for _ in range(width)]
    if len(header) < len(columns):
        header = header + [""] * (len(columns) - len(header))
    names, positions, tidy_notes, tidy_info = _tidy_header(header, columns, header_number)
    notes += tidy_notes
    notes += [Problem(n, None, "the row is empty: it was left out", "sheet") for n in empty]
    by_name = dict(zip(names, positions, strict=True))
    renamed = dict(tidy_info["renamed"])
    try:
        phone = _find_phone_column(names, wanted, renamed, previous)
    except _NoPhoneColumn:
        raise ColumnError(_no_phone_message(table, names, header_number, label)) from None
    index = pd.Index(kept_numbers, name="row", dtype="int64")
    data: dict[str, pd.Series] = {}
    for name, position in zip(names, positions, strict=True):
        values = columns[position]
        if table.workbook and position in table.formatted and name == phone:
            values = table.typed_column(position, pick)  # phones as typed
        data[name] = pd.Series(values, index=index, dtype="str")
        if table.workbook and position in table.formatted and name != phone:
            typed = _unique(name + VALUE_SUFFIX, [*names, *data])
            data[typed] = pd.Series(table.typed_column(position, pick), index=index,
                                    dtype="str")
    frame = pd.DataFrame(data, index=index)
    number_cells = table.number_cells(by_name[phone], pick) if table.workbook else None
    info = {**table.info, **tidy_info, "empty_rows": tuple(empty), "header_row": header_number}
    hidden = _among(table.hidden, kept_numbers)
    if hidden:
        how = "by its filter or by hand" if table.info.get("filtered") else "by hand"
        info["hidden_rows"] = tuple(hidden)
        notes.append(Problem(hidden[0], None, f"{_count(len(hidden), 'row')} hidden in the "
                             f"sheet ({how}) were loaded all the same: "
                             f"{_rows_text(hidden)}; delete them from the sheet if "
                             "they should not get the message", "sheet"))
    frame, control_notes, extra = _remove_control_characters(frame)
    notes += control_notes
    row_problems: dict[int, tuple[Problem, ...]] = {}
    if table.info.get("format") == "csv":
        found, swallowed_notes = _stray_quotes(frame, table, len(names))
        row_problems.update(found)
        notes += swallowed_notes
    return _Loaded(frame, table.notes + tuple(notes), info, phone, number_cells, extra,
                   row_problems)


def _picker(kept: np.ndarray, length: int) -> slice | np.ndarray:
    """Rows ``kept`` (increasing) of ``length`` as a slice when they follow each other, else
    as a mask: Arrow slices without copying and filters in one pass, where an index takes."""
    if not len(kept):
        return slice(0, 0)
    if int(kept[-1]) - int(kept[0]) + 1 == len(kept):
        return slice(int(kept[0]), int(kept[-1]) + 1)
    mask = np.zeros(length, dtype=bool)
    mask[kept] = True
    return mask


def _among(rows: Sequence[int], kept: np.ndarray) -> list[int]:
    """The distinct ``rows`` found in ``kept``, in increasing order (nothing to sort when
    there are none: the usual case)."""
    if not len(rows):
        return []
    wanted = np.unique(np.asarray(rows, dtype="int64"))
    return wanted[np.isin(wanted, kept)].tolist()  # type: ignore[no-any-return]


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _header_index(
    table: Table,
    rows: dict[int, list[str]],
    window: list[int],
    numbers: np.ndarray,
    header_row: int | None,
    wanted: str | None,
    label: str,
) -> int:
    """The record index of the header row: given, or found among the first filled rows."""
    if header_row is not None:
        found = np.flatnonzero(numbers == header_row)
        if not len(found):
            raise DataError(
                f"header_row={header_row} is past the end of {label}, whose last row is "
                f"{int(numbers[-1]) if len(numbers) else 0}"
            )
        i = int(found[0])
        if i not in rows and _blank_row(table.records[i] if table.grid is None else
                                        [str(v) for v in table.grid.iloc[i].tolist()]):
            raise DataError(f"header_row={header_row} of {label} is empty: pass the row "
                            "that holds the column names")
        if i in rows and _blank_row(rows[i]):
            raise DataError(f"header_row={header_row} of {label} is empty: pass the row "
                            "that holds the column names")
        return i
    widest = max(_filled(rows[i]) for i in window)
    wide = [i for i in window if _filled(rows[i]) * 2 >= widest or _filled(rows[i]) >= 3]
    if wanted is not None:
        key = _squash(wanted)
        named = [i for i in window if any(_squash(c) == key for c in rows[i])]
        if named:
            return named[0]
    # The header is above the first row holding a phone number (7 digits or more).
    data = next((i for i in window if any(_DIGITS.search(c) for c in rows[i])), None)
    above = [i for i in wide if data is None or i < data] or wide
    for tier in (2, 1):  # "Phone" beats a title such as "Phone list for December"
        named = [i for i in above if any(_phone_tier(c) == tier for c in rows[i])]
        if named:
            return named[0]
    return wide[0] if wide else window[0]


def _join_header(
    upper: list[str],
    header: list[str],
    merged: tuple[tuple[int, int, int, int], ...],
    upper_index: int,
) -> list[str] | None:
    """``Contact | Phone`` joined, when the row above holds group labels; else None.

    Group labels: a merged cell over several columns, or at least two labels, all text,
    fewer than the header's names. A single label with no merge is a title, not joined.
    """
    labels = {i: c.strip(_BLANK).strip() for i, c in enumerate(upper) if not _blank(c)}
    if not labels or len(labels) >= _filled(header):
        return None
    if any(re.fullmatch(r"[\d.,:/ -]+", text) for text in labels.values()):
        return None  # numbers or dates: a data row, not labels
    spans = [(c0, c1) for r0, c0, r1, c1 in merged if r0 == upper_index == r1 and c1 > c0]
    if not spans and len(labels) < 2:
        return None
    group: dict[int, str] = {}
    if spans:
        for c0, c1 in spans:
            if c0 in labels:
                for c in range(c0, c1 + 1):
                    group[c] = labels[c0]
        for c, text in labels.items():
            group.setdefault(c, text)
    else:
        current = None
        for c in range(len(header)):
            if c in labels:
                current = labels[c]
            if current is not None:
                group[c] = current
    out = []
    for c, name in enumerate(header):
        name = name.strip(_BLANK).strip()
        prefix = group.get(c)
        if prefix and name and _squash(prefix) != _squash(name):
            out.append(f"{prefix} {name}")
        else:
            out.append(name or (prefix or ""))
    return out


def _tidy_header(
    header: list[str], columns: Sequence[Sequence[str]], header_row: int
) -> tuple[list[str], list[int], tuple[Problem, ...], dict[str, Any]]:
    """Trim header names, name or drop nameless columns, de-duplicate, rename reserved names.

    Returns the names, the source position of each kept column, notes and info.
    """
    notes: list[Problem] = []
    trimmed: list[str] = []
    renamed: list[tuple[str, str]] = []
    names: list[str] = []
    positions: list[int] = []
    for position, raw in enumerate(header):
        values = columns[position] if position < len(columns) else []
        name = raw.strip(_BLANK).strip()
        letter = column_letter(position)
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
        positions.append(position)
    info = {"headers_trimmed": tuple(trimmed), "renamed": tuple(renamed)}
    return names, positions, tuple(notes), info


def _unique(name: str, taken: Sequence[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name} ({n})" in taken:
        n += 1
    return f"{name} ({n})"


def _load_dataframe(source: pd.DataFrame, wanted: str | None) -> _Loaded:
    """A DataFrame as a sheet; a frame this module made keeps its rows and sheet notes."""
    previous: dict[str, Any] = dict(source.attrs.get(ATTRS_KEY, {}))
    ours = bool(previous) and {"to", "problems", "repairs"} <= set(source.columns)
    frame = source.drop(columns=["to", "problems", "repairs"]) if ours else source
    index = frame.index
    if (previous or index.name == "row") and pd.api.types.is_integer_dtype(index.dtype):
        numbers = [int(n) for n in index]
    elif (
        index.name is None
        and pd.api.types.is_integer_dtype(index.dtype)
        and index.is_unique
        and (len(index) == 0 or int(index.min()) >= 0)
    ):
        numbers = [int(n) + 2 for n in index]  # pandas counts data rows from 0 under row 1
    else:
        numbers = list(range(2, len(frame) + 2))
    header = [cell_text(c) for c in frame.columns]
    columns = [
        [cell_text(v) for v in frame.iloc[:, i].tolist()] for i in range(frame.shape[1])
    ]
    records = [list(r) for r in zip(*columns, strict=True)] if columns else [[] for _ in numbers]
    table = Table(
        [header, *records],
        [1, *numbers],
        {"source": previous.get("source"), "format": previous.get("format", "dataframe")},
    )
    loaded = _load_table(table, header_row=1, wanted=wanted,
                         previous=previous.get("phone_column"), join=False)
    info, notes = loaded.info, loaded.notes
    info.pop("header_row", None)
    saved = previous.get("number_cells")
    if ours and saved is not None and saved[0] == loaded.phone:
        rows = np.frombuffer(saved[1], dtype="int64")
        loaded.number_cells = loaded.frame.index.isin(rows)
    if ours:
        # Sheet facts from the first load cannot be seen in the frame any more: keep them.
        for key in ("sheet", "encoding", "encoding_note", "delimiter", "header_row",
                    "hidden_rows", "filtered"):
            if key in previous:
                info[key] = previous[key]
        info["empty_rows"] = tuple(previous.get("empty_rows", ())) + info["empty_rows"]
        info["headers_trimmed"] = tuple(previous.get("headers_trimmed", ()))
        info["renamed"] = tuple(previous.get("renamed", ())) + info["renamed"]
        old = tuple(previous.get("notes", ()))
        notes = old + tuple(n for n in notes if n not in old)
    loaded.info, loaded.notes = info, notes
    return loaded


# -- damage inside cells -----------------------------------------------------------------------


def _remove_control_characters(
    frame: pd.DataFrame,
) -> tuple[pd.DataFrame, list[Problem], dict[int, tuple[str, ...]]]:
    """Strip control characters from every cell; a note per column, a repair per row."""
    notes: list[Problem] = []
    touched: set[int] = set()
    out = frame
    for name in frame.columns:
        arr = pa.array(frame[name].array)  # zero-copy from pandas' Arrow strings
        if not _may_hold_controls(arr):
            continue
        hit = np.asarray(pc.match_substring_regex(arr, _CONTROL).fill_null(False))
        if not hit.any():
            continue
        if out is frame:
            out = frame.copy()
        cleaned = pc.replace_substring_regex(arr, _CONTROL, "")
        out[name] = pd.Series(cleaned.to_pylist(), index=frame.index, dtype="str")
        rows = frame.index[hit].tolist()
        found = sorted({c for cell in frame[name][hit].tolist() for c in cell
                        if re.fullmatch(_CONTROL, c)})
        kinds = ", ".join(_CONTROL_NAMES.get(c, f"U+{ord(c):04X}") for c in found)
        notes.append(Problem(rows[0], str(name), f"control characters ({kinds}) removed from "
                             f"{_count(len(rows), 'cell')} in rows {_rows_text(rows)}: they "
                             "cannot be sent in a message", "sheet"))
        touched.update(int(r) for r in rows)
    extra: dict[int, tuple[str, ...]] = {row: ("removed-control-characters",) for row in touched}
    return out, notes, extra


def _cell_bytes(cells: pa.Array | pa.ChunkedArray) -> list[np.ndarray] | None:
    """The UTF-8 bytes of the cells end to end, a view per chunk; None when ``cells`` are not
    text with offsets. A scan of them rules a column out far faster than a regex per cell."""
    out = []
    for chunk in cells.chunks if isinstance(cells, pa.ChunkedArray) else [cells]:
        if not (pa.types.is_large_string(chunk.type) or pa.types.is_string(chunk.type)):
            return None
        found = string_buffers(chunk)
        if found is not None:
            ends, data = found
            out.append(data[ends[0]:ends[-1]])
    return out


def _may_hold_controls(cells: pa.Array | pa.ChunkedArray) -> bool:
    """Whether some cell may hold a `_CONTROL` character: in UTF-8, C0 and DEL are bytes of
    their own and C1 is C2 80..C2 9F."""
    chunks = _cell_bytes(cells)
    if chunks is None:
        return True
    for data in chunks:
        low = data[data < 0x20]
        if ((low != 0x09) & (low != 0x0A) & (low != 0x0D)).any() or (data == 0x7F).any():
            return True
        lead = np.flatnonzero(data[:-1] == 0xC2)
        if ((data[lead + 1] & 0xE0) == 0x80).any():
            return True
    return False


def _may_hold_newlines(cells: pa.Array | pa.ChunkedArray) -> bool:
    chunks = _cell_bytes(cells)
    return chunks is None or any((data == 0x0A).any() for data in chunks)


def _stray_quotes(
    frame: pd.DataFrame, table: Table, width: int
) -> tuple[dict[int, tuple[Problem, ...]], list[Problem]]:
    """Find cells where a stray quote swallowed the following lines of a CSV file.

    Such a cell holds line breaks, its first line holds the delimiter (fields that should
    have been apart) and some later line splits into as many fields as the header: records
    the quote swallowed. The row is a ``damaged-row`` problem, and the note names the lines.
    """
    delimiter = table.info.get("delimiter", ",")
    problems: dict[int, tuple[Problem, ...]] = {}
    notes: list[Problem] = []
    if width < 2:
        return problems, notes
    for name in frame.columns:
        column = frame[name]
        if not _may_hold_newlines(pa.array(column.array)):
            continue
        multi = column.str.contains("\n", regex=False).to_numpy(dtype=bool)
        if not multi.any():
            continue
        for row, cell in zip(frame.index[multi].tolist(), column[multi].tolist(), strict=True):
            lines = cell.split("\n")
            if delimiter not in lines[0]:
                continue
            swallowed = [
                line for line in lines[1:]
                if len(next(csv.reader([line], delimiter=delimiter), [])) >= width
            ]
            if not swallowed:
                continue
            firsts = ", ".join(
                repr(next(csv.reader([line], delimiter=delimiter))[0]) for line in swallowed[:5]
            )
            more = f" and {len(swallowed) - 5} more" if len(swallowed) > 5 else ""
            message = (
                f'a stray quote (") at the start of this cell swallowed the next '
                f"{_count(len(lines) - 1, 'line')} of the file, which hold the rows of "
                f"{firsts}{more}: remove the quote (or close it) and load the file again"
            )
            problems[int(row)] = (Problem(int(row), str(name), message, "damaged-row"),)
            notes.append(Problem(int(row), str(name), message, "sheet"))
    return problems, notes


def _add_repairs(repairs: pd.Series, extra: dict[int, tuple[str, ...]]) -> pd.Series:
    values = [
        tuple(done) + tuple(x for x in extra[label] if x not in done) if label in extra else done
        for label, done in repairs.items()
    ]
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return pd.Series(out, index=repairs.index, dtype=object, name="repairs")


def _add_row_problems(problems: pd.Series, extra: dict[int, tuple[Problem, ...]]) -> pd.Series:
    values = [
        tuple(extra[label]) + tuple(found) if label in extra else found
        for label, found in problems.items()
    ]
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return pd.Series(out, index=problems.index, dtype=object, name="problems")


# -- the phone column and duplicates ---------------------------------------------------------


def _squash(name: str) -> str:
    return re.sub(r"[\W_]+", "", name.casefold().replace("#", "no"))


def _phone_tier(name: str) -> int:
    """2: a phone column's usual name; 1: a name that says phone; 0: neither."""
    if _squash(name) in _PHONE_NAMES:
        return 2
    words = set(re.findall(r"[^\W\d_]+", name.casefold()))
    if words & _PHONE_WORDS and not words & _NOT_PHONE_WORDS and len(words) <= 4:
        return 1
    return 0


class _NoPhoneColumn(ColumnError):
    """No column is named like a phone column (the message is built with the sheet's view)."""


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
    original = {new: old for old, new in renamed.items()}
    tiers = {c: max(_phone_tier(c), _phone_tier(original.get(c, c))) for c in columns}
    found = [c for c in columns if tiers[c] == 2] or [c for c in columns if tiers[c] == 1]
    if len(found) == 1:
        return found[0]
    if not found:
        raise _NoPhoneColumn(listed)
    raise ColumnError(
        f"several columns could hold the phone numbers: {', '.join(map(repr, found))}; pass "
        f"phone_column= to choose one, e.g. phone_column={found[0]!r}"
    )


def _no_phone_message(table: Table, names: list[str], header_row: int, label: str) -> str:
    """No phone column: the columns found, the other sheets, and the three ways out."""
    listed = ", ".join(repr(c) for c in names) or "none"
    sheet = table.info.get("sheet")
    where = f'sheet "{sheet}", ' if sheet is not None else ""
    head = f"no phone number column found among: {listed} ({where}header row {header_row})"
    ways = 'pass phone_column="<its header>", or header_row=<the row number of the headers>'
    if table.overview is None or sheet is None:
        return f"{head}; {ways} if the headers are on another row"
    others: list[str] = []
    suggestion = ""
    for name, first_rows in table.overview():
        cells = [c.strip() for row in first_rows for c in row if c.strip()]
        shown = ", ".join(repr(c) for c in cells[:3]) or "empty"
        others.append(f'"{name}" ({shown})')
        if name != sheet and not suggestion:
            phone = next((c for row in first_rows for c in row if _phone_tier(c)), None)
            if phone is not None:
                suggestion = f'sheet "{name}" has a column {phone.strip()!r}: pass sheet={name!r}; '
    return (f"{head}; {suggestion}{ways}, or sheet= (a name or a 0-based position); "
            f"the sheets of {label} are {', '.join(others)}")
