"""What happened: the run's outcome in plain words, its rows, and saving the results."""

from __future__ import annotations

import ipywidgets as W

from . import _html
from ._kit import css, html, panel, text
from ._state import ComposerState, Topic

__all__ = ["HappenedPanel"]


class HappenedPanel:
    """Shows the state's outcome and results table; Save writes the results sheet."""

    def __init__(self, state: ComposerState) -> None:
        self.state = state
        self.summary = html("ck-summary")
        self.results_table = html("ck-results")
        self.save_path = text("Save as", "ck-save-path", value="results.xlsx")
        self.save_button = css(W.Button(description="Save results", icon="save",
                                        disabled=True), "ck-save")
        self.saved = html("ck-saved")
        self.save_button.on_click(lambda _: state.save(self.save_path.value.strip()))
        self.box = panel("happened", "7 · What happened", [
            self.summary, self.results_table,
            W.HBox([self.save_path, self.save_button], layout=W.Layout(flex_flow="row wrap")),
            self.saved,
        ])
        state.subscribe(self.update)

    def update(self, topic: Topic) -> None:
        """Show the outcome once a run finished (all at once: never row by row)."""
        if topic != "results":
            return
        s = self.state
        self.summary.value = _html.outcome(s.outcome)
        outcome = s.outcome
        self.results_table.value = (
            _html.table(outcome.table, "ck-results-table",
                        total=len(s.results) if s.results is not None else 0)
            if outcome is not None and len(outcome.table) else "")
        self.save_button.disabled = s.results is None
        error = s.errors.get("results", "")
        self.saved.value = _html.error_line(error) if error else _html.e(s.saved_note)
