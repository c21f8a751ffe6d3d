"""Sociocs: Twilio SMS (``twlo``), Twilio WhatsApp (``twlowa``) and Gupshup WhatsApp (``gswa``).

One message is ``POST /message`` (seed 001; docs/providers/sociocs.md#the-message-path: the old
``/messages`` path row is a doc error), many identical ones ``POST /messages/bulk`` (seed 002).
The API key travels in the ``apikey`` header; the channel key travels in the body and is a
secret too.

>>> from campaignkit.channels import Sociocs
>>> Sociocs("key:secret", "twlo_16175550000", "twlo")
<Sociocs sociocs:twlo base_url='https://api.sociocs.com'>
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, ClassVar, Literal, get_args

import httpx
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, SecretStr, field_serializer

from .._errors import ChannelError, ColumnError
from ..message import Media, Template
from ..problems import Problem, row_number
from ._base import (
    Channel,
    Receipt,
    Row,
    TextOnly,
    cell_text,
    empty_variable_message,
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

__all__ = ["ContactSaving", "Sociocs", "SociocsProvider"]

logger = logging.getLogger(__name__)

SociocsProvider = Literal["twlo", "twlowa", "gswa"]

#: Twilio's limit on a message body, which Sociocs enforces (SOC-BUBBLE; docs/providers/sociocs.md).
MAX_TEXT = 1600
# `problems`' words for an empty message (problems_frame says the same; a test checks it)
_EMPTY = ("the message is empty: give it text, one media file (twlo) or a WhatsApp template "
          "(twlowa, gswa)")
#: A Twilio Content SID (TW-OAI ``ContentSid``; docs/providers/sociocs.md).
CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
#: The keys of a Gupshup template's ``variables`` (seed 001, "template for provider gswa").
GSWA_COMPONENTS = ("Header", "Body", "Buttons")
_MEDIA_FIELD = {"image": "image_url", "video": "video_url", "file": "file_url"}

# The meaning of each status code, from the shared include of every endpoint page (seed 001).
_STATUS_MEANING = {
    400: "validation error or a malformed request body",
    401: "authentication failed: check the API key (apikey header)",
    404: "the API endpoint was not found: check base_url",
    429: "the rate limit has been reached",
}


class ContactSaving(BaseModel):
    """Save (or update) each recipient as a Sociocs contact after sending.

    Parameters
    ----------
    save
        Whether to save the contact (Sociocs's own default is ``False``; asking for a
        ``ContactSaving`` means saving, hence ``True`` here).
    list_id
        ``0`` adds to "All Contacts"; otherwise the id of a contact list.
    extra_fields
        Sheet columns whose values become the contact's custom fields. A sequence of column
        names uses each name in snake_case as the field key (``"Patient ID"`` becomes
        ``"patient_id"``); a mapping ``{column: field key}`` names the keys explicitly.
        Empty cells are left out, so a blank cell never erases a field already saved.

    >>> ContactSaving(list_id=3, extra_fields=["Email", "Patient ID"]).field_keys()
    {'Email': 'email', 'Patient ID': 'patient_id'}
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    save: bool = True
    list_id: int = 0
    extra_fields: tuple[str, ...] | dict[str, str] = ()

    def field_keys(self) -> dict[str, str]:
        """``{column: field key}`` for every extra field."""
        if isinstance(self.extra_fields, dict):
            return dict(self.extra_fields)
        return {column: snake_case(column) for column in self.extra_fields}


def snake_case(column: str) -> str:
    """A column name as a contact field key: lower case, words joined by ``_``.

    >>> snake_case(" E-mail address ")
    'e_mail_address'
    """
    return re.sub(r"[\W_]+", "_", column.strip().lower()).strip("_")


# -- the wire format (seed 001 and 002; names as Sociocs spells them) ------------------


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _TemplateWire(_Wire):
    id: str
    variables: dict[str, str | dict[str, str]] | None = None


