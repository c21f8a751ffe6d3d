"""Sociocs builds the requests of seeds 000-002 and refuses what they forbid, row by row."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pandas as pd
import pytest

from campaignkit import ChannelError, ColumnError, Media, Problem, Template
from campaignkit.channels import ContactSaving, Receipt, Sociocs

API_KEY = "your_api_key"
# "[your channel key]" of the seeds, in the documented "<provider>_<number>" shape
CHANNEL_KEYS = {p: f"{p}_your_channel_key" for p in ("twlo", "twlowa", "gswa")}
SID = "HX" + "0123456789abcdef" * 2
GUPSHUP_ID = "c6aecef6-bcb0-4fb1-8100-28c094e3bc6b"


def _row(**cells: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"to": "+16175551212", "text": None, "media": (), "template": None}
    row.update(cells)
    return row


def _channel(provider: str = "twlo", **options: Any) -> Sociocs:
    return Sociocs(API_KEY, CHANNEL_KEYS[provider], provider, **options)  # type: ignore[arg-type]


def _headers(request: httpx.Request) -> dict[str, str]:
    return {
        "host": "api.sociocs.com",
        "apikey": API_KEY,
        "content-type": "application/json",
        "accept": "application/json",
        "content-length": str(len(request.content)),
    }


DOC_ROW = {"to": "phone_number", "name": "recipient_name"}  # seed 001's own placeholders

GOLDEN = [
    pytest.param(
        {},
        _row(**DOC_ROW, text="message"),
        {
            "provider": "twlo",
            "channel_key": CHANNEL_KEYS["twlo"],
            "to": "phone_number",
            "name": "recipient_name",
            "text": "message",
        },
        id="text: seed 001 'Sending only text content'",
    ),
    pytest.param(
        {},
        _row(**DOC_ROW, text="message", media=(Media(url="https://example.com/a.png"),)),
        {
            "provider": "twlo",
            "channel_key": CHANNEL_KEYS["twlo"],
            "to": "phone_number",
            "name": "recipient_name",
            "text": "message",
            "image_url": "https://example.com/a.png",
        },
        id="image: seed 000 'Sending text & image' (provider twlo)",
    ),
    pytest.param(
        {},
        _row(**DOC_ROW, media=(Media(url="https://example.com/v.mp4", kind="video"),)),
        {
            "provider": "twlo",
            "channel_key": CHANNEL_KEYS["twlo"],
            "to": "phone_number",
            "name": "recipient_name",
            "video_url": "https://example.com/v.mp4",
        },
        id="video: seed 001 video_url",
    ),
    pytest.param(
        {},
        _row(
            **DOC_ROW,
            text="Your invoice",
            media=(Media(url="https://example.com/i.pdf", kind="file"),),
        ),
        {
            "provider": "twlo",
            "channel_key": CHANNEL_KEYS["twlo"],
            "to": "phone_number",
            "name": "recipient_name",
            "text": "Your invoice",
            "file_url": "https://example.com/i.pdf",
        },
        id="file: seed 001 file_url",
    ),
    pytest.param(
        {"provider": "twlowa"},
        _row(
            **DOC_ROW,
            template=Template(
                id=SID, variables={"1": "John", "2": "john@example.com", "3": "11-Jul-2024"}
            ),
        ),
        {
            "provider": "twlowa",
            "channel_key": CHANNEL_KEYS["twlowa"],
            "to": "phone_number",
            "name": "recipient_name",
            "template": {
                "id": SID,
                "variables": {"1": "John", "2": "john@example.com", "3": "11-Jul-2024"},
            },
        },
        id="twlowa template: seed 001 'template for provider twlowa' variables",
    ),
    pytest.param(
        {"provider": "gswa"},
        _row(
            **DOC_ROW,
            template=Template(
                id=GUPSHUP_ID,
                variables={
                    "MEDIA_URL": "https://placehold.co/600x400",
                    "Header": {"1": "John"},
                    "Body": {"1": "john@example.com", "2": "11-Jul-2024"},
                    "Buttons": {"1": "Quick Reply Text"},
                },
            ),
        ),
        {
            "provider": "gswa",
            "channel_key": CHANNEL_KEYS["gswa"],
            "to": "phone_number",
            "name": "recipient_name",
            "template": {
                "id": GUPSHUP_ID,
                "variables": {
                    "MEDIA_URL": "https://placehold.co/600x400",
                    "Header": {"1": "John"},
                    "Body": {"1": "john@example.com", "2": "11-Jul-2024"},
                    "Buttons": {"1": "Quick Reply Text"},
                },
            },
        },
        id="gswa template: seed 001 'template for provider gswa' MEDIA_URL/Header/Body/Buttons",
    ),
    pytest.param(
        {"provider": "gswa"},
        _row(**DOC_ROW, template=Template(id=GUPSHUP_ID, variables={"Body": {"1": "Ada"}})),
        {
            "provider": "gswa",
            "channel_key": CHANNEL_KEYS["gswa"],
            "to": "phone_number",
            "name": "recipient_name",
            "template": {"id": GUPSHUP_ID, "variables": {"Body": {"1": "Ada"}}},
        },
        id="gswa template with Body only: SOC integrations/customer.io/wa-campaign.md",
    ),
    pytest.param(
        {"provider": "twlowa"},
        _row(**DOC_ROW, template=Template(id=SID)),
        {
            "provider": "twlowa",
            "channel_key": CHANNEL_KEYS["twlowa"],
            "to": "phone_number",
            "name": "recipient_name",
            "template": {"id": SID},
        },
        id="template without variables sends no variables",
    ),
    pytest.param(
        {"contact_saving": ContactSaving(extra_fields=["Email address", "ID"])},
        _row(**DOC_ROW, text="message", **{"Email address": "john@example.com", "ID": "987123"}),
        {
            "provider": "twlo",
            "channel_key": CHANNEL_KEYS["twlo"],
            "to": "phone_number",
            "name": "recipient_name",
            "text": "message",
            "contact_saving": {
                "save": True,
                "list_id": 0,
                "extra_fields": {"email_address": "john@example.com", "id": "987123"},
            },
        },
        id="contact_saving: seed 001 extra_fields example keys",
    ),
    pytest.param(
        {"contact_saving": ContactSaving(list_id=7, extra_fields={"E-mail": "email"})},
        _row(**DOC_ROW, text="message", **{"E-mail": ""}),
        {
            "provider": "twlo",
            "channel_key": CHANNEL_KEYS["twlo"],
            "to": "phone_number",
            "name": "recipient_name",
            "text": "message",
            "contact_saving": {"save": True, "list_id": 7},
        },
        id="contact_saving: explicit keys, an empty cell is left out",
    ),
    pytest.param(
        {"schedule": "2006-01-02T15:04:05-04:00"},
        _row(**DOC_ROW, text="message"),
        {
            "provider": "twlo",
            "channel_key": CHANNEL_KEYS["twlo"],
            "to": "phone_number",
            "name": "recipient_name",
            "text": "message",
            "schedule": "2006-01-02T15:04:05-04:00",
        },
        id="schedule: seed 001's example value, sent as written",
    ),
    pytest.param(
        {"schedule": datetime(2026, 12, 24, 9, 0, tzinfo=timezone(timedelta(hours=-5)))},
        _row(**DOC_ROW, text="message"),
        {
            "provider": "twlo",
            "channel_key": CHANNEL_KEYS["twlo"],
            "to": "phone_number",
            "name": "recipient_name",
            "text": "message",
            "schedule": "2026-12-24T09:00:00-05:00",
        },
        id="schedule: an aware datetime in ISO 8601",
    ),
    pytest.param(
        {"user_id": "u_42"},
        _row(**DOC_ROW, text="message"),
        {
            "provider": "twlo",
            "channel_key": CHANNEL_KEYS["twlo"],
            "to": "phone_number",
            "name": "recipient_name",
            "text": "message",
            "user_id": "u_42",
        },
        id="user_id: seed 001",
    ),
]


@pytest.mark.parametrize(("options", "row", "body"), GOLDEN)
def test_golden_single_request(
    options: dict[str, Any], row: dict[str, Any], body: dict[str, Any]
) -> None:
    """Each kind of message becomes exactly the documented POST /message request."""
    channel = _channel(**options)
    assert channel.problems(row, row_number=2) == ()
    request = channel.build_request(row, key="unused")
    assert (request.method, str(request.url)) == ("POST", "https://api.sociocs.com/message")
    assert dict(request.headers) == _headers(request)
    assert json.loads(request.content) == body


def test_golden_bulk_request() -> None:
    """Identical content for many rows is seed 002's POST /messages/bulk sample, exactly."""
    channel = _channel(schedule="2023-12-25T11:00:00-04:00")
    rows = [
        _row(to="phone_number_1", name="recipient_name_1", text="message"),
        _row(to="phone_number_2", name="recipient_name_2", text="message"),
    ]
    request = channel.build_bulk_request(rows, key="job")
    assert (request.method, str(request.url)) == ("POST", "https://api.sociocs.com/messages/bulk")
    assert dict(request.headers) == _headers(request)
    assert json.loads(request.content) == {
        "provider": "twlo",
        "channel_key": CHANNEL_KEYS["twlo"],
        "recipients": [
            {"to": "phone_number_1", "name": "recipient_name_1"},
            {"to": "phone_number_2", "name": "recipient_name_2"},
        ],
        "text": "message",
        "schedule": "2023-12-25T11:00:00-04:00",
    }


