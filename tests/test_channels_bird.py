"""Bird builds seed 004's requests, each valid against Bird's OpenAPI spec, and looks them up."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaignkit import ChannelError, Media, Template
from campaignkit.channels import Bird, LookupInconclusive, Receipt

WS = "a1405560-c8d3-4b1a-877d-3f449ad95352"
CH = "16e1df9e-c6ac-406b-b1ce-13f34d0dea08"
KEY = "bird_access_key"
TO = "+31612345678"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
URL = f"https://api.bird.com/workspaces/{WS}/channels/{CH}/messages"
SPEC = Path(__file__).parent / "data" / "channels-create-message.openapi.json"
# Seed 004's example media (docs.gitbook), shortened to the file names that matter here.
IMAGE1 = "https://files.gitbook.com/v0/b/o/spaces%2Fuploads%2Fimage2.avif?alt=media"
IMAGE2 = "https://files.gitbook.com/v0/b/o/spaces%2Fuploads%2Fimage.png?alt=media"
VIDEO = "https://files.gitbook.com/v0/b/o/spaces%2Fuploads%2Fvideo.mp4?alt=media"
AUDIO = "https://files.gitbook.com/v0/b/o/spaces%2Fuploads%2Faudio.mp3?alt=media"
RECEIVER = {"contacts": [{"identifierKey": "phonenumber", "identifierValue": TO}]}


def _row(**cells: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"to": TO, "text": None, "media": (), "template": None}
    row.update(cells)
    return row


def _channel(**options: Any) -> Bird:
    return Bird(WS, CH, KEY, now=lambda: NOW, **options)


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` as JSON Schema (docs/providers/bird.md#the-openapi-check)."""
    if isinstance(node, list):
        return [_nullable(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable(v) for k, v in node.items()}
    if out.pop("nullable", False) is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


@functools.cache
def _validator() -> jsonschema.Draft4Validator:
    """The request body schema of the create-message operation, with its $refs."""
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    operation = spec["paths"]["/workspaces/{workspaceId}/channels/{channelId}/messages"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    root = _nullable({"components": spec["components"], **schema})
    return jsonschema.Draft4Validator(
        root, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )


GOLDEN = [
    pytest.param(
        {},
        _row(text="Single text message"),
        {"receiver": RECEIVER, "body": {"type": "text", "text": {"text": "Single text message"}}},
        id="text: seed 004 'Send an SMS message' in the 'Body' envelope",
    ),
    pytest.param(
        {},
        _row(media=(Media(url=IMAGE1),)),
        {
            "receiver": RECEIVER,
            "body": {"type": "image", "image": {"images": [{"mediaUrl": IMAGE1}]}},
        },
        id="image: seed 004 'Single image message'",
    ),
    pytest.param(
        {},
        _row(text="Single image message", media=(Media(url=IMAGE1),)),
        {
            "receiver": RECEIVER,
            "body": {
                "type": "image",
                "image": {"images": [{"mediaUrl": IMAGE1}], "text": "Single image message"},
            },
        },
        id="image with text: seed 004 'Single image message with text'",
    ),
    pytest.param(
        {},
        _row(text="Multiple images message", media=(Media(url=IMAGE1), Media(url=IMAGE2))),
        {
            "receiver": RECEIVER,
            "body": {
                "type": "image",
                "image": {
                    "images": [{"mediaUrl": IMAGE1}, {"mediaUrl": IMAGE2}],
                    "text": "Multiple images message",
                },
            },
        },
        id="several images: seed 004 'Multiple image message with text'",
    ),
    pytest.param(
        {},
        _row(media=tuple(Media(url=f"https://e.com/{i}.png") for i in range(10))),
        {
            "receiver": RECEIVER,
            "body": {
                "type": "image",
                "image": {"images": [{"mediaUrl": f"https://e.com/{i}.png"} for i in range(10)]},
            },
        },
        id="ten images, the most Bird takes",
    ),
    pytest.param(
        {},
        _row(media=(Media(url=VIDEO, kind="video"),)),
        {
            "receiver": RECEIVER,
            "body": {
                "type": "file",
                "file": {"files": [{"mediaUrl": VIDEO, "contentType": "video/mp4"}]},
            },
        },
        id="video as a file: seed 004 'Single file message' (type from .mp4)",
    ),
    pytest.param(
        {},
        _row(
            text="Multiple files message",
            media=(
                Media(url=VIDEO, kind="file", content_type="video/mp4"),
                Media(url=AUDIO, kind="file", content_type="audio/mpeg"),
            ),
        ),
        {
            "receiver": RECEIVER,
            "body": {
                "type": "file",
                "file": {
                    "files": [
                        {"mediaUrl": VIDEO, "contentType": "video/mp4"},
                        {"mediaUrl": AUDIO, "contentType": "audio/mpeg"},
                    ],
                    "text": "Multiple files message",
                },
            },
        },
        id="several files: seed 004 'Multiple file message with text'",
    ),
    pytest.param(
        {},
        _row(
            text="Your invoice",
            media=(
                Media(url="https://e.com/i.pdf", kind="file", filename="invoice.pdf"),
                Media(url="https://e.com/logo.png"),
            ),
        ),
        {
            "receiver": RECEIVER,
            "body": {
                "type": "file",
                "file": {
                    "files": [
                        {
                            "mediaUrl": "https://e.com/i.pdf",
                            "contentType": "application/pdf",
                            "filename": "invoice.pdf",
                        },
                        {"mediaUrl": "https://e.com/logo.png", "contentType": "image/png"},
                    ],
                    "text": "Your invoice",
                },
            },
        },
        id="a file and an image go as files",
    ),
    pytest.param(
        {},
        _row(
            template=Template(
                id="ce6a2fd6-b2fa-4f5a-a2cd-f3bd15883318",
                variables={"name": "Robert"},
                version="latest",
                locale="en",
            )
        ),
        {
            "receiver": RECEIVER,
            "template": {
                "projectId": "ce6a2fd6-b2fa-4f5a-a2cd-f3bd15883318",
                "version": "latest",
                "locale": "en",
                "parameters": [{"type": "string", "key": "name", "value": "Robert"}],
            },
        },
        id="template: seed 004 'Text templates'",
    ),
    pytest.param(
        {},
        _row(template=Template(id="ce6a2fd6-b2fa-4f5a-a2cd-f3bd15883318")),
        {"receiver": RECEIVER, "template": {"projectId": "ce6a2fd6-b2fa-4f5a-a2cd-f3bd15883318"}},
        id="template without version, locale or parameters",
    ),
    pytest.param(
        {
            "tags": ("spring sale", "reminder_2026", "a-b"),
            "validity": 600,
            "scheduled_for": "2026-12-24T09:00:00Z",
        },
        _row(text="Hi"),
        {
            "receiver": RECEIVER,
            "body": {"type": "text", "text": {"text": "Hi"}},
            "scheduledFor": "2026-12-24T09:00:00Z",
            "validity": 600,
            "tags": ["spring sale", "reminder_2026", "a-b"],
        },
        id="tags, validity and scheduledFor",
    ),
    pytest.param(
        {
            "scheduled_for": datetime(2026, 12, 24, 9, 0, tzinfo=timezone(timedelta(hours=1))),
            "validity": 0,
        },
        _row(text="Hi"),
        {
            "receiver": RECEIVER,
            "body": {"type": "text", "text": {"text": "Hi"}},
            "scheduledFor": "2026-12-24T09:00:00+01:00",
            "validity": 0,
        },
        id="scheduledFor from an aware datetime",
    ),
]


@pytest.mark.parametrize(("options", "row", "body"), GOLDEN)
def test_golden_request(options: dict[str, Any], row: dict[str, Any], body: dict[str, Any]) -> None:
    """Each kind of message becomes exactly seed 004's request, with reference = the row key."""
    channel = _channel(**options)
    assert channel.problems(row, row_number=2) == ()
    request = channel.build_request(row, key="row-2")
    assert (request.method, str(request.url)) == ("POST", URL)
    assert dict(request.headers) == {
        "host": "api.bird.com",
        "authorization": f"AccessKey {KEY}",
        "accept": "application/json",
        "content-type": "application/json",
        "content-length": str(len(request.content)),
    }
    assert json.loads(request.content) == {**body, "reference": "row-2"}


@pytest.mark.parametrize(("options", "row", "body"), GOLDEN)
def test_every_request_validates_against_the_spec(
    options: dict[str, Any], row: dict[str, Any], body: dict[str, Any]
) -> None:
    """Every request the builder makes is valid against Bird's CreateMessage schema."""
    payload = json.loads(_channel(**options).build_request(row, key="row-2").content)
    assert [error.message for error in _validator().iter_errors(payload)] == []


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"body": {"type": "text", "text": {"text": "Hi"}}}, id="no receiver"),
        pytest.param(
            {"receiver": RECEIVER, "body": {"type": "text", "text": {"text": ""}}}, id="empty text"
        ),
        pytest.param(
            {
                "receiver": RECEIVER,
                "body": {"type": "text", "text": {"text": "Hi"}},
                "tags": ["no!"],
            },
            id="bad tag",
        ),
        pytest.param(
            {
                "receiver": RECEIVER,
                "body": {"type": "text", "text": {"text": "Hi"}},
                "scheduledFor": "2026-12-24 09:00",
            },
            id="not RFC 3339",
        ),
        pytest.param({"receiver": RECEIVER}, id="neither body nor template"),
    ],
)
def test_the_spec_check_can_fail(payload: dict[str, Any]) -> None:
    """The schema check rejects payloads Bird would reject, so its passes mean something."""
    assert list(_validator().iter_errors(payload)) != []


