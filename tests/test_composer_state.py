"""The Composer's headless state: every call into campaignkit, tested without a widget."""

from __future__ import annotations

import ast
import asyncio
import io
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import stamina

from campaignkit.composer import ComposerState, Condition
from campaignkit.composer._words import plain

ROOT = Path(__file__).resolve().parents[1]
SHEET = ROOT / "sample_data" / "recipients.csv"
MESSAGE = (ROOT / "sample_data" / "message.txt").read_text().strip()
NOON = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # 10:00 in Boston, 16:00 in Madrid
API_KEY = "CANARY:5ec12e7-api"
CHANNEL_KEY = "twlo_16175559999"


def _state(tmp_path: Path, *, quiet: bool = False) -> ComposerState:
    state = ComposerState(default_region="US", ledger=tmp_path / "ledger.db", clock=lambda: NOON)
    state.countries = "US, GB, ES, DE, IN"  # where the sample clinic's patients live
    state.set_settings(replace(state.settings, quiet_hours=quiet))
    state.load(str(SHEET))
    state.set_text(MESSAGE)
    return state


@pytest.fixture
def state(tmp_path: Path) -> ComposerState:
    """The sample sheet and message, quiet hours off, no provider keys yet."""
    return _state(tmp_path)


@pytest.fixture
def ready(state: ComposerState) -> ComposerState:
    """The state with Sociocs twlo fully set and a rate no pacer waits for."""
    state.set_secret("sociocs.api_key", API_KEY)
    state.set_secret("sociocs.channel_key", CHANNEL_KEY)
    state.set_rate(10_000)
    return state


@pytest.fixture
def no_waits() -> Iterator[None]:
    """stamina's retries without their waits (the engine retries connect errors 5 times)."""
    with stamina.set_testing(True, attempts=5):
        yield


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# -- recipients --------------------------------------------------------------------------------


def test_load_says_what_it_found_in_plain_words(state: ComposerState) -> None:
    """The sheet's summary is one line of counts: no repr, empty rows as a count."""
    assert state.load_note == (
        "64 rows · 60 valid · 3 invalid-phone, 1 missing-phone · 1 repeated number (one message "
        "each) · 7 phone numbers "
        "repaired · 1 empty row dropped · phone column “Phone”")
    assert (state.campaign, state.row, state.errors["recipients"]) == ("recipients", 2, "")


@pytest.mark.parametrize(("countries", "note"), [
    ("", "3 rows · 1 valid · 2 country-not-allowed · phone column “phone”"),
    ("US, GB", "3 rows · 2 valid · 1 country-not-allowed · phone column “phone”"),
    ("any", "3 rows · 3 valid · phone column “phone”"),
])
def test_countries_are_the_regions_own_unless_typed(countries: str, note: str,
                                                    tmp_path: Path) -> None:
    """A valid British or Australian number is a row problem for a US list until its country
    is typed in Countries ("any" takes every country)."""
    sheet = tmp_path / "people.csv"
    sheet.write_text("phone\n+16175551212\n+447400123456\n+61412345678\n", encoding="utf-8")
    state = ComposerState(default_region="US", ledger=tmp_path / "ledger.db", clock=lambda: NOON)
    state.countries = countries
    assert state.load(str(sheet)) is True
    assert state.load_note == note


def test_load_error_stays_beside_the_sheet(tmp_path: Path) -> None:
    """A missing file is the recipients panel's error, in the library's words."""
    state = ComposerState(ledger=tmp_path / "ledger.db")
    assert state.load(str(tmp_path / "missing.csv")) is False
    assert state.errors["recipients"] == (
        f'No file at "{tmp_path / "missing.csv"}": check the path and the current folder')
    assert state.load("  ") is False
    assert state.errors["recipients"] == "Type the path of a CSV or XLSX sheet, or upload one"