class _ContactSavingWire(_Wire):
    save: bool
    list_id: int
    extra_fields: dict[str, str] | None = None


class _Content(_Wire):
    provider: str
    channel_key: SecretStr
    text: str | None = None
    image_url: str | None = None
    video_url: str | None = None
    file_url: str | None = None
    schedule: str | None = None
    user_id: str | None = None

    @field_serializer("channel_key")
    def _reveal(self, value: SecretStr) -> str:
        # The body is the one place the channel key must appear (seed 001); a repr of the
        # model still shows it masked.
        return value.get_secret_value()


class _MessageWire(_Content):
    to: str
    name: str | None = None
    template: _TemplateWire | None = None
    contact_saving: _ContactSavingWire | None = None


class _Recipient(_Wire):
    to: str
    name: str | None = None


class _BulkWire(_Content):
    recipients: list[_Recipient]
    duplicates_allowed: bool | None = None


_SINGLE_ORDER = (
    "provider", "channel_key", "to", "name", "text", "image_url", "video_url", "file_url",
    "template", "contact_saving", "schedule", "user_id",
)
_BULK_ORDER = (
    "provider", "channel_key", "recipients", "text", "image_url", "video_url", "file_url",
    "duplicates_allowed", "schedule", "user_id",
)


def _dump(model: _Wire, order: Sequence[str]) -> dict[str, Any]:
    # Keys in the documents' order, so a preview reads like the examples.
    data = model.model_dump(by_alias=True, exclude_none=True)
    return {name: data[name] for name in order if name in data}


# -- who the recipient is ---------------------------------------------------------------

_NAME = {"name", "full name", "fullname", "recipient name", "contact name"}
_FIRST = {"first name", "firstname", "given name", "forename"}
_LAST = {"last name", "lastname", "surname", "family name"}


def _normal(column: object) -> str:
    return re.sub(r"[\s_\-]+", " ", str(column).strip().lower())


@functools.lru_cache(maxsize=64)  # every row of a frame has the same columns
def _name_columns(columns: tuple[str, ...]) -> tuple[str, ...]:
    """The columns that make the recipient's name: a name column, else first and last name."""
    normals = [(_normal(column), column) for column in columns]
    for normal, column in normals:
        if normal in _NAME:
            return (column,)
    first = next((column for normal, column in normals if normal in _FIRST), None)
    last = next((column for normal, column in normals if normal in _LAST), None)
    return tuple(column for column in (first, last) if column is not None)


