"""Benchmarks of the CPU stages before sending: load, phones, render, dates, segments, memory.

Each stage times campaignkit against the naive code a user would write, in the same process
on the same data, checks that both give the same result, and reports the ratio against the
target of docs/performance.md#targets (docs/performance.md#measured-limits for the limits).
Run it through ``benchmarks/run.py``; ``python benchmarks/bench_pipeline.py --memory-child``
is the fresh process the memory stage measures.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    REGION,
    Result,
    appointments,
    bench,
    peak_mib,
    people,
    people_csv,
    people_xlsx,
    say,
    sms_texts,
    wanted,
)

from campaignkit._phones import normalise_phones
from campaignkit.recipients import load_recipients
from campaignkit.sms import analyse, analyse_series
from campaignkit.templating import render

STAGES = ("load", "phones", "render-plain", "render-jinja", "dates", "segments", "memory")

# Rows per stage. Full: the sizes of docs/performance.md#targets where the naive code allows
# (a naive 1M-row df.apply render takes about a minute, so rendering runs on 200k rows);
# --quick: about a tenth.
FULL = {
    "load": 100_000,
    "phones": 100_000,
    "render": 200_000,
    "dates": 1_000_000,
    "segments": 1_000_000,
    "memory": 1_000_000,
}
QUICK = {
    "load": 10_000,
    "phones": 20_000,
    "render": 20_000,
    "dates": 200_000,
    "segments": 100_000,
    "memory": 100_000,
}
# The clinic's list holds British, US and Irish numbers (_common.people), and its random
# +44 mobiles include Jersey, Guernsey and Isle of Man ranges: it sends to all of them.
COUNTRIES = ["GB", "JE", "GG", "IM", "US", "IE"]
MEMORY_LIMIT_MIB = 1536.0  # 1M loaded and rendered rows (docs/performance.md#targets)

PLAIN = (
    "Hi {{ first_name }}, your appointment at {{ clinic }} is on {{ appt_date }}."
    " Reply STOP to opt out."
)
JINJA = (
    "Hi {{ first_name | title }}, your appointment at {{ clinic }} is on {{ appt_date }}."
    '{% if language == "cy" %} Diolch!{% endif %} Reply STOP to opt out.'
)
DATE_FORMAT = "%a %d %b at %H:%M"
DATES = "{{ appt_date | date('" + DATE_FORMAT + "') }}"


def _size(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


# -- the naive code (what a user writes) ------------------------------------------------------


def naive_normalise(value: object) -> str | None:
    """phonenumbers per value, as in docs/performance.md#phones: parse, validate, format E.164.

    ``is_valid_number`` is part of it: without it junk like ``0712 3456`` comes out as a
    "number", and the result could not be compared with campaignkit's (``""`` when invalid).
    """
    if not isinstance(value, str):  # read_excel gives NaN for an empty cell
        return None
    try:
        number = phonenumbers.parse(value, REGION)
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def naive_load(path: Path) -> pd.Series:
    frame = pd.read_excel(path, engine="openpyxl", dtype={"phone": str})
    return frame["phone"].apply(naive_normalise)


def naive_render(frame: pd.DataFrame, source: str) -> pd.Series:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    env.filters["date"] = lambda value, fmt: dt.datetime.fromisoformat(value).strftime(fmt)
    template = env.from_string(source)
    return frame.apply(lambda r: template.render(**r), axis=1)


_GSM = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("\f^{}\\[~]|€")


def naive_segments(text: str) -> tuple[str, int, int]:
    """The per-character loop of docs/performance.md#sms-segments: encoding, segments, characters.

    It keeps an extension character whole but knows nothing of graphemes (a flag or
    an emoji with a variation selector may be split), as most hand-written counters.
    """
    septets = 0
    for char in text:
        if char in _GSM:
            septets += 1
        elif char in _GSM_EXTENSION:
            septets += 2
        else:
            units = len(text.encode("utf-16-le")) // 2
            segments = 1 if units <= 70 else -(-units // 67)
            return "UCS-2", segments, units
    if septets <= 160:
        return "GSM-7", min(septets, 1), septets
    segments, free = 1, 153
    for char in text:
        width = 2 if char in _GSM_EXTENSION else 1
        if width > free:
            segments, free = segments + 1, 153
        free -= width
    return "GSM-7", segments, septets


# -- correctness checks -------------------------------------------------------------------------


def _phones_agree(
    naive: list[str | None], to: list[str], repairs: list[tuple[str, ...]]
) -> tuple[bool, str]:
    """Every number phonenumbers gives must be campaignkit's; extra numbers must be repairs."""
    counts: Counter[str] = Counter()
    fixes: Counter[str] = Counter()
    for theirs, ours, fixed in zip(naive, to, repairs, strict=True):
        if theirs is not None:
            counts["equal" if ours == theirs else "mismatch"] += 1
        elif ours == "":
            counts["both invalid"] += 1
        elif fixed:
            counts["repaired"] += 1
            fixes.update(fixed)
        else:
            counts["mismatch"] += 1
    listed = ", ".join(f"{k} {v:,}" for k, v in sorted(fixes.items()))
    text = (
        f"E.164 equal to phonenumbers' on {counts['equal']:,} rows, both invalid on "
        f"{counts['both invalid']:,}, repaired by campaignkit where phonenumbers gives none on "
        f"{counts['repaired']:,} ({listed or 'none'}), mismatches {counts['mismatch']:,}"
    )
    return counts["mismatch"] == 0, text