def test_a_workbook_with_several_sheets_offers_them(tmp_path: Path) -> None:
    """The sheet names of a workbook are listed; choosing one loads it."""
    book = openpyxl.Workbook()
    book.active.title = "March"
    book.active.append(["Name", "Phone"])
    book.active.append(["Ada", "+16175550123"])
    april = book.create_sheet("April")
    april.append(["Name", "Phone"])
    april.append(["Bo", "+16175550124"])
    april.append(["Cy", "+16175550125"])
    path = tmp_path / "spring.xlsx"
    book.save(path)
    state = ComposerState(ledger=tmp_path / "ledger.db")
    state.load(str(path))
    assert state.recipients is not None
    assert (state.sheets, state.sheet, len(state.recipients)) == (("March", "April"), "March", 1)
    state.sheet = "April"
    state.reload()
    assert state.recipients is not None
    assert state.recipients["Name"].tolist() == ["Bo", "Cy"]


def test_loading_is_locked_during_a_send(ready: ComposerState) -> None:
    """While a send runs, load refuses with the reason and keeps the sheet."""
    ready.running = True
    assert ready.load(str(SHEET)) is False
    assert ready.errors["recipients"] == (
        "A send is running: loading is locked until it ends")


# -- the message ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("{{ first_name | shout }}",
         'The message uses the filter "shout" (line 1, column 17), which does not exist. The '
         "filters are listed at https://jinja.palletsprojects.com/en/stable/templates/"
         '#list-of-builtin-filters, with campaignkit\'s "date".'),
        ("Hi\n{{ frist_name }}",
         "The message uses {{ frist_name }} (line 2, column 4), but no column matches it: did "
         'you mean {{ first_name }}? The columns are "Patient ID", "First Name", "Last Name", '
         '"Phone", "Appointment Date", "Clinic", "Language" and "to".'),
        ("Hi {{ first",
         "The message has a template error on line 1: unexpected end of template, expected "
         "'end of print statement'. Check that every {{ is closed by }} and every {% if %} or "
         "{% for %} by {% endif %} or {% endfor %}."),
        ("   ", "the message is only spaces: write a message"),
    ],
)
def test_template_errors_clear_the_preview_and_say_where(
    state: ComposerState, text: str, error: str
) -> None:
    """A bad message clears the row view and the totals and says what and where."""
    state.set_text(text)
    assert (state.errors["message"], state.view, state.totals.counts) == (error, None, {})
    assert state.blocked(live=False) == error


@pytest.mark.parametrize(
    ("text", "marketing", "warnings"),
    [
        ("Hi {first_name}, Reply STOP to opt out", True,
         ("{first_name} on line 1, column 4 goes out as written: a column is written "
          "{{ first_name }}",)),
        ("Hi {{ first_name }}", True,
         ("a marketing message must say how to opt out: add e.g. “Reply STOP to opt out”",)),
        ("Hi {{ first_name }}", False, ()),
    ],
)
def test_message_warnings(state: ComposerState, text: str, marketing: bool,
                          warnings: tuple[str, ...]) -> None:
    """Single braces and a marketing message without opt-out words are warned about."""
    state.set_marketing(marketing)
    state.set_text(text)
    assert state.warnings == warnings


def test_insert_puts_the_placeholder_at_the_caret(state: ComposerState) -> None:
    """A column goes in at the caret, with a space on either side where words touch."""
    state.set_text("Dear see you")
    caret = state.insert("First Name", 5)
    assert (state.text, caret) == ("Dear {{ first_name }} see you", 21)
    assert state.insert("Clinic") == len(state.text)
    assert state.text.endswith("you {{ clinic }}")


def test_row_view_of_the_first_row(state: ComposerState) -> None:
    """The row view has the text, its SMS figures and no problem."""
    view = state.view
    assert view is not None
    assert (view.label, view.to, view.encoding, view.segments, view.characters,
            view.problems, view.whatsapp) == (2, "+16175550101", "GSM-7", 1, 103, (), False)
    assert view.request_note == "set the provider's options to see the request"


