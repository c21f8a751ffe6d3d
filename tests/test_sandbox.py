"""The sandbox in-process: auth, documented bad bodies, success bodies, faults, the record."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from campaignkit.sandbox import Faults, Sandbox, SandboxCredentials, read_record
from campaignkit.sandbox._bird import spec

NOW = 1_752_113_534.957  # 2025-07-10T02:12:14.957Z, the time in seed 004's examples
NOW_ISO = "2025-07-10T02:12:14.957Z"

SOCIOCS = "https://api.sociocs.com"
API_KEY = "e047nbp2UnWuHD9m:Xqc37DHPGMyF0Z4hWX3Afn1Iyj6j7dPc"  # the format example of SOC auth
CHANNEL_KEY = "twlo_16317471111"  # SOC integrations/keap.md
TEXTUS = "https://next.textus.com"
TOKEN = "textus-token-1"
BIRD = "https://api.bird.com"
ACCESS_KEY = "bird-access-key-1"
WS = "a1405560-c8d3-4b1a-877d-3f449ad95352"
CH = "ce6a2fd6-b2fa-4f5a-a2cd-f3bd15883318"
BIRD_MESSAGES = f"{BIRD}/workspaces/{WS}/channels/{CH}/messages"

# sha256 of each key, first 12 hex digits: the record's account and channel for Sociocs
CHANNEL_FINGERPRINTS = {"twlo": "sha256:62403a2444ab", "twlowa": "sha256:c7154168576b",
                        "gswa": "sha256:a72e456fd207"}

SOCIOCS_HEADERS = {"apikey": API_KEY}
TEXTUS_HEADERS = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/vnd.textus+jsonld"}
BIRD_HEADERS = {"Authorization": f"AccessKey {ACCESS_KEY}"}

# Seed 001 "Sending only text content", with real values in place of the placeholders.
SOCIOCS_TEXT = {
    "provider": "twlo",
    "channel_key": CHANNEL_KEY,
    "to": "+16175551212",
    "name": "recipient_name",
    "text": "message",
}
# Seed 003 "Sending a Message".
TEXTUS_TEXT = {"to": "+13035551234", "body": "New phone who dis?"}
# Seed 004 "Send an SMS message" inside the "Body" envelope.
BIRD_SMS = {
    "receiver": {"contacts": [{"identifierKey": "phonenumber", "identifierValue": "+31612345678"}]},
    "body": {"type": "text", "text": {"text": "Single text message"}},
}
# Seed 004 "Text templates".
BIRD_TEMPLATE = {
    "receiver": {"contacts": [{"identifierValue": "+31612345678"}]},
    "template": {
        "projectId": "ce6a2fd6-b2fa-4f5a-a2cd-f3bd15883318",
        "version": "latest",
        "locale": "en",
        "parameters": [{"type": "string", "key": "name", "value": "Robert"}],
    },
}

SOCIOCS_AUTH_FAILED = {
    "status": "error",
    "errors": [{"msg": "Authentication failed. Check apikey header."}],
}
BIRD_UNAUTHORIZED = {
    "code": "Unauthorized",
    "message": "Send a valid access key as 'Authorization: AccessKey <key>'.",
}


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def client(sandbox: Sandbox, **options: Any) -> httpx.Client:
    return httpx.Client(transport=sandbox.transport(sleep=lambda _: None), **options)


def sandbox(**options: Any) -> Sandbox:
    options.setdefault("clock", Clock())
    return Sandbox(**options)


# -- auth ------------------------------------------------------------------------------

SEND_CASES = {
    "sociocs": (f"{SOCIOCS}/message", SOCIOCS_TEXT),
    "textus": (f"{TEXTUS}/my_account/messages", TEXTUS_TEXT),
    "bird": (BIRD_MESSAGES, BIRD_SMS),
}


@pytest.mark.parametrize(
    ("provider", "options", "status", "body"),
    [
        ("sociocs", {"headers": {"apikey": API_KEY}}, 200, None),
        ("sociocs", {"auth": tuple(API_KEY.split(":"))}, 200, None),
        ("sociocs", {"params": {"apikey": API_KEY}}, 200, None),
        ("sociocs", {}, 401, SOCIOCS_AUTH_FAILED),
        ("sociocs", {"headers": {"apikey": "no-colon-in-this-key"}}, 401, SOCIOCS_AUTH_FAILED),
        ("sociocs", {"headers": {"Authorization": "Basic !!notbase64"}}, 401, SOCIOCS_AUTH_FAILED),
        ("textus", {"headers": TEXTUS_HEADERS}, 201, None),
        ("textus", {}, 401, b""),
        ("textus", {"headers": {"Authorization": f"Token {TOKEN}"}}, 401, b""),
        ("bird", {"headers": BIRD_HEADERS}, 202, None),
        ("bird", {}, 401, BIRD_UNAUTHORIZED),
        # Seed 004's "Bearer jwt" is a generator artefact; Bird wants AccessKey (B1).
        ("bird", {"headers": {"Authorization": f"Bearer {ACCESS_KEY}"}}, 401, BIRD_UNAUTHORIZED),
    ],
)
def test_any_well_formed_credential_is_accepted_without_configured_credentials(
    provider: str, options: dict[str, Any], status: int, body: Any
) -> None:
    """With credentials=None each provider accepts any well-formed credential in its own scheme."""
    url, payload = SEND_CASES[provider]
    response = client(sandbox()).post(url, json=payload, **options)
    assert response.status_code == status
    if body is not None:
        assert (response.json() if isinstance(body, dict) else response.content) == body


def test_sociocs_credentials_in_the_url_arrive_as_basic_auth() -> None:
    """Credentials in the URL (SOC auth way 3) are accepted, through httpx's Basic auth."""
    key_id, secret = API_KEY.split(":")
    url = f"https://{key_id}:{secret}@api.sociocs.com/message"
    assert client(sandbox()).post(url, json=SOCIOCS_TEXT).status_code == 200