def test_bulk_with_media_duplicates_and_user() -> None:
    """Bulk carries one media URL, duplicates_allowed when asked, and user_id."""
    channel = _channel(duplicates_allowed=True, user_id="u_42")
    image = (Media(url="https://example.com/a.png"),)
    rows = [_row(to="+16175551212", media=image), _row(to="+16175551213", media=image)]
    assert json.loads(channel.build_bulk_request(rows, key="job").content) == {
        "provider": "twlo",
        "channel_key": CHANNEL_KEYS["twlo"],
        "recipients": [{"to": "+16175551212"}, {"to": "+16175551213"}],
        "image_url": "https://example.com/a.png",
        "duplicates_allowed": True,
        "user_id": "u_42",
    }


@pytest.mark.parametrize(
    ("rows", "options", "message"),
    [
        pytest.param([], {}, "a Sociocs bulk job needs at least one row", id="no rows"),
        pytest.param(
            [_row(text="Hi Ada"), _row(text="Hi Bob")],
            {},
            "row 2 of the bulk job has other text or media than row 1: a bulk job sends one "
            "message to everyone, so send personalised messages row by row",
            id="different text",
        ),
        pytest.param(
            [_row(text="Hi"), _row(text="Hi", media=(Media(url="https://e.com/a.png"),))],
            {},
            "row 2 of the bulk job has other text or media than row 1: a bulk job sends one "
            "message to everyone, so send personalised messages row by row",
            id="different media",
        ),
        pytest.param(
            [_row(template=Template(id=SID))],
            {"provider": "twlowa"},
            "Sociocs bulk jobs carry no WhatsApp template (seed 002 documents none): send "
            "template messages row by row",
            id="template",
        ),
        pytest.param(
            [_row(text="Hi")],
            {"contact_saving": ContactSaving()},
            "Sociocs bulk jobs cannot save contacts (seed 002 has no contact_saving): send row "
            "by row, or drop contact_saving",
            id="contact saving",
        ),
        pytest.param(
            [_row(text="Hi"), _row(text="x" * 1601)],
            {},
            "row 2 of the bulk job has a problem (text is 1,601 characters; Sociocs rejects "
            "text over 1,600 characters: shorten it by 1): leave rows with problems out of a "
            "bulk job",
            id="a row with a problem",
        ),
    ],
)
def test_bulk_refuses(rows: list[dict[str, Any]], options: dict[str, Any], message: str) -> None:
    """A bulk job is refused with ChannelError unless every row carries the same content."""
    with pytest.raises(ChannelError) as raised:
        _channel(**options).build_bulk_request(rows, key="job")
    assert str(raised.value) == message


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, index=pd.Index(range(2, 2 + len(rows)), name="row"))
    for column in ("media", "problems"):
        values = [r.get(column, ()) for r in rows]
        frame[column] = pd.Series(values, index=frame.index, dtype=object)
    frame["template"] = pd.Series(
        [r.get("template") for r in rows], index=frame.index, dtype=object
    )
    return frame


