"""After the send: refresh, reconciliation, replies and opt-outs against the sandbox."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import stamina

from _support import Counting, fast, fast_pacer
from campaignkit import Guardrails, Ledger, Retry
from campaignkit.channels import Bird, Sociocs, TextUs
from campaignkit.channels._base import Channel
from campaignkit.outcomes import (
    blocked_numbers,
    classify_reply,
    refresh,
    replies,
)
from campaignkit.sandbox import Faults, Sandbox, Story
from campaignkit.sending import send

WS = "a1405560-c8d3-4b1a-877d-3f449ad95352"
CH = "16e1df9e-c6ac-406b-b1ce-13f34d0dea08"
CERTAIN = Story(undelivered=0.0, failed=0.0, opted_out=0.0, replies=0.0)


@pytest.fixture(autouse=True)
def _stamina_testing() -> Iterator[None]:
    with stamina.set_testing(True, attempts=5, cap=True):
        yield


def rendered(n: int, *, text: str = "Hi {n}, see you at 9:00") -> pd.DataFrame:
    """A rendered frame of n rows to distinct numbers, indexed like the sheet."""
    return pd.DataFrame(
        {"to": [f"+1617555{i:04d}" for i in range(n)],
         "text": [text.format(n=i) for i in range(n)],
         "media": [()] * n, "template": [None] * n, "problems": [()] * n},
        index=pd.Index(range(2, 2 + n), name="row"),
    )


CHANNELS: dict[str, Channel] = {
    "sociocs": Sociocs("kid:secret", "twlo_16175550000", "twlo"),
    "textus": TextUs("my_account", "token", "sms"),
    "bird": Bird(WS, CH, "key"),
}


def sent(box: Sandbox, channel: Channel, frame: pd.DataFrame, tmp_path: Path,
         **options: Any) -> pd.DataFrame:
    options.setdefault("guardrails", Guardrails(quiet_hours=None))
    return send(frame, channel, campaign="spring", live=True, transport=box.transport(),
                ledger=tmp_path / "ledger.db", progress=False, pacing=fast(), **options)


def clock_of(box: Sandbox) -> Any:
    return lambda: datetime.fromtimestamp(box.now(), UTC)


def do_refresh(results: pd.DataFrame, channel: Channel, box: Sandbox,
               store: Ledger, transport: Any = None, **options: Any) -> pd.DataFrame:
    return refresh(results, channel, store=store, transport=transport or box.transport(),
                   rate=fast_pacer(), now=clock_of(box), progress=False, **options)


@pytest.mark.parametrize("provider", ["sociocs", "textus", "bird"])
def test_refresh_reports_each_rows_fate_as_the_provider_tells_it(
    provider: str, tmp_path: Path
) -> None:
    """30 rows an hour after the send: delivery, error code and text as the sandbox says."""
    box = Sandbox(seed=3, story=Story(undelivered=0.2, failed=0.1, opted_out=0.0))
    channel = CHANNELS[provider]
    results = sent(box, channel, rendered(30), tmp_path)
    box.advance(3600)
    with Ledger(tmp_path / "ledger.db") as store:
        out = do_refresh(results, channel, box, store)
    assert list(out.columns[-6:]) == ["delivery", "delivery_at", "error_code", "error_text",
                                      "segments_billed", "reconciled"]
    assert out.index.equals(results.index)
    states = box.fates()["state"]
    assert set(states) == {"delivered", "undelivered", "failed"}
    if provider == "textus":  # TextUs has one failed state (deliveryState "failed")
        states = states.replace("undelivered", "failed")
    assert Counter(out["delivery"]) == Counter(states)
    failed = out[out["delivery"].isin(["failed", "undelivered"])]
    if provider == "textus":
        assert set(failed["error_text"]) == {"Message Failed"}
    else:
        assert set(failed["error_code"]) <= {"30003", "30005", "30006", "30007", "21614"}
        assert failed["error_text"].notna().all()
    expected_segments = 1 if provider == "bird" else None
    assert out.loc[out["delivery"] == "delivered", "segments_billed"].unique().tolist() == [
        expected_segments if expected_segments is not None else pd.NA]


def test_a_rerun_asks_only_about_rows_not_yet_final(tmp_path: Path) -> None:
    """At +10 s every row is sent (not final); at +1 h all are asked again; then none."""
    box = Sandbox(story=CERTAIN)
    channel = CHANNELS["bird"]
    results = sent(box, channel, rendered(5), tmp_path)
    counting = Counting(box.transport())
    with Ledger(tmp_path / "ledger.db") as store:
        box.advance(10)
        early = do_refresh(results, channel, box, store, counting)
        box.advance(3600)
        late = do_refresh(results, channel, box, store, counting)
        again = do_refresh(results, channel, box, store, counting)
    assert (set(early["delivery"]), set(late["delivery"]), set(again["delivery"])) == (
        {"sent"}, {"delivered"}, {"delivered"})
    assert counting.methods == ["GET"] * 10


def test_sociocs_bulk_rows_are_reconciled_through_the_job_and_the_message_list(
    tmp_path: Path
) -> None:
    """A bulk job's rows (job_id, no message_id) get their message id and delivery."""
    box = Sandbox(story=CERTAIN)
    channel = CHANNELS["sociocs"]
    results = sent(box, channel, rendered(4, text="Same for all"), tmp_path, bulk=True)
    assert results["message_id"].isna().all() and results["job_id"].notna().all()
    box.advance(3600)
    with Ledger(tmp_path / "ledger.db") as store:
        out = do_refresh(results, channel, box, store)
    assert out["message_id"].str.startswith("MM").all()
    assert set(out["delivery"]) == {"delivered"}