def _problems(row: dict[str, Any], **options: Any) -> list[tuple[str | None, str, str]]:
    return [(p.column, p.kind, p.message) for p in _channel(**options).problems(row, row_number=9)]


RULES = [
    pytest.param(
        {},
        _row(),
        [("text", "content", "the message is empty: give it text, media or a template")],
        id="empty",
    ),
    pytest.param(
        {},
        _row(media=tuple(Media(url=f"https://e.com/{i}.png") for i in range(11))),
        [
            (
                "media",
                "content",
                "Bird sends up to 10 images or files per message and this row has 11: "
                "keep 10 or fewer",
            )
        ],
        id="eleven images",
    ),
    pytest.param(
        {},
        _row(
            media=(
                Media(url="https://e.com/a.png"),
                Media(url="https://e.com/download", kind="file"),
            )
        ),
        [
            (
                "media",
                "content",
                'cannot tell the content type of file "https://e.com/download" from its '
                'name: give Media(content_type=...), e.g. "application/pdf"',
            )
        ],
        id="file type unknown",
    ),
    pytest.param(
        {},
        _row(media=(Media(url="ftp://e.com/a.png"),)),
        [
            (
                "media",
                "content",
                'media URL "ftp://e.com/a.png" is not a public http(s) address: give '
                'the full URL, e.g. "https://example.com/flyer.png"',
            )
        ],
        id="media URL not http",
    ),
    pytest.param(
        {},
        _row(text="Hi", template=Template(id="p1")),
        [
            (
                "text",
                "content",
                "a Bird template message sends only the template, so this text would "
                "not be sent: remove the text or the template",
            )
        ],
        id="text and template",
    ),
    pytest.param(
        {},
        _row(media=(Media(url="https://e.com/a.png"),), template=Template(id="p1")),
        [
            (
                "media",
                "content",
                "a Bird template message carries no media: remove the media or the template",
            )
        ],
        id="media and template",
    ),
    pytest.param(
        {},
        _row(template=Template(id=" ")),
        [("template", "content", "template id is empty: give the Studio project id (projectId)")],
        id="empty template id",
    ),
    pytest.param(
        {},
        _row(template=Template(id="p1", variables={"a": {"1": "x"}})),
        [
            (
                "template",
                "content",
                'template variable "a" is a map; Bird parameters are plain values',
            )
        ],
        id="nested variable",
    ),
    pytest.param(
        {},
        _row(template=Template(id="p1", variables={"": "x"})),
        [("template", "content", "a template variable has an empty name: name every parameter")],
        id="empty parameter name",
    ),
    pytest.param(
        {"scheduled_for": "2026-12-24T09:00:00"},
        _row(text="Hi"),
        [
            (
                None,
                "schedule",
                'scheduledFor "2026-12-24T09:00:00" has no UTC offset: write it as RFC '
                '3339 with a UTC offset, e.g. "2026-12-24T09:00:00Z"',
            )
        ],
        id="naive scheduledFor",
    ),
    pytest.param(
        {"scheduled_for": datetime(2026, 12, 24, 9)},
        _row(text="Hi"),
        [
            (
                None,
                "schedule",
                'scheduledFor "2026-12-24T09:00:00" has no UTC offset: write it as RFC '
                '3339 with a UTC offset, e.g. "2026-12-24T09:00:00Z"',
            )
        ],
        id="naive datetime",
    ),
    pytest.param(
        {"scheduled_for": "2026-12-24T09:00+00:00"},
        _row(text="Hi"),
        [
            (
                None,
                "schedule",
                'scheduledFor "2026-12-24T09:00+00:00" is not RFC 3339 (date, time with '
                "seconds, offset): write it as RFC 3339 with a UTC offset, "
                'e.g. "2026-12-24T09:00:00Z"',
            )
        ],
        id="no seconds",
    ),
    pytest.param(
        {"scheduled_for": "2026-12-28T12:00:01Z"},
        _row(text="Hi"),
        [
            (
                None,
                "schedule",
                'scheduledFor "2026-12-28T12:00:01Z" is more than 35 days ahead and Bird '
                "rejects it: schedule it at 2026-12-28T12:00:00+00:00 or earlier",
            )
        ],
        id="35 days and a second ahead",
    ),
    pytest.param(
        {"scheduled_for": "2026-12-28T12:00:00Z"}, _row(text="Hi"), [], id="exactly 35 days ahead"
    ),
    pytest.param(
        {"scheduled_for": "2020-01-01T00:00:00Z"},
        _row(text="Hi"),
        [],
        id="in the past: Bird sends it at once",
    ),
]


