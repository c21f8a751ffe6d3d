"""The Channel protocol: a provider as a pure request builder and response parser.

A channel never sends. The sender (and `preview`) hand it one rendered row at a time:

- ``problems(row, row_number=...)`` checks every rule the provider's documents state and
  returns the row's problems (an empty tuple when the row can be sent);
  ``problems_frame(frame)`` answers the same for every row of a frame at once;
- ``build_request(row, key=...)`` returns the exact ``httpx.Request`` a live send would make;
- ``parse_response(response)`` turns the provider's answer into a `Receipt`;
- where ``supports_lookup``, ``build_lookup_request(key)`` and ``parse_lookup(response, key)``
  find out whether a message with that key was accepted after an ambiguous failure
  (a timeout, a 5xx, a crash while in flight).

A *row* is a mapping of the rendered frame's columns for one recipient: ``to`` (E.164),
``text`` (str or None), ``media`` (tuple of `Media` with rendered URLs), ``template``
(a rendered `Template` or None) and every column of the sheet. ``key`` is the row's stable
key (from the data, never its position), sent where a provider has a reference field.
"""

from __future__ import annotations

import functools
import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._errors import ChannelError, LookupInconclusive
from ..message import Media, Template
from ..problems import Problem, row_number
from ._secrets import REDACTED, Redactor, check_base_url, is_loopback, public_url

__all__ = ["REDACTED", "Channel", "LookupInconclusive", "RateLimit", "Receipt", "Row"]

