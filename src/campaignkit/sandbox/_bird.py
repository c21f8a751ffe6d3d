"""Bird Channels API: send and list channel messages (seed 004, docs/providers/bird.md).

Bodies are checked against Bird's published OpenAPI spec (``bird-openapi.json``, a copy of
``channels-create-message.openapi.json``; docs/providers/bird.md#the-openapi-check) and then
against the rules Bird states only in prose. Errors follow the spec's ``RequestError``
``{code, message}`` and ``ValidationError`` ``{code, message, details}``; the ``code``
strings are ours (none are published:
docs/providers/bird.md#where-the-emulator-departs-from-the-documents).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from ._common import Ids, Incoming, Outcome, Reply, iso, json_reply, stable_uuid
from ._record import Accepted, Record
from ._story import Fate, Teller

if TYPE_CHECKING:
    from jsonschema import Draft4Validator
    from jsonschema.exceptions import ValidationError

__all__ = ["error", "get_message", "interactions", "list_messages", "send", "spec", "view"]

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_URL = re.compile(r"^https?://\S+$")
MAX_MEDIA = 10  # BIRD-SMS: "up to an array of 10 media URLs" (prose only, not in the schema)
MAX_SCHEDULE = timedelta(days=35)  # ScheduledFor: "farther than 35 days will be rejected"
IMMEDIATE = timedelta(minutes=10)  # "... within 10 minutes of the request may be sent immediately"


def error(status: int, code: str, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    """A ``RequestError`` body."""
    return json_reply(status, {"code": code, "message": message}, headers)


@cache
def spec() -> dict[str, Any]:
    """Bird's published OpenAPI document for "Send a message", as packaged."""
    text = resources.files(__package__).joinpath("bird-openapi.json").read_text("utf-8")
    return dict(json.loads(text))


