"""The sandbox over real HTTP on loopback, driven by real httpx clients."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from campaignkit import CampaignError
from campaignkit.sandbox import Faults, Sandbox, SandboxCredentials, read_record, serve
from test_sandbox import BIRD_SMS, CH, SOCIOCS_TEXT, TEXTUS_TEXT, WS

BIRD_PATH = f"/workspaces/{WS}/channels/{CH}/messages"
SOCIOCS_HEADERS = {"apikey": "e047nbp2UnWuHD9m:Xqc37DHPGMyF0Z4hWX3Afn1Iyj6j7dPc"}
TEXTUS_HEADERS = {"Authorization": "Bearer textus-token-1"}
BIRD_HEADERS = {"Authorization": "AccessKey bird-access-key-1"}

SENDS = {
    "sociocs": ("/message", SOCIOCS_TEXT, SOCIOCS_HEADERS, 200),
    "textus": ("/my_account/messages", TEXTUS_TEXT, TEXTUS_HEADERS, 201),
    "bird": (BIRD_PATH, BIRD_SMS, BIRD_HEADERS, 202),
}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Sandbox, httpx.Client]]:
    """A default sandbox with a record file, served on loopback, and a client for it."""
    box = Sandbox(record=tmp_path / "record.sqlite")
    with box, serve(box) as base_url, httpx.Client(base_url=base_url, timeout=5.0) as http:
        yield box, http


@pytest.mark.parametrize("provider", ["sociocs", "textus", "bird"])
def test_each_provider_accepts_a_seed_example_over_http(
    served: tuple[Sandbox, httpx.Client], provider: str
) -> None:
    """A real HTTP POST of each seed's example gets the provider's success status."""
    box, http = served
    path, body, headers, status = SENDS[provider]
    response = http.post(path, json=body, headers=headers)
    assert (response.status_code, len(box.accepted())) == (status, 1)
    assert response.headers["content-length"] == str(len(response.content))


@pytest.mark.parametrize(
    ("provider", "body"),
    [
        ("sociocs", {"status": "error",
                     "errors": [{"msg": "Authentication failed. Check apikey header."}]}),
        ("textus", None),
        ("bird", {"code": "Unauthorized",
                  "message": "Send a valid access key as 'Authorization: AccessKey <key>'."}),
    ],
)
def test_missing_credentials_answer_401(
    served: tuple[Sandbox, httpx.Client], provider: str, body: dict[str, object] | None
) -> None:
    """Without credentials each provider answers 401 in its own shape."""
    _, http = served
    path, payload, _, _ = SENDS[provider]
    response = http.post(path, json=payload)
    assert response.status_code == 401
    assert (response.json() if body is not None else response.content) == (body or b"")


@pytest.mark.parametrize(
    ("provider", "payload", "status", "body"),
    [
        ("sociocs", {**SOCIOCS_TEXT, "channel_key": "bad"}, 400,
         {"status": "error", "errors": [{"msg": "Invalid channel_key."}]}),
        ("textus", {"to": "+13035551234"}, 422, None),
        ("bird", {"receiver": BIRD_SMS["receiver"]}, 422,
         {"code": "InvalidPayload", "message": "The request did not pass validation.",
          "details": {"$": ["one of 'template' or 'body' is required"]}}),
    ],
)
def test_bad_bodies_answer_the_documented_errors_over_http(
    served: tuple[Sandbox, httpx.Client], provider: str, payload: dict[str, object],
    status: int, body: dict[str, object] | None,
) -> None:
    """400/422 bodies arrive intact over a real socket, and nothing is recorded."""
    box, http = served
    path, _, headers, _ = SENDS[provider]
    response = http.post(path, json=payload, headers=headers)
    assert response.status_code == status
    assert (response.json() if body is not None else response.content) == (body or b"")
    assert len(box.accepted()) == 0


def test_the_rate_limit_answers_429_with_retry_after_over_http() -> None:
    """Over the limit the server answers 429 with Retry-After in seconds."""
    box = Sandbox(clock=lambda: 1000.5, faults=Faults(rate_limit=1, rate_window=60.0))
    with box, serve(box) as base_url, httpx.Client(base_url=base_url) as http:
        first = http.post(BIRD_PATH, json=BIRD_SMS, headers=BIRD_HEADERS)
        second = http.post(BIRD_PATH, json=BIRD_SMS, headers=BIRD_HEADERS)
        assert (first.status_code, second.status_code) == (202, 429)
        assert second.headers["retry-after"] == "20"  # window 960..1020 at 1000.5
        assert len(box.accepted()) == 1


@pytest.mark.parametrize(("faults", "recorded"), [
    (Faults(p_drop_before=1.0), 0), (Faults(p_drop_after=1.0), 1)
])
def test_a_drop_closes_the_connection_without_a_response(faults: Faults, recorded: int) -> None:
    """A dropped connection reaches the client as RemoteProtocolError, before or after accepting."""
    box = Sandbox(faults=faults)
    with box, serve(box) as base_url, httpx.Client(base_url=base_url) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            http.post("/message", json=SOCIOCS_TEXT, headers=SOCIOCS_HEADERS)
        assert len(box.accepted()) == recorded


def test_a_stall_holds_the_response_past_the_clients_read_timeout() -> None:
    """A stalled response makes a short read timeout fire; the message was accepted."""
    box = Sandbox(faults=Faults(p_stall=1.0, stall_seconds=30.0))
    timeout = httpx.Timeout(5.0, read=0.2)
    with box, serve(box) as base_url, httpx.Client(base_url=base_url, timeout=timeout) as http:
        with pytest.raises(httpx.ReadTimeout):
            http.post("/my_account/messages", json=TEXTUS_TEXT, headers=TEXTUS_HEADERS)
        assert box.accepted()["to"].tolist() == ["+13035551234"]


def test_an_async_client_sends_and_looks_up_by_reference_over_http() -> None:
    """httpx.AsyncClient sends to Bird and finds the message again by its reference."""
    box = Sandbox()

    async def scenario(base_url: str) -> tuple[int, list[str]]:
        async with httpx.AsyncClient(base_url=base_url) as http:
            sent = await http.post(BIRD_PATH, json={**BIRD_SMS, "reference": "row-3"},
                                   headers=BIRD_HEADERS)
            found = await http.get(BIRD_PATH, params={"reference": "row-3"},
                                   headers=BIRD_HEADERS)
            ids = [m["id"] for m in found.json()["results"]]
            return sent.status_code, [sent.json()["id"], *ids]

    with box, serve(box) as base_url:
        status, (sent_id, *found_ids) = asyncio.run(scenario(base_url))
    assert (status, found_ids) == (202, [sent_id])


def test_the_record_file_counts_what_was_accepted(served: tuple[Sandbox, httpx.Client]) -> None:
    """read_record on the SQLite file shows every accepted message, one row per recipient."""
    box, http = served
    http.post("/messages/bulk", headers=SOCIOCS_HEADERS, json={
        "provider": "twlo", "channel_key": "twlo_16317471111", "text": "message",
        "recipients": [{"to": "+16175551212", "name": "A"}, {"to": "+16175550000", "name": "B"}],
    })
    http.post("/message", json={**SOCIOCS_TEXT, "to": "nope"}, headers=SOCIOCS_HEADERS)
    assert box.record_path is not None
    frame = read_record(box.record_path)
    assert frame[["provider", "to", "text"]].to_dict("records") == [
        {"provider": "sociocs", "to": "+16175551212", "text": "message"},
        {"provider": "sociocs", "to": "+16175550000", "text": "message"},
    ]


def test_serve_refuses_anything_but_loopback() -> None:
    """serve() will not bind to a non-loopback address."""
    with pytest.raises(CampaignError) as info, serve(Sandbox(), host="0.0.0.0"):
        pass
    assert str(info.value) == (
        "The sandbox listens only on loopback, not on '0.0.0.0': it accepts any credential "
        "and answers with fake data. Use host='127.0.0.1' (or '::1')."
    )


def test_serve_with_credentials_answers_401_to_others() -> None:
    """Configured credentials apply over HTTP too."""
    box = Sandbox(credentials=SandboxCredentials(textus_tokens=["only-this"]))
    with box, serve(box) as base_url, httpx.Client(base_url=base_url) as http:
        refused = http.post("/my_account/messages", json=TEXTUS_TEXT, headers=TEXTUS_HEADERS)
        accepted = http.post("/my_account/messages", json=TEXTUS_TEXT,
                             headers={"Authorization": "Bearer only-this"})
    assert (refused.status_code, accepted.status_code) == (401, 201)


def test_the_module_runs_a_server_whose_record_survives_kill_9(tmp_path: Path) -> None:
    """python -m campaignkit.sandbox serves until killed; its record keeps what it accepted."""
    path = tmp_path / "record.sqlite"
    process = subprocess.Popen(
        [sys.executable, "-m", "campaignkit.sandbox", "--port", "0", "--record", str(path),
         "--seed", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(
            r"campaignkit sandbox listening on (http://127\.0\.0\.1:\d+) \(Ctrl\+C to stop\)\n",
            line,
        )
        assert match is not None, line
        with httpx.Client(base_url=match.group(1)) as http:
            statuses = [http.post("/message", json={**SOCIOCS_TEXT, "to": f"+1617555000{n}"},
                                  headers=SOCIOCS_HEADERS).status_code for n in range(3)]
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        process.stdout.close()  # type: ignore[union-attr]
        process.stderr.close()  # type: ignore[union-attr]
    assert statuses == [200, 200, 200]
    assert read_record(path)["to"].tolist() == ["+16175550000", "+16175550001", "+16175550002"]


def test_the_module_refuses_a_public_host() -> None:
    """python -m campaignkit.sandbox --host 0.0.0.0 exits with status 2 and says why."""
    done = subprocess.run(
        [sys.executable, "-m", "campaignkit.sandbox", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True, text=True, timeout=60,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines()[-1] == (
        "error: The sandbox listens only on loopback, not on '0.0.0.0': it accepts any "
        "credential and answers with fake data. Use host='127.0.0.1' (or '::1')."
    )


# -- DNS rebinding: only loopback names in Host --------------------------------------------

REFUSED_HOST = (
    "campaignkit sandbox: Host {host!r} is not a loopback name; it answers only requests to "
    "localhost, 127.0.0.1 or [::1] (with its port), so a web page cannot reach it through DNS "
    "rebinding. Point the client at {base_url}"
)


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "[::1]", "LOCALHOST"])
def test_a_loopback_host_with_the_port_is_answered(
    served: tuple[Sandbox, httpx.Client], name: str
) -> None:
    """Host localhost, 127.0.0.1 or [::1] with the served port gets the provider's answer."""
    box, http = served
    port = httpx.URL(str(http.base_url)).port
    path, body, headers, status = SENDS["textus"]
    response = http.post(path, json=body, headers={**headers, "Host": f"{name}:{port}"})
    assert (response.status_code, len(box.accepted())) == (status, 1)


@pytest.mark.parametrize(
    "host",
    ["attacker.example", "attacker.example:{port}", "127.0.0.1.nip.io:{port}",
     "localhost.attacker.example:{port}", "127.0.0.1:{other}", "10.0.0.1:{port}", ""],
)
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_another_host_is_refused_before_anything_is_read_or_recorded(
    served: tuple[Sandbox, httpx.Client], host: str, method: str
) -> None:
    """A rebound name (or another port, or no Host) gets 403 and sees no recorded message."""
    box, http = served
    port = httpx.URL(str(http.base_url)).port
    assert port is not None
    path, body, headers, _ = SENDS["bird"]
    http.post(path, json=body, headers=headers)  # one message the page must not read
    shown = host.format(port=port, other=port + 1)
    response = http.request(method, path, json=body if method == "POST" else None,
                            headers={**headers, "Host": shown})
    assert response.status_code == 403
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == REFUSED_HOST.format(host=shown, base_url=str(http.base_url))
    assert len(box.accepted()) == 1
