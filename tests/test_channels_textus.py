"""TextUs builds seed 003's requests, one recipient each, and refuses what seed 003 forbids."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from campaignkit import ChannelError, Media, Problem, Template
from campaignkit.channels import Receipt, TextUs

TOKEN = "tok_123"
JSONLD = "application/vnd.textus+jsonld"
TO = "+13035551234"


def _row(**cells: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"to": TO, "text": None, "media": (), "template": None}
    row.update(cells)
    return row


def _channel(channel: str = "sms", **options: Any) -> TextUs:
    return TextUs("my_account", TOKEN, channel, **options)  # type: ignore[arg-type]


GOLDEN = [
    pytest.param(
        "sms",
        {},
        _row(text="New phone who dis?"),
        {"to": TO, "body": "New phone who dis?"},
        id="seed 003 'Sending a Message'",
    ),
    pytest.param(
        "sms",
        {"saved_reply": "/saved_replies/QxvonQv"},
        _row(text="New phone who dis?"),
        {"to": TO, "body": "New phone who dis?", "saved_reply": "/saved_replies/QxvonQv"},
        id="seed 003 'Sending a Message from a SavedReply' (to as a string)",
    ),
    pytest.param(
        "sms",
        {},
        _row(text="New phone who dis?", media=(Media(url="https://example.com/example.png"),)),
        {
            "to": TO,
            "body": "New phone who dis?",
            "attachments": [
                {"media_url": "https://example.com/example.png", "content_type": "image/png"}
            ],
        },
        id="seed 003 'Sending a message with attachments' (to as a string, type from .png)",
    ),
    pytest.param(
        "sms",
        {},
        _row(
            media=(
                Media(url="https://example.com/card?id=1", kind="file", content_type="text/vcard"),
            )
        ),
        {
            "to": TO,
            "attachments": [
                {"media_url": "https://example.com/card?id=1", "content_type": "text/vcard"}
            ],
        },
        id="attachment only, with its own content type",
    ),
    pytest.param(
        "whatsapp",
        {},
        _row(text="Thanks for reaching out!"),
        {"to": TO, "body": "Thanks for reaching out!", "channel": "whatsapp"},
        id="seed 003 'Sending a WhatsApp message with body'",
    ),
    pytest.param(
        "whatsapp",
        {},
        _row(template=Template(id="dkDdrbR", variables={"appt_date": "1/1", "appt_time": "12:00"})),
        {
            "to": TO,
            "channel": "whatsapp",
            "template": {
                "id": "dkDdrbR",
                "variable_values": {"appt_date": "1/1", "appt_time": "12:00"},
            },
        },
        id="seed 003 'Sending a WhatsApp template message'",
    ),
    pytest.param(
        "whatsapp",
        {},
        _row(template=Template(id="dkDdrbR")),
        {"to": TO, "channel": "whatsapp", "template": {"id": "dkDdrbR"}},
        id="template without variables",
    ),
]


@pytest.mark.parametrize(("channel", "options", "row", "body"), GOLDEN)
def test_golden_request(
    channel: str, options: dict[str, Any], row: dict[str, Any], body: dict[str, Any]
) -> None:
    """Each kind of message becomes exactly seed 003's POST /my_account/messages request."""
    textus = _channel(channel, **options)
    assert textus.problems(row, row_number=2) == ()
    request = textus.build_request(row, key="unused")
    assert (request.method, str(request.url)) == (
        "POST",
        "https://next.textus.com/my_account/messages",
    )
    assert dict(request.headers) == {
        "host": "next.textus.com",
        "authorization": f"Bearer {TOKEN}",
        "accept": JSONLD,
        "content-type": JSONLD,
        "content-length": str(len(request.content)),
    }
    assert json.loads(request.content) == body


@pytest.mark.parametrize(
    ("url", "content_type"),
    [
        ("https://e.com/a.png", "image/png"),
        ("https://e.com/a.JPG", "image/jpeg"),
        ("https://e.com/a.jpeg?size=2", "image/jpeg"),
        ("https://e.com/a.gif", "image/gif"),
        ("https://e.com/a.rtf", "application/rtf"),
        ("https://e.com/a.pdf", "application/pdf"),
        ("https://e.com/a.ics", "text/calendar"),
        ("https://e.com/a.vcf", "text/vcard"),
        ("https://e.com/a.vcard", "text/vcard"),
    ],
)
def test_attachment_type_from_extension(url: str, content_type: str) -> None:
    """Every listed extension gives its MIME type when the Media has none."""
    request = _channel().build_request(_row(media=(Media(url=url, kind="file"),)), key="k")
    assert json.loads(request.content)["attachments"] == [
        {"media_url": url, "content_type": content_type}
    ]


