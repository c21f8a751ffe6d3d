"""TextUs ("Next" API): SMS and WhatsApp through ``POST /{account}/messages`` (seed 003).

Authenticated with ``Authorization: Bearer <token>``; both ``Accept`` and ``Content-Type``
are TextUs's own ``application/vnd.textus+jsonld`` (docs/providers/textus.md#auth-and-headers).
Each request goes to one number (``to`` as a string), so every row gets its own answer and
message id: a list in ``to`` is answered 202 with no body and no ids (seed 003).

>>> from campaignkit.channels import TextUs
>>> TextUs("my_account", "token", "sms")
<TextUs textus:sms base_url='https://next.textus.com'>
"""

from __future__ import annotations

import json
import logging
import posixpath
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, get_args
from urllib.parse import quote, urlsplit

import httpx
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, SecretStr

from .._errors import ChannelError
from ..message import Media
from ..problems import Problem, row_number
from ._base import (
    Channel,
    RateLimit,
    Receipt,
    Row,
    TextOnly,
    empty_variable_message,
    http_reason,
    media_url_message,
    problems_per_row,
    problems_series,
    response_json,
    row_media,
    row_template,
    row_text,
    row_to,
    variable_leaves,
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

__all__ = ["ATTACHMENT_TYPES", "TextUs", "TextUsChannel"]

logger = logging.getLogger(__name__)

TextUsChannel = Literal["sms", "whatsapp"]
MEDIA_TYPE = "application/vnd.textus+jsonld"

#: The attachment types seed 003 lists (.png, .jpg/.jpeg, .gif, .rtf, .pdf, .ics, .vcf/.vcard)
#: as MIME types (the mapping is ours: docs/providers/textus.md), by extension.
ATTACHMENT_TYPES: dict[str, str] = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".rtf": "application/rtf",
    ".pdf": "application/pdf",
    ".ics": "text/calendar",
    ".vcf": "text/vcard",
    ".vcard": "text/vcard",
}
#: Every content type accepted for an attachment (RTF and vCard each have two spellings).
ACCEPTED_TYPES = frozenset(ATTACHMENT_TYPES.values()) | {"text/rtf", "text/x-vcard"}
_TYPE_LIST = ".png, .jpg/.jpeg, .gif, .rtf, .pdf, .ics or .vcf/.vcard"


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Attachment(_Wire):
    media_url: str
    content_type: str


class _TemplateWire(_Wire):
    id: str
    variable_values: dict[str, str] | None = None


class _MessageWire(_Wire):
    to: str
    body: str | None = None
    saved_reply: str | None = None
    attachments: list[_Attachment] | None = None
    channel: Literal["whatsapp"] | None = None
    template: _TemplateWire | None = None


def attachment_type(media: Media) -> str | None:
    """The content type TextUs gets for ``media``: its own, else its URL's extension's."""
    if media.content_type:
        return media.content_type.strip().lower()
    extension = posixpath.splitext(urlsplit(media.url).path)[1].lower()
    return ATTACHMENT_TYPES.get(extension)


