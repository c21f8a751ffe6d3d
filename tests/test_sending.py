"""The engine: never send twice, never lose a row, say where every row stands."""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pandas as pd
import pytest
import stamina

from _support import Counting, FakeClock, fast
from campaignkit import (
    AuthFailed,
    CampaignChanged,
    CampaignLocked,
    CampaignPaused,
    ColumnError,
    Guardrails,
    Pacing,
    Problem,
    Retry,
)
from campaignkit.channels.bird import Bird
from campaignkit.channels.sociocs import Sociocs
from campaignkit.ledger import Ledger, LedgerWriter
from campaignkit.results import save_results
from campaignkit.sandbox import Faults, Sandbox, SandboxCredentials, serve
from campaignkit.sending import content_digest, parse_retry_after, row_keys, send, send_async

#: the engine's tests do not depend on the hour, and count only the sends they make
ANY_HOUR = Guardrails(quiet_hours=None, provider_opt_outs=False)

WORKSPACE = "a1405560-c8d3-4b1a-877d-3f449ad95352"
BIRD_CHANNEL = "16e1df9e-c6ac-406b-b1ce-13f34d0dea08"
NUMBERS = [f"+4477009000{i:02d}" for i in range(1, 7)]


@pytest.fixture(autouse=True)
def _stamina_testing() -> Iterator[None]:
    with stamina.set_testing(True, attempts=5, cap=True):
        yield


def rendered(n: int = 3, *, text: str = "Hi {name}, see you at 9:00") -> pd.DataFrame:
    """A rendered frame as `render` makes it, rows numbered like the sheet (from 2)."""
    names = ["Ada", "Bo", "Cy", "Di", "Ed", "Flo"][:n]
    return pd.DataFrame(
        {"to": NUMBERS[:n], "name": names, "text": [text.format(name=x) for x in names],
         "media": [()] * n, "template": [None] * n, "problems": [()] * n},
        index=pd.Index(range(2, 2 + n), name="row"),
    )


def sociocs(secret: str = "secret") -> Sociocs:
    return Sociocs(f"kid:{secret}", "twlo_16175550000", "twlo")


def go(frame, channel, sandbox_or_transport, tmp_path, *, concurrency=None, **options):
    transport = (sandbox_or_transport.transport() if isinstance(sandbox_or_transport, Sandbox)
                 else sandbox_or_transport)
    options.setdefault("campaign", "spring")
    options.setdefault("live", True)
    options.setdefault("ledger", tmp_path / "ledger.db")
    options.setdefault("guardrails", ANY_HOUR)
    options.setdefault("progress", False)
    options.setdefault("pacing", fast(concurrency=concurrency))
    return send(frame, channel, transport=transport, **options)


