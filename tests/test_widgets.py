"""The Composer's panels, headless: set values and click, then read what the widgets show.

The HTML pieces are pure functions of the state's views, checked parsed (BeautifulSoup),
never against hand-typed HTML.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import ipywidgets as W
import pandas as pd
import pytest
from bs4 import BeautifulSoup
from ipywidgets.widgets.widget import _instances

from campaignkit import Composer
from campaignkit.channels import Sociocs
from campaignkit.composer import _html
from campaignkit.composer._views import Confirmation, Progress, RowView, Totals
from campaignkit.recipients import load_recipients
from campaignkit.samples import SAMPLE_COUNTRIES

ROOT = Path(__file__).resolve().parents[1]
SHEET = ROOT / "sample_data" / "recipients.csv"
MESSAGE = (ROOT / "sample_data" / "message.txt").read_text().strip()
NOON = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
API_KEY = "CANARY:5ec12e7-api"
CHANNEL_KEY = "twlo_16175559999"


def soup(markup: str) -> BeautifulSoup:
    return BeautifulSoup(markup, "html.parser")


def texts(markup: str, selector: str) -> list[str]:
    """The text of every element ``selector`` matches in ``markup``."""
    return [el.get_text() for el in soup(markup).select(selector)]


@pytest.fixture
def composer(tmp_path: Path) -> Composer:
    """The sample sheet loaded through the Sheet field, the sample message typed."""
    c = Composer(default_region="US", ledger=tmp_path / "ledger.db", clock=lambda: NOON)
    c.guardrails_panel.quiet.value = False
    c.recipients_panel.countries.value = "US, GB, ES, DE, IN"
    c.recipients_panel.path.value = str(SHEET)  # loads on Enter / leaving the field
    c.message_panel.editor.value = MESSAGE
    return c


@pytest.fixture
def ready(composer: Composer) -> Composer:
    """The composer with Sociocs twlo set through its password fields."""
    composer.provider_panel.fields["sociocs.api_key"].value = API_KEY
    composer.provider_panel.fields["sociocs.channel_key"].value = CHANNEL_KEY
    composer.send_panel.rate.value = 10_000.0
    return composer


def _every_widget_state() -> str:
    states = [w.get_state() for w in list(_instances.values())]
    return json.dumps(states, default=repr, ensure_ascii=False)


# -- pure HTML pieces ---------------------------------------------------------------------------


VIEW = RowView(label=4, position=3, rows=64, to="+491512345670", text="Hi Zoë <b>",
               encoding="UCS-2", segments=1, characters=10, culprits=("ë",), swaps=(),
               problems=("row 4: x",), request=None, request_note="", whatsapp=False, template=None)


def test_phone_shows_the_bubble_marks_and_problems() -> None:
    """The phone frame names the row, the bubble escapes the text and marks UCS-2."""
    markup = _html.phone(VIEW)
    assert texts(markup, ".ck-phone-to") == ["to +491512345670 · row 4 (3 of 64)"]
    assert texts(markup, ".ck-bubble") == ["Hi Zoë <b>"]
    assert texts(markup, "mark.ck-ucs2") == ["ë"]
    assert texts(markup, ".ck-row-problems li") == ["row 4: x"]
    assert soup(markup).select(".ck-wa") == []


def test_phone_shows_a_whatsapp_template_card() -> None:
    """A WhatsApp template row shows the template id and each variable, WhatsApp-styled."""
    view = replace(VIEW, whatsapp=True, text=None, template=("HX1", (("1", "Olivia"),)))
    markup = _html.phone(view)
    assert [sorted(el["class"]) for el in soup(markup).select(".ck-phone")] == [
        ["ck-phone", "ck-wa"]]
    assert texts(markup, ".ck-wa-template b") == ["template HX1"]
    assert texts(markup, ".ck-wa-template li") == ["1 Olivia"]


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        (VIEW, "UCS-2 · 1 segment · 10 characters"),
        (replace(VIEW, whatsapp=True), "WhatsApp · 10 characters"),
        (replace(VIEW, text=None), "no text"),
        (None, ""),
    ],
)
def test_counter(view: RowView | None, expected: str) -> None:
    """SMS rows count segments; WhatsApp rows only characters."""
    assert _html.counter(view) == expected


@pytest.mark.parametrize(
    ("totals", "expected"),
    [
        (Totals(updating=True), "updating…"),
        (Totals(sheet_rows=64, rows=22, counts={"send": 20, "skipped": 2, "already-sent": 0},
                segments=25, cost=Decimal("0.2075")),
         "20 of 22 rows ready (audience of 64) · 25 segments · about $0.21 (estimate) · 2 with "
         "problems"),
    ],
)
def test_totals_line(totals: Totals, expected: str) -> None:
    """The totals read as one line; while the rows are counted they say updating."""
    assert soup(_html.totals_line(totals)).get_text() == expected


def test_table_escapes_and_counts_what_is_not_shown() -> None:
    """Every cell is escaped text; rows beyond the shown ones are counted."""
    frame = pd.DataFrame({"to": ["<x>", None]}, index=pd.Index([2, 3], name="row"))
    markup = _html.table(frame, "ck-t", total=10)
    assert [[td.get_text() for td in tr.select("td")] for tr in soup(markup).select("tbody tr")] \
        == [["2", "<x>"], ["3", ""]]
    assert texts(markup, ".ck-more") == ["… and 8 more rows"]


def test_error_line_is_an_alert() -> None:
    """An error is one alert element with the text; no error is nothing at all."""
    assert [(el["role"], el.get_text()) for el in soup(_html.error_line("bad <path>")).select(
        ".ck-error")] == [("alert", "bad <path>")]
    assert _html.error_line("") == ""


def test_confirmation_and_progress_lines() -> None:
    """The confirmation shows its sentence and warnings; progress reads as rows of rows."""
    markup = _html.confirmation(Confirmation("Send 3 messages", "h", ("late",), "Yes"))
    assert (texts(markup, ".ck-confirm-sentence"), texts(markup, ".ck-warning")) == (
        ["Send 3 messages"], ["late"])
    assert _html.progress_line(Progress("dry-run", 42_453, 43_849, "sending")) == (
        "dry-run: 42,453 of 43,849 rows")
    assert _html.progress_line(Progress("live", 5, 58, "stopping")) == (
        "live: stopping after 5 of 58 rows (requests in flight finish)")


def test_chart_bars_scale_to_the_largest() -> None:
    """One bar per status, the largest 240 px wide."""
    bars = soup(_html.chart({"dry-run": 3, "skipped": 1})).select(".ck-bar")
    assert [(b["data-status"], re.search(r"width:(\d+)px", b["style"]).group(1))  # type: ignore[union-attr]
            for b in bars] == [("dry-run", "240"), ("skipped", "80")]


# -- panels bound to the state ----------------------------------------------------------------


def test_typing_updates_the_phone_and_the_counter(composer: Composer) -> None:
    """The editor's text reaches the phone preview and the counter of the current row."""
    composer.message_panel.editor.value = "Hi {{ first_name }}"
    markup = composer.preview_panel.phone.value
    assert texts(markup, ".ck-bubble") == ["Hi Olivia"]
    assert composer.preview_panel.counter.value == "GSM-7 · 1 segment · 9 characters"
    assert soup(composer.preview_panel.totals.value).get_text() == (
        "58 of 64 rows ready · 58 segments · about $2.49 (estimate) · 5 with problems · "
        "1 duplicate")