def test_the_gsm_suggestion_names_each_swap(state: ComposerState) -> None:
    """A curly apostrophe in the message offers its look-alike; applying it restores GSM-7."""
    state.set_text("It’s {{ first_name }}’s day")
    assert state.view is not None
    assert (state.view.encoding, state.view.swaps) == ("UCS-2", ("’ → '",))
    state.apply_suggestion()
    assert state.text == "It's {{ first_name }}'s day"
    assert state.view.encoding == "GSM-7"


def test_keystrokes_show_the_row_at_once_and_count_every_row_later(tmp_path: Path) -> None:
    """On a running loop, a new text updates the row view at once; totals say updating."""

    async def scenario() -> tuple[bool, str | None, int, bool]:
        state = _state(tmp_path)
        await state.settled()
        state.set_text("Hi {{ first_name }}")
        at_once = (state.totals.updating, state.view.text if state.view else None)
        await state.settled()
        return (*at_once, state.totals.to_send, state.totals.updating)

    assert asyncio.run(scenario()) == (True, "Hi Olivia", 58, False)


# -- provider and endpoint ------------------------------------------------------------------


def test_live_is_disarmed_until_every_field_is_set(state: ComposerState) -> None:
    """Without the keys there is no channel: a live send is blocked, each field says so."""
    assert state.channel is None
    assert state.field_errors == {"sociocs.api_key": "needed: type it or set $SOCIOCS_API_KEY",
                                  "sociocs.channel_key": "needed: type it or set "
                                                         "$SOCIOCS_CHANNEL_KEY"}
    assert state.blocked(live=True) == "set the provider's options first"


def test_a_channel_error_lands_beside_its_field(state: ComposerState) -> None:
    """Bird's error for a workspace that is not a UUID is the workspace field's error."""
    state.set_provider("bird")
    state.set_option("bird.workspace_id", "nope")
    state.set_option("bird.channel_id", "16e1df9e-c6ac-406b-b1ce-13f34d0dea08")
    state.set_secret("bird.access_key", "AK-CANARY-1234")
    assert state.channel is None
    assert state.field_errors == {"bird.workspace_id": "Bird workspace_id 'nope' is not a "
                                  "UUID: copy it from the channel's page in Bird"}


def test_a_typed_field_is_checked_before_the_others_are_set(state: ComposerState) -> None:
    """A Bird workspace that is not a UUID is refused at once, the other fields still empty."""
    state.set_provider("bird")
    state.set_option("bird.workspace_id", "nope")
    assert state.field_errors["bird.workspace_id"] == (
        "Bird workspace_id 'nope' is not a UUID: copy it from the channel's page in Bird")
    assert state.field_errors["bird.channel_id"] == "needed"


def test_a_channel_key_without_its_prefix_is_refused_beside_it(state: ComposerState) -> None:
    """A Sociocs channel key without "twlo_" is the channel key field's error."""
    state.set_secret("sociocs.api_key", API_KEY)
    state.set_secret("sociocs.channel_key", "16175559999")
    assert state.channel is None
    assert state.field_errors["sociocs.channel_key"].startswith("Sociocs channel_key")


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://api.example.com", "use https (plain http only for an address on this machine)"),
        ("api.example.com", "type the full address, e.g. https://api.example.com"),
        ("https://api.example.com/", None),
        ("http://127.0.0.1:8000", None),
    ],
)
def test_custom_endpoint_is_https_except_loopback(
    ready: ComposerState, url: str, error: str | None
) -> None:
    """A custom URL must be https, or plain http on this machine."""
    ready.set_endpoint("custom", url)
    assert ready.field_errors.get("endpoint") == error
    assert (ready.channel is None) == (error is not None)


def test_sandbox_endpoint_serves_on_loopback(ready: ComposerState) -> None:
    """The sandbox endpoint is a real server on 127.0.0.1; the request goes there."""
    ready.set_endpoint("sandbox")
    try:
        assert ready.channel is not None
        assert ready.host.startswith("127.0.0.1:")
        assert ready.view is not None and ready.view.request is not None
        assert ready.view.request.startswith(f"POST http://{ready.host}/message\n")
    finally:
        ready.close()


