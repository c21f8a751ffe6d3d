"""TextUs: POST /{account}/messages (seed 003, docs/providers/textus.md).

TextUs documents every refusal as 422 with "No body", so the sandbox answers exactly that;
the reason goes in a sandbox-only ``x-sandbox-error`` header a person can read while
debugging (no real TextUs response has it, and no client should depend on it).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import string
from typing import Any

from ._common import Ids, Incoming, Outcome, Reply, iso
from ._record import Accepted, Record
from ._story import Fate, Teller, is_stop

__all__ = ["ATTACHMENT_TYPES", "get_message", "opt_out", "opt_outs", "send", "view"]

_TO = re.compile(r"^\+[1-9]\d{6,14}$")
_URL = re.compile(r"^https?://\S+$")
_SAVED_REPLY = re.compile(r"^/saved_replies/[A-Za-z0-9]+$")
#: seed 003 lists extensions (.png .jpg/.jpeg .gif .rtf .pdf .ics .vcf/.vcard); the MIME
#: types for them are ours (docs/providers/textus.md#rules-and-the-problems-they-become).
ATTACHMENT_TYPES = frozenset({
    "image/png", "image/jpeg", "image/gif", "application/rtf", "text/rtf",
    "application/pdf", "text/calendar", "text/vcard", "text/x-vcard",
})
_ALNUM = string.ascii_letters + string.digits


def refuse(reason: str) -> Reply:
    """422 with no body, as every documented TextUs refusal (seed 003)."""
    return Reply(422, (("x-sandbox-error", reason),))


def _problem(body: dict[str, Any]) -> str | None:
    """The first documented rule ``body`` breaks, or None."""
    to = body.get("to")
    recipients = to if isinstance(to, list) else [to]
    if not recipients or not all(isinstance(r, str) and _TO.match(r) for r in recipients):
        return "to must be an E.164 number or a non-empty list of them"
    channel = body.get("channel", "sms")
    if channel not in ("sms", "whatsapp"):
        return 'channel must be "sms" or "whatsapp"'
    text = body.get("body")
    if text is not None and not isinstance(text, str):
        return "body must be a string"
    template = body.get("template")
    saved_reply = body.get("saved_reply")
    # An attachment alone is a picture message (MMS); seed 003 is silent, so it is allowed,
    # as campaignkit's TextUs channel sends it.
    if not text and template is None and saved_reply is None and not body.get("attachments"):
        return "one of body, template, saved_reply or an attachment is required"
    if saved_reply is not None and not (
        isinstance(saved_reply, str) and _SAVED_REPLY.match(saved_reply)
    ):
        return 'saved_reply must be a SavedReply IRI like "/saved_replies/QxvonQv"'
    if template is not None:
        # "The body field is not used when sending a template" (seed 003).
        if text:
            return "a template message has no body"
        if not isinstance(template, dict) or not isinstance(template.get("id"), str) \
                or not template["id"].strip():
            return "template needs an id"
        if channel != "whatsapp":
            return 'templates are WhatsApp only: set channel to "whatsapp"'
        values = template.get("variable_values", {})
        if not isinstance(values, dict):
            return "template.variable_values must be an object"
        for name, value in values.items():
            if not isinstance(value, str) or not value.strip():
                return f"template variable {name} is empty"
    attachments = body.get("attachments")
    if attachments is not None:
        if not isinstance(attachments, list):
            return "attachments must be a list"
        # "You can only send one attachment per request." (seed 003)
        if len(attachments) > 1:
            return "only one attachment per request"
        for attachment in attachments:
            if not isinstance(attachment, dict) or not _URL.match(
                str(attachment.get("media_url", ""))
            ):
                return "attachment media_url must be a public http(s) URL"
            if attachment.get("content_type") not in ATTACHMENT_TYPES:
                kind = attachment.get("content_type")
                return f"attachment content_type {kind!r} is not supported"
    return None


def _fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _stable_slug(*parts: str) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return "".join(_ALNUM[b % len(_ALNUM)] for b in digest[:7])


def _message(
    message_id: str, body: dict[str, Any], to: str, incoming: Incoming, ids: Ids
) -> dict[str, Any]:
    """A ``Message`` in the shape of seed 003's example, freshly queued."""
    now = iso(incoming.now)
    text = body.get("body") or ""
    members = [
        {
            "@type": "Attachment",
            "@context": "/contexts/Attachment.jsonld",
            "id": f"/attachments/{ids.slug(6)}",
            "url": a["media_url"],
            "downloadUrl": a["media_url"],
            "key": ids.hex(64) + "." + a["content_type"].rsplit("/", 1)[-1],
            "contentType": a["content_type"],
            "size": None,
            "width": None,
            "height": None,
            "originalFilename": None,
        }
        for a in body.get("attachments") or []
    ]
    template = body.get("template")
    message: dict[str, Any] = {
        "@type": "Message",
        "id": message_id,
        "@context": "/contexts/Message.jsonld",
        "direction": "out",
        "body": text,
        "formattedBody": f"<div>{html.escape(text)}</div>",
        "displayTimestamp": now,
        "timelinePosition": now,
        "deliveryState": "queued",
        "conversation": f"/conversations/{_stable_slug(incoming.account, to)}",
        # the user behind the token, never the token itself
        "sender": f"/users/{_stable_slug('user', _fingerprint(incoming.credential))}",
        "attachments": {
            "@context": "/contexts/hydra:Collection.jsonld",
            "@type": "hydra:Collection",
            "id": f"{message_id}/attachments",
            "members": members,
            "totalItems": len(members),
        },
        "friendlyStateDescription": "Message Queued",
        "retryAllowed": False,
        "retry": None,
        "latestEventAt": now,
        "flags": [],
        "source": "textus",
        "channel": body.get("channel", "sms"),
        "whatsAppTemplate": None,
        "engagementScore": None,
        "engagementTemperature": None,
    }
    if template is not None:
        message["whatsAppTemplate"] = {
            "@type": "WhatsApp::Template",
            "@context": "/contexts/WhatsApp::Template.jsonld",
            "id": template["id"],
            "status": "approved",
        }
        message["respondedToMessage"] = None
    return message


