"""What the provider emulations share: the request as received, the reply, fresh ids."""

from __future__ import annotations

import json
import random
import string
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from ._record import Accepted

__all__ = ["Ids", "Incoming", "Outcome", "Reply", "iso", "json_reply"]


@dataclass(frozen=True, slots=True)
class Reply:
    """The sandbox's answer to one request, before any transport delivers it.

    ``drop``: close the connection without a response. ``stall``: hold the response past
    the client's read timeout (the message was accepted: the ambiguous case).
    """

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    drop: bool = False
    stall: bool = False

    def json(self) -> Any:
        """The body decoded as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None


def json_reply(status: int, payload: Any, headers: Sequence[tuple[str, str]] = ()) -> Reply:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Reply(status, (("content-type", "application/json"), *headers), body)


@dataclass(frozen=True, slots=True)
class Incoming:
    """One request as a provider sees it."""

    method: str
    url: httpx.URL
    headers: httpx.Headers
    body: bytes
    params: dict[str, str]  # path parameters
    credential: str  # the authenticated secret (never recorded or shown)
    account: str  # who sends, never key material (Sociocs key fingerprint, TextUs slug, Bird ws)
    now: float  # epoch seconds


@dataclass(frozen=True, slots=True)
class Outcome:
    """A provider's answer plus the messages it accepted (empty when it refused)."""

    reply: Reply
    accepted: tuple[Accepted, ...] = field(default=())


def iso(now: float) -> str:
    """``2025-07-10T02:12:14.957Z``: UTC with milliseconds, as in the seeds' examples."""
    moment = datetime.fromtimestamp(now, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_ALNUM = string.ascii_letters + string.digits


class Ids:
    """Fresh ids from a seeded RNG: the same seed and history give the same ids."""

    def __init__(self, seed: int, start: int) -> None:
        # ``start`` (requests already in the record) keeps ids fresh after a restart.
        self._rng = random.Random(f"campaignkit-sandbox-ids:{seed}:{start}")

    def hex(self, digits: int) -> str:
        return f"{self._rng.getrandbits(4 * digits):0{digits}x}"

    def uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def slug(self, length: int = 7) -> str:
        return "".join(self._rng.choice(_ALNUM) for _ in range(length))


def stable_uuid(*parts: str) -> str:
    """A uuid that depends only on ``parts`` (e.g. one contact id per phone number)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "campaignkit-sandbox:" + "/".join(parts)))


def e164(to: str) -> str:
    """``+`` and the digits of a number that passed a provider's check."""
    return to if to.startswith("+") else "+" + to