@pytest.mark.parametrize(("options", "row", "expected"), RULES)
def test_rules_become_problems(
    options: dict[str, Any], row: dict[str, Any], expected: list[tuple[str | None, str, str]]
) -> None:
    """Every rule of seed 004 and the spec a row breaks is a Problem naming the fix."""
    assert _problems(row, **options) == expected


def test_the_35_day_rule_follows_the_clock() -> None:
    """The same schedule becomes fine once the injected clock moves closer to it."""
    clock = [NOW]
    channel = Bird(WS, CH, KEY, scheduled_for="2027-01-20T00:00:00Z", now=lambda: clock[0])
    assert [p.kind for p in channel.problems(_row(text="Hi"), row_number=2)] == ["schedule"]
    clock[0] = NOW + timedelta(days=30)
    assert channel.problems(_row(text="Hi"), row_number=2) == ()


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        pytest.param(
            ("ws-1", CH, KEY),
            {},
            "Bird workspace_id 'ws-1' is not a UUID: copy it from the channel's page in Bird",
            id="workspace",
        ),
        pytest.param(
            (WS, "", KEY),
            {},
            "Bird channel_id '' is not a UUID: copy it from the channel's page in Bird",
            id="channel",
        ),
        pytest.param(
            (WS, CH, " "),
            {},
            "Bird access_key is empty: create an access key in Bird's settings",
            id="key",
        ),
        pytest.param(
            (WS, CH, KEY),
            {"tags": [f"t{i}" for i in range(11)]},
            "Bird accepts up to 10 tags per message and 11 were given: keep 10 or fewer",
            id="eleven tags",
        ),
        pytest.param(
            (WS, CH, KEY),
            {"tags": ["ok", "not ok!", "x" * 51]},
            f"Bird tag(s) ['not ok!', '{'x' * 51}'] break the rule: 1-50 letters, "
            "digits, '-', '_' or spaces",
            id="bad tags",
        ),
        pytest.param(
            (WS, CH, KEY),
            {"tags": "sale"},
            "Bird tags must be a list of tags, not the string 'sale'",
            id="tags string",
        ),
        pytest.param(
            (WS, CH, KEY),
            {"validity": -1},
            "Bird validity -1 must be a whole number of seconds >= 0",
            id="validity",
        ),
    ],
)
def test_bad_configuration_is_a_channel_error(
    args: tuple[str, str, str], options: dict[str, Any], message: str
) -> None:
    """A wrongly configured channel fails at construction, saying what to change."""
    with pytest.raises(ChannelError) as raised:
        Bird(*args, **options)
    assert str(raised.value) == message


