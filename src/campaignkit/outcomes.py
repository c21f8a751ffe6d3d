"""After the send: what became of each message, who replied, who opted out.

`refresh` asks the provider about every ``sent`` (and ``unknown``) row of a results frame,
paced within the provider's documented read limits, and returns the frame with ``delivery``
(the vocabulary of `campaignkit.channels._outcomes`), ``delivery_at``, ``error_code``,
``error_text``, ``segments_billed`` (Bird's ``parts``) and ``reconciled``. What it learns
goes into the ledger (an `OutcomeStore`), so a re-run hours later asks only about rows not
yet final.

How each provider is asked:

- Bird: ``GET .../messages/{id}`` per message; a row left ``unknown`` by the send is looked
  up by its ``reference`` (the send's ``<campaign>:<key>``).
- TextUs: ``GET /messages/:id`` per message; TextUs documents no list to settle ``unknown``
  rows with, so they stay as they are.
- Sociocs: no single-message read exists, so the message list (``GET /messages``, 31 days
  a request) is read once per refresh and matched on ``message_id``; rows of a bulk job on
  ``job_id`` and number (the job list, ``GET /messages/bulk``, says whether it ran); and
  ``unknown`` rows on number, text and time window.

An ``unknown`` row found at the provider becomes ``sent`` (``reconciled="found"``). One the
list proves absent twice, ``settle`` seconds apart (a list lags its writes), is marked
``reconciled="absent"`` and stays ``unknown``: resending it is an explicit decision, never
refresh's (``campaignkit ledger resolve CAMPAIGN KEYS --as resend``).

`replies` reads incoming messages; the carriers' opt-out keywords suppress the number in
the ledger at once (the next campaign sends them nothing), and longer texts that look
like opt-outs are flagged for review.
`blocked_numbers` asks the provider's own opt-out lookup before a live send.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pandas as pd
from tqdm.auto import tqdm

from ._engine import DEFAULT_TIMEOUT, parse_retry_after
from ._errors import ChannelError
from ._loop import run_blocking
from ._pacer import CATCH_UP, TOLERANCE, Pacer
from ._store import DeliveryRecord, OutcomeStore, ReplyKind, ReplyRecord, _iso
from .channels import Bird, Sociocs, TextUs
from .channels._base import Channel
from .channels._outcomes import FINAL, Delivery, Inbound, ReadFailed

__all__ = [
    "OPT_OUT_KEYWORDS",
    "DeliveryRecord",
    "OutcomeStore",
    "ReplyRecord",
    "blocked_numbers",
    "blocked_numbers_async",
    "classify_reply",
    "default_read_rate",
    "refresh",
    "refresh_async",
    "replies",
    "replies_async",
]

#: The carriers' single-word opt-out keywords (CTIA Messaging Principles and Best Practices,
#: https://www.ctia.org/the-wireless-industry/industry-commitments/messaging-interoperability-sms-mms):
#: a reply that is one of them, whatever its case and surrounding punctuation, opts out.
OPT_OUT_KEYWORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit"})
_LOOKS_LIKE_OPT_OUT = re.compile(
    r"\b(remove me|take me off|unsubscribe|opt[ -]?out|stop (texting|sending|messaging)|"
    r"do not (text|message|contact)|don'?t (text|message|contact)|no more (texts|messages))\b",
    re.IGNORECASE,
)

#: columns `refresh` adds, in order
OUTCOME_COLUMNS = ("delivery", "delivery_at", "error_code", "error_text", "segments_billed",
                   "reconciled")


def classify_reply(text: str | None) -> ReplyKind:
    """``stop`` for an opt-out keyword alone, ``review`` for words that look like one.

    >>> [classify_reply(t) for t in ["Stop.", " UNSUBSCRIBE ", "please remove me", "Thanks"]]
    ['stop', 'stop', 'review', 'reply']
    """
    if not isinstance(text, str) or not text:
        return "reply"
    word = re.sub(r"^[\W_]+|[\W_]+$", "", text.strip()).casefold()
    if word in OPT_OUT_KEYWORDS:
        return "stop"
    return "review" if _LOOKS_LIKE_OPT_OUT.search(text) else "reply"


# -- the store: the ledger -------------------------------------------------------------

@contextlib.contextmanager
def _opened(store: OutcomeStore | None, channel: Channel,
            results: pd.DataFrame | None = None) -> Iterator[OutcomeStore]:
    """``store``, or the ledger the sends went to (the results' own, else the one `send`
    finds for ``channel``: the sandbox's beside it for a loopback ``base_url``)."""
    if store is not None:
        yield store
        return
    from .ledger import Ledger, locate_ledger, sandbox_ledger_path

    named = None if results is None else results.attrs.get("ledger")
    path = locate_ledger(named) if named else locate_ledger()
    if not named and channel.on_loopback:
        path = sandbox_ledger_path(path)
    with Ledger(path) as ledger:
        yield ledger


# -- pacing and reading ---------------------------------------------------------------

def default_read_rate(channel: Channel) -> float:
    """Reads per second kept under the provider's documented limit (95 % of it).

    Bird: 50 GET requests per second per workspace (docs.bird.com/api/channels-api/rate-limit).
    TextUs: 1,000 requests per 5 minutes per token (apidocs.next.textus.com/overview/
    rate_limiting). Sociocs documents no number: 5 per second, and refresh reads its list in
    a handful of requests anyway.
    """
    if isinstance(channel, Bird):
        return 50 * 0.95
    if isinstance(channel, TextUs):
        return 1000 / 300 * 0.95
    return 5.0


class _Reader:
    """Paced GETs with retries: a 429 pauses every reader for its Retry-After."""

    def __init__(self, client: httpx.AsyncClient, pacer: Pacer, attempts: int) -> None:
        self.client, self.pacer, self.attempts = client, pacer, attempts
        self.requests = 0

    async def read(self, request: httpx.Request, parse: Callable[[httpx.Response], Any]) -> Any:
        last: Exception | None = None
        for attempt in range(self.attempts):
            await self.pacer.acquire()
            self.requests += 1
            try:
                response = await self.client.send(request)
            except httpx.TransportError as exc:
                last = exc
                self.pacer.pause_for(min(0.25 * 2**attempt, 5.0))
                continue
            if response.status_code == 429:
                wait = parse_retry_after(response.headers.get("retry-after"))
                self.pacer.pause_for(1.0 if wait is None else wait)
                last = ReadFailed(f"HTTP 429 from {request.url.host}", http_status=429)
                continue
            if response.status_code >= 500:
                self.pacer.pause_for(min(0.25 * 2**attempt, 5.0))
                last = ReadFailed(f"HTTP {response.status_code}", http_status=response.status_code)
                continue
            return parse(response)
        assert last is not None
        raise last if isinstance(last, ReadFailed) else ReadFailed(
            f"{type(last).__name__} after {self.attempts} attempts")


def _default_transport() -> httpx.AsyncBaseTransport:
    from .sandbox import Sandbox

    transport: httpx.AsyncBaseTransport = Sandbox().transport()
    return transport


@contextlib.asynccontextmanager
async def _client(transport: httpx.AsyncBaseTransport | None, timeout: httpx.Timeout,
                  concurrency: int) -> Any:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(transport=transport, timeout=timeout, limits=limits,
                                 follow_redirects=False) as client:
        yield client


def _pacer(rate: float | Pacer | None, channel: Channel) -> Pacer:
    """A pacer that keeps every sliding second at or under ``rate`` reads.

    The pacer may catch up at ``CATCH_UP`` x its rate within ``TOLERANCE`` (see _pacer), so
    it runs that much under the limit: a read limit is a ceiling, not a target.
    """
    if isinstance(rate, Pacer):
        return rate
    limit = default_read_rate(channel) if rate is None else rate
    if not limit > 0:
        raise ChannelError(f"rate must be > 0 reads per second, got {limit!r}")
    return Pacer(limit / (CATCH_UP * (1 + TOLERANCE)))


# -- refresh --------------------------------------------------------------------------

def _text(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _when(value: Any) -> datetime | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    stamp = pd.Timestamp(value)
    if pd.isna(stamp):
        return None
    moment: datetime = stamp.to_pydatetime()
    return moment


@dataclass
class _Row:
    label: Any
    key: str
    to: str | None
    text: str | None
    status: str
    message_id: str | None
    job_id: str | None
    sent_at: datetime | None


def _record_from(row: _Row, campaign: str, found: Delivery | None, now: datetime,
                 old: DeliveryRecord | None, reconciled: str | None) -> DeliveryRecord:
    if found is None:
        base = old or DeliveryRecord(campaign, row.key, row.to, row.message_id, row.job_id,
                                     row.sent_at, None, None, None, None, None, None, now, False)
        return replace(base, checked_at=now, reconciled=reconciled or base.reconciled)
    return DeliveryRecord(
        campaign=campaign, key=row.key, to=row.to,
        message_id=found.message_id or row.message_id, job_id=row.job_id or found.job_id,
        sent_at=row.sent_at or found.at, delivery=found.delivery,
        provider_status=found.provider_status, delivery_at=found.at,
        error_code=found.error_code, error_text=found.error_text,
        segments_billed=found.segments_billed, checked_at=now,
        final=found.delivery in FINAL, reconciled=reconciled,
    )


async def refresh_async(
    results: pd.DataFrame,
    channel: Channel,
    *,
    store: OutcomeStore | None = None,
    rate: float | Pacer | None = None,
    concurrency: int = 8,
    transport: httpx.AsyncBaseTransport | None = None,
    live: bool = True,
    now: Callable[[], datetime] | None = None,
    settle: float = 300.0,
    progress: bool = True,
    max_attempts: int = 4,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> pd.DataFrame:
    """`refresh` for ``await`` in a notebook or an async program (same arguments)."""
    campaign = results.attrs.get("campaign")
    if not campaign:
        raise ChannelError(
            'refresh needs the results frame of send (its attrs["campaign"] names the campaign): '
            "pass the frame send returned")
    with _opened(store, channel, results) as opened:
        return await _refresh(results, channel, str(campaign), opened, rate=rate,
                              concurrency=concurrency, transport=transport, live=live, now=now,
                              settle=settle, progress=progress, max_attempts=max_attempts,
                              timeout=timeout)


async def _refresh(results: pd.DataFrame, channel: Channel, campaign: str, store: OutcomeStore,
                   *, rate: float | Pacer | None, concurrency: int,
                   transport: httpx.AsyncBaseTransport | None, live: bool,
                   now: Callable[[], datetime] | None, settle: float, progress: bool,
                   max_attempts: int, timeout: httpx.Timeout) -> pd.DataFrame:
    clock = now or (lambda: datetime.now(UTC))
    known = store.deliveries(str(campaign))
    rows = [
        _Row(label, str(key), _text(to), _text(text), str(status), _text(mid), _text(jid),
             _when(sent))
        for label, key, to, text, status, mid, jid, sent in zip(
            results.index, results["key"], results["to"],
            results["text"] if "text" in results.columns else [None] * len(results),
            results["status"], results["message_id"], results["job_id"], results["sent_at"],
            strict=True)
        if status in ("sent", "unknown") and _text(key)
    ]
    todo = [r for r in rows if not (r.key in known and known[r.key].final)]
    if transport is None and not live:
        transport = _default_transport()
    pacer = _pacer(rate, channel)
    bar = tqdm(total=len(todo), desc=f"{campaign} (refresh)", unit="msg",
               disable=not progress or not todo)
    records: list[DeliveryRecord] = []
    errors: list[str] = []
    try:
        async with _client(transport, timeout, concurrency) as client:
            reader = _Reader(client, pacer, max_attempts)
            if isinstance(channel, Sociocs):
                records = await _refresh_by_list(channel, reader, todo, str(campaign), known,
                                                 clock, settle, errors, bar)
            else:
                records = await _refresh_one_by_one(channel, reader, todo, str(campaign),
                                                    known, clock, concurrency, errors, bar)
    finally:
        bar.close()
    store.save_deliveries(records)
    out = _frame(results, store.deliveries(str(campaign)))
    out.attrs = {**results.attrs, "refresh_errors": errors[:20],
                 "refresh_requests": reader.requests}
    return out


async def _refresh_one_by_one(
    channel: Channel, reader: _Reader, todo: list[_Row], campaign: str,
    known: dict[str, DeliveryRecord], clock: Callable[[], datetime], concurrency: int,
    errors: list[str], bar: Any,
) -> list[DeliveryRecord]:
    records: list[DeliveryRecord] = []
    queue = iter(todo)

    async def one(row: _Row) -> None:
        old = known.get(row.key)
        try:
            if row.message_id and isinstance(channel, Bird | TextUs):
                found = await reader.read(channel.build_status_request(row.message_id),
                                          channel.parse_status)
                records.append(_record_from(row, campaign, found, clock(), old, None))
            elif isinstance(channel, Bird):
                await _settle_bird(channel, reader, row, campaign, old, clock, records)
            else:
                records.append(_record_from(row, campaign, None, clock(), old, None))
        except ReadFailed as exc:
            errors.append(f"{row.key}: {channel.redact(str(exc))}")
        finally:
            bar.update(1)

    async def worker() -> None:
        for row in queue:
            await one(row)

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(todo))))))
    return records


