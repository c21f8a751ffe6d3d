"""Every golden request the channels build is accepted by the sandbox served on loopback.

The channel tests prove each request equals the documents; this proves the emulator of the
same documents accepts it over real HTTP (httpx, uvicorn), so a dry run that passes and a
live send that fails on the payload cannot happen.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import test_channels_bird as bird_cases
import test_channels_sociocs as sociocs_cases
import test_channels_textus as textus_cases
from campaignkit.channels import Bird, Channel, Sociocs, TextUs
from campaignkit.sandbox import Sandbox, serve

API_KEY = "kid:sandbox-secret"
CHANNEL_KEY = "twlo_16175550100"
TO = "+16175551212"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Sandbox, str]]:
    # Bird's golden schedules are relative to the channel tests' fixed clock.
    sandbox = Sandbox(seed=7, clock=lambda: bird_cases.NOW.timestamp())
    with sandbox, serve(sandbox) as base_url:
        yield sandbox, base_url


def _deliver(channel: Channel, request: httpx.Request) -> httpx.Response:
    with httpx.Client(timeout=10) as client:
        return client.send(request)


def _cases(module: Any) -> list[Any]:
    return [pytest.param(*case.values, id=case.id) for case in module.GOLDEN]


def _e164(row: dict[str, Any]) -> dict[str, Any]:
    # Seed 001's examples use the placeholder "phone_number"; a provider wants a number.
    return {**row, "to": row["to"] if row["to"].startswith("+") else TO}


def _accepted_after(sandbox: Sandbox, before: int) -> int:
    return len(sandbox.accepted()) - before


@pytest.mark.parametrize(("options", "row", "body"), _cases(sociocs_cases))
def test_every_sociocs_golden_request_is_accepted(
    served: tuple[Sandbox, str], options: dict[str, Any], row: dict[str, Any], body: Any
) -> None:
    """Sociocs accepts each documented single send with 200 and a message id, and records it."""
    sandbox, base_url = served
    opts = dict(options)
    provider = opts.pop("provider", body["provider"])
    channel = Sociocs(API_KEY, f"{provider}_16175550100", provider, base_url=base_url, **opts)
    before = len(sandbox.accepted())
    response = _deliver(channel, channel.build_request(_e164(row), key="k"))
    receipt = channel.parse_response(response)
    assert (response.status_code, receipt.accepted) == (200, True), response.text
    assert receipt.message_id is not None and receipt.message_id.startswith("MM")
    assert _accepted_after(sandbox, before) == 1


def test_the_sociocs_bulk_golden_request_is_accepted(served: tuple[Sandbox, str]) -> None:
    """A bulk job of three recipients: 200 with a job id, three recipients recorded."""
    sandbox, base_url = served
    channel = Sociocs(API_KEY, CHANNEL_KEY, "twlo", base_url=base_url)
    rows = [sociocs_cases._row(to=f"+1617555010{i}", name=f"R{i}", text="Same for all")
            for i in range(3)]
    before = len(sandbox.accepted())
    response = _deliver(channel, channel.build_bulk_request(rows, key="bulk"))
    receipt = channel.parse_response(response)
    assert (response.status_code, receipt.accepted) == (200, True), response.text
    assert receipt.job_id is not None
    assert _accepted_after(sandbox, before) == 3


@pytest.mark.parametrize(("kind", "options", "row", "body"), _cases(textus_cases))
def test_every_textus_golden_request_is_accepted(
    served: tuple[Sandbox, str], kind: str, options: dict[str, Any], row: dict[str, Any],
    body: Any,
) -> None:
    """TextUs answers each documented send with 201 and a Message (or 202 for several)."""
    sandbox, base_url = served
    channel = TextUs("my_account", "tok_sandbox", kind, base_url=base_url, **options)
    before = len(sandbox.accepted())
    response = _deliver(channel, channel.build_request(row, key="k"))
    receipt = channel.parse_response(response)
    assert (response.status_code, receipt.accepted) == (201, True), response.headers
    assert _accepted_after(sandbox, before) == 1


@pytest.mark.parametrize(("options", "row", "body"), _cases(bird_cases))
def test_every_bird_golden_request_is_accepted(
    served: tuple[Sandbox, str], options: dict[str, Any], row: dict[str, Any], body: Any
) -> None:
    """Bird answers each documented send with 202 accepted, and the reference is kept."""
    sandbox, base_url = served
    channel = Bird(bird_cases.WS, bird_cases.CH, "bird-sandbox-key", base_url=base_url,
                   now=lambda: bird_cases.NOW, **options)
    before = len(sandbox.accepted())
    response = _deliver(channel, channel.build_request(row, key="ref-1"))
    receipt = channel.parse_response(response)
    assert (response.status_code, receipt.accepted) == (202, True), response.text
    assert receipt.provider_status == ("scheduled" if "scheduledFor" in body else "accepted")
    assert sandbox.accepted()["reference"].iloc[-1] == "ref-1"
    assert _accepted_after(sandbox, before) == 1
