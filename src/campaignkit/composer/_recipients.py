"""Recipients: the sheet (path or upload, sheet, region, phone column), audience, exclusions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as W

from . import _html
from ._audience import OPERATORS, Condition
from ._kit import css, html, panel, shown, text
from ._state import ComposerState, Topic

__all__ = ["RecipientsPanel"]


class RecipientsPanel:
    """Binds the sheet and audience widgets to the state (no logic of its own)."""

    def __init__(self, state: ComposerState) -> None:
        self.state = state
        # Loads on Enter or leaving the field: a click right after typing could reach the
        # kernel before the typed value (docs/jupyter.md#a-click-can-overtake-typing).
        self.path = text("Sheet", "ck-path", placeholder="recipients.xlsx or .csv",
                         continuous_update=False)
        self.load_button = css(W.Button(description="Load", icon="upload"), "ck-load")
        self.upload = css(W.FileUpload(accept=".csv,.tsv,.txt,.xlsx,.xlsm,.xls,.ods",
                                       description="Upload"), "ck-upload")
        self.error = html("ck-recipients-error")
        self.sheet = css(W.Dropdown(description="Sheet", options=[]), "ck-sheet")
        self.region = text("Region", "ck-region", value=state.region,
                           placeholder="e.g. US, GB", continuous_update=False)
        self.countries = text("Countries", "ck-countries",
                              placeholder="the region's, or e.g. US, CA, or any",
                              continuous_update=False)
        self.phone_column = text("Phone column", "ck-phone-column", placeholder="auto",
                                 continuous_update=False)
        self.summary = html("ck-load-summary")
        self.conditions = css(W.VBox([]), "ck-conditions")
        self.add_condition = css(W.Button(description="Add a filter", icon="filter"),
                                 "ck-add-condition")
        self.audience = html("ck-audience")
        self.exclude = css(W.FileUpload(accept=".csv,.xlsx,.txt", description="Exclude list"),
                           "ck-exclude")
        self.clear_exclusions = css(W.Button(description="No exclusions"), "ck-no-exclude")
        shown(self.sheet, False)
        self.load_button.on_click(lambda _: state.load(self.path.value))
        self.path.observe(lambda c: state.load(c["new"]), names="value")
        self.upload.observe(self._on_upload, names="value")
        self.sheet.observe(self._on_sheet, names="value")
        self.region.observe(lambda c: self._option("region", c["new"]), names="value")
        self.phone_column.observe(lambda c: self._option("phone_column", c["new"]),
                                  names="value")
        self.countries.observe(lambda c: self._option("countries", c["new"]), names="value")
        self.add_condition.on_click(lambda _: self._add_row())
        self.exclude.observe(self._on_exclude, names="value")
        self.clear_exclusions.on_click(lambda _: state.set_exclusions(None))
        self.box = panel("recipients", "1 · Recipients", [
            W.HBox([self.path, self.load_button, self.upload],
                   layout=W.Layout(flex_flow="row wrap")),
            self.error, self.sheet,
            W.HBox([self.region, self.countries, self.phone_column],
                   layout=W.Layout(flex_flow="row wrap")),
            self.summary,
            W.HTML("<b>Audience</b>"), self.conditions, self.add_condition,
            W.HBox([self.exclude, self.clear_exclusions], layout=W.Layout(flex_flow="row wrap")),
            self.audience,
        ])
        state.subscribe(self.update)
        self.update("recipients")

    def _on_upload(self, change: Mapping[str, Any]) -> None:
        if change["new"]:
            upload = change["new"][0]
            self.state.load(bytes(upload["content"]), name=upload["name"])

    def _on_exclude(self, change: Mapping[str, Any]) -> None:
        if change["new"]:
            upload = change["new"][0]
            self.state.set_exclusions(bytes(upload["content"]), name=upload["name"])

    def _on_sheet(self, change: Mapping[str, Any]) -> None:
        if change["new"] and change["new"] != self.state.sheet:
            self.state.sheet = change["new"]
            self.state.reload()

    def _option(self, name: str, value: str) -> None:
        setattr(self.state, name, value)
        self.state.reload()

    def _add_row(self, column: str = "", operator: str = "is", value: str = "") -> None:
        columns = list(self.state.columns)
        pick = css(W.Dropdown(options=columns, value=column or (columns[0] if columns else None),
                              layout=W.Layout(width="11em")), "ck-condition-column")
        op = css(W.Dropdown(options=list(OPERATORS), value=operator,
                            layout=W.Layout(width="10em")), "ck-condition-operator")
        cell = css(W.Text(value=value, continuous_update=False, layout=W.Layout(width="10em")),
                   "ck-condition-value")
        remove = W.Button(icon="times", tooltip="remove", layout=W.Layout(width="2.5em"))
        row = W.HBox([pick, op, cell, remove], layout=W.Layout(flex_flow="row wrap"))
        for widget in (pick, op, cell):
            widget.observe(lambda _: self._apply(), names="value")
        remove.on_click(lambda _: self._drop(row))
        self.conditions.children = (*self.conditions.children, row)
        self._apply()

    def _drop(self, row: W.HBox) -> None:
        self.conditions.children = tuple(r for r in self.conditions.children if r is not row)
        self._apply()

    def _apply(self) -> None:
        self.state.set_conditions([
            Condition(str(r.children[0].value or ""), r.children[1].value, r.children[2].value)
            for r in self.conditions.children])

    def update(self, topic: Topic) -> None:
        """Show the state's sheet, its errors and the audience."""
        if topic not in ("recipients", "send", "totals"):
            return
        s = self.state
        for widget in (self.path, self.load_button, self.upload, self.sheet):
            widget.disabled = s.running  # loading is locked during a send
        self.error.value = _html.error_line(s.errors.get("recipients", ""))
        self.summary.value = _html.e(s.load_note)
        if list(self.sheet.options) != list(s.sheets):
            self.sheet.options = list(s.sheets)
        if s.sheet and self.sheet.value != s.sheet:
            self.sheet.value = s.sheet
        shown(self.sheet, len(s.sheets) > 1)
        for row in self.conditions.children:
            if list(row.children[0].options) != list(s.columns):
                row.children[0].options = list(s.columns)
        t = s.totals
        parts = []
        if s.recipients is not None and (s.conditions or s.exclusions is not None):
            parts.append(f"{t.rows:,} of {t.sheet_rows:,} rows in the audience"
                         if not t.updating else "counting the audience…")
        if s.exclusions is not None:
            parts.append(f"exclusion list: {_html.plural(len(s.exclusions), 'number')}")
        self.audience.value = _html.e(" · ".join(parts))