def send(incoming: Incoming, ids: Ids) -> Outcome:
    """``POST /{account}/messages``: 201 + Message for one recipient, 202 for several."""
    try:
        body = json.loads(incoming.body)
    except ValueError:
        return Outcome(Reply(400, (("x-sandbox-error", "the body is not valid JSON"),)))
    if not isinstance(body, dict):
        return Outcome(refuse("the body must be a JSON object"))
    problem = _problem(body)
    if problem is not None:
        return Outcome(refuse(problem))
    recipients = body["to"] if isinstance(body["to"], list) else [body["to"]]
    accepted = []
    messages = []
    for to in recipients:
        message_id = f"/messages/{ids.slug()}"
        message = _message(message_id, body, to, incoming, ids)
        messages.append(message)
        accepted.append(
            Accepted(
                provider="textus",
                account=incoming.account,
                channel=body.get("channel", "sms"),
                to=to,
                text=body.get("body"),
                reference=None,
                message_id=message_id,
                job_id=None,
                received_at=iso(incoming.now),
                body=body,
                response=message,
            )
        )
    if len(recipients) > 1:
        # "Sending a Message to multiple Recipients": 202, "No body" (seed 003).
        return Outcome(Reply(202), tuple(accepted))
    content = json.dumps(messages[0], ensure_ascii=False, separators=(",", ":")).encode()
    reply = Reply(201, (("content-type", "application/vnd.textus+jsonld"),), content)
    return Outcome(reply, tuple(accepted))


_STATES = {
    # story state -> (deliveryState, friendlyStateDescription); the states are TextUs's
    # (apidocs.next.textus.com/types/Message), the descriptions other than "Message
    # Delivered" (seed 003) are ours
    "queued": ("queued", "Message Queued"),
    "sent": ("dispatched", "Message Dispatched"),
    "delivered": ("delivered", "Message Delivered"),
    "undelivered": ("failed", "Message Failed"),
    "failed": ("failed", "Message Failed"),
}


def view(message: dict[str, Any], fate: Fate | None, now: float) -> dict[str, Any]:
    """``message`` with its ``deliveryState`` at ``now`` (as accepted without a story)."""
    if fate is None:
        return message
    state, friendly = _STATES[fate.state(now)]
    return {**message, "deliveryState": state, "friendlyStateDescription": friendly,
            "latestEventAt": iso(fate.changed_at(now))}


def get_message(incoming: Incoming, record: Record, *, lag: float = 0.0,
                teller: Teller | None = None) -> Reply:
    """``GET /messages/:message`` (apidocs.next.textus.com/docs/messages/get): 200 Message."""
    message_id = f"/messages/{incoming.params['message']}"
    rows = record.query("provider = 'textus' AND message_id = ? AND received_at <= ?",
                        (message_id, iso(incoming.now - lag)))
    if not rows:
        return Reply(404, (("x-sandbox-error", "no such message"),))
    row = rows[0]
    fate = None
    if teller is not None:
        related = record.query("provider = 'textus' AND account = ? AND \"to\" = ?",
                               (row["account"], row["to"]))
        fate = teller.fates(related).get(message_id)
    return _jsonld(200, view(row["response"], fate, incoming.now))