@pytest.mark.parametrize(
    ("rows", "options", "expected"),
    [
        pytest.param([_row(text="Hi"), _row(text="Hi")], {}, True, id="same text"),
        pytest.param([_row(text="Hi Ada"), _row(text="Hi Bob")], {}, False, id="personalised"),
        pytest.param(
            [_row(text="Hi"), _row(text="Hi Bob", problems=(Problem(3, "to", "x", "duplicate"),))],
            {},
            True,
            id="rows with problems are left out",
        ),
        pytest.param(
            [_row(text="Hi")], {"contact_saving": ContactSaving()}, False, id="contact saving"
        ),
        pytest.param(
            [_row(template=Template(id=SID, variables={"1": "A"}))],
            {"provider": "twlowa"},
            False,
            id="template",
        ),
        pytest.param([_row(text="x" * 1601)], {}, False, id="no sendable row"),
    ],
)
def test_can_bulk(rows: list[dict[str, Any]], options: dict[str, Any], expected: bool) -> None:
    """can_bulk says whether the sendable rows can go as one identical bulk job."""
    assert _channel(**options).can_bulk(_frame(rows)) is expected


@pytest.mark.parametrize(
    ("cells", "name"),
    [
        pytest.param({"Name": "Ada Lovelace"}, "Ada Lovelace", id="name"),
        pytest.param({"full_name": " Ada Lovelace "}, "Ada Lovelace", id="full name"),
        pytest.param(
            {"First Name": "Ada", "last_name": "Lovelace"}, "Ada Lovelace", id="first and last"
        ),
        pytest.param({"first name": "Ada", "surname": ""}, "Ada", id="empty last name"),
        pytest.param({"given name": "Ada"}, "Ada", id="first name only"),
    ],
)
def test_name_is_found(cells: dict[str, str], name: str) -> None:
    """Without name_column the name comes from a name column, else first + last name."""
    body = json.loads(_channel().build_request(_row(text="Hi", **cells), key="k").content)
    assert body["name"] == name