async def _settle_bird(channel: Bird, reader: _Reader, row: _Row, campaign: str,
                       old: DeliveryRecord | None, clock: Callable[[], datetime],
                       records: list[DeliveryRecord]) -> None:
    """An ``unknown`` Bird row: look it up by the reference the send gave it."""
    reference = f"{campaign}:{row.key}"

    def parse(response: httpx.Response) -> tuple[list[Delivery], str | None]:
        deliveries, _, token = channel.parse_list(response)
        return [d for d in deliveries if d.reference == reference], token

    found, token = await reader.read(channel.build_lookup_request(reference), parse)
    if found:
        records.append(_record_from(row, campaign, found[0], clock(), old, "found"))
    elif token is None:
        records.append(_absent(row, campaign, old, clock()))


def _absent(row: _Row, campaign: str, old: DeliveryRecord | None, now: datetime,
            settle: float = 0.0) -> DeliveryRecord:
    """Absent once, then absent for good when seen absent again ``settle`` seconds later."""
    first = old is not None and old.reconciled == "absent-once"
    assert old is None or old.checked_at is not None
    proven = first and old is not None and (now - old.checked_at).total_seconds() >= settle
    if first and not proven:
        assert old is not None
        return old  # keep the first sighting's time
    return _record_from(row, campaign, None, now, old, "absent" if proven else "absent-once")