CONFIGURED = SandboxCredentials(
    sociocs_api_keys=[API_KEY],
    sociocs_channel_keys=[CHANNEL_KEY],
    textus_tokens=[TOKEN],
    bird_access_keys=[ACCESS_KEY],
    forbidden=["a:forbidden", "forbidden-token", "forbidden-key"],
)


@pytest.mark.parametrize(
    ("provider", "headers", "status", "body"),
    [
        ("sociocs", SOCIOCS_HEADERS, 200, None),
        ("sociocs", {"apikey": "other:key"}, 401, SOCIOCS_AUTH_FAILED),
        ("sociocs", {"apikey": "a:forbidden"}, 403, {
            "status": "error",
            "errors": [{"msg": "This API key is not allowed to use this endpoint."}],
        }),
        ("textus", TEXTUS_HEADERS, 201, None),
        ("textus", {"Authorization": "Bearer other"}, 401, b""),
        ("textus", {"Authorization": "Bearer forbidden-token"}, 403, b""),
        ("bird", BIRD_HEADERS, 202, None),
        ("bird", {"Authorization": "AccessKey other"}, 401, BIRD_UNAUTHORIZED),
        ("bird", {"Authorization": "AccessKey forbidden-key"}, 403, {
            "code": "Forbidden", "message": "The access key is not allowed to do this.",
        }),
    ],
)
def test_configured_credentials_accept_only_those_and_forbidden_ones_get_403(
    provider: str, headers: dict[str, str], status: int, body: Any
) -> None:
    """Only configured credentials pass; a forbidden one authenticates but answers 403."""
    allowed = SandboxCredentials(
        sociocs_api_keys=[API_KEY, "a:forbidden"],
        textus_tokens=[TOKEN, "forbidden-token"],
        bird_access_keys=[ACCESS_KEY, "forbidden-key"],
        forbidden=["a:forbidden", "forbidden-token", "forbidden-key"],
    )
    url, payload = SEND_CASES[provider]
    response = client(sandbox(credentials=allowed)).post(url, json=payload, headers=headers)
    assert response.status_code == status
    if body is not None:
        assert (response.json() if isinstance(body, dict) else response.content) == body


def test_an_unconfigured_sociocs_channel_key_is_invalid() -> None:
    """A well-formed channel key that is not configured answers the documented error."""
    body = {**SOCIOCS_TEXT, "channel_key": "twlo_19999999999"}
    response = client(sandbox(credentials=CONFIGURED)).post(
        f"{SOCIOCS}/message", json=body, headers=SOCIOCS_HEADERS
    )
    assert (response.status_code, response.json()) == (
        400, {"status": "error", "errors": [{"msg": "Invalid channel_key."}]}
    )


def test_credentials_repr_shows_counts_never_secrets() -> None:
    """SandboxCredentials and Sandbox reprs name how many secrets, never their values."""
    text = repr(CONFIGURED) + repr(Sandbox(credentials=CONFIGURED))
    assert repr(CONFIGURED) == (
        "SandboxCredentials(sociocs_api_keys=<1 secret>, sociocs_channel_keys=<1 secret>, "
        "textus_tokens=<1 secret>, bird_access_keys=<1 secret>, forbidden=<3 secrets>)"
    )
    for secret in (API_KEY, CHANNEL_KEY, TOKEN, ACCESS_KEY, "forbidden-token"):
        assert secret not in text


# -- routing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "headers", "status", "body"),
    [
        # docs/providers/sociocs.md#the-message-path: /messages is the list path; a POST there is
        # not a send.
        ("POST", f"{SOCIOCS}/messages", SOCIOCS_HEADERS, 404,
         {"status": "error", "errors": [{"msg": "Requested API endpoint not found."}]}),
        ("GET", f"{SOCIOCS}/message", SOCIOCS_HEADERS, 404,
         {"status": "error", "errors": [{"msg": "Requested API endpoint not found."}]}),
        ("POST", f"{BIRD}/workspaces/{WS}/channels/not-a-uuid/messages", BIRD_HEADERS, 404,
         {"code": "NotFound",
          "message": "The requested resource does not exist: channel not found"}),
        ("POST", f"{BIRD}/workspaces/{WS}/channels", BIRD_HEADERS, 404,
         {"code": "NotFound",
          "message": "The requested resource does not exist: endpoint not found"}),
        ("POST", "http://anywhere.example/nothing/here/at/all", {}, 404, b""),
    ],
)
def test_unknown_paths_answer_404_in_the_providers_shape(
    method: str, url: str, headers: dict[str, str], status: int, body: Any
) -> None:
    """Paths the providers do not have answer 404, in the envelope of the provider they resemble."""
    response = client(sandbox()).request(method, url, json={}, headers=headers)
    assert response.status_code == status
    assert (response.json() if isinstance(body, dict) else response.content) == body


def test_hosts_are_ignored() -> None:
    """Routing is by path, so the real hosts and any base URL reach the same emulator."""
    assert client(sandbox()).post(
        "http://127.0.0.1:9/message", json=SOCIOCS_TEXT, headers=SOCIOCS_HEADERS
    ).status_code == 200


# -- Sociocs bodies ----------------------------------------------------------------------

TO_ERROR = ("Invalid to. Use the phone number starting with the country code, with or "
            "without a leading plus (e.g. +16175551212).")
