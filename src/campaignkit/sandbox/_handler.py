"""The sandbox: one pure request handler for Sociocs, TextUs and Bird, routed by path."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import random
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import httpx

from . import _asgi, _bird, _sociocs, _textus
from ._asgi import ASGIApp
from ._auth import (
    SandboxCredentials,
    accepts,
    bird_access_key,
    fingerprint,
    sociocs_key,
    textus_token,
)
from ._common import Ids, Incoming, Outcome, Reply
from ._faults import Faults
from ._record import Record
from ._story import Story, Teller
from ._transport import SandboxTransport

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Sandbox"]

NO_FAULTS = Faults()

Provider = Literal["sociocs", "textus", "bird"]
Kind = Literal["send", "bulk", "lookup", "missing", "get", "interactions", "search", "unreplied",
               "jobs", "isblocked", "subscribe", "optouts", "optout"]
#: requests that read (or subscribe) and never meet the random faults
_READS = frozenset({"get", "interactions", "search", "unreplied", "jobs", "isblocked", "subscribe",
                    "optouts", "optout"})


@dataclass(frozen=True, slots=True)
class _Route:
    provider: Provider
    kind: Kind
    params: dict[str, str]


_BIRD = re.compile(r"^/workspaces/(?P<workspace>[^/]+)/channels/(?P<channel>[^/]+)/messages/?$")
_TEXTUS = re.compile(r"^/(?P<account>[A-Za-z0-9_.-]+)/messages/?$")
_BIRD_ONE = re.compile(r"^/workspaces/(?P<workspace>[^/]+)/channels/(?P<channel>[^/]+)"
                       r"/messages/(?P<message>[^/]+?)(?P<interactions>/interactions)?/?$")
_SOCIOCS_READS = {"/messages/search": "search", "/messages/unreplied": "unreplied",
                  "/messages/bulk": "jobs"}
_ISBLOCKED = re.compile(r"^/contacts/isblocked/(?P<phone>[^/]+)/?$")
_TEXTUS_ONE = re.compile(r"^/messages/(?P<message>[A-Za-z0-9]+)/?$")
_OPT_OUTS = re.compile(r"^/(?P<account>[A-Za-z0-9_.-]+)/opt_outs(?:/(?P<phone>[^/]+))?/?$")


def _route_reads(method: str, path: str, bearer: bool) -> _Route | None:
    """The follow-up endpoints: one message, lists, jobs, opt-outs, subscriptions."""
    if method == "GET" and (m := _BIRD_ONE.match(path)):
        params = {k: v for k, v in m.groupdict().items() if k != "interactions"}
        return _Route("bird", "interactions" if m["interactions"] else "get", params)
    if method == "GET" and path.rstrip("/") in _SOCIOCS_READS:
        return _Route("sociocs", _SOCIOCS_READS[path.rstrip("/")], {})  # type: ignore[arg-type]
    if method == "GET" and (m := _ISBLOCKED.match(path)):
        return _Route("sociocs", "isblocked", m.groupdict())
    if method == "POST" and path.rstrip("/") == "/webhook-subscriptions":
        return _Route("sociocs", "subscribe", {})
    # GET /messages/:id is TextUs's (Bearer token); Sociocs keys never come as Bearer.
    if method == "GET" and bearer and (m := _TEXTUS_ONE.match(path)):
        return _Route("textus", "get", m.groupdict())
    if method == "GET" and (m := _OPT_OUTS.match(path)):
        phone = m["phone"]
        params = {"account": m["account"], **({"phone": phone} if phone else {})}
        return _Route("textus", "optout" if phone else "optouts", params)
    return None


def _route(method: str, path: str, bearer: bool = False) -> _Route | None:
    if (read := _route_reads(method, path, bearer)) is not None:
        return read
    if (m := _BIRD.match(path)) and method in ("POST", "GET"):
        return _Route("bird", "send" if method == "POST" else "lookup", m.groupdict())
    if path.startswith("/workspaces/"):
        return _Route("bird", "missing", {})
    if path in ("/message", "/message/") and method == "POST":
        return _Route("sociocs", "send", {})
    if path in ("/messages/bulk", "/messages/bulk/") and method == "POST":
        return _Route("sociocs", "bulk", {})
    if path in ("/messages", "/messages/") and method == "GET":
        return _Route("sociocs", "lookup", {})
    if path.startswith(("/message", "/messages")):
        # POST /messages is the list endpoint's path, not a send
        # (docs/providers/sociocs.md#the-message-path).
        return _Route("sociocs", "missing", {})
    if (m := _TEXTUS.match(path)) and method == "POST":
        return _Route("textus", "send", m.groupdict())
    return None


def _fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


class Sandbox:
    """A faithful local emulator of the Sociocs, TextUs and Bird send APIs.

    One pure handler answers every request by path (hosts are ignored, so the real
    providers' URLs work): it checks credentials and bodies the way the documents say,
    answers realistic bodies with fresh ids, injects `Faults` deterministically from
    ``seed``, and records every accepted message in SQLite before answering.

    Parameters
    ----------
    seed
        Seeds the fault draws and the ids: the same seed and requests give the same answers.
    faults
        Which faults to inject (none by default).
    latency
        Seconds every request waits before it is handled.
    record
        Path of the SQLite record (kept across restarts), or None for an in-memory one.
    credentials
        The credentials accepted; None accepts any well-formed credential.
    clock
        Epoch seconds now; tests pass a fake one. `advance` moves virtual time past it.
    story
        What happens after a message is accepted (`Story`): states over virtual time,
        failures with real error codes, replies and STOPs. None: messages stay as accepted.

    Examples
    --------
    >>> sandbox = Sandbox(seed=1)
    >>> client = httpx.Client(transport=sandbox.transport())
    >>> client.post("https://api.sociocs.com/message", headers={"apikey": "id:secret"},
    ...             json={"provider": "twlo", "channel_key": "twlo_16317471111",
    ...                   "to": "+16175551212", "text": "Hi"}).status_code
    200
    >>> len(sandbox.accepted())
    1
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        faults: Faults = NO_FAULTS,
        latency: float = 0.0,
        record: str | Path | None = None,
        credentials: SandboxCredentials | None = None,
        clock: Callable[[], float] = time.time,
        story: Story | None = None,
    ) -> None:
        if latency < 0:
            raise ValueError(f"latency must be 0 or more seconds, got {latency}")
        self.seed = seed
        self.faults = faults
        self.latency = latency
        self.credentials = credentials
        self._clock = clock
        self.story = story
        self._offset = 0.0
        self._subscriptions: dict[tuple[str, str], dict[str, Any]] = {}
        self._record = Record(record)
        self._requests = self._record.requests_so_far()
        self._ids = Ids(seed, self._requests)
        self._draws = random.Random(f"campaignkit-sandbox-faults:{seed}:{self._requests}")
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    # -- public API -----------------------------------------------------------------

    @property
    def record_path(self) -> Path | None:
        """Where the record lives (None: in memory)."""
        return self._record.path

    def handle(
        self,
        method: str,
        url: str | httpx.URL,
        headers: Sequence[tuple[str, str]] | Mapping[str, str] = (),
        body: bytes = b"",
    ) -> Reply:
        """Answer one request (``latency`` is the transport's job, not this method's)."""
        url = httpx.URL(url)
        request_headers = httpx.Headers(headers)
        method = method.upper()
        bearer = request_headers.get("authorization", "").startswith("Bearer ")
        route = _route(method, url.path, bearer)
        if route is None:
            return Reply(404)
        if route.kind == "missing":
            return self._error(route.provider, 404)
        with self._lock:
            now = self.now()
            auth = self._authenticate(route, request_headers, url)
            if isinstance(auth, Reply):
                return auth
            credential, account, limit_key = auth
            limited = self._rate_limit(route.provider, limit_key, now)
            if limited is not None:
                return limited
            incoming = Incoming(method, url, request_headers, body, route.params, credential,
                                account, now)
            if route.kind == "lookup":
                return self._lookup(route, incoming)
            if route.kind in _READS:
                return self._read(route, incoming)
            fault = self.faults.pick(self._draws.random())
            if fault == "429":
                header = self.faults.retry_after_header(self.faults.retry_after, now=now)
                return self._error(route.provider, 429, (("retry-after", header),))
            if fault == "drop_before":
                return Reply(0, drop=True)
            if fault == "500_before":
                return self._error(route.provider, 500)
            outcome = self._send(route, incoming)
            if not outcome.accepted:
                return outcome.reply
            self._requests += 1
            self._record.add(self._requests, outcome.accepted)
            if fault == "drop_after":
                return Reply(0, drop=True)
            if fault == "500_after":
                return self._error(route.provider, 500)
            if fault == "stall":
                reply = outcome.reply
                return Reply(reply.status, reply.headers, reply.body, stall=True)
            return outcome.reply

    def accepted(self) -> pd.DataFrame:
        """Every accepted message, one row per recipient (columns as `read_record`)."""
        return self._record.frame()

    def fates(self) -> pd.DataFrame:
        """Every accepted message's state now, by the story (the ground truth of outcomes).

        Columns ``provider message_id to state error_code reply reply_at``; ``state`` in the
        story's words (queued, sent, delivered, undelivered, failed); ``reply`` the
        recipient's answer once it arrived. Empty columns without a story.
        """
        import pandas as pd

        rows = self._record.query()
        now = self.now()
        teller = self._teller
        fates = {} if teller is None else teller.fates(rows)
        out = []
        for row in rows:
            fate = fates.get(row["message_id"])
            if fate is None:
                continue
            error = fate.error(now)
            reply = fate.reply if fate.reply is not None and fate.reply.at <= now else None
            out.append({
                "provider": row["provider"], "message_id": row["message_id"], "to": row["to"],
                "state": fate.state(now), "error_code": None if error is None else error[0],
                "reply": None if reply is None else reply.text,
                "reply_at": None if reply is None else pd.Timestamp(reply.at, unit="s", tz="UTC"),
            })
        columns = ["provider", "message_id", "to", "state", "error_code", "reply", "reply_at"]
        frame = pd.DataFrame(out, columns=columns)
        return frame.astype({"error_code": "Int64"})

    def transport(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[object]] | None = None,
    ) -> SandboxTransport:
        """An httpx transport (sync and async) answering from this sandbox in-process."""
        return SandboxTransport(self, sleep=sleep, async_sleep=async_sleep)

    def asgi_app(self) -> ASGIApp:
        """An ASGI application answering from this sandbox (serve it with `serve`)."""
        return _asgi.asgi_app(self)

    def close(self) -> None:
        """Close the record."""
        self._record.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        record = None if self._record.path is None else str(self._record.path)
        return (
            f"Sandbox(seed={self.seed}, faults={self.faults!r}, latency={self.latency}, "
            f"record={record!r}, credentials={self.credentials!r}"
            + ("" if self.story is None else f", story={self.story!r}") + ")"
        )

    # -- steps ----------------------------------------------------------------------

    def _error(
        self, provider: Provider, status: int, headers: tuple[tuple[str, str], ...] = ()
    ) -> Reply:
        if provider == "sociocs":
            message = {
                401: _sociocs.AUTH_FAILED, 403: _sociocs.FORBIDDEN, 404: _sociocs.NOT_FOUND,
                429: _sociocs.RATE_LIMITED, 500: _sociocs.SERVER_ERROR,
            }[status]
            return _sociocs.error(status, message, headers=headers)
        if provider == "bird":
            code, message = {
                401: ("Unauthorized",
                      "Send a valid access key as 'Authorization: AccessKey <key>'."),
                403: ("Forbidden", "The access key is not allowed to do this."),
                404: ("NotFound", "The requested resource does not exist: endpoint not found"),
                # "the request has not been processed and can be retried" (Bird rate-limit page)
                429: ("TooManyRequests",
                      "Too many requests; the request has not been processed and can be retried."),
                500: ("InternalError", "Something went wrong on our side."),
            }[status]
            return _bird.error(status, code, message, headers)
        return Reply(status, headers)  # TextUs documents no error bodies (docs/providers/textus.md)

    def _authenticate(
        self, route: _Route, headers: httpx.Headers, url: httpx.URL
    ) -> tuple[str, str, str] | Reply:
        """(credential, account, rate-limit key), or the 401/403/404 reply."""
        creds = self.credentials
        if route.provider == "sociocs":
            key = sociocs_key(headers, url)
            allowed = None if creds is None else creds.sociocs_api_keys
            if key is None or not accepts(allowed, key):
                return self._error("sociocs", 401)
            # The account is the key's fingerprint: even the key id is key material.
            identity = (key, fingerprint(key), _fingerprint(key))
        elif route.provider == "textus":
            token = textus_token(headers)
            allowed = None if creds is None else creds.textus_tokens
            if token is None or not accepts(allowed, token):
                return self._error("textus", 401)
            # "1,000 requests per 5 minutes per token" (TextUs rate-limiting page)
            identity = (token, route.params.get("account", ""), _fingerprint(token))
        else:
            key = bird_access_key(headers)
            allowed = None if creds is None else creds.bird_access_keys
            if key is None or not accepts(allowed, key):
                return self._error("bird", 401)
            missing = _bird.check_path(route.params["workspace"], route.params["channel"])
            if missing is not None:
                return missing
            # Bird limits per workspace (docs.bird.com/api/channels-api/rate-limit).
            identity = (key, route.params["workspace"], route.params["workspace"])
        if creds is not None and identity[0] in creds.forbidden:
            return self._error(route.provider, 403)
        return identity

    def _rate_limit(self, provider: Provider, key: str, now: float) -> Reply | None:
        limit = self.faults.rate_limit
        if limit is None:
            return None
        window = self.faults.rate_window
        start = math.floor(now / window) * window
        seen_start, count = self._windows.get((provider, key), (start, 0))
        if seen_start != start:
            count = 0
        if count >= limit:
            header = self.faults.retry_after_header(start + window - now, now=now)
            return self._error(provider, 429, (("retry-after", header),))
        self._windows[(provider, key)] = (start, count + 1)
        return None

    def _send(self, route: _Route, incoming: Incoming) -> Outcome:
        if route.provider == "sociocs":
            handler = _sociocs.send if route.kind == "send" else _sociocs.bulk
            return handler(incoming, self._ids, self.credentials)
        if route.provider == "textus":
            return _textus.send(incoming, self._ids)
        return _bird.send(incoming, self._ids)

    def _lookup(self, route: _Route, incoming: Incoming) -> Reply:
        lag, teller = self.faults.list_lag, self._teller
        if route.provider == "sociocs":
            return _sociocs.list_messages(incoming, self._record, lag=lag, teller=teller)
        return _bird.list_messages(incoming, self._record, lag=lag, teller=teller)

    def _read(self, route: _Route, incoming: Incoming) -> Reply:
        lag, teller, record = self.faults.list_lag, self._teller, self._record
        kind = route.kind
        if route.provider == "bird":
            if kind == "get":
                return _bird.get_message(incoming, record, lag=lag, teller=teller)
            return _bird.interactions(incoming, record, lag=lag, teller=teller)
        if route.provider == "textus":
            if kind == "get":
                return _textus.get_message(incoming, record, lag=lag, teller=teller)
            if kind == "optouts":
                return _textus.opt_outs(incoming, record, teller)
            return _textus.opt_out(incoming, record, teller)
        if kind == "search":
            return _sociocs.search_messages(incoming, record, lag=lag, teller=teller)
        if kind == "unreplied":
            return _sociocs.unreplied(incoming, record, lag=lag, teller=teller)
        if kind == "jobs":
            return _sociocs.bulk_jobs(incoming, record, lag=lag)
        if kind == "isblocked":
            return _sociocs.is_blocked(incoming, record, teller)
        reply, subscription = _sociocs.subscribe(incoming)
        if subscription is not None:
            key = (subscription["account"], subscription["subscriber_reference_id"])
            self._subscriptions[key] = {**subscription, "since": incoming.now}
        return reply

    # -- the story: virtual time and webhooks -------------------------------------------

    @property
    def _teller(self) -> Teller | None:
        return None if self.story is None else Teller(self.story, self.seed)

    def now(self) -> float:
        """Virtual epoch seconds: the clock plus every `advance` so far."""
        return self._clock() + self._offset

    def advance(self, seconds: float) -> int:
        """Move virtual time ``seconds`` ahead; post the webhooks now due. Returns how many.

        Messages move through their states and recipients reply as if that time had passed
        (with a ``story``); each Sociocs webhook subscription gets the status updates and
        incoming messages of the interval, signed with its secret (``X-Sociocs-Signature``).
        """
        if not seconds >= 0:
            raise ValueError(f"advance takes 0 or more seconds, got {seconds}")
        with self._lock:
            self._offset += seconds
        return self.post_webhooks()

    def post_webhooks(self) -> int:
        """POST every webhook due since the last call to its subscriber; returns how many."""
        with self._lock:
            now = self.now()
            due = []
            teller = self._teller
            for subscription in self._subscriptions.values():
                since = subscription["since"]
                subscription["since"] = now
                if teller is None:
                    continue
                rows = self._record.query("provider = 'sociocs' AND account = ?",
                                          (subscription["account"],))
                due += _webhooks(subscription, rows, teller, since, now)
        posted = 0
        if due:
            with httpx.Client(timeout=5.0) as http:
                for _, url, body, headers in sorted(due, key=lambda d: d[0]):
                    try:
                        http.post(url, content=body, headers=headers)
                        posted += 1
                    except httpx.HTTPError:
                        continue  # a subscriber that is down misses it, as with a provider
        return posted