async def _refresh_by_list(
    channel: Sociocs, reader: _Reader, todo: list[_Row], campaign: str,
    known: dict[str, DeliveryRecord], clock: Callable[[], datetime], settle: float,
    errors: list[str], bar: Any,
) -> list[DeliveryRecord]:
    if not todo:
        return []
    today = clock().astimezone(UTC).date()
    sent = [r.sent_at for r in todo if r.sent_at is not None]
    first_sent = min(sent).astimezone(UTC).date() if sent else today
    start = min(first_sent, today) - timedelta(days=1)
    items: list[Delivery] = []
    try:
        if any(r.job_id for r in todo):
            await reader.read(channel.build_bulk_jobs_request(), channel.parse_bulk_jobs)
        for first, last in _windows(start, today):
            deliveries, _ = await reader.read(channel.build_messages_request(first, last),
                                              channel.parse_message_list)
            items.extend(deliveries)
    except ReadFailed as exc:
        errors.append(channel.redact(str(exc)))
        bar.update(len(todo))
        return []
    by_id = {d.message_id: d for d in items if d.message_id}
    by_job = {(d.job_id, d.to): d for d in items if d.job_id}
    claimed = {r.message_id for r in todo if r.message_id}
    loose: dict[tuple[str | None, str | None], list[Delivery]] = {}
    for d in items:
        if d.message_id not in claimed:
            loose.setdefault((d.to, d.text), []).append(d)
    records = []
    now = clock()
    for row in todo:
        old = known.get(row.key)
        found = by_id.get(row.message_id) if row.message_id else None
        if found is None and row.job_id:
            found = by_job.get((row.job_id, row.to))
        if found is not None:
            records.append(_record_from(row, campaign, found, now, old,
                                        "found" if row.status == "unknown" else None))
        elif row.status == "unknown":
            candidates = loose.get((row.to, row.text)) or []
            if candidates:
                match = candidates.pop(0)
                records.append(_record_from(row, campaign, match, now, old, "found"))
            else:
                records.append(_absent(row, campaign, old, now, settle))
        else:
            records.append(_record_from(row, campaign, None, now, old, None))
        bar.update(1)
    return records


