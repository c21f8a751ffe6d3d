"""What became of a message after the send, in one small vocabulary for every provider.

``delivery`` is one of:

``queued``       the provider has it and has not handed it on yet
``sent``         handed to the carrier (or WhatsApp); no receipt yet
``delivered``    the handset (or WhatsApp) confirmed it
``read``         WhatsApp: the recipient opened it
``undelivered``  the carrier gave up (unreachable, unknown handset, filtered...)
``failed``       the provider refused it or could not send it (invalid number, opted out)
``unknown``      the provider said something this vocabulary does not know (kept verbatim
                 in ``provider_status``), or nothing

Each provider's own words stay as they were: ``provider_status`` (its state), ``error_code``
and ``error_text``. A state nobody documented never raises: it becomes ``unknown``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from .._errors import ChannelError
from ._base import http_reason, response_json

__all__ = ["DELIVERY", "FINAL", "Delivery", "DeliveryState", "Inbound", "ReadFailed",
           "hmac_hex", "signature_matches"]

DeliveryState = Literal["queued", "sent", "delivered", "read", "undelivered", "failed", "unknown"]
DELIVERY: tuple[DeliveryState, ...] = (
    "queued", "sent", "delivered", "read", "undelivered", "failed", "unknown")
#: states after which a provider reports nothing more worth asking for
FINAL = frozenset({"delivered", "read", "undelivered", "failed"})


class ReadFailed(ChannelError):
    """A follow-up read (status, list, opt-outs) got no usable answer; ask again later."""

    def __init__(self, message: str, *, http_status: int | None = None,
                 retry_after: str | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outgoing message as the provider reports it now."""

    message_id: str | None
    delivery: DeliveryState
    provider_status: str | None = None
    at: datetime | None = None
    error_code: str | None = None
    error_text: str | None = None
    segments_billed: int | None = None
    to: str | None = None
    text: str | None = None
    job_id: str | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class Inbound:
    """One incoming message (a reply)."""

    message_id: str | None
    number: str
    text: str | None
    at: datetime | None


def state(mapping: dict[str, DeliveryState], value: Any) -> DeliveryState:
    """``value`` in the vocabulary; anything not in ``mapping`` is ``unknown``."""
    return mapping.get(value, "unknown") if isinstance(value, str) else "unknown"


def moment(value: Any) -> datetime | None:
    """An ISO 8601 string or epoch milliseconds as an aware datetime, None if neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    return None


def e164(value: Any) -> str | None:
    """``+`` and digits of a number written with or without the plus."""
    if not isinstance(value, str):
        return None
    digits = "".join(ch for ch in value if ch.isdigit())
    return "+" + digits if digits else None


def text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def ok_json(response: httpx.Response, what: str, label: str) -> Any:
    """The JSON body of a successful read, or `ReadFailed` saying what came instead."""
    body = response_json(response)
    if response.is_success and body is not None:
        return body
    status = response.status_code
    reason = http_reason(response) if body is None else f"HTTP {status}"
    advice = ("check the API key and its permissions" if status in (401, 403)
              else "ask again later")
    raise ReadFailed(f"{label}: reading {what} got {reason}; {advice}",
                     http_status=status, retry_after=response.headers.get("retry-after"))


def hmac_hex(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of the raw body with ``secret`` (UTF-8)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, signature: str | None) -> bool:
    """Whether ``signature`` is the hex HMAC-SHA256 of ``body`` (constant-time compare).

    >>> signature_matches("My Shared Secret", b"Hello, World!",
    ...     "a52954ef969a496aeed237f48b03c6df7ea43cd0f6e595d06dfe7a8b14b5d891")
    True
    """
    if not signature:
        return False
    return hmac.compare_digest(hmac_hex(secret, body), signature.strip().lower())