@pytest.mark.parametrize(
    ("options", "cells"),
    [
        pytest.param({}, {"city": "Leeds"}, id="no name column"),
        pytest.param({}, {"name": float("nan")}, id="empty cell"),
    ],
)
def test_no_name_is_sent_without_one(options: dict[str, Any], cells: dict[str, Any]) -> None:
    """A row without a name sends no name field."""
    body = json.loads(_channel(**options).build_request(_row(text="Hi", **cells), key="k").content)
    assert body == {
        "provider": "twlo",
        "channel_key": CHANNEL_KEYS["twlo"],
        "to": "+16175551212",
        "text": "Hi",
    }


def test_name_column_is_explicit() -> None:
    """name_column picks the column even when another looks like a name."""
    channel = _channel(name_column="Patient")
    body = json.loads(
        channel.build_request(_row(text="Hi", name="X", Patient="Ada"), key="k").content
    )
    assert body["name"] == "Ada"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            {"name_column": "Nmae"},
            'Sociocs(name_column="Nmae"): there is no such column; columns found: to, text, '
            "media, template, name",
            id="name column",
        ),
        pytest.param(
            {"contact_saving": ContactSaving(extra_fields=["Email"])},
            "ContactSaving extra_fields name column(s) ['Email'] that the sheet does not have; "
            "columns found: to, text, media, template, name",
            id="extra field",
        ),
    ],
)
def test_missing_configured_column_is_a_column_error(options: dict[str, Any], message: str) -> None:
    """A column named in the configuration but absent from the sheet stops the campaign."""
    with pytest.raises(ColumnError) as raised:
        _channel(**options).problems(_row(text="Hi", name="Ada"), row_number=2)
    assert str(raised.value) == message


def test_contact_saving_field_keys() -> None:
    """Extra field columns become snake_case keys, or the keys a mapping gives."""
    assert ContactSaving(extra_fields=["Email", "Patient ID", " Date-of birth "]).field_keys() == {
        "Email": "email",
        "Patient ID": "patient_id",
        " Date-of birth ": "date_of_birth",
    }
    assert ContactSaving(extra_fields={"Mail": "email_address"}).field_keys() == {
        "Mail": "email_address"
    }