def test_progress_reports_each_settled_request_with_the_total(tmp_path):
    """progress(done, total) follows every request; skipped rows are not in the total."""
    frame = rendered(4)
    frame.loc[3, "problems"] = (Problem(3, "to", "is empty", "missing-phone"),)
    calls: list[tuple[int, int]] = []
    go(frame, sociocs(), Sandbox(seed=1), tmp_path, concurrency=1,
       progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


# -- keys -----------------------------------------------------------------------------

@pytest.mark.parametrize("columns", [["to", "name"], ["to", "ID"], ["to", "Clinic ID"],
                                     ["to", "customer_id"]])
def test_the_key_is_the_number_unless_key_names_a_column(columns):
    """No column is picked by its name: "Clinic ID" says nothing about who the recipient is."""
    frame = pd.DataFrame({c: [f"{c}-1"] for c in columns})
    assert row_keys(frame)[1] == "to"
    assert row_keys(frame, columns[1])[1] == columns[1]


def test_a_clinic_id_column_does_not_change_what_is_sent(tmp_path):
    """Two patients of one clinic: both get their message (the ID is not their key)."""
    frame = rendered(2)
    frame["Clinic ID"] = ["7", "7"]
    sandbox = Sandbox(seed=1)
    results = go(frame, sociocs(), sandbox, tmp_path)
    assert results["status"].tolist() == ["sent", "sent"]
    assert results["key"].tolist() == NUMBERS[:2]


def test_missing_key_column_is_named():
    """key= naming no column lists the columns found."""
    with pytest.raises(ColumnError) as raised:
        row_keys(rendered(1), "Patient ID")
    assert str(raised.value) == (
        'key="Patient ID": there is no such column; columns found: '
        "to, name, text, media, template, problems"
    )


def test_duplicate_keys_of_identical_content_are_numbered(tmp_path):
    """Loaded with duplicates="keep", the same message twice to one number: K and K#2."""
    frame = rendered(2)
    frame.loc[3] = frame.loc[2]
    frame.attrs["campaignkit.load"] = {"duplicates": "keep"}
    sandbox = Sandbox(seed=1)
    results = go(frame, sociocs(), sandbox, tmp_path)
    assert results["key"].tolist() == ["+447700900001", "+447700900001#2"]
    assert results["status"].tolist() == ["sent", "sent"]
    assert len(sandbox.accepted()) == 2


def test_duplicate_keys_of_different_content_are_skipped(tmp_path):
    """Kept duplicates sharing a key with different messages are skipped, naming the fix."""
    frame = rendered(3)
    frame.loc[4, "to"] = NUMBERS[0]
    frame.attrs["campaignkit.load"] = {"duplicates": "keep"}
    sandbox = Sandbox(seed=1)
    results = go(frame, sociocs(), sandbox, tmp_path)
    assert results["status"].tolist() == ["skipped", "sent", "skipped"]
    assert results.at[2, "error"] == (
        'row 2, column "to": "+447700900001" is the key of rows 2, 4, which have different '
        "messages: pass key= a column that tells them apart (so a re-run never mixes them up)"
    )
    assert sandbox.accepted()["to"].tolist() == [NUMBERS[1]]


def test_of_the_rows_with_one_number_the_first_sendable_one_gets_the_message(tmp_path):
    """Row 2 has a problem, row 3 the same number and no problem: row 3 is sent, not dropped."""
    frame = rendered(3)
    frame.loc[3, "to"] = NUMBERS[0]
    frame.loc[2, "problems"] = (Problem(2, "name", "the cell is empty", "missing-value"),)
    frame.loc[4, "to"] = NUMBERS[0]
    sandbox = Sandbox(seed=1)
    results = go(frame, sociocs(), sandbox, tmp_path)
    assert results["status"].tolist() == ["skipped", "sent", "duplicate"]
    assert results.at[4, "error"] == "the same number as row 3, which gets the message"
    assert sandbox.accepted()["to"].tolist() == [NUMBERS[0]]


def test_content_digest_ignores_nothing_the_recipient_sees():
    """The digest changes with the number, the text, the media and the template."""
    base = content_digest("+447700900001", "Hi", (), None)
    assert len({base, content_digest("+447700900002", "Hi", (), None),
                content_digest("+447700900001", "Hi!", (), None)}) == 3


# -- the ledger's promises -----------------------------------------------------------

def test_send_twice_sends_nothing_new_and_says_already_sent(tmp_path):
    """A re-run of the same campaign makes 0 requests; each row says when it was sent."""
    sandbox = Sandbox(seed=1)
    first = go(rendered(3), sociocs(), sandbox, tmp_path)
    counting = Counting(sandbox.transport())
    second = go(rendered(3), sociocs(), counting, tmp_path)
    assert counting.methods == []
    assert len(sandbox.accepted()) == 3
    assert second["status"].tolist() == ["already-sent"] * 3
    pd.testing.assert_series_equal(second["message_id"], first["message_id"])
    pd.testing.assert_series_equal(second["sent_at"], first["sent_at"])


def test_shuffled_and_filtered_frames_never_resend(tmp_path):
    """Sending half, then the whole frame shuffled, sends only the other half."""
    sandbox = Sandbox(seed=1)
    first = go(rendered(6).iloc[:3], sociocs(), sandbox, tmp_path)
    counting = Counting(sandbox.transport())
    second = go(rendered(6).sample(frac=1.0, random_state=7), sociocs(), counting, tmp_path)
    assert counting.methods == ["POST"] * 3
    assert sorted(sandbox.accepted()["to"]) == NUMBERS[:6]
    assert second.loc[first.index, "status"].tolist() == ["already-sent"] * 3


def test_dry_run_never_counts_for_the_live_run_nor_writes_the_ledger(tmp_path):
    """A dry run (the default, through the in-process sandbox) writes nothing; live sends all."""
    dry = send(rendered(3), sociocs(), campaign="spring", ledger=tmp_path / "ledger.db",
               progress=False, pacing=fast(), guardrails=ANY_HOUR)
    assert dry["status"].tolist() == ["dry-run"] * 3
    assert not (tmp_path / "ledger.db").exists()
    sandbox = Sandbox(seed=1)
    live = go(rendered(3), sociocs(), sandbox, tmp_path)
    assert live["status"].tolist() == ["sent"] * 3
    assert len(sandbox.accepted()) == 3


def test_changed_message_is_refused_before_any_request(tmp_path):
    """The same campaign with another text for a sent row raises CampaignChanged, 0 requests."""
    sandbox = Sandbox(seed=1)
    go(rendered(2), sociocs(), sandbox, tmp_path)
    counting = Counting(sandbox.transport())
    with pytest.raises(CampaignChanged) as raised:
        go(rendered(2, text="Hello {name}"), sociocs(), counting, tmp_path)
    assert counting.methods == []
    assert str(raised.value) == (
        'campaign "spring" already sent (or may have sent) a different message to row(s) 2, 3; '
        'nothing was sent. To send the new version, use a new campaign name (e.g. '
        'campaign="spring-2")'
    )


def test_a_changed_cell_under_the_same_key_is_refused_before_any_request(tmp_path):
    """Same message, another name in a sent row's cell: CampaignChanged names the row."""
    sandbox = Sandbox(seed=1)
    go(rendered(2), sociocs(), sandbox, tmp_path)
    changed = rendered(2)
    changed.loc[3, "text"] = "Hi Bob, see you at 9:00"
    counting = Counting(sandbox.transport())
    with pytest.raises(CampaignChanged) as raised:
        go(changed, sociocs(), counting, tmp_path)
    assert counting.methods == []
    assert str(raised.value) == (
        'campaign "spring" already sent (or may have sent) a different message to row(s) 3; '
        'nothing was sent. To send the new version, use a new campaign name (e.g. '
        'campaign="spring-2")'
    )


def test_changed_channel_is_refused(tmp_path):
    """The same campaign through another channel raises CampaignChanged naming what changed."""
    sandbox = Sandbox(seed=1)
    go(rendered(1), sociocs(), sandbox, tmp_path)
    other = Sociocs("kid:secret", "twlo_16175550001", "twlo")
    with pytest.raises(CampaignChanged) as raised:
        go(rendered(1), other, sandbox, tmp_path)
    assert str(raised.value).startswith(
        'campaign "spring" was sent before with a different channel')


def test_limit_sends_the_first_new_rows_and_the_rest_wait(tmp_path):
    """limit=2 sends rows 2 and 3; the next run with limit=2 sends rows 4 and 5."""
    sandbox = Sandbox(seed=1)
    first = go(rendered(5), sociocs(), sandbox, tmp_path, limit=2)
    assert first["status"].tolist() == ["sent", "sent", "waiting", "waiting", "waiting"]
    second = go(rendered(5), sociocs(), sandbox, tmp_path, limit=2)
    assert second["status"].tolist() == [
        "already-sent", "already-sent", "sent", "sent", "waiting"]
    assert sandbox.accepted()["to"].tolist() == NUMBERS[:4]


def test_rows_with_problems_are_skipped_with_them(tmp_path):
    """A row with problems is never sent; its error lists them joined by "; "."""
    frame = rendered(2)
    frame["problems"] = pd.Series(
        [(), (Problem(3, "phone", '"0712" is not a valid GB number', "invalid-phone"),
              Problem(3, "name", "the cell is empty", "missing-value"))],
        index=frame.index, dtype=object)
    sandbox = Sandbox(seed=1)
    results = go(frame, sociocs(), sandbox, tmp_path)
    assert results["status"].tolist() == ["sent", "skipped"]
    assert results.at[3, "error"] == (
        'row 3, column "phone": "0712" is not a valid GB number; '
        'row 3, column "name": the cell is empty'
    )
    assert int(results.at[3, "attempts"]) == 0


def test_results_columns_and_dtypes(tmp_path):
    """Results keep the frame's columns and index and add the result columns with fixed dtypes."""
    results = go(rendered(1), sociocs(), Sandbox(seed=1), tmp_path)
    assert results.index.tolist() == [2]
    assert results.index.name == "row"
    assert results.dtypes.astype(str).to_dict() == {
        "to": "str", "name": "str", "text": "str", "media": "object", "template": "object",
        "problems": "object", "key": "str", "status": "str", "error": "str",
        "message_id": "str", "job_id": "str", "http_status": "Int64", "attempts": "int64",
        "sent_at": "datetime64[us, UTC]", "sendable_at": "datetime64[us, UTC]",
    }
    assert results.attrs == {
        "campaign": "spring", "mode": "live", "ledger": str(tmp_path / "ledger.db"),
        "stopped": None, "live_seconds": 0.001,
        "warnings": ("quiet hours are off: messages may reach people at night "
                     "(Guardrails(quiet_hours=None))",)}


def test_the_callers_frame_is_not_modified(tmp_path):
    """send returns a new frame and leaves its input as it was."""
    frame = rendered(2)
    before = frame.copy()
    go(frame, sociocs(), Sandbox(seed=1), tmp_path)
    pd.testing.assert_frame_equal(frame, before)


# -- throttling and pauses ------------------------------------------------------------

def test_retry_after_pauses_every_request_to_the_channel(tmp_path):
    """A 429 with Retry-After: 3 holds the retry and the next row until the pause ends."""
    clock = FakeClock()
    starts: list[tuple[str, float]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        to = request.read().decode().split('"to":"')[1].split('"')[0]
        starts.append((to, clock()))
        if to == NUMBERS[1] and len(starts) == 2:
            return httpx.Response(429, headers={"retry-after": "3"},
                                  json={"status": "error", "errors": [{"msg": "rate"}]})
        return httpx.Response(200, json={"status": "success", "data": {"message_id": "m"}})

    results = send(rendered(3), sociocs(), campaign="spring", live=True,
                   ledger=tmp_path / "j.db", transport=httpx.MockTransport(answer),
                   progress=False, guardrails=ANY_HOUR,
                   pacing=Pacing(10.0, 1, clock=clock, sleep=clock.sleep))
    assert [(to, round(t, 6)) for to, t in starts] == [
        (NUMBERS[0], 0.0), (NUMBERS[1], 0.1), (NUMBERS[1], 3.1), (NUMBERS[2], 3.2)]
    assert results["attempts"].tolist() == [1, 2, 1]
    assert results["status"].tolist() == ["sent"] * 3


@pytest.mark.parametrize(
    ("header", "now", "expected"),
    [("120", None, 120.0), ("0", None, 0.0), ("Wed, 21 Oct 2015 07:28:10 GMT", 1445412480.0, 10.0),
     ("Wed, 21 Oct 2015 07:28:10 GMT", 1445412500.0, 0.0), ("soon", None, None), ("", None, None)],
)
def test_retry_after_reads_delta_seconds_and_http_dates(header, now, expected):
    """Retry-After is delta-seconds or an HTTP-date (RFC 9110 §10.2.3); garbage is ignored."""
    assert parse_retry_after(header, now=now) == expected


def test_retry_after_beyond_the_cap_pauses_the_campaign(tmp_path):
    """A Retry-After above retry_after_cap raises CampaignPaused; the rest wait; resume later."""
    sandbox = Sandbox(seed=1, faults=Faults(rate_limit=2, rate_window=1000.0),
                      clock=lambda: 0.0)
    with pytest.raises(CampaignPaused) as raised:
        go(rendered(4), sociocs(), sandbox, tmp_path, concurrency=1)
    paused = raised.value
    assert paused.retry_after == 1000.0
    assert paused.results["status"].tolist() == ["sent", "sent", "waiting", "waiting"]
    assert str(paused).startswith(
        "sociocs:twlo asked to wait 1000 s (Retry-After), longer than retry_after_cap=300 s: "
        'campaign "spring" paused with its remaining rows waiting. Run the same campaign again '
        "after ")
    with Ledger(tmp_path / "ledger.db") as ledger:
        assert ledger.campaign_state("spring")["state"] == "paused"
        assert sorted(ledger.records("spring")) == NUMBERS[:2]
    counting = Counting(sandbox.transport())
    with pytest.raises(CampaignPaused):
        go(rendered(4), sociocs(), counting, tmp_path)
    assert counting.methods == []


def test_auth_failure_halts_after_one_request_then_resumes(tmp_path):
    """A 401 halts at the first request even with 8 in flight; the fixed key sends the rest."""
    sandbox = Sandbox(seed=1, credentials=SandboxCredentials(sociocs_api_keys=["kid:good"]))
    counting = Counting(sandbox.transport())
    with pytest.raises(AuthFailed) as raised:
        go(rendered(5), sociocs("bad"), counting, tmp_path, concurrency=8)
    assert counting.methods == ["POST"]
    assert raised.value.results["status"].tolist() == ["failed"] + ["waiting"] * 4
    assert str(raised.value) == (
        "sociocs:twlo refused the credentials (HTTP 401: Authentication failed. Check apikey "
        "header.); the campaign halted after this first refusal. Check the API key and its "
        "permissions, then run the same campaign again: nothing was sent twice"
    )
    results = go(rendered(5), sociocs("good"), sandbox, tmp_path)
    assert results["status"].tolist() == ["sent"] * 5  # the failed row was never sent
    assert len(sandbox.accepted()) == 5


# -- stop, interrupt, crash -----------------------------------------------------------

def test_stop_event_lets_in_flight_finish_and_leaves_the_rest_waiting(tmp_path):
    """Setting stop during the 2nd request sends no 3rd; the stopped rows are waiting."""
    stop = threading.Event()
    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) == 2:
            stop.set()
        return httpx.Response(200, json={"status": "success", "data": {"message_id": "m"}})

    results = go(rendered(4), sociocs(), httpx.MockTransport(answer), tmp_path, stop=stop,
                 concurrency=1)
    assert results["status"].tolist() == ["sent", "sent", "waiting", "waiting"]
    assert results.attrs["stopped"] == "stopped by the caller: the remaining rows are waiting"


def test_interrupt_leaves_in_flight_rows_unknown_and_the_rest_waiting(tmp_path):
    """Cancelling mid-request records that row unknown; a re-run never resends it."""
    entered = asyncio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        if NUMBERS[1] in request.content.decode():
            entered.set()
            await asyncio.Event().wait()  # hangs until cancelled
        return httpx.Response(200, json={"status": "success", "data": {"message_id": "m"}})

    async def main() -> None:
        task = asyncio.ensure_future(send_async(
            rendered(3), sociocs(), campaign="spring", live=True,
            ledger=tmp_path / "ledger.db", transport=httpx.MockTransport(answer),
            progress=False, pacing=fast(concurrency=1), guardrails=ANY_HOUR))
        await entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    sandbox = Sandbox(seed=1)
    counting = Counting(sandbox.transport())
    results = go(rendered(3), sociocs(), counting, tmp_path)
    assert results["status"].tolist() == ["already-sent", "unknown", "sent"]
    assert results.at[3, "error"] == (
        "interrupted while the request was in flight: the provider may have sent it, so it is "
        "not sent again automatically")
    assert counting.methods == ["POST"]
    assert sandbox.accepted()["to"].tolist() == [NUMBERS[2]]


def test_a_row_left_pending_by_a_crash_becomes_unknown(tmp_path):
    """A pending row from a killed run is never resent by a provider without lookups."""
    frame = rendered(2)
    go(frame.iloc[:0], sociocs(), Sandbox(seed=1), tmp_path)  # registers the campaign
    digest = content_digest(NUMBERS[0], frame.at[2, "text"], (), None)
    with Ledger(tmp_path / "ledger.db") as ledger:
        ledger.mark_pending("spring", "live", [(NUMBERS[0], "2", digest)], 1)
    sandbox = Sandbox(seed=1)
    results = go(frame, sociocs(), sandbox, tmp_path)
    assert results["status"].tolist() == ["unknown", "sent"]
    assert results.at[2, "error"] == (
        "in flight when an earlier run stopped (a crash or a kill); sociocs:twlo may have sent "
        "it, so it is not sent again automatically")
    assert sandbox.accepted()["to"].tolist() == [NUMBERS[1]]


@pytest.mark.parametrize(("delivered", "posts"), [(True, 0), (False, 1)])
def test_bird_reconciles_a_pending_row_by_reference(delivered, posts, tmp_path):
    """Bird looks a settled pending row up: found means sent, proven absent means send it."""
    channel = Bird(WORKSPACE, BIRD_CHANNEL, "key")
    frame = rendered(1)
    sandbox = Sandbox(seed=1)
    go(frame.iloc[:0], channel, sandbox, tmp_path)
    if delivered:  # the killed run's request had reached Bird
        with httpx.Client(transport=sandbox.transport()) as client:
            client.send(channel.build_request(dict(frame.loc[2]) | {"problems": ()},
                                              key=f"spring:{NUMBERS[0]}"))
    digest = content_digest(NUMBERS[0], frame.at[2, "text"], (), None)
    with Ledger(tmp_path / "ledger.db") as ledger:
        ledger.mark_pending("spring", "live", [(NUMBERS[0], "2", digest)], 1)
    counting = Counting(sandbox.transport())
    results = go(frame, channel, counting, tmp_path, retry=Retry(absent_after=0))
    assert results["status"].tolist() == ["sent"]
    assert (counting.methods.count("GET"), counting.methods.count("POST")) == (1, posts)
    assert len(sandbox.accepted()) == 1


def test_resolve_settles_unknown_rows(tmp_path):
    """Unknown rows stay unknown until resolved: "resend" sends them, "sent" records them."""
    sandbox = Sandbox(seed=1, faults=Faults(p_500_before=1.0))
    results = go(rendered(2), sociocs(), sandbox, tmp_path)
    assert results["status"].tolist() == ["unknown", "unknown"]
    with Ledger(tmp_path / "ledger.db") as ledger:
        assert ledger.unknown("spring") == NUMBERS[:2]
        assert ledger.resolve("spring", [NUMBERS[0]], "resend") == 1
        assert ledger.resolve("spring", [NUMBERS[1]], "sent") == 1
    healthy = Sandbox(seed=1)
    results = go(rendered(2), sociocs(), healthy, tmp_path)
    assert results["status"].tolist() == ["sent", "already-sent"]
    assert results.at[3, "error"].endswith(
        f'(row 3, key "{NUMBERS[1]}"; marked sent by hand): the same message to the same '
        "number is never sent twice; pass resend= to send it again")
    assert healthy.accepted()["to"].tolist() == [NUMBERS[0]]


# -- bulk -----------------------------------------------------------------------------

def test_bulk_sends_one_job_per_chunk_with_its_job_id(tmp_path):
    """bulk=3 sends rows of one content as one job per 3 rows, each row with the job id."""
    frame = rendered(5, text="Clinic closed on Monday")
    sandbox = Sandbox(seed=1)
    counting = Counting(sandbox.transport())
    results = go(frame, sociocs(), counting, tmp_path, bulk=3)
    assert counting.methods == ["POST", "POST"]
    assert results["status"].tolist() == ["sent"] * 5
    jobs = results["job_id"].tolist()
    assert jobs[:3] == [jobs[0]] * 3 and jobs[3:] == [jobs[3]] * 2 and jobs[0] != jobs[3]
    assert len(sandbox.accepted()) == 5


def test_an_ambiguous_bulk_job_makes_every_row_unknown(tmp_path):
    """A bulk job answered 500 after acceptance is unknown for all its rows, never resubmitted."""
    sandbox = Sandbox(seed=1, faults=Faults(p_500_after=1.0))
    counting = Counting(sandbox.transport())
    results = go(rendered(3, text="Same for all"), sociocs(), counting, tmp_path, bulk=True)
    assert counting.methods == ["POST"]
    assert results["status"].tolist() == ["unknown"] * 3
    assert results.at[2, "error"] == (
        "There was a problem processing the request on our server. Try again later; "
        "sociocs:twlo may have sent the bulk job, so it is not sent again automatically")


# -- where send runs ------------------------------------------------------------------

def test_send_blocks_inside_a_running_event_loop(tmp_path):
    """send works when called from a coroutine (as in a Jupyter cell) on a loop thread."""
    sandbox = Sandbox(seed=1)

    async def cell() -> pd.DataFrame:
        return go(rendered(2), sociocs(), sandbox, tmp_path)

    results = asyncio.run(cell())
    assert results["status"].tolist() == ["sent", "sent"]


def test_send_async_is_awaitable(tmp_path):
    """await send_async(...) returns the same results frame as send."""
    sandbox = Sandbox(seed=1)
    results = asyncio.run(send_async(
        rendered(2), sociocs(), campaign="spring", live=True, ledger=tmp_path / "ledger.db",
        transport=sandbox.transport(), progress=False, pacing=fast(), guardrails=ANY_HOUR))
    assert results["status"].tolist() == ["sent", "sent"]


def test_live_send_over_loopback_end_to_end(tmp_path):
    """A live send over real HTTP to the served sandbox; a re-run adds nothing."""
    record = tmp_path / "record.sqlite"
    with Sandbox(seed=1, record=record) as sandbox, serve(sandbox) as base_url:
        channel = Sociocs("kid:secret", "twlo_16175550000", "twlo", base_url=base_url)
        options = dict(campaign="spring", live=True, progress=False,
                       pacing=fast(concurrency=4), guardrails=ANY_HOUR)
        first = send(rendered(4), channel, **options)
        second = send(rendered(4).iloc[::-1], channel, **options)
        accepted = sandbox.accepted()
    assert first["status"].tolist() == ["sent"] * 4
    assert sorted(accepted["to"]) == NUMBERS[:4]
    assert second["status"].tolist() == ["already-sent"] * 4
    # Sends to the sandbox on loopback are kept beside the ledger, never in it.
    assert first.attrs["ledger"].endswith("ledger.sandbox.db")


# -- secrets --------------------------------------------------------------------------

def test_a_canary_key_appears_nowhere(tmp_path, caplog, capsys):
    """The API key never reaches stdout, stderr, logs, the ledger or the results files."""
    canary = "CANARY0c8f2e1d9b7a4d6b"
    caplog.set_level(logging.DEBUG)
    sandbox = Sandbox(seed=3, faults=Faults(p_500_after=0.3, p_429=0.2, p_drop_before=0.2),
                      credentials=SandboxCredentials(sociocs_api_keys=[f"kid:{canary}"]))
    channel = sociocs(canary)
    results = go(rendered(6), channel, sandbox, tmp_path)
    with pytest.raises(AuthFailed) as raised:
        go(rendered(6), sociocs("wrong"), sandbox, tmp_path, campaign="other")
    save_results(results, tmp_path / "results.csv")
    save_results(results, tmp_path / "results.xlsx")
    out = capsys.readouterr()
    texts = [out.out, out.err, caplog.text, repr(results), str(raised.value),
             results.to_csv(), repr(channel)]
    files = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    forms = [canary, base64.b64encode(f"kid:{canary}".encode()).decode(),
             urllib.parse.quote(f"kid:{canary}")]
    assert [form for form in forms if any(form in t for t in texts)] == []
    assert [form for form in forms if form.encode() in files] == []
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".db", ".csv", ".xlsx")) == [
        "ledger.db", "results.csv", "results.xlsx"]