ACCEPTED = {  # seed 004's response example with outgoing values (docs/providers/bird.md#responses)
    "id": "123e4567-e89b-12d3-a456-426614174000",
    "channelId": CH,
    "sender": {"connector": {"id": "123e4567-e89b-12d3-a456-426614174000"}},
    "receiver": {"contacts": [{"identifierValue": TO}]},
    "reference": "row-2",
    "status": "accepted",
    "direction": "outgoing",
    "lastStatusAt": "2025-07-10T02:12:14.957Z",
    "createdAt": "2025-07-10T02:12:14.957Z",
    "updatedAt": "2025-07-10T02:12:14.957Z",
    "body": {"type": "text", "text": {"text": "Hi"}},
}


@pytest.mark.parametrize(
    ("response", "receipt"),
    [
        pytest.param(
            httpx.Response(202, json=ACCEPTED),
            Receipt(
                202,
                True,
                message_id="123e4567-e89b-12d3-a456-426614174000",
                provider_status="accepted",
            ),
            id="202 accepted",
        ),
        pytest.param(
            httpx.Response(202, json={**ACCEPTED, "status": "rejected", "reason": "blocked"}),
            Receipt(
                202,
                False,
                message_id="123e4567-e89b-12d3-a456-426614174000",
                provider_status="rejected",
                error="Bird rejected the message: blocked",
            ),
            id="202 rejected",
        ),
        pytest.param(
            httpx.Response(400, json={"code": "InvalidPayload", "message": "bad receiver"}),
            Receipt(400, False, error="InvalidPayload: bad receiver"),
            id="400",
        ),
        pytest.param(
            httpx.Response(
                404,
                json={
                    "code": "NotFound",
                    "message": "The requested resource does not exist: channel not found",
                },
            ),
            Receipt(
                404,
                False,
                error="NotFound: The requested resource does not exist: channel not found",
            ),
            id="404",
        ),
        pytest.param(
            httpx.Response(
                422,
                json={
                    "code": "ValidationError",
                    "message": "invalid",
                    "details": {"body.text.text": ["too long", "bad"]},
                },
            ),
            Receipt(422, False, error="ValidationError: invalid (body.text.text: too long, bad)"),
            id="422 with details",
        ),
        pytest.param(
            httpx.Response(502, content=b"<html/>", headers={"content-type": "text/html"}),
            Receipt(
                502, False, error="HTTP 502 Bad Gateway with a body that is not JSON (text/html)"
            ),
            id="proxy 502",
        ),
    ],
)
def test_parse_response(response: httpx.Response, receipt: Receipt) -> None:
    """202 with the message, and each documented error shape, become a Receipt."""
    assert _channel().parse_response(response) == receipt


