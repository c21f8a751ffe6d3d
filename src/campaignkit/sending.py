"""Send a rendered frame: decide every row, pace, request, record, report.

`send_async` reads as its stages: find the ledger and hold the campaign (`_Books`), read what
the ledger knows and `decide` every row, refuse the run whole if it must, make the requests
(`campaignkit._engine.Sender`), and build the results frame (`campaignkit.results`).

Every row ends in exactly one ``status`` of the results frame:

``dry-run``       the sandbox accepted it (a dry run: nothing left this machine)
``sent``          the provider accepted it (``message_id`` / ``job_id`` from its answer)
``already-sent``  an earlier run of this campaign sent it (when, and as which row, in
                  ``error``): 0 requests
``failed``        the provider refused it (``error`` is its own message), or it could not
                  reach the provider within the attempts (the next run tries again)
``skipped``       the row has problems (``error`` lists them); never sent
``duplicate``     an earlier row has the same number and gets the message
``unknown``       the request may have been processed (a timeout, a 5xx, a dropped
                  connection, an interrupt while in flight): never resent blindly; Bird
                  rows are looked up again by the next run, others are settled with
                  ``campaignkit ledger resolve``
``waiting``       not sent yet: after ``limit``, a Stop, a pause, a halt or an interrupt;
                  running the same campaign again sends it
``suppressed`` / ``capped`` / ``deferred`` / ``over-budget``
                  held back by the guardrails (opt-out list, frequency cap, quiet hours with
                  ``sendable_at``, budget): 0 requests; a later run sends deferred and capped
                  rows

Retries follow the failure classes (`campaignkit._classify`, docs/reliability.md):
what was certainly not processed (connect errors, pool timeouts, 429) is retried with
stamina's capped, jittered backoff; what may have been processed is looked up where the
channel ``supports_lookup`` and otherwise becomes ``unknown``; other 4xx fail the row;
401/403, TLS errors and a provider that cannot be reached at all halt the campaign.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import math
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Collection, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pandas as pd
from tqdm.auto import tqdm

from ._engine import DEFAULT_TIMEOUT, Cells, Item, Rows, Sender, chunks, parse_retry_after
from ._errors import EXAMPLES, AuthFailed, CampaignError, CampaignPaused, SendError, require
from ._loop import run_blocking
from ._pacer import Pacer, VirtualClock
from .channels._base import Channel
from .channels._outcomes import ReadFailed
from .channels._secrets import insecure_warning
from .decisions import Decisions, content_digest, decide, row_keys
from .guardrails import Guardrails
from .guardrails._quiet import check_now
from .ledger import Claim, History, Ledger, Mode, locate_ledger, sandbox_ledger_path
from .policies import Pacing, Retry
from .results import RESULT_COLUMNS, STATUSES, build_results

__all__ = [
    "DEFAULT_TIMEOUT",
    "RESULT_COLUMNS",
    "STATUSES",
    "Pacing",
    "Retry",
    "content_digest",
    "is_sandbox",
    "parse_retry_after",
    "row_keys",
    "send",
    "send_async",
]

logger = logging.getLogger(__name__)

#: connections per httpx client: one client slows down as its pool grows
#: (docs/performance.md#http-clients-of-ten-connections)
CONNECTIONS_PER_CLIENT = 10
#: the longest campaign name: it is written in the ledger, messages and file names
NAME_LIMIT = 120

StopFlag = threading.Event | asyncio.Event
Progress = bool | Callable[[int, int], None]


def is_sandbox(channel: Channel) -> bool:
    """Whether ``channel`` points at a sandbox on this machine (a loopback ``base_url``)."""
    return channel.on_loopback


# -- stage 1: the ledger and the campaign's claim ----------------------------------------------

class _Books:
    """The ledgers of one run: what it reads (``history``) and what it writes (``book``).

    A live send reads and writes the ledger (the sandbox's own ledger when the channel
    points at loopback) and holds the campaign's claim for the whole run. A dry run reads
    the same ledger (so it says what a live run would do) and writes only to memory.
    """

    def __init__(self, channel: Channel, campaign: str, *, live: bool,
                 ledger: Ledger | str | os.PathLike[str] | None) -> None:
        self.own: list[Ledger] = []
        if isinstance(ledger, Ledger):
            shared: Ledger | None = ledger
            path = ledger.path
        else:
            shared = None
            path = locate_ledger(ledger)
            if is_sandbox(channel):
                path = sandbox_ledger_path(path)
        self.path = path
        self.claim: Claim | None = None
        if live:
            self.book = shared or self._open(Ledger, path)
            self.history_source: Ledger | None = self.book
            self.mode: Mode = "live"
            self.claim = self.book.claim(campaign)
        else:
            self.history_source = shared or self._open(Ledger.existing, path)
            self.book = self._open(Ledger, ":memory:")
            self.mode = "dry-run"

    def _open(self, opener: Callable[[Any], Ledger | None], path: Any) -> Any:
        opened = opener(path)
        if opened is not None:
            self.own.append(opened)
        return opened

    def history(self, campaign: str, guardrails: Guardrails, now: datetime) -> History:
        if self.history_source is None:
            return History()
        cap = guardrails.frequency_cap
        return self.history_source.history(campaign, since=None if cap is None
                                           else now - cap.period)

    def close(self) -> None:
        try:
            if self.claim is not None:
                self.claim.release()
        finally:
            for opened in self.own:
                opened.close()


#: The flag `send` raises on SIGTERM/SIGHUP. Inside a running loop (Jupyter) the run goes on
#: campaignkit's loop thread, where no handler can be installed: `send` installs them on the
#: caller's (main) thread and hands the flag over in the context, which asyncio copies into
#: the task it runs there.
_SIGNALLED: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "campaignkit_signalled", default=None)


@contextlib.contextmanager
def _stop_on_signals(flag: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGHUP (a kernel restart, ``docker stop``) stop the run like Stop does.

    Only the main thread can install handlers; elsewhere the caller's own handling stands.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = [s for s in ("SIGTERM", "SIGHUP") if hasattr(signal, s)]
    previous = {}
    for name in names:
        number = getattr(signal, name)
        previous[number] = signal.signal(number, lambda signum, frame: flag.set())
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _check(campaign: object, limit: object, bulk: object, resend: object) -> None:
    if not isinstance(campaign, str) or not campaign.strip():
        raise SendError('campaign= needs a name, e.g. campaign="spring-reminders": the ledger '
                        "uses it so a re-run never sends a row twice")
    if len(campaign) > NAME_LIMIT or any(ord(c) < 32 or ord(c) == 127 for c in campaign):
        raise SendError(f"campaign= must be at most {NAME_LIMIT} characters with no control "
                        f"characters (got {len(campaign)} characters): choose a short name, "
                        'e.g. "spring-reminders"')
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 0):
        raise SendError(f"limit={limit!r} is not a number of messages: give a whole number, 0 "
                        "or more (or None for all)")
    if not isinstance(bulk, bool) and (not isinstance(bulk, int) or bulk < 1):
        raise SendError(f"bulk={bulk!r}: give True (jobs of 100 rows), a job size of 1 or "
                        "more, or False")
    if isinstance(resend, (str, bytes)) or not isinstance(resend, Collection):
        raise SendError("resend= takes a list of keys (the results' key column), e.g. "
                        'resend=["+16175550101"]')


def _check_types(frame: object, channel: object, pacing: object, retry: object,
                 guardrails: object) -> None:
    require("frame", frame, pd.DataFrame, EXAMPLES["frame"], SendError)
    require("channel", channel, Channel, EXAMPLES["channel"], SendError)
    require("pacing", pacing, Pacing, "a Pacing, e.g. Pacing(rate=5), or None", SendError,
            optional=True)
    require("retry", retry, Retry, "a Retry, e.g. Retry(attempts=3), or None", SendError,
            optional=True)
    require("guardrails", guardrails, Guardrails, EXAMPLES["guardrails"], SendError,
            optional=True)


# -- the public functions -------------------------------------------------------------------

async def send_async(
    frame: pd.DataFrame,
    channel: Channel,
    *,
    campaign: str,
    live: bool = False,
    ledger: Ledger | str | os.PathLike[str] | None = None,
    key: str | None = None,
    limit: int | None = None,
    guardrails: Guardrails | None = None,
    resend: Collection[str] = (),
    bulk: bool | int = False,
    pacing: Pacing | None = None,
    retry: Retry | None = None,
    now: datetime | None = None,
    stop: StopFlag | None = None,
    progress: Progress = True,
    transport: httpx.AsyncBaseTransport | None = None,
    journal: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """`send` for ``await`` in a notebook or an async program (same arguments, same result)."""
    _check(campaign, limit, bulk, resend)
    _check_types(frame, channel, pacing, retry, guardrails)
    if journal is not None:
        warnings.warn("send(journal=...) is deprecated: campaignkit keeps one ledger per user "
                      "(docs/reliability.md#the-ledger); pass ledger= to choose another file",
                      DeprecationWarning, stacklevel=3)
        ledger = journal if ledger is None else ledger
    if bulk and not channel.supports_bulk:
        raise SendError(f"bulk=True: {channel.label} has no bulk endpoint; send with bulk=False")
    pacing = pacing or Pacing()
    retry = retry or Retry()
    guard = Guardrails() if guardrails is None else guardrails
    moment = check_now(now)
    signalled = _SIGNALLED.get() or threading.Event()

    def stopped() -> bool:
        return signalled.is_set() or (stop is not None and stop.is_set())

    insecure = insecure_warning(channel.base_url) if live else None
    if insecure is not None:
        print(f"warning: {insecure}", file=sys.stderr, flush=True)
    books = _Books(channel, campaign, live=live, ledger=ledger)
    try:
        decisions = decide(frame, channel, campaign=campaign,
                           history=books.history(campaign, guard, moment), guardrails=guard,
                           key=key, limit=limit, resend=resend, rate=pacing.rate_for(channel),
                           now=moment)
        attrs: dict[str, Any] = {
            "campaign": campaign, "mode": books.mode, "ledger": str(books.path),
            "stopped": None, "warnings": decisions.warnings,
            "live_seconds": decisions.seconds,
        }
        for warning in decisions.warnings:
            logger.warning("%s", warning)
        checked = live and guard.provider_opt_outs and bool(decisions.order)
        try:
            learned = checked and await _provider_opt_outs(books.book, channel, frame,
                                                           decisions, transport, retry, pacing)
        except AuthFailed as exc:
            exc.results = build_results(frame, decisions, {}, {}, attrs)
            raise
        if learned:
            decisions = decide(frame, channel, campaign=campaign,
                               history=books.history(campaign, guard, moment),
                               guardrails=guard, key=key, limit=limit, resend=resend,
                               rate=pacing.rate_for(channel), now=moment)
            attrs["warnings"] = decisions.warnings
        if decisions.refusal is not None:
            decisions.refusal.results = build_results(frame, decisions, {}, {}, attrs)
            raise decisions.refusal
        if live and progress is True:  # where every send of this run is recorded
            print(f'campaignkit: live send of "{campaign}", recorded in the ledger '
                  f"{books.path}", file=sys.stderr, flush=True)
        state = books.book.open_campaign(campaign, books.mode, decisions.fingerprint)
        if live:
            _stale_to_unknown(books.book, campaign, decisions)
        sender = _sender(frame, channel, campaign, books, decisions, pacing, retry, stopped)
        _resume_after_pause(sender, state, retry)
        items = _items(frame, decisions, live=live, bulk=bulk)
        with _stop_on_signals(signalled):
            await _request(sender, items, transport=transport, live=live, retry=retry,
                           progress=progress, label=f"{campaign} ({books.mode})")
        attrs["stopped"] = _ending(books, sender, campaign, stopped(), signalled.is_set())
        records = books.book.records(campaign, books.mode)
        results = build_results(frame, decisions, records, sender.late, attrs)
        unknown = results.loc[results["status"] == "unknown", "key"].tolist()
        if unknown and live:
            logger.warning("%s", books.book.resolve_hint(campaign, unknown))
        error = sender.halt or sender.pause
        if error is not None:
            error.results = results
            raise error
        return results
    finally:
        books.close()


async def _provider_opt_outs(book: Ledger, channel: Channel, frame: pd.DataFrame,
                             decisions: Decisions, transport: Any, retry: Retry,
                             pacing: Pacing) -> int:
    """Stage: ask the provider which going numbers it reports opted out or blocked; suppress
    them in the ledger (every campaign then holds them back). Returns how many were new.

    TextUs answers 50 numbers a request, so every number is asked; Sociocs one number a
    request, so a sample of `OPT_OUT_SAMPLE` (the rest rely on the ledger's list, which
    grows with every refusal and STOP reply); Bird documents no lookup.
    """
    from .channels import Sociocs, TextUs
    from .guardrails._core import OPT_OUT_SAMPLE
    from .outcomes import blocked_numbers_async, default_read_rate

    if not isinstance(channel, Sociocs | TextUs):
        return 0
    to = frame["to"].tolist()
    going = sorted({to[i] for i in decisions.order if isinstance(to[i], str) and to[i]})
    if isinstance(channel, Sociocs):
        going = going[:: max(1, len(going) // OPT_OUT_SAMPLE)][:OPT_OUT_SAMPLE]
    try:
        # At the campaign's own request rate, under the provider's documented read limit.
        rate = pacing.rate_for(channel)
        if isinstance(channel, TextUs):
            rate = min(rate, default_read_rate(channel))
        reads: float | Pacer = rate
        if pacing.clock is not None and pacing.sleep is not None:  # the caller's clock
            reads = Pacer(rate, clock=pacing.clock, sleep=pacing.sleep)
        # As many in flight as the send itself will have: the lookups' latency overlaps
        # instead of adding up before the first message (50 Sociocs lookups, 4 at a time,
        # were 0.7 s of a 3,000-row send at 50 ms a request).
        found = await blocked_numbers_async(going, channel, transport=transport, rate=reads,
                                            timeout=retry.timeout,
                                            concurrency=pacing.concurrency_for(channel))
    except ReadFailed as exc:
        if exc.http_status == 401:  # the send would be refused the same way: stop before it
            raise AuthFailed(
                f"{channel.label} refused the credentials (HTTP 401) when asked for its "
                "opt-out list, before any message was sent. Check the API key, then run the "
                "same campaign again") from None
        logger.warning("the provider's opt-out list could not be read (%s): sending with "
                       "the ledger's list only", channel.redact(str(exc)))
        return 0
    except (httpx.HTTPError, CampaignError) as exc:
        logger.warning("the provider's opt-out list could not be read (%s): sending with "
                       "the ledger's list only", channel.redact(str(exc)))
        return 0
    if not found:
        return 0
    return book.suppress(found, reason=f"{channel.label} reports the number opted out or "
                                       "blocked", source=channel.provider)


def _stale_to_unknown(book: Ledger, campaign: str, decisions: Decisions) -> None:
    """Rows left ``pending`` by a run that died, on a channel that cannot look them up: the
    ledger says ``unknown`` from now on, so ``campaignkit ledger resolve`` can settle them.
    (This run holds the campaign's claim: nothing else is in flight.)"""
    table = decisions.table
    stale = table[(table["fate"] == "unknown") & table["message_id"].isna()]
    for label, row in stale.iterrows():
        book.mark_outcome(campaign, "live", [(row["key"], str(label), row["digest"])],
                          status="unknown", attempts=int(row["attempts"]),
                          error=row["reason"])


def _sender(frame: pd.DataFrame, channel: Channel, campaign: str, books: _Books,
            decisions: Decisions, pacing: Pacing, retry: Retry,
            stopped: Callable[[], bool]) -> Sender:
    rate = pacing.rate_for(channel)
    if books.mode == "dry-run":
        # A dry run never waits for the pacer: the same schedule on a virtual clock.
        virtual = VirtualClock()
        pacer = Pacer(rate, clock=virtual, sleep=virtual.sleep)
    elif pacing.clock is not None and pacing.sleep is not None:
        pacer = Pacer(rate, clock=pacing.clock, sleep=pacing.sleep)
    else:
        pacer = Pacer(rate)
    table = decisions.table
    goes = sorted(decisions.order)  # only these rows are ever read
    at = {p: j for j, p in enumerate(goes)}
    part = frame.iloc[goes]
    closes = table["closes_at"].iloc[goes]
    rows = Rows(columns={c: Cells(part[c].tolist(), at) for c in part.columns},
                closes_at=Cells([None if pd.isna(t) else t.to_pydatetime() for t in closes], at),
                segments=table["segments"].to_numpy(), costs=table["cost"].to_numpy(dtype=object))
    return Sender(
        channel=channel, campaign=campaign, mode=books.mode, book=books.book,
        fence=books.claim.fence if books.claim is not None else None, pacer=pacer,
        concurrency=pacing.concurrency_for(channel), retry=retry, start=decisions.now,
        rows=rows, quiet_hours=decisions.guardrails.quiet_hours, stopped=stopped,
    )


def _resume_after_pause(sender: Sender, state: dict[str, Any], retry: Retry) -> None:
    resume_at = state.get("resume_at")
    if state.get("state") != "paused" or not resume_at:
        return
    remaining = (datetime.fromisoformat(resume_at) - datetime.now(UTC)).total_seconds()
    if remaining > retry.retry_after_cap:
        raise CampaignPaused(
            f'campaign "{sender.campaign}" is paused until {resume_at} (the provider\'s '
            "Retry-After); nothing was sent. Run it again after that time",
            retry_after=remaining, resume_at=resume_at)
    if remaining > 0:
        sender.pacer.pause_for(remaining)


def _items(frame: pd.DataFrame, decisions: Decisions, *, live: bool, bulk: bool | int
           ) -> list[Item]:
    """The requests to make, in the decided order (rows in doubt first)."""
    table = decisions.table
    order = list(decisions.order)  # only these rows are read
    part = table.iloc[order]
    keys, digests = part["key"].tolist(), part["digest"].tolist()
    fates, attempts = part["fate"].tolist(), part["attempts"].tolist()
    labels = [str(label) for label in part.index]
    items: list[Item] = []
    for j, i in enumerate(order):
        if fates[j] == "lookup" and not live:
            continue  # a dry run cannot ask the provider: the row stays in doubt
        items.append(Item([i], [keys[j]], [digests[j]], [labels[j]], attempts=attempts[j],
                          in_doubt=fates[j] == "lookup"))
    if not bulk:
        return items
    at = {p: j for j, p in enumerate(order)}
    rows = frame.iloc[order]
    columns = {c: Cells(rows[c].tolist() if c in rows.columns else [None] * len(order), at)
               for c in ("to", "text", "media", "template")}
    for item in items:
        p = item.positions[0]
        item.content = content_digest(None, columns["text"][p], columns["media"][p],
                                      columns["template"][p])
    return chunks(items, columns["to"], 100 if bulk is True else int(bulk))


async def _request(sender: Sender, items: list[Item], *, transport: Any, live: bool,
                   retry: Retry, progress: Progress, label: str) -> None:
    """Stage: open the clients and the ledger writer, make every request, close them."""
    total = sum(len(it.keys) for it in items)
    hook = progress if callable(progress) else None
    bar = tqdm(total=total, desc=label, unit="msg", disable=progress is not True or total == 0)
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        bar.update(n)
        if hook is not None:
            hook(done, total)

    sender.progress = advance
    if transport is None and not live:
        from .sandbox import Sandbox  # the dry run: the sandbox on exactly the live code path

        transport = Sandbox().transport()
    limits = httpx.Limits(max_connections=CONNECTIONS_PER_CLIENT,
                          max_keepalive_connections=CONNECTIONS_PER_CLIENT)
    n_clients = 1 if transport is not None else math.ceil(
        sender.concurrency / CONNECTIONS_PER_CLIENT)
    # One TLS context for every client: each loads the CA bundle, about 20 ms.
    tls = httpx.create_ssl_context() if transport is None else True
    try:
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(n_clients):
                sender.clients.append(await stack.enter_async_context(httpx.AsyncClient(
                    transport=transport, limits=limits, timeout=retry.timeout, verify=tls,
                    follow_redirects=False)))
            writer = sender.writer = _writer(sender.book)
            try:
                await sender.run(items)
            except BaseException:
                writer.close()  # every submitted write lands before the interrupt's
                sender.settle_inflight()
                with contextlib.suppress(CampaignError):
                    sender.book.set_state(sender.campaign, sender.mode, "interrupted",
                                          note="interrupted: rows in flight are unknown, the "
                                               "rest waiting")
                raise
            finally:
                writer.close()
    finally:
        bar.close()


def _writer(book: Ledger) -> Any:
    from .ledger import LedgerWriter

    return LedgerWriter(book)


def _ending(books: _Books, sender: Sender, campaign: str, stopped: bool, signalled: bool
            ) -> str | None:
    """Record how the run ended; return the sentence for the results (None when done)."""
    book, mode = books.book, books.mode
    if sender.pause is not None:
        book.set_state(campaign, mode, "paused", note=str(sender.pause),
                       resume_at=sender.pause.resume_at)
        return str(sender.pause)
    if sender.halt is not None:
        book.set_state(campaign, mode, "halted", note=str(sender.halt))
        return str(sender.halt)
    if signalled:
        book.set_state(campaign, mode, "stopped", note="stopped by a signal")
        return ("stopped by a signal (SIGTERM or SIGHUP): requests in flight finished, the "
                "remaining rows are waiting")
    if stopped:
        book.set_state(campaign, mode, "stopped", note="stopped by the caller")
        return "stopped by the caller: the remaining rows are waiting"
    book.set_state(campaign, mode, "done")
    return None


def send(
    frame: pd.DataFrame,
    channel: Channel,
    *,
    campaign: str,
    live: bool = False,
    ledger: Ledger | str | os.PathLike[str] | None = None,
    key: str | None = None,
    limit: int | None = None,
    guardrails: Guardrails | None = None,
    resend: Collection[str] = (),
    bulk: bool | int = False,
    pacing: Pacing | None = None,
    retry: Retry | None = None,
    now: datetime | None = None,
    stop: StopFlag | None = None,
    progress: Progress = True,
    transport: httpx.AsyncBaseTransport | None = None,
    journal: str | os.PathLike[str] | None = None,
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
        The campaign's name. The same name again never sends a message twice to a number,
        from any folder or process: the ledger remembers every send.
    live:
        ``False`` (default): a dry run through the in-process sandbox on exactly the live
        code path; nothing leaves this machine and nothing is written to the ledger.
        ``True``: send to ``channel.base_url``.
    ledger:
        The ledger (a `Ledger` or its path); default ``$CAMPAIGNKIT_LEDGER``, else the
        per-user one (`locate_ledger`). Live sends to a sandbox on loopback are kept in a
        ledger of their own beside it.
    key:
        The column that identifies a recipient (default the number ``to``).
    limit:
        Send at most this many new messages (the first ones in frame order); the rest stay
        ``waiting``.
    guardrails:
        `Guardrails`: suppression, quiet hours (on by default), budget, frequency cap.
    resend:
        Keys to send again although the ledger shows them sent (an explicit choice).
    bulk:
        Where ``channel.supports_bulk`` (Sociocs): one bulk job per 100 rows (or the size
        given) of identical content; an ambiguous answer makes the whole job ``unknown``.
    pacing:
        `Pacing`: messages per second and requests in flight (the channel's defaults).
    retry:
        `Retry`: attempts, the ``Retry-After`` cap, timeouts, when absence is proven.
    now:
        The instant of the first departure for the guardrails (aware; default the clock).
    stop:
        A `threading.Event` or `asyncio.Event`: once set, no new request starts; requests in
        flight finish; the remaining rows are ``waiting``. SIGTERM and SIGHUP do the same.
    progress:
        Show a tqdm bar (True), nothing (False), or call ``progress(done, total)`` after
        each request settles (on the loop that sends).
    transport:
        The httpx transport (the seam for the sandbox, tests and benchmarks).
    journal:
        Deprecated: the name of ``ledger`` in campaignkit 0.1.

    Returns
    -------
    pandas.DataFrame
        ``frame``'s columns plus ``key status error message_id job_id http_status attempts
        sent_at sendable_at`` (see the module docstring for the statuses), indexed like
        ``frame``. ``attrs`` name the campaign, the mode, the ledger, how the run stopped,
        the warnings and how long the sends take at the rate (``live_seconds``).

    Raises
    ------
    AuthFailed, Unreachable
        The provider refused the credentials, or cannot be reached: halted after the first
        row; ``.results`` holds the frame.
    CampaignPaused
        A ``Retry-After`` above the cap; ``.results`` holds the frame.
    CampaignChanged, CampaignLocked, LimitExceeded, LedgerError
        Before anything is sent (``.results`` where the rows were decided).

    Examples
    --------
    >>> results = send(rendered, channel, campaign="spring")  # doctest: +SKIP
    >>> results["status"].value_counts().to_dict()  # doctest: +SKIP
    {'dry-run': 58, 'skipped': 6}
    """
    signalled = threading.Event()
    token = _SIGNALLED.set(signalled)
    try:
        with _stop_on_signals(signalled):
            return run_blocking(lambda: send_async(
                frame, channel, campaign=campaign, live=live, ledger=ledger, key=key,
                limit=limit, guardrails=guardrails, resend=resend, bulk=bulk, pacing=pacing,
                retry=retry, now=now, stop=stop, progress=progress, transport=transport,
                journal=journal,
            ))
    finally:
        _SIGNALLED.reset(token)

