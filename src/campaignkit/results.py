"""Results: the summary of a send, and CSV/XLSX files that Excel cannot execute.

`save_results` writes atomically (a temporary file in the destination folder, then
``os.replace``): the file at ``path`` is always either the old one or the complete new one,
and no copy of the data is ever left in the system's temporary folder (openpyxl's own
temporary sheet file is put in the destination folder too). The file gets the mode any new
file gets (0666 less the umask).

CSV has no cell types, so every text cell that a spreadsheet would read as a formula gets a
leading ``'`` (OWASP "CSV Injection", https://owasp.org/www-community/attacks/CSV_Injection):
a cell starting with ``=``, ``+``, ``-``, ``@``, tab, CR or LF, also behind leading blanks
or invisible characters (space, U+3000, U+200B, U+FEFF) and in fullwidth (``＝＋－＠``), all
checked after control characters are removed. A bare E.164 number (``+447700900123``) is
left as it is: digits after a ``+`` cannot run anything, and a prefix would corrupt the phone
column. XLSX cells are typed: text is written as a string cell, never a formula, so it needs
no apostrophe and reads back exactly as written. Excel holds at most 32,767 characters in a
cell: longer text is cut in XLSX with a `TruncatedCellWarning` (CSV keeps it whole).
"""

from __future__ import annotations

import contextlib
import csv
import html
import math
import os
import re
import secrets
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from .ledger import Record, resolve_hint
from .message import Media, Template

if TYPE_CHECKING:
    from .decisions import Decisions

__all__ = [
    "EXCEL_CELL_LIMIT",
    "RESULT_COLUMNS",
    "STATUSES",
    "ResultsSummary",
    "TruncatedCellWarning",
    "build_results",
    "neutralise",
    "results_summary",
    "save_results",
]

#: every status a results row can have (see `campaignkit.sending`)
STATUSES = ("sent", "dry-run", "already-sent", "failed", "unknown", "skipped", "duplicate",
            "waiting", "suppressed", "deferred", "capped", "over-budget")
#: the columns `send` adds to the frame, in order
RESULT_COLUMNS = ("key", "status", "error", "message_id", "job_id", "http_status", "attempts",
                  "sent_at", "sendable_at")

class TruncatedCellWarning(UserWarning):
    """Text longer than Excel's cell limit was cut in an XLSX file."""


_E164 = re.compile(r"\+[1-9]\d{6,14}")
# A formula trigger (ASCII or fullwidth ＝＋－＠), after any blanks and invisible characters
# a spreadsheet skips; or a tab, CR or LF first.
_FORMULA = re.compile(r"[\t\r\n]|[\s\u200b-\u200f\u2060\ufeff]*[=+\-@\uff1d\uff0b\uff0d\uff20]")
# What XML 1.0 (so XLSX) cannot hold: C0 controls but tab, LF and CR (openpyxl's own rule).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
#: Excel's limit for one cell; longer text is cut in XLSX (openpyxl would write a file
#: Excel rejects) with a `TruncatedCellWarning`
EXCEL_CELL_LIMIT = 32_767


def neutralise(text: str) -> str:
    """``text`` made inert for a CSV cell: control characters removed, then OWASP's quote.

    >>> neutralise('=HYPERLINK("http://x","c")')
    '\\'=HYPERLINK("http://x","c")'
    >>> neutralise("\\x00\\u3000＝1+1")
    "'\\u3000＝1+1"
    >>> neutralise("+447700900123")
    '+447700900123'
    """
    text = _CONTROL.sub("", text)
    if _FORMULA.match(text) and not _E164.fullmatch(text):
        return "'" + text
    return text


