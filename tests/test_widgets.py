"""The Composer, headless: set values and click, then read what every widget shows."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import ipywidgets as W
import pandas as pd
import pytest
from ipywidgets.widgets.widget import _instances

from campaignkit import Message, Template
from campaignkit.channels import Sociocs
from campaignkit.recipients import load_recipients
from campaignkit.templating import render
from campaignkit.widgets import Composer, counter_text, placeholder, status_chart

ROOT = Path(__file__).resolve().parents[1]
SHEET = ROOT / "sample_data" / "recipients.csv"
MESSAGE = (ROOT / "sample_data" / "message.txt").read_text().strip()
API_KEY = "CANARY:5ec12e7-api"  # a Sociocs key is "<part1>:<part2>"
CHANNEL_KEY = "twlo_16175559999"
ROW_2 = (
    "Hi Olivia, this is Riverside Clinic reminding you of your appointment on 01 Dec. "
    "Reply STOP to opt out."
)
ROW_3 = (
    "Hi José, this is Riverside Clinic reminding you of your appointment on 01 Dec. "
    "Reply STOP to opt out."
)
ROW_4 = (
    'Hi Zo<mark class="ck-ucs2" title="forces UCS-2">ë</mark>, this is Northgate '
    "Health Centre reminding you of your appointment on 02 Dec. Reply STOP to opt out."
)
TEXT_DIV = (
    "<div class='ck-text' style='white-space:pre-wrap;border:1px solid #ccc;"
    "padding:6px;border-radius:6px'>{}</div>"
)


@pytest.fixture
def composer(tmp_path: Path) -> Composer:
    """A composer with the sample sheet loaded and the sample message typed, no channel yet."""
    c = Composer(default_region="US", journal_dir=tmp_path)
    c.path.value = str(SHEET)  # loads on Enter / leaving the field, as in the browser
    c.template.value = MESSAGE
    return c


@pytest.fixture
def ready(composer: Composer) -> Composer:
    """The composer with Sociocs twlo configured through its password fields."""
    composer.fields["sociocs.api_key"].value = API_KEY
    composer.fields["sociocs.channel_key"].value = CHANNEL_KEY
    composer.rate.value = 1000.0
    return composer


def _every_widget_state() -> str:
    """Every live widget's full state as one JSON text (what the browser and notebook see)."""
    states = [w.get_state() for w in list(_instances.values())]
    return json.dumps(states, default=repr, ensure_ascii=False)


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("First Name", "{{ first_name }}"),
        ("Appointment Date", "{{ appointment_date }}"),
        ("Patient ID", "{{ patient_id }}"),
        (" e-mail ", "{{ e_mail }}"),
        ("2nd line", "{{ _2nd_line }}"),
        ("In", "{{ in_ }}"),
        ("Straße", "{{ straße }}"),
        ("#", None),
    ],
)
def test_placeholder_names_a_column_like_render(column: str, expected: str | None) -> None:
    """A column's placeholder is its words joined by "_", lower case, a valid Jinja name."""
    assert placeholder(column) == expected


@pytest.mark.parametrize(
    "column", ["Patient ID", "First Name", "Last Name", "Phone", "Appointment Date", "Clinic"]
)
def test_placeholder_renders_its_own_column(column: str) -> None:
    """render() fills each inserted placeholder with that column's cell."""
    recipients = load_recipients(SHEET, default_region="US")
    placeholder_ = placeholder(column)
    assert placeholder_ is not None
    out = render(recipients, placeholder_)
    assert out.loc[2, "text"] == recipients.loc[2, column]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi Ann!", "GSM-7 · 1 segment · 7 characters"),
        ("x" * 161, "GSM-7 · 2 segments · 161 characters"),
        ("It’s on", "UCS-2 · 1 segment · 7 characters"),
        (None, "no text"),
    ],
)
def test_counter_text(text: str | None, expected: str) -> None:
    """The counter reads encoding · segments · characters."""
    assert counter_text(text) == expected