def test_unknown_sociocs_rows_are_found_or_proven_absent_by_number_text_and_time(
    tmp_path: Path
) -> None:
    """Dropped connections leave rows unknown: those accepted become sent (found); the
    others are absent only when a second reading, settle seconds later, misses them too."""
    box = Sandbox(seed=5, story=CERTAIN, faults=Faults(p_drop_before=0.2, p_drop_after=0.2))
    channel = CHANNELS["sociocs"]
    results = sent(box, channel, rendered(20), tmp_path, retry=Retry(attempts=1))
    unknown = results.index[results["status"] == "unknown"]
    accepted = set(box.accepted()["to"])
    was_accepted = {row: results.loc[row, "to"] in accepted for row in unknown}
    box.advance(60)
    with Ledger(tmp_path / "ledger.db") as store:
        first = do_refresh(results, channel, box, store, settle=300)
        box.advance(301)
        second = do_refresh(results, channel, box, store, settle=300)
    found = [row for row, ok in was_accepted.items() if ok]
    absent = [row for row, ok in was_accepted.items() if not ok]
    assert (len(found), len(absent)) == (3, 4)
    assert first.loc[found, "reconciled"].tolist() == ["found"] * 3
    assert first.loc[found, "status"].tolist() == ["sent"] * 3
    assert first.loc[absent, "reconciled"].isna().all()
    assert second.loc[absent, "reconciled"].tolist() == ["absent"] * 4
    assert second.loc[absent, "status"].tolist() == ["unknown"] * 4


# -- replies and opt-outs -----------------------------------------------------------------

@pytest.mark.parametrize(("text", "kind"), [
    ("STOP", "stop"), ("stop", "stop"), ("Stop.", "stop"), (" STOP! ", "stop"),
    ("STOPALL", "stop"), ("Unsubscribe", "stop"), ("CANCEL", "stop"), ("end", "stop"),
    ("Quit", "stop"), ("please remove me", "review"), ("Stop texting me please", "review"),
    ("Don't text me again", "review"), ("stop by at 5?", "reply"), ("Thanks!", "reply"),
    ("", "reply"), (None, "reply"),
])
def test_opt_out_keywords_alone_stop_and_opt_out_words_are_for_review(
    text: str | None, kind: str
) -> None:
    """A keyword alone (any case, punctuation around it) is stop; words asking are review."""
    assert classify_reply(text) == kind