def test_whatsapp_rows_have_no_sms_counter(state: ComposerState) -> None:
    """A WhatsApp channel's row view is marked WhatsApp and is priced per message."""
    state.set_provider("sociocs:twlowa")
    assert state.view is not None and state.view.whatsapp is True
    assert (state.totals.segments, state.totals.to_send) == (58, 58)


def test_no_view_shows_a_secret(ready: ComposerState) -> None:
    """Both Sociocs keys are redacted in the request and absent from every view."""
    ready.dry_run()
    ready.ask_live()
    shown = repr((ready.view, ready.totals, ready.confirmation, ready.outcome, ready.errors,
                  ready.field_errors))
    assert [shown.count(API_KEY), shown.count(CHANNEL_KEY)] == [0, 0]
    assert ready.view is not None and '"channel_key": "[redacted]"' in (ready.view.request or "")


# -- totals, cost and guardrails ------------------------------------------------------------


def test_cost_is_an_estimate_from_the_first_render(state: ComposerState) -> None:
    """Before any key is typed, the totals count rows, segments and the cost from the table."""
    t = state.totals
    assert (t.to_send, t.segments, t.cost, t.counts["skipped"], t.counts["duplicate"]) == (
        58, 73, Decimal("3.0956"), 5, 1)
    state.set_prices("US 0.01\n* 0")
    assert state.totals.cost == Decimal("0.32")


def test_a_bad_price_line_is_the_guardrails_error(state: ComposerState) -> None:
    """A price line that is not "REGION price" is refused with its line number."""
    state.set_prices("US 0.01\nEurope cheap")
    assert state.errors["guardrails"] == (
        "price line 2 “Europe cheap”: write a region code and a price, e.g. “US 0.0083”")


def test_quiet_hours_defer_rows_at_the_fixed_instant(tmp_path: Path) -> None:
    """At 15:00 UTC quiet hours (on by default) defer the 8 rows outside 08:00-21:00."""
    state = _state(tmp_path, quiet=True)
    assert {k: v for k, v in state.totals.counts.items() if v} == {
        "send": 50, "deferred": 8, "skipped": 5, "duplicate": 1}


def test_suppression_and_budget(ready: ComposerState) -> None:
    """An opt-out list suppresses its rows; a budget below the cost refuses the live send."""
    ready.set_suppression(b"phone\n(617) 555-0101\n", name="optouts.csv")
    assert ready.totals.counts["suppressed"] == 1
    ready.set_settings(replace(ready.settings, max_cost="0.50"))
    confirmation = ready.ask_live()
    assert confirmation is not None and confirmation.button is None
    assert confirmation.sentence.startswith("Refused: ")


def test_audience_filter_and_exclusions(state: ComposerState) -> None:
    """Conditions and an exclusion list narrow the rows rendered and counted."""
    state.set_conditions([Condition("Clinic", "is", "riverside clinic")])
    assert (state.totals.rows, state.totals.sheet_rows, state.row) == (22, 64, 2)
    state.set_exclusions(b"phone\n(617) 555-0101\n", name="exclude.csv")
    assert (state.totals.rows, state.row) == (21, 3)
    state.set_conditions([Condition("Patient ID", "is more than", "oops")])
    assert state.errors["recipients"] == "“Patient ID is more than” needs a number, not “oops”"


# -- sending --------------------------------------------------------------------------------


def test_dry_run_shows_the_outcome_in_plain_words(ready: ComposerState) -> None:
    """A dry run ends with the counts and the first rows; nothing but the sandbox saw it."""
    ready.dry_run()
    assert ready.outcome is not None
    assert ready.outcome.headline == (
        "Dry run finished: 64 rows · 58 accepted by the sandbox · 5 skipped (problems) · "
        "1 duplicate")
    assert ready.progress.phase == "finished"
    assert (ready.progress.done, ready.progress.total) == (58, 58)
    assert ready.outcome.table.loc[32, "error"] == (
        'row 32, column "Phone": the phone number is empty')


