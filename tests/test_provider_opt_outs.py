"""Before a live send, the numbers the provider reports opted out or blocked are held back.

TextUs answers 50 numbers a request (every number is asked); Sociocs one number a request
(a sample of 50 is asked); what the provider names goes into the ledger's suppression list,
so every later campaign holds those numbers back too. Counted at the sandbox.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from _support import NOON, Counting, fast
from campaignkit import Guardrails, Ledger, Sociocs, TextUs, send
from campaignkit.sandbox import Sandbox, Story

NUMBERS = [f"+1212555{i:04d}" for i in range(110, 170)]


def frame(n: int = 60) -> pd.DataFrame:
    return pd.DataFrame(
        {"to": NUMBERS[:n], "text": ["Your appointment is tomorrow"] * n, "media": [()] * n,
         "template": [None] * n, "segments": [1] * n, "problems": [()] * n},
        index=pd.Index(range(2, 2 + n), name="row"))


def test_textus_opt_outs_are_asked_for_every_number_and_never_texted(tmp_path):
    """TextUs: one opt-out read per 50 numbers; every opted-out number gets 0 requests and
    lands in the ledger's list with the provider's reason."""
    box = Sandbox(seed=3, story=Story(opted_out=0.2))
    counting = Counting(box.transport())
    results = send(frame(), TextUs("acme", "token", "sms"), campaign="spring", live=True,
                   transport=counting, pacing=fast(), progress=False, now=NOON,
                   ledger=tmp_path / "ledger.db", guardrails=Guardrails(quiet_hours=None))
    opted = results.loc[results["status"] == "suppressed", "to"].tolist()
    assert Counter(counting.methods) == {"GET": 2, "POST": 60 - len(opted)}
    assert 5 < len(opted) < 20
    assert set(box.accepted()["to"]) & set(opted) == set()
    assert results.loc[results["status"] == "suppressed", "error"].unique().tolist() == [
        "suppressed: textus:sms reports the number opted out or blocked; not sent"]
    with Ledger(tmp_path / "ledger.db") as ledger:
        assert sorted(ledger.suppressed()) == sorted(opted)


def test_sociocs_samples_fifty_numbers_and_the_list_holds_for_the_next_campaign(tmp_path):
    """Sociocs: 50 isblocked reads for 60 numbers; a blocked number found is held back in
    this campaign and the next one, which asks the provider nothing about it again."""
    box = Sandbox(seed=5, story=Story(opted_out=0.3))
    channel = Sociocs("kid:secret", "twlo_16175550100", "twlo")
    counting = Counting(box.transport())
    options = dict(live=True, pacing=fast(), progress=False, now=NOON,
                   ledger=tmp_path / "ledger.db", guardrails=Guardrails(quiet_hours=None))
    first = send(frame(), channel, campaign="spring", transport=counting, **options)
    blocked = set(first.loc[first["status"] == "suppressed", "to"])
    assert Counter(counting.methods)["GET"] == 50
    assert blocked and set(box.accepted()["to"]) & blocked == set()
    second = send(frame().assign(text="A new message"), channel, campaign="autumn",
                  transport=box.transport(), **options)
    assert set(second.loc[second["status"] == "suppressed", "to"]) >= blocked


def test_turned_off_no_lookup_is_made(tmp_path):
    """Guardrails(provider_opt_outs=False): only the sends."""
    box = Sandbox(seed=3, story=Story(opted_out=0.2))
    counting = Counting(box.transport())
    send(frame(5), TextUs("acme", "token", "sms"), campaign="spring", live=True,
         transport=counting, pacing=fast(), progress=False, now=NOON,
         ledger=tmp_path / "ledger.db",
         guardrails=Guardrails(quiet_hours=None, provider_opt_outs=False))
    assert counting.methods == ["POST"] * 5