def test_load_shows_summary_repairs_and_fields(composer: Composer) -> None:
    """Loading the sample sheet shows its summary, phone repairs and one insert button a column."""
    assert composer.status.value == ""
    assert composer.campaign.value == "recipients"
    assert "<tr><th>valid</th><td>59</td></tr>" in composer.sheet_summary.value
    assert (
        "<tr><td>21</td><td>16175550166</td><td>+16175550166</td><td>added-plus</td></tr>"
        in composer.repairs.value
    )
    assert [(b.description, b.tooltip) for b in composer.insert_box.children] == [
        ("Patient ID", "{{ patient_id }}"),
        ("First Name", "{{ first_name }}"),
        ("Last Name", "{{ last_name }}"),
        ("Phone", "{{ phone }}"),
        ("Appointment Date", "{{ appointment_date }}"),
        ("Clinic", "{{ clinic }}"),
        ("Language", "{{ language }}"),
    ]
    assert composer.row.value == 2
    assert composer.row_info.value == "rows 2–66 (64 recipients)"


def test_load_error_is_shown_not_raised(tmp_path: Path) -> None:
    """A path that does not exist gives the DataError's message in the status line."""
    c = Composer(journal_dir=tmp_path)
    c.load_button.click()
    assert c.status.value == ("<span style='color:#c62828'>Type the path of a CSV or XLSX "
                              "sheet, or upload one.</span>")
    c.path.value = str(tmp_path / "missing.csv")
    assert c.recipients is None
    assert c.status.value.startswith("<span style='color:#c62828'>")
    assert "missing.csv" in c.status.value


def test_preview_counter_and_totals_for_the_first_row(composer: Composer) -> None:
    """The sample message previews row 2 with its counter and the campaign's totals."""
    assert composer.to.value == "to +16175550101"
    assert composer.preview.value == TEXT_DIV.format(ROW_2)
    assert composer.counter.value == "GSM-7 · 1 segment · 103 characters"
    assert composer.totals.value == "58 of 64 rows ready · 73 segments · 6 with problems"


def test_next_previous_and_jump(composer: Composer) -> None:
    """Next and Previous step through sheet rows; typing a row number jumps to it."""
    composer.prev_button.click()
    assert composer.row.value == 2
    composer.next_button.click()
    assert composer.row.value == 3
    assert composer.preview.value == TEXT_DIV.format(ROW_3)
    composer.row.value = 4
    assert composer.preview.value == TEXT_DIV.format(ROW_4)
    assert composer.counter.value == "UCS-2 · 2 segments · 107 characters"
    assert composer.ucs2.value == "Forces UCS-2: <mark>ë</mark>"
    assert composer.suggest.layout.display == "none"  # the ë comes from the sheet


def test_jump_to_a_dropped_row_keeps_the_current_row(composer: Composer) -> None:
    """Row 35 (empty, dropped) is refused with the reason; the preview stays on row 2."""
    composer.row.value = 35
    assert composer.row.value == 2
    assert composer.status.value == (
        "<span style='color:#c62828'>row 35 is not a recipient row (the first is 2, the last "
        "66; empty rows are dropped)</span>"
    )
    assert composer.preview.value == TEXT_DIV.format(ROW_2)


def test_row_problems_are_listed_in_the_preview(composer: Composer) -> None:
    """A row that cannot be sent shows its text and, under it, why it is not sent."""
    composer.row.value = 32
    assert composer.to.value == "no valid phone number"
    assert composer.preview.value == TEXT_DIV.format(
        "Hi Oscar, this is Harbour Family Practice reminding you of your appointment on "
        "16 Dec. Reply STOP to opt out."
    ) + (
        "<ul class='ck-row-problems'><li>row 32, column &quot;Phone&quot;: the phone number "
        "is empty</li></ul>"
    )


def test_row_without_text_says_so(composer: Composer) -> None:
    """Row 33 has no first name: no text, counter "no text", the problem listed."""
    composer.row.value = 33
    assert composer.preview.value == (
        "<div class='ck-text'><i>no text</i></div><ul class='ck-row-problems'><li>row 33, "
        "column &quot;First Name&quot;: is empty, and the message uses it as "
        "{{ first_name }}</li></ul>"
    )
    assert composer.counter.value == "no text"