class Sociocs(Channel):
    """Send through Sociocs on Twilio SMS, Twilio WhatsApp or Gupshup WhatsApp.

    Parameters
    ----------
    api_key
        The Sociocs API key (``part1:part2``), sent in the ``apikey`` header.
    channel_key
        The channel key from *Profile & settings -> API*; sent in the body, kept secret.
    provider
        ``"twlo"`` (Twilio SMS: text and one media file), ``"twlowa"`` (Twilio WhatsApp:
        text in the 24-hour window, or a Content template ``HX...``) or ``"gswa"`` (Gupshup
        WhatsApp: text, or a template with ``MEDIA_URL``/``Header``/``Body``/``Buttons``).
        Required: which network a campaign goes out on is never a default.
    base_url
        Where the API is: https, or plain http to this machine (the sandbox on
        loopback); point it at the sandbox for a dry run.
    name_column
        The column holding the recipient's name. ``None`` finds it: a column named like
        ``name`` or ``full name``, else first and last name columns joined by a space,
        else no name is sent.
    contact_saving
        Save each recipient as a contact (see `ContactSaving`).
    schedule
        When to send: ISO 8601 with a UTC offset (a string or an aware datetime). A string
        is sent as written. A value without an offset is a problem on every row.
    user_id
        The Sociocs user shown as the sender (``GET /team-members``).
    duplicates_allowed
        Bulk only: send again to a number that appears twice (Sociocs's default, sent only
        when ``True``, is once per number).
    allow_insecure
        Accept a plain-http ``base_url`` to another host: the key then travels
        unencrypted, and a live send prints a warning saying so.

    >>> channel = Sociocs("key:secret", "twlo_16175550000", "twlo")
    >>> row = {"to": "+16175551212", "name": "Ada", "text": "Hi Ada", "media": (),
    ...        "template": None}
    >>> channel.problems(row, row_number=2)
    ()
    >>> channel.describe(channel.build_request(row, key="+16175551212"))["body"]
    ... # doctest: +NORMALIZE_WHITESPACE
    {'provider': 'twlo', 'channel_key': '[redacted]', 'to': '+16175551212',
     'name': 'Ada', 'text': 'Hi Ada'}
    """

    provider: ClassVar[str] = "sociocs"
    supports_bulk: ClassVar[bool] = True

    def __init__(
        self,
        api_key: str | SecretStr,
        channel_key: str | SecretStr,
        provider: SociocsProvider,
        *,
        base_url: str = "https://api.sociocs.com",
        name_column: str | None = None,
        contact_saving: ContactSaving | None = None,
        schedule: str | datetime | None = None,
        user_id: str | None = None,
        duplicates_allowed: bool = False,
        allow_insecure: bool = False,
    ) -> None:
        if provider not in get_args(SociocsProvider):
            raise ChannelError(
                f"Sociocs provider {provider!r} is not one of \"twlo\" (Twilio SMS), "
                "\"twlowa\" (Twilio WhatsApp) or \"gswa\" (Gupshup WhatsApp): pick the one "
                "your channel key belongs to"
            )
        self._api_key = check_secret(
            api_key, name="Sociocs api_key", header=True,
            fix="give the API key from Profile & settings -> API",
        )
        self._channel_key = check_secret(
            channel_key, name="Sociocs channel_key", header=False,
            fix="give the channel key from Profile & settings -> API",
        )
        _check_channel_key(self._channel_key.get_secret_value(), provider)
        self.sociocs_provider: SociocsProvider = provider
        self.allow_insecure = allow_insecure
        self.base_url = base_url  # checked: https, or http to loopback (see allow_insecure)
        self.name_column = name_column
        self.contact_saving = contact_saving
        self._field_keys = contact_saving.field_keys() if contact_saving else {}
        keys = list(self._field_keys.values())
        clash = sorted({k for k in keys if keys.count(k) > 1 or not k})
        if clash:
            raise ChannelError(
                f"ContactSaving extra_fields give the field key(s) {clash} to more than one "
                "column (or an empty key): name the keys with a mapping {column: key}"
            )
        self.schedule = schedule
        self._schedule: str | None = None
        self._schedule_problem: str | None = None
        if schedule is not None:
            checked = parse_aware(schedule)
            if isinstance(checked, str):
                shown = schedule.isoformat() if isinstance(schedule, datetime) else schedule
                self._schedule_problem = (
                    f'schedule "{shown}" {checked}: write it as ISO 8601 with a UTC offset, '
                    'e.g. "2026-12-24T09:00:00-05:00"'
                )
            else:
                self._schedule = checked[0]
        if user_id is not None and not user_id.strip():
            raise ChannelError(
                "Sociocs user_id is empty: give a user id from /team-members or None"
            )
        self.user_id = user_id
        self.duplicates_allowed = duplicates_allowed

    # -- identity ----------------------------------------------------------------------

    @property
    def label(self) -> str:
        """``sociocs:<provider>``, e.g. ``sociocs:twlo``."""
        return f"sociocs:{self.sociocs_provider}"

    def fingerprint(self) -> dict[str, Any]:
        """Provider, base URL and a digest of the channel key (never the key itself)."""
        digest = hashlib.sha256(self._channel_key.get_secret_value().encode()).hexdigest()
        return {
            "provider": "sociocs",
            "sociocs_provider": self.sociocs_provider,
            "base_url": public_url(self.base_url),
            "channel_key_sha256": digest[:16],
        }

    def secrets(self) -> tuple[str, ...]:
        """The API key, the channel key and any userinfo in ``base_url``."""
        return (self._api_key.get_secret_value(), self._channel_key.get_secret_value(),
                *userinfo_secrets(self.base_url))

    # -- rules -------------------------------------------------------------------------

    def problems(self, row: Row, *, row_number: int | None) -> tuple[Problem, ...]:
        """Every rule of seed 001 this row breaks (and the 1,600-character limit)."""
        found: list[Problem] = []

        def add(column: str | None, message: str, kind: Literal["content", "schedule"]) -> None:
            found.append(Problem(row_number, column, message, kind))

        # Misnamed columns stop the whole campaign (ColumnError), not a row.
        self._name(row)
        self._extra_fields(row)
        text, media, template = row_text(row), row_media(row), row_template(row)
        provider = self.sociocs_provider
        if self._schedule_problem:
            add(None, self._schedule_problem, "schedule")
        if text is None and not media and template is None:
            add(
                "text",
                "the message is empty: give it text, one media file (twlo) or a WhatsApp "
                "template (twlowa, gswa)",
                "content",
            )
        if text is not None and len(text) > MAX_TEXT:
            add(
                "text",
                f"text is {len(text):,} characters; Sociocs rejects text over {MAX_TEXT:,} "
                f"characters: shorten it by {len(text) - MAX_TEXT:,}",
                "content",
            )
        for item in media:
            bad_url = media_url_message(item.url)
            if bad_url:
                add("media", bad_url, "content")
        if media and provider != "twlo":
            # Seed 001: media URLs are "Supported only when provider is twlo".
            where = "as the template's MEDIA_URL" if provider == "gswa" else "in a Content template"
            add(
                "media",
                f'Sociocs sends media only with provider "twlo" (Twilio SMS), not "{provider}": '
                f"remove it, or send it {where}",
                "content",
            )
        elif len(media) > 1:
            add(
                "media",
                f"Sociocs sends one media file per message (image_url, video_url or file_url) "
                f"and this row has {len(media)}: keep one",
                "content",
            )
        if template is not None:
            if provider == "twlo":
                add(
                    "template",
                    'WhatsApp templates are sent only with provider "twlowa" or "gswa", not '
                    '"twlo": remove the template or change the provider',
                    "content",
                )
            else:
                if text is not None:
                    add(
                        "text",
                        "a template message sends only the template, so this text would not "
                        "be sent: remove the text or the template",
                        "content",
                    )
                for column, message in self._template_rules(template):
                    add(column, message, "content")
        return tuple(found)

    def problems_frame(self, frame: pd.DataFrame) -> pd.Series:
        """`problems` of every row; text-only rows by array operations (see `Channel`)."""
        plain = TextOnly.of(frame)
        # Row 0 always row by row: a misnamed column raises exactly as `problems` does.
        slow = np.flatnonzero(~plain.rows)
        found = problems_per_row(self, frame, [0, *slow[slow != 0].tolist()] if len(frame)
                                 else [])
        empty = plain.length < 0
        long = plain.length > MAX_TEXT
        flagged = plain.rows & (empty | long) if not self._schedule_problem else plain.rows.copy()
        flagged[:1] = False
        labels = frame.index
        for position in np.flatnonzero(flagged).tolist():
            number = row_number(labels[position])
            problems: list[Problem] = []
            if self._schedule_problem:
                problems.append(Problem(number, None, self._schedule_problem, "schedule"))
            if empty[position]:
                problems.append(Problem(number, "text", _EMPTY, "content"))
            elif long[position]:
                size = int(plain.length[position])
                problems.append(Problem(
                    number, "text",
                    f"text is {size:,} characters; Sociocs rejects text over {MAX_TEXT:,} "
                    f"characters: shorten it by {size - MAX_TEXT:,}",
                    "content"))
            found[position] = tuple(problems)
        return problems_series(frame, found)

    def _template_rules(self, template: Template) -> list[tuple[str, str]]:
        rules: list[tuple[str, str]] = []
        if self.sociocs_provider == "twlowa":
            if not CONTENT_SID.match(template.id):
                rules.append((
                    "template",
                    f'template id "{template.id}" is not a Twilio Content SID (HX followed by '
                    "32 hex digits): copy the SID from Twilio's Content Template Builder",
                ))
            for key, value in template.variables.items():
                if isinstance(value, dict):
                    rules.append((
                        "template",
                        f'template variable "{key}" is a map; Twilio Content variables are '
                        'plain values numbered "1", "2", ...',
                    ))
                elif not key.isdigit():
                    rules.append((
                        "template",
                        f'template variable "{key}" is not numbered: Twilio Content variables '
                        'are "1", "2", ...',
                    ))
        else:
            if not template.id.strip():
                rules.append((
                    "template",
                    "template id is empty: give the template id from the Gupshup console",
                ))
            for key, value in template.variables.items():
                if key == "MEDIA_URL":
                    if isinstance(value, dict):
                        rules.append((
                            "template",
                            'template variable "MEDIA_URL" must be a URL, not a map',
                        ))
                elif key in GSWA_COMPONENTS:
                    if not isinstance(value, dict):
                        rules.append((
                            "template",
                            f'template variable "{key}" must be a map of numbered values, '
                            'e.g. {"1": "..."}',
                        ))
                else:
                    rules.append((
                        "template",
                        f'template variable "{key}" is not one Sociocs accepts for gswa: use '
                        "MEDIA_URL, Header, Body or Buttons",
                    ))
        # "All the variables in your WhatsApp template must be added in the request ... default
        # it with a non-empty string" (SOC integrations/customer.io/wa-campaign.md).
        for path, value in variable_leaves(template):
            if isinstance(value, str) and not value.strip():
                rules.append(("template", empty_variable_message(path)))
        return rules

    # -- requests ----------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {
            "apikey": self._api_key.get_secret_value(),
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def _content(self, text: str | None, media: tuple[Media, ...]) -> dict[str, Any]:
        content: dict[str, Any] = {"text": text}
        if media:
            content[_MEDIA_FIELD[media[0].kind]] = media[0].url
        return content

    def build_request(self, row: Row, *, key: str) -> httpx.Request:
        """``POST /message`` for one row (``key`` is unused: Sociocs has no reference field)."""
        template = row_template(row)
        wire_template = None
        if template is not None:
            wire_template = _TemplateWire(id=template.id, variables=template.variables or None)
        saving = None
        if self.contact_saving is not None:
            saving = _ContactSavingWire(
                save=self.contact_saving.save,
                list_id=self.contact_saving.list_id,
                extra_fields=self._extra_fields(row) or None,
            )
        wire = _MessageWire(
            provider=self.sociocs_provider,
            channel_key=self._channel_key,
            to=row_to(row, self.label),
            name=self._name(row) or None,
            template=wire_template,
            contact_saving=saving,
            schedule=self._schedule,
            user_id=self.user_id,
            **self._content(row_text(row), row_media(row)),
        )
        return self._json_request("POST", "/message", _dump(wire, _SINGLE_ORDER), self._headers())

    def can_bulk(self, rendered: pd.DataFrame) -> bool:
        """Whether the sendable rows of ``rendered`` can go as one ``/messages/bulk`` job.

        True when at least one row has no problems (its own nor this channel's) and all such
        rows carry the same text and media, no template (seed 002 documents none) and the
        channel saves no contacts (bulk has no ``contact_saving``).
        """
        if self.contact_saving is not None or rendered.empty:
            return False
        contents = set()
        for label, row in zip(rendered.index, rendered.to_dict("records"), strict=True):
            number = label if isinstance(label, int) else None
            if tuple(row.get("problems") or ()) or self.problems(row, row_number=number):
                continue
            if row_template(row) is not None:
                return False
            contents.add((row_text(row), row_media(row)))
        return len(contents) == 1

    def build_bulk_request(self, rows: Sequence[Row], *, key: str) -> httpx.Request:
        """``POST /messages/bulk`` for rows with identical content (see `can_bulk`).

        Raises `ChannelError` when the rows cannot be one job; ``key`` is unused.
        """
        if not rows:
            raise ChannelError("a Sociocs bulk job needs at least one row")
        if self.contact_saving is not None:
            raise ChannelError(
                "Sociocs bulk jobs cannot save contacts (seed 002 has no contact_saving): "
                "send row by row, or drop contact_saving"
            )
        first = rows[0]
        content = (row_text(first), row_media(first))
        for position, row in enumerate(rows, start=1):
            if row_template(row) is not None:
                raise ChannelError(
                    "Sociocs bulk jobs carry no WhatsApp template (seed 002 documents none): "
                    "send template messages row by row"
                )
            problems = tuple(row.get("problems") or ()) + self.problems(row, row_number=None)
            if problems:
                raise ChannelError(
                    f"row {position} of the bulk job has a problem ({problems[0].message}): "
                    "leave rows with problems out of a bulk job"
                )
            if (row_text(row), row_media(row)) != content:
                raise ChannelError(
                    f"row {position} of the bulk job has other text or media than row 1: a bulk "
                    "job sends one message to everyone, so send personalised messages row by row"
                )
        wire = _BulkWire(
            provider=self.sociocs_provider,
            channel_key=self._channel_key,
            recipients=[
                _Recipient(to=row_to(row, self.label), name=self._name(row) or None)
                for row in rows
            ],
            duplicates_allowed=True if self.duplicates_allowed else None,
            schedule=self._schedule,
            user_id=self.user_id,
            **self._content(*content),
        )
        return self._json_request(
            "POST", "/messages/bulk", _dump(wire, _BULK_ORDER), self._headers()
        )

    def _name(self, row: Row) -> str:
        if self.name_column is not None:
            if self.name_column not in row:
                raise ColumnError(
                    f'Sociocs(name_column="{self.name_column}"): there is no such column; '
                    f"columns found: {', '.join(map(str, row))}"
                )
            return cell_text(row[self.name_column])
        columns = _name_columns(tuple(c for c in row if isinstance(c, str)))
        return " ".join(part for part in (cell_text(row[c]) for c in columns) if part)

    def _extra_fields(self, row: Row) -> dict[str, str]:
        missing = [c for c in self._field_keys if c not in row]
        if missing:
            raise ColumnError(
                f"ContactSaving extra_fields name column(s) {missing} that the sheet does not "
                f"have; columns found: {', '.join(map(str, row))}"
            )
        values = {key: cell_text(row[column]) for column, key in self._field_keys.items()}
        return {key: value for key, value in values.items() if value}

    # -- answers -----------------------------------------------------------------------

    def parse_response(self, response: httpx.Response) -> Receipt:
        """Read ``{status, errors[{msg}], data{message_id | job_id}}``.

        The older success body ``{"status": "success"}`` without ``data`` (seed 000) is
        accepted with no message id; a body that is not JSON (a proxy's 502 page) is not
        accepted and its error says so.
        """
        status = response.status_code
        body = response_json(response)
        if not isinstance(body, dict):
            return Receipt(status, False, error=http_reason(response))
        said = body.get("status")
        provider_status = said if isinstance(said, str) else None
        if response.is_success and said == "success":
            data = body.get("data")
            data = data if isinstance(data, dict) else {}
            message_id, job_id = data.get("message_id"), data.get("job_id")
            return Receipt(
                status,
                True,
                message_id=None if message_id is None else str(message_id),
                job_id=None if job_id is None else str(job_id),
                provider_status=provider_status,
            )
        errors = body.get("errors")
        messages = [
            str(e["msg"]) for e in errors or () if isinstance(e, dict) and e.get("msg")
        ] if isinstance(errors, list) else []
        if messages:
            error = "; ".join(messages)
        elif response.is_success:
            error = (
                f"HTTP {status} without status \"success\" (status {said!r}): the message may "
                "have been sent, check Sociocs before sending it again"
            )
        else:
            meaning = _STATUS_MEANING.get(status) or (
                "a problem on Sociocs's server: try again later" if status >= 500 else "refused"
            )
            error = f"HTTP {status}: {meaning}"
        logger.debug("%s answered HTTP %s, status %r", self.label, status, said)
        return Receipt(status, False, provider_status=provider_status, error=self.redact(error))

    # -- after the send: statuses, replies, jobs, blocks (follow-up reads) ---------------

    def _get(self, path: str, params: dict[str, str] | None = None) -> httpx.Request:
        headers = {"apikey": self._api_key.get_secret_value(), "Accept": "application/json"}
        return httpx.Request("GET", self.base_url + path, params=params, headers=headers)

    def build_messages_request(self, start: date, end: date) -> httpx.Request:
        """``GET /messages?start_date=&end_date=`` (SOC api/messaging/get.md; at most 31 days)."""
        return self._get("/messages", {"start_date": start.isoformat(),
                                       "end_date": end.isoformat()})

    def build_search_request(self, text: str, start: date, end: date) -> httpx.Request:
        """``GET /messages/search?text=&direction=incoming`` (SOC api/messaging/search.md)."""
        return self._get("/messages/search", {"text": text, "direction": "incoming",
                                              "start_date": start.isoformat(),
                                              "end_date": end.isoformat()})

    def build_unreplied_request(self, start: date, end: date) -> httpx.Request:
        """``GET /messages/unreplied`` (SOC api/messaging/get-unreplied.md)."""
        return self._get("/messages/unreplied", {"start_date": start.isoformat(),
                                                 "end_date": end.isoformat()})

    def build_bulk_jobs_request(self) -> httpx.Request:
        """``GET /messages/bulk``: the last 100 bulk jobs (SOC api/messaging/bulk-list.md)."""
        return self._get("/messages/bulk")

    def build_blocked_request(self, number: str) -> httpx.Request:
        """``GET /contacts/isblocked/{phone}`` (SOC api/contacts/is-blocked.md)."""
        return self._get(f"/contacts/isblocked/{number.lstrip('+')}")

    def _data(self, response: httpx.Response, what: str) -> Any:
        body = ok_json(response, what, self.label)
        if not isinstance(body, dict) or body.get("status") != "success":
            raise ReadFailed(self.redact(
                f"{self.label}: reading {what} got no \"success\" envelope; ask again later"),
                http_status=response.status_code)
        return body.get("data")

    def parse_message_list(self, response: httpx.Response) -> tuple[list[Delivery], list[Inbound]]:
        """The outgoing (`Delivery`) and incoming (`Inbound`) items of a message list.

        The message object's fields are not documented: ``message_id``, ``direction``,
        ``to``/``from``, ``text``, ``job_id``, ``timestamp`` follow the webhook payloads;
        ``status`` and ``error`` ``{code, message}`` are read when present (a list without
        them gives ``unknown``: the message exists, its fate is not told).
        """
        data = self._data(response, "the message list")
        deliveries: list[Delivery] = []
        inbound: list[Inbound] = []
        for item in data if isinstance(data, list) else []:
            if not isinstance(item, dict):
                continue
            if item.get("direction") == "incoming":
                number = e164(item.get("from"))
                if number is not None:
                    inbound.append(Inbound(text_or_none(item.get("message_id")), number,
                                           text_or_none(item.get("text")),
                                           moment(item.get("timestamp"))))
                continue
            deliveries.append(_sociocs_delivery(item))
        return deliveries, inbound

    def parse_bulk_jobs(self, response: httpx.Response) -> dict[str, str]:
        """``{job_id: status}`` of the listed bulk jobs (the job fields are not documented;
        ``job_id`` or ``id``, and ``status`` kept verbatim, are read)."""
        data = self._data(response, "the bulk jobs")
        jobs: dict[str, str] = {}
        for job in data if isinstance(data, list) else []:
            if isinstance(job, dict) and (job.get("job_id") or job.get("id")):
                jobs[str(job.get("job_id") or job.get("id"))] = str(job.get("status") or "")
        return jobs

    def parse_blocked(self, response: httpx.Response) -> bool:
        """``data.is_blocked`` of the isblocked answer."""
        data = self._data(response, "whether the number is blocked")
        if not isinstance(data, dict) or not isinstance(data.get("is_blocked"), bool | int):
            raise ReadFailed(f"{self.label}: the isblocked answer has no is_blocked")
        return bool(data["is_blocked"])

    @staticmethod
    def parse_webhook(body: bytes) -> Delivery | Inbound | None:
        """A Sociocs webhook body (SOC api/webhooks/introduction.md): a status update as a
        `Delivery`, an incoming message as an `Inbound`, anything else None."""
        try:
            payload = json.loads(body)
        except ValueError:
            return None
        if not isinstance(payload, dict):
            return None
        if payload.get("event") == "status_update":
            data = payload.get("event_data")
            data = data if isinstance(data, dict) else {}
            return _sociocs_delivery({"message_id": payload.get("message_id"), **data})
        if payload.get("event") == "message" or payload.get("direction") == "incoming":
            number = e164(payload.get("from"))
            if number is None:
                return None
            return Inbound(text_or_none(payload.get("message_id")), number,
                           text_or_none(payload.get("text")), moment(payload.get("timestamp")))
        return None


