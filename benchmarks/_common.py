"""Shared benchmark machinery: the `Result` row, interleaved timing, data and the table.

Every benchmark compares campaignkit with the naive code a user would write, both run in
the same process on the same data, and reports the *ratio* (absolute times depend on the
machine and on what else runs on it; docs/performance.md#method). Timing follows that
method: ``time.perf_counter``, ``gc.collect()`` before each run, the collector
otherwise on (as in user code), repetitions interleaved round-robin so background load hits
every variant alike, median reported.

The data are deterministic (fixed seed) and realistic: phones in the formats people type,
about 5 % damaged the way spreadsheets damage them, about 20 % repeated from an earlier row
in another format; names in Latin (with accents), Cyrillic, Greek, Arabic, Devanagari and
CJK scripts. Files are written once to ``benchmarks/.cache/`` and reused.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import math
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CACHE",
    "COLUMNS",
    "EXCEL_ROWS",
    "LARGEST_COLUMNS",
    "REGION",
    "Result",
    "Timing",
    "appointments",
    "bench",
    "format_table",
    "largest_csv",
    "largest_xlsx",
    "peak_mib",
    "people",
    "people_csv",
    "people_xlsx",
    "select",
    "sms_texts",
    "wanted",
]

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
REGION = "GB"  # the generated sheets are a UK clinic's list: default_region="GB"
SEED = 20261123
COLUMNS = (
    "patient_id",
    "first_name",
    "last_name",
    "phone",
    "clinic",
    "appt_date",
    "email",
    "language",
    "opt_in",
    "notes",
)


# -- results -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Result:
    """One line of the benchmark table.

    Attributes
    ----------
    stage
        What is measured and at what size, e.g. ``"load xlsx + phones (100k)"``.
    baseline, ours
        The naive code and campaignkit's code, as short readable expressions.
    baseline_s, ours_s
        Median seconds (None where a line has no timing, e.g. memory has no baseline).
    ratio
        ``baseline_s / ours_s`` (how many times faster campaignkit is), or the measured
        value for a limit line (e.g. peak MiB).
    target
        The target as text (``"≥ 5×"``, ``"< 1536 MiB"``); ``""`` when the line only informs.
    passed
        True/False against the target; None without a target.
    note
        What the reader needs to trust the line: correctness checks, sizes, the source.
    """

    stage: str
    baseline: str
    ours: str
    baseline_s: float | None
    ours_s: float | None
    ratio: float | None
    target: str
    passed: bool | None
    note: str = ""

    @classmethod
    def speed(
        cls,
        stage: str,
        baseline: str,
        ours: str,
        timings: Mapping[str, Timing],
        *,
        min_ratio: float | None,
        advisory: float | None = None,
        note: str = "",
        correct: bool = True,
    ) -> Result:
        """A speed line: ``ratio = baseline / ours``.

        It fails below ``min_ratio`` (a target of docs/performance.md#targets) or when the outputs
        differ (``correct`` False). ``advisory`` is an advisory target of that page: shown in
        brackets and in the verdict, it never fails the run.
        """
        base, mine = timings[baseline].median, timings[ours].median
        ratio = base / mine
        passed = None if min_ratio is None else ratio >= min_ratio
        target = "" if min_ratio is None else f"≥ {min_ratio:g}×"
        if advisory is not None and min_ratio is None:
            target = f"(≥ {advisory:g}×)"
            if ratio < advisory:
                note = f"below the advisory target ≥ {advisory:g}×; {note}"
        if not correct:
            passed = False
            note = f"OUTPUTS DIFFER; {note}"
        return cls(stage, baseline, ours, base, mine, ratio, target, passed, note)

    @classmethod
    def limit(
        cls,
        stage: str,
        ours: str,
        value: float,
        limit: float | None,
        unit: str,
        *,
        seconds: float | None = None,
        note: str = "",
    ) -> Result:
        """A limit line (memory): passes when ``value < limit``; ``limit`` None only informs."""
        passed = None if limit is None else value < limit
        target = "" if limit is None else f"< {limit:,.0f} {unit}"
        return cls(stage, "—", ours, None, seconds, value, target, passed, note)

    @property
    def verdict(self) -> str:
        if self.passed is None and self.note.startswith("below the advisory"):
            return "below"
        return {True: "pass", False: "FAIL", None: "info"}[self.passed]


# -- timing ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Timing:
    """The runs of one variant, in seconds, and the first run's output (for equality checks)."""

    runs: list[float] = field(default_factory=list)
    output: Any = None

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


def bench(
    cases: Mapping[str, Callable[[], Any]],
    repeats: Mapping[str, int] | int,
    *,
    digest: Mapping[str, Callable[[Any], Any]] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Timing]:
    """Time every case ``repeats`` times, round-robin, and keep the first output of each.

    ``repeats`` may differ per case (a naive baseline of 20 s runs twice, ours five times);
    a case with fewer repeats simply sits out the later rounds. ``digest`` turns a case's
    output into what is kept (outside the timing): a million small objects kept alive would
    slow every later run's garbage collection, whichever case it belongs to.
    """
    digest = digest or {}
    counts = {name: repeats if isinstance(repeats, int) else repeats[name] for name in cases}
    timings = {name: Timing() for name in cases}
    for round_ in range(max(counts.values())):
        for name, function in cases.items():
            if round_ >= counts[name]:
                continue
            gc.collect()
            start = time.perf_counter()
            output = function()
            elapsed = time.perf_counter() - start
            timing = timings[name]
            timing.runs.append(elapsed)
            if round_ == 0:
                timing.output = digest[name](output) if name in digest else output
            del output
            if log is not None:
                log(f"    {name}: {elapsed:.3f} s")
    return timings


# -- which stages run ---------------------------------------------------------------------------

_ONLY: frozenset[str] | None = None


def select(only: Iterable[str] | None) -> None:
    """Restrict `wanted` to these stage keys or prefixes (``render`` selects ``render-plain``)."""
    global _ONLY
    _ONLY = None if only is None else frozenset(only)


def wanted(key: str) -> bool:
    """Whether the stage ``key`` (e.g. ``"render-jinja"``) was selected by ``--only``."""
    if _ONLY is None:
        return True
    return any(key == item or key.startswith(item + "-") for item in _ONLY)


def peak_mib() -> float:
    """This process's peak resident memory in MiB (``VmHWM``).

    Not ``ru_maxrss``: Linux carries it over from the parent through fork and exec, so a
    child of a benchmark run that already held 1.2 GiB would report 1.2 GiB whatever it did.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # not Linux: ru_maxrss (KiB on Linux, bytes on macOS)
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def say(text: str) -> None:
    """Progress on stderr, so stdout holds only the table."""
    print(text, file=sys.stderr, flush=True)


# -- data --------------------------------------------------------------------------------------

_FIRST_NAMES = (
    # weighted towards the names a UK clinic sees most; every script the toolkit must keep intact
    *("Oliver", "Amelia", "George", "Olivia", "Harry", "Isla", "Jack", "Ava", "Noah", "Emily"),
    *("Charlie", "Sophie", "Thomas", "Grace", "James", "Mia", "William", "Ella", "Henry", "Lily"),
    *("José", "Zoë", "Łukasz", "Siobhán", "Chloé", "Jürgen", "François", "Björn", "Sofía"),
    *("Анна", "Дмитрий", "Νίκος", "Ελένη", "فاطمة", "يوسف", "प्रिया", "आरव", "伟", "美咲"),
    *("Aoife", "Niamh", "Seán", "Rhys", "Dafydd"),
)
_FIRST_WEIGHTS = np.array([6.0] * 20 + [1.5] * 9 + [1.0] * 10 + [1.5] * 5)
_LAST_NAMES = (
    *("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel"),
    *("Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall"),
    *("García", "Müller", "Nowak", "O'Brien", "Kowalska", "Lefèvre", "Иванова", "Παπαδόπουλος"),
    *("الزهراء", "शर्मा", "王", "NA", "Ní Bhriain", "ap Gruffydd"),
)
_CLINICS = (
    "Riverside Clinic",
    "Northgate Health Centre",
    "Harbour Family Practice",
    "St Anne's Surgery",
    "Parkview Medical",
    "Castle Street Clinic",
    "Meadowbank Practice",
    "Old Mill Surgery",
    "Victoria Road Health",
    "Bryn Celyn Meddygfa",
)
_LANGUAGES = ("en", "en", "en", "en", "cy", "pl", "es", "fr", "ar", "hi", "zh", "ru", "el")
_NOTES = (
    "",
    "",
    "",
    "wheelchair access",
    'prefers "Dr Rao"',
    "interpreter needed, Polish",
    "call after 5pm; mobile only",
    "moved from Harbour, see file",
)
_JUNK = ("", "", "n/a", "TBC", "none", "0712 3456", "07700 90012", "call reception", "-", "?")
_US_AREAS = ("617", "212", "415", "312", "206", "512", "646", "718")
_GB_LANDLINES = ("20 7946 0", "161 496 0", "113 496 0", "117 496 0", "29 2018 0")


def _gb_mobile_formats(nsn: str) -> list[object]:
    """Ways people (and spreadsheets) write the GB mobile ``nsn`` (10 digits, 7...)."""
    return [
        f"0{nsn[:4]} {nsn[4:]}",  # 07700 900123
        f"0{nsn}",  # 07700900123
        f"+44 {nsn[:4]} {nsn[4:]}",  # +44 7700 900123
        f"44{nsn}",  # 447700900123
        f"(0{nsn[:2]}) {nsn[2:5]}-{nsn[5:]}",  # (077) 009-00123
        f"+44 (0){nsn[:4]} {nsn[4:]}",  # +44 (0)7700 900123
        f"+44-{nsn[:4]}-{nsn[4:7]}-{nsn[7:]}",  # +44-7700-900-123
        f"0{nsn[:4]}.{nsn[4:7]}.{nsn[7:]}",  # 07700.900.123
    ]


def _gb_mobile_damaged(nsn: str) -> list[object]:
    """What spreadsheets do to a GB mobile: number cells, NBSP, zero-width, ``.0``."""
    return [
        int(nsn),  # a number cell dropped the trunk 0
        int("44" + nsn),  # a number cell cannot hold the +
        f"0{nsn[:4]}\u00a0{nsn[4:]}",  # NBSP from a web form
        f"0{nsn[:4]} {nsn[4:]}\u200b",  # zero-width space from copy-paste
        f"44{nsn}.0",  # a float column saved as text
        f"\u20180{nsn[:4]} {nsn[4:]}",  # a curly apostrophe typed to keep the leading zero
        f"0{nsn[:4]}\u2013{nsn[4:]}",  # an en dash from a word processor
    ]


def _identity(rng: np.random.Generator) -> tuple[str, str]:
    """A person's number as (kind, digits)."""
    draw = rng.random()
    if draw < 0.85:
        second = "12345789"[rng.integers(8)]
        return "gb", "7" + second + "".join(map(str, rng.integers(0, 10, 8)))
    if draw < 0.90:
        area = _US_AREAS[rng.integers(len(_US_AREAS))]
        return "us", f"{area}555{rng.integers(100, 200):04d}"
    if draw < 0.93:
        return "ie", "8" + "35679"[rng.integers(5)] + "".join(map(str, rng.integers(0, 10, 7)))
    if draw < 0.96:
        base = _GB_LANDLINES[rng.integers(len(_GB_LANDLINES))]
        return "landline", base + f"{rng.integers(0, 1000):03d}"
    return "junk", _JUNK[rng.integers(len(_JUNK))]


# How often each of `_gb_mobile_formats` is used (most people type 07... or +44 7...).
_GB_WEIGHTS = np.array([30, 25, 15, 10, 5, 4, 5, 6]) / 100


def _written(kind: str, digits: str, rng: np.random.Generator) -> object:
    """One way of writing a number of ``kind``: about 5 % of GB mobiles come out damaged."""
    if kind == "gb":
        if rng.random() < 0.05:
            options = _gb_mobile_damaged(digits)
        else:
            return _gb_mobile_formats(digits)[rng.choice(len(_GB_WEIGHTS), p=_GB_WEIGHTS)]
    elif kind == "us":
        a, b, c = digits[:3], digits[3:6], digits[6:]
        options = [f"+1 {a} {b} {c}", f"+1 ({a}) {b}-{c}", f"1-{a}-{b}-{c}", f"+1{digits}"]
    elif kind == "ie":
        options = [f"+353 {digits[:2]} {digits[2:5]} {digits[5:]}", f"00353{digits}", f"0{digits}"]
    elif kind == "landline":
        options = [f"0{digits}", f"+44 {digits}", f"(0{digits[:3]}) {digits[3:]}"]
    else:
        options = [digits]
    return options[rng.integers(len(options))]


def people(n: int, seed: int = SEED) -> pd.DataFrame:
    """``n`` recipients with typed cells, as a sheet holds them (phones mixed text/number).

    ``phone`` is object dtype: text, or int where the sheet has a number cell.
    ``appt_date`` is datetime64: 100 days × 12 hourly slots = 1,200 distinct values.
    """
    rng = np.random.default_rng(seed)
    identities: list[tuple[str, str]] = []
    phones: list[object] = []
    for _ in range(n):
        if identities and rng.random() < 0.20:  # the same person again, often written otherwise
            kind, digits = identities[rng.integers(len(identities))]
        else:
            kind, digits = _identity(rng)
            identities.append((kind, digits))
        phones.append(_written(kind, digits, rng))
    first = rng.choice(len(_FIRST_NAMES), n, p=_FIRST_WEIGHTS / _FIRST_WEIGHTS.sum())
    last = rng.integers(0, len(_LAST_NAMES), n)
    appt = appointments(n, rng)
    ids = np.arange(100_001, 100_001 + n)
    return pd.DataFrame(
        {
            "patient_id": ids,
            "first_name": pd.Series(np.array(_FIRST_NAMES, dtype=object)[first], dtype="str"),
            "last_name": pd.Series(np.array(_LAST_NAMES, dtype=object)[last], dtype="str"),
            "phone": pd.Series(phones, dtype=object),
            "clinic": pd.Series(
                np.array(_CLINICS, dtype=object)[rng.integers(0, len(_CLINICS), n)], dtype="str"
            ),
            "appt_date": appt,
            "email": pd.Series([f"p{i}@example.org" for i in ids.tolist()], dtype="str"),
            "language": pd.Series(
                np.array(_LANGUAGES, dtype=object)[rng.integers(0, len(_LANGUAGES), n)],
                dtype="str",
            ),
            "opt_in": pd.Series(np.where(rng.random(n) < 0.97, "yes", "no"), dtype="str"),
            "notes": pd.Series(
                np.array(_NOTES, dtype=object)[rng.integers(0, len(_NOTES), n)], dtype="str"
            ),
        }
    )


def appointments(n: int, rng: np.random.Generator | None = None) -> pd.Series:
    """``n`` appointment times: 100 days × 12 hourly slots = 1,200 distinct values."""
    rng = np.random.default_rng(SEED + 2) if rng is None else rng
    slot = rng.integers(0, 1200, n)
    start = np.datetime64("2026-12-01T08:00", "m")
    appt = start + (slot // 12).astype("timedelta64[D]") + (slot % 12).astype("timedelta64[h]")
    return pd.Series(appt.astype("datetime64[s]"), name="appt_date")


def _shown(value: object) -> str:
    """A cell as a CSV export shows it: dates as Excel's ISO-like text, numbers without .0."""
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return "" if value is None else str(value)


def people_xlsx(n: int) -> Path:
    """The ``n``-row sheet as .xlsx in the cache (written once with openpyxl; real cell types)."""
    return _xlsx(CACHE / f"recipients_{n}.xlsx", n, COLUMNS, seconds=max(1, n // 5000))


def _xlsx(path: Path, n: int, columns: Sequence[str], *, seconds: int) -> Path:
    """``people(n)``'s ``columns`` written once to ``path`` with openpyxl, real cell types."""
    import openpyxl  # only needed to write the cache once

    if path.exists():
        return path
    say(f"  writing {path.name} once (openpyxl, about {seconds} s)...")
    frame = people(n)
    CACHE.mkdir(exist_ok=True)
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Recipients")
    sheet.append(list(columns))
    values = [frame[c].tolist() for c in columns]
    for row in zip(*values, strict=True):
        sheet.append([v.to_pydatetime() if isinstance(v, pd.Timestamp) else v for v in row])
    partial = path.with_suffix(".part")
    book.save(partial)
    partial.rename(path)
    return path


def people_csv(n: int) -> Path:
    """The ``n``-row sheet as a UTF-8 CSV in the cache (what Excel's "CSV UTF-8" shows)."""
    return _csv(CACHE / f"recipients_{n}.csv", n, COLUMNS)


def _csv(path: Path, n: int, columns: Sequence[str]) -> Path:
    """``people(n)``'s ``columns`` written once to ``path`` as a UTF-8 CSV, cells as shown."""
    if path.exists():
        return path
    say(f"  writing {path.name} once...")
    frame = people(n)
    CACHE.mkdir(exist_ok=True)
    partial = path.with_suffix(".part")
    with open(partial, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        values = [frame[c].tolist() for c in columns]
        writer.writerows([_shown(v) for v in row] for row in zip(*values, strict=True))
    partial.rename(path)
    return path


#: the most data rows a sheet holds: Excel's 1,048,576 rows less the header
#: (https://support.microsoft.com/en-us/office/excel-specifications-and-limits-1672b34d-7043-467e-8e27-269d656771c3)
EXCEL_ROWS = 1_048_575
#: the largest sheet's columns (issue 17): an ID, names, a phone, a clinic and a date
LARGEST_COLUMNS = ("patient_id", "first_name", "last_name", "phone", "clinic", "appt_date")


def largest_csv(n: int = EXCEL_ROWS) -> Path:
    """The largest sheet Excel holds, as a UTF-8 CSV in the cache (`LARGEST_COLUMNS`)."""
    return _csv(CACHE / f"largest_{n}.csv", n, LARGEST_COLUMNS)


def largest_xlsx(n: int = EXCEL_ROWS) -> Path:
    """The largest sheet as .xlsx in the cache, real number and date cells (openpyxl, once:
    about 3 minutes for 1M rows)."""
    return _xlsx(CACHE / f"largest_{n}.xlsx", n, LARGEST_COLUMNS, seconds=max(1, n // 6000))


# SMS texts with the mix of docs/performance.md#method: 55 % short GSM-7, 25 % long with extension
# characters, 10 % with emoji, 10 % Polish; non-GSM names force UCS-2 in any of them.
_SHORT = "Hi {name}, your appointment at {clinic} is on {day}. Reply STOP to opt out."
_LONG = (
    "Dear {name}, this is a reminder from {clinic} about your appointment on {day}. "
    "Please bring your [NHS number] and a list of medicines ~ if you cannot attend, call us "
    "or reply CANCEL; a missed slot costs the practice €160. Reply STOP to opt out."
)
_EMOJI = "Hi {name} 👋 see you at {clinic} on {day} 🗓️ Reply STOP to opt out."
_POLISH = "Dzień dobry {name}, przypominamy o wizycie w {clinic} dnia {day}. Odpowiedz STOP."


def sms_texts(n: int, seed: int = SEED) -> pd.Series:
    """``n`` rendered SMS texts (pandas ``str`` dtype), the mix of docs/performance.md#method."""
    rng = np.random.default_rng(seed + 1)
    kinds = rng.choice(4, n, p=[0.55, 0.25, 0.10, 0.10])
    names = np.array(_FIRST_NAMES, dtype=object)[
        rng.choice(len(_FIRST_NAMES), n, p=_FIRST_WEIGHTS / _FIRST_WEIGHTS.sum())
    ]
    clinics = np.array(_CLINICS, dtype=object)[rng.integers(0, len(_CLINICS), n)]
    days = [
        f"{d:%a %d %b} at {h}:00" for d in pd.date_range("2026-12-01", periods=100) for h in (9, 14)
    ]
    day = np.array(days, dtype=object)[rng.integers(0, len(days), n)]
    formats = (_SHORT, _LONG, _EMOJI, _POLISH)
    texts = [
        formats[k].format(name=a, clinic=b, day=c)
        for k, a, b, c in zip(
            kinds.tolist(), names.tolist(), clinics.tolist(), day.tolist(), strict=True
        )
    ]
    return pd.Series(texts, dtype="str", name="text")


# -- the table ---------------------------------------------------------------------------------


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _ratio(result: Result) -> str:
    if result.ratio is None or math.isnan(result.ratio):
        return "—"
    if result.baseline_s is None:  # a limit line: the measured value itself
        return f"{result.ratio:,.0f}"
    # Near 1 (the send lines, with targets like 0.99–1.01×) one decimal would hide a miss.
    return f"{result.ratio:.3f}×" if result.ratio < 2 else f"{result.ratio:,.1f}×"


def format_table(results: Sequence[Result]) -> str:
    """The results as a plain-text table, notes listed below it."""
    header = ("stage", "baseline (naive)", "campaignkit", "base s", "ours s", "ratio", "target", "")
    rows = [
        (
            r.stage,
            r.baseline,
            r.ours,
            _seconds(r.baseline_s),
            _seconds(r.ours_s),
            _ratio(r),
            r.target or "—",
            r.verdict,
        )
        for r in results
    ]
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    right = {3, 4, 5}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [line(header), line(["-" * w for w in widths])]
    out.extend(line(row) for row in rows)
    notes = [f"  [{i}] {r.stage}: {r.note}" for i, r in enumerate(results, start=1) if r.note]
    if notes:
        out += ["", "notes:", *notes]
    return "\n".join(out)
