"""Plain words for what the library reports: no exception class names, no reprs.

The engine's row errors carry httpx's exception names (``ConnectError: [Errno -3] ...``);
a campaign manager reads "cannot reach api.sociocs.com (DNS failed)". Pure functions of the
text, so the panels and the tests share them.
"""

from __future__ import annotations

import re

__all__ = ["plain", "unreachable"]

# "ConnectError: ...", "httpx.ReadTimeout: ...", "TemplateAssertionError: ...": a leading name.
_CLASS = re.compile(r"^(?:[a-z_]+\.)*[A-Z][A-Za-z]*(?:Error|Exception|Timeout|Failed|Exceeded)"
                    r"(?:\s+before sending to [^:]+)?:\s*")
_REPR = re.compile(r"<([A-Z][A-Za-z]+) ([^<>]*)>")
_CONNECT = (
    (re.compile(r"name resolution|name or service not known|nodename nor servname|"
                r"getaddrinfo|no address associated", re.I), "DNS failed"),
    (re.compile(r"connection refused|errno 111\b|errno 61\b", re.I), "connection refused"),
    (re.compile(r"all connection attempts failed", re.I), "connection failed"),
    (re.compile(r"network is unreachable|no route to host", re.I), "no route to it"),
    (re.compile(r"connecttimeout|connect timeout|timed out while connecting", re.I),
     "no answer in time"),
)


def unreachable(text: str, host: str) -> str | None:
    """The sentence for a connection failure in ``text``, or None when it is not one.

    >>> unreachable("ConnectError: [Errno -3] Temporary failure in name resolution",
    ...             "api.sociocs.com")
    'cannot reach api.sociocs.com (DNS failed): check the network or the base URL'
    """
    for pattern, why in _CONNECT:
        if pattern.search(text):
            return f"cannot reach {host} ({why}): check the network or the base URL"
    return None


def plain(text: str | None, host: str = "the provider") -> str:
    """``text`` without exception class names or object reprs; connection failures named.

    >>> plain("ConnectError: [Errno 111] Connection refused", "127.0.0.1:9")
    'cannot reach 127.0.0.1:9 (connection refused): check the network or the base URL'
    >>> plain("TemplateAssertionError: No filter named 'shout'.")
    "No filter named 'shout'."
    """
    if not text:
        return ""
    found = unreachable(text, host)
    if found is not None:
        return found
    out = _CLASS.sub("", text.strip())
    out = _REPR.sub(lambda m: m.group(2), out)
    return out[:1].upper() + out[1:] if out[:1].islower() and out[:4] != "row " else out
