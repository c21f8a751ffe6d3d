"""The story after "accepted": delivery states over virtual time, failures, replies, STOP.

Everything here is a pure function of the seed, the record and the time asked about, so a
message's whole life is fixed when it is accepted and any later question (a list, a lookup,
a webhook) sees the same life at the moment it asks.

A message is ``queued`` when accepted, ``sent`` after ``sent_after`` seconds and final
between 0.5 and 1.5 x ``final_after``: delivered, or (a seeded share) undelivered or
failed with a Twilio error code (https://www.twilio.com/docs/api/errors). A number the story
marks as opted out before the campaign, or one that replied STOP to an earlier message,
fails with 21610. Some recipients of delivered messages reply between 0.5 and 1.5 x
``reply_after`` later; a share of those replies are opt-outs.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

__all__ = ["ERRORS", "Fate", "Reply", "Story", "Teller", "fates", "is_stop", "opted_out"]

State = Literal["queued", "sent", "delivered", "undelivered", "failed"]

#: Twilio error codes and titles (https://www.twilio.com/docs/api/errors/<code>); 21614's
#: text is the one of the Sociocs status webhook example (docs.sociocs.com/api/webhooks).
ERRORS: dict[int, str] = {
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "You have attempted to send a message to a number that is either a landline "
           "number or is an invalid number. (code: 21614)",
}
_UNDELIVERED = (30003, 30005, 30006, 30007)
#: what recipients answer; the carriers' keywords in the spellings people type
_STOPS = ("STOP", "Stop", "stop.", "UNSUBSCRIBE", "Cancel", "QUIT", "End", "STOPALL")
_CHATTY = ("Thanks!", "See you then", "Who is this?", "Can I change my appointment?",
           "ok", "Great, thank you")
_REVIEW = "please remove me from this list"


@dataclass(frozen=True, slots=True, repr=False)
class Story:
    """What happens to accepted messages, as shares and delays (seconds of virtual time).

    Parameters
    ----------
    sent_after
        Seconds from accepted (``queued``) to ``sent``.
    final_after
        Typical seconds from accepted to the final state (each message between 0.5 and 1.5x).
    undelivered
        Share of messages the carrier could not deliver (30003, 30005, 30006, 30007).
    failed
        Share refused as not a valid mobile number (21614).
    opted_out
        Share of numbers that had opted out before (every message to them fails 21610).
    replies
        Share of delivered messages whose recipient replies.
    stop
        Share of those replies that are an opt-out keyword (STOP, UNSUBSCRIBE, ...).
    review
        Share of replies that ask to be removed in other words ("please remove me ...").
    reply_after
        Typical seconds from delivery to the reply (each between 0.5 and 1.5x).

    Examples
    --------
    >>> Story(undelivered=0.1)
    Story(undelivered=0.1)
    """

    sent_after: float = 2.0
    final_after: float = 30.0
    undelivered: float = 0.05
    failed: float = 0.02
    opted_out: float = 0.01
    replies: float = 0.08
    stop: float = 0.3
    review: float = 0.1
    reply_after: float = 600.0

    def __post_init__(self) -> None:
        for name in ("sent_after", "final_after", "reply_after"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be 0 or more seconds, got {getattr(self, name)}")
        for name in ("undelivered", "failed", "opted_out", "replies", "stop", "review"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a share between 0 and 1, got "
                                 f"{getattr(self, name)}")
        if self.undelivered + self.failed > 1.0 + 1e-9:
            raise ValueError("undelivered + failed must be at most 1")
        if self.stop + self.review > 1.0 + 1e-9:
            raise ValueError("stop + review must be at most 1")
        if self.sent_after > self.final_after * 0.5:
            raise ValueError("sent_after must be at most half of final_after")

    def __repr__(self) -> str:
        changed = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)
                   if getattr(self, f.name) != f.default]
        return f"Story({', '.join(changed)})"


@dataclass(frozen=True, slots=True)
class Reply:
    """A recipient's answer to one message."""

    at: float  # epoch seconds
    text: str
    message_id: str  # the inbound message's own id


