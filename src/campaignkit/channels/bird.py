"""Bird Channels API: ``POST /workspaces/{ws}/channels/{ch}/messages`` (seed 004).

Authenticated with ``Authorization: AccessKey <key>`` (docs/providers/bird.md#auth: the seed's
``Bearer jwt`` is a generator artefact). Every request carries ``reference`` = the row's
key, so after an ambiguous failure a lookup can prove whether Bird has the message
(docs/reliability.md#looking-a-message-up: Bird is the one provider with a strong lookup).

>>> from campaignkit.channels import Bird
>>> Bird("a1405560-c8d3-4b1a-877d-3f449ad95352", "16e1df9e-c6ac-406b-b1ce-13f34d0dea08", "key")
<Bird bird base_url='https://api.bird.com'>
"""

from __future__ import annotations

import logging
import mimetypes
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

import httpx
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from .._errors import ChannelError
from ..message import Media, Template
from ..problems import Problem, row_number
from ._base import (
    Channel,
    LookupInconclusive,
    RateLimit,
    Receipt,
    Row,
    TextOnly,
    http_reason,
    media_url_message,
    parse_aware,
    problems_per_row,
    problems_series,
    response_json,
    row_media,
    row_template,
    row_text,
    row_to,
)
from ._outcomes import (
    Delivery,
    DeliveryState,
    Inbound,
    ReadFailed,
    e164,
    moment,
    ok_json,
    state,
    text_or_none,
)
from ._secrets import check_secret, public_url, userinfo_secrets

__all__ = ["Bird"]

logger = logging.getLogger(__name__)

#: "up to an array of 10 media URLs" (seed 004; prose only, docs/providers/bird.md).
MAX_MEDIA = 10
#: Tags: at most 10, each 1-50 characters of this pattern (spec ``Tags``, ``Name-3``).
MAX_TAGS = 10
TAG = re.compile(r"^[a-zA-Z0-9\-_ ]{1,50}$")
#: "Messages scheduled farther than 35 days will be rejected." (spec ``ScheduledFor``)
MAX_SCHEDULE_AHEAD = timedelta(days=35)
#: Message statuses that mean Bird will not deliver it (spec ``Status-3``).
_REFUSED = frozenset({"rejected", "sending_failed", "delivery_failed", "deleted", "skipped"})
_MIME = mimetypes.MimeTypes()  # Python's built-in table only: the same answer on every machine


# -- the wire format (spec CreateMessage; camelCase names as aliases) -------------------


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class _Contact(_Wire):
    identifier_key: Literal["phonenumber"] = Field("phonenumber", alias="identifierKey")
    identifier_value: str = Field(alias="identifierValue")


class _Receiver(_Wire):
    contacts: list[_Contact]


class _Text(_Wire):
    text: str


class _TextBody(_Wire):
    type: Literal["text"] = "text"
    text: _Text


class _ImageItem(_Wire):
    media_url: str = Field(alias="mediaUrl")


class _Images(_Wire):
    images: list[_ImageItem]
    text: str | None = None


class _ImageBody(_Wire):
    type: Literal["image"] = "image"
    image: _Images


class _FileItem(_Wire):
    media_url: str = Field(alias="mediaUrl")
    content_type: str = Field(alias="contentType")
    filename: str | None = None


class _Files(_Wire):
    files: list[_FileItem]
    text: str | None = None


class _FileBody(_Wire):
    type: Literal["file"] = "file"
    file: _Files


class _Parameter(_Wire):
    type: Literal["string"] = "string"
    key: str
    value: str


class _TemplateWire(_Wire):
    project_id: str = Field(alias="projectId")
    version: str | None = None
    locale: str | None = None
    parameters: list[_Parameter] | None = None


class _MessageWire(_Wire):
    receiver: _Receiver
    body: _TextBody | _ImageBody | _FileBody | None = None
    template: _TemplateWire | None = None
    reference: str
    scheduled_for: str | None = Field(None, alias="scheduledFor")
    validity: int | None = None
    tags: list[str] | None = None


