"""preview shows each row's exact request, problems instead of requests, and never a secret."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pandas as pd
import pytest

from _support import NOON
from campaignkit import CampaignError, ColumnError, Media, Problem, Template
from campaignkit.channels import Bird, Channel, ContactSaving, LookupInconclusive, Sociocs, TextUs
from campaignkit.preview import Preview, preview_html
from campaignkit.preview import preview as _preview


def preview(rendered: pd.DataFrame, channel: Channel, **options: Any) -> pd.DataFrame:
    """`preview` at a fixed weekday noon (UTC), so each row's fate does not depend on the hour."""
    options.setdefault("now", NOON)
    return _preview(rendered, channel, **options)

WS = "a1405560-c8d3-4b1a-877d-3f449ad95352"
CH = "16e1df9e-c6ac-406b-b1ce-13f34d0dea08"
CANARY = "CANARY-1c0ffee-SECRET"
DUPLICATE = Problem(3, "phone", "the same number is on row 2", "duplicate")


def _rendered(rows: list[dict[str, Any]], start: int = 2) -> pd.DataFrame:
    """A rendered frame built by hand, in the shape render() returns."""
    index = pd.Index(range(start, start + len(rows)), name="row")
    base = {"to": "", "text": None, "media": (), "template": None, "problems": ()}
    filled = [{**base, **row} for row in rows]
    columns = {name: [row[name] for row in filled] for name in filled[0]}
    frame = pd.DataFrame(
        {name: pd.Series(values, index=index, dtype=object) for name, values in columns.items()},
        index=index,
    )
    return frame


def _two_rows() -> pd.DataFrame:
    return _rendered(
        [
            {"to": "+16175551212", "name": "Ada", "text": "Hi Ada"},
            {"to": "+16175551212", "name": "Bob", "text": "Hi Bob", "problems": (DUPLICATE,)},
        ]
    )


def test_preview_frame_shape() -> None:
    """The preview keeps the index and has exactly its seven object columns."""
    out = preview(_two_rows(), TextUs("acme", "tok", "sms"))
    assert out.index.equals(pd.Index([2, 3], name="row"))
    assert out.columns.tolist() == ["fate", "reason", "method", "url", "headers", "body",
                                    "problems"]
    assert out["fate"].tolist() == ["send", "skipped"]
    assert out.dtypes.astype(str).to_dict() == {
        "fate": "object",
        "reason": "object",
        "method": "object",
        "url": "object",
        "headers": "object",
        "body": "object",
        "problems": "object",
    }


def test_preview_row_with_request_and_row_with_problem() -> None:
    """A clean row shows its exact request, secrets redacted; a row with problems gets none."""
    out = preview(_two_rows(), Sociocs("key:secret", "twlo_1", "twlo"))
    assert out.loc[2].to_dict() == {
        "fate": "send",
        "reason": None,
        "method": "POST",
        "url": "https://api.sociocs.com/message",
        "headers": {
            "host": "api.sociocs.com",
            "apikey": "[redacted]",
            "content-type": "application/json",
            "accept": "application/json",
            "content-length": "91",
        },
        "body": {
            "provider": "twlo",
            "channel_key": "[redacted]",
            "to": "+16175551212",
            "name": "Ada",
            "text": "Hi Ada",
        },
        "problems": (),
    }
    assert out.loc[3].to_dict() == {
        "fate": "skipped",
        "reason": str(DUPLICATE),
        "method": None,
        "url": None,
        "headers": None,
        "body": None,
        "problems": (DUPLICATE,),
    }


def test_preview_adds_the_providers_problems_after_the_rows_own() -> None:
    """problems = the row's own problems, then the channel's, each naming the sheet row."""
    rendered = _rendered(
        [
            {"to": "+16175551212", "text": "x" * 1601, "problems": (DUPLICATE,)},
            {"to": "+16175551213"},
        ],
        start=10,
    )
    out = preview(rendered, Sociocs("k", "twlo_c", "twlo"))
    assert out["problems"].tolist() == [
        (
            DUPLICATE,
            Problem(
                10,
                "text",
                "text is 1,601 characters; Sociocs rejects text over "
                "1,600 characters: shorten it by 1",
                "content",
            ),
        ),
        (
            Problem(
                11,
                "text",
                "the message is empty: give it text, one media file (twlo) or a "
                "WhatsApp template (twlowa, gswa)",
                "content",
            ),
        ),
    ]
    assert out["method"].tolist() == [None, None]