RULES = [
    pytest.param(
        "twlo",
        {},
        _row(),
        [
            (
                "text",
                "content",
                "the message is empty: give it text, one media file (twlo) or a "
                "WhatsApp template (twlowa, gswa)",
            )
        ],
        id="empty",
    ),
    pytest.param(
        "twlo",
        {},
        _row(text="é" * 1700),
        [
            (
                "text",
                "content",
                "text is 1,700 characters; Sociocs rejects text over 1,600 "
                "characters: shorten it by 100",
            )
        ],
        id="over 1,600 characters",
    ),
    pytest.param(
        "twlowa",
        {},
        _row(text="Hi", media=(Media(url="https://e.com/a.png"),)),
        [
            (
                "media",
                "content",
                'Sociocs sends media only with provider "twlo" (Twilio SMS), not '
                '"twlowa": remove it, or send it in a Content template',
            )
        ],
        id="media on twlowa",
    ),
    pytest.param(
        "gswa",
        {},
        _row(text="Hi", media=(Media(url="https://e.com/a.png"),)),
        [
            (
                "media",
                "content",
                'Sociocs sends media only with provider "twlo" (Twilio SMS), not '
                '"gswa": remove it, or send it as the template\'s MEDIA_URL',
            )
        ],
        id="media on gswa",
    ),
    pytest.param(
        "twlo",
        {},
        _row(media=(Media(url="https://e.com/a.png"), Media(url="https://e.com/b.png"))),
        [
            (
                "media",
                "content",
                "Sociocs sends one media file per message (image_url, video_url "
                "or file_url) and this row has 2: keep one",
            )
        ],
        id="two media",
    ),
    pytest.param(
        "twlo",
        {},
        _row(media=(Media(url="www.example.com/a.png"),)),
        [
            (
                "media",
                "content",
                'media URL "www.example.com/a.png" is not a public http(s) address: '
                'give the full URL, e.g. "https://example.com/flyer.png"',
            )
        ],
        id="media URL without scheme",
    ),
    pytest.param(
        "twlo",
        {},
        _row(media=(Media(url="https://example.com/Zoë flyer.png"),)),
        [
            (
                "media",
                "content",
                'media URL "https://example.com/Zoë flyer.png" has characters a URL '
                "cannot carry (spaces, accents, a lone %): percent-encode them (in a template: "
                "{{ value | urlencode }})",
            )
        ],
        id="media URL with a space and an accent",
    ),
    pytest.param(
        "twlo",
        {},
        _row(template=Template(id=SID)),
        [
            (
                "template",
                "content",
                'WhatsApp templates are sent only with provider "twlowa" or '
                '"gswa", not "twlo": remove the template or change the provider',
            )
        ],
        id="template on twlo",
    ),
    pytest.param(
        "twlowa",
        {},
        _row(text="Hi", template=Template(id=SID)),
        [
            (
                "text",
                "content",
                "a template message sends only the template, so this text would "
                "not be sent: remove the text or the template",
            )
        ],
        id="text and template",
    ),
    pytest.param(
        "twlowa",
        {},
        _row(template=Template(id="appointment_reminder")),
        [
            (
                "template",
                "content",
                'template id "appointment_reminder" is not a Twilio Content SID '
                "(HX followed by 32 hex digits): copy the SID from Twilio's Content "
                "Template Builder",
            )
        ],
        id="twlowa id",
    ),
    pytest.param(
        "twlowa",
        {},
        _row(template=Template(id=SID, variables={"name": "Ada"})),
        [
            (
                "template",
                "content",
                'template variable "name" is not numbered: Twilio Content '
                'variables are "1", "2", ...',
            )
        ],
        id="twlowa named variable",
    ),
    pytest.param(
        "twlowa",
        {},
        _row(template=Template(id=SID, variables={"1": {"1": "Ada"}})),
        [
            (
                "template",
                "content",
                'template variable "1" is a map; Twilio Content variables are '
                'plain values numbered "1", "2", ...',
            )
        ],
        id="twlowa nested variable",
    ),
    pytest.param(
        "twlowa",
        {},
        _row(template=Template(id=SID, variables={"1": "Ada", "2": " "})),
        [
            (
                "template",
                "content",
                'template variable "2" is empty: WhatsApp needs a non-empty '
                "value for every variable, so give it a default in the template, e.g. "
                '{{ email or "-" }}',
            )
        ],
        id="twlowa empty variable",
    ),
    pytest.param(
        "gswa",
        {},
        _row(template=Template(id=GUPSHUP_ID, variables={"Body": {"1": "Ada", "2": ""}})),
        [
            (
                "template",
                "content",
                'template variable "Body.2" is empty: WhatsApp needs a '
                "non-empty value for every variable, so give it a default in the template, e.g. "
                '{{ email or "-" }}',
            )
        ],
        id="gswa empty variable",
    ),
    pytest.param(
        "gswa",
        {},
        _row(template=Template(id=GUPSHUP_ID, variables={"Footer": {"1": "x"}})),
        [
            (
                "template",
                "content",
                'template variable "Footer" is not one Sociocs accepts for '
                "gswa: use MEDIA_URL, Header, Body or Buttons",
            )
        ],
        id="gswa unknown component",
    ),
    pytest.param(
        "gswa",
        {},
        _row(template=Template(id=GUPSHUP_ID, variables={"Body": "Ada"})),
        [
            (
                "template",
                "content",
                'template variable "Body" must be a map of numbered values, e.g. {"1": "..."}',
            )
        ],
        id="gswa flat component",
    ),
    pytest.param(
        "gswa",
        {},
        _row(template=Template(id=GUPSHUP_ID, variables={"MEDIA_URL": {"1": "x"}})),
        [("template", "content", 'template variable "MEDIA_URL" must be a URL, not a map')],
        id="gswa nested MEDIA_URL",
    ),
    pytest.param(
        "gswa",
        {},
        _row(template=Template(id=" ")),
        [
            (
                "template",
                "content",
                "template id is empty: give the template id from the Gupshup console",
            )
        ],
        id="gswa empty id",
    ),
    pytest.param(
        "twlo",
        {"schedule": "2026-12-24T09:00:00"},
        _row(text="Hi"),
        [
            (
                None,
                "schedule",
                'schedule "2026-12-24T09:00:00" has no UTC offset: write it as ISO '
                '8601 with a UTC offset, e.g. "2026-12-24T09:00:00-05:00"',
            )
        ],
        id="naive schedule string",
    ),
    pytest.param(
        "twlo",
        {"schedule": datetime(2026, 12, 24, 9, 0)},
        _row(text="Hi"),
        [
            (
                None,
                "schedule",
                'schedule "2026-12-24T09:00:00" has no UTC offset: write it as ISO '
                '8601 with a UTC offset, e.g. "2026-12-24T09:00:00-05:00"',
            )
        ],
        id="naive datetime",
    ),
    pytest.param(
        "twlo",
        {"schedule": "next Tuesday"},
        _row(text="Hi"),
        [
            (
                None,
                "schedule",
                'schedule "next Tuesday" is not a date and time: write it as ISO '
                '8601 with a UTC offset, e.g. "2026-12-24T09:00:00-05:00"',
            )
        ],
        id="not a date",
    ),
]