def test_insert_button_appends_the_placeholder(composer: Composer) -> None:
    """Clicking a column's button appends its placeholder after a space."""
    composer.template.value = "Dear"
    composer.insert_box.children[1].click()
    assert composer.template.value == "Dear {{ first_name }}"
    assert composer.preview.value == TEXT_DIV.format("Dear Olivia")


def test_curly_quote_switches_to_ucs2_and_the_suggestion_fixes_it(composer: Composer) -> None:
    """A curly apostrophe makes UCS-2; the one-click suggestion restores GSM-7."""
    composer.template.value = "It’s {{ first_name }}’s day"
    assert composer.counter.value == "UCS-2 · 1 segment · 17 characters"
    assert composer.preview.value == TEXT_DIV.format(
        'It<mark class="ck-ucs2" title="forces UCS-2">’</mark>s Olivia'
        '<mark class="ck-ucs2" title="forces UCS-2">’</mark>s day'
    )
    assert composer.suggest.layout.display is None
    assert composer.suggest.description == "Use GSM-7 look-alikes: ’ → '"
    composer.suggest.click()
    assert composer.template.value == "It's {{ first_name }}'s day"
    assert composer.counter.value == "GSM-7 · 1 segment · 17 characters"
    assert composer.suggest.layout.display == "none"


def test_template_syntax_error_is_shown(composer: Composer) -> None:
    """A half-typed tag shows the TemplateError and clears the preview."""
    composer.template.value = "Hi {{ first"
    assert composer.rendered is None
    assert composer.preview.value == ""
    assert "the message" in composer.status.value.lower()


def test_problems_table_lists_every_row_and_column(composer: Composer) -> None:
    """The problems table has the sheet's bad rows and the empty first name of row 33."""
    table = composer.problem_table
    assert table[["row", "column", "kind"]].to_dict("list") == {
        "row": [25, 29, 30, 31, 32, 33],
        "column": ["Phone", "Phone", "Phone", "Phone", "Phone", "First Name"],
        "kind": [
            "invalid-phone",
            "duplicate",
            "invalid-phone",
            "invalid-phone",
            "missing-phone",
            "missing-value",
        ],
    }
    assert (
        "<tr><td>33</td><td>First Name</td><td>row 33, column &quot;First Name&quot;: is "
        "empty, and the message uses it as {{ first_name }}</td></tr>" in composer.problems.value
    )


def test_missing_secret_says_where_to_put_it(composer: Composer) -> None:
    """Without a key the channel is not built and the field's variable is named."""
    assert composer.channel is None
    assert composer.channel_info.value == (
        "<span style='color:#c62828'>API key: type it or set $SOCIOCS_API_KEY.</span>"
    )
    assert composer.request.value == "<i>configure the provider to see the request</i>"


def test_request_for_the_current_row_is_redacted(ready: Composer) -> None:
    """The request shown is preview()'s for the row, both Sociocs secrets redacted."""
    assert ready.channel_info.value == "Channel: <code>sociocs:twlo</code>"
    assert ready.request.value == (
        "<pre class='ck-request-text' style='line-height:1.35;margin:0'>POST https://api.sociocs.com/message\n"
        "host: api.sociocs.com\napikey: [redacted]\ncontent-type: application/json\n"
        "accept: application/json\ncontent-length: 209\n\n{\n"
        "  &quot;provider&quot;: &quot;twlo&quot;,\n"
        "  &quot;channel_key&quot;: &quot;[redacted]&quot;,\n"
        "  &quot;to&quot;: &quot;+16175550101&quot;,\n"
        "  &quot;name&quot;: &quot;Olivia Johnson&quot;,\n"
        f"  &quot;text&quot;: &quot;{ROW_2}&quot;\n}}</pre>"
    )