def test_preview_never_mutates_its_input() -> None:
    """The caller's frame is unchanged after a preview."""
    rendered = _two_rows()
    before = rendered.copy(deep=True)
    preview(rendered, Bird(WS, CH, "key"))
    pd.testing.assert_frame_equal(rendered, before)


def _references(out: pd.DataFrame) -> list[str | None]:
    return [None if body is None else body["reference"] for body in out["body"]]


def test_bird_reference_defaults_to_the_number() -> None:
    """Without keys, Bird's reference is the row's number."""
    rendered = _rendered(
        [{"to": "+31612345678", "text": "Hi"}, {"to": "+31612345679", "text": "Hi"}]
    )
    assert _references(preview(rendered, Bird(WS, CH, "key"))) == ["+31612345678", "+31612345679"]


def test_bird_reference_is_the_campaign_and_the_key_column() -> None:
    """With a campaign and key=, Bird's reference is exactly what send will send."""
    rendered = _rendered(
        [{"to": "+31612345678", "text": "Hi"}, {"to": "+31612345679", "text": "Hi"}]
    )
    rendered["Patient ID"] = ["k-2", "k-3"]
    assert _references(preview(rendered, Bird(WS, CH, "key"), campaign="spring",
                               key="Patient ID")) == ["spring:k-2", "spring:k-3"]


def test_a_key_column_that_does_not_exist_is_named() -> None:
    """key= naming no column lists the columns found."""
    with pytest.raises(ColumnError) as raised:
        preview(_two_rows(), Bird(WS, CH, "key"), key="Patient ID")
    assert str(raised.value) == (
        'key="Patient ID": there is no such column; columns found: to, text, media, template, '
        "problems, name")


def test_preview_of_an_empty_frame() -> None:
    """An empty rendered frame previews as an empty frame with the same columns."""
    rendered = _two_rows().iloc[0:0]
    out = preview(rendered, TextUs("acme", "tok", "sms"))
    assert (len(out), out.columns.tolist()) == (
        0, ["fate", "reason", "method", "url", "headers", "body", "problems"])


def test_preview_html_is_escaped_and_summarised() -> None:
    """The notebook view is a summary and a table of the first rows, every value escaped."""
    rendered = _rendered(
        [
            {"to": "+13035551234", "text": "<b>Hi</b> & bye"},
            {
                "to": "+13035551235",
                "text": "Hi",
                "problems": (Problem(3, "name", "<empty>", "missing-value"),),
            },
            {"to": "+13035551236", "text": "third"},
        ]
    )
    out = preview(rendered, TextUs("acme", "tok", "sms"))
    html = preview_html(out, rows=2)
    assert html == (
        '<div class="campaignkit-preview"><p><strong>Preview</strong>: 3 rows, 2 ready to send, '
        "1 with problems</p><table><thead><tr><th>row</th><th>request</th><th>body</th>"
        "<th>problems</th></tr></thead><tbody>"
        '<tr><td>2</td><td style="text-align:left">POST https://next.textus.com/acme/messages'
        '<pre style="margin:0;text-align:left">{\n  &quot;host&quot;: &quot;next.textus.com&quot;,'
        "\n  &quot;authorization&quot;: &quot;[redacted]&quot;,\n  &quot;accept&quot;: "
        "&quot;application/vnd.textus+jsonld&quot;,\n  &quot;content-type&quot;: "
        "&quot;application/vnd.textus+jsonld&quot;,\n  &quot;content-length&quot;: "
        "&quot;46&quot;\n}</pre></td>"
        '<td><pre style="margin:0;text-align:left">{\n  &quot;to&quot;: &quot;+13035551234&quot;,'
        "\n  &quot;body&quot;: &quot;&lt;b&gt;Hi&lt;/b&gt; &amp; bye&quot;\n}</pre></td>"
        '<td style="text-align:left"></td></tr>'
        '<tr><td>3</td><td style="text-align:left"><em>not sent</em></td><td></td>'
        '<td style="text-align:left"><ul style="margin:0"><li>row 3, column &quot;name&quot;: '
        "&lt;empty&gt;</li></ul></td></tr>"
        "</tbody></table><p>… and 1 more rows</p></div>"
    )


def test_preview_wrapper_displays_itself() -> None:
    """Preview(frame) has a plain repr and the HTML of preview_html in a notebook."""
    out = preview(_two_rows(), TextUs("acme", "tok", "sms"))
    shown = Preview(out, rows=1)
    assert repr(shown) == "<Preview: 2 rows, 1 ready to send, 1 with problems>"
    assert shown._repr_html_() == preview_html(out, rows=1)
    assert shown.frame is out


