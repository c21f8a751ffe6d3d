"""The engine: send a rendered frame through a channel, paced, retried, journaled.

Every row ends in exactly one ``status`` of the results frame:

``dry-run``  the sandbox accepted it (a dry run: nothing left this machine)
``sent``     the provider accepted it (``message_id`` / ``job_id`` from its answer)
``failed``   the provider refused it (``error`` is its own message), or it could not reach
             the provider within ``max_attempts`` (certainly not processed: the next run
             tries again)
``skipped``  the row has problems (``error`` lists them); never sent
``unknown``  the request may have been processed (a timeout, a 5xx, a dropped connection,
             an interrupt while in flight): never resent automatically; settle it with
             ``Journal(path).resolve(campaign, keys, "sent" | "resend")``
``waiting``  not sent yet: after ``limit``, a ``stop``, a pause, a halt or an interrupt;
             running the same campaign again sends it
``suppressed`` / ``deferred`` / ``capped``
             held back by `Guardrails` (opt-out list, quiet hours with ``sendable_at``,
             frequency cap): 0 requests; a later run sends deferred and capped rows

Retries follow reliability.md §3: what was certainly not processed (connect errors, pool
timeouts, 429) is retried with stamina's capped, jittered backoff; what may have been
processed (read/write errors and timeouts, protocol errors, 408, 409, 5xx) is never resent
blindly: it is looked up where the channel ``supports_lookup`` (found: ``sent``; proven
absent: sent again) and otherwise becomes ``unknown``; other 4xx fail the row; 401/403 and
TLS errors halt the campaign after the first one.

Running the same campaign again (a re-run cell, a resume after a crash, a shuffled or
filtered frame) sends 0 requests for rows already done and returns their results from the
journal, identical.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import json
import logging
import math
import os
import re
import ssl
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

import httpx
import numpy as np
import pandas as pd
import stamina
from pydantic import BaseModel
from tqdm.auto import tqdm

from ._errors import (
    AuthFailed,
    CampaignChanged,
    CampaignError,
    CampaignPaused,
    ColumnError,
    SendError,
)
from ._loop import run_blocking
from ._pacer import Pacer
from .channels._base import Channel, LookupInconclusive, Receipt
from .guardrails import Guardrails
from .journal import Journal, JournalWriter, Mode, Record, default_journal_path
from .message import Message
from .problems import Problem

__all__ = [
    "DEFAULT_TIMEOUT",
    "RESULT_COLUMNS",
    "STATUSES",
    "row_keys",
    "send",
    "send_async",
]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(10.0, read=30.0)
STATUSES = ("dry-run", "sent", "failed", "skipped", "unknown", "waiting", "suppressed",
            "deferred", "capped")
#: the columns `send` adds to the frame, in order
RESULT_COLUMNS = (
    "key", "status", "error", "message_id", "job_id", "http_status", "attempts", "sent_at",
)
#: connections per httpx client: one client slows down as its pool grows (performance.md §7)
CONNECTIONS_PER_CLIENT = 10
HEARTBEAT_SECONDS = 5.0

StopFlag = threading.Event | asyncio.Event


# -- row keys -------------------------------------------------------------------------

def _words(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)  # customerId -> customer Id
    return [w for w in re.split(r"[\s_\-.]+", spaced.casefold()) if w]


def _id_columns(columns: Sequence[Hashable]) -> list[str]:
    return [c for c in columns if isinstance(c, str) and (_words(c) or [""])[-1] == "id"]


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def content_digest(to: Any, text: Any, media: Any, template: Any) -> str:
    """sha256 of a row's rendered content: what the recipient would receive."""
    blob = json.dumps([_plain(to), _plain(text), _plain(media), _plain(template)],
                      sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _cell_key(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def row_keys(frame: pd.DataFrame, key: str | None = None) -> tuple[pd.Series, str]:
    """Each row's journal key, and the column it comes from.

    The key comes from the data, never from the row's position:

    - ``key`` names a column (e.g. ``"Patient ID"``);
    - else the one column whose name ends in the word "id" (``id``, ``ID``, ``Patient ID``,
      ``customer_id``, ``customerId``); several such columns raise `ColumnError` (pass
      ``key=``);
    - else ``to``, the normalised number.

    Rows without problems that share a key and have identical content (to, text, media,
    template) are numbered by order of appearance: ``K``, ``K#2``, ``K#3``. Rows sharing a
    key with *different* content cannot be told apart after a shuffle or a filter, so `send`
    skips them with a problem (pass a ``key=`` column that tells them apart). Rows with an
    empty key are skipped the same way. Returns ``("", column)`` keys for those rows.
    """
    column = key
    if column is None:
        found = _id_columns(list(frame.columns))
        if len(found) > 1:
            raise ColumnError(
                f"several id-like columns could key the journal: {', '.join(map(repr, found))}; "
                'pass key="<column>" naming the one that identifies a recipient'
            )
        column = found[0] if found else "to"
    if column not in frame.columns:
        raise ColumnError(
            f'key="{column}": there is no such column; columns found: '
            f"{', '.join(map(str, frame.columns))}"
        )
    base = [_cell_key(v) for v in frame[column].tolist()]
    return pd.Series(base, index=frame.index, dtype=object, name="key"), str(column)


def _number_keys(
    labels: Sequence[Hashable], base: Sequence[str], digests: Sequence[str], column: str,
    sendable: Sequence[bool],
) -> tuple[list[str], dict[Hashable, Problem]]:
    """Suffix duplicate keys of identical content, flag duplicates of different content."""
    groups: dict[str, list[int]] = {}
    for i, k in enumerate(base):
        if sendable[i] and k:
            groups.setdefault(k, []).append(i)
    keys = list(base)
    problems: dict[Hashable, Problem] = {}
    for k, members in groups.items():
        if len(members) == 1:
            continue
        if len({digests[i] for i in members}) == 1:
            for n, i in enumerate(members[1:], start=2):
                keys[i] = f"{k}#{n}"
            continue
        rows = ", ".join(str(labels[i]) for i in members)
        for i in members:
            problems[labels[i]] = Problem(
                _row_number(labels[i]), column,
                f'"{k}" is the key of rows {rows}, which have different messages: pass key= '
                "a column that tells them apart (so a re-run never mixes them up)",
                "duplicate",
            )
    for i, k in enumerate(base):
        if sendable[i] and not k:
            problems[labels[i]] = Problem(
                _row_number(labels[i]), column,
                "the row's key is empty: fill it in, or pass key= another column",
                "missing-value",
            )
    return keys, problems


def _row_number(label: Hashable) -> int | None:
    return label if isinstance(label, int) and not isinstance(label, bool) else None


# -- failure classes ------------------------------------------------------------------

class _NotProcessed(Exception):
    """Certainly not processed by the provider: safe to send again (stamina retries it)."""

    def __init__(self, reason: str, *, http_status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.http_status = http_status
        self.retry_after = retry_after


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


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# -- the run --------------------------------------------------------------------------

class _Progress:
    """The tqdm bar and the caller's ``on_progress(done, total)`` hook, moved together."""

    def __init__(self, bar: Any, total: int,
                 hook: Callable[[int, int], None] | None) -> None:
        self.bar, self.total, self.hook, self.done = bar, total, hook, 0

    def update(self, n: int) -> None:
        self.done += n
        self.bar.update(n)
        if self.hook is not None:
            self.hook(self.done, self.total)

    def close(self) -> None:
        self.bar.close()


@dataclass
class _Item:
    """One request to make: one row, or a chunk of rows for a bulk job."""

    positions: list[int]
    keys: list[str]
    digests: list[str]
    labels: list[str]
    attempts: int = 0
    in_doubt: bool = False  # found pending: in flight when an earlier run stopped
    bulk: bool = False
    content: str = ""  # digest of the content without the recipient (bulk grouping)

    def entries(self) -> list[tuple[str, str, str]]:
        return list(zip(self.keys, self.labels, self.digests, strict=True))


@dataclass
class _Outcome:
    status: str
    retry: bool = False
    http_status: int | None = None
    message_id: str | None = None
    job_id: str | None = None
    error: str | None = None


class _Stopped(Exception):
    """The run stops issuing requests (stop flag, pause or halt): the item waits."""


@dataclass
class _Run:
    frame: pd.DataFrame
    channel: Channel
    campaign: str
    mode: Mode
    journal: Journal
    pacer: Pacer
    concurrency: int
    max_attempts: int
    retry_after_cap: float
    stop: StopFlag | None
    bar: Any
    columns: dict[Any, list[Any]] = field(default_factory=dict)
    clients: list[httpx.AsyncClient] = field(default_factory=list)
    inflight: dict[str, _Item] = field(default_factory=dict)
    #: intent committed, waiting for the pacer's slot: certainly not sent yet
    queued: dict[str, _Item] = field(default_factory=dict)
    writer: JournalWriter | None = None
    #: outcome writes not yet committed (the worker goes on meanwhile), and the first failure
    unsettled: set[asyncio.Future[None]] = field(default_factory=set)
    write_error: BaseException | None = None
    halt: CampaignError | None = None
    pause: CampaignPaused | None = None

    # -- helpers ---------------------------------------------------------------------

    def row(self, position: int) -> dict[str, Any]:
        return {c: values[position] for c, values in self.columns.items()}

    def wire_key(self, key: str) -> str:
        # Campaign-scoped: a lookup by reference must never find another campaign's send.
        return f"{self.campaign}:{key}"

    def stopping(self) -> bool:
        return (self.halt is not None or self.pause is not None or self.write_error is not None
                or (self.stop is not None and self.stop.is_set()))

    def redact(self, text: str | None) -> str | None:
        return None if text is None else self.channel.redact(text)

    async def write(self, work: Callable[[Any], None]) -> None:
        """Commit ``work(db)`` on the journal writer's thread (never an fsync on the loop)."""
        assert self.writer is not None
        await self.writer.run(work)

    def write_later(self, work: Callable[[Any], None]) -> None:
        """Queue an outcome's commit and go on: only the intent must precede a send.

        The writer commits in order, so the row's next intent lands after it; `run` waits for
        every one (and raises the first failure) before the results are read.
        """
        assert self.writer is not None
        future = self.writer.submit(work)
        self.unsettled.add(future)
        future.add_done_callback(self.written)

    def written(self, future: asyncio.Future[None]) -> None:
        self.unsettled.discard(future)
        if not future.cancelled() and future.exception() is not None and self.write_error is None:
            self.write_error = future.exception()

    def settle(self, item: _Item) -> None:
        for k in item.keys:
            self.inflight.pop(k, None)
            self.queued.pop(k, None)

    def record(self, item: _Item, outcome: _Outcome) -> None:
        sent_at = datetime.now(UTC).isoformat() if outcome.status in ("sent", "dry-run") else None
        entries, attempts, error = item.entries(), item.attempts, self.redact(outcome.error)
        # No longer in flight from here: the writer commits the outcome whatever happens to
        # this coroutine, and `send_async` closes the writer before settle_inflight.
        self.settle(item)
        self.write_later(Journal.outcome(
            self.campaign, self.mode, entries, status=outcome.status, retry=outcome.retry,
            attempts=attempts, http_status=outcome.http_status,
            message_id=outcome.message_id, job_id=outcome.job_id, error=error, sent_at=sent_at,
        ))

    def build(self, item: _Item) -> httpx.Request:
        rows = [self.row(p) for p in item.positions]
        if not item.bulk:
            return self.channel.build_request(rows[0], key=self.wire_key(item.keys[0]))
        return self.channel.build_bulk_request(rows, key=self.wire_key(item.keys[0]))

    # -- one item --------------------------------------------------------------------

    async def process(self, item: _Item, client: httpx.AsyncClient) -> None:
        try:
            if item.in_doubt and await self.reconcile(item, client):
                return
            try:
                try:
                    outcome = await self.attempt_once(item, client)
                except _NotProcessed as exc:
                    outcome = await self.retry(item, client, exc)
            except _NotProcessed as exc:
                outcome = _Outcome(
                    "failed", retry=True, http_status=exc.http_status,
                    error=f"not delivered to {self.channel.label} after {item.attempts} "
                          f"attempts ({exc}); the next run tries again",
                )
            self.record(item, outcome)
        except _Stopped:
            # Certainly not processed in this run (or never started): it waits.
            keys = list(item.keys)
            self.settle(item)
            self.write_later(lambda db: Journal.write_forget(db, self.campaign, self.mode, keys))
        finally:
            self.bar.update(len(item.keys))

    async def attempt_once(self, item: _Item, client: httpx.AsyncClient) -> _Outcome:
        try:
            return await self.attempt(item, client)
        except _NotProcessed as exc:
            # Certainly not processed: a retry (or the next run) may send it.
            self.record(item, _Outcome("failed", retry=True, http_status=exc.http_status,
                                       error=str(exc)))
            raise

    async def retry(
        self, item: _Item, client: httpx.AsyncClient, first: _NotProcessed
    ) -> _Outcome:
        """Attempts 2.. under stamina, after ``first`` failed (raises the last failure).

        Most rows succeed at once, so the first attempt runs outside stamina: its retry
        state (tenacity's objects) costs about 30 µs a row, a few percent of the engine at
        its top rate (bench_send.py). The first failure is replayed as stamina's first
        attempt, so its backoff, its hook and the attempts cap are as if stamina had run it.
        """
        replay: _NotProcessed | None = first
        async for attempt in stamina.retry_context(
            on=_retry_hook, attempts=self.max_attempts, timeout=None,
            wait_initial=0.5, wait_max=30.0, wait_jitter=1.0,
        ):
            with attempt:
                if replay is not None:
                    failed, replay = replay, None
                    raise failed
                return await self.attempt_once(item, client)
        raise AssertionError("unreachable: stamina returns or raises")  # pragma: no cover

    async def attempt(self, item: _Item, client: httpx.AsyncClient) -> _Outcome:
        if self.stopping():
            raise _Stopped
        try:
            request = self.build(item)
        except CampaignError as exc:
            return _Outcome("failed", retry=True, error=str(exc))
        item.attempts += 1
        recipients = [str(self.columns["to"][p]) if "to" in self.columns else None
                      for p in item.positions]
        entries, attempts = item.entries(), item.attempts
        # The intent is durable before the slot, so nothing but the send follows the pacer's
        # release. Until the send the row is `queued`: a stop, pause or halt meanwhile
        # forgets it (_Stopped), an interrupt too (settle_inflight): never left pending.
        for k in item.keys:
            self.queued[k] = item
        await self.write(Journal.pending(self.campaign, self.mode, entries, attempts,
                                         recipients=recipients))
        await self.pacer.acquire()
        if self.stopping():
            raise _Stopped
        for k in item.keys:  # no await from here to client.send: in flight = may have left
            self.queued.pop(k, None)
            self.inflight[k] = item
        try:
            response = await client.send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            if _is_tls(exc):
                self.halt_with(SendError(
                    f"TLS error talking to {self.channel.label} ({self.redact(str(exc))}): "
                    "check the base_url, a proxy or the certificates; the campaign halted and "
                    "nothing more was sent. Run it again once fixed"))
                return _Outcome("failed", retry=True, error=f"TLS error: {self.redact(str(exc))}")
            raise _NotProcessed(
                f"{type(exc).__name__}: {self.redact(str(exc)) or 'no answer'}") from exc
        except (httpx.UnsupportedProtocol, httpx.ProxyError, httpx.LocalProtocolError) as exc:
            # Refused on this side before anything was sent: a configuration problem.
            self.halt_with(SendError(
                f"{type(exc).__name__} before sending to {self.channel.label}: "
                f"{self.redact(str(exc))}; fix the channel's base_url or proxy and run again"))
            return _Outcome("failed", retry=True, error=f"{type(exc).__name__}: "
                            f"{self.redact(str(exc))}")
        except httpx.TransportError as exc:
            # ReadTimeout, ReadError, WriteError, WriteTimeout, RemoteProtocolError...:
            # the request may have been processed (reliability.md §1.2).
            return await self.ambiguous(
                item, client, f"{type(exc).__name__}: {self.redact(str(exc)) or 'no answer'}",
                None)
        return await self.classify(item, client, response)

    async def classify(
        self, item: _Item, client: httpx.AsyncClient, response: httpx.Response
    ) -> _Outcome:
        status = response.status_code
        if status == 429:
            wait = parse_retry_after(response.headers.get("retry-after"))
            if wait is not None and wait > self.retry_after_cap:
                self.pause_with(wait)
                raise _Stopped
            if wait is not None:
                self.pacer.pause_for(wait)  # every request to this channel waits
            raise _NotProcessed(f"HTTP 429 from {self.channel.label}", http_status=429,
                                retry_after=wait)
        if status in (408, 409) or status >= 500:
            receipt = self.parse(response)
            return await self.ambiguous(item, client, receipt.error or f"HTTP {status}", status)
        receipt = self.parse(response)
        if status in (401, 403):
            error = receipt.error or f"HTTP {status}"
            self.halt_with(AuthFailed(
                f"{self.channel.label} refused the credentials (HTTP {status}: {error}); the "
                "campaign halted after this first refusal. Check the API key and its "
                "permissions, then run the same campaign again: nothing was sent twice"))
            return _Outcome("failed", retry=True, http_status=status, error=error)
        if 200 <= status < 300:
            if receipt.accepted:
                return _Outcome("sent" if self.mode == "live" else "dry-run",
                                http_status=status, message_id=receipt.message_id,
                                job_id=receipt.job_id)
            if receipt.provider_status is None:
                # A 2xx the channel cannot read: it may well have been sent.
                return _Outcome("unknown", http_status=status, error=receipt.error)
        return _Outcome("failed", http_status=status, error=receipt.error or f"HTTP {status}")

    def parse(self, response: httpx.Response) -> Receipt:
        try:
            return self.channel.parse_response(response)
        except Exception as exc:  # a provider's surprise must not lose the row
            return Receipt(response.status_code, False,
                           error=f"HTTP {response.status_code}, unreadable answer: {exc}")

    async def ambiguous(
        self, item: _Item, client: httpx.AsyncClient, reason: str, http_status: int | None
    ) -> _Outcome:
        if len(item.keys) == 1 and self.channel.supports_lookup:
            found = await self.lookup(item, client)
            if isinstance(found, Receipt):
                return _Outcome("sent" if self.mode == "live" else "dry-run",
                                http_status=http_status, message_id=found.message_id,
                                job_id=found.job_id)
            if found is None:
                raise _NotProcessed(f"{reason.rstrip('.')}; a lookup proved it was not received",
                                    http_status=http_status)
            reason = f"{reason}; {found}"
        what = "the bulk job" if len(item.keys) > 1 else "it"
        return _Outcome(
            "unknown", http_status=http_status,
            error=f"{reason.rstrip('.')}; {self.channel.label} may have sent {what}, so it is "
                  "not sent again automatically",
        )

    async def lookup(self, item: _Item, client: httpx.AsyncClient) -> Receipt | str | None:
        """The message as found (Receipt), None when proven absent, or why it is unproven."""
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

    async def reconcile(self, item: _Item, client: httpx.AsyncClient) -> bool:
        """Settle a row left pending by an earlier run; True when settled without a send."""
        reason = "in flight when an earlier run stopped (a crash or a kill)"
        if self.channel.supports_lookup and len(item.keys) == 1:
            found = await self.lookup(item, client)
            if found is None:
                return False  # proven absent: send it
            if isinstance(found, Receipt):
                self.record(item, _Outcome("sent" if self.mode == "live" else "dry-run",
                                           message_id=found.message_id, job_id=found.job_id))
                return True
            reason = f"{reason}; {found}"
        self.record(item, _Outcome(
            "unknown",
            error=f"{reason.rstrip('.')}; {self.channel.label} may have sent it, so it is not "
                  "sent again automatically"))
        return True

    def halt_with(self, error: CampaignError) -> None:
        if self.halt is None:
            self.halt = error

    def pause_with(self, wait: float) -> None:
        if self.pause is None:
            resume = datetime.fromtimestamp(time.time() + wait, UTC)
            self.pause = CampaignPaused(
                f"{self.channel.label} asked to wait {wait:g} s (Retry-After), longer than "
                f"retry_after_cap={self.retry_after_cap:g} s: campaign \"{self.campaign}\" "
                f"paused with its remaining rows waiting. Run the same campaign again after "
                f"{resume:%Y-%m-%d %H:%M:%S} UTC to resume; rows already sent are not sent "
                "twice",
                retry_after=wait,
            )
            self.pause.resume_at = resume.isoformat()  # type: ignore[attr-defined]

    # -- all items -------------------------------------------------------------------

    async def run(self, items: list[_Item]) -> None:
        if not items:
            return
        # The first request goes alone: a wrong key or channel halts after 1 request, not N.
        await self.process(items[0], self.clients[0])
        rest = iter(items[1:])

        async def worker(n: int) -> None:
            client = self.clients[n % len(self.clients)]
            for item in rest:  # shared iterator: each item is taken by exactly one worker
                if self.stopping():
                    self.bar.update(len(item.keys))
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
            await asyncio.gather(*list(self.unsettled), return_exceptions=True)
        if self.write_error is not None:
            raise self.write_error

    def settle_inflight(self) -> None:
        """After an interrupt: requests that may have left become ``unknown``.

        Rows whose intent was committed but which still waited for their slot certainly did
        not leave: they are forgotten (``waiting``), never left pending. Called once the
        writer is closed, so no queued write lands after these.
        """
        queued = [k for k in self.queued if k not in self.inflight]
        if queued:
            self.journal.forget(self.campaign, self.mode, queued)
        self.queued.clear()
        items = {id(i): i for i in self.inflight.values()}
        for item in items.values():
            self.journal.mark_outcome(
                self.campaign, self.mode, item.entries(), status="unknown",
                attempts=item.attempts,
                error="interrupted while the request was in flight: the provider may have "
                      "sent it, so it is not sent again automatically")
        self.inflight.clear()


# -- results --------------------------------------------------------------------------

def _results(
    frame: pd.DataFrame, keys: list[str], skipped: dict[int, str], records: dict[str, Record],
    attrs: dict[str, Any],
) -> pd.DataFrame:
    out = frame.copy()
    for name in RESULT_COLUMNS:
        if name in out.columns:
            out = out.rename(columns={name: f"{name} (sheet)"})
    status: list[Any] = []
    error: list[Any] = []
    message_id: list[Any] = []
    job_id: list[Any] = []
    http_status: list[Any] = []
    attempts: list[Any] = []
    sent_at: list[Any] = []
    for position, k in enumerate(keys):
        record = records.get(k) if position not in skipped and k else None
        if position in skipped:
            values: tuple[Any, ...] = ("skipped", skipped[position], None, None, None, 0, None)
        elif record is None:
            values = ("waiting", None, None, None, None, 0, None)
        else:
            state = "unknown" if record.status == "pending" else record.status
            values = (state, record.error, record.message_id, record.job_id,
                      record.http_status, record.attempts, record.sent_at)
        for column, value in zip(
            (status, error, message_id, job_id, http_status, attempts, sent_at), values,
            strict=True,
        ):
            column.append(value)
    index = out.index
    out["key"] = pd.Series([k or None for k in keys], index=index, dtype="str")
    out["status"] = pd.Series(status, index=index, dtype="str")
    out["error"] = pd.Series(error, index=index, dtype="str")
    out["message_id"] = pd.Series(message_id, index=index, dtype="str")
    out["job_id"] = pd.Series(job_id, index=index, dtype="str")
    out["http_status"] = pd.Series(http_status, index=index, dtype="Int64")
    out["attempts"] = pd.Series(attempts, index=index, dtype="int64")
    out["sent_at"] = pd.Series(
        pd.to_datetime(pd.Series(sent_at, dtype=object), utc=True, format="ISO8601").array,
        index=index,
    ).astype("datetime64[us, UTC]")
    out.attrs = {**frame.attrs, **attrs}
    return out


# -- the public functions -------------------------------------------------------------

def _message_of(frame: pd.DataFrame, message: Message | None) -> Message | None:
    if message is not None:
        return message
    found = frame.attrs.get("message")
    return found if isinstance(found, Message) else None


def _default_transport() -> httpx.AsyncBaseTransport:
    from .sandbox import Sandbox  # the dry run: the sandbox on exactly the live code path

    transport: httpx.AsyncBaseTransport = Sandbox().transport()
    return transport


async def send_async(
    frame: pd.DataFrame,
    channel: Channel,
    *,
    campaign: str,
    live: bool = False,
    limit: int | None = None,
    rate: float | Pacer = 10.0,
    concurrency: int = 8,
    journal: Journal | str | os.PathLike[str] | None = None,
    key: str | None = None,
    bulk: bool = False,
    bulk_size: int = 100,
    message: Message | None = None,
    guardrails: Guardrails | None = None,
    now: datetime | None = None,
    stop: StopFlag | None = None,
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    max_attempts: int = 5,
    retry_after_cap: float = 300.0,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> pd.DataFrame:
    """`send` for ``await`` in a notebook or an async program (same arguments, same result)."""
    if not campaign or not campaign.strip():
        raise SendError('campaign= needs a name, e.g. campaign="spring-reminders": the journal '
                        "uses it so a re-run never sends a row twice")
    if concurrency < 1 or max_attempts < 1 or bulk_size < 1 or (limit is not None and limit < 0):
        raise SendError("concurrency, max_attempts and bulk_size must be >= 1 and limit >= 0")
    if bulk and not channel.supports_bulk:
        raise SendError(f"bulk=True: {channel.label} has no bulk endpoint; send with bulk=False")
    mode: Mode = "live" if live else "dry-run"
    pacer = rate if isinstance(rate, Pacer) else Pacer(rate)
    own_journal = not isinstance(journal, Journal)
    jr = journal if isinstance(journal, Journal) else Journal(
        journal if journal is not None else default_journal_path(campaign))

    n = len(frame)
    labels = list(frame.index)
    columns = {c: frame[c].tolist() for c in frame.columns}
    empty: list[Any] = [None] * n
    to, text = columns.get("to", empty), columns.get("text", empty)
    media, template = columns.get("media", [()] * n), columns.get("template", empty)
    problems = columns.get("problems", [()] * n)
    digests = [content_digest(to[i], text[i], media[i], template[i]) for i in range(n)]

    # Problems: the frame's, then the channel's own rules (a row with any is never sent).
    base, key_column = row_keys(frame, key)
    found: dict[int, tuple[Problem, ...]] = {}
    for i in range(n):
        own = tuple(problems[i] or ())
        if not own:
            row = {c: values[i] for c, values in columns.items()}
            own = tuple(channel.problems(row, row_number=_row_number(labels[i])))
        if own:
            found[i] = own
    keys, key_problems = _number_keys(
        labels, base.tolist(), digests, key_column, [i not in found for i in range(n)])
    for i, label in enumerate(labels):
        if label in key_problems:
            found[i] = (key_problems[label],)
    # Guardrails decide on the data and the journal, before any request (0 requests for
    # suppressed, deferred and capped rows); plan() calls the same function.
    verdict = None if guardrails is None else guardrails.apply(frame, journal=jr, now=now)
    if verdict is not None:
        for i, label in enumerate(labels):
            if label in verdict.problems and i not in found:
                found[i] = verdict.problems[label]
    guarded = (verdict.status.notna().to_numpy() if verdict is not None
               else np.zeros(n, dtype=bool))
    skipped = {i: "; ".join(str(p) for p in ps) for i, ps in found.items()}

    msg = _message_of(frame, message)
    fingerprint = {
        "channel": channel.fingerprint(),
        "message": None if msg is None else msg.model_dump(mode="json"),
    }
    attrs = {"campaign": campaign, "mode": mode, "journal": str(jr.path), "stopped": None}
    token = jr.acquire(campaign)
    run: _Run | None = None
    try:
        state = jr.open_campaign(campaign, mode, fingerprint)
        records = jr.records(campaign, mode)
        todo: list[_Item] = []
        changed: list[str] = []
        for i in range(n):
            if i in skipped or guarded[i]:
                continue
            record = records.get(keys[i])
            if record is not None and record.digest != digests[i]:
                if record.status == "failed" or mode == "dry-run":
                    record = None  # a refused row with new content may go; dry runs redo
                else:
                    changed.append(str(labels[i]))
                    continue
            if record is None or (record.status == "failed" and record.retry):
                todo.append(_Item([i], [keys[i]], [digests[i]], [str(labels[i])],
                                  attempts=0 if record is None else record.attempts,
                                  content=content_digest(None, text[i], media[i], template[i])
                                  if bulk else ""))
            elif record.status == "pending":
                todo.append(_Item([i], [keys[i]], [digests[i]], [str(labels[i])],
                                  attempts=record.attempts, in_doubt=True))
        if changed:
            raise CampaignChanged(
                f'campaign "{campaign}" already sent (or may have sent) a different message to '
                f"row(s) {', '.join(changed[:10])}{'...' if len(changed) > 10 else ''} "
                f"(journal {jr.path}); nothing was sent. To send the new version, use a new "
                f'campaign name (e.g. campaign="{campaign}-2")'
            )
        if limit is not None:
            fresh = [it for it in todo if not it.in_doubt][:limit]
            todo = [it for it in todo if it.in_doubt] + fresh
        if guardrails is not None:
            requested = np.zeros(n, dtype=bool)
            requested[[p for it in todo for p in it.positions]] = True
            guardrails.check_budget(frame, requested)  # LimitExceeded: nothing was sent

        resume_at = state.get("resume_at")
        if state.get("state") == "paused" and resume_at:
            remaining = datetime.fromisoformat(resume_at).timestamp() - time.time()
            if remaining > retry_after_cap:
                raise CampaignPaused(
                    f'campaign "{campaign}" is paused until {resume_at} (the provider\'s '
                    f"Retry-After); nothing was sent. Run it again after that time",
                    retry_after=remaining)
            if remaining > 0:
                pacer.pause_for(remaining)

        if bulk:
            todo = _chunks(todo, to, bulk_size)

        total = sum(len(it.keys) for it in todo)
        bar = _Progress(tqdm(total=total, desc=f"{campaign} ({mode})", unit="msg",
                             disable=not progress or total == 0), total, on_progress)
        run = _Run(frame, channel, campaign, mode, jr, pacer, concurrency, max_attempts,
                   retry_after_cap, stop, bar, columns)
        if transport is None and not live:
            transport = _default_transport()
        limits = httpx.Limits(max_connections=CONNECTIONS_PER_CLIENT,
                              max_keepalive_connections=CONNECTIONS_PER_CLIENT)
        n_clients = 1 if transport is not None else math.ceil(concurrency / CONNECTIONS_PER_CLIENT)
        # One TLS context for every client: each loads the CA bundle, about 20 ms.
        tls = httpx.create_ssl_context() if transport is None else True
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(n_clients):
                run.clients.append(await stack.enter_async_context(httpx.AsyncClient(
                    transport=transport, limits=limits, timeout=timeout, verify=tls,
                    follow_redirects=False)))
            # Journal writes of the run commit on this thread, grouped (JournalWriter).
            writer = run.writer = JournalWriter(jr)
            beat = asyncio.ensure_future(_heartbeat(writer, campaign, token))
            try:
                await run.run(todo)
            except BaseException:
                beat.cancel()
                writer.close()  # every submitted write lands before the interrupt's
                run.settle_inflight()
                jr.set_state(campaign, mode, "interrupted",
                             note="interrupted: rows in flight are unknown, the rest waiting")
                attrs["stopped"] = "interrupted"
                raise
            finally:
                beat.cancel()
                writer.close()
                bar.close()
        if run.pause is not None:
            jr.set_state(campaign, mode, "paused", note=str(run.pause),
                         resume_at=getattr(run.pause, "resume_at", None))
            attrs["stopped"] = str(run.pause)
        elif run.halt is not None:
            jr.set_state(campaign, mode, "halted", note=str(run.halt))
            attrs["stopped"] = str(run.halt)
        elif stop is not None and stop.is_set():
            jr.set_state(campaign, mode, "stopped", note="stopped by the caller")
            attrs["stopped"] = "stopped by the caller: the remaining rows are waiting"
        else:
            jr.set_state(campaign, mode, "done")
        results = _results(frame, keys, skipped, jr.records(campaign, mode), attrs)
        if verdict is not None:
            results = verdict.annotate(results)
        unknown = results.loc[results["status"] == "unknown", "key"].tolist()
        if unknown:
            logger.warning("%s", jr.resolve_hint(campaign, unknown))
        if run.halt is not None or run.pause is not None:
            error = run.halt if run.halt is not None else run.pause
            assert error is not None
            error.results = results  # type: ignore[attr-defined]
            raise error
        return results
    finally:
        jr.release(campaign, token)
        if own_journal:
            jr.close()


async def _heartbeat(writer: JournalWriter, campaign: str, token: str) -> NoReturn:
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        await writer.run(lambda db: Journal.write_heartbeat(db, campaign, token))


def _chunks(items: list[_Item], to: list[Any], size: int) -> list[_Item]:
    """Bulk jobs: rows of one content, at most ``size`` each, never one number twice a job.

    Sociocs sends a job once per number unless ``duplicates_allowed`` (seed 002), so two
    rows with the same number in one job would be journaled sent while one was dropped.
    """
    singles = [it for it in items if it.in_doubt]
    groups: dict[str, list[_Item]] = {}
    for it in items:
        if not it.in_doubt:
            groups.setdefault(it.content, []).append(it)
    out: list[_Item] = list(singles)
    for members in groups.values():
        chunks: list[tuple[set[Any], _Item]] = []
        for it in members:
            number = to[it.positions[0]]
            for seen, chunk in chunks:
                if number not in seen and len(chunk.keys) < size:
                    break
            else:
                seen, chunk = set(), _Item([], [], [], [], bulk=True)
                chunks.append((seen, chunk))
            seen.add(number)
            chunk.positions += it.positions
            chunk.keys += it.keys
            chunk.digests += it.digests
            chunk.labels += it.labels
            chunk.attempts = max(chunk.attempts, it.attempts)
        out.extend(chunk for _, chunk in chunks)
    return out


def send(
    frame: pd.DataFrame,
    channel: Channel,
    *,
    campaign: str,
    live: bool = False,
    limit: int | None = None,
    rate: float | Pacer = 10.0,
    concurrency: int = 8,
    journal: Journal | str | os.PathLike[str] | None = None,
    key: str | None = None,
    bulk: bool = False,
    bulk_size: int = 100,
    message: Message | None = None,
    guardrails: Guardrails | None = None,
    now: datetime | None = None,
    stop: StopFlag | None = None,
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    max_attempts: int = 5,
    retry_after_cap: float = 300.0,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> pd.DataFrame:
    """Send every row of a rendered frame through ``channel``; return the results frame.

    Blocks in a script (``asyncio.run``) and inside a running event loop such as a Jupyter
    cell (on campaignkit's background loop thread). In a notebook, ``await send_async(...)``
    keeps the kernel responsive (a Stop button can set ``stop``).

    Parameters
    ----------
    frame:
        A rendered frame (`render`): ``to``, ``text``, ``media``, ``template``, ``problems``
        and the sheet's columns, indexed by sheet row. Never modified.
    channel:
        The provider (`Sociocs`, `TextUs`, `Bird`).
    campaign:
        The campaign's name: the journal's key. The same name again never sends a row twice.
    live:
        ``False`` (default): a dry run through the in-process sandbox on exactly the live
        code path; nothing leaves this machine. ``True``: send to ``channel.base_url``.
    limit:
        Send at most this many new rows (the first ones in frame order not sent yet); the
        rest stay ``waiting``.
    rate:
        Messages per second (held by a `Pacer` on an absolute schedule), or a `Pacer`.
    concurrency:
        Requests in flight at most; clients of 10 connections each.
    journal:
        A `Journal` or its path; default ``<campaign>.journal.db`` in the current directory.
    key:
        The column that identifies a recipient (see `row_keys` for the default rule).
    bulk, bulk_size:
        Where ``channel.supports_bulk`` (Sociocs): one bulk job per ``bulk_size`` rows of
        identical content; an ambiguous answer makes the whole job ``unknown``.
    message:
        The `Message` rendered into ``frame`` (default ``frame.attrs["message"]``): the
        journal refuses the same campaign with another message (`CampaignChanged`).
    guardrails:
        `Guardrails` (suppression, quiet hours, budget, frequency cap), decided before
        the first request exactly as `plan` does; ``now`` fixes the clock they use.
    stop:
        A `threading.Event` or `asyncio.Event`: once set, no new request starts; requests in
        flight finish; the remaining rows are ``waiting``.
    progress:
        Show a tqdm bar (a widget in Jupyter).
    on_progress:
        Called as ``on_progress(done, total)`` after each request settles (on the loop that
        sends: the composer's progress bar).
    transport:
        The httpx transport (the seam for the sandbox, tests and benchmarks).
    max_attempts:
        Attempts per row for failures that were certainly not processed.
    retry_after_cap:
        A ``Retry-After`` longer than this pauses the campaign (`CampaignPaused`).
    timeout:
        httpx timeouts per request.

    Returns
    -------
    pandas.DataFrame
        ``frame``'s columns plus ``key status error message_id job_id http_status attempts
        sent_at`` (see the module docstring for the statuses), indexed like ``frame``.

    Raises
    ------
    AuthFailed
        The provider answered 401/403: halted after the first; ``.results`` holds the frame.
    CampaignPaused
        A ``Retry-After`` above ``retry_after_cap``; ``.results`` holds the frame.
    CampaignChanged, JournalLocked, LimitExceeded
        Before anything is sent (LimitExceeded: a `Guardrails` budget).
    SendError
        A TLS or configuration error halted the campaign; ``.results`` holds the frame.
    """
    return run_blocking(lambda: send_async(
        frame, channel, campaign=campaign, live=live, limit=limit, rate=rate,
        concurrency=concurrency, journal=journal, key=key, bulk=bulk, bulk_size=bulk_size,
        message=message, guardrails=guardrails, now=now, stop=stop, progress=progress,
        on_progress=on_progress, transport=transport, max_attempts=max_attempts,
        retry_after_cap=retry_after_cap, timeout=timeout,
    ))


__all__ += ["content_digest", "parse_retry_after"]