def _text(value: Any) -> str | int | None:
    """A cell as text, as written (integers stay numbers: they cannot execute)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return value
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.isoformat()
    if isinstance(value, Media):
        return value.url
    if isinstance(value, Template):
        return value.model_dump_json(exclude_none=True)
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    if isinstance(value, (tuple, list)):
        parts = [_text(v) for v in value]
        return "; ".join(str(p) for p in parts if p is not None)
    return str(value)


def _rows(results: pd.DataFrame) -> Iterator[list[str | int | None]]:
    columns = [results[c].tolist() for c in results.columns]
    index = results.index.tolist()
    for i, label in enumerate(index):
        yield [_text(label), *(_text(values[i]) for values in columns)]


def _header(results: pd.DataFrame) -> list[str]:
    name = results.index.name if results.index.name is not None else "row"
    return [str(c) for c in (name, *results.columns)]


def _write_csv(results: pd.DataFrame, handle: Any) -> None:
    # Every field quoted (OWASP: separators and quotes inside a field cannot start a cell).
    writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow([neutralise(c) for c in _header(results)])
    for row in _rows(results):
        writer.writerow(["" if v is None else neutralise(v) if isinstance(v, str) else v
                         for v in row])


def _write_xlsx(results: pd.DataFrame, target: Path, sheet_file: Path) -> list[str]:
    """Write the XLSX; return where cells were cut (``row 2, column "x" (40,000 characters)``)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.worksheet import _writer

    book = Workbook(write_only=True)
    sheet = book.create_sheet("results")
    # openpyxl's write-only sheet streams its rows to a temporary file it names in the
    # system's temporary folder; a kill -9 would leave customer data there. Give it one in
    # the destination folder instead (registered so that openpyxl removes it as its own).
    _writer.ALL_TEMP_FILES.append(str(sheet_file))
    sheet._writer = _writer.WorksheetWriter(sheet, out=str(sheet_file))
    sheet._writer.write_top()
    header = _header(results)
    labels = results.index.tolist()
    cut: list[str] = []

    def cell(value: str | int | None, row: int, column: int) -> WriteOnlyCell | None:
        if value is None:
            return None
        if isinstance(value, int):
            return WriteOnlyCell(sheet, value=value)
        text = _CONTROL.sub("", value)
        if len(text) > EXCEL_CELL_LIMIT:
            where = "the header" if row < 0 else f"row {labels[row]}"
            cut.append(f'{where}, column "{header[column]}" ({len(text):,} characters)')
            text = text[:EXCEL_CELL_LIMIT]
        made = WriteOnlyCell(sheet, value=text)
        made.data_type = "s"  # never "f": openpyxl would write "=..." as a live formula
        return made

    try:
        sheet.append([cell(v, -1, j) for j, v in enumerate(header)])
        for i, row in enumerate(_rows(results)):
            sheet.append([cell(v, i, j) for j, v in enumerate(row)])
    except BaseException:
        # Close openpyxl's two nested generators inner first, so neither writes to a closed
        # file when it is collected later.
        for close in (getattr(sheet._rows, "close", None), sheet._writer.close):
            if close is not None:
                with contextlib.suppress(Exception):
                    close()
        raise
    book.save(target)
    return cut


def _create(folder: Path, name: str, suffix: str, mode: int) -> Path:
    """A new, empty, hidden file in ``folder`` (``mode`` less the umask)."""
    while True:
        path = folder / f".{name}.{secrets.token_hex(6)}{suffix}"
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        return path


def _folder_for(target: Path) -> Path:
    folder = target.parent
    if not folder.exists():
        raise FileNotFoundError(
            f"save_results cannot write {target}: the folder {folder} does not exist; "
            "create it first or choose another path"
        )
    if not folder.is_dir():
        raise NotADirectoryError(
            f"save_results cannot write {target}: {folder} is a file, not a folder; "
            "choose another path"
        )
    return folder