def file_type(media: Media) -> str | None:
    """The ``contentType`` of a file: the media's own, else guessed from its URL's extension."""
    if media.content_type:
        return media.content_type
    guessed, _ = _MIME.guess_type(media.url.split("?")[0], strict=False)
    return guessed


class Bird(Channel):
    """Send through a Bird channel (SMS, MMS or any channel of the Channels API).

    Parameters
    ----------
    workspace_id, channel_id
        The workspace and channel (UUIDs) the messages go out on.
    access_key
        A Bird access key allowed to create messages, sent as ``Authorization: AccessKey``.
    base_url
        Where the API is: https, or plain http to this machine (the sandbox on
        loopback); point it at the sandbox for a dry run.
    tags
        Up to 10 tags of 1-50 letters, digits, ``-``, ``_`` or spaces (Bird lower-cases them).
    validity
        Seconds the message stays valid (Bird's default depends on the channel).
    scheduled_for
        When to send: RFC 3339 with an offset, at most 35 days ahead. A string is sent as
        written. A value that breaks either rule is a problem on every row.
    now
        The clock for the 35-day rule (``datetime.now(UTC)`` unless a test gives its own).
    allow_insecure
        Accept a plain-http ``base_url`` to another host: the key then travels
        unencrypted, and a live send prints a warning saying so.

    A row with only images becomes an ``image`` body (up to 10); with any other file a
    ``file`` body, where each file needs a content type (its own, else its extension's).
    A template (``projectId`` = `Template.id`) is sent instead of a body.

    >>> channel = Bird("a1405560-c8d3-4b1a-877d-3f449ad95352",
    ...                "16e1df9e-c6ac-406b-b1ce-13f34d0dea08", "key")
    >>> row = {"to": "+31612345678", "text": "Single text message", "media": (),
    ...        "template": None}
    >>> channel.describe(channel.build_request(row, key="row-2"))["body"]["body"]
    {'type': 'text', 'text': {'text': 'Single text message'}}
    """

    provider: ClassVar[str] = "bird"
    supports_lookup: ClassVar[bool] = True
    # Per workspace, all channels together (docs/providers/bird.md#limits).
    send_limit: ClassVar[RateLimit | None] = RateLimit(
        500, 1, "https://docs.bird.com/api/channels-api/rate-limit")
    lookup_limit: ClassVar[RateLimit | None] = RateLimit(
        50, 1, "https://docs.bird.com/api/channels-api/rate-limit")
    # A tenth of the workspace's POST limit: other apps of the workspace share it.
    default_rate: ClassVar[float] = 50.0
    default_concurrency: ClassVar[int] = 8

    def __init__(
        self,
        workspace_id: str,
        channel_id: str,
        access_key: str | SecretStr,
        *,
        base_url: str = "https://api.bird.com",
        tags: Sequence[str] = (),
        validity: int | None = None,
        scheduled_for: str | datetime | None = None,
        now: Callable[[], datetime] | None = None,
        allow_insecure: bool = False,
    ) -> None:
        self.workspace_id = _uuid(workspace_id, "workspace_id")
        self.channel_id = _uuid(channel_id, "channel_id")
        self._access_key = check_secret(
            access_key, name="Bird access_key", header=True,
            fix="create an access key in Bird's settings",
        )
        if isinstance(tags, str):
            raise ChannelError(f"Bird tags must be a list of tags, not the string {tags!r}")
        self.tags = tuple(tags)
        if len(self.tags) > MAX_TAGS:
            raise ChannelError(
                f"Bird accepts up to {MAX_TAGS} tags per message and {len(self.tags)} were given: "
                "keep 10 or fewer"
            )
        bad = [tag for tag in self.tags if not TAG.match(tag)]
        if bad:
            raise ChannelError(
                f"Bird tag(s) {bad} break the rule: 1-50 letters, digits, '-', '_' or spaces"
            )
        if validity is not None and (isinstance(validity, bool) or validity < 0):
            raise ChannelError(f"Bird validity {validity!r} must be a whole number of seconds >= 0")
        self.validity = validity
        self.allow_insecure = allow_insecure
        self.base_url = base_url  # checked: https, or http to loopback (see allow_insecure)
        self.scheduled_for = scheduled_for
        self._now = now or (lambda: datetime.now(UTC))
        self._schedule: tuple[str, datetime] | None = None
        self._schedule_problem: str | None = None
        if scheduled_for is not None:
            checked = parse_aware(scheduled_for, rfc3339=True)
            if isinstance(checked, str):
                shown = (
                    scheduled_for.isoformat()
                    if isinstance(scheduled_for, datetime)
                    else scheduled_for
                )
                self._schedule_problem = (
                    f'scheduledFor "{shown}" {checked}: write it as RFC 3339 with a UTC offset, '
                    'e.g. "2026-12-24T09:00:00Z"'
                )
            else:
                self._schedule = checked

    @property
    def label(self) -> str:
        """``bird``."""
        return "bird"

    def fingerprint(self) -> dict[str, Any]:
        """Workspace, channel and base URL."""
        return {
            "provider": "bird",
            "workspace_id": self.workspace_id,
            "channel_id": self.channel_id,
            "base_url": public_url(self.base_url),
        }

    def secrets(self) -> tuple[str, ...]:
        """The access key and any userinfo in ``base_url``."""
        return (self._access_key.get_secret_value(), *userinfo_secrets(self.base_url))

    @property
    def _path(self) -> str:
        return f"/workspaces/{self.workspace_id}/channels/{self.channel_id}/messages"

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"AccessKey {self._access_key.get_secret_value()}",
            "Accept": "application/json",
        }

    # -- rules -------------------------------------------------------------------------

    def problems(self, row: Row, *, row_number: int | None) -> tuple[Problem, ...]:
        """Every rule of seed 004 and the spec this row breaks (the 35-day rule uses ``now``)."""
        found: list[Problem] = []

        def add(column: str | None, message: str, kind: Literal["content", "schedule"]) -> None:
            found.append(Problem(row_number, column, message, kind))

        if self._schedule_problem:
            add(None, self._schedule_problem, "schedule")
        elif self._schedule is not None:
            wire, when = self._schedule
            latest = self._now() + MAX_SCHEDULE_AHEAD
            if when > latest:
                add(
                    None,
                    f'scheduledFor "{wire}" is more than 35 days ahead and Bird rejects it: '
                    f"schedule it at {latest.isoformat(timespec='seconds')} or earlier",
                    "schedule",
                )
        text, media, template = row_text(row), row_media(row), row_template(row)
        if text is None and not media and template is None:
            add("text", "the message is empty: give it text, media or a template", "content")
        for item in media:
            bad_url = media_url_message(item.url)
            if bad_url:
                add("media", bad_url, "content")
        if len(media) > MAX_MEDIA:
            add(
                "media",
                f"Bird sends up to {MAX_MEDIA} images or files per message and this row has "
                f"{len(media)}: keep {MAX_MEDIA} or fewer",
                "content",
            )
        if not _all_images(media):
            for item in media:
                if file_type(item) is None:
                    add(
                        "media",
                        f'cannot tell the content type of file "{item.url}" from its name: give '
                        'Media(content_type=...), e.g. "application/pdf"',
                        "content",
                    )
        if template is not None:
            # Seed 004: "body" in all cases except templates, where only "template" is set.
            if text is not None:
                add(
                    "text",
                    "a Bird template message sends only the template, so this text would not be "
                    "sent: remove the text or the template",
                    "content",
                )
            if media:
                add(
                    "media",
                    "a Bird template message carries no media: remove the media or the template",
                    "content",
                )
            found.extend(
                Problem(row_number, "template", message, "content")
                for message in _template_rules(template)
            )
        return tuple(found)

    def problems_frame(self, frame: pd.DataFrame) -> pd.Series:
        """`problems` of every row; text-only rows by array operations (see `Channel`).

        The 35-day rule reads the clock once for the whole frame.
        """
        plain = TextOnly.of(frame)
        found = problems_per_row(self, frame, np.flatnonzero(~plain.rows))
        schedule: str | None = self._schedule_problem
        if schedule is None and self._schedule is not None:
            wire, when = self._schedule
            latest = self._now() + MAX_SCHEDULE_AHEAD
            if when > latest:
                schedule = (f'scheduledFor "{wire}" is more than 35 days ahead and Bird rejects '
                            f"it: schedule it at {latest.isoformat(timespec='seconds')} or "
                            "earlier")
        empty = plain.length < 0
        flagged = plain.rows & empty if schedule is None else plain.rows
        labels = frame.index
        for position in np.flatnonzero(flagged).tolist():
            number = row_number(labels[position])
            problems: list[Problem] = []
            if schedule is not None:
                problems.append(Problem(number, None, schedule, "schedule"))
            if empty[position]:
                problems.append(Problem(number, "text", "the message is empty: give it text, "
                                        "media or a template", "content"))
            found[position] = tuple(problems)
        return problems_series(frame, found)

    # -- requests ----------------------------------------------------------------------

    def build_request(self, row: Row, *, key: str) -> httpx.Request:
        """The create-message request for one row, with ``reference`` = ``key``."""
        template = row_template(row)
        wire = _MessageWire(
            receiver=_Receiver(contacts=[_Contact(
                identifierKey="phonenumber", identifierValue=row_to(row, self.label))]),
            body=None if template is not None else _body(row_text(row), row_media(row)),
            template=None if template is None else _template(template),
            reference=key,
            scheduledFor=None if self._schedule is None else self._schedule[0],
            validity=self.validity,
            tags=list(self.tags) or None,
        )
        headers = {**self._headers(), "Content-Type": "application/json"}
        return self._json_request(
            "POST", self._path, wire.model_dump(by_alias=True, exclude_none=True), headers
        )

    def build_lookup_request(self, key: str) -> httpx.Request:
        """``GET .../messages?reference=<key>``: this channel's messages with that reference."""
        return httpx.Request(
            "GET",
            self.base_url + self._path,
            params={"reference": key},
            headers=self._headers(),
        )

    # -- answers -----------------------------------------------------------------------

    def parse_response(self, response: httpx.Response) -> Receipt:
        """202 with the ``Message`` (its ``id`` and ``status``); errors ``{code, message}``."""
        status = response.status_code
        body = response_json(response)
        if not isinstance(body, dict):
            return Receipt(status, False, error=http_reason(response))
        if response.is_success:
            return _receipt(status, body)
        logger.debug("%s answered HTTP %s", self.label, status)
        code, message = body.get("code"), body.get("message")
        error = ": ".join(str(part) for part in (code, message) if part) or http_reason(response)
        details = body.get("details")
        if isinstance(details, dict) and details:
            error += " (" + "; ".join(
                f"{field}: {', '.join(map(str, reasons)) if isinstance(reasons, list) else reasons}"
                for field, reasons in details.items()
            ) + ")"
        return Receipt(status, False, error=self.redact(error))

    def parse_lookup(self, response: httpx.Response, key: str) -> Receipt | None:
        """The message Bird holds with ``reference == key``, or None when proven absent.

        A page ``{"results": [...], "nextPageToken": ...}`` is searched for the reference
        (whether Bird filters by it server-side is not documented, so it is checked here).
        It proves absence only when it is the whole list (no ``nextPageToken``); any other
        answer raises `LookupInconclusive` and the row stays in doubt.
        """
        status = response.status_code
        body = response_json(response)
        if not isinstance(body, dict):
            got = http_reason(response)
        elif not response.is_success:
            said = ": ".join(str(body[k]) for k in ("code", "message") if body.get(k))
            got = f"HTTP {status}" + (f" ({said})" if said else "")
        else:
            got = ""
        if got:
            raise LookupInconclusive(self.redact(
                f"{self.label}: looking up reference {key!r} got {got}; the row stays in "
                "doubt: look it up again later"
            ))
        results = body.get("results")
        if not isinstance(results, list):
            raise LookupInconclusive(
                f"{self.label}: the lookup of reference {key!r} has no results list; "
                "the row stays in doubt, look it up again later"
            )
        for message in results:
            if isinstance(message, dict) and message.get("reference") == key:
                return _receipt(status, message)
        if body.get("nextPageToken"):
            raise LookupInconclusive(
                f"{self.label}: reference {key!r} is not on the first page of messages and "
                "there are more pages; the row stays in doubt"
            )
        return None

    # -- after the send: statuses, lists, replies (follow-up reads) -----------------------

    def build_status_request(self, message_id: str) -> httpx.Request:
        """``GET .../messages/{messageId}``: one message as it is now."""
        return httpx.Request("GET", f"{self.base_url}{self._path}/{message_id}",
                             headers=self._headers())

    def parse_status(self, response: httpx.Response) -> Delivery:
        """A ``Message``: ``status`` in the shared vocabulary, ``failure`` ``{code,
        description}`` as the error, and the billed segments as the number of ``parts``."""
        body = ok_json(response, "the message", self.label)
        if not isinstance(body, dict):
            raise ReadFailed(f"{self.label}: the message answer is not a Message")
        return bird_delivery(body)

    def build_list_request(
        self, start: datetime, end: datetime, *, page_token: str | None = None,
        direction: Literal["incoming", "outgoing"] | None = None,
    ) -> httpx.Request:
        """``GET .../messages?startAt=&endAt=&limit=100`` (newest first, paged by token)."""
        params = {"startAt": _rfc3339(start), "endAt": _rfc3339(end), "limit": "100"}
        if page_token:
            params["pageToken"] = page_token
        if direction:
            params["direction"] = direction
        return httpx.Request("GET", self.base_url + self._path, params=params,
                             headers=self._headers())

    def parse_list(
        self, response: httpx.Response
    ) -> tuple[list[Delivery], list[Inbound], str | None]:
        """Outgoing messages, incoming ones (replies) and the next page's token."""
        body = ok_json(response, "the message list", self.label)
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise ReadFailed(f"{self.label}: the message list has no results")
        deliveries, inbound = [], []
        for message in results:
            if not isinstance(message, dict):
                continue
            if message.get("direction") == "incoming":
                found = bird_inbound(message)
                if found is not None:
                    inbound.append(found)
            else:
                deliveries.append(bird_delivery(message))
        token = body.get("nextPageToken")
        return deliveries, inbound, token if isinstance(token, str) and token else None

    def build_interactions_request(self, message_id: str) -> httpx.Request:
        """``GET .../messages/{messageId}/interactions``."""
        return httpx.Request("GET", f"{self.base_url}{self._path}/{message_id}/interactions",
                             headers=self._headers())

    def parse_interactions(self, response: httpx.Response) -> list[tuple[str, datetime | None]]:
        """``(type, createdAt)`` of each interaction, as listed (the object is not in the
        stored spec: ``type`` and ``createdAt`` are read where present)."""
        body = ok_json(response, "the interactions", self.label)
        results = body.get("results") if isinstance(body, dict) else None
        return [(str(item.get("type")), moment(item.get("createdAt")))
                for item in results or [] if isinstance(item, dict)]