def test_a_held_campaign_refuses_the_send(tmp_path):
    """While another sender holds the campaign, send raises CampaignLocked and sends nothing."""
    sandbox = Sandbox(seed=1)
    counting = Counting(sandbox.transport())
    with (Ledger(tmp_path / "ledger.db") as ledger, ledger.claim("spring"),
          pytest.raises(CampaignLocked)):
        go(rendered(2), sociocs(), counting, tmp_path)
    assert counting.methods == []


INTERRUPTED_CHILD = """
import asyncio, sys, httpx, pandas as pd
from campaignkit import Guardrails, Pacing
from campaignkit.channels.sociocs import Sociocs
from campaignkit.sending import send

async def answer(request):
    if b"+447700900002" in request.content:
        print("entered", flush=True)
        await asyncio.Event().wait()
    return httpx.Response(200, json={"status": "success", "data": {"message_id": "m"}})

frame = pd.DataFrame({"to": ["+447700900001", "+447700900002", "+447700900003"],
                      "text": ["a", "b", "c"], "media": [()] * 3, "template": [None] * 3,
                      "problems": [()] * 3}, index=pd.Index([2, 3, 4], name="row"))

def go():
    return send(frame, Sociocs("kid:s", "twlo_16175550000", "twlo"), campaign="spring",
                live=True, ledger=sys.argv[2], transport=httpx.MockTransport(answer),
                progress=False, pacing=Pacing(1000, 1), guardrails=Guardrails(quiet_hours=None))

async def cell():
    return go()

try:
    if sys.argv[1] == "script":
        go()
    else:  # a running loop on the main thread whose SIGINT raises KeyboardInterrupt (ipykernel)
        asyncio.new_event_loop().run_until_complete(cell())
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


@pytest.mark.parametrize("where", ["script", "running loop"])
def test_ctrl_c_records_in_flight_rows_unknown_and_releases_the_claim(where, tmp_path):
    """SIGINT mid-request: that row is unknown, unstarted rows have no record, the lock is free."""
    import signal
    import subprocess
    import sys

    ledger_path = tmp_path / "ledger.db"
    child = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED_CHILD, where, str(ledger_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "entered\n"
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
    assert out == "interrupted\n"
    with Ledger(ledger_path) as ledger:
        records = ledger.records("spring")
        assert {k: r.status for k, r in records.items()} == {
            "+447700900001": "sent", "+447700900002": "unknown"}
        assert ledger.campaign_state("spring")["state"] == "interrupted"
        ledger.claim("spring").release()


class FlakyLookups(httpx.AsyncBaseTransport):
    """The first lookup times out; everything else reaches the sandbox."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.methods = inner, []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.methods.append(request.method)
        if request.method == "GET" and self.methods.count("GET") == 1:
            raise httpx.ReadTimeout("lookup timed out", request=request)
        return await self.inner.handle_async_request(request)