Row = Mapping[str, Any]
#: headers whose whole value is a credential: shown as ``[redacted]`` whatever they hold
SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "apikey", "x-api-key", "cookie"})


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a provider answered to one request, in the provider's own words."""

    http_status: int
    accepted: bool
    message_id: str | None = None
    job_id: str | None = None
    provider_status: str | None = None  # e.g. Bird's "accepted", Twilio's "queued"
    error: str | None = None  # the provider's own message when not accepted


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A provider's documented limit on requests, with the page that documents it.

    >>> str(RateLimit(1_000, 300, "https://apidocs.next.textus.com/overview/rate_limiting"))
    '1,000 requests per 5 minutes'
    """

    requests: int
    seconds: float
    source: str

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds

    def __str__(self) -> str:
        if self.seconds == 1:
            per = "second"
        elif self.seconds % 60 == 0:
            per = f"{self.seconds / 60:g} minutes"
        else:
            per = f"{self.seconds:g} seconds"
        return f"{self.requests:,} requests per {per}"


class Channel(ABC):
    """Base of every provider: shared request plumbing, secrets kept out of sight."""

    #: short provider name, e.g. "sociocs"
    provider: ClassVar[str]
    #: whether `build_bulk_request` exists (one request for many rows)
    supports_bulk: ClassVar[bool] = False
    #: whether `build_lookup_request` / `parse_lookup` can prove a send happened (by key)
    supports_lookup: ClassVar[bool] = False
    #: the provider's documented limit on sends, and on lookups (None: none documented)
    send_limit: ClassVar[RateLimit | None] = None
    lookup_limit: ClassVar[RateLimit | None] = None
    #: messages per second and requests in flight when the caller names none
    default_rate: ClassVar[float] = 5.0
    default_concurrency: ClassVar[int] = 4

    #: whether a plain-http ``base_url`` to a host other than this machine is accepted
    allow_insecure: bool = False

    @property
    def base_url(self) -> str:
        """Where the API is: https, or plain http to loopback (the sandbox).

        Plain http to any other host needs ``allow_insecure=True`` (the key would travel
        unencrypted); setting it checks it again.
        """
        return self._base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        self._base_url = check_base_url(value, owner=type(self).__name__,
                                        allow_insecure=self.allow_insecure)

    @property
    @abstractmethod
    def label(self) -> str:
        """Human name of this channel without secrets, e.g. ``sociocs:twlo``."""

    @abstractmethod
    def fingerprint(self) -> dict[str, Any]:
        """What identifies where messages go (no secrets): the ledger refuses a change."""

    @abstractmethod
    def secrets(self) -> tuple[str, ...]:
        """Every secret value this channel holds (keys, ``base_url``'s userinfo), for redaction."""

    @abstractmethod
    def problems(self, row: Row, *, row_number: int | None) -> tuple[Problem, ...]:
        """The provider's rules this row breaks; empty when it can be sent."""

    def problems_frame(self, frame: pd.DataFrame) -> pd.Series:
        """Every row's `problems` at once: a Series of tuples indexed like ``frame``.

        Pure like `problems` and equal to it on every row (each with the row number of its
        label), including the `ColumnError` a misnamed column raises. Providers answer the
        common rows (text, no media, no template) with array operations; this default asks
        `problems` row by row.
        """
        return problems_series(frame, problems_per_row(self, frame, range(len(frame))))

    @abstractmethod
    def build_request(self, row: Row, *, key: str) -> httpx.Request:
        """The exact request for one row (call `problems` first)."""

    @abstractmethod
    def parse_response(self, response: httpx.Response) -> Receipt:
        """Read the provider's answer to one request."""

    def build_bulk_request(self, rows: Sequence[Row], *, key: str) -> httpx.Request:
        """One request for many rows with the same content (only where ``supports_bulk``)."""
        raise NotImplementedError(f"{self.label} has no bulk endpoint")

    def build_lookup_request(self, key: str) -> httpx.Request:
        """The request looking up the message sent with ``key`` (where ``supports_lookup``)."""
        raise NotImplementedError(f"{self.label} cannot look a message up by its key")

    def parse_lookup(self, response: httpx.Response, key: str) -> Receipt | None:
        """The message sent with ``key`` as a `Receipt`, or None when proven absent.

        Raises `LookupInconclusive` when the answer proves neither.
        """
        raise NotImplementedError(f"{self.label} cannot look a message up by its key")

    # -- shared plumbing -------------------------------------------------------------

    def _json_request(
        self, method: str, path: str, body: Mapping[str, Any], headers: Mapping[str, str]
    ) -> httpx.Request:
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        return httpx.Request(
            method, _url(self.base_url, path), content=content, headers=dict(headers)
        )

    @property
    def redactor(self) -> Redactor:
        """A `Redactor` for every secret of this channel (see `redact`)."""
        # Keys are fixed at construction; base_url (its userinfo) is a plain attribute.
        cached: tuple[str, Redactor] | None = self.__dict__.get("_redactor")
        if cached is None or cached[0] != self.base_url:
            cached = (self.base_url, Redactor(self.secrets()))
            self.__dict__["_redactor"] = cached
        return cached[1]

    @property
    def on_loopback(self) -> bool:
        """Whether ``base_url`` is on this machine (the sandbox served on loopback)."""
        return is_loopback(httpx.URL(self.base_url).host)

    def redact(self, text: str) -> str:
        """``text`` with every form of every secret of this channel replaced by ``[redacted]``.

        Every form: as is, URL-encoded, escaped by ``repr`` or JSON, HTML-escaped, base64;
        whole tokens only, so a short key never garbles a word around it.
        """
        return self.redactor.redact(text)

    def redact_json(self, value: Any) -> Any:
        """``value`` (decoded JSON) with every secret redacted in every string key and leaf.

        A secret can be part of a body (Sociocs's ``channel_key``), not only of a header.
        """
        return self.redactor.redact_json(value)

    def describe(self, request: httpx.Request) -> dict[str, Any]:
        """Method, URL, redacted headers and decoded JSON body of ``request``, for a preview."""
        redactor = self.redactor
        headers = {
            name: (REDACTED if name.lower() in SENSITIVE_HEADERS else redactor.redact(value))
            for name, value in request.headers.items()
        }
        body = redactor.redact_json(json.loads(request.content)) if request.content else None
        return {
            "method": request.method,
            "url": redactor.redact(public_url(str(request.url))),
            "headers": headers,
            "body": body,
        }

    def __repr__(self) -> str:
        shown = self.redact(public_url(self.base_url))
        return f"<{type(self).__name__} {self.label} base_url={shown!r}>"


# -- shared helpers for the provider modules ----------------------------------------

def problems_per_row(channel: Channel, frame: pd.DataFrame, positions: Sequence[int] | np.ndarray
                     ) -> dict[int, tuple[Problem, ...]]:
    """`Channel.problems` of the rows at ``positions``: the rows that have any, by position."""
    positions = list(positions)
    if not positions:
        return {}
    part = frame.iloc[positions]
    columns = {c: part[c].tolist() for c in part.columns}
    labels = part.index.tolist()
    found: dict[int, tuple[Problem, ...]] = {}
    for j, position in enumerate(positions):
        row = {c: values[j] for c, values in columns.items()}
        problems = tuple(channel.problems(row, row_number=row_number(labels[j])))
        if problems:
            found[position] = problems
    return found


def problems_series(frame: pd.DataFrame, found: dict[int, tuple[Problem, ...]]) -> pd.Series:
    """A Series of every row's problems (``()`` where none) from those of the rows with any."""
    values = np.empty(len(frame), dtype=object)
    values.fill(())
    for position, problems in found.items():
        values[position] = problems
    return pd.Series(values, index=frame.index, dtype=object, name="problems")


#: rows a provider checks at a time (the text converted a chunk at a time)
_CHUNK = 65_536


@dataclass(frozen=True)
class TextOnly:
    """The rows of a frame a provider can check with array operations: text, nothing else.

    ``rows`` marks rows without media (the empty tuple) and without a template (None), whose
    text is a string or missing; ``length`` is the text's length in characters (``len``),
    -1 where `row_text` gives None (missing). Every other row is checked by `problems`.
    """

    rows: np.ndarray
    length: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> TextOnly:
        """Find the text-only rows of ``frame``."""
        n = len(frame)
        rows = np.ones(n, dtype=bool)
        if "media" in frame.columns:
            nothing = np.empty((), dtype=object)
            nothing[()] = ()
            try:
                rows &= np.asarray(np.equal(frame["media"].to_numpy(dtype=object), nothing),
                                   dtype=bool)
            except (TypeError, ValueError):  # cells numpy cannot compare: row by row
                rows[:] = False
        if "template" in frame.columns:
            rows &= np.asarray(pd.isna(frame["template"].to_numpy(dtype=object)), dtype=bool)
        length = np.full(n, -1, dtype=np.int64)
        if "text" not in frame.columns:
            return cls(rows, length)
        column = frame["text"]
        arrow = isinstance(column.dtype, pd.StringDtype | pd.ArrowDtype)  # kind "O" as well
        values = column.to_numpy(dtype=object) if column.dtype.kind == "O" and not arrow else None
        if values is not None and set(map(type, values)) == {str}:  # every text a str: len
            length[:] = np.fromiter(map(len, values), dtype=np.int64, count=n)
            length[length == 0] = -1
            return cls(rows, length)
        for start in range(0, n, _CHUNK):  # object text converted a chunk at a time
            stop = min(start + _CHUNK, n)
            try:  # Arrow-backed text is read as it is
                text = (pa.array(values[start:stop], type=pa.large_string(), from_pandas=True)
                        if values is not None else pa.array(column.iloc[start:stop],
                                                            from_pandas=True))
            except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all strings: row by row
                rows[start:stop] = False
                continue
            if isinstance(text, pa.ChunkedArray):
                text = text.combine_chunks()
            if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
                rows[start:stop] = False
                continue
            # row_text: a missing or empty text is None; pd.NA is the text "<NA>"
            part = np.array(pc.utf8_length(text).fill_null(-1), dtype=np.int64)
            part[part == 0] = -1
            null = np.asarray(text.is_null(), dtype=bool)
            if null.any():
                cells = values[start:stop] if values is not None else column.iloc[
                    start:stop].to_numpy(dtype=object)
                odd = np.array([not (c is None or (isinstance(c, float) and c != c))
                                for c in cells[null]], dtype=bool)
                rows[start + np.flatnonzero(null)[odd]] = False
            length[start:stop] = part
        return cls(rows, length)


def row_text(row: Row) -> str | None:
    """The row's rendered text, None when it has none (None, NaN or the empty string)."""
    text = row.get("text")
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    text = str(text)
    return text or None


def row_media(row: Row) -> tuple[Media, ...]:
    """The row's rendered media (the empty tuple when it has none)."""
    media = row.get("media")
    if isinstance(media, Media):
        return (media,)
    if isinstance(media, (tuple, list)):
        return tuple(media)
    return ()


def row_template(row: Row) -> Template | None:
    """The row's rendered WhatsApp template, or None."""
    template = row.get("template")
    return template if isinstance(template, Template) else None


def row_to(row: Row, label: str) -> str:
    """The row's E.164 number; building a request for a row without one is a caller bug."""
    to = row.get("to")
    if not isinstance(to, str) or not to:
        raise ChannelError(
            f"{label}: the row has no phone number in column \"to\"; "
            "call problems() first and build requests only for rows without problems"
        )
    return to


def cell_text(value: Any) -> str:
    """A sheet cell as text: None and NaN become the empty string."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


def parse_aware(value: str | datetime, *, rfc3339: bool = False) -> tuple[str, datetime] | str:
    """Check a schedule: ``(wire string, aware datetime)``, or why it is not one.

    A datetime is written with `datetime.isoformat`; a string is kept as given after
    checking it is ISO 8601 (strictly RFC 3339 when ``rfc3339``) with a UTC offset.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return "has no UTC offset"
        return value.isoformat(), value
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return "is not a date and time"
    if parsed.tzinfo is None:
        return "has no UTC offset"
    if rfc3339 and not _RFC3339.match(text):
        return "is not RFC 3339 (date, time with seconds, offset)"
    return text, parsed


def response_json(response: httpx.Response) -> Any:
    """The response body as JSON, or None when it is empty or not JSON (a proxy's HTML)."""
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def http_reason(response: httpx.Response) -> str:
    """A short reason for an answer whose body says nothing usable, e.g. a 502 HTML page."""
    kind = response.headers.get("content-type", "").split(";")[0].strip() or "no content type"
    what = "an empty body" if not response.content else f"a body that is not JSON ({kind})"
    phrase = f" {response.reason_phrase}" if response.reason_phrase else ""
    return f"HTTP {response.status_code}{phrase} with {what}"


def variable_leaves(template: Template) -> list[tuple[str, str | dict[str, str]]]:
    """Every variable of ``template`` by path (``"1"``, ``"Body.2"``), maps one level deep."""
    leaves: list[tuple[str, str | dict[str, str]]] = []
    for key, value in template.variables.items():
        if isinstance(value, dict):
            leaves.extend((f"{key}.{inner}", v) for inner, v in value.items())
        else:
            leaves.append((key, value))
    return leaves


def empty_variable_message(path: str) -> str:
    """The problem message for a WhatsApp template variable that rendered empty."""
    return (
        f'template variable "{path}" is empty: WhatsApp needs a non-empty value for every '
        'variable, so give it a default in the template, e.g. {{ email or "-" }}'
    )


_URL = re.compile(r"^https?://[^\s/?#]+", re.IGNORECASE)
# RFC 3986: unreserved and reserved characters, and %-escapes of two hex digits.
_URI_TEXT = re.compile(r"^(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$")


def media_url_message(url: str) -> str | None:
    """Why ``url`` cannot be a media URL (every provider fetches media from a public URL)."""
    if not _URL.match(url):
        return (
            f'media URL "{url}" is not a public http(s) address: give the full URL, '
            'e.g. "https://example.com/flyer.png"'
        )
    if not _URI_TEXT.match(url):
        return (
            f'media URL "{url}" has characters a URL cannot carry (spaces, accents, a lone %): '
            "percent-encode them (in a template: {{ value | urlencode }})"
        )
    return None


@functools.lru_cache(maxsize=64)
def _url(base_url: str, path: str) -> httpx.URL:
    """``base_url`` joined with ``path``, parsed once (httpx reuses a parsed URL as is)."""
    return httpx.URL(base_url.rstrip("/") + path)
