"""Sociocs: POST /message, POST /messages/bulk, GET /messages (seeds 000-002).

What is emulated and where it departs from the documents: docs/providers/sociocs.md#the-emulator.

Every error answers the documented envelope ``{"status": "error", "errors": [{"msg": ...}]}``
(SOC api/_includes/http-status-codes.md; only "Invalid channel_key." is a documented string,
the others are ours). All the problems of a body are reported at once, in field order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from ._auth import SandboxCredentials, accepts, fingerprint
from ._common import Ids, Incoming, Outcome, Reply, e164, iso, json_reply
from ._record import Accepted, Record
from ._story import ERRORS, Fate, Teller

__all__ = ["bulk", "bulk_jobs", "error", "is_blocked", "list_messages", "search_messages", "send",
           "subscribe", "unreplied"]

PROVIDERS = ("twlo", "twlowa", "gswa")
MEDIA = ("image_url", "video_url", "file_url")
_TO = re.compile(r"^\+?[1-9]\d{6,14}$")
_CHANNEL_KEY = re.compile(r"^(twlo|twlowa|gswa)_\d+$")
_CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")  # TW-OAI ContentSid
_URL = re.compile(r"^https?://\S+$")
_GSWA_COMPONENTS = ("Header", "Body", "Buttons")
MAX_TEXT = 1600  # SOC-BUBBLE params.json; Twilio's Body limit (TW-OAI)

AUTH_FAILED = "Authentication failed. Check apikey header."
FORBIDDEN = "This API key is not allowed to use this endpoint."
NOT_FOUND = "Requested API endpoint not found."
RATE_LIMITED = "The rate limit has been reached."
SERVER_ERROR = "There was a problem processing the request on our server. Try again later."


def error(status: int, *messages: str, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    """The Sociocs error envelope with one ``{"msg": ...}`` per message."""
    return json_reply(
        status, {"status": "error", "errors": [{"msg": m} for m in messages]}, headers
    )


def _body(incoming: Incoming) -> dict[str, Any] | Reply:
    content_type = incoming.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        # The Keap guide posts "Name / Value Pairs" (docs/providers/sociocs.md#the-emulator):
        # flat fields only.
        return dict(parse_qsl(incoming.body.decode("utf-8", "replace")))
    try:
        body = json.loads(incoming.body)
    except ValueError:
        return error(400, "Request body is not valid JSON.")
    if not isinstance(body, dict):
        return error(400, "Request body must be a JSON object.")
    return body


def _mask(channel_key: str) -> str:
    """``sha256:…``: channel keys are secrets, so the record keeps only their fingerprint."""
    return fingerprint(channel_key)


def _is_filled(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and value.strip() != ""


def _check_route(body: Mapping[str, Any], credentials: SandboxCredentials | None) -> list[str]:
    errors = []
    provider = body.get("provider")
    if provider not in PROVIDERS:
        errors.append("Invalid provider. Use twlo, twlowa or gswa.")
    key = body.get("channel_key")
    good_key = (
        isinstance(key, str)
        and (match := _CHANNEL_KEY.match(key)) is not None
        and (provider not in PROVIDERS or match.group(1) == provider)
        and accepts(None if credentials is None else credentials.sociocs_channel_keys, key)
    )
    if not good_key:
        errors.append("Invalid channel_key.")
    return errors


def _check_to(value: object, where: str) -> list[str]:
    if isinstance(value, str) and _TO.match(value):
        return []
    return [
        f"Invalid {where}. Use the phone number starting with the country code, "
        "with or without a leading plus (e.g. +16175551212)."
    ]


def _check_content(body: Mapping[str, Any], *, single: bool) -> list[str]:
    errors = []
    provider = body.get("provider")
    fields = (*("text",), *MEDIA, *(("template",) if single else ()))
    if not any(body.get(name) not in (None, "") for name in fields):
        names = ", ".join(fields[:-1]) + " or " + fields[-1]
        errors.append(f"One of {names} is required.")
    text = body.get("text")
    if text is not None and not isinstance(text, str):
        errors.append("text must be a string.")
    elif isinstance(text, str) and len(text) > MAX_TEXT:
        errors.append(f"text is longer than {MAX_TEXT} characters ({len(text)}).")
    for name in MEDIA:
        url = body.get(name)
        if url in (None, ""):
            continue
        if not isinstance(url, str) or not _URL.match(url):
            errors.append(f"{name} must be a publicly accessible http(s) URL.")
        # Seed 001: "Supported only when provider is twlo." (single send only: seed 002 says
        # nothing, docs/providers/sociocs.md#where-the-emulator-departs-from-the-documents)
        if single and provider in PROVIDERS and provider != "twlo":
            errors.append(f"{name} is supported only when provider is twlo.")
    return errors


def _check_template(body: Mapping[str, Any]) -> list[str]:
    template = body.get("template")
    if template is None:
        return []
    provider = body.get("provider")
    if provider in PROVIDERS and provider not in ("twlowa", "gswa"):
        return ["template is used only when provider is twlowa or gswa."]
    if not isinstance(template, dict):
        return ["template must be an object with id and variables."]
    errors = []
    template_id = template.get("id")
    if not isinstance(template_id, str) or not template_id.strip():
        errors.append("template.id is required.")
    elif provider == "twlowa" and not _CONTENT_SID.match(template_id):
        errors.append(
            "template.id must be a Twilio Content SID: HX followed by 32 hexadecimal digits."
        )
    variables = template.get("variables")
    if variables is None:
        return errors
    if not isinstance(variables, dict):
        return [*errors, "template.variables must be an object."]
    # SOC integrations/customer.io/wa-campaign.md: "All the variables in your WhatsApp template
    # must be added ... default it with a non-empty string."
    empty = "is empty: every template variable needs a non-empty value."
    if provider == "gswa":
        for name, value in variables.items():
            if name == "MEDIA_URL":
                if not _is_filled(value):
                    errors.append(f"template.variables.MEDIA_URL {empty}")
            elif name in _GSWA_COMPONENTS and isinstance(value, dict):
                errors += [
                    f"template.variables.{name}.{key} {empty}"
                    for key, inner in value.items()
                    if not _is_filled(inner)
                ]
            elif name in _GSWA_COMPONENTS:
                errors.append(f"template.variables.{name} must be an object.")
            else:
                errors.append(
                    f"template.variables.{name} is not a Gupshup component: "
                    "use MEDIA_URL, Header, Body or Buttons."
                )
    else:
        errors += [
            f"template.variables.{name} {empty}"
            for name, value in variables.items()
            if not _is_filled(value)
        ]
    return errors


def _check_schedule(body: Mapping[str, Any]) -> list[str]:
    schedule = body.get("schedule")
    if schedule is None:
        return []
    try:
        parsed = datetime.fromisoformat(schedule) if isinstance(schedule, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        return [
            "Invalid schedule. Use ISO 8601 date and time with an offset "
            '(e.g. "2006-01-02T15:04:05-04:00").'
        ]
    return []


def _masked_body(body: Mapping[str, Any]) -> dict[str, Any]:
    masked = dict(body)
    if isinstance(masked.get("channel_key"), str):
        masked["channel_key"] = _mask(masked["channel_key"])
    return masked


def send(incoming: Incoming, ids: Ids, credentials: SandboxCredentials | None) -> Outcome:
    """``POST /message``: one message (seed 001)."""
    body = _body(incoming)
    if isinstance(body, Reply):
        return Outcome(body)
    errors = [
        *_check_route(body, credentials),
        *_check_to(body.get("to"), "to"),
        *_check_content(body, single=True),
        *_check_template(body),
        *_check_schedule(body),
    ]
    if errors:
        return Outcome(error(400, *errors))
    message_id = "MM" + ids.hex(32)
    payload = {"status": "success", "data": {"message_id": message_id}}
    accepted = Accepted(
        provider="sociocs",
        account=incoming.account,
        channel=_mask(body["channel_key"]),
        to=e164(body["to"]),
        text=body.get("text"),
        reference=None,
        message_id=message_id,
        job_id=None,
        received_at=iso(incoming.now),
        body=_masked_body(body),
        response=payload,
    )
    return Outcome(json_reply(200, payload), (accepted,))


def bulk(incoming: Incoming, ids: Ids, credentials: SandboxCredentials | None) -> Outcome:
    """``POST /messages/bulk``: one job for many recipients (seed 002)."""
    body = _body(incoming)
    if isinstance(body, Reply):
        return Outcome(body)
    errors = _check_route(body, credentials)
    recipients = body.get("recipients")
    if not isinstance(recipients, list) or not recipients:
        errors.append("recipients must be a non-empty array of {to, name} objects.")
        recipients = []
    for n, recipient in enumerate(recipients):
        if not isinstance(recipient, dict):
            errors.append(f"recipients[{n}] must be an object {{to, name}}.")
        else:
            errors += _check_to(recipient.get("to"), f"recipients[{n}].to")
    # Seed 002 documents no template for bulk (docs/providers/sociocs.md#bulk-sends).
    if body.get("template") is not None:
        errors.append("template is not supported on /messages/bulk.")
    errors += _check_content(body, single=False)
    duplicates_allowed = body.get("duplicates_allowed", False)
    if not isinstance(duplicates_allowed, bool):
        errors.append("duplicates_allowed must be true or false.")
    errors += _check_schedule(body)
    if errors:
        return Outcome(error(400, *errors))
    job_id = ids.hex(24)
    seen: set[str] = set()
    accepted = []
    for recipient in recipients:
        to = e164(recipient["to"])
        # "false - Send message only once per phone number (first occurrence)" (seed 002)
        if to in seen and not duplicates_allowed:
            continue
        seen.add(to)
        accepted.append(
            Accepted(
                provider="sociocs",
                account=incoming.account,
                channel=_mask(body["channel_key"]),
                to=to,
                text=body.get("text"),
                reference=None,
                message_id="MM" + ids.hex(32),
                job_id=job_id,
                received_at=iso(incoming.now),
                body={**_masked_body(body), "recipients": [recipient]},
            )
        )
    payload = {"status": "success", "data": {"job_id": job_id}}
    return Outcome(json_reply(200, payload), tuple(accepted))


def _day(value: str | None, default: date, name: str) -> date | str:
    if value is None:
        return default
    try:
        return date.fromisoformat(value) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else name
    except ValueError:
        return name


def list_messages(
    incoming: Incoming, record: Record, *, lag: float = 0.0, teller: Teller | None = None
) -> Reply:
    """``GET /messages?start_date=&end_date=&direction=`` (SOC api/messaging/get.md).

    The message object's fields are not documented; items follow the webhook payload
    (SOC api/webhooks/introduction.md) without ``channel_key`` (a secret) and ``from``.
    With a story (``teller``), outbound items carry ``status`` and, once failed, ``error``
    ``{code, message}`` as the status webhook's ``event_data`` does (the field names in a
    message object are ours), and the recipients' replies are listed as incoming items.
    """
    window = _window(incoming)
    if isinstance(window, Reply):
        return window
    start, end, direction = window
    return json_reply(200, {"status": "success", "data": _items(
        incoming, record, start, end, direction, lag, teller)})


def _window(incoming: Incoming) -> tuple[date, date, str] | Reply:
    today = datetime.fromtimestamp(incoming.now, tz=UTC).date()
    params = incoming.url.params
    start = _day(params.get("start_date"), today - timedelta(days=90), "start_date")
    end = _day(params.get("end_date"), today, "end_date")
    direction = params.get("direction", "both")
    errors = [
        f"Invalid {bad}. Use YYYY-MM-DD (e.g. 2024-01-31)."
        for bad in (start, end)
        if isinstance(bad, str)
    ]
    if direction not in ("incoming", "outbound", "both"):
        errors.append("Invalid direction. Use incoming, outbound or both.")
    if errors:
        return error(400, *errors)
    assert isinstance(start, date) and isinstance(end, date)
    return start, end, direction


def _outbound(row: dict[str, Any]) -> dict[str, Any]:
    body = row["body"]
    recipient = body["recipients"][0] if row["job_id"] else body
    received = datetime.fromisoformat(row["received_at"])
    return {
        "message_id": row["message_id"],
        "direction": "outbound",
        "provider": body.get("provider"),
        "to": row["to"],
        "name": recipient.get("name"),
        "text": row["text"],
        "image_urls": [body["image_url"]] if body.get("image_url") else [],
        "video_urls": [body["video_url"]] if body.get("video_url") else [],
        "file_urls": [body["file_url"]] if body.get("file_url") else [],
        "job_id": row["job_id"],
        "timestamp": int(received.timestamp() * 1000),
    }


def _incoming(row: dict[str, Any], fate: Fate) -> dict[str, Any]:
    """A recipient's reply, as the incoming webhook's fields (less channel_key and contact)."""
    assert fate.reply is not None
    return {
        "message_id": fate.reply.message_id,
        "direction": "incoming",
        "provider": row["body"].get("provider"),
        "from": row["to"].lstrip("+"),
        "name": None,
        "text": fate.reply.text,
        "image_urls": [],
        "video_urls": [],
        "file_urls": [],
        "timestamp": int(fate.reply.at * 1000),
    }


def _status_fields(fate: Fate, now: float) -> dict[str, Any]:
    fields: dict[str, Any] = {"status": fate.state(now)}
    failure = fate.error(now)
    if failure is not None:
        fields["error"] = {"code": failure[0], "message": failure[1]}
    return fields


def _items(
    incoming: Incoming, record: Record, start: date, end: date, direction: str, lag: float,
    teller: Teller | None,
) -> list[dict[str, Any]]:
    visible = iso(incoming.now - lag)
    if teller is None:
        rows = []
        if direction != "incoming":  # without a story the sandbox only ever sends
            rows = record.query(
                "provider = 'sociocs' AND account = ? AND substr(received_at, 1, 10) "
                "BETWEEN ? AND ? AND received_at <= ?",
                (incoming.account, start.isoformat(), end.isoformat(), visible),
            )
        return [_outbound(row) for row in rows]
    rows = record.query("provider = 'sociocs' AND account = ?", (incoming.account,))
    fates = teller.fates(rows)
    first, last = start.isoformat(), end.isoformat()
    dated: list[tuple[float, dict[str, Any]]] = []
    for row in rows:
        fate = fates[row["message_id"]]
        if direction != "incoming" and row["received_at"] <= visible \
                and first <= row["received_at"][:10] <= last:
            item = {**_outbound(row), **_status_fields(fate, incoming.now)}
            dated.append((fate.accepted_at, item))
        reply = fate.reply
        if direction != "outbound" and reply is not None and reply.at <= incoming.now - lag \
                and first <= iso(reply.at)[:10] <= last:
            dated.append((reply.at, _incoming(row, fate)))
    return [item for _, item in sorted(dated, key=lambda pair: pair[0])]


def search_messages(
    incoming: Incoming, record: Record, *, lag: float = 0.0, teller: Teller | None = None
) -> Reply:
    """``GET /messages/search?text=`` (SOC api/messaging/search.md): items containing ``text``
    (case-insensitive; how Sociocs matches is not documented)."""
    text = incoming.url.params.get("text")
    if not text:
        return error(400, "text is required.")
    window = _window(incoming)
    if isinstance(window, Reply):
        return window
    needle = text.casefold()
    items = [item for item in _items(incoming, record, *window, lag, teller)
             if needle in (item.get("text") or "").casefold()]
    return json_reply(200, {"status": "success", "data": items})


def unreplied(
    incoming: Incoming, record: Record, *, lag: float = 0.0, teller: Teller | None = None
) -> Reply:
    """``GET /messages/unreplied`` (SOC api/messaging/get-unreplied.md): incoming messages
    with no outbound message to that number after them."""
    window = _window(incoming)
    if isinstance(window, Reply):
        return window
    start, end, _ = window
    items = _items(incoming, record, start, end, "both", lag, teller)
    last_out: dict[str, int] = {}
    for item in items:
        if item["direction"] == "outbound":
            number = item["to"].lstrip("+")
            last_out[number] = max(last_out.get(number, 0), item["timestamp"])
    waiting = [item for item in items if item["direction"] == "incoming"
               and last_out.get(item["from"], 0) <= item["timestamp"]]
    return json_reply(200, {"status": "success", "data": waiting})


def bulk_jobs(incoming: Incoming, record: Record, *, lag: float = 0.0) -> Reply:
    """``GET /messages/bulk`` (SOC api/messaging/bulk-list.md): at most 100 jobs, newest first.

    The job fields are not documented; these are ours: ``job_id``, ``status``
    (``executed``), ``recipients``, ``created_at``.
    """
    rows = record.query(
        "provider = 'sociocs' AND account = ? AND job_id IS NOT NULL AND received_at <= ?",
        (incoming.account, iso(incoming.now - lag)),
    )
    jobs: dict[str, dict[str, Any]] = {}
    for row in rows:
        job = jobs.setdefault(row["job_id"], {
            "job_id": row["job_id"], "status": "executed", "recipients": 0,
            "created_at": row["received_at"]})
        job["recipients"] += 1
    newest = sorted(jobs.values(), key=lambda j: j["created_at"], reverse=True)[:100]
    return json_reply(200, {"status": "success", "data": newest})


def is_blocked(incoming: Incoming, record: Record, teller: Teller | None) -> Reply:
    """``GET /contacts/isblocked/{phone}`` (SOC api/contacts/is-blocked.md).

    In the sandbox a number is blocked once its owner opted out (the story's STOP replies
    and pre-existing opt-outs); whether Sociocs blocks on STOP by itself is not documented.
    """
    phone = incoming.params["phone"]
    if not _TO.match(phone):
        return error(400, *_check_to(phone, "phone_number"))
    blocked = False
    if teller is not None:
        number = e164(phone)
        rows = record.query(
            "provider = 'sociocs' AND account = ? AND \"to\" = ?", (incoming.account, number))
        blocked = teller.opted_out(number, rows, incoming.now)
    return json_reply(200, {"status": "success", "data": {"is_blocked": blocked}})


def subscribe(incoming: Incoming) -> tuple[Reply, dict[str, Any] | None]:
    """``POST /webhook-subscriptions`` (SOC api/webhooks/add.md): the reply and the subscription."""
    body = _body(incoming)
    if isinstance(body, Reply):
        return body, None
    errors = [f"{name} is required." for name in ("platform", "subscriber_reference_id",
                                                  "webhook_url")
              if not isinstance(body.get(name), str) or not body[name].strip()]
    url = body.get("webhook_url")
    if isinstance(url, str) and url and not _URL.match(url):
        errors.append("webhook_url must be an http(s) URL.")
    events = body.get("events", ["messages"])
    if not isinstance(events, list) or not set(events) <= {"messages", "status_updates"}:
        errors.append("events must be an array of messages and status_updates.")
    if errors:
        return error(400, *errors), None
    subscription = {
        "account": incoming.account,
        "subscriber_reference_id": body["subscriber_reference_id"],
        "webhook_url": url,
        "events": list(events),
        "subevents": (body.get("subevents") or {}).get("status_updates"),
        "secret": body.get("secret"),
        "provider": body.get("provider"),
    }
    data = {"id": body["subscriber_reference_id"]}
    return json_reply(200, {"status": "success", "data": data}), subscription


def status_payload(fate: Fate, state: str) -> dict[str, Any]:
    """The status webhook body (SOC api/webhooks/introduction.md, "Failed message")."""
    event_data: dict[str, Any] = {"status": state}
    if fate.error_code is not None and state == fate.final:
        event_data["error"] = {"code": fate.error_code, "message": ERRORS[fate.error_code]}
        event_data["provider_err_obj"] = {
            "status": 400, "code": fate.error_code,
            "moreInfo": f"https://www.twilio.com/docs/errors/{fate.error_code}", "error": True,
        }
    return {"message_id": fate.message_id, "event": "status_update", "event_data": event_data}


def incoming_payload(row: dict[str, Any], fate: Fate) -> dict[str, Any]:
    """The incoming-message webhook body (SOC api/webhooks/introduction.md, first example)."""
    item = _incoming(row, fate)
    return {
        "message_id": item["message_id"],
        "event": "message",
        "provider": item["provider"],
        "channel_key": row["channel"],  # masked: the record never holds the key itself
        "direction": "incoming",
        "from": item["from"],
        "to": None,
        "name": None,
        "text": item["text"],
        "video_urls": [],
        "image_urls": [],
        "file_urls": [],
        "timestamp": item["timestamp"],
    }