def test_a_lookup_that_times_out_is_asked_again_and_settles_the_row(tmp_path):
    """A 500 after acceptance, then a lookup timeout: the GET is repeated and finds it sent."""
    sandbox = Sandbox(seed=1, faults=Faults(p_500_after=1.0))
    flaky = FlakyLookups(sandbox.transport())
    channel = Bird(WORKSPACE, BIRD_CHANNEL, "bird-key")
    results = go(rendered(1), channel, flaky, tmp_path)
    assert flaky.methods == ["POST", "GET", "GET"]
    assert results["status"].tolist() == ["sent"]
    assert len(sandbox.accepted()) == 1


def test_a_stop_while_rows_wait_for_their_slot_leaves_them_waiting_not_in_doubt(tmp_path):
    """Stop after the first answer: rows holding an intent but no slot are forgotten, so the
    next run sends them (0 unknown), and the sandbox receives every number exactly once."""
    sandbox = Sandbox(seed=1)
    stop = threading.Event()
    first = go(rendered(6), sociocs(), sandbox, tmp_path, concurrency=4, stop=stop,
               progress=lambda done, total: stop.set())
    assert first.attrs["stopped"] == "stopped by the caller: the remaining rows are waiting"
    assert set(first["status"]) <= {"sent", "waiting"}
    assert (first["status"] == "waiting").sum() >= 1
    second = go(rendered(6), sociocs(), sandbox, tmp_path, concurrency=4)
    assert set(second["status"]) == {"sent", "already-sent"}
    received = sandbox.accepted()["to"]
    assert sorted(received) == NUMBERS[:6]


