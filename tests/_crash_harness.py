"""The crash test's machinery: a sender script to kill, a served sandbox, and the checker.

Run as a script, this file is the *sender*: a small program using only the public API
(`send` with ``live=True`` and the channel's ``base_url`` on the loopback sandbox, a ledger
on disk). It builds its frame, prints ``ready``, and waits for one line on stdin:
``go <rate>`` sends at ``<rate>`` per second, anything else exits without sending. A warm
sender waiting for ``go`` lets the harness resume within milliseconds of a ``kill -9``
instead of paying the ~1.4 s of imports each time.

Imported, it is the *harness* (docs/reliability.md#the-crash-test): `crash_run` serves the sandbox
from ``python -m campaignkit.sandbox`` in its own process, kills senders at seeded random
moments, resumes, runs to completion, then judges the sandbox's record (the ground truth,
Jepsen-style) against the ledger's results: `CrashReport`.

The *bad* sender (``--bad``, the mutation check T1m) is what a user who blindly trusts
"resend" does: before each run it resolves every ``unknown`` row as ``"resend"``. The
harness must catch it sending duplicates.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

ROOT = Path(__file__).resolve().parents[1]
WORKSPACE = "a1405560-c8d3-4b1a-877d-3f449ad95352"
BIRD_CHANNEL = "16e1df9e-c6ac-406b-b1ce-13f34d0dea08"
SOCIOCS_CHANNEL_KEY = "twlo_16175550000"
CAMPAIGN = "crash"
#: senders kept imported and waiting for "go" (one import takes ~1.4 s on the test machine)
WARM = 3
ChannelName = Literal["bird", "sociocs"]
#: The fault kinds a client cannot tell apart from "maybe processed" (all but 429).
AMBIGUOUS = ("drop_before", "500_before", "drop_after", "500_after", "stall")
AFTER = ("drop_after", "500_after", "stall")


def number(i: int) -> str:
    """The ``i``-th recipient's number (unique, E.164)."""
    return f"+4477009{i:05d}"


# -- the sender (run as a script) -------------------------------------------------------


def campaign_frame(rows: int):  # -> pd.DataFrame (pandas imported lazily for the harness)
    """A rendered frame as `render` makes it: ``rows`` unique numbers, sheet rows from 2."""
    import pandas as pd

    names = [f"Person {i}" for i in range(rows)]
    texts = [f"Hi {n}, your appointment is on Tuesday at 9:00. Reply STOP to opt out."
             for n in names]
    index = pd.Index(range(2, 2 + rows), name="row")
    return pd.DataFrame(
        {
            "to": pd.Series([number(i) for i in range(rows)], index=index, dtype="str"),
            "name": pd.Series(names, index=index, dtype="str"),
            "text": pd.Series(texts, index=index, dtype="str"),
            "encoding": pd.Series(["GSM-7"] * rows, index=index, dtype="str"),
            "segments": pd.Series([1] * rows, index=index, dtype="int64"),
            "characters": pd.Series([len(t) for t in texts], index=index, dtype="int64"),
            "media": [()] * rows,
            "template": [None] * rows,
            "problems": [()] * rows,
            "repairs": [()] * rows,
        },
        index=index,
    )


def make_channel(name: ChannelName, base_url: str):  # -> Channel
    """The channel under test, pointed at the loopback sandbox."""
    if name == "bird":
        from campaignkit.channels.bird import Bird

        return Bird(WORKSPACE, BIRD_CHANNEL, "crash-test-access-key", base_url=base_url)
    from campaignkit.channels.sociocs import Sociocs

    return Sociocs("kid:crash-test-secret", SOCIOCS_CHANNEL_KEY, "twlo", base_url=base_url)