TYPES = ".png, .jpg/.jpeg, .gif, .rtf, .pdf, .ics or .vcf/.vcard"

RULES = [
    pytest.param(
        "sms",
        {},
        _row(),
        [("text", "the message is empty: give it text, an attachment or (on WhatsApp) a template")],
        id="empty",
    ),
    pytest.param(
        "sms", {"saved_reply": "/saved_replies/QxvonQv"}, _row(), [], id="saved reply alone"
    ),
    pytest.param(
        "sms",
        {},
        _row(media=(Media(url="https://e.com/a.png"), Media(url="https://e.com/b.png"))),
        [("media", "TextUs sends one attachment per message and this row has 2: keep one")],
        id="two attachments",
    ),
    pytest.param(
        "sms",
        {},
        _row(text="Hi", media=(Media(url="https://e.com/download"),)),
        [
            (
                "media",
                'cannot tell the type of attachment "https://e.com/download" from its name: '
                f"give Media(content_type=...) for a {TYPES} file",
            )
        ],
        id="type unknown",
    ),
    pytest.param(
        "sms",
        {},
        _row(media=(Media(url="https://e.com/v.mp4", kind="video"),)),
        [
            (
                "media",
                'cannot tell the type of attachment "https://e.com/v.mp4" from its name: '
                f"give Media(content_type=...) for a {TYPES} file",
            )
        ],
        id="video extension",
    ),
    pytest.param(
        "sms",
        {},
        _row(media=(Media(url="https://e.com/v", content_type="video/mp4"),)),
        [("media", f'attachment type "video/mp4" is not one TextUs sends: attach a {TYPES} file')],
        id="type not listed",
    ),
    pytest.param(
        "sms",
        {},
        _row(media=(Media(url="https://e.com/50%.png"),)),
        [
            (
                "media",
                'media URL "https://e.com/50%.png" has characters a URL cannot carry (spaces, '
                "accents, a lone %): percent-encode them (in a template: {{ value | urlencode }})",
            )
        ],
        id="media URL with a lone %",
    ),
    pytest.param(
        "sms",
        {},
        _row(template=Template(id="dkDdrbR")),
        [
            (
                "template",
                'WhatsApp templates are sent only on channel "whatsapp": remove the '
                'template or use TextUs(..., channel="whatsapp")',
            )
        ],
        id="template on sms",
    ),
    pytest.param(
        "whatsapp",
        {},
        _row(text="Hi", template=Template(id="dkDdrbR")),
        [
            (
                "text",
                "TextUs does not use the body when sending a template, so this text would not "
                "be sent: remove the text or the template",
            )
        ],
        id="text and template",
    ),
    pytest.param(
        "whatsapp",
        {},
        _row(media=(Media(url="https://e.com/a.png"),), template=Template(id="dkDdrbR")),
        [
            (
                "media",
                "a TextUs template message carries no attachment: remove the media or the template",
            )
        ],
        id="attachment and template",
    ),
    pytest.param(
        "whatsapp",
        {},
        _row(template=Template(id="")),
        [("template", 'template id is empty: give the TextUs template id, e.g. "dkDdrbR"')],
        id="empty template id",
    ),
    pytest.param(
        "whatsapp",
        {},
        _row(template=Template(id="dkDdrbR", variables={"a": {"1": "x"}})),
        [
            (
                "template",
                'template variable "a" is a map; TextUs variable_values are plain values '
                "named like the template's variables",
            )
        ],
        id="nested variable",
    ),
    pytest.param(
        "whatsapp",
        {},
        _row(template=Template(id="dkDdrbR", variables={"appt_date": ""})),
        [
            (
                "template",
                'template variable "appt_date" is empty: WhatsApp needs a non-empty value '
                'for every variable, so give it a default in the template, e.g. {{ email or "-" }}',
            )
        ],
        id="empty variable",
    ),
]


