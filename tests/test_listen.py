"""campaignkit listen: signed webhooks into the store, replays change nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from campaignkit.channels._outcomes import hmac_hex
from campaignkit.ledger import Ledger
from campaignkit.listen import main, serve_listener
from campaignkit.outcomes import DeliveryRecord
from campaignkit.sandbox import Sandbox, Story

DATA = json.loads((Path(__file__).parent / "data" / "outcomes" / "sociocs_webhooks.json")
                  .read_text("utf-8"))
SECRET = "My Shared Secret"  # the documented test vector's secret
MM = "MM2aa0db1b276eaeaa5d730d5aa34167f2"
NOW = datetime(2025, 8, 6, 4, 0, tzinfo=UTC)


@pytest.fixture
def listening(tmp_path: Path) -> Iterator[tuple[httpx.Client, Ledger]]:
    """A listener with the Sociocs secret set, a ledger holding message MM… of row "k1"."""
    store = Ledger(tmp_path / "ledger.db")
    store.mark_pending("spring", "live", [("k1", "2", "d")], 1, recipients=["+16311112222"])
    store.mark_outcome("spring", "live", [("k1", "2", "d")], status="sent", attempts=1,
                       message_id=MM, sent_at=NOW.isoformat())
    store.save_deliveries([DeliveryRecord("spring", "k1", "+16311112222", MM, None, NOW, "sent",
                                          "sent", NOW, None, None, None, NOW, False)])
    with store, serve_listener(store, sociocs_secret=SECRET) as url, \
            httpx.Client(base_url=url) as http:
        yield http, store


def post(http: httpx.Client, payload: object, signature: str | None = "sign") -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {"content-type": "application/json"}
    if signature == "sign":
        headers["X-Sociocs-Signature"] = hmac_hex(SECRET, body)
    elif signature is not None:
        headers["X-Sociocs-Signature"] = signature
    return http.post("/sociocs", content=body, headers=headers)


def test_the_documented_test_vector_is_accepted(
    listening: tuple[httpx.Client, Ledger],
) -> None:
    """"Hello, World!" signed a52954ef… with "My Shared Secret" passes (and is ignored)."""
    http, _ = listening
    vector = DATA["signature_test_vector"]
    response = http.post("/sociocs", content=vector["body"].encode(),
                         headers={"X-Sociocs-Signature": vector["signature"]})
    assert (response.status_code, response.json()) == (200, {"ignored": True})


def test_a_signed_failed_status_updates_the_row(
    listening: tuple[httpx.Client, Ledger],
) -> None:
    """The documented failed status, signed: the row is failed with 21614 and its words."""
    http, store = listening
    response = post(http, DATA["failed"])
    assert (response.status_code, response.json()) == (
        200, {"status": "failed", "matched": True, "changed": True})
    record = store.deliveries("spring")["k1"]
    assert (record.delivery, record.error_code, record.final) == ("failed", "21614", True)


@pytest.mark.parametrize("signature", [None, "", "0" * 64, hmac_hex("another secret", b"{}")])
def test_a_missing_or_wrong_signature_is_refused_and_changes_nothing(
    listening: tuple[httpx.Client, Ledger], signature: str | None,
) -> None:
    """Unsigned or wrongly signed bodies get 401 naming the header; the store is untouched."""
    http, store = listening
    response = post(http, DATA["delivered"], signature)
    assert (response.status_code, response.json()) == (
        401, {"error": "missing or wrong x-sociocs-signature"})
    assert store.deliveries("spring")["k1"].delivery == "sent"


def test_a_replayed_body_changes_nothing(
    listening: tuple[httpx.Client, Ledger],
) -> None:
    """The same status and the same STOP twice: the second time nothing changes."""
    http, store = listening
    stop = {**DATA["incoming"], "text": "STOP"}
    first = [post(http, DATA["delivered"]).json(), post(http, stop).json()]
    before = (store.deliveries("spring"), store.replies(), store.suppressed())
    second = [post(http, DATA["delivered"]).json(), post(http, stop).json()]
    assert first == [{"status": "delivered", "matched": True, "changed": True},
                     {"reply": True, "new": True, "kind": "stop", "suppressed": True}]
    assert second == [{"status": "delivered", "matched": True, "changed": False},
                      {"reply": True, "new": False, "kind": "stop", "suppressed": True}]
    assert (store.deliveries("spring"), store.replies(), store.suppressed()) == before
    assert list(store.suppressed()) == ["+16311112222"]
    assert store.replies()[0].key == "k1"


def test_a_late_sent_after_delivered_does_not_move_the_row_back(
    listening: tuple[httpx.Client, Ledger],
) -> None:
    """Webhooks can arrive out of order: "sent" after "delivered" leaves it delivered."""
    http, store = listening
    post(http, DATA["delivered"])
    assert post(http, DATA["sent"]).json() == {"status": "sent", "matched": True,
                                               "changed": False}
    assert store.deliveries("spring")["k1"].delivery == "delivered"


def test_the_sandbox_posts_its_webhooks_to_listen(tmp_path: Path) -> None:
    """Sandbox -> listen: status updates and a STOP land in the store through real HTTP."""
    box = Sandbox(story=Story(undelivered=0.0, failed=0.0, opted_out=0.0, replies=1.0,
                              stop=1.0, review=0.0))
    http = httpx.Client(transport=box.transport())
    with Ledger(tmp_path / "o.db") as store, \
            serve_listener(store, sociocs_secret="s3cret") as url:
        http.post("https://api.sociocs.com/webhook-subscriptions", headers={"apikey": "a:b"},
                  json={"platform": "campaignkit", "subscriber_reference_id": "1",
                        "webhook_url": url + "/sociocs", "secret": "s3cret",
                        "events": ["messages", "status_updates"]})
        sent = http.post("https://api.sociocs.com/message", headers={"apikey": "a:b"}, json={
            "provider": "twlo", "channel_key": "twlo_16175550000", "to": "+16175551212",
            "text": "Hi"}).json()["data"]["message_id"]
        store.save_deliveries([DeliveryRecord("c", "k", "+16175551212", sent, None, NOW,
                                              "queued", "queued", NOW, None, None, None, NOW,
                                              False)])
        assert box.advance(3600) == 3
        assert store.deliveries("c")["k"].delivery == "delivered"
        assert list(store.suppressed()) == ["+16175551212"]


def test_listen_refuses_an_address_beyond_loopback_unless_asked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    """--host 0.0.0.0 without --public: exit 2 and one sentence saying what to do."""
    assert main(["--host", "0.0.0.0", "--ledger", str(tmp_path / "o.db")]) == 2
    assert capsys.readouterr().err == (
        "error: listen binds to loopback only, not '0.0.0.0': put a tunnel or reverse proxy "
        "in front of 127.0.0.1, or pass --public to listen on that address (set a secret)\n")
