"""Provider: the channel, its options and secrets, the endpoint and the schedule."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import ipywidgets as W

from . import _html
from ._kit import css, html, panel, shown, text
from ._state import ENDPOINTS, FIELDS, GIVEN, PROVIDERS, ComposerState, Topic

__all__ = ["ProviderPanel"]


class ProviderPanel:
    """Binds the provider widgets to the state; each field shows its own error under it."""

    def __init__(self, state: ComposerState) -> None:
        self.state = state
        options = [(p.label, key) for key, p in PROVIDERS.items()]
        given = state.provider == GIVEN and state.channel is not None
        if given:
            assert state.channel is not None
            options.insert(0, (f"Given: {state.channel.label}", GIVEN))
        self.provider = css(W.Dropdown(options=options, value=state.provider,
                                       description="Provider"), "ck-provider")
        self.fields: dict[str, W.Text] = {}
        self.env_fields: dict[str, W.Text] = {}
        self.field_errors: dict[str, W.HTML] = {}
        self.families: dict[str, W.VBox] = {}
        for family, fields in FIELDS.items():
            rows: list[W.Widget] = []
            for f in fields:
                key = f"{family}.{f.name}"
                if f.secret:
                    # Sent on Enter or leaving the field, then emptied: a widget's value is
                    # synced to the browser and saved with the notebook.
                    box = css(W.Password(description=f.label, continuous_update=False,
                                         placeholder="type it, or name a variable →",
                                         style={"description_width": "initial"}),
                              "ck-secret", f"ck-{f.name}")
                    env = css(W.Text(value=state.env_names.get(key, ""), description="or $",
                                     continuous_update=False,
                                     layout=W.Layout(flex="1 1 15em", min_width="14em")),
                              "ck-env", f"ck-env-{f.name}")
                    box.observe(lambda c, key=key: self._secret(key, c), names="value")
                    env.observe(lambda c, key=key: state.set_env(key, c["new"]), names="value")
                    self.env_fields[key] = env
                    rows.append(W.HBox([box, env], layout=W.Layout(flex_flow="row wrap")))
                else:
                    box = text(f.label, f"ck-{f.name}", continuous_update=False)
                    box.observe(lambda c, key=key: state.set_option(key, c["new"]),
                                names="value")
                    rows.append(box)
                self.fields[key] = box
                self.field_errors[key] = html("ck-field-error", f"ck-error-{f.name}")
                rows.append(self.field_errors[key])
            self.families[family] = W.VBox(rows)
        self.options_box = W.VBox([])
        self.endpoint = css(W.Dropdown(options=[(v, k) for k, v in ENDPOINTS.items()],
                                       value=state.endpoint, description="Endpoint"),
                            "ck-endpoint")
        self.url = text("URL", "ck-endpoint-url", placeholder="https://…",
                        continuous_update=False)
        self.endpoint_error = html("ck-endpoint-error")
        self.schedule = text("Send at (UTC)", "ck-schedule", continuous_update=False,
                             placeholder="now, or 2026-12-24 09:00")
        self.schedule_error = html("ck-schedule-error")
        self.error = html("ck-provider-error")
        self.info = html("ck-channel")
        self.provider.observe(lambda c: state.set_provider(c["new"]), names="value")
        self.endpoint.observe(lambda _: self._endpoint(), names="value")
        self.url.observe(lambda _: self._endpoint(), names="value")
        self.schedule.observe(self._schedule, names="value")
        self.box = panel("provider", "2 · Provider", [
            self.provider, self.options_box, self.endpoint, self.url, self.endpoint_error,
            self.schedule, self.schedule_error, self.error, self.info,
        ])
        state.subscribe(self.update)
        self.update("provider")

    def _secret(self, key: str, change: Mapping[str, Any]) -> None:
        if change["new"]:
            self.fields[key].value = ""  # the secret never stays in the widget's state
            self.state.set_secret(key, change["new"])

    def _endpoint(self) -> None:
        self.state.set_endpoint(self.endpoint.value, self.url.value)

    def _schedule(self, change: Mapping[str, Any]) -> None:
        value = change["new"].strip()
        if not value or value.lower() == "now":
            self.schedule_error.value = ""
            self.state.set_schedule(None)
            return
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            self.schedule_error.value = _html.error_line(
                f"“{value}” is not a date and time: write it as 2026-12-24 09:00 (UTC)")
            return
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        if when <= self.state.clock():
            self.schedule_error.value = _html.error_line(
                f"{when:%Y-%m-%d %H:%M} UTC has passed: give a time to come, or leave it empty")
            return
        self.schedule_error.value = ""
        self.state.set_schedule(when)

    def update(self, topic: Topic) -> None:
        """Show the chosen provider's fields, each field's error, and where sends go."""
        if topic != "provider":
            return
        s = self.state
        family = None if s.provider == GIVEN else PROVIDERS[s.provider].family
        wanted = () if family is None else (self.families[family],)
        if self.options_box.children != wanted:
            self.options_box.children = wanted
        for key, line in self.field_errors.items():
            error = s.field_errors.get(key, "")
            touched = key in s.options or s.has_secret(key) or not error.startswith("needed")
            line.value = _html.error_line(error) if touched else (
                f"<span class='ck-hint'>{_html.e(error)}</span>" if error else "")
            if key in self.fields and s.has_secret(key):
                self.fields[key].placeholder = "•••••••• set (type to replace)"
        shown(self.url, s.endpoint == "custom")
        shown(self.endpoint, s.provider != GIVEN)
        self.endpoint_error.value = _html.error_line(s.field_errors.get("endpoint", ""))
        self.error.value = _html.error_line(s.errors.get("provider", ""))
        if s.channel is not None:
            self.info.value = (f"Ready: <code>{_html.e(s.channel.label)}</code> → "
                               f"{_html.e(s.host)}")
        else:
            self.info.value = "<i>live sending is off until every field above is set</i>"