@pytest.mark.parametrize(("provider", "options", "row", "expected"), RULES)
def test_rules_become_problems(
    provider: str,
    options: dict[str, Any],
    row: dict[str, Any],
    expected: list[tuple[str | None, str, str]],
) -> None:
    """Every documented rule a row breaks is a Problem naming the column and the fix."""
    problems = _channel(provider, **options).problems(row, row_number=7)
    assert problems == tuple(
        Problem(7, column, message, kind)  # type: ignore[arg-type]
        for column, kind, message in expected
    )


def test_exactly_1600_characters_is_fine() -> None:
    """Text of exactly 1,600 characters is allowed."""
    assert _channel().problems(_row(text="a" * 1600), row_number=2) == ()


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        pytest.param(
            (API_KEY, CHANNEL_KEYS["twlo"], "sms"),
            {},
            'Sociocs provider \'sms\' is not one of "twlo" (Twilio SMS), "twlowa" '
            '(Twilio WhatsApp) or "gswa" (Gupshup WhatsApp): pick the one your channel '
            "key belongs to",
            id="provider",
        ),
        pytest.param(
            ("", CHANNEL_KEYS["twlo"], "twlo"),
            {},
            "Sociocs api_key is empty: give the API key from Profile & settings -> API",
            id="api key",
        ),
        pytest.param(
            (API_KEY, " ", "twlo"),
            {},
            "Sociocs channel_key is empty: give the channel key from Profile & settings -> API",
            id="channel key",
        ),
        pytest.param(
            (API_KEY, CHANNEL_KEYS["twlo"], "twlo"),
            {"user_id": ""},
            "Sociocs user_id is empty: give a user id from /team-members or None",
            id="user id",
        ),
        pytest.param(
            (API_KEY, CHANNEL_KEYS["twlo"], "twlo"),
            {"contact_saving": ContactSaving(extra_fields=["E mail", "e-mail"])},
            "ContactSaving extra_fields give the field key(s) ['e_mail'] to more than "
            "one column (or an empty key): name the keys with a mapping {column: key}",
            id="clashing field keys",
        ),
    ],
)
def test_bad_configuration_is_a_channel_error(
    args: tuple[str, str, str], options: dict[str, Any], message: str
) -> None:
    """A wrongly configured channel fails at construction, saying what to change."""
    with pytest.raises(ChannelError) as raised:
        Sociocs(*args, **options)  # type: ignore[arg-type]
    assert str(raised.value) == message