# -- the canary: a secret never shows ------------------------------------------------------


def _canary_channels() -> list[Any]:
    return [
        pytest.param(
            Sociocs(CANARY, "twlo_" + CANARY, "twlo", contact_saving=ContactSaving()), id="sociocs"
        ),
        pytest.param(TextUs("acme", CANARY, "sms"), id="textus"),
        pytest.param(Bird(WS, CH, CANARY), id="bird"),
    ]


def _cells(frame: pd.DataFrame) -> str:
    return "\n".join(f"{value!s} {value!r}" for column in frame for value in frame[column])


@pytest.mark.parametrize("channel", _canary_channels())
def test_canary_never_shows(channel: Channel, caplog: pytest.LogCaptureFixture) -> None:
    """The secret appears 0 times in the preview, its HTML, reprs, describe, errors and logs."""
    rendered = _rendered(
        [
            {
                "to": "+16175551212",
                "text": f"Hi, your code is {CANARY}",
                "media": (Media(url=f"https://e.com/{CANARY}.png"),),
            },
            {"to": "+16175551213", "text": "Hi", "problems": (DUPLICATE,)},
            {"to": "+16175551214", "text": ""},
        ]
    )
    shown: list[str] = []
    with caplog.at_level(logging.DEBUG):
        out = preview(rendered, channel)
        shown += [
            _cells(out),
            preview_html(out),
            repr(Preview(out)),
            repr(channel),
            str(channel.fingerprint()),
            channel.label,
        ]
        request = channel.build_request(rendered.loc[2].to_dict(), key="k")
        shown.append(str(channel.describe(request)))
        # A provider echoing the secret in an error is redacted in the receipt.
        for status in (400, 401, 422, 500):
            echoed = httpx.Response(
                status,
                json={
                    "status": "error",
                    "errors": [{"msg": f"bad key {CANARY}"}],
                    "code": CANARY,
                    "message": f"bad key {CANARY}",
                    "error": f"bad {CANARY}",
                },
            )
            shown.append(repr(channel.parse_response(echoed)))
        errors: list[CampaignError] = []
        if isinstance(channel, Sociocs):
            with pytest.raises(ColumnError) as column_error:
                Sociocs(CANARY, "twlo_" + CANARY, "twlo", name_column="nope").problems(
                    rendered.loc[2].to_dict(), row_number=2
                )
            errors.append(column_error.value)
        if isinstance(channel, Bird):
            with pytest.raises(LookupInconclusive) as lookup_error:
                channel.parse_lookup(httpx.Response(503, json={"message": CANARY}), "k")
            errors.append(lookup_error.value)
        shown += [str(e) for e in errors]
    logged = [record.getMessage() for record in caplog.records]
    assert len(logged) >= 2  # the preview logs each request and a summary at DEBUG
    shown += logged
    assert CANARY in rendered.loc[2, "text"]  # the canary was there to leak
    assert [text for text in shown if CANARY in text] == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(
            lambda: Sociocs(CANARY, CANARY, "sms"),  # type: ignore[arg-type]
            "Sociocs provider 'sms' is not one of",
            id="sociocs provider",
        ),
        pytest.param(
            lambda: TextUs("acme", CANARY, "fax"),  # type: ignore[arg-type]
            "TextUs channel 'fax' is not",
            id="textus channel",
        ),
        pytest.param(
            lambda: Bird("ws", CH, CANARY),
            "Bird workspace_id 'ws' is not a UUID",
            id="bird workspace",
        ),
    ],
)
def test_canary_never_in_configuration_errors(make: Any, message: str) -> None:
    """A configuration error names the wrong option, never a secret."""
    with pytest.raises(CampaignError) as raised:
        make()
    assert str(raised.value).startswith(message)
    assert CANARY not in str(raised.value)


def test_describe_redacts_secrets_inside_the_body() -> None:
    """describe redacts a secret wherever it sits in the JSON body, keys and nested values too."""
    channel = Sociocs("key:x", "twlowa_SECRET", "twlowa")
    row = {
        "to": "+16175551212",
        "text": None,
        "media": (),
        "template": Template(id="HX" + "a" * 32, variables={"1": "twlowa_SECRET"}),
    }
    assert channel.describe(channel.build_request(row, key="k"))["body"] == {
        "provider": "twlowa",
        "channel_key": "[redacted]",
        "to": "+16175551212",
        "template": {"id": "HX" + "a" * 32, "variables": {"1": "[redacted]"}},
    }