def sender_main(argv: Sequence[str] | None = None) -> int:
    """The sender process: wait for ``go <rate>``, send the campaign, write the results."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--channel", choices=["bird", "sociocs"], required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--ledger", required=True)
    parser.add_argument("--absent-after", type=float, default=600.0)
    parser.add_argument("--results", required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--read-timeout", type=float, default=0.3)
    parser.add_argument("--bad", action="store_true", help="resend unknown rows blindly")
    args = parser.parse_args(argv)

    import httpx

    from campaignkit import CampaignLocked, Guardrails, Ledger, Pacing, Retry
    from campaignkit.sending import send

    frame = campaign_frame(args.rows)
    channel = make_channel(args.channel, args.base_url)
    print("ready", flush=True)
    order = sys.stdin.readline().split()
    if len(order) != 2 or order[0] != "go":
        return 0
    # NORMAL survives any process crash (sqlite.org/pragma.html); FULL adds power-loss safety.
    ledger = Ledger(args.ledger, synchronous="NORMAL")
    if args.bad:
        ledger.resolve(CAMPAIGN, ledger.unknown(CAMPAIGN), "resend")
    try:
        results = send(
            frame, channel, campaign=CAMPAIGN, live=True, ledger=ledger, progress=False,
            pacing=Pacing(rate=float(order[1]), concurrency=args.concurrency),
            retry=Retry(timeout=httpx.Timeout(5.0, read=args.read_timeout),
                        absent_after=args.absent_after),
            guardrails=Guardrails(quiet_hours=None),  # the same run at any hour
        )
    except CampaignLocked:
        print("locked", flush=True)
        return 3
    finally:
        ledger.close()
    out = {
        "key": results["key"].tolist(),
        "status": results["status"].tolist(),
        "error": results["error"].tolist(),
    }
    partial = Path(args.results + ".part")
    partial.write_text(json.dumps(out))
    os.replace(partial, args.results)
    print("done", flush=True)
    return 0


# -- processes --------------------------------------------------------------------------


class Child:
    """A subprocess whose stdout lines arrive on a queue (so every wait has a deadline)."""

    def __init__(self, argv: Sequence[str]) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env, cwd=str(ROOT),
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.errors: list[str] = []
        assert self.process.stdout is not None and self.process.stderr is not None
        threading.Thread(target=_pump_lines, args=(self.process.stdout, self.lines),
                         daemon=True).start()
        threading.Thread(target=_pump_errors, args=(self.process.stderr, self.errors),
                         daemon=True).start()

    def line(self, timeout: float) -> str:
        """The next stdout line; AssertionError with the child's stderr after ``timeout``."""
        try:
            got = self.lines.get(timeout=timeout)
        except queue.Empty:
            got = None
        if got is None:
            self.kill()
            raise AssertionError(f"no line from {self.process.args!r} within {timeout} s; "
                                 f"stderr: {''.join(self.errors)[-3000:]}")
        return got.rstrip("\n")

    def tell(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def kill(self) -> None:
        """``kill -9`` and reap (its lock is released only once it is reaped)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def dismiss(self) -> None:
        """A warm sender that is not needed: closing stdin makes it exit without sending."""
        if self.process.poll() is None and self.process.stdin is not None:
            try:
                self.process.stdin.close()
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()


def _pump_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for text in stream:
        lines.put(text)
    lines.put(None)  # end of output: `Child.line` stops waiting


def _pump_errors(stream: IO[str], errors: list[str]) -> None:
    for text in stream:
        errors.append(text)


@dataclass(frozen=True)
class SandboxOptions:
    """How the served sandbox misbehaves (the options of ``python -m campaignkit.sandbox``)."""

    seed: int = 1
    faults: float = 0.10  # spread evenly over the six kinds (Faults.mixed)
    retry_after: int = 0
    stall_seconds: float = 2.0
    latency: float = 0.0
    list_lag: float = 0.0  # seconds before an accepted message shows in lookups

    def argv(self) -> list[str]:
        return ["--seed", str(self.seed), "--faults", str(self.faults),
                "--retry-after", str(self.retry_after),
                "--stall-seconds", str(self.stall_seconds), "--latency", str(self.latency),
                "--list-lag", str(self.list_lag)]


@contextmanager
def served_sandbox(record: Path, options: SandboxOptions) -> Iterator[str]:
    """``python -m campaignkit.sandbox`` on 127.0.0.1 in its own process; yields its URL."""
    child = Child([sys.executable, "-m", "campaignkit.sandbox", "--host", "127.0.0.1",
                   "--port", "0", "--record", str(record), *options.argv()])
    try:
        line = child.line(timeout=30)
        found = re.fullmatch(r"campaignkit sandbox listening on (http://127\.0\.0\.1:\d+) .*",
                             line)
        assert found is not None, line
        _wait_listening(found.group(1), child)
        yield found.group(1)
    finally:
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGINT)
            try:
                child.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


def _wait_listening(base_url: str, child: Child, timeout: float = 30.0) -> None:
    """Connect until the server accepts: the CLI prints its URL before uvicorn listens."""
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=1.0).close()
            return
        except OSError:
            if time.monotonic() > deadline or child.process.poll() is not None:
                errors = "".join(child.errors)
                raise AssertionError(f"the sandbox never listened: {errors}") from None
            time.sleep(0.02)


def sender(base_url: str, channel: ChannelName, rows: int, ledger: Path, results: Path, *,
           concurrency: int, read_timeout: float, bad: bool, absent_after: float = 600.0
           ) -> Child:
    """A warm sender process (waiting for ``go``)."""
    return Child([
        sys.executable, str(Path(__file__).resolve()), "--base-url", base_url,
        "--channel", channel, "--rows", str(rows), "--ledger", str(ledger),
        "--results", str(results), "--concurrency", str(concurrency),
        "--read-timeout", str(read_timeout), "--absent-after", str(absent_after),
        *(["--bad"] if bad else []),
    ])


# -- the sandbox's own count of faults ----------------------------------------------------


def replay_faults(channel: ChannelName, options: SandboxOptions, accepted: int) -> list[str]:
    """The fault of each send request the served sandbox drew, replayed on a twin sandbox.

    The sandbox draws its faults from its seed, one draw per send request in arrival order
    (`campaignkit.sandbox.Faults`), and records only what it accepted. A twin with the same
    seed and faults, fed valid requests through the public `Sandbox.handle`, draws the same
    sequence. Returned: one kind per draw (``"none"`` for no fault), up to the draw just
    before the twin's ``accepted + 1``-th acceptance -- the most draws the served sandbox
    can have made, since its ``accepted + 1``-th acceptance never happened. The first
    ``accepted`` acceptances map one-to-one onto the served record's ``request`` numbers.
    """
    import sqlite3
    import tempfile

    from campaignkit.sandbox import Faults, Sandbox

    faults = Faults.mixed(options.faults, retry_after=options.retry_after,
                          stall_seconds=options.stall_seconds)
    if channel == "bird":
        path = f"/workspaces/{WORKSPACE}/channels/{BIRD_CHANNEL}/messages"
        headers = {"Authorization": "AccessKey k", "Content-Type": "application/json"}
    else:
        path = "/message"
        headers = {"apikey": "kid:s", "Content-Type": "application/json"}
    kinds: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        record = Path(tmp) / "twin.sqlite"
        with Sandbox(seed=options.seed, faults=faults, record=record) as twin, \
                sqlite3.connect(record) as db:
            seen = 0
            for i in range(100 * (accepted + 10)):  # bounded: faults are at most ~10 %
                if channel == "bird":
                    body = {"receiver": {"contacts": [{"identifierKey": "phonenumber",
                                                       "identifierValue": number(i)}]},
                            "body": {"type": "text", "text": {"text": "x"}},
                            "reference": f"twin:{i}"}
                else:
                    body = {"provider": "twlo", "channel_key": SOCIOCS_CHANNEL_KEY,
                            "to": number(i), "text": "x"}
                reply = twin.handle("POST", "http://sandbox" + path, headers,
                                    json.dumps(body).encode())
                now = db.execute("SELECT COUNT(*) FROM accepted").fetchone()[0]
                took = now > seen
                seen = now
                if took and seen > accepted:
                    break
                if reply.status == 429:
                    kinds.append("429")
                elif reply.drop:
                    kinds.append("drop_after" if took else "drop_before")
                elif reply.status >= 500:
                    kinds.append("500_after" if took else "500_before")
                elif reply.stall:
                    kinds.append("stall")
                else:
                    assert took and reply.status < 300, (reply.status, reply.body)
                    kinds.append("none")
            else:
                raise AssertionError("the twin sandbox never reached the served acceptances")
    return kinds


def accepted_kinds(accepted, draws: Sequence[str]) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """Each accepted number's faults: the n-th accepted draw is the record's request n."""
    kinds = [k for k in draws if k not in ("429", "drop_before", "500_before")]
    found: dict[str, list[str]] = {}
    for request, to in zip(accepted["request"].tolist(), accepted["to"].tolist(), strict=True):
        found.setdefault(to, []).append(kinds[request - 1])
    return found


# -- the run and its verdict ---------------------------------------------------------------


@dataclass
class CrashReport:
    """What the sandbox received against what the sender says (the T1 verdict)."""

    rows: int
    kills: int
    runs: int
    seconds: float
    statuses: dict[str, int]
    record_rows: int
    duplicates: dict[str, int]  # number -> times the sandbox accepted it (> 1)
    lost: list[str]  # keys whose fate the results misreport (see `judge`)
    unknown: int
    faults: dict[str, int]  # kind -> draws, upper bound (before-faults after the last acceptance)
    faults_lower: dict[str, int]  # kind -> draws up to the last acceptance (exact for AFTER)
    in_doubt_at_kills: int  # distinct rows found pending right after a kill
    unexplained_unknown: int  # unknown rows neither hit by an after-fault nor in doubt at a kill
    notes: list[str] = field(default_factory=list)

    @property
    def ambiguous(self) -> int:
        """Ambiguous faults the sandbox injected (upper bound)."""
        return sum(self.faults.get(k, 0) for k in AMBIGUOUS)

    def summary(self) -> str:
        return (f"{self.rows} rows, {self.kills} kills, {self.runs} runs, {self.seconds:.1f} s: "
                f"statuses {self.statuses}, record {self.record_rows}, duplicates "
                f"{sum(c - 1 for c in self.duplicates.values())}, lost {len(self.lost)}, unknown "
                f"{self.unknown} <= ambiguous {self.ambiguous} + in doubt at kills "
                f"{self.in_doubt_at_kills}; faults {self.faults}")


def crash_run(
    work: Path, *, channel: ChannelName, rows: int, kills: int, seed: int,
    options: SandboxOptions, kill_rate: float, final_rate: float, concurrency: int = 8,
    read_timeout: float = 0.3, kill_window: tuple[float, float] = (0.3, 1.5),
    bad: bool = False, max_seconds: float = 150.0, absent_after: float = 600.0,
    settle: bool = False,
) -> CrashReport:
    """Serve, send, ``kill -9`` ``kills`` times at seeded random moments, finish, judge.

    Kill moments are uniform in ``kill_window`` seconds after the sender is told ``go``;
    between kills the next (warm) sender resumes at once. After the kills, senders run at
    ``final_rate`` until one completes (the bad sender, or with ``settle`` a channel that
    looks rows up: until nothing is ``unknown``, waiting ``absent_after`` between runs).
    """
    from campaignkit.ledger import Ledger

    rng = random.Random(seed)
    journal, results, record = work / "crash.ledger.db", work / "results.json", work / "rec.db"
    started = time.monotonic()
    deadline = started + max_seconds
    done_kills = runs = 0
    in_doubt: set[str] = set()
    with served_sandbox(record, options) as base_url:
        def spawn() -> Child:
            return sender(base_url, channel, rows, journal, results, concurrency=concurrency,
                          read_timeout=read_timeout, bad=bad, absent_after=absent_after)

        def next_sender() -> Child:
            # Warm senders import while others send: a resume starts milliseconds after a kill.
            current = warm.popleft()
            warm.append(spawn())
            assert current.line(timeout=60) == "ready"
            return current

        warm = deque(spawn() for _ in range(WARM))
        try:
            while done_kills < kills and time.monotonic() < deadline:
                current = next_sender()
                current.tell(f"go {kill_rate}")
                runs += 1
                try:
                    current.process.wait(timeout=rng.uniform(*kill_window))
                except subprocess.TimeoutExpired:
                    current.kill()
                    done_kills += 1
                    with Ledger(journal) as reader:
                        in_doubt |= {k for k, r in reader.records(CAMPAIGN).items()
                                     if r.status == "pending"}
                    continue
                assert current.process.returncode == 0, "".join(current.errors)[-3000:]
                break  # the campaign finished before this kill
            for _ in range(20):  # bounded: the good sender needs one run, the bad a few more
                current = next_sender()
                current.tell(f"go {final_rate}")
                runs += 1
                remaining = max(5.0, deadline - time.monotonic())
                assert current.process.wait(timeout=remaining) == 0, "".join(current.errors)
                with Ledger(journal) as reader:
                    if not (bad or settle) or not reader.unknown(CAMPAIGN):
                        break
                if settle:
                    time.sleep(absent_after)  # a lookup that finds nothing proves absence now
        finally:
            for child in warm:
                child.dismiss()
    seconds = time.monotonic() - started
    return judge(channel, options, rows, journal, results, record, kills=done_kills, runs=runs,
                 seconds=seconds, in_doubt=in_doubt)


def judge(
    channel: ChannelName, options: SandboxOptions, rows: int, journal: Path, results: Path,
    record: Path, *, kills: int, runs: int, seconds: float, in_doubt: set[str],
) -> CrashReport:
    """Compare the sandbox's record (ground truth) with the final results."""
    from campaignkit.sandbox import read_record

    accepted = read_record(record)
    counts = Counter(accepted["to"].tolist())
    final = json.loads(results.read_text())
    status = dict(zip(final["key"], final["status"], strict=True))
    lost: list[str] = []
    for key in (number(i) for i in range(rows)):
        seen, state = counts.get(key, 0), status.get(key)
        fine = ((state in ("sent", "already-sent") and seen == 1)
                or (state == "unknown" and seen <= 1)
                or (state == "failed" and seen == 0))
        if not fine:
            lost.append(f"{key}: {state}, accepted {seen} times")
    strangers = sorted(set(counts) - {number(i) for i in range(rows)})
    lost += [f"{to}: not in the campaign, accepted" for to in strangers]

    draws = replay_faults(channel, options, int(accepted["request"].max()))
    upper = Counter(draws)
    last = max(i for i, k in enumerate(draws) if k not in ("429", "drop_before", "500_before"))
    lower = Counter(draws[: last + 1])
    kinds = accepted_kinds(accepted, draws)
    hit = {to for to, found in kinds.items() if any(k in AFTER for k in found)}
    unknown = {k for k, s in status.items() if s == "unknown"}
    return CrashReport(
        rows=rows, kills=kills, runs=runs, seconds=seconds,
        statuses=dict(sorted(Counter(status.values()).items())),
        record_rows=len(accepted),
        duplicates={to: c for to, c in counts.items() if c > 1},
        lost=lost, unknown=len(unknown),
        faults={k: upper[k] for k in ("429", *AMBIGUOUS)},
        faults_lower={k: lower[k] for k in ("429", *AMBIGUOUS)},
        in_doubt_at_kills=len(in_doubt),
        unexplained_unknown=len(unknown - hit - in_doubt),
    )


if __name__ == "__main__":
    sys.exit(sender_main())