def _texts_agree(ours: pd.Series, naive: pd.Series, whose: str = "Jinja2's") -> tuple[bool, str]:
    """Rows campaignkit rendered must equal the naive text; rows it refused are counted."""
    mine, theirs = ours.tolist(), naive.tolist()
    rendered = [i for i, t in enumerate(mine) if t is not None]
    different = sum(mine[i] != theirs[i] for i in rendered)
    refused = len(mine) - len(rendered)
    return different == 0 and len(mine) == len(theirs), (
        f"text equal to {whose} on {len(rendered) - different:,}/{len(mine):,} rows, "
        f"different {different:,}, refused with a problem {refused:,}"
    )


def _sms_agree(rendered: pd.DataFrame) -> tuple[bool, str]:
    """Every row's (encoding, segments, characters) must be `analyse()` of its text, and
    (None, 0, 0) where it has none."""
    texts = rendered["text"].tolist()
    infos = [None if t is None else analyse(t) for t in texts]
    expected = _triples(
        [None if i is None else i.encoding for i in infos],
        [0 if i is None else i.segments for i in infos],
        [0 if i is None else i.characters for i in infos],
    )
    encoding = rendered["encoding"].tolist()
    ours = _triples(encoding, rendered["segments"], rendered["characters"])
    different = int((ours != expected).any(axis=1).sum())
    # _triples keeps only "is UCS-2": None must also be exactly where the text is None
    different += sum((e is None) != (t is None) for e, t in zip(encoding, texts, strict=True))
    return different == 0, (
        f"(encoding, segments, characters) equal to analyse() on "
        f"{len(texts) - different:,}/{len(texts):,} rows"
    )


# -- stages --------------------------------------------------------------------------------------


def _load(n: int, quick: bool) -> list[Result]:
    path = people_xlsx(n)
    say(f"load: {path.name}")
    timings = bench(
        {
            "read_excel(openpyxl) + apply(normalise)": lambda: naive_load(path),
            "load_recipients(xlsx)": lambda: load_recipients(
                path, default_region=REGION, countries=COUNTRIES
            ),
        },
        {"read_excel(openpyxl) + apply(normalise)": 1 if quick else 2, "load_recipients(xlsx)": 3},
        log=say,
    )
    naive = timings["read_excel(openpyxl) + apply(normalise)"].output
    frame = timings["load_recipients(xlsx)"].output
    same_rows = len(naive) == len(frame)
    correct, text = _phones_agree(
        [None if pd.isna(v) else v for v in naive.tolist()],
        frame["to"].tolist(),
        frame["repairs"].tolist(),
    )
    return [
        Result.speed(
            f"load xlsx + phones ({_size(n)})",
            "read_excel(openpyxl) + apply(normalise)",
            "load_recipients(xlsx)",
            timings,
            min_ratio=5,
            correct=correct and same_rows,
            note=f"{text}; rows {len(frame):,} vs {len(naive):,}",
        )
    ]