def _windows(start: date, end: date) -> Iterable[tuple[date, date]]:
    """``[start, end]`` in pieces of at most 31 days (SOC api/messaging/get.md)."""
    first = start
    while first <= end:
        last = min(end, first + timedelta(days=30))
        yield first, last
        first = last + timedelta(days=1)


def _frame(results: pd.DataFrame, known: dict[str, DeliveryRecord]) -> pd.DataFrame:
    out = results.copy()
    keys = [_text(k) for k in results["key"]]
    records = [known.get(k) if k else None for k in keys]
    status = list(results["status"])
    message_id = list(results["message_id"])
    for i, record in enumerate(records):
        if record is None:
            continue
        if record.reconciled == "found" and status[i] == "unknown":
            status[i] = "sent"
        if record.message_id and not _text(message_id[i]):
            message_id[i] = record.message_id
    index = out.index
    out["status"] = pd.Series(status, index=index, dtype="str")
    out["message_id"] = pd.Series(message_id, index=index, dtype="str")

    def column(name: str) -> list[Any]:
        return [None if r is None else getattr(r, name) for r in records]

    out["delivery"] = pd.Series(column("delivery"), index=index, dtype="str")
    out["delivery_at"] = pd.Series(
        pd.to_datetime(pd.Series(column("delivery_at"), dtype=object), utc=True).array,
        index=index).astype("datetime64[us, UTC]")
    out["error_code"] = pd.Series(column("error_code"), index=index, dtype="str")
    out["error_text"] = pd.Series(column("error_text"), index=index, dtype="str")
    out["segments_billed"] = pd.Series(column("segments_billed"), index=index, dtype="Int64")
    reconciled = [None if r is None or r.reconciled == "absent-once" else r.reconciled
                  for r in records]
    out["reconciled"] = pd.Series(reconciled, index=index, dtype="str")
    return out