def _nullable_to_null_type(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` -> JSON Schema ``[T, "null"]`` (docs/providers/bird.md)."""
    if isinstance(node, list):
        return [_nullable_to_null_type(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable_to_null_type(v) for k, v in node.items()}
    if out.pop("nullable", False) is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


@cache
def _validator() -> Draft4Validator:
    # Imported on first use: jsonschema's format checkers take seconds to import.
    from jsonschema import Draft4Validator

    root = {"components": spec()["components"], "$ref": "#/components/schemas/CreateMessage"}
    return Draft4Validator(
        _nullable_to_null_type(root), format_checker=Draft4Validator.FORMAT_CHECKER
    )


def _explain(error: ValidationError) -> list[tuple[str, str]]:
    """(json path, message) for one schema error, in words a person can act on.

    jsonschema's "... is not valid under any of the given schemas" repeats the whole
    instance; the spec's ``discriminator`` names the branch that applies, so report that
    branch's errors instead, and a missing alternative as "one of ... is required".
    """
    context = list(error.context or ())
    if error.validator == "anyOf" and context and all(e.validator == "required" for e in context):
        names = " or ".join(repr(e.validator_value[0]) for e in context)
        return [(error.json_path, f"one of {names} is required")]
    discriminator = error.schema.get("discriminator") if isinstance(error.schema, dict) else None
    if error.validator != "oneOf" or not discriminator or not isinstance(error.instance, dict):
        return [(error.json_path, error.message)]
    mapping = discriminator.get("mapping", {})
    name = discriminator["propertyName"]
    target = mapping.get(error.instance.get(name))
    branches = [b.get("$ref") for b in error.validator_value]
    if target not in branches:
        kinds = ", ".join(mapping)
        value = error.instance.get(name)
        return [(f"{error.json_path}.{name}", f"{value!r} is not one of {kinds}")]
    index = branches.index(target)
    chosen = [e for e in context if e.relative_schema_path[0] == index]
    return [pair for e in chosen for pair in _explain(e)] or [(error.json_path, error.message)]


def schema_details(payload: Any) -> dict[str, list[str]]:
    """``{json path: [message, ...]}`` for every way ``payload`` breaks the spec."""
    details: dict[str, list[str]] = {}
    for error in _validator().iter_errors(payload):
        for path, message in _explain(error):
            details.setdefault(path, []).append(message)
    return dict(sorted(details.items()))


def _rfc3339(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def prose_details(payload: dict[str, Any], now: float) -> dict[str, list[str]]:
    """The rules Bird states in its pages but not in the schema."""
    details: dict[str, list[str]] = {}

    def add(path: str, message: str) -> None:
        details.setdefault(path, []).append(message)

    contacts = (payload.get("receiver") or {}).get("contacts")
    if not contacts:
        add("$.receiver.contacts", "at least one contact is required")
    for n, contact in enumerate(contacts or []):
        if not isinstance(contact, dict):
            continue
        value = contact.get("identifierValue")
        if value is None and not contact.get("id") and not contact.get("identifiers"):
            add(f"$.receiver.contacts[{n}]", "needs an identifierValue, an id or identifiers")
        if value is not None and contact.get("identifierKey", "phonenumber") == "phonenumber" \
                and not _E164.match(str(value)):
            add(f"$.receiver.contacts[{n}].identifierValue",
                f"{value!r} is not a phone number in E.164 format (e.g. +31612345678)")
    if payload.get("body") is not None and payload.get("template") is not None:
        # BIRD-SMS: set body "in all cases except templates, where only template is set".
        add("$", "set either body or template, not both")
    body = payload.get("body")
    if isinstance(body, dict):
        for kind, key in (("image", "images"), ("file", "files")):
            items = (body.get(kind) or {}).get(key) if body.get("type") == kind else None
            if not isinstance(items, list):
                continue
            if not 1 <= len(items) <= MAX_MEDIA:
                add(f"$.body.{kind}.{key}", f"must hold 1 to {MAX_MEDIA} media, got {len(items)}")
            for n, item in enumerate(items):
                url = item.get("mediaUrl") if isinstance(item, dict) else None
                if isinstance(url, str) and not _URL.match(url):
                    add(f"$.body.{kind}.{key}[{n}].mediaUrl", "must be a public http(s) URL")
    scheduled = payload.get("scheduledFor")
    if isinstance(scheduled, str):
        moment = _rfc3339(scheduled)
        if moment is None:
            add("$.scheduledFor", f"{scheduled!r} is not an RFC 3339 timestamp")
        elif moment.timestamp() - now > MAX_SCHEDULE.total_seconds():
            add("$.scheduledFor", "messages scheduled farther than 35 days are rejected")
    return details


def _receiver(payload: dict[str, Any], workspace: str) -> list[dict[str, Any]]:
    contacts = []
    for contact in payload["receiver"]["contacts"]:
        value = contact.get("identifierValue")
        if value is None and contact.get("identifiers"):
            value = contact["identifiers"][0]["identifierValue"]
        key = contact.get("identifierKey", "phonenumber")
        out = {"id": contact.get("id") or stable_uuid("contact", workspace, key, str(value))}
        if value is not None:
            out |= {"identifierKey": key, "identifierValue": value}
        contacts.append(out)
    return contacts


def _text(payload: dict[str, Any]) -> str | None:
    body = payload.get("body")
    if not isinstance(body, dict):
        return None
    inner = body.get(body.get("type", ""))
    return inner.get("text") if isinstance(inner, dict) else None


def send(incoming: Incoming, ids: Ids) -> Outcome:
    """``POST /workspaces/{ws}/channels/{ch}/messages``: 202 and a ``Message``."""
    try:
        payload = json.loads(incoming.body)
    except ValueError:
        return Outcome(error(400, "InvalidRequest", "The request body is not valid JSON."))
    if not isinstance(payload, dict):
        return Outcome(error(400, "InvalidRequest", "The request body must be a JSON object."))
    details = schema_details(payload) or prose_details(payload, incoming.now)
    if details:
        reply = json_reply(422, {
            "code": "InvalidPayload",
            "message": "The request did not pass validation.",
            "details": details,
        })
        return Outcome(reply)
    workspace, channel = incoming.params["workspace"], incoming.params["channel"]
    now = iso(incoming.now)
    scheduled = payload.get("scheduledFor")
    later = scheduled is not None and (
        _rfc3339(scheduled).timestamp() - incoming.now > IMMEDIATE.total_seconds()  # type: ignore[union-attr]
    )
    connector: dict[str, Any] = {"id": stable_uuid("connector", workspace, channel)}
    sender = (payload.get("sender") or {}).get("connector") or {}
    connector |= {k: sender[k] for k in ("identifierValue", "annotations") if k in sender}
    message: dict[str, Any] = {
        "id": ids.uuid(),
        "channelId": channel,
        "sender": {"connector": connector},
        "receiver": {"contacts": _receiver(payload, workspace)},
        "status": "scheduled" if later else "accepted",
        "direction": "outgoing",  # not the seed's generated "incoming" (docs/providers/bird.md)
        "lastStatusAt": now,
        "createdAt": now,
        "updatedAt": now,
    }
    for key in ("reference", "meta", "tags", "shortLinks", "scheduledFor", "replyTo", "body",
                "template"):
        if payload.get(key) is not None:
            message[key] = payload[key]
    accepted = tuple(
        Accepted(
            provider="bird",
            account=workspace,
            channel=channel,
            to=str(contact.get("identifierValue", "contact:" + contact["id"])),
            text=_text(payload),
            reference=payload.get("reference"),
            message_id=message["id"],
            job_id=None,
            received_at=now,
            body=payload,
            response=message,
        )
        for contact in message["receiver"]["contacts"]
    )
    return Outcome(json_reply(202, message), accepted)


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([offset]).encode()).decode()


def _offset(token: str) -> int | None:
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError):
        return None
    ok = isinstance(value, list) and len(value) == 1 and isinstance(value[0], int)
    return value[0] if ok and value[0] >= 0 else None


def list_messages(
    incoming: Incoming, record: Record, *, lag: float = 0.0, teller: Teller | None = None
) -> Reply:
    """``GET .../messages``: newest first, filters ``reference``, ``status``, ``startAt``,
    ``endAt`` (and ``direction``, ours), pages of ``limit`` (1-100, default 10) with
    ``pageToken``; messages accepted less than ``lag`` seconds ago are not listed yet.
    With a story the statuses are the ones at this moment and replies are listed too."""
    params = incoming.url.params
    limit_text = params.get("limit", "10")
    limit = int(limit_text) if limit_text.isdigit() else 0
    if not 1 <= limit <= 100:
        return error(400, "InvalidRequest", "limit must be an integer from 1 to 100.")
    offset = _offset(params["pageToken"]) if "pageToken" in params else 0
    if offset is None:
        return error(400, "InvalidRequest", "pageToken is not a token this API returned.")
    bounds = {}
    for name in ("startAt", "endAt"):
        if name in params:
            moment = _rfc3339(params[name])
            if moment is None:
                return error(400, "InvalidRequest", f"{name} must be an RFC 3339 timestamp.")
            bounds[name] = moment
    where, args = "provider = 'bird' AND account = ? AND channel = ? AND received_at <= ?", [
        incoming.params["workspace"], incoming.params["channel"], iso(incoming.now - lag)]
    if "reference" in params:  # filtered in SQL: a lookup must not read the whole record
        where += " AND reference = ?"
        args.append(params["reference"])
    rows = record.query(where, tuple(args))
    messages = _messages(rows, incoming, record, lag, teller,
                         replies="reference" not in params)
    results = []
    for message in messages:
        created = datetime.fromisoformat(message["createdAt"])
        if "reference" in params and message.get("reference") != params["reference"]:
            continue
        if "status" in params and message["status"] != params["status"]:
            continue
        if "direction" in params and message["direction"] != params["direction"]:
            continue
        if "startAt" in bounds and created < bounds["startAt"]:
            continue
        if "endAt" in bounds and created > bounds["endAt"]:
            continue
        results.append(message)
    page = results[offset : offset + limit]
    more = offset + limit < len(results)
    next_token = _token(offset + limit) if more else None
    return json_reply(200, {"results": page, "nextPageToken": next_token})


def _messages(
    rows: list[dict[str, Any]], incoming: Incoming, record: Record, lag: float,
    teller: Teller | None, *, replies: bool,
) -> list[dict[str, Any]]:
    """The messages of ``rows`` as seen now, replies included, newest first."""
    fates = _fates_of(rows, incoming, record, teller)
    seen: set[str] = set()
    dated: list[tuple[str, int, dict[str, Any]]] = []
    for row in rows:
        message = row["response"]
        fate = fates.get(message["id"])
        if message["id"] not in seen:  # one message, several contacts: several rows
            seen.add(message["id"])
            dated.append((message["createdAt"], row["seq"], view(message, row, fate, incoming.now)))
        if replies and fate is not None and fate.reply is not None \
                and fate.reply.at <= incoming.now - lag:
            reply = _reply(message, row, fate)
            dated.append((reply["createdAt"], row["seq"], reply))
    return [m for _, _, m in sorted(dated, key=lambda d: (d[0], d[1]), reverse=True)]


def _fates_of(
    rows: list[dict[str, Any]], incoming: Incoming, record: Record, teller: Teller | None
) -> dict[str, Fate]:
    if teller is None or not rows:
        return {}
    numbers = sorted({row["to"] for row in rows})
    marks = ", ".join("?" * len(numbers))
    related = record.query(
        f"provider = 'bird' AND account = ? AND \"to\" IN ({marks})",
        (incoming.params["workspace"], *numbers),
    )
    return teller.fates(related)


_STATUS = {"queued": "accepted", "sent": "sent", "delivered": "delivered",
           "undelivered": "delivery_failed", "failed": "sending_failed"}


def view(message: dict[str, Any], row: dict[str, Any], fate: Fate | None, now: float,
         ) -> dict[str, Any]:
    """``message`` as Bird would show it at ``now`` (as accepted when there is no story).

    Statuses follow the spec's enum; ``parts`` (one per SMS segment once sent) and
    ``failure`` ``{code, description, source}`` are filled the spec's way, with Twilio's
    codes standing in for the carrier's (Bird publishes no failure codes).
    """
    if fate is None or message["status"] == "scheduled":
        return message
    state = fate.state(now)
    changed = iso(fate.changed_at(now))
    out = {**message, "status": _STATUS[state], "lastStatusAt": changed, "updatedAt": changed}
    if state in ("sent", "delivered", "undelivered"):
        from ..sms import analyse

        segments = max(1, analyse(row["text"] or "").segments)
        out["parts"] = [{"platformReference": f"{message['id']}-{n}"}
                        for n in range(1, segments + 1)]
    failure = fate.error(now)
    if failure is not None:
        code, text = failure
        out["failure"] = {"code": code, "description": text,
                          "source": {"code": str(code), "name": "sms"}}
    return out


def _reply(message: dict[str, Any], row: dict[str, Any], fate: Fate) -> dict[str, Any]:
    """A recipient's answer as an incoming channel message."""
    assert fate.reply is not None
    at = iso(fate.reply.at)
    contact = message["receiver"]["contacts"][0]
    return {
        "id": stable_uuid("reply", fate.reply.message_id),
        "channelId": message["channelId"],
        "sender": {"contact": {"id": contact["id"], "identifierKey": "phonenumber",
                               "identifierValue": row["to"]}},
        "receiver": {"connector": {"id": message["sender"]["connector"]["id"]}},
        "status": "delivered",
        "direction": "incoming",
        "lastStatusAt": at,
        "createdAt": at,
        "updatedAt": at,
        "body": {"type": "text", "text": {"text": fate.reply.text}},
    }


def get_message(incoming: Incoming, record: Record, *, lag: float = 0.0,
                teller: Teller | None = None) -> Reply:
    """``GET .../messages/{messageId}``: one message as it is now, or 404."""
    rows = record.query(
        "provider = 'bird' AND account = ? AND channel = ? AND message_id = ? "
        "AND received_at <= ?",
        (incoming.params["workspace"], incoming.params["channel"], incoming.params["message"],
         iso(incoming.now - lag)),
    )
    if not rows:
        return error(404, "NotFound", "The requested resource does not exist: message not found")
    fates = _fates_of(rows[:1], incoming, record, teller)
    message = rows[0]["response"]
    return json_reply(200, view(message, rows[0], fates.get(message["id"]), incoming.now))


def interactions(incoming: Incoming, record: Record, *, lag: float = 0.0,
                 teller: Teller | None = None) -> Reply:
    """``GET .../messages/{messageId}/interactions``: the message's status events so far.

    The interaction object is not in the stored spec; ``{id, messageId, type, createdAt}``
    with ``type`` a message status is ours.
    """
    found = get_message(incoming, record, lag=lag, teller=teller)
    if found.status != 200:
        return found
    rows = record.query("provider = 'bird' AND message_id = ?", (incoming.params["message"],))
    fate = _fates_of(rows[:1], incoming, record, teller).get(incoming.params["message"])
    events = [(rows[0]["received_at"], "accepted")]
    if fate is not None:
        events += [(iso(at), _STATUS[state]) for at, state in fate.events() if at <= incoming.now]
    results = [
        {"id": stable_uuid("interaction", incoming.params["message"], kind),
         "messageId": incoming.params["message"], "type": kind, "createdAt": at}
        for at, kind in reversed(events)
    ]
    return json_reply(200, {"results": results, "nextPageToken": None})


def check_path(workspace: str, channel: str) -> Reply | None:
    """404 as in the spec's example when an id is not a uuid (both are uuids, seed 004)."""
    if not _UUID.match(workspace):
        return error(404, "NotFound", "The requested resource does not exist: workspace not found")
    if not _UUID.match(channel):
        return error(404, "NotFound", "The requested resource does not exist: channel not found")
    return None