def test_progress_is_shown_at_most_ten_times_a_second(ready: ComposerState) -> None:
    """1,000 rows settling within 0.49 s give 6 progress views, the last one always."""
    clock = iter(i / 2048 for i in range(1000))
    ready._monotonic = lambda: next(clock)
    seen: list[tuple[int, int]] = []
    ready.subscribe(lambda topic: seen.append((ready.progress.done, ready.progress.total))
                    if topic == "progress" else None)
    for done in range(1, 1001):
        ready._on_progress(done, 1000)
    assert seen == [(1, 1000), (206, 1000), (411, 1000), (616, 1000), (821, 1000),
                    (1000, 1000)]


def test_live_confirmation_counts_what_is_left(ready: ComposerState) -> None:
    """After a live send of every row the campaign says so and offers no button."""
    ready.set_endpoint("sandbox")
    try:
        first = ready.ask_live()
        assert first is not None
        assert first.sentence == (
            f"Send 58 messages (73 segments, about $3.10) to 58 recipients via {ready.host}; "
            f"5 skipped (problems), 1 duplicate; finishes in about 1 s at 10000/s. Sent live, "
            f"and recorded "
            f"in the ledger {ready.ledger_path()}.")
        assert first.button == "Yes, send 58 messages"
        ready.confirm_live()
        assert ready.outcome is not None
        assert ready.outcome.counts == {"sent": 58, "skipped": 5, "duplicate": 1}
        assert ready.fully_sent.startswith("Campaign “recipients” was already sent")
        again = ready.ask_live()
        assert again is not None
        assert (again.sentence, again.button) == (
            "Campaign “recipients” was already sent: all 58 messages went out. Nothing is left "
            "to send.", None)
    finally:
        ready.close()


def test_stop_shows_results_and_the_confirmation_counts_the_rest(ready: ComposerState) -> None:
    """A live run stopped part way: results at once, then a confirmation of the rest only."""
    ready.set_endpoint("sandbox")
    ready.set_rate(40)

    async def scenario() -> None:
        ready.confirmation = None
        ready.ask_live()
        ready.confirm_live()
        while ready.progress.done < 5:
            await asyncio.sleep(0.01)
        ready.stop()
        assert ready.task is not None
        await ready.task
        await ready.settled()

    try:
        asyncio.run(scenario())
        assert ready.outcome is not None and ready.results is not None
        sent = int((ready.results["status"] == "sent").sum())
        waiting = int((ready.results["status"] == "waiting").sum())
        assert (sent >= 5, sent + waiting, ready.outcome.note) == (
            True, 58, "Stopped by the caller: the remaining rows are waiting")
        again = ready.ask_live()
        assert again is not None and again.button == f"Yes, send {waiting} messages"
        assert again.sentence.startswith(f"Send {waiting} messages (")
        assert f"; {sent} already sent (not sent again)." in again.sentence
    finally:
        ready.close()


def test_unreachable_provider_in_plain_words(ready: ComposerState, no_waits: None) -> None:
    """A failed connection is "cannot reach <host> (connection failed)", no class names."""
    port = _closed_port()
    ready.set_endpoint("custom", f"http://127.0.0.1:{port}")
    ready.ask_live()
    ready.confirm_live()
    assert ready.outcome is not None
    table = ready.outcome.table
    errors = set(table.loc[table["status"] == "failed", "error"])
    assert errors == {
        f"cannot reach 127.0.0.1:{port} (connection failed): check the network or the base URL"}


def test_a_test_message_is_recorded_apart(ready: ComposerState) -> None:
    """A test goes live to the typed number only; the campaign still has all 58 to send."""
    ready.set_endpoint("sandbox")
    try:
        ready.send_test("(617) 555-0199")
        assert ready.test_note == "test sent to +16175550199 (not part of the campaign)"
        confirmation = ready.ask_live()
        assert confirmation is not None and confirmation.button == "Yes, send 58 messages"
    finally:
        ready.close()