def test_chip_inserts_at_the_caret(composer: Composer) -> None:
    """Insert puts the column at the synced caret and moves the caret after it."""
    editor = composer.message_panel.editor
    editor.value = "Dear see you"
    editor.caret = 5
    composer.message_panel.insert("First Name")
    assert (editor.value, editor.caret) == ("Dear {{ first_name }} see you", 21)
    assert editor.chips[:2] == [("Patient ID", "{{ patient_id }}"),
                                ("First Name", "{{ first_name }}")]


def test_template_error_shows_beside_the_message(composer: Composer) -> None:
    """An unknown filter empties the phone and puts the error under the message."""
    composer.message_panel.editor.value = "{{ first_name | shout }}"
    assert texts(composer.message_panel.error.value, ".ck-error") == [
        'The message uses the filter "shout" (line 1, column 17), which does not exist. The '
        "filters are listed at https://jinja.palletsprojects.com/en/stable/templates/"
        '#list-of-builtin-filters, with campaignkit\'s "date".']
    assert texts(composer.preview_panel.phone.value, ".ck-bubble") == []
    assert composer.preview_panel.totals.value == ""
    assert composer.send_panel.dry_run_button.disabled is True


def test_live_is_disarmed_until_the_channel_is_set(composer: Composer) -> None:
    """Send live and the test send stay disabled until every provider field is set."""
    panel = composer.send_panel
    assert (panel.dry_run_button.disabled, panel.send_button.disabled,
            panel.test_button.disabled) == (True, True, True)
    composer.provider_panel.fields["sociocs.api_key"].value = API_KEY
    composer.provider_panel.fields["sociocs.channel_key"].value = CHANNEL_KEY
    assert (panel.dry_run_button.disabled, panel.send_button.disabled) == (False, False)
    assert soup(composer.provider_panel.info.value).get_text() == (
        "Ready: sociocs:twlo → api.sociocs.com")