def _phones(n: int) -> list[Result]:
    raw = people(n)["phone"]
    phones = pd.Series(
        ["" if v is None else str(v) for v in raw.tolist()], dtype="str", name="phone"
    )
    phones.index = pd.RangeIndex(2, n + 2, name="row")
    say(f"phones: {n:,} cells, {phones.nunique():,} distinct")
    timings = bench(
        {
            "s.apply(normalise)": lambda: phones.apply(naive_normalise),
            "normalise_phones(s)": lambda: normalise_phones(phones, REGION),
        },
        {"s.apply(normalise)": 3, "normalise_phones(s)": 5},
        log=say,
    )
    naive = timings["s.apply(normalise)"].output
    to, _, repairs = timings["normalise_phones(s)"].output
    correct, text = _phones_agree(
        [None if pd.isna(v) else v for v in naive.tolist()], to.tolist(), repairs.tolist()
    )
    return [
        Result.speed(
            f"phones ({_size(n)})",
            "s.apply(normalise)",
            "normalise_phones(s)",
            timings,
            min_ratio=None,
            advisory=8,
            correct=correct,
            note=f"advisory target (docs/performance.md#targets); {text}",
        )
    ]


def _recipients(n: int) -> pd.DataFrame:
    """A loaded recipients frame of ``n`` rows (render's input), dates as a sheet shows them."""
    source = people(n)
    source["phone"] = ["" if v is None else str(v) for v in source["phone"].tolist()]
    source["appt_date"] = source["appt_date"].dt.strftime("%Y-%m-%d %H:%M")
    return load_recipients(source, default_region=REGION, countries=COUNTRIES)


def _render(n: int, frame: pd.DataFrame, quick: bool) -> list[Result]:
    results: list[Result] = []
    naive_name = "df.apply(tmpl.render(**r), axis=1)"
    if wanted("render-plain"):
        say(f"render plain: {n:,} rows")
        timings = bench(
            {
                naive_name: lambda: naive_render(frame, PLAIN),
                "render(frame, msg)": lambda: render(frame, PLAIN),
                'render(frame, msg, engine="jinja")': lambda: render(frame, PLAIN, engine="jinja"),
            },
            {naive_name: 2, "render(frame, msg)": 5, 'render(frame, msg, engine="jinja")': 2},
            log=say,
        )
        naive = timings[naive_name].output
        ok, text = _texts_agree(timings["render(frame, msg)"].output["text"], naive)
        ok_sms, sms = _sms_agree(timings["render(frame, msg)"].output)
        ok, text = ok and ok_sms, f"{text}; {sms}"
        ok_j, text_j = _texts_agree(
            timings['render(frame, msg, engine="jinja")'].output["text"], naive
        )
        results.append(
            Result.speed(
                f"render plain {{{{ }}}} ({_size(n)})",
                naive_name,
                "render(frame, msg)",
                timings,
                min_ratio=100,
                correct=ok,
                note=f"{text}; render() also counts segments and builds the problems",
            )
        )
        results.append(
            Result.speed(
                f"  same, Jinja2 engine ({_size(n)})",
                naive_name,
                'render(frame, msg, engine="jinja")',
                timings,
                min_ratio=None,
                correct=ok_j,
                note=f"what the vectorised fast path buys over compiled Jinja2; {text_j}",
            )
        )
    if wanted("render-jinja"):
        say(f"render Jinja2: {n:,} rows")
        timings = bench(
            {
                naive_name: lambda: naive_render(frame, JINJA),
                "render(frame, msg)": lambda: render(frame, JINJA),
            },
            {naive_name: 2, "render(frame, msg)": 3},
            log=say,
        )
        ok, text = _texts_agree(
            timings["render(frame, msg)"].output["text"], timings[naive_name].output
        )
        results.append(
            Result.speed(
                f"render Jinja2 (filter, if) ({_size(n)})",
                naive_name,
                "render(frame, msg)",
                timings,
                min_ratio=5,
                correct=ok,
                note=f"{text}; campaignkit runs Jinja2 sandboxed, the naive code does not",
            )
        )
    return results


