"""Preview: the chosen row on a phone, its counter, the totals, problems and the request."""

from __future__ import annotations

import numbers

import ipywidgets as W

from . import _html
from ._kit import css, html, panel
from ._state import ComposerState, Topic

__all__ = ["PreviewPanel"]


class PreviewPanel:
    """Binds the row navigation to the state and shows its views."""

    def __init__(self, state: ComposerState) -> None:
        self.state = state
        self.prev_button = css(W.Button(description="Previous", icon="arrow-left",
                                        layout=W.Layout(width="auto")), "ck-prev")
        self.next_button = css(W.Button(description="Next", icon="arrow-right",
                                        layout=W.Layout(width="auto")), "ck-next")
        self.row = css(W.IntText(description="Row", continuous_update=False,
                                 layout=W.Layout(width="10em")), "ck-row")
        self.error = html("ck-preview-error")
        self.phone = html("ck-preview")
        self.counter = css(W.Label(), "ck-segments")
        self.totals = html("ck-totals")
        self.warnings = html("ck-plan-warnings")
        self.problems = html("ck-problems")
        self.request = html("ck-request")
        self.request_box = css(W.Accordion(children=[self.request], titles=(
            "Request for this row (secrets redacted)",)), "ck-request-box")
        self.prev_button.on_click(lambda _: state.step(-1))
        self.next_button.on_click(lambda _: state.step(+1))
        self.row.observe(lambda c: self._jump(c["new"]), names="value")
        self.box = panel("preview", "4 · Preview", [
            W.HBox([self.prev_button, self.row, self.next_button],
                   layout=W.Layout(flex_flow="row wrap")),
            self.error, self.phone, self.counter, self.totals, self.warnings, self.problems,
            self.request_box,
        ])
        state.subscribe(self.update)
        self.update("preview")
        self.update("totals")

    def _jump(self, label: int) -> None:
        if label != self.state.row:
            self.state.set_row(label)

    def update(self, topic: Topic) -> None:
        """Show the state's row view, or the totals."""
        s = self.state
        if topic == "preview":
            self.error.value = _html.error_line(s.errors.get("preview", ""))
            if isinstance(s.row, numbers.Integral) and self.row.value != int(s.row):
                self.row.value = int(s.row)
            note = ("load a sheet first" if s.recipients is None else
                    "the audience is empty" if s.row is None else
                    "fix the message to see it here" if s.errors.get("message") else "")
            self.phone.value = _html.phone(s.view, note)
            self.counter.value = _html.counter(s.view)
            v = s.view
            self.request.value = ("" if v is None else
                                  f"<pre class='ck-request-text'>{_html.e(v.request)}</pre>"
                                  if v.request else f"<i>{_html.e(v.request_note)}</i>")
        elif topic == "totals":
            t = s.totals
            self.totals.value = _html.totals_line(t)
            self.warnings.value = _html.warnings(t.warnings)
            frame = t.problems
            shown = frame is not None and len(frame) and not t.updating
            count = t.counts.get("skipped", 0)
            self.problems.value = (
                "<b>Rows with problems</b>" + _html.table(frame, "ck-problems-table",
                                                          total=count)
                if shown and frame is not None else "")
