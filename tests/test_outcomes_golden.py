"""Golden tests: each provider's documented status and reply payloads in one vocabulary."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from campaignkit.channels import Bird, Sociocs, TextUs
from campaignkit.channels._outcomes import DELIVERY, Delivery, Inbound, signature_matches

DATA = Path(__file__).parent / "data" / "outcomes"
SOCIOCS = json.loads((DATA / "sociocs_webhooks.json").read_text("utf-8"))
TEXTUS = json.loads((DATA / "textus.json").read_text("utf-8"))
BIRD = json.loads((DATA / "bird_message.json").read_text("utf-8"))
WS, CH = "a1405560-c8d3-4b1a-877d-3f449ad95352", "ce6a2fd6-b2fa-4f5a-a2cd-f3bd15883318"
MM = "MM2aa0db1b276eaeaa5d730d5aa34167f2"


def _body(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def _response(payload: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=payload)


# -- Sociocs ------------------------------------------------------------------------------

@pytest.mark.parametrize(("example", "expected"), [
    ("sent", Delivery(MM, "sent", "sent")),
    ("delivered", Delivery(MM, "delivered", "delivered")),
    ("failed", Delivery(MM, "failed", "failed", error_code="21614", error_text=(
        "You have attempted to send a message to a number that is either a landline number "
        "or is an invalid number. (code: 21614)"))),
])
def test_sociocs_status_webhooks_parse_into_the_vocabulary(
    example: str, expected: Delivery
) -> None:
    """The three documented status_update bodies: sent, delivered, failed with 21614 verbatim."""
    assert Sociocs.parse_webhook(_body(SOCIOCS[example])) == expected


def test_sociocs_incoming_webhook_parses_into_a_reply() -> None:
    """The documented incoming message: number in E.164, text, time from epoch milliseconds."""
    assert Sociocs.parse_webhook(_body(SOCIOCS["incoming"])) == Inbound(
        MM, "+16311112222", "Hello World!",
        datetime(2025, 8, 6, 4, 51, 45, 897000, tzinfo=UTC))


@pytest.mark.parametrize("provider", ["Telnyx SMS", "Twilio SMS", "Twilio WhatsApp",
                                      "Gupshup WhatsApp"])
def test_every_documented_sociocs_subevent_has_a_place_in_the_vocabulary(provider: str) -> None:
    """No documented status sub-event falls to unknown."""
    mapped = [Sociocs.parse_webhook(_body({"message_id": "m", "event": "status_update",
                                           "event_data": {"status": s}}))
              for s in SOCIOCS["status_subevents"][provider]]
    assert [m.delivery for m in mapped if isinstance(m, Delivery)
            if m.delivery == "unknown"] == []


def test_an_unknown_sociocs_status_is_kept_verbatim_and_never_raises() -> None:
    """A status nobody documented becomes unknown with the provider's word kept."""
    found = Sociocs.parse_webhook(_body({"message_id": "m", "event": "status_update",
                                         "event_data": {"status": "teleported"}}))
    assert found == Delivery("m", "unknown", "teleported")
    assert Sociocs.parse_webhook(b"not json") is None


def test_the_documented_signature_test_vector_verifies() -> None:
    """HMAC-SHA256 hex of "Hello, World!" with "My Shared Secret" is the documented value."""
    vector = SOCIOCS["signature_test_vector"]
    assert signature_matches(vector["secret"], vector["body"].encode(), vector["signature"])
    assert not signature_matches(vector["secret"], b"Hello, World?", vector["signature"])


def test_sociocs_isblocked_parses_the_documented_answer() -> None:
    """{"status": "success", "data": {"is_blocked": true}} reads as True."""
    channel = Sociocs("key:secret", "twlo_16175550000", "twlo")
    assert channel.parse_blocked(_response(SOCIOCS["is_blocked"]["response"])) is True


# -- TextUs -------------------------------------------------------------------------------

def test_textus_documented_message_parses_as_delivered() -> None:
    """GET /messages/:id's example: delivered at its latestEventAt, no error."""
    channel = TextUs("my_account", "token", "sms")
    assert channel.parse_status(_response(TEXTUS["message"]["body"])) == Delivery(
        "/messages/QNDkpL", "delivered", "delivered",
        at=datetime(2018, 7, 24, 20, 59, 32, 156000, tzinfo=UTC),
        text="Chuck Norris doesn't use web standards as the web will conform to him.")


def test_every_documented_textus_delivery_state_maps_and_unknown_stays_unknown() -> None:
    """The nine deliveryState values map into the vocabulary (unknown only for "unknown")."""
    channel = TextUs("my_account", "token", "sms")
    mapped = {s: channel.parse_status(_response({"deliveryState": s})).delivery
              for s in TEXTUS["delivery_states"]["values"]}
    assert mapped == {"created": "queued", "received": "delivered", "scheduled": "queued",
                      "queued": "queued", "dispatched": "sent", "delivered": "delivered",
                      "failed_transient": "queued", "unknown": "unknown", "failed": "failed"}
    odd = channel.parse_status(_response({"deliveryState": "lost_in_space"}))
    assert (odd.delivery, odd.provider_status) == ("unknown", "lost_in_space")


def test_textus_documented_opt_outs_parse_into_numbers() -> None:
    """The OptOut collection example gives its number in E.164."""
    channel = TextUs("my_account", "token", "sms")
    assert channel.parse_opt_outs(_response(TEXTUS["opt_outs"]["body"])) == {"+15553031234"}


# -- Bird ---------------------------------------------------------------------------------

def test_bird_documented_message_parses_with_its_failure_and_parts() -> None:
    """Seed 004's Message: accepted is queued; failure code and description kept; 1 part."""
    channel = Bird(WS, CH, "key")
    assert channel.parse_status(_response(BIRD["message"])) == Delivery(
        "123e4567-e89b-12d3-a456-426614174000", "queued", "accepted",
        at=datetime(2025, 7, 10, 2, 12, 14, 957000, tzinfo=UTC),
        error_code="1", error_text="Unsupported media type", segments_billed=1,
        text="text", reference="my-own-identifier")


@pytest.mark.parametrize(("status", "delivery"), [
    ("accepted", "queued"), ("rejected", "failed"), ("processing", "queued"),
    ("scheduled", "queued"), ("sent", "sent"), ("sending_failed", "failed"),
    ("delivered", "delivered"), ("delivery_failed", "undelivered"), ("deleted", "failed"),
    ("skipped", "failed"), ("beamed_up", "unknown"),
])
def test_every_bird_status_maps_into_the_vocabulary(status: str, delivery: str) -> None:
    """Each value of the spec's status enum has a place; an unknown one stays verbatim."""
    found = Bird(WS, CH, "key").parse_status(_response({**BIRD["message"], "status": status}))
    assert (found.delivery, found.provider_status) == (delivery, status)
    assert found.delivery in DELIVERY


def test_bird_documented_statuses_are_the_ones_mapped() -> None:
    """The status list in the data file is the spec's enum (nothing left out)."""
    from campaignkit.sandbox._bird import spec

    assert BIRD["statuses"]["values"] == spec()["components"]["schemas"]["Status-3"]["enum"]


@pytest.mark.parametrize("status", [429, 500])
def test_a_failed_read_raises_read_failed_with_the_status(status: int) -> None:
    """A 429 or 5xx is a ReadFailed naming the HTTP status, never a crash in a parser."""
    from campaignkit.channels._outcomes import ReadFailed

    with pytest.raises(ReadFailed, match=f"^bird: reading the message got HTTP {status}"):
        Bird(WS, CH, "key").parse_status(_response({"code": "x", "message": "y"}, status))