def _dates(n: int) -> list[Result]:
    """The ``date`` filter over a text date column: unique values vs every row."""
    frame = _recipients_for_dates(n)
    column = frame["appt_date"]
    say(f"dates: {n:,} rows, {column.nunique():,} distinct")
    naive_name = "to_datetime(s).dt.strftime(fmt)"
    timings = bench(
        {
            naive_name: lambda: pd.to_datetime(column).dt.strftime(DATE_FORMAT),
            "render(frame, '{{ d | date(fmt) }}')": lambda: render(frame, DATES),
        },
        {naive_name: 3, "render(frame, '{{ d | date(fmt) }}')": 5},
        log=say,
    )
    ok, text = _texts_agree(
        timings["render(frame, '{{ d | date(fmt) }}')"].output["text"],
        timings[naive_name].output,
        "pandas'",
    )
    return [
        Result.speed(
            f"dates in a template ({_size(n)})",
            naive_name,
            "render(frame, '{{ d | date(fmt) }}')",
            timings,
            min_ratio=None,
            correct=ok,
            note=f"per-row pandas vs campaignkit's whole render (text, segments, problems); {text}",
        )
    ]


def _recipients_for_dates(n: int) -> pd.DataFrame:
    """A rendered-ready frame with a text ``appt_date`` column, built without load's cost."""
    frame = pd.DataFrame(
        {
            "appt_date": appointments(n).dt.strftime("%Y-%m-%d %H:%M").astype("str"),
            "to": pd.Series(["+447700900123"] * n, dtype="str"),
            "problems": pd.Series([()] * n, dtype=object),
            "repairs": pd.Series([()] * n, dtype=object),
        }
    )
    frame.index = pd.RangeIndex(2, n + 2, name="row")
    return frame


def _triples(encoding: Any, segments: Any, characters: Any) -> np.ndarray:
    """(is UCS-2, segments, characters) per text as one int64 array (compact, comparable)."""
    ucs2 = np.array([e == "UCS-2" for e in encoding], dtype=np.int64)
    return np.column_stack([ucs2, np.asarray(segments, np.int64), np.asarray(characters, np.int64)])


def _segments(n: int) -> list[Result]:
    texts = sms_texts(n)
    say(f"segments: {n:,} texts")
    lib_naive = "[analyse(t) for t in texts]"
    loop_naive = "per-char loop"
    ours = "analyse_series(texts)"
    timings = bench(
        {
            lib_naive: lambda: [analyse(t) for t in texts.tolist()],
            loop_naive: lambda: [naive_segments(t) for t in texts.tolist()],
            ours: lambda: analyse_series(texts),
        },
        {lib_naive: 2, loop_naive: 2, ours: 5},
        digest={
            lib_naive: lambda out: _triples(
                [i.encoding for i in out], [i.segments for i in out], [i.characters for i in out]
            ),
            loop_naive: lambda out: _triples(*zip(*out, strict=True)),
            ours: lambda frame: _triples(
                frame["encoding"].tolist(), frame["segments"].tolist(), frame["characters"].tolist()
            ),
        },
        log=say,
    )
    mine = timings[ours].output
    different = int((mine != timings[lib_naive].output).any(axis=1).sum())
    loop_different = int((mine != timings[loop_naive].output).any(axis=1).sum())
    ucs2 = int(mine[:, 0].sum())
    segments, counts = np.unique(mine[:, 1], return_counts=True)
    shape = ", ".join(
        f"{k}: {v:,}" for k, v in zip(segments.tolist(), counts.tolist(), strict=True)
    )
    return [
        Result.speed(
            f"SMS segments ({_size(n)})",
            lib_naive,
            ours,
            timings,
            min_ratio=4,
            correct=different == 0,
            note=(
                f"(encoding, segments, characters) equal to analyse() on {n - different:,}/{n:,} "
                f"rows; UCS-2 {ucs2 / n:.1%}; segments {shape}"
            ),
        ),
        Result.speed(
            f"  same, vs a per-char loop ({_size(n)})",
            loop_naive,
            ours,
            timings,
            min_ratio=None,
            note=(
                f"the loop differs from analyse() on {loop_different:,} rows (it ignores "
                "graphemes); docs/performance.md#sms-segments: 4.7× over such a loop"
            ),
        ),
    ]