def save_results(results: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``results`` to ``path`` (``.csv`` or ``.xlsx``) atomically; return the path.

    The index (the sheet's row numbers) is the first column. Problems, media and templates
    are written as text (problems joined with ``"; "``); timestamps as ISO 8601. Text over
    Excel's 32,767-character cell limit is cut in XLSX with one `TruncatedCellWarning`
    naming every cell cut.

    Raises `FileNotFoundError` (or `NotADirectoryError`) when the folder is missing.

    Examples
    --------
    >>> save_results(results, tmp_path / "spring.xlsx")  # doctest: +SKIP
    PosixPath('.../spring.xlsx')
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ValueError(f"save_results writes .csv or .xlsx, not {target.name!r}")
    folder = _folder_for(target)
    try:
        # 0o666: the mode any new file gets, less the umask (mkstemp would force 0600).
        temporary = _create(folder, target.name, ".tmp", 0o666)
    except PermissionError:
        raise PermissionError(
            f"save_results cannot write {target}: permission denied in the folder {folder}"
        ) from None
    sheet_file: Path | None = None
    cut: list[str] = []
    try:
        if suffix == ".csv":
            # utf-8-sig: Excel reads the BOM as "this is UTF-8" (names, emoji, look-alikes).
            with open(temporary, "w", encoding="utf-8-sig", newline="") as handle:
                _write_csv(results, handle)
                handle.flush()
                os.fsync(handle.fileno())
        else:
            sheet_file = _create(folder, target.name, ".sheet.tmp", 0o600)
            cut = _write_xlsx(results, temporary, sheet_file)
            with open(temporary, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        with _suppress_missing():
            os.unlink(temporary)
        raise
    finally:
        if sheet_file is not None:
            with _suppress_missing():
                os.unlink(sheet_file)
    if cut:
        shown = "; ".join(cut[:5]) + (f"; and {len(cut) - 5} more" if len(cut) > 5 else "")
        cells, verb = ("1 cell", "was") if len(cut) == 1 else (f"{len(cut)} cells", "were")
        warnings.warn(
            f"{cells} of {target.name} {verb} cut to Excel's limit of {EXCEL_CELL_LIMIT:,} "
            f"characters: {shown}; save the results as .csv to keep every character",
            TruncatedCellWarning,
            stacklevel=2,
        )
    return target


class _suppress_missing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> bool:
        return kind is not None and issubclass(kind, FileNotFoundError)


@dataclass(frozen=True, slots=True)
class ResultsSummary:
    """Counts per status, the most common errors, and how to settle unknown rows."""

    campaign: str | None
    mode: str | None
    counts: dict[str, int]
    top_errors: tuple[tuple[str, int], ...]
    unknown: tuple[str, ...]
    hint: str | None
    stopped: str | None
    warnings: tuple[str, ...] = ()
    ledger: str | None = None

    @property
    def total(self) -> int:
        """Number of rows."""
        return sum(self.counts.values())

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in self.counts.items() if n)
        name = f"{self.campaign} ({self.mode})" if self.campaign else "results"
        tail = f"; {self.hint}" if self.hint else ""
        return f"<ResultsSummary {name}: {counts or 'no rows'}{tail}>"

    def _repr_html_(self) -> str:
        e = html.escape
        cells = "".join(
            f"<tr><td>{e(status)}</td><td style='text-align:right'>{n}</td></tr>"
            for status, n in self.counts.items() if n
        )
        parts = [f"<b>{e(self.campaign or 'results')}</b> ({e(self.mode or '')})",
                 f"<table><tr><th>status</th><th>rows</th></tr>{cells}</table>"]
        if self.top_errors:
            items = "".join(f"<li>{n} × {e(error)}</li>" for error, n in self.top_errors)
            parts.append(f"<p>Most common errors:</p><ul>{items}</ul>")
        if self.stopped:
            parts.append(f"<p>Stopped: {e(self.stopped)}</p>")
        if self.warnings:
            items = "".join(f"<li>{e(w)}</li>" for w in self.warnings)
            parts.append(f"<p>Warnings:</p><ul>{items}</ul>")
        if self.hint:
            parts.append(f"<p><code>{e(self.hint)}</code></p>")
        if self.ledger and self.mode == "live":
            parts.append(f"<p>Recorded in the ledger <code>{e(self.ledger)}</code></p>")
        return "<div class='campaignkit-summary'>" + "".join(parts) + "</div>"


def results_summary(results: pd.DataFrame, *, top: int = 5) -> ResultsSummary:
    """Summarise a results frame of `send`.

    Examples
    --------
    >>> results_summary(results)  # doctest: +SKIP
    <ResultsSummary spring (live): 3 sent, 1 skipped>
    """
    status = results["status"]
    counts = {s: int((status == s).sum()) for s in STATUSES}
    errors = results.loc[status.isin(["failed", "unknown"]), "error"].dropna()
    top_errors = tuple(Counter(errors.tolist()).most_common(top))
    unknown = tuple(str(k) for k in results.loc[status == "unknown", "key"].tolist())
    attrs = results.attrs
    campaign, mode, ledger = attrs.get("campaign"), attrs.get("mode"), attrs.get("ledger")
    hint = None
    if unknown and campaign and ledger and mode == "live":
        hint = resolve_hint(ledger, campaign, list(unknown))
    return ResultsSummary(campaign, mode, counts, top_errors, unknown, hint,
                          attrs.get("stopped"), tuple(attrs.get("warnings") or ()), ledger)


# -- the results frame ------------------------------------------------------------------------

def build_results(
    frame: pd.DataFrame, decisions: Decisions, records: dict[str, Record],
    late: dict[int, datetime], attrs: dict[str, Any],
) -> pd.DataFrame:
    """The results frame of a run: ``frame`` plus `RESULT_COLUMNS`, one status per row.

    Rows that made a request take their outcome from the ledger (``records``, by key);
    rows settled before any request take their fate from ``decisions``; ``late`` holds the
    rows whose window closed before their slot (deferred). A refused run (``attrs`` from a
    refusal, no records) reports its sendable rows ``waiting``.

    Built column by column: only the rows that made (or could make) a request are read one
    by one, so a million rows planned and not sent cost arrays, not Python objects.
    """
    out = frame.copy()
    for name in RESULT_COLUMNS:
        if name in out.columns:
            out = out.rename(columns={name: f"{name} (sheet)"})
    table = decisions.table
    n = len(table)
    fates = table["fate"].to_numpy(dtype=object)
    status = fates.copy()
    status[fates == "changed"] = "skipped"
    error = table["reason"].to_numpy(dtype=object).copy()
    attempts = table["attempts"].to_numpy(dtype=np.int64).copy()
    message_id = np.full(n, None, dtype=object)
    job_id = np.full(n, None, dtype=object)
    http_status = np.full(n, None, dtype=object)
    sent_at = np.full(n, None, dtype=object)
    earlier = np.isin(fates, ["already-sent", "failed", "unknown"])
    message_id[earlier] = table["message_id"].to_numpy(dtype=object)[earlier]
    sent_at[earlier] = table["sent_at"].to_numpy(dtype=object)[earlier]
    held = np.isin(fates, ["deferred", "capped"])
    sendable_at = np.where(held, table["sendable_at"].to_numpy(dtype="datetime64[us]"),
                           np.datetime64("NaT", "us"))
    going = np.flatnonzero(np.isin(fates, ["send", "lookup"]))
    error[going] = None
    attempts[going] = 0
    keys_of = table["key"].iloc[going].tolist()
    for i, key in zip(going.tolist(), keys_of, strict=True):
        record = records.get(key)
        if i in late:
            status[i] = "deferred"
            sendable_at[i] = np.datetime64(late[i].astimezone(UTC).replace(tzinfo=None), "us")
            error[i] = ("quiet hours: the recipient's window closed before the message's "
                        f"turn; sendable at {late[i]:%Y-%m-%d %H:%M} UTC")
        elif record is not None:
            status[i] = "unknown" if record.status == "pending" else record.status
            error[i], message_id[i], job_id[i] = record.error, record.message_id, record.job_id
            http_status[i], attempts[i] = record.http_status, record.attempts
            sent_at[i] = record.sent_at
        elif fates[i] == "lookup":
            status[i], error[i] = "unknown", (
                f"{table['reason'].iat[i]}; a live run asks the provider before sending it")
        else:
            status[i] = "waiting"
    index = out.index
    keys = pa.array(table["key"].array)
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    columns = {
        "key": pd.Series(pc.if_else(pc.equal(keys, ""), pa.scalar(None, keys.type), keys),
                         index=index, dtype="str"),
        "status": pd.Series(status, index=index, dtype="str"),
        "error": pd.Series(error, index=index, dtype="str"),
        "message_id": pd.Series(message_id, index=index, dtype="str"),
        "job_id": pd.Series(job_id, index=index, dtype="str"),
        "http_status": pd.Series(http_status, index=index, dtype="Int64"),
        "attempts": pd.Series(attempts, index=index, dtype="int64"),
        "sent_at": _utc(sent_at, index),
        "sendable_at": pd.Series(sendable_at, index=index).dt.tz_localize(UTC),
    }
    for name, column in columns.items():
        out[name] = column
    out.attrs = {**frame.attrs, **attrs}
    return out


def _utc(values: np.ndarray, index: pd.Index) -> pd.Series:
    """ISO 8601 texts (or None) as UTC times; only the texts present are parsed."""
    moments = np.full(len(values), np.datetime64("NaT", "us"))
    present = np.flatnonzero(pd.notna(values))
    if len(present):
        parsed = pd.to_datetime(pd.Series(values[present], dtype=object), utc=True,
                                format="ISO8601")
        moments[present] = parsed.dt.tz_convert(None).to_numpy(dtype="datetime64[us]")
    return pd.Series(moments, index=index).dt.tz_localize(UTC)