def test_the_ledger_writer_commits_in_order_and_a_failed_write_changes_nothing(tmp_path):
    """Writes land in the order submitted (an outcome after its intent); a failing write is
    rolled back, its caller gets the error, and the writer goes on with the next ones."""
    ledger = Ledger(tmp_path / "w.db")
    ledger.open_campaign("spring", "live", {"channel": {}, "message": None})

    def boom(db):
        Ledger.pending("spring", "live", [("c", "4", "d")], 1)(db)
        raise RuntimeError("disk full")

    async def main() -> str:
        with LedgerWriter(ledger) as writer:
            await asyncio.gather(
                writer.run(Ledger.pending("spring", "live", [("a", "2", "d"), ("b", "3", "d")],
                                          1)),
                writer.run(Ledger.outcome("spring", "live", [("a", "2", "d")], status="sent",
                                          attempts=1)),
            )
            with pytest.raises(RuntimeError) as failed:
                await writer.run(boom)
            await writer.run(lambda db: Ledger.write_forget(db, "spring", "live", ["b"]))
            return str(failed.value)

    assert asyncio.run(main()) == "disk full"
    records = ledger.records("spring", "live")
    assert {k: r.status for k, r in records.items()} == {"a": "sent"}
    ledger.close()


class FirstTooFast(httpx.AsyncBaseTransport):
    """Answers the 3rd request 429 with Retry-After: 5; everything else reaches the sandbox."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.calls = inner, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls == 3:
            return httpx.Response(429, headers={"retry-after": "5"},
                                  json={"status": "error", "errors": [{"msg": "slow down"}]})
        return await self.inner.handle_async_request(request)


def test_quiet_hours_are_checked_again_when_each_row_leaves(tmp_path):
    """20:59:50 in New York at 1/s: the plan sends 10 before 21:00; a 5 s Retry-After on the
    3rd request makes rows 6-10 leave after 21:00, so they are deferred when their slot
    comes: the sandbox receives 5 messages, all before the window closed."""
    numbers = [f"+1212555{i:04d}" for i in range(110, 140)]
    frame = pd.DataFrame(
        {"to": numbers, "text": ["Your appointment is tomorrow"] * 30, "media": [()] * 30,
         "template": [None] * 30, "problems": [()] * 30, "segments": [1] * 30},
        index=pd.Index(range(2, 32), name="row"))
    sandbox = Sandbox(seed=1)
    clock = FakeClock()
    evening = datetime(2026, 12, 3, 1, 59, 50, tzinfo=UTC)  # 20:59:50 EST
    results = send(frame, sociocs(), campaign="evening", live=True, now=evening,
                   transport=FirstTooFast(sandbox.transport()), progress=False,
                   ledger=tmp_path / "ledger.db", guardrails=Guardrails(provider_opt_outs=False),
                   pacing=Pacing(1.0, 1, clock=clock, sleep=clock.sleep))
    assert sandbox.accepted()["to"].tolist() == numbers[:5]
    assert results["status"].value_counts().to_dict() == {"sent": 5, "deferred": 25}
    assert results.loc[7:11, "error"].tolist() == [
        "quiet hours: the recipient's window closed before the message's turn; sendable at "
        "2026-12-03 13:00 UTC"] * 5
    assert results["sendable_at"].dropna().astype(str).unique().tolist() == [
        "2026-12-03 13:00:00+00:00"]