def refresh(
    results: pd.DataFrame,
    channel: Channel,
    *,
    store: OutcomeStore | None = None,
    rate: float | Pacer | None = None,
    concurrency: int = 8,
    transport: httpx.AsyncBaseTransport | None = None,
    live: bool = True,
    now: Callable[[], datetime] | None = None,
    settle: float = 300.0,
    progress: bool = True,
    max_attempts: int = 4,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> pd.DataFrame:
    """Ask the provider what became of every sent (and unknown) row of a results frame.

    Parameters
    ----------
    results:
        The frame `send` returned (``key``, ``to``, ``text``, ``status``, ``message_id``,
        ``job_id``, ``sent_at``, ``attrs["campaign"]``). Never modified.
    channel:
        The channel it was sent through (its ``base_url`` and credentials are used to read).
    store:
        Where outcomes persist; default the ledger the sends went to. A row already final
        there is not asked about again.
    rate:
        The most reads in any one second (default `default_read_rate`, under the provider's
        documented limit); refresh paces itself just under it. Or a `Pacer`, used as is.
    concurrency:
        Reads in flight at most.
    transport:
        The httpx transport (the seam for the sandbox and tests); default: the network.
    live:
        ``False`` with no ``transport`` reads from a fresh in-process sandbox.
    now:
        The clock (aware datetimes) for ``checked_at`` and the Sociocs date range.
    settle:
        Seconds between the two list readings that must both miss an ``unknown`` row
        before it is marked ``reconciled="absent"``.
    progress:
        Show a tqdm bar.

    Returns
    -------
    pandas.DataFrame
        ``results`` plus ``delivery`` (queued, sent, delivered, read, undelivered, failed,
        unknown), ``delivery_at``, ``error_code``, ``error_text``, ``segments_billed`` and
        ``reconciled`` (``found``: an unknown row the provider has, now ``sent``;
        ``absent``: proven not received). ``attrs["refresh_errors"]`` lists reads that
        failed (those rows keep what the store knew).

    """
    return run_blocking(lambda: refresh_async(
        results, channel, store=store, rate=rate, concurrency=concurrency,
        transport=transport, live=live, now=now, settle=settle, progress=progress,
        max_attempts=max_attempts, timeout=timeout,
    ))


# -- replies --------------------------------------------------------------------------

async def replies_async(
    channel: Channel,
    *,
    since: datetime,
    store: OutcomeStore | None = None,
    rate: float | Pacer | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    now: Callable[[], datetime] | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> pd.DataFrame:
    """`replies` for ``await`` (same arguments)."""
    if since.tzinfo is None:
        raise ChannelError(f"since={since.isoformat()} has no UTC offset: give an aware "
                           "datetime, e.g. datetime(2026, 12, 1, tzinfo=UTC)")
    clock = now or (lambda: datetime.now(UTC))
    found: list[Inbound] = []
    async with _client(transport, timeout, 4) as client:
        reader = _Reader(client, _pacer(rate, channel), 4)
        if isinstance(channel, Sociocs):
            for first, last in _windows(since.astimezone(UTC).date(),
                                        clock().astimezone(UTC).date()):
                _, inbound = await reader.read(channel.build_messages_request(first, last),
                                               channel.parse_message_list)
                found.extend(inbound)
        elif isinstance(channel, Bird):
            token: str | None = None
            while True:
                request = channel.build_list_request(since, clock(), page_token=token,
                                                     direction="incoming")
                _, inbound, token = await reader.read(request, channel.parse_list)
                found.extend(inbound)
                if token is None:
                    break
        else:
            raise ChannelError(
                f"{channel.label}: TextUs documents no list of incoming messages; receive "
                "them as message.received webhooks (campaignkit listen), and check opt-outs "
                "with blocked_numbers()")
    found = [m for m in found if m.at is None or m.at >= since]
    with _opened(store, channel) as opened:
        return record_replies(found, channel.provider, opened)


def record_replies(found: Sequence[Inbound], provider: str, store: OutcomeStore
                   ) -> pd.DataFrame:
    """Store replies (matched to the last message sent to each number), suppress STOPs.

    Returns every given reply as a frame: ``number text received_at kind campaign key
    message_id new suppressed``.
    """
    records = []
    for message in found:
        kind = classify_reply(message.text)
        match = store.last_sent_to(message.number, message.at)
        provider_id = message.message_id or f"{message.number}@{_iso(message.at)}"
        records.append(ReplyRecord(provider_id, provider, message.number, message.text,
                                   message.at, kind, *(match or (None, None))))
    new = {r.provider_id for r in store.save_replies(records)}
    suppressed = []
    for record in records:
        done = False
        if record.kind == "stop":
            store.suppress([record.number], reason=f'replied "{record.text}"',
                           source=f"{provider} reply")
            done = True
        suppressed.append(done)
    frame = pd.DataFrame({
        "number": pd.Series([r.number for r in records], dtype="str"),
        "text": pd.Series([r.text for r in records], dtype="str"),
        "received_at": pd.Series(pd.to_datetime(
            pd.Series([r.received_at for r in records], dtype=object), utc=True).array
        ).astype("datetime64[us, UTC]"),
        "kind": pd.Series([r.kind for r in records], dtype="str"),
        "campaign": pd.Series([r.campaign for r in records], dtype="str"),
        "key": pd.Series([r.key for r in records], dtype="str"),
        "message_id": pd.Series([r.provider_id for r in records], dtype="str"),
        "new": pd.Series([r.provider_id in new for r in records], dtype="bool"),
        "suppressed": pd.Series(suppressed, dtype="bool"),
    })
    return frame.sort_values("received_at", kind="stable").reset_index(drop=True)


def replies(
    channel: Channel,
    *,
    since: datetime,
    store: OutcomeStore | None = None,
    rate: float | Pacer | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    now: Callable[[], datetime] | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> pd.DataFrame:
    """Incoming messages since ``since`` as a DataFrame; STOP suppresses the number at once.

    Each reply is matched to the campaign and row of the last message sent to its number
    (from the store). A reply that is one of `OPT_OUT_KEYWORDS` alone (any case, with
    punctuation around it) suppresses the number in the store with the reply as the reason;
    one that only looks like an opt-out ("please remove me") is ``kind="review"`` and
    suppresses nothing: a person decides.

    Returns
    -------
    pandas.DataFrame
        ``number text received_at kind campaign key message_id new suppressed``, oldest
        first (``new``: not stored before this call).
    """
    return run_blocking(lambda: replies_async(
        channel, since=since, store=store, rate=rate, transport=transport, now=now,
        timeout=timeout))


# -- the provider's own opt-out lookup ------------------------------------------------

async def blocked_numbers_async(
    numbers: Iterable[str],
    channel: Channel,
    *,
    rate: float | Pacer | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    concurrency: int = 4,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> list[str]:
    """`blocked_numbers` for ``await`` (same arguments)."""
    asked = sorted({n for n in numbers if n})
    blocked: list[str] = []
    async with _client(transport, timeout, concurrency) as client:
        reader = _Reader(client, _pacer(rate, channel), 4)
        if isinstance(channel, Sociocs):
            queue = iter(asked)

            async def worker() -> None:
                for number in queue:
                    if await reader.read(channel.build_blocked_request(number),
                                         channel.parse_blocked):
                        blocked.append(number)

            await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency,
                                                                       len(asked))))))
        elif isinstance(channel, TextUs):
            for start in range(0, len(asked), 50):
                chunk = asked[start:start + 50]
                found = await reader.read(channel.build_opt_outs_request(chunk),
                                          channel.parse_opt_outs)
                blocked += [n for n in chunk if n in found]
        else:
            raise ChannelError(f"{channel.label}: Bird documents no opt-out lookup; rely on the "
                               "suppressions replies() records")
    return sorted(blocked)


def blocked_numbers(
    numbers: Iterable[str],
    channel: Channel,
    *,
    rate: float | Pacer | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    concurrency: int = 4,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> list[str]:
    """The numbers the provider reports as blocked or opted out: suppress them before a send.

    Sociocs: ``GET /contacts/isblocked/{phone}`` for each number (paced). TextUs:
    ``GET /:account/opt_outs?exact[]=...`` 50 numbers a request. Bird documents no lookup
    (`ChannelError`). Every number is checked (no sampling): a check costs one read, a
    message to an opted-out number can cost the sender's right to text.
    """
    return run_blocking(lambda: blocked_numbers_async(
        numbers, channel, rate=rate, transport=transport, concurrency=concurrency,
        timeout=timeout))

