"""The campaign being composed, headless: every call the Composer makes into campaignkit.

`ComposerState` holds what the user chose (sheet, provider, endpoint, message, audience,
guardrails, prices, schedule) and what the library computed from it (the current row's
preview, the totals, the confirmation, the progress and the results). Panels set its inputs
and read its views; `subscribe` tells them which view changed. Nothing here imports
ipywidgets, so the state is tested without a browser and without widgets.

The calls into the library, all in this module (the seam for the ledger and the one
decision function):

- `load_recipients` and `load_summary` (`load`); `load_recipients` and `Suppression.of` for
  exclusion and opt-out lists and the test number; python-calamine for a workbook's sheet
  names (`_sheet_names`, until recipients lists them)
- `render` of the current row alone (`_show_row`, the keystroke path) and of every row
  (`_compute`, debounced, in a worker thread)
- `preview` of the current row (`_request_text`); `analyse` and `suggest_gsm` (its counter)
- the channel classes' own rules: ``channel.problems`` of the current row (`_show_row`)
- `plan` (`_compute`: every row's fate from `decide` and the ledger, the function `send`
  calls: counts with what a live run already sent, segments, cost, time, guardrail outcome)
- `send_async(..., ledger=..., pacing=Pacing(rate), guardrails=..., progress=...)`
  (`_send`, and `send_test` under a campaign name of its own); `results_summary`,
  `save_results`
- `Sociocs`, `TextUs`, `Bird` (`_build_channel`, `_stand_in`); `Sandbox` and `serve`
  (`set_endpoint`: the sandbox on loopback)
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import logging
import os
import re
import threading
import time as _time
from collections.abc import Callable, Coroutine, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import httpx
import numpy as np
import pandas as pd
from pydantic import SecretStr

from .._errors import CampaignError
from ..channels import Bird, Channel, Sociocs, TextUs
from ..channels._base import REDACTED
from ..guardrails import Budget, FrequencyCap, Guardrails, QuietHours, Suppression
from ..ledger import locate_ledger, sandbox_ledger_path
from ..message import Message, Template
from ..plan import plan
from ..preview import preview
from ..recipients import RESERVED_COLUMNS, load_recipients, load_summary
from ..results import results_summary, save_results
from ..sandbox import Sandbox, serve
from ..sending import Pacing, is_sandbox, send_async
from ..sms import analyse, suggest_gsm
from ..templating import render
from ._audience import Condition, audience_mask, condition_problem
from ._prices import DEFAULT_PRICES, parse_prices
from ._schedule import OnLoop, Scheduler
from ._views import Confirmation, Outcome, Progress, RowView, Settings, Totals
from ._words import line_column, plain, template_error, unmatched

__all__ = [
    "FIELDS", "GIVEN", "PROVIDERS", "ComposerState", "Confirmation", "Outcome", "Progress",
    "RowView", "Settings", "Totals", "placeholder",
]

logger = logging.getLogger(__name__)

GIVEN = "given"
TABLE_ROWS = 200
#: seconds between two progress views at most ten a second, whatever the send rate
PROGRESS_INTERVAL = 0.1
#: seconds of quiet typing before every row is rendered and counted again
DEBOUNCE = 0.25
_JINJA_WORDS = frozenset({"and", "or", "not", "in", "is", "if", "else", "true", "false", "none"})
_OPT_OUT = re.compile(r"\bstop\b|\bunsubscribe\b|\bopt[ -]?out\b", re.IGNORECASE)
_SINGLE_BRACE = re.compile(r"(?<!\{)\{\s*([A-Za-z_][\w ]*)\s*\}(?!\})")
Topic = Literal["recipients", "provider", "message", "preview", "totals", "guardrails", "send",
                "progress", "results"]


def placeholder(column: str) -> str | None:
    """The ``{{ name }}`` a template uses for ``column``, or None when no name can reach it.

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


# -- providers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One option of a provider: the channel class's keyword, its label, whether secret."""

    name: str
    label: str
    secret: bool = False
    env: str = ""


@dataclass(frozen=True)
class Provider:
    """A provider choice: its channel class and the keywords the choice itself sets."""

    label: str
    family: str
    make: Callable[..., Channel]
    fixed: Mapping[str, str]
    whatsapp: bool = False
    schedule_field: str | None = None  # the channel keyword of the provider's schedule
    stand_in: Mapping[str, str] = field(default_factory=dict)  # rules-only placeholders


FIELDS: dict[str, tuple[Field, ...]] = {
    "sociocs": (Field("api_key", "API key", True, "SOCIOCS_API_KEY"),
                Field("channel_key", "Channel key", True, "SOCIOCS_CHANNEL_KEY")),
    "textus": (Field("account", "Account"), Field("token", "Token", True, "TEXTUS_TOKEN")),
    "bird": (Field("workspace_id", "Workspace ID"), Field("channel_id", "Channel ID"),
             Field("access_key", "Access key", True, "BIRD_ACCESS_KEY")),
}
_UUID = "00000000-0000-4000-8000-000000000000"
PROVIDERS: dict[str, Provider] = {
    "sociocs:twlo": Provider("Sociocs · Twilio SMS", "sociocs", Sociocs, {"provider": "twlo"},
                             schedule_field="schedule",
                             stand_in={"api_key": "x:y", "channel_key": "twlo_16175550000"}),
    "sociocs:twlowa": Provider("Sociocs · Twilio WhatsApp", "sociocs", Sociocs,
                               {"provider": "twlowa"}, True, "schedule",
                               {"api_key": "x:y", "channel_key": "twlowa_16175550000"}),
    "sociocs:gswa": Provider("Sociocs · Gupshup WhatsApp", "sociocs", Sociocs,
                             {"provider": "gswa"}, True, "schedule",
                             {"api_key": "x:y", "channel_key": "gswa_16175550000"}),
    "textus:sms": Provider("TextUs · SMS", "textus", TextUs, {"channel": "sms"},
                           stand_in={"account": "account", "token": "token"}),
    "textus:whatsapp": Provider("TextUs · WhatsApp", "textus", TextUs, {"channel": "whatsapp"},
                                True, stand_in={"account": "account", "token": "token"}),
    "bird": Provider("Bird · Channels API", "bird", Bird, {}, False, "scheduled_for",
                     {"workspace_id": _UUID, "channel_id": _UUID, "access_key": "key"}),
}
ENDPOINTS = {"provider": "the provider's API", "sandbox": "the sandbox on this machine",
             "custom": "a custom URL"}