def test_typed_secret_leaves_the_widget(ready: Composer) -> None:
    """A typed secret is taken out of the password field, which then says it is set."""
    box = ready.provider_panel.fields["sociocs.api_key"]
    assert (box.value, box.placeholder) == ("", "•••••••• set (type to replace)")


def test_field_error_is_under_its_field(composer: Composer) -> None:
    """Bird's workspace error shows under the workspace field, nowhere else."""
    provider = composer.provider_panel
    provider.provider.value = "bird"
    provider.fields["bird.workspace_id"].value = "nope"
    provider.fields["bird.channel_id"].value = "16e1df9e-c6ac-406b-b1ce-13f34d0dea08"
    provider.fields["bird.access_key"].value = "AK-CANARY-1234"
    shown = {k: texts(w.value, ".ck-error") for k, w in provider.field_errors.items()
             if texts(w.value, ".ck-error")}
    assert shown == {"bird.workspace_id": [
        "Bird workspace_id 'nope' is not a UUID: copy it from the channel's page in Bird"]}


def test_whatsapp_hides_the_sms_counter_and_shows_the_template(composer: Composer) -> None:
    """A WhatsApp provider shows the template controls and counts no segments."""
    assert composer.message_panel.use_template.layout.display == "none"
    composer.provider_panel.provider.value = "textus:whatsapp"
    assert composer.message_panel.use_template.layout.display is None
    assert composer.preview_panel.counter.value == "WhatsApp · 103 characters"


def test_whatsapp_template_variables_map_to_columns(tmp_path: Path) -> None:
    """A given WhatsApp channel's template variable mapped to First Name fills the request."""
    channel = Sociocs(API_KEY, "twlowa_16175559999", "twlowa")
    c = Composer(load_recipients(SHEET, default_region="US", countries=SAMPLE_COUNTRIES),
                 channel,
                 ledger=tmp_path / "ledger.db")
    c.message_panel.use_template.value = True
    c.message_panel.template_id.value = "HX" + "0" * 32
    c.message_panel.add_template_variable("1", "First Name")
    assert texts(c.preview_panel.phone.value, ".ck-wa-template li") == ["1 Olivia"]
    assert '"1": "Olivia"' in c.preview_panel.request.value.replace("&quot;", '"')
    assert repr(c) == "<Composer 64 rows, sociocs:twlowa, row 2>"