#: Sociocs's status sub-events of every provider it wraps (SOC api/webhooks/add.md) and
#: Twilio's statuses (TW-OAI) in the shared vocabulary.
SOCIOCS_STATES: dict[str, DeliveryState] = {
    "queued": "queued", "enqueued": "queued", "accepted": "queued", "scheduled": "queued",
    "sending": "queued", "sent": "sent", "delivered": "delivered", "read": "read",
    "undelivered": "undelivered", "delivery_failed": "undelivered", "failed": "failed",
    "sending_failed": "failed", "canceled": "failed",
}


def _sociocs_delivery(item: dict[str, Any]) -> Delivery:
    status = item.get("status")
    error = item.get("error")
    code = text = None
    if isinstance(error, dict):
        code = text_or_none(error.get("code"))
        text = text_or_none(error.get("message"))
    elif isinstance(error, str):
        text = error
    raw = item.get("provider_err_obj")
    if code is None and isinstance(raw, dict) and raw.get("code") is not None:
        code = str(raw["code"])
    return Delivery(
        message_id=text_or_none(item.get("message_id")),
        delivery=state(SOCIOCS_STATES, status),
        provider_status=text_or_none(status),
        at=moment(item.get("timestamp")),
        error_code=code,
        error_text=text,
        to=e164(item.get("to")),
        text=text_or_none(item.get("text")),
        job_id=text_or_none(item.get("job_id")),
    )


def _check_channel_key(key: str, provider: SociocsProvider) -> None:
    """Refuse a channel key of another provider: keys are ``<provider>_<number>``.

    The shape of Sociocs's own examples (``twlo_16317471111``,
    https://docs.sociocs.com/integrations/keap/ and
    https://docs.sociocs.com/api/webhooks/introduction/); the API page of the Sociocs app
    lists each channel's provider beside its key.
    """
    if key.startswith(provider + "_"):
        return
    prefix = key.partition("_")[0]
    if "_" in key and prefix in get_args(SociocsProvider):
        raise ChannelError(
            f'Sociocs channel_key belongs to provider "{prefix}", not "{provider}": use '
            f'provider="{prefix}", or the {provider} channel key from Profile & settings -> API'
        )
    raise ChannelError(
        f'Sociocs channel_key does not start with "{provider}_" (channel keys look like '
        f'"{provider}_16175551212"): copy the {provider} channel key from Profile & settings '
        "-> API"
    )