def test_typed_secret_leaves_the_widget(ready: Composer) -> None:
    """A typed secret is taken out of the password field, which then says it is set."""
    box = ready.fields["sociocs.api_key"]
    assert box.value == ""
    assert box.placeholder == "•••••••• set (type to replace)"


def test_secret_from_environment(composer: Composer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A secret can come from the environment variable named beside its field."""
    monkeypatch.setenv("CK_TEST_CHANNEL_KEY", CHANNEL_KEY)
    composer.fields["sociocs.api_key"].value = API_KEY
    composer.env_fields["sociocs.channel_key"].value = "CK_TEST_CHANNEL_KEY"
    assert composer.channel is not None
    assert composer.channel.secrets() == (API_KEY, CHANNEL_KEY)


def test_no_widget_and_no_repr_shows_a_secret(ready: Composer, tmp_path: Path) -> None:
    """After a full dry run, the canary key is in no widget state, repr or summary."""
    ready.dry_run_button.click()
    ready.price.value = "0.01"
    ready.send_button.click()
    shown = [
        _every_widget_state(),
        repr(ready),
        ready.app.__repr__(),
        json.dumps(ready._repr_mimebundle_(), default=repr),
    ]
    assert [s.count(API_KEY) + s.count(CHANNEL_KEY) for s in shown] == [0, 0, 0, 0]


def test_dry_run_shows_results_and_saves_them(ready: Composer, tmp_path: Path) -> None:
    """A dry run fills the results: 58 through the sandbox, 6 skipped; Save writes the sheet."""
    ready.dry_run_button.click()
    results = ready.results
    assert results is not None
    assert results.index.tolist() == ready.recipients.index.tolist()  # type: ignore[union-attr]
    assert results["status"].value_counts().to_dict() == {"dry-run": 58, "skipped": 6}
    assert re.fullmatch(r"MM[0-9a-f]{32}", results.loc[2, "message_id"])
    assert (
        ready.progress_text.value == "<ResultsSummary recipients (dry-run): 58 dry-run, 6 skipped>"
    )
    assert (ready.progress.value, ready.progress.max) == (58, 58)
    assert (
        "<tr><td>32</td><td></td><td>skipped</td><td></td><td>row 32, column &quot;Phone"
        "&quot;: the phone number is empty</td></tr>" in ready.results_table.value
    )
    assert ready.stop_button.disabled is True
    assert ready.save_button.disabled is False
    target = tmp_path / "results.csv"
    ready.save_path.value = str(target)
    ready.save_button.click()
    assert ready.saved.value == f"saved 64 rows to {target}"
    saved = pd.read_csv(target, dtype=str, encoding="utf-8-sig")
    assert saved["status"].value_counts().to_dict() == {"dry-run": 58, "skipped": 6}


def test_status_chart() -> None:
    """The chart has one bar per status present, the longest 240 px."""
    results = pd.DataFrame(
        {"status": ["dry-run"] * 3 + ["skipped"], "error": [None] * 4, "key": ["a", "b", "c", "d"]}
    )
    chart = status_chart(results)
    assert repr(chart) == "<StatusChart 3 dry-run, 1 skipped>"
    assert re.findall(
        r"width:(\d+)px;background:(#\w+)'></span><span>(\d+)<", chart._repr_html_()
    ) == [("240", "#1565c0", "3"), ("80", "#9e9e9e", "1")]


def test_live_send_asks_for_confirmation_with_the_cost(ready: Composer) -> None:
    """Send live shows the send plan's sentence (messages, segments, cost, time); nothing is
    sent before Yes; Cancel hides."""
    ready.price.value = "0.0079"
    ready.send_button.click()
    assert ready.confirm_box.layout.display is None
    assert ready.confirm_text.value == (
        "<b>Send 58 messages (73 segments, about $0.58) to 58 recipients; 6 skipped "
        "(problems); finishes in about 1 s at 1000/s</b> through sociocs:twlo, live. Rows "
        "already sent in campaign “recipients” are not sent again."
    )
    assert ready.confirm_button.description == "Yes, send 58 messages"
    assert ready.results is None
    ready.cancel_button.click()
    assert ready.confirm_box.layout.display == "none"


def test_stop_on_the_running_loop_leaves_rows_waiting(ready: Composer) -> None:
    """With a running loop the send is a task; Stop before it starts leaves every row waiting."""

    async def scenario() -> None:
        ready.dry_run_button.click()
        assert ready.task is not None
        assert ready.stop_button.disabled is False
        ready.stop_button.click()
        await ready.task

    asyncio.run(scenario())
    assert ready.results is not None
    assert ready.results["status"].value_counts().to_dict() == {"waiting": 58, "skipped": 6}
    assert ready.results.attrs["stopped"] == (
        "stopped by the caller: the remaining rows are waiting"
    )
    assert ready.stop_button.disabled is True


def test_whatsapp_template_variables_map_to_columns(tmp_path: Path) -> None:
    """A WhatsApp template's variable mapped to First Name renders into the request body."""
    channel = Sociocs(API_KEY, "twlowa_16175559999", "twlowa")
    recipients = load_recipients(SHEET, default_region="US")
    c = Composer(recipients, channel, journal_dir=tmp_path)
    assert (c.provider.value, c.use_template.layout.display) == ("given", None)
    c.use_template.value = True
    c.template_id.value = "HX" + "0" * 32
    c.add_template_variable("1", "First Name")
    assert c.message == Message(
        template=Template(id="HX" + "0" * 32, variables={"1": "{{ first_name }}"})
    )
    assert (
        "&quot;template&quot;: {\n    &quot;id&quot;: &quot;HX00000000000000000000000000000000"
        "&quot;,\n    &quot;variables&quot;: {\n      &quot;1&quot;: &quot;Olivia&quot;\n"
        in c.request.value
    )
    assert repr(c) == "<Composer 64 rows, sociocs:twlowa, row 2>"


def test_sms_provider_hides_the_whatsapp_template(composer: Composer) -> None:
    """The template section appears for WhatsApp providers only."""
    assert composer.use_template.layout.display == "none"
    composer.provider.value = "textus:whatsapp"
    assert composer.use_template.layout.display is None
    assert [type(w).__name__ for w in composer.provider_options.children[0].children] == [
        "Text",
        "HBox",
    ]


def test_channel_error_is_shown(composer: Composer) -> None:
    """A Bird workspace that is not a UUID shows Bird's ChannelError message."""
    composer.provider.value = "bird"
    composer.fields["bird.workspace_id"].value = "nope"
    composer.fields["bird.channel_id"].value = "16e1df9e-c6ac-406b-b1ce-13f34d0dea08"
    composer.fields["bird.access_key"].value = "AK-CANARY-1234"
    assert composer.channel is None
    assert composer.channel_info.value == (
        "<span style='color:#c62828'>Bird workspace_id &#x27;nope&#x27; is not a UUID: copy it "
        "from the channel&#x27;s page in Bird</span>"
    )


def test_upload_loads_the_file(tmp_path: Path) -> None:
    """A file uploaded through FileUpload is loaded like a path; its name names the campaign."""
    c = Composer(default_region="US", journal_dir=tmp_path)
    c.upload.value = (
        {
            "name": "spring.csv",
            "type": "text/csv",
            "size": 40,
            "content": memoryview(b"Name,Phone\nAda,(617) 555-0123\n"),
            "last_modified": datetime(2026, 1, 1, tzinfo=UTC),
        },
    )
    assert c.recipients is not None
    assert c.recipients[["Name", "to"]].to_dict("index") == {
        2: {"Name": "Ada", "to": "+16175550123"}
    }
    assert c.campaign.value == "spring"


def test_repr_is_cheap_and_plain(tmp_path: Path) -> None:
    """The repr names rows, channel and row without rendering anything."""
    assert repr(Composer(journal_dir=tmp_path)) == "<Composer no recipients, no channel, row 0>"
    assert isinstance(Composer(journal_dir=tmp_path).app, W.VBox)
