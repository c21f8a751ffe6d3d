"""Sending: throttle precision, the engine's top rate against bare httpx, 1M-row memory.

The sandbox is served by ``python -m campaignkit.sandbox --latency 0.05`` in its own process
(so the server never shares the client's GIL) with a SQLite record: what it received, and
when, is the measurement (docs/performance.md#throttle-precision and
docs/performance.md#targets).

- ``send-pace``: `send` live at 50, 200 and 500/s for 20 s (``--quick``: 5 s). Achieved rate
  = (n - 1) / (last - first start) on the client, from the second request (the first goes
  alone, one round trip ahead); "max 1-s" = most starts in any sliding one-second window.
  The sandbox's record (arrival times) is shown beside them. Targets: 0.99-1.01 of the rate
  at 50 and 200/s, >= 0.9 at 500/s, max 1-s <= 1.02 x rate.
- ``send-top``: `send` with no throttle and the ledger on (``synchronous=FULL``, the default:
  an intent committed before every request, the ledger's checks on every row) against a bare
  httpx loop with the same concurrency and the same client layout (clients of 10
  connections); target >= 0.8. A naive single `AsyncClient` loop is shown for information.
- ``send-memory``: peak RSS of a fresh process planning a 1,000,000-row dry run through
  `send` (every row decided against the ledger, ``limit=0`` so nothing is sent; target
  < 1 GiB), and of building every request of 1M rows in chunks of 10,000 the way `send`
  builds them. A full 1M-row dry run is not run: its rate is measured on 20,000 rows and
  extrapolated.

Every send runs with ``Guardrails(quiet_hours=None)``: the figures must not depend on the
hour the benchmark runs at.

``python benchmarks/bench_send.py --memory-child MODE ROWS`` is the process the memory stage
measures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Result, peak_mib, say, wanted

STAGES = ("send-pace", "send-top", "send-memory")
LATENCY = 0.05
MEMORY_LIMIT_MIB = 1024.0  # issue 17: the 1M-row plan on a laptop, under 1 GiB
ROOT = Path(__file__).resolve().parents[1]


# -- the served sandbox ----------------------------------------------------------------------


@contextmanager
def sandbox(record: Path, latency: float = LATENCY) -> Iterator[str]:
    """``python -m campaignkit.sandbox`` on 127.0.0.1 in a subprocess; yields its base URL."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    process = subprocess.Popen(
        [sys.executable, "-m", "campaignkit.sandbox", "--port", "0", "--record", str(record),
         "--latency", str(latency)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    try:
        assert process.stdout is not None
        found = re.search(r"(http://127\.0\.0\.1:(\d+))", process.stdout.readline())
        assert found is not None, "the sandbox did not say where it listens"
        deadline = time.monotonic() + 30
        while True:  # it prints its URL just before uvicorn starts listening
            try:
                socket.create_connection(("127.0.0.1", int(found.group(2))), 1.0).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        yield found.group(1)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def rendered(n: int, start: int = 0):  # -> pd.DataFrame
    """A rendered frame of ``n`` unique numbers (GSM-7, one segment each).

    Built with Arrow kernels, never as a million Python strings: the memory stage measures
    what `send` holds, not how the benchmark made its data.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    index = pd.RangeIndex(2, 2 + n, name="row")
    ids = pa.array(np.arange(start, start + n)).cast(pa.string())
    numbers = pc.binary_join_element_wise("+447", pc.utf8_lpad(ids, 9, "0"), "")
    names = pc.binary_join_element_wise("Patient ", ids, "")
    texts = pc.binary_join_element_wise(
        "Hi ", names, ", your appointment at Riverside Clinic is on Tue 01 Dec at 9:00. "
        "Reply STOP to opt out.", "")

    def cells(value: object):  # one shared object per row, as render leaves them
        column = np.empty(n, dtype=object)
        column.fill(value)
        return pd.Series(column, index=index, dtype=object)

    return pd.DataFrame(
        {"to": pd.Series(numbers, index=index, dtype="str"),
         "name": pd.Series(names, index=index, dtype="str"),
         "text": pd.Series(texts, index=index, dtype="str"),
         "media": cells(()), "template": cells(None), "problems": cells(())},
        index=index,
    )


def no_quiet():  # -> Guardrails
    """No quiet hours: a benchmark must not depend on the hour it runs at."""
    from campaignkit.guardrails import Guardrails

    return Guardrails(quiet_hours=None)


def sociocs(base_url: str):  # -> Sociocs
    from campaignkit.channels.sociocs import Sociocs

    return Sociocs("kid:bench-secret", "twlo_16175550000", "twlo", base_url=base_url)


def arrivals(record: Path) -> list[float]:
    """Arrival times (epoch seconds, the sandbox's clock) of every accepted message."""
    from campaignkit.sandbox import read_record

    times = read_record(record)["received_at"]
    return sorted(t.timestamp() for t in times)


def max_window(times: list[float], width: float = 1.0) -> int:
    """The most arrivals in any sliding window of ``width`` seconds."""
    best = lo = 0
    for hi, t in enumerate(times):
        while t - times[lo] >= width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


# -- send-pace ----------------------------------------------------------------------------------


class Starts(httpx.AsyncBaseTransport):
    """An httpx transport: clients of 10 connections as `send` makes them, logging starts.

    `send` given a transport uses one client on it; this one spreads requests over pools of
    10 connections (docs/performance.md#http-clients-of-ten-connections) and notes when each
    message leaves (a POST), so the pacer's schedule is measured where it acts, without the
    server's own jitter. The provider's opt-out lookups before the first message (GETs, paced
    by a pacer of their own) are not messages: they are counted apart.
    """

    def __init__(self, concurrency: int) -> None:
        limits = httpx.Limits(max_connections=10, max_keepalive_connections=10)
        self.pools = [httpx.AsyncHTTPTransport(limits=limits)
                      for _ in range(math.ceil(concurrency / 10))]
        self.starts: list[float] = []
        self.lookups = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.starts.append(time.monotonic())
        else:
            self.lookups += 1
        pool = self.pools[(len(self.starts) + self.lookups) % len(self.pools)]
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self.pools:
            await pool.aclose()


def pace(rate: float, seconds: float, work: Path) -> Result:
    from campaignkit.sending import Pacing, Retry, send

    rows = int(rate * seconds) + 1
    # rate x (latency + the sandbox's ~45 ms per response on loopback + slack), doubled
    concurrency = max(8, math.ceil(rate * 0.25))
    record = work / f"pace{rate:g}.sqlite"
    transport = Starts(concurrency)
    with sandbox(record) as base_url:
        send(rendered(rows), sociocs(base_url), campaign=f"pace-{rate:g}", live=True,
             ledger=work / f"pace{rate:g}.db", pacing=Pacing(rate, concurrency),
             retry=Retry(timeout=httpx.Timeout(30.0)), guardrails=no_quiet(), progress=False,
             transport=transport)
    starts = sorted(transport.starts)
    # The first request goes alone (a wrong key halts after 1 request), so the schedule
    # starts one round trip later: the rate is measured from the second request on.
    times = starts[1:]
    server = arrivals(record)
    span = times[-1] - times[0]
    achieved = (len(times) - 1) / span
    overall = (len(starts) - 1) / (starts[-1] - starts[0])
    window = max_window(times)
    ratio = achieved / rate
    low, high = (0.99, 1.01) if rate <= 200 else (0.9, math.inf)
    passed = len(server) == rows and low <= ratio <= high and window <= 1.02 * rate
    target = f"{low:g}–{high:g}×" if high < math.inf else f"≥ {low:g}×"
    return Result(
        f"send-pace {rate:g}/s ({seconds:g} s)", f"ideal {rate:g}/s", f"send(rate={rate:g})",
        (len(times) - 1) / rate, span, ratio, target, passed,
        f"{len(starts)} messages (and {transport.lookups} opt-out lookups before them), "
        f"{achieved:.2f}/s from the 2nd ({overall:.2f}/s from the "
        f"1st); max 1-s window {window} (limit "
        f"{1.02 * rate:.0f}); at the sandbox {len(server)} received, "
        f"{(len(server) - 1) / (server[-1] - server[0]):.2f}/s, max 1-s {max_window(server)}; "
        f"concurrency {concurrency}",
    )


# -- send-top -----------------------------------------------------------------------------------


async def bare_loop(base_url: str, frame, concurrency: int, *, sharded: bool) -> float:  # type: ignore[no-untyped-def]
    """The loop a user writes: post every row's JSON; seconds for all rows."""
    payloads = [
        {"provider": "twlo", "channel_key": "twlo_16175550000", "to": to, "name": name,
         "text": text}
        for to, name, text in zip(frame["to"].tolist(), frame["name"].tolist(),
                                  frame["text"].tolist(), strict=True)
    ]
    size = 10 if sharded else concurrency
    clients = [
        httpx.AsyncClient(base_url=base_url, timeout=30.0,
                          limits=httpx.Limits(max_connections=size,
                                              max_keepalive_connections=size))
        for _ in range(math.ceil(concurrency / size))
    ]
    todo = iter(payloads)

    async def worker(n: int) -> None:
        client = clients[n % len(clients)]
        for payload in todo:
            response = await client.post("/message", json=payload,
                                         headers={"apikey": "kid:bench-secret"})
            response.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    elapsed = time.perf_counter() - started
    for client in clients:
        await client.aclose()
    return elapsed


def top(rows: int, concurrency: int, repeats: int, work: Path) -> list[Result]:
    from campaignkit.sending import Pacing, Retry, send

    timings: dict[str, list[float]] = {"bare": [], "naive": [], "send": []}
    record = work / "top.sqlite"
    with sandbox(record) as base_url:
        for round_ in range(repeats):
            for name in timings:
                frame = rendered(rows, start=(round_ * 3 + len(timings[name])) * rows)
                if name == "send":
                    started = time.perf_counter()
                    results = send(frame, sociocs(base_url), campaign=f"top-{round_}",
                                   live=True, ledger=work / f"top{round_}.db",
                                   pacing=Pacing(1e6, concurrency),
                                   retry=Retry(timeout=httpx.Timeout(30.0)),
                                   guardrails=no_quiet(), progress=False)
                    elapsed = time.perf_counter() - started
                    assert (results["status"] == "sent").all()
                else:
                    elapsed = asyncio.run(bare_loop(base_url, frame, concurrency,
                                                    sharded=name == "bare"))
                timings[name].append(elapsed)
                say(f"    {name}: {rows / elapsed:.0f} req/s")
    best = {name: min(runs) for name, runs in timings.items()}
    ratio = best["bare"] / best["send"]
    return [
        Result(f"send-top ({rows:,} rows, {concurrency} in flight)",
               "bare httpx loop (clients of 10)", "send(ledger FULL)",
               best["bare"], best["send"], ratio, "≥ 0.8×", ratio >= 0.8,
               f"send {rows / best['send']:.0f} req/s vs bare {rows / best['bare']:.0f} req/s, "
               f"best of {repeats}; {LATENCY * 1000:.0f} ms sandbox latency"),
        Result(f"send-top vs one AsyncClient ({concurrency} conns)",
               "httpx.AsyncClient(Limits(N, N))", "send(ledger FULL)",
               best["naive"], best["send"], best["naive"] / best["send"], "", None,
               f"naive {rows / best['naive']:.0f} req/s (one big pool degrades: "
               "docs/performance.md#http-clients-of-ten-connections)"),
    ]


# -- send-memory --------------------------------------------------------------------------------


def memory_child(mode: str, rows: int) -> dict[str, Any]:
    """In a fresh process: plan (``plan``) or build (``build``) ``rows`` rows; peak RSS."""
    from campaignkit.decisions import row_keys
    from campaignkit.sending import Pacing, send

    base_mib = peak_mib()
    started = time.perf_counter()
    out: dict[str, Any] = {"mode": mode, "rows": rows}
    if mode == "build":
        channel = sociocs("https://api.sociocs.com")
        chunk = 10_000
        built = 0
        for start in range(0, rows, chunk):
            frame = rendered(min(chunk, rows - start), start=start)
            keys, _ = row_keys(frame)
            columns = {c: frame[c].tolist() for c in frame.columns}
            for i, key in enumerate(keys.tolist()):
                row = {c: values[i] for c, values in columns.items()}
                built += len(channel.build_request(row, key=f"bench:{key}").content)
        out["bytes"] = built
    else:
        frame = rendered(rows)
        out["frame_mib"] = peak_mib()
        with tempfile.TemporaryDirectory() as tmp:
            results = send(frame, sociocs("https://api.sociocs.com"), campaign="plan",
                           live=False, limit=0 if mode == "plan" else None,
                           ledger=Path(tmp) / "ledger.db", pacing=Pacing(1e6, 8),
                           guardrails=no_quiet(), progress=False)
            out["statuses"] = results["status"].value_counts().to_dict()
    out["seconds"] = time.perf_counter() - started
    out["peak_mib"] = peak_mib()
    out["import_mib"] = base_mib
    return out


def measure(mode: str, rows: int) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--memory-child", mode, str(rows)],
        capture_output=True, text=True, env=env, timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory child {mode} {rows} failed:\n{done.stderr[-3000:]}")
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def memory(quick: bool) -> list[Result]:
    rows = 200_000 if quick else 1_000_000
    out = []
    plan = measure("plan", rows)
    say(f"    plan: {plan}")
    out.append(Result.limit(
        f"send-memory: plan {rows:,} rows (dry run, limit=0)", "send(frame, live=False, limit=0)",
        plan["peak_mib"], MEMORY_LIMIT_MIB, "MiB", seconds=plan["seconds"],
        note=f"peak RSS of a fresh process; frame alone {plan['frame_mib']:.0f} MiB; "
             f"statuses {plan['statuses']}"))
    build = measure("build", rows)
    say(f"    build: {build}")
    out.append(Result.limit(
        f"send-memory: build {rows:,} requests in chunks", "channel.build_request per row",
        build["peak_mib"], MEMORY_LIMIT_MIB, "MiB", seconds=build["seconds"],
        note=f"{build['bytes'] / 2**20:.0f} MiB of JSON built and dropped, 10,000 rows a chunk; "
             f"{rows / build['seconds']:,.0f} requests/s"))
    sample = 5_000 if quick else 20_000
    dry = measure("dry-run", sample)
    say(f"    dry-run: {dry}")
    rate = sample / dry["seconds"]
    out.append(Result.limit(
        f"send-memory: full dry run {sample:,} rows", "send(frame, live=False)",
        dry["peak_mib"], None, "MiB", seconds=dry["seconds"],
        note=f"{rate:,.0f} rows/s through the in-process sandbox: 1M rows would take about "
             f"{1_000_000 / rate / 60:.0f} min, so 1M is planned, not sent"))
    return out


# -- the module's entry points ------------------------------------------------------------------


def run(quick: bool) -> list[Result]:
    """The send benchmarks (``quick``: 5-s pacing runs, fewer rows)."""
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if wanted("send-pace"):
            for rate in (50.0, 200.0, 500.0):
                say(f"  send-pace {rate:g}/s")
                results.append(pace(rate, 5.0 if quick else 20.0, work))
        if wanted("send-top"):
            say("  send-top")
            results += top(1_000 if quick else 3_000, 50, 1 if quick else 2, work)
    if wanted("send-memory"):
        say("  send-memory")
        results += memory(quick)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-child", nargs=2, metavar=("MODE", "ROWS"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.memory_child:
        mode, rows = args.memory_child
        print(json.dumps(memory_child(mode, int(rows))))
        return 0
    from _common import format_table

    print(format_table(run(args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
