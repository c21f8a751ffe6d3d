"""What a request's end means: the failure classes as one pure table.

The sender asks one question of every answer and every transport error: may the provider
have processed this request? Only what certainly was not (a connection never made, a 429)
is sent again; what may have been (a timeout after the request left, a 5xx, a dropped
connection) is looked up where the provider allows it, else reported ``unknown`` and never
resent blindly (docs/reliability.md#failure-classes).
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from enum import Enum

import httpx

__all__ = ["Action", "Verdict", "classify_error", "classify_status", "unreachable_reason"]


class Action(Enum):
    """What the sender does next."""

    ACCEPTED = "accepted"  # the provider took it: sent
    REFUSED = "refused"  # the provider said no: failed, not retried
    RETRY = "retry"  # certainly not processed: send again (backoff, Retry-After)
    AMBIGUOUS = "ambiguous"  # may have been processed: look it up, else unknown
    UNREADABLE = "unreadable"  # a 2xx the channel cannot read: it may well be sent
    HALT_AUTH = "halt-auth"  # 401/403: every other request would fail the same way
    HALT_CONFIG = "halt-config"  # refused on this side before sending (URL, proxy)
    HALT_TLS = "halt-tls"  # the certificate or TLS setup is wrong


@dataclass(frozen=True, slots=True)
class Verdict:
    """An `Action` and the plain words that go with it."""

    action: Action
    reason: str = ""


def classify_status(status: int, *, accepted: bool, readable: bool) -> Action:
    """The action for an HTTP answer (``accepted``/``readable`` as the channel parsed it).

    >>> [classify_status(s, accepted=False, readable=True).value for s in (429, 503, 401, 400)]
    ['retry', 'ambiguous', 'halt-auth', 'refused']
    """
    if status == 429:
        return Action.RETRY
    if status in (408, 409) or status >= 500:
        return Action.AMBIGUOUS
    if status in (401, 403):
        return Action.HALT_AUTH
    if 200 <= status < 300:
        if accepted:
            return Action.ACCEPTED
        if not readable:
            return Action.UNREADABLE
    return Action.REFUSED


def classify_error(exc: httpx.HTTPError) -> Action:
    """The action for a transport error raised by ``client.send``.

    >>> request = httpx.Request("POST", "https://api.example.com")
    >>> classify_error(httpx.ConnectError("refused", request=request)).value
    'retry'
    >>> classify_error(httpx.ReadTimeout("slow", request=request)).value
    'ambiguous'
    """
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return Action.HALT_TLS if _is_tls(exc) else Action.RETRY
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.ProxyError, httpx.LocalProtocolError)):
        return Action.HALT_CONFIG
    # ReadTimeout, ReadError, WriteError, WriteTimeout, RemoteProtocolError...: the request
    # may have been processed.
    return Action.AMBIGUOUS


def unreachable_reason(exc: BaseException) -> str:
    """Plain words for a connection that could not be made: DNS, refused, or no answer.

    >>> unreachable_reason(httpx.ConnectError("[Errno -3] Temporary failure in name resolution"))
    'DNS failed'
    """
    for seen in _chain(exc):
        if isinstance(seen, socket.gaierror):
            return "DNS failed"
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
    text = str(exc).lower()
    if "name resolution" in text or "name or service not known" in text or (
            "nodename nor servname" in text or "getaddrinfo" in text):
        return "DNS failed"
    if "refused" in text:
        return "connection refused"
    if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return "no answer in time"
    return "no connection"


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(out) < 10:
        out.append(seen)
        seen = seen.__cause__ or seen.__context__
    return out


def _is_tls(exc: BaseException) -> bool:
    return any(isinstance(seen, ssl.SSLError) for seen in _chain(exc))