def test_custom_endpoint_error_is_beside_the_url(ready: Composer) -> None:
    """A custom plain-http address off this machine is refused beside the URL field."""
    provider = ready.provider_panel
    provider.endpoint.value = "custom"
    assert provider.url.layout.display is None
    provider.url.value = "http://api.example.com"
    assert texts(provider.endpoint_error.value, ".ck-error") == [
        "use https (plain http only for an address on this machine)"]
    assert ready.send_panel.send_button.disabled is True


def test_dry_run_shows_what_happened(ready: Composer) -> None:
    """A dry run fills the outcome, the bars and the results table; Save is enabled."""
    ready.send_panel.dry_run_button.click()
    happened = ready.happened_panel
    assert texts(happened.summary.value, ".ck-headline") == [
        "Dry run finished: 64 rows · 58 accepted by the sandbox · 5 skipped (problems) · "
        "1 duplicate"]
    assert len(soup(happened.results_table.value).select("tbody tr")) == 64
    assert (ready.send_panel.progress.value, ready.send_panel.progress.max) == (58, 58)
    assert ready.send_panel.progress_text.value == "dry-run: 58 of 58 rows · done"
    assert happened.save_button.disabled is False


def test_live_confirmation_then_cancel(ready: Composer) -> None:
    """Send live shows the confirmation sentence and the button naming the count; Cancel hides."""
    ready.send_panel.send_button.click()
    send = ready.send_panel
    assert send.confirm_box.layout.display is None
    assert texts(send.confirm_text.value, ".ck-confirm-sentence") == [
        "Send 58 messages (73 segments, about $3.10) to 58 recipients via api.sociocs.com; "
        "5 skipped (problems), 1 duplicate; finishes in about 1 s at 10000/s. Sent live, and "
        "recorded in "
        f"the ledger {ready.state.ledger_path()}."]
    assert send.confirm_button.description == "Yes, send 58 messages"
    send.cancel_button.click()
    assert send.confirm_box.layout.display == "none"


def test_no_widget_and_no_repr_shows_a_secret(ready: Composer) -> None:
    """After a dry run and a confirmation, the canary keys are in no widget state or repr."""
    ready.send_panel.dry_run_button.click()
    ready.send_panel.send_button.click()
    shown = [_every_widget_state(), repr(ready), json.dumps(ready._repr_mimebundle_(),
                                                            default=repr)]
    assert [s.count(API_KEY) + s.count(CHANNEL_KEY) for s in shown] == [0, 0, 0]


def test_loading_is_locked_while_a_send_runs(ready: Composer) -> None:
    """During a send the sheet controls and the send buttons are disabled and Stop is
    enabled; after it, back."""

    async def scenario() -> tuple[bool, bool, bool, bool, bool]:
        ready.send_panel.rate.value = 20.0
        ready.send_panel.dry_run_button.click()
        send = ready.send_panel
        during = (ready.recipients_panel.path.disabled, ready.recipients_panel.upload.disabled,
                  send.stop_button.disabled, send.dry_run_button.disabled,
                  send.send_button.disabled)
        ready.send_panel.stop_button.click()
        assert ready.task is not None
        await ready.task
        return during

    assert asyncio.run(scenario()) == (True, True, False, True, True)
    assert (ready.recipients_panel.path.disabled, ready.send_panel.stop_button.disabled) == (
        False, True)
    assert ready.results is not None
    assert ready.results["status"].value_counts().to_dict() == {
        "waiting": 58, "skipped": 5, "duplicate": 1}


def test_jump_to_a_dropped_row_keeps_the_current_row(composer: Composer) -> None:
    """Row 35 (empty, dropped) is refused with the reason beside the row field."""
    composer.preview_panel.row.value = 35
    assert texts(composer.preview_panel.error.value, ".ck-error") == [
        "row 35 is not in the audience (rows 2 to 66; empty and filtered-out rows are not)"]
    assert texts(composer.preview_panel.phone.value, ".ck-phone-to") == [
        "to +16175550101 · row 2 (1 of 64)"]


