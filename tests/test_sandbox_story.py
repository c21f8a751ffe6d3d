"""The sandbox after the send: lists that lag, states over virtual time, replies, webhooks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from campaignkit.sandbox import Faults, Sandbox
from test_sandbox import (
    BIRD_HEADERS,
    BIRD_MESSAGES,
    BIRD_SMS,
    SOCIOCS,
    SOCIOCS_HEADERS,
    SOCIOCS_TEXT,
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
