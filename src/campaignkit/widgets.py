"""The Composer: a campaign in one ipywidgets app, a thin skin over the public functions.

Every control is wired with ``observe`` / ``on_click`` to the functions a script would
call (STYLE.md habit 13): `load_recipients` and `load_summary` to load, `render` and
`campaignkit.sms.analyse` for the preview and its counter, `preview` for the exact request,
`problems_table`, `send_async` (on the kernel's running loop, so Stop is seen, jupyter.md §5
and ipywidgets#3468) and `save_results`. Nothing here decides what a provider accepts.

Secrets typed into a password field are taken out of the widget at once (kept as a
`pydantic.SecretStr`, the field emptied): a widget's value is synced to the browser and
saved with the notebook's widget state, so a key left in it would leak. A secret may also
come from an environment variable named next to its field. Everything shown is scrubbed
of every secret value.

>>> composer = Composer(journal_dir=tmp_path)  # doctest: +SKIP
>>> composer.load("sample_data/recipients.csv")  # doctest: +SKIP
>>> composer.template.value = "Hi {{ first_name }}!"  # doctest: +SKIP
>>> composer.counter.value  # doctest: +SKIP
'GSM-7 · 1 segment · 10 characters'
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import ipywidgets as W
import pandas as pd
from pydantic import SecretStr

from ._errors import CampaignError
from .channels import Bird, Channel, Sociocs, TextUs
from .channels._base import REDACTED
from .guardrails import Budget, Guardrails
from .ledger import Ledger, Mode
from .message import Message, Template
from .plan import plan
from .preview import preview
from .problems import Problem, problems_table
from .recipients import RESERVED_COLUMNS, load_recipients, load_summary
from .results import results_summary, save_results
from .sending import Pacing, send, send_async
from .sms import analyse, suggest_gsm
from .templating import render

__all__ = ["PROVIDERS", "Composer", "StatusChart", "counter_text", "placeholder", "status_chart"]

logger = logging.getLogger(__name__)

#: Rows shown in the problems and results tables (the saved sheet has them all).
TABLE_ROWS = 200
# Jinja2 words that cannot be a variable name: such a column gets a trailing "_", which
# render's loose matching (case, spaces and punctuation ignored) still maps to the column.
_JINJA_WORDS = frozenset({"and", "or", "not", "in", "is", "if", "else", "true", "false", "none"})
_STATUS_COLOURS = {
    "sent": "#2e7d32", "dry-run": "#1565c0", "failed": "#c62828", "skipped": "#9e9e9e",
    "unknown": "#ef6c00", "waiting": "#6d4c41",
}  # fmt: skip


# -- small pure helpers (public: the notebooks and the tests use them) ---------------------


def placeholder(column: str) -> str | None:
    """The ``{{ name }}`` a template uses for ``column``, or None when no name can reach it.

    `render` finds a column ignoring case, spaces and punctuation, so the name is the
    column's letters and digits joined by ``_``.

    >>> placeholder("First Name"), placeholder("Appointment Date"), placeholder("#")
    ('{{ first_name }}', '{{ appointment_date }}', None)
    """
    name = re.sub(r"[\W_]+", "_", str(column)).strip("_").lower()
    if not name:
        return None
    if name[0].isdigit():
        name = "_" + name
    if name in _JINJA_WORDS:
        name += "_"
    return f"{{{{ {name} }}}}" if name.isidentifier() else None


def counter_text(text: str | None) -> str:
    """The encoding and segment counter of one rendered text.

    >>> counter_text("Hi Ann!"), counter_text("It’s on"), counter_text(None)
    ('GSM-7 · 1 segment · 7 characters', 'UCS-2 · 1 segment · 7 characters', 'no text')
    """
    if text is None:
        return "no text"
    info = analyse(text)
    plural = "" if info.segments == 1 else "s"
    return f"{info.encoding} · {info.segments} segment{plural} · {info.characters} characters"


def _highlight(text: str, culprits: Sequence[str]) -> str:
    """``text`` as escaped HTML with each character that forces UCS-2 in a ``<mark>``."""
    if not culprits:
        return html.escape(text)
    pattern = "|".join(re.escape(c) for c in sorted(culprits, key=len, reverse=True))
    parts = re.split(f"({pattern})", text)
    return "".join(
        f'<mark class="ck-ucs2" title="forces UCS-2">{html.escape(p)}</mark>'
        if i % 2 else html.escape(p)
        for i, p in enumerate(parts)
    )


@dataclass(frozen=True)
class StatusChart:
    """Rows per status of a results frame as a horizontal bar chart (HTML, no matplotlib)."""

    counts: Mapping[str, int]

    def __repr__(self) -> str:
        shown = ", ".join(f"{n} {status}" for status, n in self.counts.items())
        return f"<StatusChart {shown or 'no rows'}>"

    def _repr_html_(self) -> str:
        top = max(self.counts.values(), default=0) or 1
        bars = "".join(
            "<div style='display:flex;align-items:center;gap:6px;margin:2px 0'>"
            f"<span style='width:5em;text-align:right'>{html.escape(status)}</span>"
            f"<span class='ck-bar' style='display:inline-block;height:1em;"
            f"width:{round(240 * n / top)}px;background:{_STATUS_COLOURS.get(status, '#555')}'>"
            f"</span><span>{n}</span></div>"
            for status, n in self.counts.items()
        )
        return f"<div class='ck-chart'>{bars}</div>"


def status_chart(results: pd.DataFrame) -> StatusChart:
    """The statuses of a results frame (`send`) with at least one row, as a `StatusChart`.

    >>> status_chart(results)  # doctest: +SKIP
    <StatusChart 58 dry-run, 6 skipped>
    """
    counts = {s: n for s, n in results_summary(results).counts.items() if n}
    return StatusChart(counts)


# -- providers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    name: str  # the channel class's keyword
    label: str
    secret: bool = False
    env: str = ""  # default environment variable of a secret


@dataclass(frozen=True)
class _Provider:
    label: str
    family: str
    make: Callable[..., Channel]
    fixed: Mapping[str, str]  # keywords the choice itself sets (provider=, channel=)


_FIELDS: dict[str, tuple[_Field, ...]] = {
    "sociocs": (
        _Field("api_key", "API key", secret=True, env="SOCIOCS_API_KEY"),
        _Field("channel_key", "Channel key", secret=True, env="SOCIOCS_CHANNEL_KEY"),
    ),
    "textus": (
        _Field("account", "Account"),
        _Field("token", "Token", secret=True, env="TEXTUS_TOKEN"),
    ),
    "bird": (
        _Field("workspace_id", "Workspace ID"),
        _Field("channel_id", "Channel ID"),
        _Field("access_key", "Access key", secret=True, env="BIRD_ACCESS_KEY"),
    ),
}

#: The provider choices: value -> (label, family, channel class, fixed keywords).
PROVIDERS: dict[str, _Provider] = {
    "sociocs:twlo": _Provider("Sociocs · Twilio SMS (twlo)", "sociocs", Sociocs,
                              {"provider": "twlo"}),
    "sociocs:twlowa": _Provider("Sociocs · Twilio WhatsApp (twlowa)", "sociocs", Sociocs,
                                {"provider": "twlowa"}),
    "sociocs:gswa": _Provider("Sociocs · Gupshup WhatsApp (gswa)", "sociocs", Sociocs,
                              {"provider": "gswa"}),
    "textus:sms": _Provider("TextUs · SMS", "textus", TextUs, {"channel": "sms"}),
    "textus:whatsapp": _Provider("TextUs · WhatsApp", "textus", TextUs, {"channel": "whatsapp"}),
    "bird": _Provider("Bird · Channels API", "bird", Bird, {}),
}
_GIVEN = "given"
# Channel labels (after the colon) that can carry a WhatsApp template.
_WHATSAPP = frozenset({"twlowa", "gswa", "whatsapp", "bird"})


def _cls(widget: W.DOMWidget, *names: str) -> Any:
    for name in names:
        widget.add_class(name)
    return widget


def _table(frame: pd.DataFrame, css: str, limit: int = TABLE_ROWS) -> str:
    """A small escaped HTML table of ``frame`` (index first) with a "more rows" note."""
    shown = frame.head(limit)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [frame.index.name or "", *frame])
    body = "".join(
        f"<tr><td>{html.escape(str(label))}</td>"
        + "".join(f"<td>{html.escape('' if _missing(v) else str(v))}</td>" for v in values)
        + "</tr>"
        for label, values in zip(shown.index, shown.itertuples(index=False), strict=True)
    )
    more = len(frame) - len(shown)
    tail = f"<p>… and {more} more rows</p>" if more > 0 else ""
    return (f"<div style='max-height:24em;overflow:auto'><table class='{css}'><thead><tr>"
            f"{head}</tr></thead><tbody>{body}</tbody></table></div>{tail}")


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


# -- the app --------------------------------------------------------------------------------


class Composer:
    """Compose, check and send a campaign in Jupyter: load, write, preview, dry run, send.

    Parameters
    ----------
    recipients
        A DataFrame to start with: a recipients frame (`load_recipients`) is used as it is,
        any other frame is loaded with `load_recipients`. Or load a sheet in the app.
    channel
        A configured channel (`Sociocs`, `TextUs`, `Bird`); otherwise choose the provider
        and type its options (and secrets, or the names of environment variables) in the app.
    message
        The message text to start with (a Jinja2 template).
    default_region
        The region for numbers without a country code (``"US"``, ``"GB"``).
    journal_dir
        Where the send journals go (default: the current directory, as `send`).

    Notes
    -----
    The app is ``composer.app`` (shown when the Composer is the last value of a cell).
    Sending runs as a task on the kernel's event loop, so the Stop button is heard;
    without a running loop (a script, a test) the send blocks instead. The task is
    ``composer.task``: ``await composer.task`` in a later cell waits for the results.
    """

    def __init__(
        self,
        recipients: pd.DataFrame | None = None,
        channel: Channel | None = None,
        *,
        message: str = "",
        default_region: str | None = None,
        journal_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.recipients: pd.DataFrame | None = None
        self.rendered: pd.DataFrame | None = None
        self.results: pd.DataFrame | None = None
        self.channel: Channel | None = None
        self.task: asyncio.Task[None] | None = None
        self._given = channel
        self._journal_dir = Path(journal_dir) if journal_dir is not None else None
        self._secrets: dict[str, SecretStr] = {}
        self._stop = threading.Event()
        self._ready = pd.Series(dtype=bool)
        self._busy = False
        self._mode: Mode = "dry-run"
        #: the problems table shown (row, column, kind, problem), channel rules included
        self.problem_table = problems_table(pd.DataFrame({"problems": []}))

        self.status = _cls(W.HTML(), "ck-status")
        self._build_load(default_region)
        self._build_provider()
        self._build_message(message)
        self._build_preview()
        self._build_send()
        self.app = _cls(W.VBox([
            W.HTML("<h3>1 · Recipients</h3>"), self.load_box,
            W.HTML("<h3>2 · Provider</h3>"), self.provider_box,
            W.HTML("<h3>3 · Message</h3>"), self.message_box,
            W.HTML("<h3>4 · Preview</h3>"), self.preview_box,
            W.HTML("<h3>5 · Send</h3>"), self.send_box,
            self.status,
        ]), "ck-composer")

        self._on_provider()
        if recipients is not None:
            self.load(recipients)
        else:
            self._refresh()

    # -- building ----------------------------------------------------------------------

    def _build_load(self, default_region: str | None) -> None:
        # Loads on Enter or leaving the field: a Load click right after typing could reach
        # the kernel before the typed value (jupyter.md §4, pitfall 1). The button reloads.
        self.path = _cls(W.Text(placeholder="recipients.xlsx or .csv", description="Sheet",
                                continuous_update=False), "ck-path")
        self.load_button = _cls(W.Button(description="Load", icon="upload"), "ck-load")
        self.upload = _cls(W.FileUpload(accept=".csv,.tsv,.txt,.xlsx,.xlsm,.xls,.ods",
                                        multiple=False, description="Upload"), "ck-upload")
        self.region = _cls(W.Text(value=default_region or "", description="Region",
                                  placeholder="e.g. US, GB"), "ck-region")
        self.phone_column = _cls(W.Text(description="Phone col.", placeholder="auto"),
                                 "ck-phone-column")
        self.sheet_summary = _cls(W.HTML(), "ck-load-summary")
        self.repairs = _cls(W.HTML(), "ck-repairs")
        self.load_button.on_click(lambda _: self.load(self.path.value.strip()))
        self.path.observe(lambda change: self.load(change["new"].strip()), names="value")
        self.upload.observe(self._on_upload, names="value")
        self.load_box = W.VBox([
            W.HBox([self.path, self.load_button, self.upload]),
            W.HBox([self.region, self.phone_column]),
            W.HBox([self.sheet_summary, self.repairs]),
        ])

    def _build_provider(self) -> None:
        options = [(p.label, value) for value, p in PROVIDERS.items()]
        if self._given is not None:
            options.insert(0, (f"Given: {self._given.label}", _GIVEN))
        self.provider = _cls(W.Dropdown(options=options, description="Provider"),
                             "ck-provider")
        self.fields: dict[str, W.Text] = {}
        self.env_fields: dict[str, W.Text] = {}
        self._family_boxes: dict[str, W.VBox] = {}
        for family, fields in _FIELDS.items():
            rows = []
            for field in fields:
                key = f"{family}.{field.name}"
                if field.secret:
                    # Sent on Enter or leaving the field, then taken out of the widget.
                    box = W.Password(description=field.label, continuous_update=False,
                                     placeholder="type it, or set the variable →")
                    env = _cls(W.Text(value=field.env, description="or from $",
                                      continuous_update=False), "ck-env", f"ck-env-{field.name}")
                    self.env_fields[key] = env
                    env.observe(self._on_channel_option, names="value")
                    box.observe(self._on_secret, names="value")
                    rows.append(W.HBox([_cls(box, "ck-secret", f"ck-{field.name}"), env]))
                else:
                    box = _cls(W.Text(description=field.label, continuous_update=False),
                               f"ck-{field.name}")
                    box.observe(self._on_channel_option, names="value")
                    rows.append(box)
                self.fields[key] = box
            self._family_boxes[family] = W.VBox(rows)
        self.channel_info = _cls(W.HTML(), "ck-channel")
        self.provider_options = W.VBox([])
        self.provider.observe(self._on_provider, names="value")
        self.provider_box = W.VBox([self.provider, self.provider_options, self.channel_info])

    def _build_message(self, message: str) -> None:
        self.template = _cls(W.Textarea(value=message, placeholder="Hi {{ first_name }}, …",
                                        layout=W.Layout(width="100%", height="6em")),
                             "ck-template")
        self.insert_box = _cls(W.HBox(layout=W.Layout(flex_flow="row wrap")), "ck-fields")
        self.use_template = _cls(W.Checkbox(description="WhatsApp template", indent=False),
                                 "ck-use-template")
        self.template_id = _cls(W.Text(description="Template ID"), "ck-template-id")
        self.template_version = _cls(W.Text(description="Version", placeholder="Bird only"),
                                     "ck-template-version")
        self.template_locale = _cls(W.Text(description="Locale", placeholder="Bird only"),
                                    "ck-template-locale")
        self.variables_box = _cls(W.VBox([]), "ck-variables")
        self.add_variable = _cls(W.Button(description="Add variable", icon="plus"),
                                 "ck-add-variable")
        self.whatsapp_box = W.VBox([
            W.HBox([self.template_id, self.template_version, self.template_locale]),
            self.variables_box, self.add_variable,
        ], layout=W.Layout(display="none"))
        self.template.observe(lambda _: self._refresh(), names="value")
        self.use_template.observe(self._on_use_template, names="value")
        for box in (self.template_id, self.template_version, self.template_locale):
            box.observe(lambda _: self._refresh(), names="value")
        self.add_variable.on_click(lambda _: self.add_template_variable())
        self.message_box = W.VBox([
            self.template, W.HTML("Insert a column:"), self.insert_box,
            self.use_template, self.whatsapp_box,
        ])

    def _build_preview(self) -> None:
        self.prev_button = _cls(W.Button(description="Previous", icon="arrow-left"), "ck-prev")
        self.next_button = _cls(W.Button(description="Next", icon="arrow-right"), "ck-next")
        self.row = _cls(W.IntText(description="Row", continuous_update=False), "ck-row")
        self.row_info = _cls(W.Label(), "ck-row-info")
        self.to = _cls(W.Label(), "ck-to")
        self.preview = _cls(W.HTML(layout=W.Layout(width="100%")), "ck-preview")
        self.counter = _cls(W.Label(), "ck-segments")
        self.ucs2 = _cls(W.HTML(), "ck-ucs2-note")
        self.suggest = _cls(W.Button(description="Use GSM-7 look-alikes",
                                     layout=W.Layout(width="auto", display="none")), "ck-suggest")
        self.totals = _cls(W.Label(), "ck-totals")
        self.problems = _cls(W.HTML(), "ck-problems")
        self.request = _cls(W.HTML(), "ck-request")
        self.prev_button.on_click(lambda _: self.step(-1))
        self.next_button.on_click(lambda _: self.step(+1))
        self.row.observe(self._on_row, names="value")
        self.suggest.on_click(lambda _: self.apply_suggestion())
        self.preview_box = W.VBox([
            W.HBox([self.prev_button, self.row, self.next_button, self.row_info]),
            self.to, self.preview, W.HBox([self.counter, self.suggest]), self.ucs2,
            self.totals,
            W.HTML("<b>Problems</b>"), self.problems,
            W.HTML("<b>Request for this row</b> (secrets redacted)"), self.request,
        ])

    def _build_send(self) -> None:
        self.campaign = _cls(W.Text(value="campaign", description="Campaign"), "ck-campaign")
        self.rate = _cls(W.BoundedFloatText(value=10.0, min=0.1, max=10_000.0,
                                            description="Msgs/s"), "ck-rate")
        self.price = _cls(W.Text(description="Price/seg.", placeholder="e.g. 0.0079"),
                          "ck-price")
        self.dry_run_button = _cls(W.Button(description="Dry run", button_style="primary",
                                            icon="flask"), "ck-dry-run")
        self.send_button = _cls(W.Button(description="Send live…", button_style="danger",
                                         icon="paper-plane"), "ck-send")
        self.stop_button = _cls(W.Button(description="Stop", icon="stop", disabled=True),
                                "ck-stop")
        self.confirm_text = _cls(W.HTML(), "ck-confirm-text")
        self.confirm_button = _cls(W.Button(description="Yes, send", button_style="danger",
                                            layout=W.Layout(width="auto")), "ck-confirm-send")
        self.cancel_button = _cls(W.Button(description="Cancel"), "ck-cancel")
        self.confirm_box = _cls(W.VBox([self.confirm_text,
                                        W.HBox([self.confirm_button, self.cancel_button])],
                                       layout=W.Layout(display="none")), "ck-confirm")
        self.progress = _cls(W.IntProgress(value=0, min=0, max=1), "ck-progress")
        self.progress_text = _cls(W.Label(), "ck-progress-text")
        self.summary = _cls(W.HTML(), "ck-summary")
        self.chart = _cls(W.HTML(), "ck-chart-box")
        self.results_table = _cls(W.HTML(), "ck-results")
        self.save_path = _cls(W.Text(value="results.xlsx", description="Save as"),
                              "ck-save-path")
        self.save_button = _cls(W.Button(description="Save results", icon="save",
                                         disabled=True), "ck-save")
        self.saved = _cls(W.Label(), "ck-saved")
        self.dry_run_button.on_click(lambda _: self.start(live=False))
        self.send_button.on_click(lambda _: self.ask_live())
        self.confirm_button.on_click(lambda _: self.start(live=True))
        self.cancel_button.on_click(lambda _: self._show_confirm(False))
        self.stop_button.on_click(lambda _: self.stop())
        self.save_button.on_click(lambda _: self.save(self.save_path.value.strip()))
        self.send_box = W.VBox([
            W.HBox([self.campaign, self.rate, self.price]),
            W.HBox([self.dry_run_button, self.send_button, self.stop_button]),
            self.confirm_box,
            W.HBox([self.progress, self.progress_text]),
            W.HBox([self.summary, self.chart]), self.results_table,
            W.HBox([self.save_path, self.save_button, self.saved]),
        ])

    # -- display -----------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.app._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        rows = "no recipients" if self.recipients is None else f"{len(self.recipients)} rows"
        channel = self.channel.label if self.channel is not None else "no channel"
        return f"<Composer {rows}, {channel}, row {self.row.value}>"

    def _say(self, text: str, *, error: bool = False) -> None:
        colour = "#c62828" if error else "inherit"
        self.status.value = (f"<span style='color:{colour}'>{html.escape(self._scrub(text))}"
                             "</span>" if text else "")

    def _known_secrets(self) -> list[str]:
        found = [s.get_secret_value() for s in self._secrets.values()]
        for env in self.env_fields.values():
            value = os.environ.get(env.value.strip()) if env.value.strip() else None
            if value:
                found.append(value)
        for channel in (self.channel, self._given):
            if channel is not None:
                found += list(channel.secrets())
        return sorted({s for s in found if s}, key=len, reverse=True)

    def _scrub(self, text: str) -> str:
        """``text`` with every secret the app knows replaced by ``[redacted]``."""
        for secret in self._known_secrets():
            text = text.replace(secret, REDACTED)
        return text

    # -- loading -----------------------------------------------------------------------

    def load(self, source: Any, *, name: str | None = None) -> None:
        """Load recipients from a path, bytes or a DataFrame, then refresh everything."""
        if isinstance(source, str) and not source:
            self._say("Type the path of a CSV or XLSX sheet, or upload one.", error=True)
            return
        try:
            if isinstance(source, pd.DataFrame) and {"to", "problems", "repairs"} <= set(source):
                frame = source
            else:
                frame = load_recipients(
                    source, default_region=self.region.value.strip() or None,
                    phone_column=self.phone_column.value.strip() or None,
                )
        except CampaignError as error:
            self._say(str(error), error=True)
            return
        self.recipients = frame
        self.rendered = None
        stem = Path(name or (source if isinstance(source, (str, os.PathLike)) else "")).stem
        if stem:
            self.campaign.value = stem
        summary = load_summary(frame)
        self.sheet_summary.value = summary._repr_html_()
        repaired = frame.loc[frame["repairs"].map(len) > 0]
        phone = summary.phone_column
        columns = [c for c in (phone, "to") if c]
        shown = repaired[columns].assign(repairs=repaired["repairs"].map(", ".join))
        self.repairs.value = (
            "<b>Phone repairs</b>" + _table(shown, "ck-repairs-table") if len(shown)
            else "<i>no phone repairs</i>"
        )
        self._set_fields(frame)
        self.row.value = int(frame.index[0]) if len(frame) else 0
        self._say(repr(summary))
        self._refresh()

    def _on_upload(self, change: Mapping[str, Any]) -> None:
        files = change["new"]
        if files:
            upload = files[0]
            self.load(bytes(upload["content"]), name=upload["name"])

    def _set_fields(self, frame: pd.DataFrame) -> None:
        buttons = []
        columns = [c for c in frame.columns if c not in RESERVED_COLUMNS]
        for column in columns:
            name = placeholder(str(column))
            if name is None:
                continue
            button = _cls(W.Button(description=str(column), tooltip=name,
                                   layout=W.Layout(width="auto")), "ck-insert")
            button.on_click(lambda _, name=name: self.insert(name))
            buttons.append(button)
        self.insert_box.children = tuple(buttons)
        options = [("", "")] + [(str(c), placeholder(str(c)) or "") for c in columns
                                if placeholder(str(c))]
        for row in self.variables_box.children:
            row.children[1].options = options

    # -- provider ----------------------------------------------------------------------

    def _on_provider(self, _: object = None) -> None:
        choice = self.provider.value
        family = None if choice == _GIVEN else PROVIDERS[choice].family
        self.provider_options.children = (
            () if family is None else (self._family_boxes[family],))
        label = self._given.label if choice == _GIVEN and self._given is not None else choice
        whatsapp = label.split(":")[-1] in _WHATSAPP
        self.use_template.layout.display = None if whatsapp else "none"
        if not whatsapp:
            self.use_template.value = False
        self._on_channel_option()

    def _on_secret(self, change: Mapping[str, Any]) -> None:
        if not change["new"]:
            return
        box = change["owner"]
        key = next(k for k, w in self.fields.items() if w is box)
        self._secrets[key] = SecretStr(change["new"])
        box.value = ""  # the secret never stays in widget state
        box.placeholder = "•••••••• set (type to replace)"
        self._on_channel_option()

    def _on_channel_option(self, _: object = None) -> None:
        self.channel, problem = self._make_channel()
        if self.channel is not None:
            self.channel_info.value = f"Channel: <code>{html.escape(self.channel.label)}</code>"
        else:
            self.channel_info.value = (
                f"<span style='color:#c62828'>{html.escape(self._scrub(problem))}</span>")
        self._refresh()

    def _make_channel(self) -> tuple[Channel | None, str]:
        """The configured channel, or None and what is missing."""
        choice = self.provider.value
        if choice == _GIVEN:
            return self._given, ""
        provider = PROVIDERS[choice]
        options: dict[str, Any] = dict(provider.fixed)
        for field in _FIELDS[provider.family]:
            key = f"{provider.family}.{field.name}"
            if field.secret:
                secret = self._secrets.get(key)
                variable = self.env_fields[key].value.strip()
                if secret is None and variable and os.environ.get(variable):
                    secret = SecretStr(os.environ[variable])
                if secret is None:
                    where = f" or set ${variable}" if variable else ""
                    return None, f"{field.label}: type it{where}."
                options[field.name] = secret
            else:
                value = self.fields[key].value.strip()
                if not value:
                    return None, f"{field.label}: type it."
                options[field.name] = value
        try:
            return provider.make(**options), ""
        except CampaignError as error:
            return None, str(error)

    # -- message -----------------------------------------------------------------------

    def insert(self, name: str) -> None:
        """Append ``name`` (a ``{{ placeholder }}``) to the template."""
        text = self.template.value
        gap = " " if text and not text[-1].isspace() else ""
        self.template.value = f"{text}{gap}{name}"

    def add_template_variable(self, name: str = "", column: str = "") -> None:
        """Add a WhatsApp template variable mapped to a column's placeholder."""
        options = [("", "")]
        if self.recipients is not None:
            options += [(str(c), placeholder(str(c)) or "") for c in self.recipients.columns
                        if c not in RESERVED_COLUMNS and placeholder(str(c))]
        key = _cls(W.Text(value=name, description="Variable", placeholder="1 or Body.1",
                          continuous_update=False), "ck-variable-name")
        value = _cls(W.Dropdown(options=options, description="Column"), "ck-variable-column")
        if column:
            value.value = placeholder(column) or ""
        remove = W.Button(description="Remove", layout=W.Layout(width="auto"))
        row = W.HBox([key, value, remove])
        key.observe(lambda _: self._refresh(), names="value")
        value.observe(lambda _: self._refresh(), names="value")

        def drop(_: object) -> None:
            self.variables_box.children = tuple(
                r for r in self.variables_box.children if r is not row)
            self._refresh()

        remove.on_click(drop)
        self.variables_box.children = (*self.variables_box.children, row)
        self._refresh()

    def _on_use_template(self, change: Mapping[str, Any]) -> None:
        self.whatsapp_box.layout.display = None if change["new"] else "none"
        self._refresh()

    @property
    def message(self) -> Message:
        """The `Message` the widgets describe (text, and the WhatsApp template if chosen)."""
        text = self.template.value or None
        template = None
        if self.use_template.value and self.template_id.value.strip():
            variables: dict[str, Any] = {}
            for row in self.variables_box.children:
                name, value = row.children[0].value.strip(), row.children[1].value
                if not name:
                    continue
                outer, _, inner = name.partition(".")
                if inner:
                    variables.setdefault(outer, {})[inner] = value
                else:
                    variables[name] = value
            template = Template(
                id=self.template_id.value.strip(), variables=variables,
                version=self.template_version.value.strip() or None,
                locale=self.template_locale.value.strip() or None,
            )
        return Message(text=text, template=template)

    def apply_suggestion(self) -> None:
        """Replace the template by its GSM-7 look-alike version (`suggest_gsm`)."""
        suggestion = suggest_gsm(self.template.value)
        if suggestion is not None:
            self.template.value = suggestion

    # -- preview -----------------------------------------------------------------------

    def step(self, by: int) -> None:
        """Move the preview ``by`` rows (in sheet order)."""
        if self.recipients is None or not len(self.recipients):
            return
        labels = list(self.recipients.index)
        here = labels.index(self.row.value) if self.row.value in labels else 0
        self.row.value = int(labels[max(0, min(len(labels) - 1, here + by))])

    def _on_row(self, change: Mapping[str, Any]) -> None:
        if self.recipients is not None and change["new"] not in self.recipients.index:
            self._say(f"row {change['new']} is not a recipient row (the first is "
                      f"{self.recipients.index[0]}, the last {self.recipients.index[-1]}; "
                      "empty rows are dropped)", error=True)
            if change["old"] in self.recipients.index:
                self.row.value = change["old"]
            return
        self._show_row()

    def _refresh(self) -> None:
        """Render every row (vectorised) and show the current row, problems and totals."""
        self.rendered = None
        self._ready = pd.Series(dtype=bool)
        self.suggest.layout.display = "none"
        if self.recipients is None:
            self.row_info.value = "load a sheet first"
            self._clear_row()
            return
        if not len(self.recipients):
            self.row_info.value = "the sheet has no recipients"
            self._clear_row()
            return
        first, last = self.recipients.index[0], self.recipients.index[-1]
        self.row_info.value = f"rows {first}–{last} ({len(self.recipients)} recipients)"
        message = self.message
        if message.text is None and message.template is None:
            self._clear_row("write a message")
            self.problems.value = ""
            self.totals.value = ""
            return
        try:
            self.rendered = render(self.recipients, message)
        except CampaignError as error:
            self._clear_row()
            self._say(str(error), error=True)
            return
        self._say("")
        checked = self._check(self.rendered)
        self._ready = checked.map(len) == 0
        ready = self.rendered.loc[self._ready.to_numpy()]
        self.totals.value = (
            f"{len(ready)} of {len(checked)} rows ready · {int(ready['segments'].sum())} "
            f"segments · {len(checked) - len(ready)} with problems")
        table = self.problem_table = problems_table(pd.DataFrame({"problems": checked}))
        self.problems.value = (
            _table(table[["row", "column", "problem"]].set_index("row"), "ck-problems-table")
            if len(table) else "<i>no problems</i>")
        suggestion = suggest_gsm(self.template.value)
        if suggestion is not None:
            pairs = sorted({f"{c} → {suggest_gsm(c) or '?'}"
                            for c in analyse(self.template.value).ucs2_characters})
            self.suggest.description = f"Use GSM-7 look-alikes: {', '.join(pairs)}"
            self.suggest.layout.display = None
        self._show_row()

    def _check(self, rendered: pd.DataFrame) -> pd.Series:
        """Every row's problems: the frame's, then the channel's rules (as `send` checks)."""
        if self.channel is None:
            return rendered["problems"]
        found = []
        for label, row in zip(rendered.index, rendered.to_dict("records"), strict=True):
            own: tuple[Problem, ...] = row["problems"]
            try:
                own = own or self.channel.problems(row, row_number=int(label))
            except CampaignError as error:  # a misnamed column stops the campaign
                self._say(str(error), error=True)
                return rendered["problems"]
            found.append(own)
        return pd.Series(found, index=rendered.index, dtype=object)

    def _clear_row(self, note: str = "") -> None:
        self.to.value = ""
        self.preview.value = f"<i>{html.escape(note)}</i>" if note else ""
        self.counter.value = ""
        self.ucs2.value = ""
        self.request.value = ""

    def _show_row(self) -> None:
        label = self.row.value
        if self.rendered is None or label not in self.rendered.index:
            return
        one = self.rendered.loc[[label]]
        row = one.iloc[0]
        self.to.value = f"to {row['to']}" if row["to"] else "no valid phone number"
        text: str | None = row["text"]
        culprits = analyse(text).ucs2_characters if text else ()
        problems = self._check(one).iloc[0]
        listed = "".join(f"<li>{html.escape(self._scrub(str(p)))}</li>" for p in problems)
        body = (f"<div class='ck-text' style='white-space:pre-wrap;border:1px solid #ccc;"
                f"padding:6px;border-radius:6px'>{_highlight(text, culprits)}</div>"
                if text is not None else "<div class='ck-text'><i>no text</i></div>")
        self.preview.value = body + (f"<ul class='ck-row-problems'>{listed}</ul>"
                                     if listed else "")
        self.counter.value = counter_text(text)
        self.ucs2.value = (
            "Forces UCS-2: " + " ".join(f"<mark>{html.escape(c)}</mark>" for c in culprits)
            if culprits else "")
        self.request.value = self._request_html(one)

    def _request_html(self, one: pd.DataFrame) -> str:
        if self.channel is None:
            return "<i>configure the provider to see the request</i>"
        try:
            request = preview(one, self.channel).iloc[0]
        except CampaignError as error:
            return f"<i>{html.escape(self._scrub(str(error)))}</i>"
        if request["method"] is None:
            return "<i>no request: this row has problems and is not sent</i>"
        headers = "\n".join(f"{k}: {v}" for k, v in request["headers"].items())
        body = json.dumps(request["body"], ensure_ascii=False, indent=2)
        text = f"{request['method']} {request['url']}\n{headers}\n\n{body}"
        return (f"<pre class='ck-request-text' style='line-height:1.35;margin:0'>"
                f"{html.escape(self._scrub(text))}</pre>")

    # -- sending -----------------------------------------------------------------------

    def _price(self) -> Decimal | None:
        try:
            price = Decimal(self.price.value.strip())
        except InvalidOperation:
            return None
        return price if price.is_finite() and price >= 0 else None

    def ask_live(self) -> None:
        """Show the confirmation of a live send: the send plan's sentence (`plan`)."""
        if not self._can_send():
            return
        assert self.rendered is not None and self.channel is not None
        price = self._price()
        sending = plan(self.rendered, self.channel, rate=float(self.rate.value),
                       campaign=self.campaign.value.strip(), ledger=self._ledger_path(),
                       guardrails=Guardrails(
                           budget=None if price is None else Budget(price_per_segment=price)))
        cost = "" if price is not None else " Cost unknown: type a price per segment."
        sentence = "<br>".join(html.escape(line)
                               for line in sending.confirmation_text().splitlines())
        self.confirm_text.value = (
            f"<b>{sentence}</b> through {html.escape(self.channel.label)}, live.{cost} Rows "
            f"already sent in campaign “{html.escape(self.campaign.value)}” are not sent "
            "again.")
        self.confirm_button.description = f"Yes, send {sending.messages} messages"
        self._show_confirm(True)

    def _show_confirm(self, shown: bool) -> None:
        self.confirm_box.layout.display = None if shown else "none"

    def _can_send(self) -> bool:
        if self._busy:
            self._say("a send is running: stop it or wait for it to finish", error=True)
        elif self.rendered is None:
            self._say("load a sheet and write a message first", error=True)
        elif self.channel is None:
            self._say("configure the provider first", error=True)
        elif not self.campaign.value.strip():
            self._say("give the campaign a name (the journal uses it)", error=True)
        else:
            return True
        return False

    def _ledger_path(self) -> Path | None:
        return None if self._journal_dir is None else self._journal_dir / "ledger.db"

    def _journal(self, campaign: str) -> Ledger:
        from .ledger import locate_ledger

        return Ledger(locate_ledger(self._ledger_path()))

    def start(self, *, live: bool) -> None:
        """Send the rendered frame: a dry run (sandbox) or, after confirmation, live."""
        self._show_confirm(False)
        if not self._can_send():
            return
        rendered, channel = self.rendered, self.channel
        assert rendered is not None and channel is not None
        campaign = self.campaign.value.strip()
        journal = self._journal(campaign)
        self._stop = threading.Event()
        options: dict[str, Any] = dict(
            campaign=campaign, live=live, pacing=Pacing(rate=float(self.rate.value)),
            ledger=journal if live else self._ledger_path(), stop=self._stop,
            progress=self._progress)
        self._mode = "live" if live else "dry-run"
        self.progress.max = max(1, int(self._ready.sum()))
        self.progress.value = 0
        self.progress_text.value = f"{self._mode}: starting"
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:  # a script or a test: block
            self._running(True)
            try:
                self._finish(self._outcome(lambda: send(rendered, channel, **options)))
            finally:
                journal.close()
                self._running(False)
            return
        self._running(True)
        self.task = loop.create_task(self._send_task(rendered, channel, journal, options))

    async def _send_task(self, rendered: pd.DataFrame, channel: Channel, journal: Ledger,
                         options: dict[str, Any]) -> None:
        try:
            outcome: pd.DataFrame | CampaignError | Exception
            try:
                outcome = await send_async(rendered, channel, **options)
            except CampaignError as error:
                outcome = error
            except Exception as error:  # a task's error is otherwise never seen
                logger.exception("send failed")
                outcome = error
            self._finish(outcome)
        finally:
            journal.close()
            self._running(False)

    @staticmethod
    def _outcome(call: Callable[[], pd.DataFrame]) -> pd.DataFrame | Exception:
        try:
            return call()
        except CampaignError as error:
            return error

    def _progress(self, done: int, total: int) -> None:
        """`send`'s on_progress hook: runs on the kernel's loop, between requests."""
        self.progress.max = max(1, total)
        self.progress.value = min(done, self.progress.max)
        self.progress_text.value = f"{self._mode}: {done} of {total} rows"

    def _running(self, running: bool) -> None:
        self._busy = running
        self.stop_button.disabled = not running
        self.dry_run_button.disabled = running
        self.send_button.disabled = running

    def stop(self) -> None:
        """Stop the send: no new request starts, requests in flight finish."""
        self._stop.set()
        self.progress_text.value = "stopping: requests in flight finish, the rest stay waiting"

    def _finish(self, outcome: pd.DataFrame | Exception) -> None:
        results = outcome if isinstance(outcome, pd.DataFrame) else getattr(
            outcome, "results", None)
        if not isinstance(outcome, pd.DataFrame):
            self._say(f"{type(outcome).__name__}: {outcome}", error=True)
        if results is None:
            self.progress_text.value = "nothing was sent"
            return
        self.show_results(results)

    def show_results(self, results: pd.DataFrame) -> None:
        """Show a results frame: summary, chart, table; enable saving."""
        self.results = results
        summary = results_summary(results)
        done = sum(n for s, n in summary.counts.items() if s not in ("skipped", "waiting"))
        self.progress.value = min(done, self.progress.max)
        self.progress_text.value = self._scrub(repr(summary))
        self.summary.value = self._scrub(summary._repr_html_())
        self.chart.value = status_chart(results)._repr_html_()
        columns = [c for c in ("to", "status", "message_id", "error") if c in results]
        self.results_table.value = self._scrub(_table(results[columns], "ck-results-table"))
        self.save_button.disabled = False

    def save(self, path: str) -> None:
        """Save the results sheet (`save_results`: ``.xlsx`` or ``.csv``)."""
        if self.results is None:
            self._say("nothing to save yet: run a dry run or a send first", error=True)
            return
        try:
            target = save_results(self.results, path)
        except (CampaignError, ValueError, OSError) as error:
            self._say(str(error), error=True)
            return
        self.saved.value = f"saved {len(self.results)} rows to {target}"
