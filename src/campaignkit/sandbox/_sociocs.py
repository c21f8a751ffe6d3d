"""Sociocs: POST /message, POST /messages/bulk, GET /messages (seeds 000-002, providers.md §1).

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

__all__ = ["bulk", "error", "list_messages", "send"]

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
        # The Keap guide posts "Name / Value Pairs" (providers.md §1.1): flat fields only.
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
        # Seed 001: "Supported only when provider is twlo." (single send only, §1.9 S4)
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
    # Seed 002 documents no template for bulk (providers.md §7 #6).
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


def list_messages(incoming: Incoming, record: Record) -> Reply:
    """``GET /messages?start_date=&end_date=&direction=`` (SOC api/messaging/get.md).

    The message object's fields are not documented; items follow the webhook payload
    (SOC api/webhooks/introduction.md) without ``channel_key`` (a secret) and ``from``.
    """
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
    rows = []
    if direction != "incoming":  # the sandbox only ever sends
        rows = record.query(
            "provider = 'sociocs' AND account = ? AND substr(received_at, 1, 10) BETWEEN ? AND ?",
            (incoming.account, start.isoformat(), end.isoformat()),
        )
    items = []
    for row in rows:
        body = row["body"]
        recipient = body["recipients"][0] if row["job_id"] else body
        received = datetime.fromisoformat(row["received_at"])
        items.append({
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
        })
    return json_reply(200, {"status": "success", "data": items})
