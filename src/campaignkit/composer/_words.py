"""Plain words for what the library reports: no exception class names, no reprs.

The engine's row errors carry httpx's exception names (``ConnectError: [Errno -3] ...``);
a campaign manager reads "cannot reach api.sociocs.com (DNS failed)". Pure functions of the
text, so the panels and the tests share them.
"""

from __future__ import annotations

import re

__all__ = ["line_column", "plain", "template_error", "unmatched"]

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


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``text``."""
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def template_error(error: BaseException, text: str) -> str:
    """A template error in plain words, with the line and column where it is."""
    from .._errors import TemplateError

    if isinstance(error, TemplateError):  # render's own sentence already says what and where
        return plain(str(error))
    message = str(error).strip().splitlines()[0] if str(error).strip() else "cannot be read"
    name = re.search(r"No (filter|test) named '([^']+)'", message)
    if name:
        match = re.search(r"\|\s*" + re.escape(name.group(2)) + r"\b", text)
        if match:
            at = match.start() + match.group(0).index(name.group(2))
            line, column = line_column(text, at)
            return (f"the message uses the filter “{name.group(2)}” on line {line}, column "
                    f"{column}, which does not exist: use one of Jinja's filters (upper, title, "
                    "default, …) or date")
    lineno = getattr(error, "lineno", None)
    where = f" on line {lineno}" if isinstance(lineno, int) and "on line" not in message else ""
    return plain(f"{message.rstrip('.')}{where}" if where else message)


def unmatched(problem: str, text: str) -> str:
    """``{{ name }}`` matches no column: say where it is and which columns there are."""
    match = re.search(r"\{\{ (\w+) \}\}, but no column matches it \(columns: (.*)\)", problem)
    if not match:
        return plain(problem)
    name = match.group(1)
    found = re.search(r"\{\{-?\s*" + re.escape(name) + r"\b", text)
    where = ""
    if found:
        line, column = line_column(text, found.start())
        where = f" on line {line}, column {column}"
    return (f"{{{{ {name} }}}}{where} matches no column of the sheet; the columns are "
            f"{match.group(2)}")