def _receipt(status: int, message: dict[str, Any]) -> Receipt:
    message_id, state = message.get("id"), message.get("status")
    refused = state in _REFUSED
    reason = message.get("reason") or message.get("details")
    return Receipt(
        status,
        not refused,
        message_id=None if message_id is None else str(message_id),
        provider_status=state if isinstance(state, str) else None,
        error=(f"Bird {state} the message" + (f": {reason}" if reason else ""))
        if refused
        else None,
    )


def _all_images(media: tuple[Media, ...]) -> bool:
    return all(item.kind == "image" for item in media)


def _body(text: str | None, media: tuple[Media, ...]) -> _TextBody | _ImageBody | _FileBody:
    if not media:
        return _TextBody(text=_Text(text=text or ""))
    if _all_images(media):
        images = [_ImageItem(mediaUrl=m.url) for m in media]
        return _ImageBody(image=_Images(images=images, text=text))
    return _FileBody(
        file=_Files(
            files=[
                _FileItem(mediaUrl=m.url, contentType=file_type(m) or "", filename=m.filename)
                for m in media
            ],
            text=text,
        )
    )


def _template_rules(template: Template) -> list[str]:
    rules = []
    if not template.id.strip():
        rules.append("template id is empty: give the Studio project id (projectId)")
    for key, value in template.variables.items():
        if isinstance(value, dict):
            rules.append(f'template variable "{key}" is a map; Bird parameters are plain values')
        elif not key:
            rules.append("a template variable has an empty name: name every parameter")
    return rules