def test_schedule_uses_the_provider_field(ready: ComposerState) -> None:
    """Sociocs has a schedule field: the request carries it; the confirmation says when."""
    ready.set_schedule(datetime(2026, 12, 24, 9, 0, tzinfo=UTC))
    assert ready.view is not None
    assert '"schedule": "2026-12-24T09:00:00+00:00"' in (ready.view.request or "")
    confirmation = ready.ask_live()
    assert confirmation is not None
    assert "; scheduled for 2026-12-24 09:00 UTC (the provider holds the messages until " \
           "then)." in confirmation.sentence


def test_schedule_without_a_provider_field_defers_every_row(ready: ComposerState) -> None:
    """TextUs has no schedule field: the rows wait in the Composer and go at the time."""
    ready.set_provider("textus:sms")
    ready.set_option("textus.account", "clinic")
    ready.set_secret("textus.token", "tok-CANARY")
    ready.set_endpoint("sandbox")
    ready.set_schedule(NOON + timedelta(seconds=0.3))

    async def scenario() -> str:
        ready.ask_live()
        ready.confirm_live()
        await asyncio.sleep(0.05)
        waiting = ready.progress.phase
        assert ready.task is not None
        await ready.task
        return waiting

    try:
        confirmation = ready.ask_live()
        assert confirmation is not None
        assert "; scheduled for 2026-12-01 15:00 UTC (every row is deferred until then: keep " \
               "this page open)." in confirmation.sentence
        assert asyncio.run(scenario()) == "starting"
        assert ready.outcome is not None
        assert ready.outcome.counts == {"sent": 58, "skipped": 5, "duplicate": 1}
    finally:
        ready.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ConnectError: [Errno -3] Temporary failure in name resolution",
         "cannot reach api.sociocs.com (DNS failed): check the network or the base URL"),
        ("ConnectTimeout: timed out",
         "cannot reach api.sociocs.com (no answer in time): check the network or the base URL"),
        ("HTTP 400: Invalid channel_key.", "HTTP 400: Invalid channel_key."),
        ("see <LoadSummary 3 rows: 3 valid>", "See 3 rows: 3 valid"),
    ],
)
def test_plain_words(text: str, expected: str) -> None:
    """Errors shown lose exception names and reprs; connection failures name the host."""
    assert plain(text, "api.sociocs.com") == expected


def test_save_writes_the_results(ready: ComposerState, tmp_path: Path) -> None:
    """Saving before a run says why not; after a dry run it writes every row."""
    ready.save(str(tmp_path / "early.csv"))
    assert ready.errors["results"] == "nothing to save yet: run a dry run or a send first"
    ready.dry_run()
    ready.save(str(tmp_path / "results.csv"))
    assert ready.saved_note == f"saved 64 rows to {tmp_path / 'results.csv'}"
    saved = pd.read_csv(io.StringIO((tmp_path / "results.csv").read_text("utf-8-sig")),
                        dtype=str)
    assert saved["status"].value_counts().to_dict() == {"dry-run": 58, "skipped": 5, "duplicate": 1}


def test_the_state_imports_no_widgets() -> None:
    """The state and the pure modules it uses import no widget library and no panel."""
    package = ROOT / "src" / "campaignkit" / "composer"
    imported: dict[str, list[str]] = {}
    for name in ("_state", "_views", "_schedule", "_audience", "_prices", "_words"):
        tree = ast.parse((package / f"{name}.py").read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        imported[name] = sorted(m for m in names if m.split(".")[0] in (
            "ipywidgets", "anywidget", "traitlets", "_kit", "_app", "_editor"))
    assert imported == {"_state": [], "_views": [], "_schedule": [], "_audience": [],
                        "_prices": [], "_words": []}
