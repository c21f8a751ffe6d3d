"""The sender: the rows `decide` lets go, paced, requested, classified and recorded.

One `Sender` per run. For each item (a row, or a chunk of rows for a bulk job) it commits the
intent to the ledger, waits for its pacer slot, checks the recipient's window once more at
that moment (a long queue can run into quiet hours), sends, classifies the answer with the
pure table of `campaignkit._classify`, and records the outcome. The intent precedes the
request and carries the campaign's fencing token, so a request never leaves without a
record, and never from a process that lost the campaign.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, overload

import httpx
import stamina

from ._classify import Action, classify_error, classify_status, unreachable_reason
from ._errors import AuthFailed, CampaignError, CampaignPaused, SendError, Unreachable
from ._pacer import Pacer
from .channels._base import Channel, LookupInconclusive, Receipt
from .guardrails import QuietHours
from .guardrails._suppression import opt_out_reason
from .ledger import Fence, Ledger, LedgerWriter, Mode, Record
from .policies import DEFAULT_TIMEOUT, Retry

__all__ = ["DEFAULT_TIMEOUT", "Cells", "Item", "Outcome", "Rows", "Sender", "parse_retry_after"]

logger = logging.getLogger("campaignkit.sending")

#: consecutive rows that cannot connect at all before the run halts (the first row halts
#: at once when nothing was sent yet: a wrong host or no network fails every request)
UNREACHABLE_AFTER = 3


class Cells(Sequence[Any]):
    """One column's cells of the rows that go, read by the row's position in the frame.

    The sender reads only the rows it sends: a million planned rows with ``limit=0`` never
    become a million Python objects.
    """

    def __init__(self, values: Sequence[Any], at: Mapping[int, int]) -> None:
        self._values, self._at = values, at

    @overload
    def __getitem__(self, position: int) -> Any: ...
    @overload
    def __getitem__(self, position: slice) -> Sequence[Any]: ...
    def __getitem__(self, position: int | slice) -> Any:
        if isinstance(position, slice):
            raise TypeError("Cells are read one row at a time, by position")
        return self._values[self._at[position]]

    def __len__(self) -> int:
        return len(self._values)


@dataclass
class Item:
    """One request to make: one row, or a chunk of rows of one content for a bulk job."""

    positions: list[int]
    keys: list[str]
    digests: list[str]
    labels: list[str]
    attempts: int = 0
    in_doubt: bool = False  # pending or unknown from an earlier run: look it up first
    bulk: bool = False
    content: str = ""  # digest of the content without the recipient (bulk grouping)

    def entries(self) -> list[tuple[str, str, str]]:
        return list(zip(self.keys, self.labels, self.digests, strict=True))


@dataclass
class Outcome:
    """How one request ended, for the ledger."""

    status: str
    retry: bool = False
    http_status: int | None = None
    message_id: str | None = None
    job_id: str | None = None
    error: str | None = None


class _NotProcessed(Exception):
    """Certainly not processed by the provider: safe to send again (stamina retries it)."""

    def __init__(self, reason: str, *, http_status: int | None = None,
                 retry_after: float | None = None, unreachable: str | None = None) -> None:
        super().__init__(reason)
        self.http_status = http_status
        self.retry_after = retry_after
        self.unreachable = unreachable


class _Stopped(Exception):
    """The run stops issuing requests (stop flag, pause or halt): the item waits."""


class _Late(Exception):
    """The recipient's window closed while the item waited for its slot: it is deferred."""


