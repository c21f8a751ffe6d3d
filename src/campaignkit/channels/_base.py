"""The Channel protocol: a provider as a pure request builder and response parser.

A channel never sends. The sender (and `preview`) hand it one rendered row at a time:

- ``problems(row, row_number=...)`` checks every rule the provider's documents state and
  returns the row's problems (an empty tuple when the row can be sent);
- ``build_request(row, key=...)`` returns the exact ``httpx.Request`` a live send would make;
- ``parse_response(response)`` turns the provider's answer into a `Receipt`.

A *row* is a mapping of the rendered frame's columns for one recipient: ``to`` (E.164),
``text`` (str or None), ``media`` (tuple of `Media` with rendered URLs), ``template``
(a rendered `Template` or None) and every column of the sheet. ``key`` is the row's stable
key (from the data, never its position), sent where a provider has a reference field.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from ..problems import Problem

__all__ = ["REDACTED", "Channel", "Receipt", "Row"]

Row = Mapping[str, Any]
REDACTED = "[redacted]"


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a provider answered to one request, in the provider's own words."""

    http_status: int
    accepted: bool
    message_id: str | None = None
    job_id: str | None = None
    provider_status: str | None = None  # e.g. Bird's "accepted", Twilio's "queued"
    error: str | None = None  # the provider's own message when not accepted


class Channel(ABC):
    """Base of every provider: shared request plumbing, secrets kept out of sight."""

    #: short provider name, e.g. "sociocs"
    provider: ClassVar[str]
    #: whether `build_bulk_request` exists (one request for many rows)
    supports_bulk: ClassVar[bool] = False

    base_url: str

    @property
    @abstractmethod
    def label(self) -> str:
        """Human name of this channel without secrets, e.g. ``sociocs:twlo``."""

    @abstractmethod
    def fingerprint(self) -> dict[str, Any]:
        """What identifies where messages go (no secrets): the journal refuses a change."""

    @abstractmethod
    def secrets(self) -> tuple[str, ...]:
        """Every secret value this channel holds, for redaction of anything shown."""

    @abstractmethod
    def problems(self, row: Row, *, row_number: int | None) -> tuple[Problem, ...]:
        """The provider's rules this row breaks; empty when it can be sent."""

    @abstractmethod
    def build_request(self, row: Row, *, key: str) -> httpx.Request:
        """The exact request for one row (call `problems` first)."""

    @abstractmethod
    def parse_response(self, response: httpx.Response) -> Receipt:
        """Read the provider's answer to one request."""

    def build_bulk_request(self, rows: Sequence[Row], *, key: str) -> httpx.Request:
        """One request for many rows with the same content (only where ``supports_bulk``)."""
        raise NotImplementedError(f"{self.label} has no bulk endpoint")

    # -- shared plumbing -------------------------------------------------------------

    def _json_request(
        self, method: str, path: str, body: Mapping[str, Any], headers: Mapping[str, str]
    ) -> httpx.Request:
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        return httpx.Request(
            method, self.base_url.rstrip("/") + path, content=content, headers=dict(headers)
        )

    def redact(self, text: str) -> str:
        """``text`` with every secret of this channel replaced by ``[redacted]``."""
        for secret in self.secrets():
            if secret:
                text = text.replace(secret, REDACTED)
        return text

    def describe(self, request: httpx.Request) -> dict[str, Any]:
        """Method, URL, redacted headers and decoded JSON body of ``request``, for a preview."""
        sensitive = {"authorization", "apikey", "x-api-key", "cookie"}
        headers = {
            name: (REDACTED if name.lower() in sensitive else self.redact(value))
            for name, value in request.headers.items()
        }
        body = json.loads(request.content) if request.content else None
        return {
            "method": request.method,
            "url": self.redact(str(request.url)),
            "headers": headers,
            "body": body,
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label} base_url={self.base_url!r}>"