SID = "HX" + "ab" * 16


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"provider": "tlnx"}, ["Invalid provider. Use twlo, twlowa or gswa."]),
        ({"channel_key": "16317471111"}, ["Invalid channel_key."]),
        ({"channel_key": "twlowa_16317471111"}, ["Invalid channel_key."]),
        ({"to": "0712 3456"}, [TO_ERROR]),
        ({"to": None}, [TO_ERROR]),
        ({"text": None},
         ["One of text, image_url, video_url, file_url or template is required."]),
        ({"text": "x" * 1601}, ["text is longer than 1600 characters (1601)."]),
        ({"image_url": "not a url"}, ["image_url must be a publicly accessible http(s) URL."]),
        ({"provider": "twlowa", "channel_key": "twlowa_16317471111",
          "image_url": "https://placehold.co/600x400"},
         ["image_url is supported only when provider is twlo."]),
        ({"template": {"id": SID}},
         ["template is used only when provider is twlowa or gswa."]),
        ({"provider": "twlowa", "channel_key": "twlowa_16317471111", "text": None,
          "template": {"id": "dkDdrbR"}},
         ["template.id must be a Twilio Content SID: HX followed by 32 hexadecimal digits."]),
        ({"provider": "twlowa", "channel_key": "twlowa_16317471111", "text": None,
          "template": {"id": SID, "variables": {"1": "John", "2": "", "3": " "}}},
         ["template.variables.2 is empty: every template variable needs a non-empty value.",
          "template.variables.3 is empty: every template variable needs a non-empty value."]),
        ({"provider": "gswa", "channel_key": "gswa_16317471111", "text": None,
          "template": {"id": "c6aecef6-bcb0-4fb1-8100-28c094e3bc6b",
                       "variables": {"MEDIA_URL": "", "Body": {"1": "x", "2": ""},
                                     "Footer": {"1": "x"}}}},
         ["template.variables.MEDIA_URL is empty: every template variable needs a non-empty value.",
          "template.variables.Body.2 is empty: every template variable needs a non-empty value.",
          "template.variables.Footer is not a Gupshup component: use MEDIA_URL, Header, Body "
          "or Buttons."]),
        ({"provider": "gswa", "channel_key": "gswa_16317471111", "text": None,
          "template": {"variables": {}}}, ["template.id is required."]),
        ({"schedule": "2023-12-25T11:00:00"},
         ['Invalid schedule. Use ISO 8601 date and time with an offset '
          '(e.g. "2006-01-02T15:04:05-04:00").']),
        ({"provider": None, "channel_key": None, "to": "abc", "text": ""},
         ["Invalid provider. Use twlo, twlowa or gswa.", "Invalid channel_key.", TO_ERROR,
          "One of text, image_url, video_url, file_url or template is required."]),
    ],
)
def test_sociocs_rejects_documented_bad_bodies_with_400_and_every_error(
    change: dict[str, Any], errors: list[str]
) -> None:
    """Each rule of seed 001 broken answers 400 with the envelope listing every error."""
    body = {k: v for k, v in {**SOCIOCS_TEXT, **change}.items() if v is not None}
    box = sandbox()
    response = client(box).post(f"{SOCIOCS}/message", json=body, headers=SOCIOCS_HEADERS)
    assert (response.status_code, response.json()) == (
        400, {"status": "error", "errors": [{"msg": m} for m in errors]}
    )
    assert len(box.accepted()) == 0


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"to": "16175551212"},  # "with or without leading plus"
        {"text": None, "image_url": "https://placehold.co/600x400"},
        {"provider": "twlowa", "channel_key": "twlowa_16317471111", "text": None,
         "template": {"id": SID, "variables": {"1": "John", "2": "john@example.com",
                                              "3": "11-Jul-2024"}}},
        {"provider": "gswa", "channel_key": "gswa_16317471111", "text": None,
         "template": {"id": "c6aecef6-bcb0-4fb1-8100-28c094e3bc6b", "variables": {
             "MEDIA_URL": "https://placehold.co/600x400", "Header": {"1": "John"},
             "Body": {"1": "john@example.com", "2": "11-Jul-2024"},
             "Buttons": {"1": "Quick Reply Text"}}}},
        {"schedule": "2006-01-02T15:04:05-04:00",
         "contact_saving": {"save": True, "list_id": 0, "extra_fields": {"id": 987123}}},
    ],
)
def test_sociocs_accepts_the_documented_shapes_with_a_message_id(change: dict[str, Any]) -> None:
    """Seed 001's shapes answer 200 with data.message_id "MM" + 32 hex, recorded once."""
    body = {k: v for k, v in {**SOCIOCS_TEXT, **change}.items() if v is not None}
    box = sandbox()
    response = client(box).post(f"{SOCIOCS}/message", json=body, headers=SOCIOCS_HEADERS)
    assert response.status_code == 200
    message_id = response.json()["data"]["message_id"]
    assert re.fullmatch(r"MM[0-9a-f]{32}", message_id)
    assert response.json() == {"status": "success", "data": {"message_id": message_id}}
    record = box.accepted()
    assert record[["provider", "account", "channel", "to", "message_id"]].to_dict("records") == [{
        "provider": "sociocs", "account": "sha256:ad52f2122fa1",
        "channel": CHANNEL_FINGERPRINTS[body["provider"]],
        "to": "+16175551212", "message_id": message_id,
    }]


def test_sociocs_accepts_form_encoded_bodies() -> None:
    """The Keap guide's name/value pairs (form encoding) are read like JSON."""
    response = client(sandbox()).post(f"{SOCIOCS}/message", data=SOCIOCS_TEXT,
                                      headers=SOCIOCS_HEADERS)
    assert response.status_code == 200