def _webhooks(
    subscription: dict[str, Any], rows: list[dict[str, Any]], teller: Teller, since: float,
    now: float,
) -> list[tuple[float, str, bytes, dict[str, str]]]:
    """(time, url, body, headers) of every Sociocs webhook in (since, now] for a subscription."""
    events = subscription["events"]
    wanted = subscription["subevents"]
    payloads: list[tuple[float, dict[str, Any]]] = []
    by_id = {row["message_id"]: row for row in rows}
    for fate in teller.fates(rows).values():
        if "status_updates" in events:
            for at, state in fate.events():
                if since < at <= now and (wanted is None or state in wanted):
                    payloads.append((at, _sociocs.status_payload(fate, state)))
        reply = fate.reply
        if "messages" in events and reply is not None and since < reply.at <= now:
            payloads.append((reply.at, _sociocs.incoming_payload(by_id[fate.message_id], fate)))
    out = []
    for at, payload in payloads:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"content-type": "application/json"}
        if subscription["secret"]:
            # hex HMAC-SHA256 of the raw UTF-8 body (docs.sociocs.com/api/webhooks/introduction)
            headers["x-sociocs-signature"] = hmac.new(
                str(subscription["secret"]).encode(), body, hashlib.sha256).hexdigest()
        out.append((at, subscription["webhook_url"], body, headers))
    return out