def test_audience_filter_builder(composer: Composer) -> None:
    """A filter row (column, operator, value) narrows the audience and says how many."""
    panel = composer.recipients_panel
    panel.add_condition.click()
    row = panel.conditions.children[0]
    row.children[0].value = "Clinic"
    row.children[2].value = "Riverside Clinic"
    assert panel.audience.value == "22 of 64 rows in the audience"


def test_the_app_wraps_to_one_column() -> None:
    """The layout is a grid of columns at least 440 px wide: one column at 800 px."""
    c = Composer()
    assert isinstance(c.app, W.GridBox)
    assert c.app.layout.grid_template_columns == (
        "repeat(auto-fit, minmax(min(100%, 440px), 1fr))")
    assert [p.box._dom_classes[-1] for p in (
        c.recipients_panel, c.provider_panel, c.message_panel, c.preview_panel,
        c.guardrails_panel, c.send_panel, c.happened_panel)] == [
        "ck-panel-recipients", "ck-panel-provider", "ck-panel-message", "ck-panel-preview",
        "ck-panel-guardrails", "ck-panel-send", "ck-panel-happened"]


def test_widgets_module_still_offers_the_chart() -> None:
    """campaignkit.widgets keeps status_chart for existing notebooks."""
    from campaignkit.widgets import status_chart

    results = pd.DataFrame({"status": ["dry-run"] * 3 + ["skipped"], "error": [None] * 4,
                            "key": list("abcd")})
    assert repr(status_chart(results)) == "<StatusChart 3 dry-run, 1 skipped>"


def test_repr_is_cheap_and_plain(tmp_path: Path) -> None:
    """The repr names rows, channel and row without rendering anything."""
    shown = repr(Composer(ledger=tmp_path / "ledger.db"))
    assert shown == "<Composer no recipients, no channel, row ->"


def test_sheet_choice_appears_for_a_workbook_with_several_sheets(tmp_path: Path) -> None:
    """A workbook of two sheets shows the Sheet choice; picking the second loads it."""
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "March"
    book.active.append(["Name", "Phone"])
    book.active.append(["Ada", "+16175550123"])
    april = book.create_sheet("April")
    april.append(["Name", "Phone"])
    april.append(["Bo", "+16175550124"])
    april.append(["Cy", "+16175550125"])
    book.save(tmp_path / "spring.xlsx")
    c = Composer(ledger=tmp_path / "ledger.db")
    panel = c.recipients_panel
    assert panel.sheet.layout.display == "none"
    panel.path.value = str(tmp_path / "spring.xlsx")
    assert (panel.sheet.layout.display, panel.sheet.options) == (None, ("March", "April"))
    panel.sheet.value = "April"
    assert panel.summary.value.startswith("2 rows · 2 valid")


def test_prices_and_guardrails_change_the_totals(composer: Composer) -> None:
    """The price table and an opt-out list change the totals line at once."""
    guard = composer.guardrails_panel
    guard.prices.value = "US 0.01\n* 0"
    guard.suppression.value = ({"name": "optouts.csv", "type": "text/csv", "size": 26,
                                "content": memoryview(b"phone\n(617) 555-0101\n"),
                                "last_modified": datetime(2026, 1, 1, tzinfo=UTC)},)
    assert guard.suppression_note.value == "opt-out list: 1 number (those rows are suppressed)"
    assert soup(composer.preview_panel.totals.value).get_text() == (
        "57 of 64 rows ready · 72 segments · about $0.31 (estimate) · 5 with problems · 1 "
        "duplicate · 1 suppressed")


def test_a_fully_sent_campaign_offers_no_send(ready: Composer) -> None:
    """Once every row went out live, Send live is disabled and the panel says why."""
    ready.provider_panel.endpoint.value = "sandbox"
    try:
        ready.send_panel.send_button.click()
        ready.send_panel.confirm_button.click()
        assert ready.send_panel.send_button.disabled is True
        assert texts(ready.send_panel.error.value, ".ck-note") == [
            "Campaign “recipients” was already sent: all 58 messages went out. Nothing is left "
            "to send."]
    finally:
        ready.state.close()