# -- the state --------------------------------------------------------------------------------


class ComposerState:
    """The campaign being composed; see the module docstring for the calls it makes.

    Parameters
    ----------
    recipients, channel, message, default_region, ledger
        As for `Composer`.
    clock
        The instant now (aware); tests and the browser app fix it.
    """

    def __init__(
        self,
        recipients: pd.DataFrame | None = None,
        channel: Channel | None = None,
        *,
        message: str = "",
        default_region: str | None = None,
        ledger: str | os.PathLike[str] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._listeners: list[Callable[[Topic], None]] = []
        self._given = channel
        self._ledger = Path(ledger) if ledger is not None else None
        self.clock = clock or (lambda: datetime.now(UTC))
        self.region = default_region or ""
        #: where the campaign may send, ISO codes ("US, GB"); empty: the region's country
        self.countries = ""
        self.phone_column = ""
        self.source: Any = None
        self.source_name = ""
        self.sheets: tuple[str, ...] = ()
        self.sheet = ""
        self.recipients: pd.DataFrame | None = None
        self.load_note = ""
        self.empty_rows = 0
        self.columns: tuple[str, ...] = ()
        self.campaign = "campaign"
        # provider
        self.provider = GIVEN if channel is not None else "sociocs:twlo"
        self.options: dict[str, str] = {}
        self._secrets: dict[str, SecretStr] = {}
        self.env_names: dict[str, str] = {f"{fam}.{f.name}": f.env for fam, fs in FIELDS.items()
                                          for f in fs if f.secret}
        self.endpoint: str = "provider"
        self.custom_url = ""
        self._served: contextlib.ExitStack | None = None
        self._sandbox_url = ""
        self.channel: Channel | None = None
        self.field_errors: dict[str, str] = {}
        # message
        self.text = message
        self.use_template = False
        self.template_id = ""
        self.template_version = ""
        self.template_locale = ""
        self.variables: list[tuple[str, str]] = []
        self.marketing = True
        self.warnings: tuple[str, ...] = ()
        # audience, guardrails, prices, schedule, send options
        self.conditions: list[Condition] = []
        self.exclusions: Suppression | None = None
        self.settings = Settings()
        self.prices: dict[str, dict[str, str]] = {k: dict(v) for k, v in DEFAULT_PRICES.items()}
        self.schedule: datetime | None = None
        self.rate = 10.0
        # views
        self.errors: dict[str, str] = {}
        self.row: Hashable | None = None
        self.view: RowView | None = None
        self.totals = Totals()
        self.confirmation: Confirmation | None = None
        self.progress = Progress()
        self.outcome: Outcome | None = None
        self.results: pd.DataFrame | None = None
        self.test_note = ""
        self.saved_note = ""
        # running
        self.running = False
        self.task: asyncio.Task[None] | None = None
        self._stop = threading.Event()
        self._version = 0
        self._rendered: pd.DataFrame | None = None
        self._rendered_version = -1
        self._audience: pd.DataFrame | None = None
        self._schedulers: dict[int, Scheduler] = {}
        self._last_progress = -1.0
        self._monotonic = _time.monotonic
        self._tests = itertools.count(1)
        self._blocking = False
        self._audience_stale = True
        self._audience_error = ""
        self._build_channel()
        if recipients is not None:
            self.load(recipients)

    # -- listening ------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[Topic], None]) -> None:
        """Call ``listener(topic)`` whenever the view of ``topic`` changed."""
        self._listeners.append(listener)

    def _emit(self, *topics: Topic) -> None:
        for topic in topics:
            for listener in list(self._listeners):
                listener(topic)

    def _scheduler(self) -> Scheduler:
        if self._blocking:  # inside a blocking send's own loop: everything at once
            return Scheduler()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return Scheduler()
        found = self._schedulers.get(id(loop))
        if found is None or getattr(found, "loop", None) is not loop:
            found = self._schedulers[id(loop)] = OnLoop(loop)
        return found

    async def settled(self) -> None:
        """Wait until the totals are computed for the current inputs (on a running loop)."""
        while self.totals.updating:
            await asyncio.sleep(0.01)

    # -- secrets ---------------------------------------------------------------------------

    def _known_secrets(self) -> list[str]:
        found = [s.get_secret_value() for s in self._secrets.values()]
        found += [os.environ.get(n, "") for n in self.env_names.values() if n]
        for channel in (self.channel, self._given):
            if channel is not None:
                found += list(channel.secrets())
        return sorted({s for s in found if s}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """``text`` with every secret the state knows replaced by ``[redacted]``."""
        for secret in self._known_secrets():
            text = text.replace(secret, REDACTED)
        return text

    def _countries(self) -> list[str] | str | None:
        """The countries typed ("US, GB" or "any"), or None for the region's own country."""
        codes = [c.strip().upper() for c in re.split(r"[\s,;]+", self.countries) if c.strip()]
        return "any" if codes == ["ANY"] else codes or None

    def _error(self, panel: str, text: str) -> None:
        self.errors[panel] = self.scrub(plain(text, self.host)) if text else ""

    # -- recipients --------------------------------------------------------------------------

    def load(self, source: Any, *, name: str | None = None, sheet: str = "") -> bool:
        """Load recipients from a path, bytes or a DataFrame; False (and the error) if not."""
        if self.running:
            self._error("recipients", "a send is running: loading is locked until it ends")
            self._emit("recipients")
            return False
        if isinstance(source, str):
            source = source.strip()
            if not source:
                self._error("recipients", "type the path of a CSV or XLSX sheet, or upload one")
                self._emit("recipients")
                return False
        sheets = self._sheet_names(source)
        chosen = sheet if sheet in sheets else (sheets[0] if sheets else "")
        try:
            if isinstance(source, pd.DataFrame) and {"to", "problems", "repairs"} <= set(source):
                frame = source
            else:
                frame = load_recipients(
                    source, default_region=self.region.strip() or None,
                    countries=self._countries(),
                    phone_column=self.phone_column.strip() or None, sheet=chosen or None)
            summary = load_summary(frame)
        except CampaignError as error:
            self._error("recipients", str(error))
            self._emit("recipients")
            return False
        self.source, self.sheets, self.sheet = source, sheets, chosen
        self.source_name = name or (Path(source).name if isinstance(source, (str, os.PathLike))
                                    else "")
        stem = Path(self.source_name).stem
        if stem:
            self.campaign = stem
        self.recipients = frame
        self._audience_stale = True
        self.columns = tuple(str(c) for c in frame.columns if c not in RESERVED_COLUMNS)
        self.empty_rows = len(summary.empty_rows_dropped)
        problems = ", ".join(f"{n:,} {kind}" for kind, n in sorted(
            summary.problems.items(), key=lambda kv: (-kv[1], kv[0])))
        parts = [f"{summary.rows:,} rows", f"{summary.valid:,} valid"]
        parts += [problems] if problems else []
        parts += [f"{summary.repeated:,} repeated number{'s' if summary.repeated != 1 else ''}"
                  " (one message each)"] if summary.repeated else []
        parts += [f"{summary.repaired:,} phone numbers repaired"] if summary.repaired else []
        parts += [f"{self.empty_rows:,} empty row{'s' if self.empty_rows != 1 else ''} dropped"
                  ] if self.empty_rows else []
        self.load_note = " · ".join(parts) + (f" · phone column “{summary.phone_column}”"
                                              if summary.phone_column else "")
        self.errors["recipients"] = ""
        self.conditions = [c for c in self.conditions if c.column in self.columns]
        self.row = frame.index[0] if len(frame) else None
        self._changed("recipients")
        return True

    def reload(self) -> bool:
        """Load the same source again (after changing the region, phone column or sheet)."""
        if self.source is None:
            return False
        return self.load(self.source, name=self.source_name, sheet=self.sheet)

    @staticmethod
    def _sheet_names(source: Any) -> tuple[str, ...]:
        """The sheet names of a workbook (more than one: the panel offers a choice)."""
        from python_calamine import CalamineError, CalamineWorkbook

        try:
            if isinstance(source, (str, os.PathLike)) and Path(source).suffix.lower() in (
                ".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"
            ) and Path(source).is_file():
                return tuple(CalamineWorkbook.from_path(str(source)).sheet_names)
            if isinstance(source, bytes) and source[:4] == b"PK\x03\x04":
                import io

                return tuple(CalamineWorkbook.from_filelike(io.BytesIO(source)).sheet_names)
        except (CalamineError, OSError, ValueError):
            return ()
        return ()

    # -- audience ------------------------------------------------------------------------------

    def set_conditions(self, conditions: Sequence[Condition]) -> None:
        """Keep only the rows every condition keeps (column / operator / value; never code)."""
        self.conditions = list(conditions)
        self._audience_stale = True
        self._changed("recipients")

    def set_exclusions(self, source: Any | None, *, name: str = "") -> None:
        """Leave out every number of a sheet (an exclusion list), or none (``None``)."""
        if source is None:
            self.exclusions = None
        else:
            try:
                frame = load_recipients(source, default_region=self.region.strip() or None,
                                        duplicates="keep")
            except CampaignError as error:
                self._error("recipients", f"exclusion list {name}: {error}")
                self._emit("recipients")
                return
            self.exclusions = Suppression.of(frame.loc[frame["to"] != "", "to"])
        self._audience_stale = True
        self._changed("recipients")

    def _audience_of(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
        for condition in self.conditions:
            problem = condition_problem(condition, self.columns)
            if problem:
                return frame, problem
        keep = audience_mask(frame, self.conditions)
        if self.exclusions is not None:
            keep &= ~frame["to"].isin(self.exclusions.numbers)
        return (frame if bool(keep.all()) else frame.loc[keep.to_numpy()]), ""

    # -- provider and endpoint -------------------------------------------------------------

    def set_provider(self, choice: str) -> None:
        """Choose the provider (a key of `PROVIDERS`, or ``"given"``)."""
        self.provider = choice
        if not self.is_whatsapp:
            self.use_template = False
        self._build_channel()
        self._changed("provider")

    def set_option(self, key: str, value: str) -> None:
        """Set a provider's plain option, ``"<family>.<name>"`` (e.g. ``"bird.workspace_id"``)."""
        self.options[key] = value.strip()
        self._build_channel()
        self._changed("provider")

    def set_secret(self, key: str, value: str) -> None:
        """Keep a typed secret as a `SecretStr` (the widget empties itself after this)."""
        if value:
            self._secrets[key] = SecretStr(value)
            self._build_channel()
            self._changed("provider")

    def has_secret(self, key: str) -> bool:
        """Whether a secret was typed for ``key``."""
        return key in self._secrets

    def set_env(self, key: str, name: str) -> None:
        """Take a secret from the environment variable ``name`` instead."""
        self.env_names[key] = name.strip()
        self._build_channel()
        self._changed("provider")

    def set_endpoint(self, kind: str, url: str = "") -> None:
        """Where a live send goes: ``"provider"``, ``"sandbox"`` (loopback) or ``"custom"``."""
        self.endpoint, self.custom_url = kind, url.strip()
        if kind == "sandbox" and self._served is None:
            self._served = contextlib.ExitStack()
            self._sandbox_url = self._served.enter_context(serve(Sandbox()))
        self._build_channel()
        self._changed("provider")

    def set_schedule(self, when: datetime | None) -> None:
        """Send at ``when`` (aware): the provider's schedule field, else deferred rows."""
        self.schedule = when
        self._build_channel()
        self._changed("provider")

    def _base_url(self) -> tuple[str | None, str]:
        if self.endpoint == "sandbox":
            return self._sandbox_url, ""
        if self.endpoint != "custom":
            return None, ""
        try:
            url = httpx.URL(self.custom_url)
        except httpx.InvalidURL:
            url = httpx.URL("")
        host = url.host
        if not host or url.scheme not in ("http", "https"):
            return None, "type the full address, e.g. https://api.example.com"
        try:
            loop = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loop = False
        if url.scheme == "http" and not loop:
            return None, "use https (plain http only for an address on this machine)"
        return self.custom_url.rstrip("/"), ""

    @property
    def is_whatsapp(self) -> bool:
        """Whether the chosen channel is a WhatsApp channel (no SMS counter)."""
        if self.provider == GIVEN:
            label = self._given.label if self._given is not None else ""
            return label.split(":")[-1] in ("twlowa", "gswa", "whatsapp")
        return PROVIDERS[self.provider].whatsapp

    @property
    def host(self) -> str:
        """Where a live send goes, e.g. ``api.sociocs.com``."""
        channel = self.channel or self._stand_in()
        if channel is None:
            return "the provider"
        url = httpx.URL(channel.base_url)
        return f"{url.host}:{url.port}" if url.port else str(url.host)

    def _stand_in(self) -> Channel | None:
        """A channel with placeholder credentials: the provider's rules, never a send."""
        if self.provider == GIVEN:
            return self._given
        provider = PROVIDERS[self.provider]
        return provider.make(**provider.fixed, **provider.stand_in)

    def _build_channel(self) -> None:
        self.field_errors = {}
        self.errors["provider"] = ""
        if self.provider == GIVEN:
            self.channel = self._given
            return
        provider = PROVIDERS[self.provider]
        options: dict[str, Any] = dict(provider.fixed)
        missing = False
        for f in FIELDS[provider.family]:
            key = f"{provider.family}.{f.name}"
            if f.secret:
                secret = self._secrets.get(key)
                variable = self.env_names.get(key, "")
                if secret is None and variable and os.environ.get(variable):
                    secret = SecretStr(os.environ[variable])
                if secret is None:
                    hint = f" or set ${variable}" if variable else ""
                    self.field_errors[key] = f"needed: type it{hint}"
                    missing = True
                options[f.name] = secret
            elif self.options.get(key):
                options[f.name] = self.options[key]
            else:
                self.field_errors[key] = "needed"
                missing = True
        base, problem = self._base_url()
        if problem:
            self.field_errors["endpoint"] = problem
            missing = True
        if base:
            options["base_url"] = base
        if self.schedule is not None and provider.schedule_field:
            options[provider.schedule_field] = self.schedule
        self.channel = None
        if missing:  # check what was typed, with placeholders for the rest
            options = {**options, **{k: v for k, v in provider.stand_in.items()
                                     if f"{provider.family}.{k}" in self.field_errors}}
        try:
            channel = provider.make(**options)
        except CampaignError as error:
            text = self.scrub(str(error))
            where = next((f"{provider.family}.{f.name}" for f in FIELDS[provider.family]
                          if f.name in text or f.label.lower() in text.lower()), None)
            if where is None:
                self.errors["provider"] = text
            else:
                self.field_errors[where] = text
            return
        self.channel = None if missing else channel

    # -- message ---------------------------------------------------------------------------

    def set_text(self, text: str) -> None:
        """The message text (a Jinja2 template): the current row at once, totals debounced."""
        self.text = text
        self._changed("message")

    def set_template(self, *, use: bool | None = None, template_id: str | None = None,
                     version: str | None = None, locale: str | None = None,
                     variables: Sequence[tuple[str, str]] | None = None) -> None:
        """The WhatsApp template: id, version, locale, and variables mapped to columns."""
        if use is not None:
            self.use_template = use and self.is_whatsapp
        self.template_id = self.template_id if template_id is None else template_id.strip()
        self.template_version = self.template_version if version is None else version.strip()
        self.template_locale = self.template_locale if locale is None else locale.strip()
        if variables is not None:
            self.variables = list(variables)
        self._changed("message")

    def set_marketing(self, marketing: bool) -> None:
        """A marketing message must say how to opt out (warned about when it does not)."""
        self.marketing = marketing
        self._changed("message")

    @property
    def message(self) -> Message:
        """The `Message` composed (text, and the WhatsApp template if chosen)."""
        text = self.text if self.text.strip() else None
        template = None
        if self.use_template and self.template_id:
            variables: dict[str, Any] = {}
            for name, value in self.variables:
                outer, _, inner = name.strip().partition(".")
                if not outer:
                    continue
                if inner:
                    variables.setdefault(outer, {})[inner] = value
                else:
                    variables[outer] = value
            template = Template(id=self.template_id, variables=variables,
                                version=self.template_version or None,
                                locale=self.template_locale or None)
            text = None
        return Message(text=text, template=template)

    def _message_warnings(self) -> tuple[str, ...]:
        found: list[str] = []
        if self.text and not self.text.strip():
            found.append("the message is only spaces: nothing would be sent")
        for match in _SINGLE_BRACE.finditer(self.text):
            line, column = line_column(self.text, match.start())
            found.append(f"{match.group(0)} on line {line}, column {column} goes out as "
                         f"written: a column is written {{{{ {match.group(1).strip()} }}}}")
        if self.marketing and self.text.strip() and not _OPT_OUT.search(self.text):
            found.append("a marketing message must say how to opt out: add e.g. "
                         "“Reply STOP to opt out”")
        return tuple(found)

    def insert(self, column: str, at: int | None = None) -> int:
        """Insert ``column``'s placeholder at ``at`` (the caret; default the end); new caret."""
        name = placeholder(column) or column
        at = len(self.text) if at is None else max(0, min(at, len(self.text)))
        before, after = self.text[:at], self.text[at:]
        gap = " " if before and not before[-1].isspace() else ""
        tail = " " if after[:1].isalnum() else ""
        self.set_text(f"{before}{gap}{name}{tail}{after}")
        return at + len(gap) + len(name)

    def apply_suggestion(self) -> None:
        """Replace the message by its GSM-7 look-alike version."""
        suggestion = suggest_gsm(self.text)
        if suggestion is not None:
            self.set_text(suggestion)

    # -- guardrails, prices, rate, campaign ----------------------------------------------

    def set_settings(self, settings: Settings) -> None:
        """The guardrail controls."""
        self.settings = settings
        self._changed("guardrails")

    def set_suppression(self, source: Any | None, *, name: str = "") -> None:
        """An opt-out list (a sheet of numbers): those rows are ``suppressed``."""
        suppression = None
        if source is not None:
            try:
                frame = load_recipients(source, default_region=self.region.strip() or None,
                                        duplicates="keep")
            except CampaignError as error:
                self._error("guardrails", f"suppression list {name}: {error}")
                self._emit("guardrails")
                return
            suppression = Suppression.of(frame.loc[frame["to"] != "", "to"])
        self.set_settings(replace(self.settings, suppression=suppression))

    def set_prices(self, text: str) -> None:
        """The editable price table of the chosen provider (``REGION price`` lines)."""
        parsed = parse_prices(text)
        if isinstance(parsed, str):
            self.errors["guardrails"] = parsed
            self._emit("guardrails")
            return
        self.prices[self.provider] = parsed
        self._changed("guardrails")

    def set_rate(self, rate: float) -> None:
        """Messages per second."""
        self.rate = float(rate)
        self._changed("send")

    def set_campaign(self, name: str) -> None:
        """The campaign's name: what the ledger knows it by."""
        self.campaign = name.strip()
        self._changed("send")

    def guardrails(self) -> Guardrails:
        """The `Guardrails` of the controls, priced by the price table."""
        s = self.settings
        prices = self.prices.get(self.provider, {})
        try:
            max_cost = Decimal(s.max_cost) if s.max_cost.strip() else None
        except InvalidOperation:
            max_cost = None
        return Guardrails(
            suppression=s.suppression,
            quiet_hours=QuietHours(start=s.start, end=s.end) if s.quiet_hours else None,
            budget=Budget(price_per_segment=prices or None, max_cost=max_cost),
            frequency_cap=(FrequencyCap(s.cap_messages, timedelta(days=s.cap_days))
                           if s.cap_messages > 0 and s.cap_days > 0 else None),
        )

    # -- the current row ----------------------------------------------------------------------

    def set_row(self, label: Hashable) -> None:
        """Show row ``label`` (a sheet row number of the audience)."""
        frame = self._audience
        if frame is None or label not in frame.index:
            first, last = (frame.index[0], frame.index[-1]) if frame is not None and len(
                frame) else ("-", "-")
            self.errors["preview"] = (f"row {label} is not in the audience (rows {first} to "
                                      f"{last}; empty and filtered-out rows are not)")
            self._emit("preview")
            return
        self.errors["preview"] = ""
        self.row = label
        self._show_row()

    def step(self, by: int) -> None:
        """Move the preview ``by`` rows through the audience."""
        frame = self._audience
        if frame is None or not len(frame):
            return
        here = frame.index.get_loc(self.row) if self.row in frame.index else 0
        assert isinstance(here, int)
        self.set_row(frame.index[max(0, min(len(frame) - 1, here + by))])

    def _show_row(self) -> None:
        """Render the current row alone (the keystroke path) and its request."""
        self.view = None
        frame = self._audience
        if frame is None or self.row not in frame.index or self.errors.get("message"):
            self._emit("preview")
            return
        one = frame.loc[[self.row]]
        try:
            rendered = render(one, self.message)
        except Exception as error:  # a template error: shown beside the message
            self.errors["message"] = template_error(error, self.text)
            self._emit("message", "preview")
            return
        row = rendered.iloc[0]
        problems = tuple(row["problems"])
        no_column = [p for p in problems if p.column is None and p.kind == "missing-value"]
        if no_column:
            self.errors["message"] = unmatched(str(no_column[0]), self.text)
            self._emit("message", "preview")
            return
        text: str | None = row["text"] if isinstance(row["text"], str) else None
        info = analyse(text) if text else None
        request, note = self._request_text(rendered)
        channel = self.channel or self._stand_in()
        if channel is not None and not problems:
            with contextlib.suppress(CampaignError):
                problems = tuple(channel.problems(row.to_dict(), row_number=_number(self.row)))
        template = row["template"] if isinstance(row["template"], Template) else None
        self.view = RowView(
            label=self.row, position=int(frame.index.get_loc(self.row)) + 1, rows=len(frame),
            to=str(row["to"] or ""), text=text,
            encoding=info.encoding if info else None, segments=info.segments if info else 0,
            characters=info.characters if info else 0,
            culprits=info.ucs2_characters if info else (), swaps=self._swaps(),
            problems=tuple(self.scrub(str(p)) for p in problems), request=request,
            request_note=note, whatsapp=self.is_whatsapp,
            template=None if template is None else (template.id, tuple(
                (k, str(v)) for k, v in _flat(template.variables))),
        )
        self._emit("preview")

    def _swaps(self) -> tuple[str, ...]:
        if suggest_gsm(self.text) is None:
            return ()
        return tuple(sorted({f"{c} → {suggest_gsm(c) or '?'}"
                             for c in analyse(self.text).ucs2_characters}))

    def _request_text(self, one: pd.DataFrame) -> tuple[str | None, str]:
        if self.channel is None:
            return None, "set the provider's options to see the request"
        try:
            request = preview(one, self.channel).iloc[0]
        except CampaignError as error:
            return None, self.scrub(str(error))
        if request["method"] is None:
            return None, "no request: this row has problems and is not sent"
        import json

        headers = "\n".join(f"{k}: {v}" for k, v in request["headers"].items())
        body = json.dumps(request["body"], ensure_ascii=False, indent=2)
        return self.scrub(f"{request['method']} {request['url']}\n{headers}\n\n{body}"), ""

    # -- every row: debounced, off the keystroke path -------------------------------------

    def _changed(self, topic: Topic) -> None:
        """An input changed: show the row now; count every row later (``updating``)."""
        self._version += 1
        self.confirmation = None
        self.warnings = self._message_warnings()
        self.errors["message"] = ""
        self.errors["send"] = ""
        if not (self.text.strip() or (self.use_template and self.template_id)):
            self.errors["message"] = ("write a message" if not self.text
                                      else "the message is only spaces: write a message")
        audience_error = ""
        if self.recipients is not None:
            if self._audience_stale or self._audience is None:
                # a keystroke does not filter the sheet again
                self._audience_stale = False
                self._audience, self._audience_error = self._audience_of(self.recipients)
            audience_error = self._audience_error
            audience = self._audience
            if self.row not in audience.index:
                self.row = audience.index[0] if len(audience) else None
        self.errors["recipients"] = audience_error or self.errors.get("recipients", "")
        self._emit(topic)
        self._show_row()
        self._schedule_totals()

    def _schedule_totals(self) -> None:
        if self.recipients is None or self.errors.get("message"):
            self.totals = Totals(error=self.errors.get("message", ""))
            self._emit("totals")
            return
        self.totals = replace(self.totals, updating=True)
        self._emit("totals")
        scheduler = self._scheduler()
        version = self._version

        def finished(result: tuple[Totals, pd.DataFrame | None]) -> None:
            if version == self._version:  # else newer inputs are on their way
                self._apply_totals(*result, version=version)

        def work() -> None:
            if version == self._version:
                inputs = self._inputs()
                scheduler.background(lambda: self._compute(**inputs), finished)

        scheduler.debounce("totals", DEBOUNCE, work)

    def _inputs(self) -> dict[str, Any]:
        return dict(frame=self._audience,
                    sheet_rows=0 if self.recipients is None else len(self.recipients),
                    message=self.message, channel=self.channel or self._stand_in(),
                    guard=self.guardrails(), rate=self.rate, campaign=self.campaign,
                    ledger=self._ledger, now=self.clock(), whatsapp=self.is_whatsapp)

    def _apply_totals(self, totals: Totals, rendered: pd.DataFrame | None, *,
                      version: int) -> None:
        self.totals = totals
        self._rendered, self._rendered_version = rendered, version
        self._emit("totals", "send")

    def _current(self) -> pd.DataFrame | None:
        """The rendered audience for the current inputs (computed now if still updating)."""
        if self._rendered_version != self._version or self.totals.updating:
            if self._audience is None or self.errors.get("message"):
                return None
            self._apply_totals(*self._compute(**self._inputs()), version=self._version)
        return self._rendered

    def _compute(self, *, frame: pd.DataFrame | None, sheet_rows: int, message: Message,
                 channel: Channel | None, guard: Guardrails, rate: float, campaign: str,
                 ledger: Path | None, now: datetime, whatsapp: bool,
                 ) -> tuple[Totals, pd.DataFrame | None]:
        """Render every row and decide it: the plan `send` follows, with the ledger's sends."""
        if frame is None or channel is None:
            return Totals(sheet_rows=sheet_rows), None
        try:
            rendered = render(frame, message)
            todo = rendered
            if whatsapp:  # WhatsApp is priced per message
                todo = rendered.assign(segments=np.ones(len(rendered), dtype=np.int64))
            planned = plan(todo, channel, campaign=campaign or None, ledger=ledger,
                           guardrails=guard, rate=rate, now=now)
        except Exception as error:  # shown beside the message; the rows stay as they were
            return Totals(sheet_rows=sheet_rows, rows=len(frame),
                          error=template_error(error, message.text or "")), None
        counts = dict(planned.counts)
        skipped = planned.frame.loc[planned.frame["plan"] == "skipped", ["reason"]]
        problems = skipped.head(TABLE_ROWS).rename(columns={"reason": "problem"})
        totals = Totals(
            sheet_rows=sheet_rows, rows=len(frame), counts=counts, segments=planned.segments,
            cost=planned.cost, currency=planned.currency, seconds=planned.seconds,
            rate=planned.rate, sentence=planned.confirmation_text().splitlines()[0],
            warnings=planned.warnings, refused=planned.refused,
            problems=problems.assign(problem=problems["problem"].map(self.scrub)),
        )
        return totals, rendered

    def ledger_path(self) -> Path:
        """Where the sends of this campaign are recorded (the sandbox's own for loopback)."""
        path = locate_ledger(self._ledger)
        channel = self.channel
        return sandbox_ledger_path(path) if channel is not None and is_sandbox(channel) \
            else path

    # -- sending --------------------------------------------------------------------------------

    def blocked(self, *, live: bool) -> str:
        """Why a send cannot start now (empty when it can)."""
        if self.running:
            return "a send is running: stop it or wait for it to finish"
        if self.recipients is None:
            return "load a sheet first"
        if self.errors.get("message"):
            return self.errors["message"]
        if self.channel is None:
            return "set the provider's options first" if live else (
                "set the provider's options first (a dry run builds the same requests)")
        if not self.campaign:
            return "name the campaign (the ledger knows it by its name)"
        return ""

    @property
    def fully_sent(self) -> str:
        """The sentence saying the campaign was already sent whole ("" otherwise)."""
        t = self.totals
        sent = int(t.counts.get("already-sent", 0))
        if t.updating or t.to_send or not sent or any(
            t.counts.get(s, 0) for s in ("deferred", "capped", "waiting")
        ):
            return ""
        return (f"Campaign “{self.campaign}” was already sent: all {sent:,} messages went out. "
                "Nothing is left to send.")

    def ask_live(self) -> Confirmation | None:
        """The live confirmation: what is still to send, its segments, cost, host, guardrails."""
        why = self.blocked(live=True)
        if why:
            self.errors["send"] = why
            self._emit("send")
            return None
        self._current()
        t = self.totals
        sent = int(t.counts.get("already-sent", 0))
        if t.error:
            self.errors["send"] = t.error
            self._emit("send")
            return None
        if self.fully_sent:
            self.confirmation = Confirmation(self.fully_sent, self.host, (), None)
        else:
            done = f"; {sent:,} already sent (not sent again)" if sent else ""
            when = ""
            if self.schedule is not None:
                held = ("the provider holds the messages until then"
                        if self._schedule_field() else
                        "every row is deferred until then: keep this page open")
                when = f"; scheduled for {self.schedule:%Y-%m-%d %H:%M %Z} ({held})"
            sentence = (f"{t.sentence}{done}{when}. Sent live, and recorded in the ledger "
                        f"{self.ledger_path()}.")
            button = None if t.refused or t.to_send == 0 else (
                f"Yes, send {t.to_send:,} message{'s' if t.to_send != 1 else ''}")
            self.confirmation = Confirmation(sentence, self.host, t.warnings, button)
        self._emit("send")
        return self.confirmation

    def cancel_live(self) -> None:
        """Close the confirmation without sending."""
        self.confirmation = None
        self._emit("send")

    def dry_run(self) -> None:
        """Send every row through the sandbox in this process: nothing leaves the machine."""
        self._start(live=False)

    def confirm_live(self) -> None:
        """Send live (after `ask_live`): to the endpoint chosen."""
        if self.confirmation is None or self.confirmation.button is None:
            self.errors["send"] = "press “Send live…” first and read what will be sent"
            self._emit("send")
            return
        self._start(live=True)

    def _start(self, *, live: bool) -> None:
        self.confirmation = None
        why = self.blocked(live=live)
        rendered = None if why else self._current()
        if not why and (rendered is None or self.totals.error):
            why = self.totals.error or "nothing to send"
        if why:
            self.errors["send"] = why
            self._emit("send")
            return
        assert rendered is not None and self.channel is not None
        self.errors["send"] = ""
        self._stop = threading.Event()
        self.running = True
        mode = "live" if live else "dry-run"
        self._last_progress = -1.0
        self.progress = Progress(mode, 0, self.totals.to_send, "starting")
        self.outcome, self.results = None, None
        self._emit("send", "progress", "recipients")
        channel, campaign = self.channel, self.campaign
        delay = 0.0
        if live and self.schedule is not None and not self._schedule_field():
            delay = (self.schedule - self.clock()).total_seconds()

        async def go() -> None:
            if delay > 0:  # deferred rows: the send starts at the scheduled time
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.to_thread(self._stop.wait, delay), delay + 1)
                if self._stop.is_set():
                    self._finish(None, "the scheduled send was cancelled before it started",
                                 "live")
                    return
            await self._send(rendered, channel, campaign=campaign, live=live)

        self._run(go)

    def _run(self, go: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """A task on the kernel's loop, or (no loop: a script) run to the end now."""
        scheduler = self._scheduler()
        if isinstance(scheduler, OnLoop):
            self.task = scheduler.start(go)
            return
        self._blocking = True
        try:
            scheduler.start(go)
        finally:
            self._blocking = False

    def _schedule_field(self) -> str | None:
        return None if self.provider == GIVEN else PROVIDERS[self.provider].schedule_field

    async def _send(self, rendered: pd.DataFrame, channel: Channel, *, campaign: str,
                    live: bool) -> None:
        results: pd.DataFrame | None = None
        note = ""
        try:
            results = await send_async(
                rendered, channel, campaign=campaign, live=live, pacing=Pacing(rate=self.rate),
                ledger=self._ledger, guardrails=self.guardrails(), now=self.clock(),
                stop=self._stop, progress=self._on_progress)
        except CampaignError as error:
            results = getattr(error, "results", None)
            note = str(error)
        except Exception as error:  # a task's error is otherwise never seen
            logger.exception("send failed")
            note = f"the send stopped on an unexpected error: {error}"
        self._finish(results, note, "live" if live else "dry-run")

    def _on_progress(self, done: int, total: int) -> None:
        """The engine's hook after each row: shown at most every `PROGRESS_INTERVAL` s."""
        now = self._monotonic()
        if now - self._last_progress < PROGRESS_INTERVAL and done < total:
            return
        self._last_progress = now
        stopping = self._stop.is_set()
        self.progress = Progress(self.progress.mode, done, total,
                                 "stopping" if stopping else "sending")
        self._emit("progress")

    def stop(self) -> None:
        """Stop the send: no new request starts; requests in flight finish."""
        if not self.running:
            return
        self._stop.set()
        self.progress = replace(self.progress, phase="stopping")
        self._emit("progress")

    def _finish(self, results: pd.DataFrame | None, note: str, mode: str) -> None:
        self.running = False
        self.task = None
        done = 0
        if results is not None:
            summary = results_summary(results)
            counts = {s: n for s, n in summary.counts.items() if n}
            done = sum(n for s, n in counts.items() if s in ("sent", "dry-run", "failed",
                                                             "unknown"))
            stopped = results.attrs.get("stopped") or ""
            self.results = results
            shown = results.loc[:, [c for c in ("to", "status", "error") if c in results]]
            table = shown.head(TABLE_ROWS).assign(
                error=shown["error"].head(TABLE_ROWS).map(
                    lambda e: self.scrub(plain(e, self.host)) if isinstance(e, str) else ""))
            self.outcome = Outcome(
                mode=mode, counts=counts,
                headline=_headline(mode, counts, len(results), bool(note or stopped)),
                note=self.scrub(plain(note or stopped, self.host)),
                errors=tuple((self.scrub(plain(e, self.host)), n)
                             for e, n in summary.top_errors),
                table=table)
        else:
            self.outcome = Outcome(mode, {}, "nothing was sent",
                                   self.scrub(plain(note, self.host)), (), pd.DataFrame())
        self.progress = Progress(mode, done, max(done, self.progress.total), "finished")
        self._version += 1
        self._emit("progress", "results", "send", "recipients")
        self._schedule_totals()

    # -- a test message, results -------------------------------------------------------------

    def send_test(self, number: str) -> None:
        """Send the current row's message, live, to ``number`` alone (recorded apart)."""
        why = self.blocked(live=True)
        if not why and self.view is None:
            why = "the current row has no message to send"
        if why:
            self.test_note = why
            self._emit("send")
            return
        assert self._audience is not None and self.channel is not None
        try:
            one = load_recipients(pd.DataFrame({"phone": [number]}),
                                  default_region=self.region.strip() or None)
        except CampaignError as error:
            self.test_note = plain(str(error))
            self._emit("send")
            return
        to = one["to"].iloc[0]
        if not to:
            self.test_note = f"“{number}” is not a phone number: " + (
                str(one["problems"].iloc[0][0].message) if one["problems"].iloc[0] else "")
            self._emit("send")
            return
        row = self._audience.loc[[self.row]].assign(to=to, problems=[()])
        rendered = render(row, self.message)
        name = f"{self.campaign}-test-{self.clock():%Y%m%d%H%M%S}-{next(self._tests)}"
        channel = self.channel

        async def go() -> None:
            try:
                result = await send_async(rendered, channel, campaign=name, live=True,
                                          ledger=self._ledger, pacing=Pacing(rate=self.rate),
                                          guardrails=self.guardrails(), now=self.clock(),
                                          progress=False)
                status = result["status"].iloc[0]
                error = result["error"].iloc[0]
                self.test_note = (f"test sent to {to} (not part of the campaign)"
                                  if status == "sent" else
                                  f"test to {to}: {status}: {plain(error, self.host)}")
            except CampaignError as error:
                self.test_note = f"test to {to} not sent: {plain(str(error), self.host)}"
            self.test_note = self.scrub(self.test_note)
            self._emit("send")

        self.test_note = f"sending a test to {to}…"
        self._emit("send")
        self._run(go)

    def save(self, path: str) -> None:
        """Save the results sheet (``.xlsx`` or ``.csv``)."""
        if self.results is None:
            self.errors["results"] = "nothing to save yet: run a dry run or a send first"
        else:
            try:
                target = save_results(self.results, path)
                self.saved_note = f"saved {len(self.results):,} rows to {target}"
                self.errors["results"] = ""
            except (CampaignError, ValueError, OSError) as error:
                self.errors["results"] = plain(str(error))
        self._emit("results")

    def close(self) -> None:
        """Stop the loopback sandbox, if one was started."""
        if self._served is not None:
            self._served.close()
            self._served = None


# -- small pure helpers -------------------------------------------------------------------------


def _number(label: Hashable) -> int | None:
    return label if isinstance(label, int) and not isinstance(label, bool) else None


def _flat(variables: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in variables.items():
        if isinstance(value, Mapping):
            out += _flat(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out


_STATUS_WORDS = {
    "dry-run": "accepted by the sandbox", "sent": "sent", "failed": "failed",
    "skipped": "skipped (problems)", "unknown": "unknown (may have been sent)",
    "waiting": "waiting (not sent yet)", "suppressed": "suppressed", "deferred": "deferred",
    "capped": "capped",
}


def _headline(mode: str, counts: Mapping[str, int], rows: int, stopped: bool) -> str:
    what = "Dry run" if mode == "dry-run" else "Live send"
    how = "stopped" if stopped else "finished"
    parts = " · ".join(f"{n:,} {_STATUS_WORDS.get(s, s)}" for s, n in counts.items())
    return f"{what} {how}: {rows:,} rows · {parts}" if parts else f"{what} {how}: {rows:,} rows"