def test_sociocs_bulk_sends_once_per_number_unless_duplicates_are_allowed() -> None:
    """Seed 002: one job id; duplicates_allowed=false keeps the first occurrence per phone."""
    body = {
        "provider": "twlo",
        "channel_key": CHANNEL_KEY,
        "recipients": [
            {"to": "+16175551212", "name": "A"},
            {"to": "16175551212", "name": "A again"},
            {"to": "+16175550000", "name": "B"},
        ],
        "text": "message",
        "schedule": "2023-12-25T11:00:00-04:00",
    }
    box = sandbox()
    response = client(box).post(f"{SOCIOCS}/messages/bulk", json=body, headers=SOCIOCS_HEADERS)
    job_id = response.json()["data"]["job_id"]
    assert (response.status_code, response.json()) == (
        200, {"status": "success", "data": {"job_id": job_id}}
    )
    assert re.fullmatch(r"[0-9a-f]{24}", job_id)
    assert box.accepted()[["to", "job_id"]].to_dict("records") == [
        {"to": "+16175551212", "job_id": job_id},
        {"to": "+16175550000", "job_id": job_id},
    ]
    box.close()
    box = sandbox()
    client(box).post(f"{SOCIOCS}/messages/bulk", json={**body, "duplicates_allowed": True},
                     headers=SOCIOCS_HEADERS)
    assert box.accepted()["to"].tolist() == ["+16175551212", "+16175551212", "+16175550000"]


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"recipients": []}, ["recipients must be a non-empty array of {to, name} objects."]),
        ({"recipients": [{"to": "+16175551212"}, {"to": "x"}]},
         [TO_ERROR.replace("Invalid to.", "Invalid recipients[1].to.")]),
        ({"template": {"id": SID}}, ["template is not supported on /messages/bulk."]),
        ({"text": None}, ["One of text, image_url, video_url or file_url is required."]),
        ({"duplicates_allowed": "no"}, ["duplicates_allowed must be true or false."]),
    ],
)
def test_sociocs_bulk_rejects_bad_bodies(change: dict[str, Any], errors: list[str]) -> None:
    """Bulk bodies breaking seed 002 answer 400 with every error."""
    body = {"provider": "twlo", "channel_key": CHANNEL_KEY,
            "recipients": [{"to": "+16175551212", "name": "A"}], "text": "message", **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = client(sandbox()).post(f"{SOCIOCS}/messages/bulk", json=body,
                                      headers=SOCIOCS_HEADERS)
    assert (response.status_code, response.json()) == (
        400, {"status": "error", "errors": [{"msg": m} for m in errors]}
    )


def test_sociocs_lookup_lists_this_accounts_messages_in_the_date_range() -> None:
    """GET /messages returns the account's sent messages with to and text, filtered by date."""
    clock = Clock()
    box = sandbox(clock=clock)
    http = client(box)
    sent = http.post(f"{SOCIOCS}/message", json=SOCIOCS_TEXT, headers=SOCIOCS_HEADERS).json()
    http.post(f"{SOCIOCS}/message", json=SOCIOCS_TEXT, headers={"apikey": "someone:else"})
    response = http.get(f"{SOCIOCS}/messages", headers=SOCIOCS_HEADERS,
                        params={"start_date": "2025-07-10", "end_date": "2025-07-10"})
    assert (response.status_code, response.json()) == (200, {"status": "success", "data": [{
        "message_id": sent["data"]["message_id"],
        "direction": "outbound",
        "provider": "twlo",
        "to": "+16175551212",
        "name": "recipient_name",
        "text": "message",
        "image_urls": [],
        "video_urls": [],
        "file_urls": [],
        "job_id": None,
        "timestamp": 1752113534957,
    }]})
    earlier = http.get(f"{SOCIOCS}/messages", headers=SOCIOCS_HEADERS,
                       params={"start_date": "2025-07-01", "end_date": "2025-07-09"})
    assert earlier.json() == {"status": "success", "data": []}
    bad = http.get(f"{SOCIOCS}/messages", headers=SOCIOCS_HEADERS,
                   params={"start_date": "10/07/2025"})
    assert (bad.status_code, bad.json()) == (400, {"status": "error", "errors": [
        {"msg": "Invalid start_date. Use YYYY-MM-DD (e.g. 2024-01-31)."}]})
    assert len(box.accepted()) == 2


# -- TextUs ----------------------------------------------------------------------------


TEXTUS_TO = "to must be an E.164 number or a non-empty list of them"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"to": "+13035551234"},
         "one of body, template, saved_reply or an attachment is required"),
        ({"to": "3035551234", "body": "x"}, TEXTUS_TO),
        ({"to": [], "body": "x"}, TEXTUS_TO),
        ({"to": "+13035551234", "body": "x", "channel": "fax"},
         'channel must be "sms" or "whatsapp"'),
        ({"to": "+13035551234", "body": "Hi", "channel": "whatsapp",
          "template": {"id": "dkDdrbR"}}, "a template message has no body"),
        ({"to": "+13035551234", "channel": "whatsapp",
          "template": {"id": "dkDdrbR", "variable_values": {"appt_date": "1/1", "appt_time": ""}}},
         "template variable appt_time is empty"),
        ({"to": "+13035551234", "template": {"id": "dkDdrbR"}},
         'templates are WhatsApp only: set channel to "whatsapp"'),
        ({"to": ["+13035551234"], "body": "x",
          "attachments": [{"media_url": "https://example.com/a.png", "content_type": "image/png"},
                          {"media_url": "https://example.com/b.png", "content_type": "image/png"}]},
         "only one attachment per request"),
        ({"to": ["+13035551234"], "body": "x",
          "attachments": [{"media_url": "https://example.com/a.mp4", "content_type": "video/mp4"}]},
         "attachment content_type 'video/mp4' is not supported"),
        ({"to": "+13035551234", "body": "x", "saved_reply": "QxvonQv"},
         'saved_reply must be a SavedReply IRI like "/saved_replies/QxvonQv"'),
    ],
)
def test_textus_refuses_documented_bad_bodies_with_422_and_no_body(
    body: dict[str, Any], reason: str
) -> None:
    """Seed 003's refusals are 422 "No body"; the sandbox-only header says why."""
    box = sandbox()
    response = client(box).post(f"{TEXTUS}/my_account/messages", json=body,
                                headers=TEXTUS_HEADERS)
    assert (response.status_code, response.content) == (422, b"")
    assert response.headers["x-sandbox-error"] == reason
    assert len(box.accepted()) == 0


