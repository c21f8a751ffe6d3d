"""The sandbox after the send: lists that lag, states over virtual time, replies, webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import jsonschema
import pytest

from campaignkit.sandbox import Faults, Sandbox, Story, serve
from campaignkit.sandbox._bird import spec
from test_sandbox import (
    BIRD_HEADERS,
    BIRD_MESSAGES,
    BIRD_SMS,
    SOCIOCS,
    SOCIOCS_HEADERS,
    SOCIOCS_TEXT,
    TEXTUS,
    TEXTUS_HEADERS,
    TEXTUS_TEXT,
    Clock,
    client,
)

# -- list_lag ---------------------------------------------------------------------------


def _bird_lookup(http: httpx.Client, reference: str) -> Any:
    return http.get(BIRD_MESSAGES, params={"reference": reference}, headers=BIRD_HEADERS).json()


def test_list_lag_hides_a_bird_message_from_the_reference_lookup_until_it_passes() -> None:
    """With list_lag=30 the lookup by reference finds nothing at 29.9 s and the message at 30 s."""
    clock = Clock()
    box = Sandbox(clock=clock, faults=Faults(list_lag=30.0))
    http = client(box)
    sent = http.post(BIRD_MESSAGES, json={**BIRD_SMS, "reference": "c:row-1"},
                     headers=BIRD_HEADERS).json()
    clock.now += 29.9
    assert _bird_lookup(http, "c:row-1") == {"results": [], "nextPageToken": None}
    clock.now += 0.1
    assert _bird_lookup(http, "c:row-1")["results"][0]["id"] == sent["id"]


def test_list_lag_hides_a_sociocs_message_from_get_messages_until_it_passes() -> None:
    """Sociocs GET /messages lists a message only list_lag seconds after it was accepted."""
    clock = Clock()
    box = Sandbox(clock=clock, faults=Faults(list_lag=5.0))
    http = client(box)
    http.post(f"{SOCIOCS}/message", json=SOCIOCS_TEXT, headers=SOCIOCS_HEADERS)
    params = {"start_date": "2025-07-10", "end_date": "2025-07-10"}
    before = http.get(f"{SOCIOCS}/messages", params=params, headers=SOCIOCS_HEADERS).json()
    clock.now += 5.0
    after = http.get(f"{SOCIOCS}/messages", params=params, headers=SOCIOCS_HEADERS).json()
    assert (len(before["data"]), len(after["data"])) == (0, 1)


def test_list_lag_is_shown_in_the_repr_and_refuses_a_negative_value() -> None:
    """Faults(list_lag=...) reads back in its repr; a negative lag is refused in one sentence."""
    assert repr(Faults(list_lag=2.5)) == "Faults(list_lag=2.5)"
    with pytest.raises(ValueError, match=r"^list_lag must be 0 or more seconds, got -1$"):
        Faults(list_lag=-1)


# -- the story --------------------------------------------------------------------------

DAY = {"start_date": "2025-07-10", "end_date": "2025-07-10"}
CERTAIN = Story(undelivered=0.0, failed=0.0, opted_out=0.0, replies=0.0)


def _sociocs_items(http: httpx.Client) -> list[dict[str, Any]]:
    response = http.get(f"{SOCIOCS}/messages", params=DAY, headers=SOCIOCS_HEADERS)
    return list(response.json()["data"])


@pytest.mark.parametrize(("elapsed", "status"), [
    (0.0, "queued"), (1.9, "queued"), (2.0, "sent"), (14.9, "sent"), (60.0, "delivered"),
])
def test_a_sociocs_message_moves_queued_sent_delivered_over_virtual_time(
    elapsed: float, status: str
) -> None:
    """advance() moves virtual time: queued until 2 s, sent, delivered by 1.5 x final_after."""
    box = Sandbox(clock=Clock(), story=CERTAIN)
    http = client(box)
    http.post(f"{SOCIOCS}/message", json=SOCIOCS_TEXT, headers=SOCIOCS_HEADERS)
    box.advance(elapsed)
    assert [item["status"] for item in _sociocs_items(http)] == [status]


def test_without_a_story_messages_stay_as_accepted_and_nobody_replies() -> None:
    """Sandbox() without story: a day later the list still shows no status and no replies."""
    box = Sandbox(clock=Clock())
    http = client(box)
    http.post(f"{SOCIOCS}/message", json=SOCIOCS_TEXT, headers=SOCIOCS_HEADERS)
    box.advance(86_400)
    assert [sorted(item) for item in _sociocs_items(http)] == [[
        "direction", "file_urls", "image_urls", "job_id", "message_id", "name", "provider",
        "text", "timestamp", "to", "video_urls"]]


@pytest.fixture(scope="module")
def thousand() -> tuple[Sandbox, httpx.Client]:
    """1,000 Sociocs messages to distinct numbers under the default story, an hour later."""
    box = Sandbox(clock=Clock(), story=Story())
    http = client(box)
    for n in range(1000):
        http.post(f"{SOCIOCS}/message", json={**SOCIOCS_TEXT, "to": f"+1617555{n:04d}"},
                  headers=SOCIOCS_HEADERS)
    box.advance(3600)
    return box, http


def test_a_seeded_share_ends_undelivered_or_failed_with_twilio_error_codes(
    thousand: tuple[Sandbox, httpx.Client],
) -> None:
    """Seed 0, default story: the same outcomes every run, each failure with its Twilio code."""
    _, http = thousand
    outbound = [i for i in _sociocs_items(http) if i["direction"] == "outbound"]
    assert Counter((i["status"], i.get("error", {}).get("code")) for i in outbound) == {
        ("delivered", None): 908, ("failed", 21614): 26, ("undelivered", 30005): 18,
        ("undelivered", 30007): 16, ("undelivered", 30003): 12, ("undelivered", 30006): 11,
        ("failed", 21610): 9,
    }
    failed = next(i for i in outbound if i.get("error", {}).get("code") == 21614)
    assert failed["error"] == {"code": 21614, "message": (
        "You have attempted to send a message to a number that is either a landline number or "
        "is an invalid number. (code: 21614)")}


def test_some_recipients_reply_and_some_reply_stop(thousand: tuple[Sandbox, httpx.Client]) -> None:
    """Replies arrive as incoming items: 85 of them, 24 opt-out keywords, 12 asking in words."""
    _, http = thousand
    replies = Counter(i["text"] for i in _sociocs_items(http) if i["direction"] == "incoming")
    stops = ("STOP", "Stop", "stop.", "UNSUBSCRIBE", "Cancel", "QUIT", "End", "STOPALL")
    assert (sum(replies.values()), sum(replies[s] for s in stops),
            replies["please remove me from this list"]) == (85, 24, 12)


def test_search_and_unreplied_find_the_incoming_messages(
    thousand: tuple[Sandbox, httpx.Client],
) -> None:
    """/messages/search?text=stop matches STOP, Stop, stop. and STOPALL; /unreplied lists all 85."""
    _, http = thousand
    found = http.get(f"{SOCIOCS}/messages/search", headers=SOCIOCS_HEADERS,
                     params={"text": "stop", "direction": "incoming", **DAY}).json()["data"]
    waiting = http.get(f"{SOCIOCS}/messages/unreplied", headers=SOCIOCS_HEADERS,
                       params=DAY).json()["data"]
    assert sorted(Counter(i["text"] for i in found).items()) == [
        ("STOP", 5), ("STOPALL", 2), ("Stop", 3), ("stop.", 2)]
    assert len(waiting) == 85


def test_a_stop_reply_blocks_the_number_and_fails_the_next_message_with_21610() -> None:
    """After STOP, isblocked says true and a new message to the number fails with 21610."""
    box = Sandbox(clock=Clock(), story=Story(opted_out=0.0, undelivered=0.0, failed=0.0,
                                             replies=1.0, stop=1.0, review=0.0))
    http = client(box)
    http.post(f"{SOCIOCS}/message", json=SOCIOCS_TEXT, headers=SOCIOCS_HEADERS)
    blocked = f"{SOCIOCS}/contacts/isblocked/16175551212"
    assert http.get(blocked, headers=SOCIOCS_HEADERS).json() == {
        "status": "success", "data": {"is_blocked": False}}
    box.advance(3600)
    assert http.get(blocked, headers=SOCIOCS_HEADERS).json()["data"] == {"is_blocked": True}
    http.post(f"{SOCIOCS}/message", json=SOCIOCS_TEXT, headers=SOCIOCS_HEADERS)
    box.advance(3600)
    last = [i for i in _sociocs_items(http) if i["direction"] == "outbound"][-1]
    assert (last["status"], last["error"]["code"]) == ("failed", 21610)


def test_bulk_jobs_list_each_job_with_its_recipients() -> None:
    """GET /messages/bulk lists the job (ours: job_id, status, recipients, created_at)."""
    box = Sandbox(clock=Clock(), story=Story())
    http = client(box)
    job = http.post(f"{SOCIOCS}/messages/bulk", headers=SOCIOCS_HEADERS, json={
        "provider": "twlo", "channel_key": SOCIOCS_TEXT["channel_key"], "text": "Hi",
        "recipients": [{"to": "+16175550001"}, {"to": "+16175550002"}]}).json()["data"]["job_id"]
    jobs = http.get(f"{SOCIOCS}/messages/bulk", headers=SOCIOCS_HEADERS).json()
    assert jobs == {"status": "success", "data": [{
        "job_id": job, "status": "executed", "recipients": 2,
        "created_at": "2025-07-10T02:12:14.957Z"}]}


def _message_schema() -> dict[str, Any]:
    return {"components": spec()["components"], "$ref": "#/components/schemas/Message"}


def test_bird_messages_stay_valid_per_the_spec_through_every_state() -> None:
    """Bird get message: sent with parts, delivery_failed with failure; replies are incoming."""
    box = Sandbox(clock=Clock(), story=Story(undelivered=0.5, failed=0.0, opted_out=0.0,
                                             replies=1.0, stop=0.0, review=0.0))
    http = client(box)
    ids = [http.post(BIRD_MESSAGES, json={**BIRD_SMS, "receiver": {"contacts": [
        {"identifierValue": f"+3161234{n:04d}"}]}}, headers=BIRD_HEADERS).json()["id"]
        for n in range(6)]
    box.advance(10)
    sent = http.get(f"{BIRD_MESSAGES}/{ids[0]}", headers=BIRD_HEADERS).json()
    box.advance(3600)
    final = [http.get(f"{BIRD_MESSAGES}/{i}", headers=BIRD_HEADERS).json() for i in ids]
    listed = http.get(BIRD_MESSAGES, params={"limit": 100, "direction": "incoming"},
                      headers=BIRD_HEADERS).json()["results"]
    validator = jsonschema.Draft4Validator(_message_schema())
    for message in [sent, *final, *listed]:
        assert list(validator.iter_errors(message)) == []
    assert (sent["status"], sent["parts"]) == ("sent", [{"platformReference": f"{ids[0]}-1"}])
    failed = next(m for m in final if m["status"] == "delivery_failed")
    assert failed["failure"]["code"] in (30003, 30005, 30006, 30007)
    assert Counter(m["status"] for m in final) == {"delivered": 3, "delivery_failed": 3}
    assert len(listed) == 3
    missing = http.get(f"{BIRD_MESSAGES}/{ids[0][:-1]}0", headers=BIRD_HEADERS)
    assert missing.status_code == 404


def test_bird_interactions_list_the_status_events_so_far() -> None:
    """GET .../messages/{id}/interactions: accepted, sent, delivered, newest first."""
    box = Sandbox(clock=Clock(), story=CERTAIN)
    http = client(box)
    message_id = http.post(BIRD_MESSAGES, json=BIRD_SMS, headers=BIRD_HEADERS).json()["id"]
    box.advance(3600)
    found = http.get(f"{BIRD_MESSAGES}/{message_id}/interactions", headers=BIRD_HEADERS).json()
    assert [i["type"] for i in found["results"]] == ["delivered", "sent", "accepted"]


def test_textus_get_message_follows_the_delivery_states() -> None:
    """GET /messages/:id: deliveryState queued, then dispatched, then delivered."""
    box = Sandbox(clock=Clock(), story=CERTAIN)
    http = client(box)
    message_id = http.post(f"{TEXTUS}/my_account/messages", json=TEXTUS_TEXT,
                           headers=TEXTUS_HEADERS).json()["id"]
    states = []
    for step in (0, 5, 3600):
        box.advance(step)
        message = http.get(f"{TEXTUS}{message_id}", headers=TEXTUS_HEADERS).json()
        states.append((message["deliveryState"], message["friendlyStateDescription"]))
    assert states == [("queued", "Message Queued"), ("dispatched", "Message Dispatched"),
                      ("delivered", "Message Delivered")]


def test_textus_opt_outs_list_the_numbers_that_replied_stop() -> None:
    """GET /:account/opt_outs?exact[]= answers the documented collection with the STOP number."""
    box = Sandbox(clock=Clock(), story=Story(opted_out=0.0, undelivered=0.0, failed=0.0,
                                             replies=1.0, stop=1.0, review=0.0))
    http = client(box)
    http.post(f"{TEXTUS}/my_account/messages", json=TEXTUS_TEXT, headers=TEXTUS_HEADERS)
    url = f"{TEXTUS}/my_account/opt_outs"
    params = {"exact[]": ["+13035551234", "+13035550000"]}
    before = http.get(url, params=params, headers=TEXTUS_HEADERS).json()
    box.advance(3600)
    after = http.get(url, params=params, headers=TEXTUS_HEADERS).json()
    assert (before["totalItems"], after["totalItems"]) == (0, 1)
    member = after["members"][0]
    assert (member["id"], member["formattedPhoneNumber"], member["createdVia"]) == (
        "/textus/opt_outs/+13035551234", "3035551234", "Contact")
    one = http.get(f"{url}/3035551234", headers=TEXTUS_HEADERS)
    assert (one.status_code, one.json()["id"]) == (200, "/textus/opt_outs/+13035551234")


# -- webhooks ---------------------------------------------------------------------------

class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        type(self).received.append((dict(self.headers.items()), body))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A loopback HTTP server that keeps every POST it gets."""
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    handler = type("Collector", (_Collector,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_sociocs_webhooks_post_signed_status_updates_and_replies(
    collector: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    """A subscription with a secret gets each status update and reply, signed as documented."""
    url, received = collector
    box = Sandbox(clock=Clock(), story=Story(opted_out=0.0, undelivered=0.0, failed=0.0,
                                             replies=1.0, stop=1.0, review=0.0))
    http = client(box)
    subscribed = http.post(f"{SOCIOCS}/webhook-subscriptions", headers=SOCIOCS_HEADERS, json={
        "platform": "campaignkit", "subscriber_reference_id": "ck-1", "webhook_url": url,
        "events": ["messages", "status_updates"], "secret": "My Shared Secret"})
    assert subscribed.json() == {"status": "success", "data": {"id": "ck-1"}}
    message_id = http.post(f"{SOCIOCS}/message", json=SOCIOCS_TEXT,
                           headers=SOCIOCS_HEADERS).json()["data"]["message_id"]
    assert box.advance(3600) == 3
    bodies = [json.loads(body) for _, body in received]
    assert [(b["event"], b.get("event_data", {}).get("status"), b.get("text")) for b in bodies] == [
        ("status_update", "sent", None), ("status_update", "delivered", None),
        ("message", None, "Cancel")]
    assert bodies[0] == {"message_id": message_id, "event": "status_update",
                         "event_data": {"status": "sent"}}
    for headers, body in received:
        expected = hmac.new(b"My Shared Secret", body, hashlib.sha256).hexdigest()
        assert headers["x-sociocs-signature"] == expected
    assert box.advance(3600) == 0  # each event is posted once


def test_the_served_sandbox_moves_time_through_its_loopback_control_endpoint() -> None:
    """POST /_sandbox/advance {"seconds": 60} moves virtual time; a bad body answers 400."""
    box = Sandbox(clock=Clock(), story=CERTAIN)
    with box, serve(box) as base_url, httpx.Client(base_url=base_url) as http:
        http.post("/message", json=SOCIOCS_TEXT, headers=SOCIOCS_HEADERS)
        moved = http.post("/_sandbox/advance", json={"seconds": 60})
        bad = http.post("/_sandbox/advance", json={"seconds": -1})
        items = http.get("/messages", params=DAY, headers=SOCIOCS_HEADERS).json()["data"]
    assert (moved.status_code, moved.json()) == (200, {"now": box.now(), "webhooks": 0})
    assert (bad.status_code, [i["status"] for i in items]) == (400, ["delivered"])