class TextUs(Channel):
    """Send through TextUs on SMS or WhatsApp, one recipient per request.

    Parameters
    ----------
    account
        The account slug (``GET /accounts``), e.g. ``"my_account"``.
    token
        An API token (Profile -> API Tokens), sent as ``Authorization: Bearer``.
    channel
        ``"sms"`` or ``"whatsapp"`` (text within the 24-hour window, or an approved
        template). Required: which network a campaign goes out on is never a default.
    base_url
        Where the API is: https, or plain http to this machine (the sandbox on
        loopback); point it at the sandbox for a dry run.
    saved_reply
        A saved reply to send from, as its IRI (``"/saved_replies/QxvonQv"``).
    allow_insecure
        Accept a plain-http ``base_url`` to another host: the key then travels
        unencrypted, and a live send prints a warning saying so.

    A row may carry one attachment of a listed type (seed 003: "You can only send one
    attachment per request"); its size limit (under 525 KB) cannot be checked without
    downloading it, so it is not.

    >>> channel = TextUs("my_account", "token", "sms")
    >>> row = {"to": "+13035551234", "text": "New phone who dis?", "media": (), "template": None}
    >>> channel.describe(channel.build_request(row, key="+13035551234"))["body"]
    {'to': '+13035551234', 'body': 'New phone who dis?'}
    """

    provider: ClassVar[str] = "textus"
    # Per token, every request counted (docs/providers/textus.md#limits).
    send_limit: ClassVar[RateLimit | None] = RateLimit(
        1_000, 300, "https://apidocs.next.textus.com/overview/rate_limiting")
    default_rate: ClassVar[float] = 3.0
    default_concurrency: ClassVar[int] = 2

    def __init__(
        self,
        account: str,
        token: str | SecretStr,
        channel: TextUsChannel,
        *,
        base_url: str = "https://next.textus.com",
        saved_reply: str | None = None,
        allow_insecure: bool = False,
    ) -> None:
        if channel not in get_args(TextUsChannel):
            raise ChannelError(
                f'TextUs channel {channel!r} is not "sms" or "whatsapp": pick the network the '
                "campaign goes out on"
            )
        if not account or not account.strip():
            raise ChannelError(
                'TextUs account is empty: give the account slug, e.g. "my_account"'
            )
        self._token = check_secret(
            token, name="TextUs token", header=True,
            fix="create an API token under Profile -> API Tokens",
        )
        if saved_reply is not None and not saved_reply.startswith("/saved_replies/"):
            raise ChannelError(
                f"TextUs saved_reply {saved_reply!r} is not a saved reply IRI: write it like "
                '"/saved_replies/QxvonQv"'
            )
        self.account = account.strip()
        self.channel: TextUsChannel = channel
        self.allow_insecure = allow_insecure
        self.base_url = base_url  # checked: https, or http to loopback (see allow_insecure)
        self.saved_reply = saved_reply

    @property
    def label(self) -> str:
        """``textus:sms`` or ``textus:whatsapp``."""
        return f"textus:{self.channel}"

    def fingerprint(self) -> dict[str, Any]:
        """Account, channel and base URL (the token says who sends, not where to)."""
        return {
            "provider": "textus",
            "account": self.account,
            "channel": self.channel,
            "base_url": public_url(self.base_url),
        }

    def secrets(self) -> tuple[str, ...]:
        """The API token and any userinfo in ``base_url``."""
        return (self._token.get_secret_value(), *userinfo_secrets(self.base_url))

    # -- rules -------------------------------------------------------------------------

    def problems(self, row: Row, *, row_number: int | None) -> tuple[Problem, ...]:
        """Every rule of seed 003 this row breaks."""
        found: list[Problem] = []

        def add(column: str, message: str) -> None:
            found.append(Problem(row_number, column, message, "content"))

        text, media, template = row_text(row), row_media(row), row_template(row)
        if text is None and not media and template is None and self.saved_reply is None:
            add(
                "text",
                "the message is empty: give it text, an attachment or (on WhatsApp) a template",
            )
        for item in media:
            bad_url = media_url_message(item.url)
            if bad_url:
                add("media", bad_url)
        if len(media) > 1:
            add(
                "media",
                f"TextUs sends one attachment per message and this row has {len(media)}: keep one",
            )
        for item in media[:1]:
            kind = attachment_type(item)
            if kind is None:
                add(
                    "media",
                    f'cannot tell the type of attachment "{item.url}" from its name: give '
                    f"Media(content_type=...) for a {_TYPE_LIST} file",
                )
            elif kind not in ACCEPTED_TYPES:
                add(
                    "media",
                    f'attachment type "{kind}" is not one TextUs sends: attach a {_TYPE_LIST} file',
                )
        if template is not None:
            if self.channel != "whatsapp":
                add(
                    "template",
                    'WhatsApp templates are sent only on channel "whatsapp": remove the template '
                    'or use TextUs(..., channel="whatsapp")',
                )
            if text is not None:
                # Seed 003: "The body field is not used when sending a template."
                add(
                    "text",
                    "TextUs does not use the body when sending a template, so this text would "
                    "not be sent: remove the text or the template",
                )
            if media:
                add(
                    "media",
                    "a TextUs template message carries no attachment: remove the media or the "
                    "template",
                )
            if not template.id.strip():
                add("template", 'template id is empty: give the TextUs template id, e.g. "dkDdrbR"')
            for key, value in template.variables.items():
                if isinstance(value, dict):
                    add(
                        "template",
                        f'template variable "{key}" is a map; TextUs variable_values are plain '
                        "values named like the template's variables",
                    )
            for path, value in variable_leaves(template):
                if isinstance(value, str) and not value.strip():
                    add("template", empty_variable_message(path))
        return tuple(found)

    def problems_frame(self, frame: pd.DataFrame) -> pd.Series:
        """`problems` of every row; text-only rows by array operations (see `Channel`)."""
        plain = TextOnly.of(frame)
        found = problems_per_row(self, frame, np.flatnonzero(~plain.rows))
        if self.saved_reply is None:
            labels = frame.index
            for position in np.flatnonzero(plain.rows & (plain.length < 0)).tolist():
                found[position] = (Problem(
                    row_number(labels[position]), "text",
                    "the message is empty: give it text, an attachment or (on WhatsApp) a "
                    "template", "content"),)
        return problems_series(frame, found)

    # -- requests ----------------------------------------------------------------------

    def build_request(self, row: Row, *, key: str) -> httpx.Request:
        """``POST /{account}/messages`` for one row (``key`` is unused: no reference field)."""
        template = row_template(row)
        media = row_media(row)
        wire = _MessageWire(
            to=row_to(row, self.label),
            body=None if template is not None else row_text(row),
            saved_reply=self.saved_reply,
            attachments=[
                _Attachment(media_url=m.url, content_type=attachment_type(m) or "")
                for m in media[:1]
            ] or None,
            channel="whatsapp" if self.channel == "whatsapp" else None,
            template=None if template is None else _TemplateWire(
                id=template.id,
                variable_values={k: v for k, v in template.variables.items() if isinstance(v, str)}
                or None,
            ),
        )
        headers = {
            "Authorization": f"Bearer {self._token.get_secret_value()}",
            "Accept": MEDIA_TYPE,
            "Content-Type": MEDIA_TYPE,
        }
        path = f"/{quote(self.account, safe='')}/messages"
        return self._json_request(
            "POST", path, wire.model_dump(by_alias=True, exclude_none=True), headers
        )

    # -- answers -----------------------------------------------------------------------

    def parse_response(self, response: httpx.Response) -> Receipt:
        """201 with a ``Message`` (its ``id``), 201 or 202 with no body, 422 with no body."""
        status = response.status_code
        body = response_json(response)
        if response.is_success:
            if isinstance(body, dict):
                message_id = body.get("id")
                state = body.get("deliveryState")
                return Receipt(
                    status,
                    True,
                    message_id=None if message_id is None else str(message_id),
                    provider_status=state if isinstance(state, str) else None,
                )
            return Receipt(status, True)  # seed 003: the SavedReply 201 and the 202 have no body
        logger.debug("%s answered HTTP %s", self.label, status)
        if status == 422:
            error = (
                "HTTP 422: TextUs refused the message, e.g. a WhatsApp template that is not "
                "approved (pending or rejected) or variable_values missing a required variable"
            )
        elif status in (401, 403):
            error = f"HTTP {status}: TextUs refused the token: check it (Profile -> API Tokens)"
        elif status == 429:
            error = "HTTP 429: TextUs's rate limit (1,000 requests per 5 minutes per token)"
        elif isinstance(body, dict) and isinstance(body.get("error"), str):
            error = f"HTTP {status}: {body['error']}"
        else:
            error = http_reason(response)
        return Receipt(status, False, error=self.redact(error))

    # -- after the send: statuses, opt-outs, webhooks (follow-up reads) -------------------

    def _get(self, path: str, params: Any = None) -> httpx.Request:
        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}",
                   "Accept": MEDIA_TYPE}
        return httpx.Request("GET", self.base_url + path, params=params, headers=headers)

    def build_status_request(self, message_id: str) -> httpx.Request:
        """``GET /messages/:message`` (apidocs.next.textus.com/docs/messages/get); the id is
        the message's IRI as the send answered it (``/messages/QNDkpL``)."""
        path = message_id if message_id.startswith("/messages/") else f"/messages/{message_id}"
        return self._get(path)

    def parse_status(self, response: httpx.Response) -> Delivery:
        """The ``Message``'s ``deliveryState`` in the shared vocabulary; TextUs gives no error
        codes, so a failure's ``error_text`` is its ``friendlyStateDescription``."""
        body = ok_json(response, "the message", self.label)
        if not isinstance(body, dict):
            raise ReadFailed(f"{self.label}: the message answer is not a Message")
        return textus_delivery(body)

    def build_opt_outs_request(self, numbers: Sequence[str]) -> httpx.Request:
        """``GET /:account/opt_outs?exact[]=...`` for these E.164 numbers
        (apidocs.next.textus.com/docs/opt_outs/index)."""
        path = f"/{quote(self.account, safe='')}/opt_outs"
        return self._get(path, [("exact[]", number) for number in numbers])

    def parse_opt_outs(self, response: httpx.Response) -> set[str]:
        """The E.164 numbers of an ``OptOut`` collection (from each ``id``, else the
        ``formattedPhoneNumber``, ten digits read as North American)."""
        body = ok_json(response, "the opt-outs", self.label)
        members = body.get("members") if isinstance(body, dict) else None
        if not isinstance(members, list):
            raise ReadFailed(f"{self.label}: the opt-outs answer has no members list")
        numbers = set()
        for member in members:
            if not isinstance(member, dict):
                continue
            tail = str(member.get("id") or "").rsplit("/", 1)[-1]
            if tail.startswith("+"):
                numbers.add("+" + "".join(ch for ch in tail if ch.isdigit()))
                continue
            digits = "".join(ch for ch in str(member.get("formattedPhoneNumber") or "")
                             if ch.isdigit())
            if digits:
                numbers.add(("+1" if len(digits) == 10 else "+") + digits)
        return numbers

    @staticmethod
    def parse_webhook(body: bytes) -> Delivery | Inbound | None:
        """A TextUs ``WebhookDelivery`` (apidocs.next.textus.com/overview/webhooks):
        ``message.delivered`` / ``message.failed`` / ``message.unknown`` as a `Delivery`,
        ``message.received`` as an `Inbound`; the message is the payload's ``Message``
        object and the number the conversation's ``phoneNumber``."""
        try:
            payload = json.loads(body)
        except ValueError:
            return None
        if not isinstance(payload, dict) or payload.get("@type") != "WebhookDelivery":
            return None
        action = payload.get("action")
        message = next((v for v in payload.values()
                        if isinstance(v, dict) and v.get("@type") == "Message"), None)
        conversation = payload.get("conversation")
        number = e164(conversation.get("phoneNumber")) if isinstance(conversation, dict) else None
        if message is None:
            return None
        if action == "message.received":
            if number is None:
                return None
            return Inbound(text_or_none(message.get("id")), number,
                           text_or_none(message.get("body")),
                           moment(message.get("displayTimestamp") or payload.get("timestamp")))
        if isinstance(action, str) and action.startswith("message."):
            found = textus_delivery(message)
            return Delivery(**{**_fields(found), "to": number})
        return None


#: ``deliveryState`` values (apidocs.next.textus.com/types/Message) in the shared vocabulary;
#: ``failed_transient`` is retried by TextUs, so it is not final.
TEXTUS_STATES: dict[str, DeliveryState] = {
    "created": "queued", "scheduled": "queued", "queued": "queued",
    "failed_transient": "queued", "dispatched": "sent", "delivered": "delivered",
    "received": "delivered", "failed": "failed", "unknown": "unknown",
}


def textus_delivery(message: dict[str, Any]) -> Delivery:
    """A ``Message`` object as a `Delivery`."""
    said = message.get("deliveryState")
    delivery = state(TEXTUS_STATES, said)
    friendly = text_or_none(message.get("friendlyStateDescription"))
    return Delivery(
        message_id=text_or_none(message.get("id")),
        delivery=delivery,
        provider_status=text_or_none(said),
        at=moment(message.get("latestEventAt") or message.get("displayTimestamp")),
        error_text=friendly if delivery in ("failed", "unknown") else None,
        text=text_or_none(message.get("body")),
    )


def _fields(delivery: Delivery) -> dict[str, Any]:
    return {name: getattr(delivery, name) for name in Delivery.__slots__}