def test_textus_single_recipient_answers_201_with_a_message() -> None:
    """Seed 003 "Sending a Message": 201 and a JSON-LD Message in the seed's shape."""
    box = sandbox()
    response = client(box).post(f"{TEXTUS}/my_account/messages", json=TEXTUS_TEXT,
                                headers=TEXTUS_HEADERS)
    message = response.json()
    message_id = message["id"]
    assert re.fullmatch(r"/messages/[A-Za-z0-9]{7}", message_id)
    assert re.fullmatch(r"/conversations/[A-Za-z0-9]{7}", message["conversation"])
    assert re.fullmatch(r"/users/[A-Za-z0-9]{7}", message["sender"])
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/vnd.textus+jsonld"
    assert message == {
        "@type": "Message",
        "id": message_id,
        "@context": "/contexts/Message.jsonld",
        "direction": "out",
        "body": "New phone who dis?",
        "formattedBody": "<div>New phone who dis?</div>",
        "displayTimestamp": NOW_ISO,
        "timelinePosition": NOW_ISO,
        "deliveryState": "queued",
        "conversation": message["conversation"],
        "sender": message["sender"],
        "attachments": {
            "@context": "/contexts/hydra:Collection.jsonld",
            "@type": "hydra:Collection",
            "id": f"{message_id}/attachments",
            "members": [],
            "totalItems": 0,
        },
        "friendlyStateDescription": "Message Queued",
        "retryAllowed": False,
        "retry": None,
        "latestEventAt": NOW_ISO,
        "flags": [],
        "source": "textus",
        "channel": "sms",
        "whatsAppTemplate": None,
        "engagementScore": None,
        "engagementTemperature": None,
    }
    assert box.accepted()[["provider", "account", "channel", "to", "text", "message_id"]].to_dict(
        "records") == [{"provider": "textus", "account": "my_account", "channel": "sms",
                        "to": "+13035551234", "text": "New phone who dis?",
                        "message_id": message_id}]


@pytest.mark.parametrize(
    "body",
    [
        # Seed 003 "Sending a message with attachments" (a one-element list is one recipient).
        {"to": ["+13035551234"], "body": "New phone who dis?",
         "attachments": [{"media_url": "https://example.com/example.png",
                          "content_type": "image/png"}]},
        {"to": "+13035551234", "body": "Thanks for reaching out!", "channel": "whatsapp"},
        {"to": "+13035551234", "channel": "whatsapp",
         "template": {"id": "dkDdrbR",
                      "variable_values": {"appt_date": "1/1", "appt_time": "12:00"}}},
        {"to": ["+13035551234"], "body": "New phone who dis?",
         "saved_reply": "/saved_replies/QxvonQv"},
    ],
)
def test_textus_seed_examples_answer_201(body: dict[str, Any]) -> None:
    """Every single-recipient example of seed 003 is accepted with 201 and its channel."""
    response = client(sandbox()).post(f"{TEXTUS}/my_account/messages", json=body,
                                      headers=TEXTUS_HEADERS)
    message = response.json()
    assert (response.status_code, message["channel"]) == (201, body.get("channel", "sms"))
    assert message["attachments"]["totalItems"] == len(body.get("attachments", []))
    template = message["whatsAppTemplate"]
    assert (template and template["id"]) == (body.get("template") or {}).get("id")


def test_textus_several_recipients_answer_202_without_a_body() -> None:
    """Seed 003 "multiple Recipients": 202, no body, one recorded message per recipient."""
    box = sandbox()
    body = {"to": ["+13035551234", "+13035555678"], "body": "New phone who dis?"}
    response = client(box).post(f"{TEXTUS}/my_account/messages", json=body,
                                headers=TEXTUS_HEADERS)
    assert (response.status_code, response.content) == (202, b"")
    assert box.accepted()["to"].tolist() == ["+13035551234", "+13035555678"]


# -- Bird --------------------------------------------------------------------------------


def test_bird_answers_202_with_a_message_that_matches_birds_own_schema() -> None:
    """Seed 004 SMS: 202, status accepted, outgoing, contacts receiver, valid per the spec."""
    box = sandbox()
    response = client(box).post(BIRD_MESSAGES, json={**BIRD_SMS, "reference": "row-17"},
                                headers=BIRD_HEADERS)
    message = response.json()
    assert response.status_code == 202
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        message["id"])
    assert message == {
        "id": message["id"],
        "channelId": CH,
        "sender": {"connector": {"id": message["sender"]["connector"]["id"]}},
        "receiver": {"contacts": [{
            "id": message["receiver"]["contacts"][0]["id"],
            "identifierKey": "phonenumber",
            "identifierValue": "+31612345678",
        }]},
        "status": "accepted",
        "direction": "outgoing",
        "lastStatusAt": NOW_ISO,
        "createdAt": NOW_ISO,
        "updatedAt": NOW_ISO,
        "reference": "row-17",
        "body": BIRD_SMS["body"],
    }
    schema = {"components": spec()["components"], "$ref": "#/components/schemas/Message"}
    assert list(jsonschema.Draft4Validator(schema).iter_errors(message)) == []
    assert box.accepted()[["provider", "account", "channel", "to", "text", "reference"]].to_dict(
        "records") == [{"provider": "bird", "account": WS, "channel": CH, "to": "+31612345678",
                        "text": "Single text message", "reference": "row-17"}]


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (BIRD_TEMPLATE, "accepted"),
        ({**BIRD_SMS, "scheduledFor": "2025-07-10T02:20:00Z"}, "accepted"),  # within 10 min
        ({**BIRD_SMS, "scheduledFor": "2025-07-20T02:12:14Z"}, "scheduled"),
        ({**BIRD_SMS, "body": {"type": "image", "image": {
            "images": [{"mediaUrl": "https://example.com/image2.avif"}],
            "text": "Single image message", "metadata": {"subject": "Message subject"}}}},
         "accepted"),
        ({**BIRD_SMS, "body": {"type": "file", "file": {"files": [{
            "mediaUrl": "https://example.com/video.mp4", "contentType": "video/mp4"}]}}},
         "accepted"),
    ],
)
def test_bird_accepts_the_seed_shapes(payload: dict[str, Any], status: str) -> None:
    """Template, scheduled, image and file examples of seed 004 are accepted (202)."""
    response = client(sandbox()).post(BIRD_MESSAGES, json=payload, headers=BIRD_HEADERS)
    assert (response.status_code, response.json()["status"]) == (202, status)