def _response(status: int, body: Any = None, **kwargs: Any) -> httpx.Response:
    if body is not None:
        kwargs["json"] = body
    return httpx.Response(status, **kwargs)


@pytest.mark.parametrize(
    ("response", "receipt"),
    [
        pytest.param(
            _response(200, {"status": "success", "data": {"message_id": "Xyz12345"}}),
            Receipt(200, True, message_id="Xyz12345", provider_status="success"),
            id="seed 001 success",
        ),
        pytest.param(
            _response(200, {"status": "success"}),
            Receipt(200, True, provider_status="success"),
            id="seed 000 success without data",
        ),
        pytest.param(
            _response(200, {"status": "success", "data": {"job_id": "J-9"}}),
            Receipt(200, True, job_id="J-9", provider_status="success"),
            id="seed 002 bulk job",
        ),
        pytest.param(
            _response(400, {"status": "error", "errors": [{"msg": "Invalid channel_key."}]}),
            Receipt(400, False, provider_status="error", error="Invalid channel_key."),
            id="seed 001 error",
        ),
        pytest.param(
            _response(400, {"status": "error", "errors": [{"msg": "a"}, {"msg": "b"}]}),
            Receipt(400, False, provider_status="error", error="a; b"),
            id="several errors",
        ),
        pytest.param(
            _response(200, {"status": "error", "errors": [{"msg": "Invalid to."}]}),
            Receipt(200, False, provider_status="error", error="Invalid to."),
            id="error with HTTP 200",
        ),
        pytest.param(
            _response(401, {"status": "error"}),
            Receipt(
                401,
                False,
                provider_status="error",
                error="HTTP 401: authentication failed: check the API key (apikey header)",
            ),
            id="401 without messages",
        ),
        pytest.param(
            _response(429, {}),
            Receipt(429, False, error="HTTP 429: the rate limit has been reached"),
            id="429",
        ),
        pytest.param(
            _response(503, {}),
            Receipt(503, False, error="HTTP 503: a problem on Sociocs's server: try again later"),
            id="503",
        ),
        pytest.param(
            _response(
                502,
                content=b"<html><body>Bad gateway</body></html>",
                headers={"content-type": "text/html; charset=utf-8"},
            ),
            Receipt(
                502, False, error="HTTP 502 Bad Gateway with a body that is not JSON (text/html)"
            ),
            id="proxy 502 HTML",
        ),
        pytest.param(
            _response(500),
            Receipt(500, False, error="HTTP 500 Internal Server Error with an empty body"),
            id="empty 500",
        ),
    ],
)
def test_parse_response(response: httpx.Response, receipt: Receipt) -> None:
    """The envelope, the older success body and non-JSON bodies all become a Receipt."""
    assert _channel().parse_response(response) == receipt


def test_label_fingerprint_secrets_repr() -> None:
    """The channel names itself without secrets and lists both secrets for redaction."""
    channel = Sociocs("k:SECRET1", "gswa_SECRET2", "gswa", base_url="http://127.0.0.1:8000/")
    assert channel.label == "sociocs:gswa"
    assert channel.secrets() == ("k:SECRET1", "gswa_SECRET2")
    assert channel.fingerprint() == {
        "provider": "sociocs",
        "sociocs_provider": "gswa",
        "base_url": "http://127.0.0.1:8000",
        "channel_key_sha256": "57e16b635bbb0b09",
    }
    assert repr(channel) == "<Sociocs sociocs:gswa base_url='http://127.0.0.1:8000'>"
    assert channel.supports_bulk is True
    assert channel.supports_lookup is False


def test_base_url_is_used() -> None:
    """Pointing base_url elsewhere (the sandbox) moves every request there."""
    channel = _channel(base_url="http://127.0.0.1:8765/")
    assert (
        str(channel.build_request(_row(text="Hi"), key="k").url) == "http://127.0.0.1:8765/message"
    )
    assert str(channel.build_bulk_request([_row(text="Hi")], key="k").url) == (
        "http://127.0.0.1:8765/messages/bulk"
    )