# -- memory: a fresh process ---------------------------------------------------------------------


def _memory(n: int, quick: bool) -> list[Result]:
    path = people_csv(n)
    say(f"memory: {n:,} rows from {path.name} in a fresh process")
    command = [sys.executable, __file__, "--memory-child", str(path)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        say(done.stderr)
        failed = Result.limit(
            f"peak RSS, load CSV + render ({_size(n)})",
            "load_recipients(csv) + render()",
            float("nan"),
            MEMORY_LIMIT_MIB,
            "MiB",
            note=f"the child process failed (exit {done.returncode}); its stderr is above",
        )
        return [dataclasses.replace(failed, passed=False)]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    note = (
        f"source: CSV file ({path.stat().st_size / 2**20:,.0f} MiB); RSS after imports "
        f"{report['rss_imports']:,.0f} MiB, after load {report['rss_load']:,.0f}, after render "
        f"{report['rss_render']:,.0f}; peak = VmHWM of the child; "
        f"load {report['load_s']:.1f} s, "
        f"render {report['render_s']:.1f} s; {report['rendered']:,} texts"
    )
    if quick:
        note = f"--quick: {_size(n)} rows; the 1.5 GiB target is for the full 1M run; " + note
    return [
        Result.limit(
            f"peak RSS, load CSV + render ({_size(n)})",
            "load_recipients(csv) + render()",
            report["peak_mib"],
            None if quick else MEMORY_LIMIT_MIB,
            "MiB",
            seconds=report["load_s"] + report["render_s"],
            note=note,
        )
    ]


def memory_child(path: str) -> None:
    """Load and render ``path`` in this fresh process; print peak and step RSS as JSON."""
    import psutil

    process = psutil.Process()

    def rss() -> float:
        return float(process.memory_info().rss) / 2**20

    report: dict[str, Any] = {"rss_imports": rss()}
    start = time.perf_counter()
    frame = load_recipients(path, default_region=REGION, countries=COUNTRIES)
    report["load_s"] = time.perf_counter() - start
    report["rss_load"] = rss()
    start = time.perf_counter()
    rendered = render(frame, PLAIN)
    report["render_s"] = time.perf_counter() - start
    report["rss_render"] = rss()
    report["rendered"] = int(rendered["text"].notna().sum())
    report["peak_mib"] = peak_mib()
    print(json.dumps(report))


# -- entry -----------------------------------------------------------------------------------------


def run(quick: bool) -> list[Result]:
    """Run every selected stage of this module; the sizes of `QUICK` or `FULL`."""
    sizes = QUICK if quick else FULL
    results: list[Result] = []
    stages: list[tuple[str, Callable[[], list[Result]]]] = [
        ("load", lambda: _load(sizes["load"], quick)),
        ("phones", lambda: _phones(sizes["phones"])),
    ]
    for key, function in stages:
        if wanted(key):
            results += function()
    if wanted("render-plain") or wanted("render-jinja"):
        n = sizes["render"]
        say(f"render: loading {n:,} recipients (set-up, not timed)")
        results += _render(n, _recipients(n), quick)
    if wanted("dates"):
        results += _dates(sizes["dates"])
    if wanted("segments"):
        results += _segments(sizes["segments"])
    if wanted("memory"):
        results += _memory(sizes["memory"], quick)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--memory-child", metavar="CSV", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
    else:
        sys.exit("run the benchmarks with: python benchmarks/run.py [--quick] [--only ...]")