RC = {"contacts": [{"identifierValue": "+31612345678"}]}
TEXT = {"type": "text", "text": {"text": "x"}}


@pytest.mark.parametrize(
    ("payload", "details"),
    [
        ({"receiver": RC}, {"$": ["one of 'template' or 'body' is required"]}),
        ({"receiver": RC, "body": {"type": "text", "text": {"text": ""}}},
         {"$.body.text.text": ["'' should be non-empty"]}),
        ({"receiver": RC, "body": TEXT, "to": "+31612345678"},
         {"$": ["Additional properties are not allowed ('to' was unexpected)"]}),
        ({"receiver": RC, "body": {"type": "template", "template": {}}},
         {"$.body.type": ["'template' is not one of text, html, image, file, gif, location, "
                          "carousel, list, section, authentication, action"]}),
        ({"receiver": RC, "body": {"type": "image", "image": {"images": [{"url": "x"}]}}},
         {"$.body.image.images[0]": ["Additional properties are not allowed ('url' was unexpected)",
                                     "'mediaUrl' is a required property"]}),
        ({"receiver": RC, "body": TEXT, "scheduledFor": "tomorrow"},
         {"$.scheduledFor": ["'tomorrow' is not a 'date-time'"]}),
        ({"receiver": RC, "body": TEXT, "tags": ["a"] * 11},
         {"$.tags": [f"{['a'] * 11!r} is too long"]}),
        # prose rules (BIRD-SMS, ScheduledFor description, docs/providers/bird.md)
        ({"receiver": {"contacts": []}, "body": TEXT},
         {"$.receiver.contacts": ["at least one contact is required"]}),
        ({"receiver": {"contacts": [{"identifierValue": "0612345678"}]}, "body": TEXT},
         {"$.receiver.contacts[0].identifierValue":
          ["'0612345678' is not a phone number in E.164 format (e.g. +31612345678)"]}),
        ({"receiver": RC, "body": TEXT, "template": BIRD_TEMPLATE["template"]},
         {"$": ["set either body or template, not both"]}),
        ({"receiver": RC, "body": {"type": "image", "image": {
            "images": [{"mediaUrl": "https://example.com/a.png"}] * 11}}},
         {"$.body.image.images": ["must hold 1 to 10 media, got 11"]}),
        ({"receiver": RC, "body": {"type": "file", "file": {
            "files": [{"mediaUrl": "ftp://example.com/a.pdf", "contentType": "application/pdf"}]}}},
         {"$.body.file.files[0].mediaUrl": ["must be a public http(s) URL"]}),
        ({"receiver": RC, "body": TEXT, "scheduledFor": "2025-08-20T00:00:00Z"},
         {"$.scheduledFor": ["messages scheduled farther than 35 days are rejected"]}),
    ],
)
def test_bird_rejects_bodies_against_its_spec_and_prose_with_422(
    payload: dict[str, Any], details: dict[str, list[str]]
) -> None:
    """Bodies breaking Bird's OpenAPI schema or its prose rules answer a ValidationError."""
    box = sandbox()
    response = client(box).post(BIRD_MESSAGES, json=payload, headers=BIRD_HEADERS)
    assert (response.status_code, response.json()) == (422, {
        "code": "InvalidPayload",
        "message": "The request did not pass validation.",
        "details": details,
    })
    assert len(box.accepted()) == 0


def test_bird_rejects_a_body_that_is_not_json_with_400() -> None:
    """A body that is not JSON answers 400 with a RequestError."""
    response = client(sandbox()).post(BIRD_MESSAGES, content=b"{nope", headers=BIRD_HEADERS)
    assert (response.status_code, response.json()) == (
        400, {"code": "InvalidRequest", "message": "The request body is not valid JSON."}
    )


def test_bird_lookup_finds_a_message_by_reference_and_pages() -> None:
    """GET .../messages?reference= returns exactly that message; limit and pageToken page."""
    box = sandbox()
    http = client(box)
    sent = [
        http.post(BIRD_MESSAGES, json={**BIRD_SMS, "reference": f"row-{n}"},
                  headers=BIRD_HEADERS).json()
        for n in range(3)
    ]
    found = http.get(BIRD_MESSAGES, params={"reference": "row-1"}, headers=BIRD_HEADERS)
    assert (found.status_code, found.json()) == (200, {"results": [sent[1]], "nextPageToken": None})
    first = http.get(BIRD_MESSAGES, params={"limit": 2}, headers=BIRD_HEADERS).json()
    assert first["results"] == [sent[2], sent[1]]
    second = http.get(BIRD_MESSAGES, params={"limit": 2, "pageToken": first["nextPageToken"]},
                      headers=BIRD_HEADERS).json()
    assert second == {"results": [sent[0]], "nextPageToken": None}
    missing = http.get(BIRD_MESSAGES, params={"reference": "row-9"}, headers=BIRD_HEADERS)
    assert missing.json() == {"results": [], "nextPageToken": None}
    assert len(box.accepted()) == 3


# -- faults ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("faults", "status", "recorded"),
    [
        (Faults(p_429=1.0, retry_after=7), 429, 0),
        (Faults(p_500_before=1.0), 500, 0),
        (Faults(p_500_after=1.0), 500, 1),
    ],
)
def test_status_faults_answer_in_the_providers_shape(
    faults: Faults, status: int, recorded: int
) -> None:
    """429 and 5xx faults answer the provider's envelope; only _after faults record the message."""
    box = sandbox(faults=faults)
    response = client(box).post(f"{SOCIOCS}/message", json=SOCIOCS_TEXT, headers=SOCIOCS_HEADERS)
    messages = {
        429: "The rate limit has been reached.",
        500: "There was a problem processing the request on our server. Try again later.",
    }
    assert (response.status_code, response.json()) == (
        status, {"status": "error", "errors": [{"msg": messages[status]}]}
    )
    assert response.headers.get("retry-after") == ("7" if status == 429 else None)
    assert len(box.accepted()) == recorded