def _retry_hook(exc: Exception) -> bool | float:
    if not isinstance(exc, _NotProcessed):
        return False
    # The pacer already holds every request until Retry-After: no extra backoff for it.
    return 0.0 if exc.retry_after is not None else True


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date.

    >>> parse_retry_after("120")
    120.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0)
    10.0
    """
    import email.utils
    import re

    if value is None or not value.strip():
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class Rows:
    """What the sender reads of each row, by position: its cells and what `decide` said."""

    columns: Mapping[Any, Sequence[Any]]  # `Cells` of the rows that go
    closes_at: Sequence[datetime | None]  # the end of the recipient's window (quiet hours)
    segments: Sequence[int]
    costs: Sequence[Any]


@dataclass
class Sender:
    """The state of one run's requests (see the module docstring)."""

    channel: Channel
    campaign: str
    mode: Mode
    book: Ledger
    fence: Fence | None
    pacer: Pacer
    concurrency: int
    retry: Retry
    start: datetime  # the wall-clock instant of the pacer's first slot
    rows: Rows
    quiet_hours: QuietHours | None
    stopped: Callable[[], bool]
    progress: Callable[[int], None] = lambda n: None
    clients: list[httpx.AsyncClient] = field(default_factory=list)
    inflight: dict[str, Item] = field(default_factory=dict)
    #: intent committed, waiting for the pacer's slot: certainly not sent yet
    queued: dict[str, Item] = field(default_factory=dict)
    writer: LedgerWriter | None = None
    halt: SendError | None = None
    pause: CampaignPaused | None = None
    #: rows whose window closed before their slot: position -> when they may go
    late: dict[int, datetime] = field(default_factory=dict)
    accepted: int = 0
    unreachable: int = 0
    _t0: float = 0.0

    # -- helpers ---------------------------------------------------------------------------

    def row(self, position: int) -> dict[str, Any]:
        return {c: values[position] for c, values in self.rows.columns.items()}

    def wire_key(self, key: str) -> str:
        # Campaign-scoped: a lookup by reference must never find another campaign's send.
        return f"{self.campaign}:{key}"

    def wall(self) -> datetime:
        """The wall-clock time now, on the pacer's clock (virtual in a dry run)."""
        return self.start + timedelta(seconds=self.pacer.now() - self._t0)

    def stopping(self) -> bool:
        return (self.halt is not None or self.pause is not None or self.write_error is not None
                or self.stopped())

    def redact(self, text: str | None) -> str | None:
        return None if text is None else self.channel.redact(text)

    async def write(self, work: Callable[[Any], None]) -> None:
        """Commit ``work(db)`` on the ledger writer's thread (never an fsync on the loop)."""
        assert self.writer is not None
        await self.writer.run(work)

    @property
    def write_error(self) -> BaseException | None:
        """The first failure of an outcome's commit (nobody awaited it)."""
        return self.writer.error if self.writer is not None else None

    def write_later(self, work: Callable[[Any], None]) -> None:
        """Queue an outcome's commit and go on: only the intent must precede a send.

        The writer commits in order, so the row's next intent lands after it; `run` waits for
        every one (and raises the first failure) before the results are read.
        """
        assert self.writer is not None
        self.writer.post(work)

    def settle(self, item: Item) -> None:
        for k in item.keys:
            self.inflight.pop(k, None)
            self.queued.pop(k, None)

    def record(self, item: Item, outcome: Outcome) -> None:
        sent_at = datetime.now(UTC).isoformat() if outcome.status in ("sent", "dry-run") else None
        entries, attempts, error = item.entries(), item.attempts, self.redact(outcome.error)
        if outcome.status in ("sent", "dry-run"):
            self.accepted += 1
            self.unreachable = 0  # consecutive rows that could not connect
        # No longer in flight from here: the writer commits the outcome whatever happens to
        # this coroutine, and `run` closes the writer before settle_inflight.
        self.settle(item)
        write = Ledger.outcome(
            self.campaign, self.mode, entries, status=outcome.status, retry=outcome.retry,
            attempts=attempts, http_status=outcome.http_status,
            message_id=outcome.message_id, job_id=outcome.job_id, error=error, sent_at=sent_at,
        )
        why = opt_out_reason(error) if outcome.status == "failed" and self.mode == "live" else None
        if why is None:
            self.write_later(write)
            return
        numbers = [self.rows.columns["to"][p] for p in item.positions]

        def with_suppression(db: Any) -> None:
            write(db)
            Ledger.write_suppress(db, numbers, reason=f"{self.channel.label}: {why}",
                                  source="provider")

        self.write_later(with_suppression)

    def build(self, item: Item) -> httpx.Request:
        rows = [self.row(p) for p in item.positions]
        if not item.bulk:
            return self.channel.build_request(rows[0], key=self.wire_key(item.keys[0]))
        return self.channel.build_bulk_request(rows, key=self.wire_key(item.keys[0]))

    # -- one item --------------------------------------------------------------------------

    async def process(self, item: Item, client: httpx.AsyncClient) -> None:
        try:
            if item.in_doubt and await self.reconcile(item, client):
                return
            try:
                try:
                    outcome = await self.attempt_once(item, client)
                except _NotProcessed as exc:
                    outcome = await self.try_again(item, client, exc)
            except _NotProcessed as exc:
                if exc.unreachable is not None:
                    self.unreachable += 1
                    if self.accepted == 0 or self.unreachable >= UNREACHABLE_AFTER:
                        self.halt_with(Unreachable(
                            f"cannot reach {self.host()} ({exc.unreachable}): check the "
                            "network or the base URL; the campaign halted and nothing was "
                            "sent. Run it again once fixed"))
                outcome = Outcome(
                    "failed", retry=True, http_status=exc.http_status,
                    error=f"not delivered to {self.channel.label} after {item.attempts} "
                          f"attempts ({exc}); the next run tries again",
                )
            self.record(item, outcome)
        except _Stopped:
            self.forget(item)
        except _Late:
            self.forget(item)
            for p in item.positions:
                assert self.quiet_hours is not None
                self.late[p] = self.reopens(p)
        finally:
            self.progress(len(item.keys))

    def forget(self, item: Item) -> None:
        """Certainly not processed in this run (or never started): the rows wait."""
        keys = list(item.keys)
        self.settle(item)
        self.write_later(lambda db: Ledger.write_forget(db, self.campaign, self.mode, keys))

    def late_for(self, item: Item) -> bool:
        """Whether a recipient's window has closed by now (the row would arrive at night)."""
        now = self.wall()
        return any(close is not None and now >= close
                   for close in (self.rows.closes_at[p] for p in item.positions))

    def host(self) -> str:
        return httpx.URL(self.channel.base_url).host or self.channel.base_url

    def reopens(self, position: int) -> datetime:
        """When a row whose window closed before its slot may go (the next opening)."""
        from .guardrails._quiet import zones_for_number

        assert self.quiet_hours is not None
        close = self.rows.closes_at[position]
        assert close is not None
        zones = zones_for_number(str(self.rows.columns["to"][position]))
        found = self.quiet_hours.window(zones, close).sendable_at if zones else None
        return found or close

    async def attempt_once(self, item: Item, client: httpx.AsyncClient) -> Outcome:
        try:
            return await self.attempt(item, client)
        except _NotProcessed as exc:
            # Certainly not processed: a retry (or the next run) may send it.
            self.record(item, Outcome("failed", retry=True, http_status=exc.http_status,
                                      error=str(exc)))
            raise

    async def try_again(self, item: Item, client: httpx.AsyncClient, first: _NotProcessed
                    ) -> Outcome:
        """Attempts 2.. under stamina, after ``first`` failed (raises the last failure).

        Most rows succeed at once, so the first attempt runs outside stamina: its retry
        state costs about 30 µs a row, a few percent of the engine at its top rate
        (benchmarks/bench_send.py). The first failure is replayed as stamina's first
        attempt, so its backoff, its hook and the attempts cap are as if stamina had run it.
        A connection that cannot be made at all on the run's first rows is not retried
        for long: `process` halts the run instead.
        """
        replay: _NotProcessed | None = first
        attempts = self.retry.attempts if first.unreachable is None or self.accepted else min(
            self.retry.attempts, 2)
        async for attempt in stamina.retry_context(
            on=_retry_hook, attempts=attempts, timeout=None,
            wait_initial=0.5, wait_max=30.0, wait_jitter=1.0,
        ):
            with attempt:
                if replay is not None:
                    failed, replay = replay, None
                    raise failed
                return await self.attempt_once(item, client)
        raise AssertionError("unreachable: stamina returns or raises")  # pragma: no cover

    async def attempt(self, item: Item, client: httpx.AsyncClient) -> Outcome:
        if self.stopping():
            raise _Stopped
        try:
            request = self.build(item)
        except CampaignError as exc:
            return Outcome("failed", retry=True, error=str(exc))
        item.attempts += 1
        to = self.rows.columns.get("to")
        recipients = [str(to[p]) if to is not None else None for p in item.positions]
        segments = [int(self.rows.segments[p]) for p in item.positions]
        costs = [None if self.rows.costs[p] is None else str(self.rows.costs[p])
                 for p in item.positions]
        # The intent is durable before the slot, so nothing but the send follows the pacer's
        # release. Until the send the row is `queued`: a stop, pause, halt or a closing
        # window meanwhile forgets it (never left pending).
        for k in item.keys:
            self.queued[k] = item
        await self.write(Ledger.pending(
            self.campaign, self.mode, item.entries(), item.attempts, recipients=recipients,
            segments=segments, costs=costs, fence=self.fence))
        await self.pacer.acquire()
        if self.stopping():
            raise _Stopped
        if self.late_for(item):
            raise _Late
        for k in item.keys:  # no await from here to client.send: in flight = may have left
            self.queued.pop(k, None)
            self.inflight[k] = item
        try:
            response = await client.send(request)
        except httpx.HTTPError as exc:
            return await self.failed(item, client, exc)
        return await self.classify(item, client, response)

    async def failed(self, item: Item, client: httpx.AsyncClient, exc: httpx.HTTPError
                     ) -> Outcome:
        action = classify_error(exc)
        detail = self.redact(str(exc)) or "no answer"
        name = type(exc).__name__
        if action is Action.HALT_TLS:
            self.halt_with(SendError(
                f"TLS error talking to {self.channel.label} ({detail}): check the base_url, a "
                "proxy or the certificates; the campaign halted and nothing more was sent. Run "
                "it again once fixed"))
            return Outcome("failed", retry=True, error=f"TLS error: {detail}")
        if action is Action.HALT_CONFIG:
            self.halt_with(SendError(
                f"{name} before sending to {self.channel.label}: {detail}; fix the channel's "
                "base_url or proxy and run again"))
            return Outcome("failed", retry=True, error=f"{name}: {detail}")
        if action is Action.RETRY:
            raise _NotProcessed(f"{name}: {detail}", unreachable=unreachable_reason(exc))
        return await self.ambiguous(item, client, f"{name}: {detail}", None)

    async def classify(self, item: Item, client: httpx.AsyncClient, response: httpx.Response
                       ) -> Outcome:
        status = response.status_code
        if status == 429:
            wait = parse_retry_after(response.headers.get("retry-after"))
            if wait is not None and wait > self.retry.retry_after_cap:
                self.pause_with(wait)
                raise _Stopped
            if wait is not None:
                self.pacer.pause_for(wait)  # every request to this channel waits
            raise _NotProcessed(f"HTTP 429 from {self.channel.label}", http_status=429,
                                retry_after=wait)
        receipt = self.parse(response)
        action = classify_status(status, accepted=receipt.accepted,
                                 readable=receipt.provider_status is not None)
        if action is Action.AMBIGUOUS:
            return await self.ambiguous(item, client, receipt.error or f"HTTP {status}", status)
        if action is Action.HALT_AUTH:
            error = receipt.error or f"HTTP {status}"
            self.halt_with(AuthFailed(
                f"{self.channel.label} refused the credentials (HTTP {status}: {error}); the "
                "campaign halted after this first refusal. Check the API key and its "
                "permissions, then run the same campaign again: nothing was sent twice"))
            return Outcome("failed", retry=True, http_status=status, error=error)
        if action is Action.ACCEPTED:
            return Outcome("sent" if self.mode == "live" else "dry-run", http_status=status,
                           message_id=receipt.message_id, job_id=receipt.job_id)
        if action is Action.UNREADABLE:
            return Outcome("unknown", http_status=status, error=receipt.error)
        return Outcome("failed", http_status=status, error=receipt.error or f"HTTP {status}")

    def parse(self, response: httpx.Response) -> Receipt:
        try:
            return self.channel.parse_response(response)
        except Exception as exc:  # a provider's surprise must not lose the row
            return Receipt(response.status_code, False,
                           error=f"HTTP {response.status_code}, unreadable answer: {exc}")

    async def ambiguous(self, item: Item, client: httpx.AsyncClient, reason: str,
                        http_status: int | None) -> Outcome:
        if len(item.keys) == 1 and self.channel.supports_lookup:
            found = await self.lookup(item, client)
            if isinstance(found, Receipt):
                return Outcome("sent" if self.mode == "live" else "dry-run",
                               http_status=http_status, message_id=found.message_id,
                               job_id=found.job_id)
            if found is None:
                # Not found right after the attempt proves nothing: a provider's list can
                # lag behind what it accepted. The next run looks again once it has settled.
                found = (f"a lookup did not find it yet, which proves nothing until "
                         f"{self.retry.absent_after:g} s after the attempt; the next run looks "
                         "again")
            reason = f"{reason}; {found}"
        what = "the bulk job" if len(item.keys) > 1 else "it"
        return Outcome(
            "unknown", http_status=http_status,
            error=f"{reason.rstrip('.')}; {self.channel.label} may have sent {what}, so it is "
                  "not sent again automatically",
        )

    async def lookup(self, item: Item, client: httpx.AsyncClient) -> Receipt | str | None:
        """The message as found (Receipt), None when not found, or why it is unproven."""
        key = self.wire_key(item.keys[0])
        try:
            # A lookup is a GET: safe to repeat, so a timeout does not leave the row unknown.
            async for attempt in stamina.retry_context(on=httpx.TransportError, attempts=3):
                with attempt:
                    await self.pacer.acquire()
                    response = await client.send(self.channel.build_lookup_request(key))
            return self.channel.parse_lookup(response, key)
        except LookupInconclusive as exc:
            return f"lookup inconclusive: {self.redact(str(exc))}"
        except httpx.HTTPError as exc:
            return f"lookup failed: {type(exc).__name__}"

    async def reconcile(self, item: Item, client: httpx.AsyncClient) -> bool:
        """Settle a row in doubt from an earlier run; True when settled without a send.

        A lookup that does not find the message proves it absent only once
        ``absent_after`` seconds have passed since the last attempt.
        """
        record: Record | None = self.book.records_for(self.campaign, self.mode,
                                                      item.keys).get(item.keys[0])
        reason = (record.error if record is not None and record.status == "unknown"
                  and record.error else "in flight when an earlier run stopped (a crash or a "
                  "kill)")
        if self.channel.supports_lookup and len(item.keys) == 1:
            found = await self.lookup(item, client)
            if isinstance(found, Receipt):
                self.record(item, Outcome("sent" if self.mode == "live" else "dry-run",
                                          message_id=found.message_id, job_id=found.job_id))
                return True
            if found is None:
                since = self.age(record)
                if since is None or since >= self.retry.absent_after:
                    return False  # proven absent: send it
                found = (f"a lookup did not find it {since:.0f} s after the attempt, which "
                         f"proves nothing until {self.retry.absent_after:g} s; the next run looks "
                         "again")
            reason = f"{reason.split('; a lookup')[0].rstrip('.')}; {found}"
        self.record(item, Outcome(
            "unknown",
            error=f"{reason.rstrip('.')}" + ("" if "may have sent" in reason else
                                            f"; {self.channel.label} may have sent it, so it "
                                            "is not sent again automatically")))
        return True

    @staticmethod
    def age(record: Record | None) -> float | None:
        """Seconds since the record's last attempt (None when unknown)."""
        if record is None or not (record.attempted_at or record.updated_at):
            return None
        when = datetime.fromisoformat(record.attempted_at or record.updated_at or "")
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return (datetime.now(UTC) - when).total_seconds()

    def halt_with(self, error: SendError) -> None:
        if self.halt is None:
            self.halt = error

    def pause_with(self, wait: float) -> None:
        if self.pause is None:
            resume = datetime.fromtimestamp(time.time() + wait, UTC)
            self.pause = CampaignPaused(
                f"{self.channel.label} asked to wait {wait:g} s (Retry-After), longer than "
                f"retry_after_cap={self.retry.retry_after_cap:g} s: campaign \"{self.campaign}\" "
                f"paused with its remaining rows waiting. Run the same campaign again after "
                f"{resume:%Y-%m-%d %H:%M:%S} UTC to resume; rows already sent are not sent "
                "twice",
                retry_after=wait, resume_at=resume.isoformat(),
            )

    # -- all items -------------------------------------------------------------------------

    async def run(self, items: list[Item]) -> None:
        if not items:
            return
        self._t0 = self.pacer.now()
        # The first request goes alone: a wrong key or channel halts after 1 request, not N.
        await self.process(items[0], self.clients[0])
        rest = iter(items[1:])

        async def worker(n: int) -> None:
            client = self.clients[n % len(self.clients)]
            for item in rest:  # shared iterator: each item is taken by exactly one worker
                if self.stopping():
                    self.progress(len(item.keys))
                    continue
                await self.process(item, client)

        workers = [asyncio.ensure_future(worker(n))
                   for n in range(min(self.concurrency, len(items) - 1))]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
        finally:
            # Every outcome committed before the results are read (or the interrupt settles).
            if self.writer is not None:
                await self.writer.drain()
        if self.write_error is not None:
            raise self.write_error

    def settle_inflight(self) -> None:
        """After an interrupt: requests that may have left become ``unknown``.

        Rows whose intent was committed but which still waited for their slot certainly did
        not leave: they are forgotten (``waiting``), never left pending. Called once the
        writer is closed, so no queued write lands after these.
        """
        queued = [k for k in self.queued if k not in self.inflight]
        with contextlib.suppress(CampaignError):
            if queued:
                self.book.forget(self.campaign, self.mode, queued)
            items = {id(i): i for i in self.inflight.values()}
            for item in items.values():
                self.book.mark_outcome(
                    self.campaign, self.mode, item.entries(), status="unknown",
                    attempts=item.attempts,
                    error="interrupted while the request was in flight: the provider may have "
                          "sent it, so it is not sent again automatically")
        self.queued.clear()
        self.inflight.clear()


def chunks(items: list[Item], to: Sequence[Any], size: int) -> list[Item]:
    """Bulk jobs: rows of one content, at most ``size`` each, never one number twice a job.

    Sociocs sends a job once per number unless ``duplicates_allowed`` (the bulk document),
    so two rows with the same number in one job would be recorded sent while one was dropped.
    """
    singles = [it for it in items if it.in_doubt]
    groups: dict[str, list[Item]] = {}
    for it in items:
        if not it.in_doubt:
            groups.setdefault(it.content, []).append(it)
    out: list[Item] = list(singles)
    for members in groups.values():
        made: list[tuple[set[Any], Item]] = []
        for it in members:
            number = to[it.positions[0]]
            for seen, chunk in made:
                if number not in seen and len(chunk.keys) < size:
                    break
            else:
                seen, chunk = set(), Item([], [], [], [], bulk=True)
                made.append((seen, chunk))
            seen.add(number)
            chunk.positions += it.positions
            chunk.keys += it.keys
            chunk.digests += it.digests
            chunk.labels += it.labels
            chunk.attempts = max(chunk.attempts, it.attempts)
        out.extend(chunk for _, chunk in made)
    return out
