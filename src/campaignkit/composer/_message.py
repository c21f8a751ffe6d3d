"""Message: the text with column chips at the caret, its warnings, the WhatsApp template."""

from __future__ import annotations

import ipywidgets as W

from . import _html
from ._editor import MessageEditor
from ._kit import FULL, css, html, panel, shown, text
from ._state import ComposerState, Topic, placeholder

__all__ = ["MessagePanel"]


class MessagePanel:
    """Binds the editor and the template widgets to the state; errors show under the text."""

    def __init__(self, state: ComposerState) -> None:
        self.state = state
        self.editor = css(MessageEditor(value=state.text, layout=W.Layout(**FULL)),
                          "ck-template")
        self.error = html("ck-message-error")
        self.warnings = html("ck-message-warnings")
        self.marketing = css(W.Checkbox(value=state.marketing, indent=False,
                                        layout=W.Layout(width="auto"),
                                        description="Marketing message (must say how to opt "
                                                    "out)"), "ck-marketing")
        self.suggest = css(W.Button(description="Use GSM-7 look-alikes",
                                    layout=W.Layout(width="auto", max_width="100%")),
                           "ck-suggest")
        self.use_template = css(W.Checkbox(description="WhatsApp template", indent=False,
                                           layout=W.Layout(width="auto")),
                                "ck-use-template")
        self.template_id = text("Template ID", "ck-template-id", continuous_update=False)
        self.version = text("Version", "ck-template-version", placeholder="Bird only",
                            continuous_update=False)
        self.locale = text("Locale", "ck-template-locale", placeholder="Bird only",
                           continuous_update=False)
        self.variables = css(W.VBox([]), "ck-variables")
        self.add_variable = css(W.Button(description="Add variable", icon="plus"),
                                "ck-add-variable")
        self.template_box = W.VBox([self.template_id, self.version, self.locale,
                                    self.variables, self.add_variable])
        self.editor.observe(lambda c: state.set_text(c["new"]), names="value")
        self.marketing.observe(lambda c: state.set_marketing(c["new"]), names="value")
        self.suggest.on_click(lambda _: state.apply_suggestion())
        self.use_template.observe(lambda _: self._template(), names="value")
        for box in (self.template_id, self.version, self.locale):
            box.observe(lambda _: self._template(), names="value")
        self.add_variable.on_click(lambda _: self.add_template_variable())
        self.box = panel("message", "3 · Message", [
            self.editor, self.error, self.warnings, self.suggest, self.marketing,
            self.use_template, self.template_box,
        ])
        state.subscribe(self.update)
        self.update("recipients")

    def insert(self, column: str) -> None:
        """Insert ``column``'s placeholder at the caret (what a chip click does)."""
        caret = self.state.insert(column, self.editor.caret)
        self.editor.value = self.state.text
        self.editor.caret = caret

    def add_template_variable(self, name: str = "", column: str = "") -> None:
        """A WhatsApp template variable mapped to a column's placeholder."""
        options = [("", "")] + [(c, placeholder(c) or "") for c in self.state.columns
                                if placeholder(c)]
        key = css(W.Text(value=name, placeholder="1 or Body.1", continuous_update=False,
                         layout=W.Layout(width="9em")), "ck-variable-name")
        value = css(W.Dropdown(options=options, value=placeholder(column) or "" if column
                               else "", layout=W.Layout(width="12em")), "ck-variable-column")
        remove = W.Button(icon="times", tooltip="remove", layout=W.Layout(width="2.5em"))
        row = W.HBox([key, value, remove], layout=W.Layout(flex_flow="row wrap"))
        key.observe(lambda _: self._template(), names="value")
        value.observe(lambda _: self._template(), names="value")

        def drop(_: object) -> None:
            self.variables.children = tuple(r for r in self.variables.children if r is not row)
            self._template()

        remove.on_click(drop)
        self.variables.children = (*self.variables.children, row)
        self._template()

    def _template(self) -> None:
        self.state.set_template(
            use=self.use_template.value, template_id=self.template_id.value,
            version=self.version.value, locale=self.locale.value,
            variables=[(r.children[0].value, r.children[1].value or "")
                       for r in self.variables.children])

    def update(self, topic: Topic) -> None:
        """Show the state's message errors and warnings, chips and template controls."""
        s = self.state
        if topic == "recipients":
            chips = [(c, p) for c in s.columns if (p := placeholder(c))]
            if self.editor.chips != chips:
                self.editor.chips = chips
        if topic not in ("message", "preview", "provider", "recipients"):
            return
        if self.editor.value != s.text:
            self.editor.value = s.text
        self.error.value = _html.error_line(s.errors.get("message", ""))
        self.warnings.value = _html.warnings(s.warnings)
        shown(self.use_template, s.is_whatsapp)
        shown(self.template_box, s.use_template)
        if self.use_template.value != s.use_template:
            self.use_template.value = s.use_template
        swaps = s.view.swaps if s.view is not None and not s.view.whatsapp else ()
        if swaps:
            self.suggest.description = "Use GSM-7 look-alikes: " + ", ".join(swaps)
        shown(self.suggest, bool(swaps))