def test_lookup_request() -> None:
    """A lookup lists the channel's messages with the row key as reference."""
    request = _channel().build_lookup_request("row 2&x")
    assert (request.method, str(request.url)) == ("GET", URL + "?reference=row+2%26x")
    assert dict(request.headers) == {
        "host": "api.bird.com",
        "authorization": f"AccessKey {KEY}",
        "accept": "application/json",
    }
    assert request.content == b""


@pytest.mark.parametrize(
    ("body", "receipt"),
    [
        pytest.param(
            {"results": [{**ACCEPTED, "reference": "row-1", "id": "other"}, ACCEPTED]},
            Receipt(
                200,
                True,
                message_id="123e4567-e89b-12d3-a456-426614174000",
                provider_status="accepted",
            ),
            id="found among others",
        ),
        pytest.param(
            {"results": [{**ACCEPTED, "status": "delivered"}], "nextPageToken": "abc"},
            Receipt(
                200,
                True,
                message_id="123e4567-e89b-12d3-a456-426614174000",
                provider_status="delivered",
            ),
            id="found with more pages",
        ),
        pytest.param(
            {"results": [{**ACCEPTED, "status": "sending_failed"}]},
            Receipt(
                200,
                False,
                message_id="123e4567-e89b-12d3-a456-426614174000",
                provider_status="sending_failed",
                error="Bird sending_failed the message",
            ),
            id="found but failed",
        ),
        pytest.param({"results": []}, None, id="proven absent"),
        pytest.param(
            {"results": [{**ACCEPTED, "reference": "row-1"}], "nextPageToken": ""},
            None,
            id="absent from the only page",
        ),
    ],
)
def test_parse_lookup(body: dict[str, Any], receipt: Receipt | None) -> None:
    """A lookup answer is the message with that reference, or None when proven absent."""
    assert _channel().parse_lookup(httpx.Response(200, json=body), "row-2") == receipt


@pytest.mark.parametrize(
    ("response", "message"),
    [
        pytest.param(
            httpx.Response(200, json={"results": [], "nextPageToken": "abc"}),
            "bird: reference 'row-2' is not on the first page of messages and there are "
            "more pages; the row stays in doubt",
            id="more pages",
        ),
        pytest.param(
            httpx.Response(500, json={"code": "Internal", "message": "oops"}),
            "bird: looking up reference 'row-2' got HTTP 500 (Internal: oops); the row "
            "stays in doubt: look it up again later",
            id="500",
        ),
        pytest.param(
            httpx.Response(429),
            "bird: looking up reference 'row-2' got HTTP 429 Too "
            "Many Requests with an empty body; the row stays in doubt: look it up again "
            "later",
            id="429",
        ),
        pytest.param(
            httpx.Response(200, json={"items": []}),
            "bird: the lookup of reference 'row-2' has no results list; the row stays in "
            "doubt, look it up again later",
            id="no results list",
        ),
    ],
)
def test_inconclusive_lookup_raises(response: httpx.Response, message: str) -> None:
    """An answer that proves neither presence nor absence raises LookupInconclusive."""
    with pytest.raises(LookupInconclusive) as raised:
        _channel().parse_lookup(response, "row-2")
    assert str(raised.value) == message


