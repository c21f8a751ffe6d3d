"""Run every benchmark module and print one table.

``python benchmarks/run.py [--quick] [--only load,render,...] [--json out.json]``.

A benchmark module is a ``benchmarks/bench_*.py`` file with ``run(quick: bool) -> list[Result]``
and, optionally, ``STAGES``: the keys ``--only`` can select (``--only load,render`` runs
``load``, ``render-plain`` and ``render-jinja``; a module's own name, e.g. ``send`` for
``bench_send.py``, selects all of it). The table goes to stdout, progress to stderr. The exit
status is 1 when a target is missed or a module fails, after every number has been printed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import Result, format_table, say, select  # noqa: E402


def _modules() -> list[str]:
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def _selected(module: ModuleType, name: str, only: set[str] | None) -> bool:
    if only is None:
        return True
    short = name.removeprefix("bench_")
    stages = getattr(module, "STAGES", ())
    return short in only or any(
        key == item or key.startswith(item + "-") for key in stages for item in only
    )


def _machine() -> str:
    try:
        import os

        import psutil

        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        cores = psutil.cpu_count(logical=True)
        memory = psutil.virtual_memory().total / 2**30
        return f"{cores} cores, {memory:.0f} GiB, load average {load}"
    except Exception:  # the header is informative only
        return platform.platform()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about a minute)")
    parser.add_argument(
        "--only",
        help="comma-separated stages or modules: "
        + ", ".join(["load", "phones", "render", "dates", "segments", "memory", "send"]),
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    only = None if args.only is None else {s.strip() for s in args.only.split(",") if s.strip()}

    started = time.perf_counter()
    results: list[Result] = []
    failures: list[str] = []
    modules: dict[str, ModuleType] = {}
    for name in _modules():
        try:
            modules[name] = importlib.import_module(name)
        except Exception:
            failures.append(f"{name}: import failed\n{traceback.format_exc()}")
    known = {n.removeprefix("bench_") for n in modules} | {
        key for m in modules.values() for key in getattr(m, "STAGES", ())
    }
    unknown = sorted(
        item for item in only or () if not any(k == item or k.startswith(item + "-") for k in known)
    )
    if unknown:
        parser.error(
            f"--only {','.join(unknown)}: not a stage or module; known: {', '.join(sorted(known))}"
        )

    say(f"campaignkit benchmarks ({'quick' if args.quick else 'full'}) on {_machine()}")
    for name, module in modules.items():
        if not _selected(module, name, only):
            continue
        short = name.removeprefix("bench_")
        # A module's own name selects all of it; otherwise only the listed stages.
        select(None if only is None or short in only else only)
        say(f"[{name}]")
        try:
            results += module.run(args.quick)
        except Exception:
            failures.append(f"{name}: failed\n{traceback.format_exc()}")
    select(None)

    print(format_table(results))
    elapsed = time.perf_counter() - started
    missed = [r for r in results if r.passed is False]
    print(
        f"\n{len(results)} lines, {sum(r.passed is True for r in results)} targets met, "
        f"{len(missed)} missed, {time.perf_counter() - started:.0f} s in all"
        + (" (--quick: smaller sizes)" if args.quick else "")
    )
    for failure in failures:
        print(f"\nERROR {failure}", file=sys.stderr)
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {"quick": args.quick, "seconds": elapsed, "results": [asdict(r) for r in results]},
                indent=2,
                ensure_ascii=False,
            )
        )
    return 1 if missed or failures else 0


if __name__ == "__main__":
    sys.exit(main())