@dataclass(frozen=True, slots=True)
class Fate:
    """The whole life of one accepted message (one recipient)."""

    message_id: str
    to: str
    accepted_at: float
    sent_at: float
    final_at: float
    final: State
    error_code: int | None
    reply: Reply | None

    def state(self, now: float) -> State:
        """The state at ``now`` (epoch seconds)."""
        if now >= self.final_at:
            return self.final
        if now >= self.sent_at:
            return "sent"
        return "queued"

    def changed_at(self, now: float) -> float:
        """When the state seen at ``now`` began."""
        if now >= self.final_at:
            return self.final_at
        if now >= self.sent_at:
            return self.sent_at
        return self.accepted_at

    def error(self, now: float) -> tuple[int, str] | None:
        """(code, text) once the message is final and not delivered."""
        if self.error_code is None or now < self.final_at:
            return None
        return self.error_code, ERRORS[self.error_code]

    def events(self) -> list[tuple[float, str]]:
        """(time, state) of every change after accepted."""
        return [(self.sent_at, "sent"), (self.final_at, self.final)]


@lru_cache(maxsize=65536)
def _draws(seed: int, *parts: str) -> tuple[float, ...]:
    digest = hashlib.sha256(":".join(("campaignkit-story", str(seed), *parts)).encode()).digest()
    return tuple(n / 2**64 for n in struct.unpack(">4Q", digest))


def _epoch(received_at: str) -> float:
    return datetime.fromisoformat(received_at).timestamp()


def _fate(story: Story, seed: int, row: dict[str, Any], stopped_at: float | None) -> Fate:
    message_id = str(row["message_id"])
    accepted = _epoch(row["received_at"])
    u_outcome, u_time, u_reply, u_kind = _draws(seed, "message", message_id)
    sent = accepted + story.sent_after
    final_at = accepted + story.final_after * (0.5 + u_time)
    code: int | None = None
    final: State = "delivered"
    pre_opted = _draws(seed, "number", row["to"])[0] < story.opted_out
    if pre_opted or (stopped_at is not None and stopped_at <= accepted):
        final, code = "failed", 21610
    elif u_outcome < story.failed:
        final, code = "failed", 21614
    elif u_outcome < story.failed + story.undelivered:
        final = "undelivered"
        span = (u_outcome - story.failed) / story.undelivered
        code = _UNDELIVERED[min(int(span * len(_UNDELIVERED)), len(_UNDELIVERED) - 1)]
    reply = None
    if final == "delivered" and u_reply < story.replies:
        at = final_at + story.reply_after * (0.5 + u_reply / max(story.replies, 1e-12))
        if u_kind < story.stop:
            text = _STOPS[int(u_kind / story.stop * len(_STOPS)) % len(_STOPS)]
        elif u_kind < story.stop + story.review:
            text = _REVIEW
        else:
            text = _CHATTY[int(u_kind * 997) % len(_CHATTY)]
        reply = Reply(at, text, "IN" + hashlib.sha256(message_id.encode()).hexdigest()[:32])
    return Fate(message_id, row["to"], accepted, sent, final_at, final, code, reply)


def is_stop(text: str) -> bool:
    """Whether the story wrote ``text`` as an opt-out keyword."""
    return text in _STOPS


def fates(story: Story, seed: int, rows: Iterable[dict[str, Any]]) -> dict[str, Fate]:
    """The fate of every record row with a message id, by message id.

    Rows to one number are taken in the order they were accepted: a STOP reply to one
    makes every later message to that number fail with 21610.
    """
    by_number: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("message_id"):
            by_number.setdefault((row["provider"], row["account"], row["to"]), []).append(row)
    out: dict[str, Fate] = {}
    for group in by_number.values():
        stopped_at: float | None = None
        for row in sorted(group, key=lambda r: (r["received_at"], r["seq"])):
            fate = _fate(story, seed, row, stopped_at)
            out[fate.message_id] = fate
            if fate.reply is not None and is_stop(fate.reply.text):
                candidate = fate.reply.at
                stopped_at = candidate if stopped_at is None else min(stopped_at, candidate)
    return out


def opted_out(story: Story, seed: int, number: str, fates_of_number: Sequence[Fate],
              now: float) -> bool:
    """Whether the provider holds ``number`` as opted out (blocked) at ``now``."""
    if _draws(seed, "number", number)[0] < story.opted_out:
        return True
    return any(f.reply is not None and is_stop(f.reply.text) and f.reply.at <= now
               for f in fates_of_number)


@dataclass(frozen=True, slots=True)
class Teller:
    """A story told with one seed: what the provider modules ask for."""

    story: Story
    seed: int

    def fates(self, rows: Iterable[dict[str, Any]]) -> dict[str, Fate]:
        """See `fates`."""
        return fates(self.story, self.seed, rows)

    def opted_out(self, number: str, rows: Iterable[dict[str, Any]], now: float) -> bool:
        """Whether ``number`` is opted out at ``now``, given every record row sent to it."""
        return opted_out(self.story, self.seed, number, list(self.fates(rows).values()), now)