def _jsonld(status: int, payload: Any) -> Reply:
    content = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Reply(status, (("content-type", "application/vnd.textus+jsonld"),), content)


def _formatted(number: str) -> str:
    # the example shows "5553031234" for "+15553031234" (apidocs.next.textus.com/docs/opt_outs)
    return number[2:] if number.startswith("+1") else number.lstrip("+")


def _opt_out(number: str, account: str, at: float | None) -> dict[str, Any]:
    return {
        "@type": "OptOut",
        "@context": "/contexts/OptOut.jsonld",
        "id": f"/textus/opt_outs/{number}",
        "createdAt": "2020-07-30T15:18:52.133Z" if at is None else iso(at),
        "formattedPhoneNumber": _formatted(number),
        "user": None,
        "createdVia": "User" if at is None else "Contact",
        "originatingAccount": {
            "@type": "Account", "@context": "/contexts/Account.jsonld",
            "id": f"/accounts/{account}", "name": account,
        },
    }


def _opted_out_numbers(
    incoming: Incoming, record: Record, teller: Teller, asked: list[str] | None
) -> dict[str, float | None]:
    """{number: when it opted out (None: before the sandbox knew it)} at ``incoming.now``."""
    account = incoming.params["account"]
    rows = record.query("provider = 'textus' AND account = ?", (account,))
    fates = teller.fates(rows)
    stopped: dict[str, float] = {}
    for fate in fates.values():
        reply = fate.reply
        if reply is not None and is_stop(reply.text) and reply.at <= incoming.now:
            stopped[fate.to] = min(reply.at, stopped.get(fate.to, reply.at))
    candidates = asked if asked is not None else sorted({row["to"] for row in rows})
    out: dict[str, float | None] = {}
    for number in candidates:
        if number in stopped:
            out[number] = stopped[number]
        elif teller.opted_out(number, [], incoming.now):
            out[number] = None
    return out


def _number(phone: str) -> str:
    """E.164 of a path or query number; ten digits are North American (the docs' examples)."""
    digits = phone.lstrip("+")
    if not digits.isdigit():
        return phone
    if len(digits) == 10 and not phone.startswith("+"):
        return "+1" + digits
    return "+" + digits


def opt_outs(incoming: Incoming, record: Record, teller: Teller | None) -> Reply:
    """``GET /:account/opt_outs{?q,exact[]}`` (apidocs.next.textus.com/docs/opt_outs/index)."""
    account = incoming.params["account"]
    params = incoming.url.params
    exact = [_number(n) for n in params.get_list("exact[]") + params.get_list("exact")]
    query = params.get("q")
    numbers: dict[str, float | None] = {}
    if teller is not None:
        numbers = _opted_out_numbers(incoming, record, teller, exact or None)
    if query:
        if len(query) < 3:
            return Reply(422, (("x-sandbox-error", "q needs at least 3 characters"),))
        numbers = {n: at for n, at in numbers.items() if query in n}
    members = [_opt_out(n, account, at) for n, at in numbers.items()]
    path = incoming.url.raw_path.decode("ascii")
    return _jsonld(200, {
        "@type": "hydra:Collection",
        "@context": "/contexts/hydra:Collection.jsonld",
        "id": path,
        "members": members,
        "totalItems": len(members),
        "view": {
            "@type": "hydra:PartialCollectionView",
            "@context": "/contexts/hydra:PartialCollectionView.jsonld",
            "id": path, "first": f"/{account}/opt_outs", "next": None, "previous": None,
        },
    })


def opt_out(incoming: Incoming, record: Record, teller: Teller | None) -> Reply:
    """``GET /:account/opt_outs/:phone_number`` (…/docs/opt_outs/show): the OptOut, or 404."""
    phone = incoming.params["phone"]
    number = _number(phone)
    found: dict[str, float | None] = {}
    if teller is not None:
        found = _opted_out_numbers(incoming, record, teller, [number])
    if number not in found:
        return Reply(404, (("x-sandbox-error", "no opt out for this number"),))
    return _jsonld(200, _opt_out(number, incoming.params["account"], found[number]))
