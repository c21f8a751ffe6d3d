"""Guardrails: quiet hours, budget, frequency cap, suppression list, the price table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import time
from typing import Any

import ipywidgets as W

from . import _html
from ._kit import css, html, panel, text
from ._prices import format_prices
from ._state import ComposerState, Topic

__all__ = ["GuardrailsPanel"]

_LABEL = {"description_width": "initial"}


class GuardrailsPanel:
    """Binds the guardrail controls to the state's `Settings` and price table."""

    def __init__(self, state: ComposerState) -> None:
        self.state = state
        s = state.settings
        self.quiet = css(W.Checkbox(value=s.quiet_hours, indent=False,
                                    layout=W.Layout(width="auto"),
                                    description="Quiet hours (recipient's local time)"),
                         "ck-quiet")
        self.start = css(W.Text(value=f"{s.start:%H:%M}", description="from",
                                continuous_update=False, style=_LABEL,
                                layout=W.Layout(width="8em")), "ck-quiet-start")
        self.end = css(W.Text(value=f"{s.end:%H:%M}", description="to",
                              continuous_update=False, style=_LABEL,
                              layout=W.Layout(width="7em")), "ck-quiet-end")
        self.max_cost = text("Budget (max cost)", "ck-max-cost", placeholder="none",
                             continuous_update=False)
        self.cap = css(W.BoundedIntText(value=s.cap_messages, min=0, max=100, style=_LABEL,
                                        description="Frequency cap: at most",
                                        layout=W.Layout(width="15em")), "ck-cap")
        self.cap_days = css(W.BoundedIntText(value=s.cap_days, min=1, max=365,
                                             description="messages per (days)",
                                             style={"description_width": "initial"},
                                             layout=W.Layout(width="14em")), "ck-cap-days")
        self.suppression = css(W.FileUpload(accept=".csv,.xlsx,.txt",
                                            description="Opt-out list"), "ck-suppression")
        self.suppression_note = html("ck-suppression-note")
        self.prices = css(W.Textarea(description="Price per segment (estimate)",
                                     style={"description_width": "initial"},
                                     continuous_update=False,
                                     layout=W.Layout(width="100%", height="7em")), "ck-prices")
        self.error = html("ck-guardrails-error")
        for widget in (self.quiet, self.start, self.end, self.max_cost, self.cap,
                       self.cap_days):
            widget.observe(lambda _: self._apply(), names="value")
        self.suppression.observe(self._on_suppression, names="value")
        self.prices.observe(lambda c: state.set_prices(c["new"]), names="value")
        self.box = panel("guardrails", "5 · Guardrails", [
            W.HBox([self.quiet, self.start, self.end], layout=W.Layout(flex_flow="row wrap")),
            self.max_cost,
            W.HBox([self.cap, self.cap_days], layout=W.Layout(flex_flow="row wrap")),
            self.suppression, self.suppression_note, self.prices, self.error,
        ])
        state.subscribe(self.update)
        self.update("provider")

    def _on_suppression(self, change: Mapping[str, Any]) -> None:
        if change["new"]:
            upload = change["new"][0]
            self.state.set_suppression(bytes(upload["content"]), name=upload["name"])

    def _apply(self) -> None:
        try:
            start, end = time.fromisoformat(self.start.value), time.fromisoformat(self.end.value)
        except ValueError:
            self.error.value = _html.error_line("quiet hours: write times as 08:00 and 21:00")
            return
        if not start < end:
            self.error.value = _html.error_line("quiet hours: “from” must be before “to”")
            return
        self.error.value = ""
        self.state.set_settings(replace(
            self.state.settings, quiet_hours=self.quiet.value, start=start, end=end,
            max_cost=self.max_cost.value.strip(), cap_messages=int(self.cap.value),
            cap_days=int(self.cap_days.value)))

    def update(self, topic: Topic) -> None:
        """Show the chosen provider's prices and the state's guardrail error."""
        s = self.state
        if topic == "provider":
            self.prices.value = format_prices(s.prices.get(s.provider, {}))
        if topic in ("guardrails", "provider"):
            if s.errors.get("guardrails"):
                self.error.value = _html.error_line(s.errors["guardrails"])
            suppression = s.settings.suppression
            self.suppression_note.value = (
                "" if suppression is None else
                f"opt-out list: {_html.plural(len(suppression), 'number')} (those rows are "
                "suppressed)")