@pytest.mark.parametrize(("faults", "recorded"), [
    (Faults(p_drop_before=1.0), 0), (Faults(p_drop_after=1.0), 1)
])
def test_a_drop_raises_remote_protocol_error_as_a_closed_connection(
    faults: Faults, recorded: int
) -> None:
    """A drop looks like a server hanging up: the client cannot tell before from after."""
    box = sandbox(faults=faults)
    dropped = re.escape("Server disconnected without sending a response.")
    with pytest.raises(httpx.RemoteProtocolError, match=f"^{dropped}$"):
        client(box).post(BIRD_MESSAGES, json=BIRD_SMS, headers=BIRD_HEADERS)
    assert len(box.accepted()) == recorded


def test_a_stall_waits_the_read_timeout_then_raises_read_timeout_but_accepts() -> None:
    """A stall sleeps the request's own read timeout and raises ReadTimeout; the message is in."""
    slept: list[float] = []
    box = sandbox(faults=Faults(p_stall=1.0), latency=0.25)
    http = httpx.Client(transport=box.transport(sleep=slept.append),
                        timeout=httpx.Timeout(5.0, read=0.5))
    with pytest.raises(httpx.ReadTimeout):
        http.post(f"{TEXTUS}/my_account/messages", json=TEXTUS_TEXT, headers=TEXTUS_HEADERS)
    assert slept == [0.25, 0.5]
    assert box.accepted()["to"].tolist() == ["+13035551234"]


def test_a_stall_without_a_shorter_timeout_answers_late() -> None:
    """With no read timeout shorter than stall_seconds the stalled response arrives late."""
    slept: list[float] = []
    box = sandbox(faults=Faults(p_stall=1.0, stall_seconds=3.0))
    http = httpx.Client(transport=box.transport(sleep=slept.append), timeout=None)
    response = http.post(f"{TEXTUS}/my_account/messages", json=TEXTUS_TEXT, headers=TEXTUS_HEADERS)
    assert (response.status_code, slept) == (201, [3.0])


def test_latency_longer_than_the_read_timeout_times_out_after_the_server_accepted() -> None:
    """A slow server still processes the request the client gave up on."""
    slept: list[float] = []
    box = sandbox(latency=2.0)
    http = httpx.Client(transport=box.transport(sleep=slept.append),
                        timeout=httpx.Timeout(5.0, read=0.5))
    with pytest.raises(httpx.ReadTimeout):
        http.post(f"{SOCIOCS}/message", json=SOCIOCS_TEXT, headers=SOCIOCS_HEADERS)
    assert (slept, len(box.accepted())) == ([0.5], 1)


def test_the_async_transport_answers_and_stalls_with_asyncio() -> None:
    """AsyncClient works through the same handler; its stall uses the async sleep."""
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    async def scenario(calm: Sandbox, stalling: Sandbox) -> int:
        timeout = httpx.Timeout(1.0)
        async with httpx.AsyncClient(transport=calm.transport(), timeout=timeout) as http:
            ok = await http.post(BIRD_MESSAGES, json=BIRD_SMS, headers=BIRD_HEADERS)
        transport = stalling.transport(async_sleep=fake_sleep)
        async with httpx.AsyncClient(transport=transport, timeout=timeout) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.post(BIRD_MESSAGES, json=BIRD_SMS, headers=BIRD_HEADERS)
        return ok.status_code

    calm, stalling = sandbox(), sandbox(faults=Faults(p_stall=1.0))
    status = asyncio.run(scenario(calm, stalling))
    assert (status, slept, len(calm.accepted()), len(stalling.accepted())) == (202, [1.0], 1, 1)


def outcomes(box: Sandbox, n: int) -> list[str]:
    """What the client saw for n identical sends: a status or the exception's name."""
    http = client(box, timeout=httpx.Timeout(1.0))
    seen = []
    for _ in range(n):
        try:
            seen.append(str(http.post(f"{SOCIOCS}/message", json=SOCIOCS_TEXT,
                                      headers=SOCIOCS_HEADERS).status_code))
        except httpx.HTTPError as exc:
            seen.append(type(exc).__name__)
    return seen


def test_faults_and_ids_are_deterministic_with_the_seed() -> None:
    """The same seed gives the same faults and ids; another seed gives others."""
    first, again, other = (sandbox(seed=s, faults=Faults.mixed(0.6)) for s in (7, 7, 8))
    seen = outcomes(first, 40)
    assert seen == outcomes(again, 40)
    assert seen != outcomes(other, 40)
    assert first.accepted()["message_id"].tolist() == again.accepted()["message_id"].tolist()
    assert set(seen) == {"200", "429", "500", "RemoteProtocolError", "ReadTimeout"}


def test_bad_bodies_consume_a_draw_so_faults_depend_only_on_the_request_number() -> None:
    """The n-th send gets the same fault whether or not the sends before it were valid."""
    box_a = sandbox(seed=5, faults=Faults(p_500_before=0.5))
    box_b = sandbox(seed=5, faults=Faults(p_500_before=0.5))
    http_a, http_b = client(box_a), client(box_b)
    bad = {**SOCIOCS_TEXT, "to": "nope"}
    seen_a = [http_a.post(f"{SOCIOCS}/message", json=SOCIOCS_TEXT,
                          headers=SOCIOCS_HEADERS).status_code for _ in range(20)]
    seen_b = [http_b.post(f"{SOCIOCS}/message", json=bad if n % 2 else SOCIOCS_TEXT,
                          headers=SOCIOCS_HEADERS).status_code for n in range(20)]
    assert [a == 500 for a in seen_a] == [b == 500 for b in seen_b]