@pytest.mark.parametrize(("channel", "options", "row", "expected"), RULES)
def test_rules_become_problems(
    channel: str, options: dict[str, Any], row: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    """Every rule of seed 003 a row breaks is a content Problem naming the column and the fix."""
    assert _channel(channel, **options).problems(row, row_number=4) == tuple(
        Problem(4, column, message, "content") for column, message in expected
    )


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        pytest.param(
            ("my_account", TOKEN, "mms"),
            {},
            'TextUs channel \'mms\' is not "sms" or "whatsapp": pick the network the '
            "campaign goes out on",
            id="channel",
        ),
        pytest.param(
            (" ", TOKEN, "sms"),
            {},
            'TextUs account is empty: give the account slug, e.g. "my_account"',
            id="account",
        ),
        pytest.param(
            ("my_account", "", "sms"),
            {},
            "TextUs token is empty: create an API token under Profile -> API Tokens",
            id="token",
        ),
        pytest.param(
            ("my_account", TOKEN, "sms"),
            {"saved_reply": "QxvonQv"},
            "TextUs saved_reply 'QxvonQv' is not a saved reply IRI: write it like "
            '"/saved_replies/QxvonQv"',
            id="saved reply",
        ),
    ],
)
def test_bad_configuration_is_a_channel_error(
    args: tuple[str, str, str], options: dict[str, Any], message: str
) -> None:
    """A wrongly configured channel fails at construction, saying what to change."""
    with pytest.raises(ChannelError) as raised:
        TextUs(*args, **options)  # type: ignore[arg-type]
    assert str(raised.value) == message


SEED_MESSAGE = {  # seed 003's example Message, trimmed to what the parser reads and a bit more
    "@type": "Message",
    "id": "/messages/QNDkpL",
    "@context": "/contexts/Message.jsonld",
    "direction": "out",
    "body": "Chuck Norris doesn't use web standards.",
    "deliveryState": "delivered",
    "channel": "sms",
    "whatsAppTemplate": None,
}


@pytest.mark.parametrize(
    ("response", "receipt"),
    [
        pytest.param(
            httpx.Response(201, json=SEED_MESSAGE, headers={"content-type": JSONLD}),
            Receipt(201, True, message_id="/messages/QNDkpL", provider_status="delivered"),
            id="201 Message",
        ),
        pytest.param(httpx.Response(201), Receipt(201, True), id="201 no body (saved reply)"),
        pytest.param(httpx.Response(202), Receipt(202, True), id="202 no body"),
        pytest.param(
            httpx.Response(422),
            Receipt(
                422,
                False,
                error=(
                    "HTTP 422: TextUs refused the message, e.g. a WhatsApp template that is "
                    "not approved "
                    "(pending or rejected) or variable_values missing a required variable"
                ),
            ),
            id="422 no body",
        ),
        pytest.param(
            httpx.Response(401),
            Receipt(
                401,
                False,
                error=("HTTP 401: TextUs refused the token: check it (Profile -> API Tokens)"),
            ),
            id="401",
        ),
        pytest.param(
            httpx.Response(429, headers={"retry-after": "30"}),
            Receipt(
                429,
                False,
                error=("HTTP 429: TextUs's rate limit (1,000 requests per 5 minutes per token)"),
            ),
            id="429",
        ),
        pytest.param(
            httpx.Response(404, json={"error": "Account not found"}),
            Receipt(404, False, error="HTTP 404: Account not found"),
            id="404 error body",
        ),
        pytest.param(
            httpx.Response(
                502, content=b"<html>bad gateway</html>", headers={"content-type": "text/html"}
            ),
            Receipt(
                502, False, error="HTTP 502 Bad Gateway with a body that is not JSON (text/html)"
            ),
            id="proxy 502",
        ),
    ],
)
def test_parse_response(response: httpx.Response, receipt: Receipt) -> None:
    """201 with a Message, bodiless 201/202, and each refusal become a Receipt."""
    assert _channel().parse_response(response) == receipt


def test_label_fingerprint_secrets_repr() -> None:
    """The channel names itself by account and network, never by its token."""
    channel = TextUs("my account", "tok_SECRET", "whatsapp", base_url="http://127.0.0.1:9/")
    assert channel.label == "textus:whatsapp"
    assert channel.secrets() == ("tok_SECRET",)
    assert channel.fingerprint() == {
        "provider": "textus",
        "account": "my account",
        "channel": "whatsapp",
        "base_url": "http://127.0.0.1:9",
    }
    assert repr(channel) == "<TextUs textus:whatsapp base_url='http://127.0.0.1:9'>"
    assert str(channel.build_request(_row(text="Hi"), key="k").url) == (
        "http://127.0.0.1:9/my%20account/messages"
    )
    assert (channel.supports_bulk, channel.supports_lookup) == (False, False)