def _template(template: Template) -> _TemplateWire:
    parameters = [
        _Parameter(key=key, value=value)
        for key, value in template.variables.items()
        if isinstance(value, str)
    ]
    return _TemplateWire(
        projectId=template.id,
        version=template.version,
        locale=template.locale,
        parameters=parameters or None,
    )


def _uuid(value: str, name: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ChannelError(
            f"Bird {name} {value!r} is not a UUID: copy it from the channel's page in Bird"
        ) from None


#: ``Status-3`` of the spec in the shared vocabulary. ``skipped`` and ``deleted`` messages
#: were never delivered, so they count as failed (``provider_status`` keeps the word).
BIRD_STATES: dict[str, DeliveryState] = {
    "accepted": "queued", "processing": "queued", "scheduled": "queued", "sent": "sent",
    "delivered": "delivered", "delivery_failed": "undelivered", "sending_failed": "failed",
    "rejected": "failed", "skipped": "failed", "deleted": "failed",
}


def _rfc3339(moment_: datetime) -> str:
    return moment_.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment_.microsecond // 1000:03d}Z"


def bird_delivery(message: dict[str, Any]) -> Delivery:
    """A Bird ``Message`` as a `Delivery` (an unknown status stays verbatim)."""
    said = message.get("status")
    failure = message.get("failure")
    code = text = None
    if isinstance(failure, dict):
        code = text_or_none(failure.get("code"))
        text = text_or_none(failure.get("description"))
    if text is None and said in _REFUSED:
        text = text_or_none(message.get("reason") or message.get("details"))
    parts = message.get("parts")
    receiver = message.get("receiver")
    contacts = receiver.get("contacts") if isinstance(receiver, dict) else None
    to = None
    if isinstance(contacts, list) and contacts and isinstance(contacts[0], dict):
        to = e164(contacts[0].get("identifierValue"))
    body = message.get("body")
    inner = body.get(body.get("type", "")) if isinstance(body, dict) else None
    return Delivery(
        message_id=text_or_none(message.get("id")),
        delivery=state(BIRD_STATES, said),
        provider_status=text_or_none(said),
        at=moment(message.get("lastStatusAt")),
        error_code=code,
        error_text=text,
        segments_billed=len(parts) if isinstance(parts, list) and parts else None,
        to=to,
        text=text_or_none(inner.get("text")) if isinstance(inner, dict) else None,
        reference=text_or_none(message.get("reference")),
    )


def bird_inbound(message: dict[str, Any]) -> Inbound | None:
    """An incoming Bird ``Message`` (its sender a contact) as an `Inbound`."""
    sender = message.get("sender")
    contact = sender.get("contact") if isinstance(sender, dict) else None
    number = e164(contact.get("identifierValue")) if isinstance(contact, dict) else None
    if number is None:
        return None
    body = message.get("body")
    inner = body.get(body.get("type", "")) if isinstance(body, dict) else None
    text = text_or_none(inner.get("text")) if isinstance(inner, dict) else None
    return Inbound(text_or_none(message.get("id")), number, text,
                   moment(message.get("createdAt")))