def test_the_rate_limit_answers_429_with_retry_after_until_the_window_ends() -> None:
    """rate_limit=2: the third request in the window gets 429 and the seconds to its end."""
    clock = Clock(1000.25)
    box = sandbox(clock=clock, faults=Faults(rate_limit=2, rate_window=1.0))
    http = client(box)

    def send() -> httpx.Response:
        return http.post(f"{SOCIOCS}/message", json=SOCIOCS_TEXT, headers=SOCIOCS_HEADERS)

    lookup = http.get(f"{SOCIOCS}/messages", headers=SOCIOCS_HEADERS)  # lookups count too
    assert [lookup.status_code, send().status_code] == [200, 200]
    limited = send()
    assert (limited.status_code, limited.headers["retry-after"], limited.json()) == (
        429, "1", {"status": "error", "errors": [{"msg": "The rate limit has been reached."}]}
    )
    other_account = http.post(f"{SOCIOCS}/message", json=SOCIOCS_TEXT,
                              headers={"apikey": "other:key"})
    assert other_account.status_code == 200
    clock.now = 1001.0
    assert send().status_code == 200
    assert len(box.accepted()) == 3


def test_retry_after_can_be_an_http_date() -> None:
    """retry_after_http_date=True sends the RFC 9110 HTTP-date form, rounded up."""
    box = sandbox(clock=Clock(1_752_113_534.957),
                  faults=Faults(rate_limit=1, rate_window=60.0, retry_after_http_date=True))
    http = client(box)
    http.post(BIRD_MESSAGES, json=BIRD_SMS, headers=BIRD_HEADERS)
    limited = http.post(BIRD_MESSAGES, json=BIRD_SMS, headers=BIRD_HEADERS)
    # window 1752113520..1752113580: 45.043 s left -> 46 s from the next whole second
    assert (limited.status_code, limited.headers["retry-after"], limited.json()) == (
        429, "Thu, 10 Jul 2025 02:13:01 GMT",
        {"code": "TooManyRequests",
         "message": "Too many requests; the request has not been processed and can be retried."},
    )


def test_faults_repr_shows_only_what_was_changed() -> None:
    """Faults() has a short readable repr naming only the non-default settings."""
    assert (repr(Faults()), repr(Faults(rate_limit=5, p_stall=0.1))) == (
        "Faults()", "Faults(rate_limit=5, p_stall=0.1)"
    )
    share = 0.6 / 6
    assert Faults.mixed(0.6, rate_limit=3) == Faults(
        rate_limit=3, p_429=share, p_drop_before=share, p_500_before=share,
        p_drop_after=share, p_500_after=share, p_stall=share,
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"p_429": 1.5}, "p_429 must be a probability between 0 and 1, got 1.5"),
        ({"p_429": 0.6, "p_stall": 0.6},
         "the fault probabilities sum to 1.2; they must sum to <= 1"),
        ({"rate_limit": 0}, "rate_limit must be at least 1 request, got 0"),
        ({"rate_window": 0}, "rate_window must be positive seconds, got 0"),
    ],
)
def test_faults_refuse_impossible_settings(options: dict[str, Any], message: str) -> None:
    """Impossible fault settings raise ValueError saying which and why."""
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        Faults(**options)


# -- the record --------------------------------------------------------------------------


def test_the_record_is_a_wal_sqlite_file_readable_from_another_process(tmp_path: Path) -> None:
    """Accepted messages are committed to a WAL SQLite file another process can read."""
    path = tmp_path / "record.sqlite"
    box = sandbox(record=path)
    http = client(box)
    http.post(f"{SOCIOCS}/message", json=SOCIOCS_TEXT, headers=SOCIOCS_HEADERS)
    http.post(BIRD_MESSAGES, json={**BIRD_SMS, "reference": "row-2"}, headers=BIRD_HEADERS)
    script = (
        "import sys; from campaignkit.sandbox import read_record; "
        "f = read_record(sys.argv[1]); "
        "print(f[['provider', 'to', 'reference']].to_json(orient='records'))"
    )
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                         text=True, check=True).stdout
    assert json.loads(out) == [
        {"provider": "sociocs", "to": "+16175551212", "reference": None},
        {"provider": "bird", "to": "+31612345678", "reference": "row-2"},
    ]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    frame = read_record(path)
    assert list(frame.columns) == ["seq", "request", "provider", "account", "channel", "to",
                                   "text", "reference", "message_id", "job_id", "received_at",
                                   "body", "response"]
    assert str(frame["received_at"].dtype) == "datetime64[us, UTC]"
    assert frame["body"].tolist()[1] == {**BIRD_SMS, "reference": "row-2"}
    box.close()


def test_a_restarted_sandbox_keeps_the_record_and_issues_fresh_ids(tmp_path: Path) -> None:
    """Reopening the same record appends to it, and ids do not repeat after a restart."""
    path = tmp_path / "record.sqlite"
    for _ in range(2):
        with sandbox(record=path, seed=1) as box:
            client(box).post(f"{SOCIOCS}/message", json=SOCIOCS_TEXT, headers=SOCIOCS_HEADERS)
    frame = read_record(path)
    assert frame["request"].tolist() == [1, 2]
    assert frame["message_id"].nunique() == 2


def test_the_record_never_holds_an_api_key_token_or_channel_key(tmp_path: Path) -> None:
    """Secrets never reach the record file: a fingerprint stands for each key, no part of it."""
    path = tmp_path / "record.sqlite"
    with sandbox(record=path) as box:
        http = client(box)
        http.post(f"{SOCIOCS}/message", json=SOCIOCS_TEXT, headers=SOCIOCS_HEADERS)
        http.post(f"{TEXTUS}/my_account/messages", json=TEXTUS_TEXT, headers=TEXTUS_HEADERS)
        http.post(BIRD_MESSAGES, json=BIRD_SMS, headers=BIRD_HEADERS)
        assert box.accepted()["body"].tolist()[0]["channel_key"] == "sha256:62403a2444ab"
        assert box.accepted()["account"].tolist()[0] == "sha256:ad52f2122fa1"
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for secret in (API_KEY, *API_KEY.split(":"), CHANNEL_KEY, CHANNEL_KEY[-4:], TOKEN,
                   ACCESS_KEY):
        assert secret.encode() not in raw
        assert base64.b64encode(secret.encode()) not in raw