@pytest.mark.parametrize("provider", ["sociocs", "bird"])
def test_replies_are_matched_to_their_row_and_stop_suppresses_the_number(
    provider: str, tmp_path: Path
) -> None:
    """Every delivered message gets a reply: STOPs suppress, "remove me" is for review."""
    box = Sandbox(seed=2, story=Story(undelivered=0.0, failed=0.0, opted_out=0.0,
                                      replies=1.0, stop=0.4, review=0.2))
    channel = CHANNELS[provider]
    results = sent(box, channel, rendered(10), tmp_path)
    box.advance(3600)
    since = datetime.fromtimestamp(box.now() - 7200, UTC)
    with Ledger(tmp_path / "ledger.db") as store:
        do_refresh(results, channel, box, store)
        frame = replies(channel, since=since, store=store, transport=box.transport(),
                        rate=fast_pacer(), now=clock_of(box))
        again = replies(channel, since=since, store=store, transport=box.transport(),
                        rate=fast_pacer(), now=clock_of(box))
        suppressed = store.suppressed()
    assert list(frame.columns) == ["number", "text", "received_at", "kind", "campaign", "key",
                                   "message_id", "new", "suppressed"]
    assert len(frame) == 10
    by_number = dict(zip(results["to"], results["key"], strict=True))
    assert frame["key"].tolist() == [by_number[n] for n in frame["number"]]
    assert set(frame["campaign"]) == {"spring"}
    stops = frame[frame["kind"] == "stop"]
    assert sorted(suppressed) == sorted(stops["number"])
    assert set(suppressed.values()) == {f'replied "{t}"' for t in stops["text"]}
    assert frame.loc[frame["kind"] == "review", "suppressed"].tolist() == [False] * int(
        (frame["kind"] == "review").sum())
    assert (frame["new"].all(), again["new"].any()) == (True, False)


def test_replies_from_textus_point_to_its_webhooks() -> None:
    """TextUs documents no inbound list: one sentence says where replies come from instead."""
    from campaignkit import ChannelError

    with pytest.raises(ChannelError, match="TextUs documents no list of incoming messages"):
        replies(CHANNELS["textus"], since=datetime(2026, 1, 1, tzinfo=UTC),
                store=Ledger(":memory:"), transport=Sandbox().transport())


@pytest.mark.parametrize("provider", ["sociocs", "textus"])
def test_blocked_numbers_are_the_ones_the_provider_reports_opted_out(
    provider: str, tmp_path: Path
) -> None:
    """After STOP replies, isblocked (Sociocs) and opt_outs (TextUs) name those numbers."""
    box = Sandbox(seed=4, story=Story(undelivered=0.0, failed=0.0, opted_out=0.0,
                                      replies=0.5, stop=1.0, review=0.0))
    channel = CHANNELS[provider]
    results = sent(box, channel, rendered(12), tmp_path)
    assert blocked_numbers(results["to"], channel, transport=box.transport(),
                           rate=fast_pacer()) == []
    box.advance(3600)
    found = blocked_numbers(results["to"], channel, transport=box.transport(), rate=fast_pacer())
    with Ledger(tmp_path / "ledger.db") as store:
        if provider == "sociocs":
            replies(channel, since=datetime.fromtimestamp(box.now() - 7200, UTC), store=store,
                    transport=box.transport(), rate=fast_pacer(), now=clock_of(box))
            assert found == sorted(store.suppressed())
    truth = box.fates()
    assert found == sorted(truth.loc[truth["reply"].notna(), "to"])
    assert 0 < len(found) < 12


def test_the_store_keeps_a_final_state_against_a_late_earlier_one(tmp_path: Path) -> None:
    """Saving "sent" after "delivered" changes nothing; the same record twice changes nothing."""
    from campaignkit.outcomes import DeliveryRecord

    now = datetime(2026, 12, 1, tzinfo=UTC)
    delivered = DeliveryRecord("c", "k", "+1", "m", None, now, "delivered", "delivered", now,
                               None, None, None, now, True)
    late = DeliveryRecord("c", "k", "+1", "m", None, now, "sent", "sent", now, None, None,
                          None, now, False)
    with Ledger(tmp_path / "o.db") as store:
        assert store.save_deliveries([delivered]) == 1
        assert store.save_deliveries([late]) == 0
        assert store.save_deliveries([delivered]) == 0
        assert store.deliveries("c")["k"].delivery == "delivered"
        assert httpx  # the module's transports are httpx's