def test_label_fingerprint_secrets_repr() -> None:
    """The channel names its workspace and channel, never its access key."""
    channel = Bird(WS.upper(), CH, "SECRET", base_url="http://127.0.0.1:7/")
    assert channel.label == "bird"
    assert channel.secrets() == ("SECRET",)
    assert channel.fingerprint() == {
        "provider": "bird",
        "workspace_id": WS,
        "channel_id": CH,
        "base_url": "http://127.0.0.1:7",
    }
    assert repr(channel) == "<Bird bird base_url='http://127.0.0.1:7'>"
    assert str(channel.build_request(_row(text="Hi"), key="k").url) == (
        f"http://127.0.0.1:7/workspaces/{WS}/channels/{CH}/messages"
    )
    assert (channel.supports_bulk, channel.supports_lookup) == (False, True)


URLS = [
    "https://e.com/a.png",
    "https://e.com/b.jpg?x=1&y=%20",
    "https://e.com/v.mp4",
    "https://e.com/f",
    "http://e.com/%zz.pdf",
    "https://e.com/a b.png",
    "ftp://e.com/a.png",
    "e.com/a.png",
    "https://e.com/café.png",
    "https://",
    "",
]
_media = st.builds(
    Media,
    url=st.sampled_from(URLS),
    kind=st.sampled_from(["image", "image", "video", "file"]),
    content_type=st.one_of(st.none(), st.sampled_from(["image/png", "video/mp4", ""])),
    filename=st.one_of(st.none(), st.text(max_size=5)),
)
_flat = st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=3)
_template = st.builds(
    Template,
    id=st.text(max_size=6),
    variables=st.dictionaries(
        st.text(max_size=4), st.one_of(st.text(max_size=4), _flat, _flat), max_size=3
    ),
    version=st.one_of(st.none(), st.just("latest")),
    locale=st.one_of(st.none(), st.just("en")),
)
_text = st.one_of(st.none(), st.text(max_size=20))
# Mostly rows of one kind (text, media, template), so most examples reach the builder.
_rows = st.one_of(
    st.builds(lambda text: _row(text=text), _text),
    st.builds(
        lambda text, media: _row(text=text, media=media),
        _text,
        st.lists(_media, min_size=1, max_size=11).map(tuple),
    ),
    st.builds(lambda template: _row(template=template), _template),
    st.builds(
        lambda text, media, template: _row(text=text, media=media, template=template),
        _text,
        st.lists(_media, max_size=2).map(tuple),
        st.one_of(st.none(), _template),
    ),
)
_schedule = st.one_of(  # mostly none, so the schedule rules do not hide the rest
    st.none(),
    st.none(),
    st.none(),
    st.none(),
    st.sampled_from(
        [
            "2026-12-01T10:00:00Z",
            "2026-12-01T10:00:00.5+02:00",
            "2026-12-01T10:00",
            "2026-12-01",
            "2099-01-01T00:00:00Z",
            "nonsense",
        ]
    ),
    st.datetimes(
        min_value=datetime(2026, 1, 1),
        max_value=datetime(2027, 6, 1),
        timezones=st.one_of(st.none(), st.just(UTC)),
    ),
)


@settings(max_examples=400, deadline=None)
@given(
    row=_rows,
    key=st.text(max_size=10),
    tags=st.lists(st.sampled_from(["sale", "a b", "x_1-2"]), max_size=10),
    validity=st.one_of(st.none(), st.integers(0, 10**6)),
    scheduled_for=_schedule,
)
def test_any_row_without_problems_validates(
    row: dict[str, Any],
    key: str,
    tags: list[str],
    validity: int | None,
    scheduled_for: str | datetime | None,
) -> None:
    """Whatever the row and options, a request built for a row without problems is valid."""
    channel = _channel(tags=tags, validity=validity, scheduled_for=scheduled_for)
    if channel.problems(row, row_number=2):
        return
    payload = json.loads(channel.build_request(row, key=key).content)
    assert [error.message for error in _validator().iter_errors(payload)] == []
