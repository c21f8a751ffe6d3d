"""Send: campaign name, rate, dry run, a test to my number, live behind a confirmation, Stop."""

from __future__ import annotations

import ipywidgets as W

from . import _html
from ._kit import css, html, panel, shown, text
from ._state import ComposerState, Topic

__all__ = ["SendPanel"]


class SendPanel:
    """Binds the send buttons to the state; the live path stays disarmed until it can go."""

    def __init__(self, state: ComposerState) -> None:
        self.state = state
        self.campaign = text("Campaign", "ck-campaign", value=state.campaign,
                             continuous_update=False)
        self.rate = css(W.BoundedFloatText(value=state.rate, min=0.1, max=10_000.0,
                                           description="Messages/s",
                                           style={"description_width": "initial"},
                                           layout=W.Layout(width="14em")), "ck-rate")
        self.dry_run_button = css(W.Button(description="Dry run", button_style="primary",
                                           icon="flask"), "ck-dry-run")
        self.send_button = css(W.Button(description="Send live…", button_style="danger",
                                        icon="paper-plane", disabled=True), "ck-send")
        self.stop_button = css(W.Button(description="Stop", icon="stop", disabled=True),
                               "ck-stop")
        self.error = html("ck-send-error")
        self.confirm_text = html("ck-confirm-text")
        self.confirm_button = css(W.Button(description="Yes, send", button_style="danger",
                                           layout=W.Layout(width="auto")), "ck-confirm-send")
        self.cancel_button = css(W.Button(description="Cancel"), "ck-cancel")
        self.confirm_box = css(W.VBox([self.confirm_text, W.HBox(
            [self.confirm_button, self.cancel_button])]), "ck-confirm")
        self.progress = css(W.IntProgress(value=0, min=0, max=1,
                                          layout=W.Layout(width="100%")), "ck-progress")
        self.progress_text = css(W.Label(), "ck-progress-text")
        self.test_number = text("Test to my number", "ck-test-number",
                                placeholder="+1 617 555 0123", continuous_update=False)
        self.test_button = css(W.Button(description="Send a test", icon="mobile",
                                        disabled=True), "ck-test-send")
        self.test_note = html("ck-test-note")
        shown(self.confirm_box, False)
        self.campaign.observe(lambda c: state.set_campaign(c["new"]), names="value")
        self.rate.observe(lambda c: state.set_rate(c["new"]), names="value")
        self.dry_run_button.on_click(lambda _: state.dry_run())
        self.send_button.on_click(lambda _: state.ask_live())
        self.confirm_button.on_click(lambda _: state.confirm_live())
        self.cancel_button.on_click(lambda _: state.cancel_live())
        self.stop_button.on_click(lambda _: state.stop())
        self.test_button.on_click(lambda _: state.send_test(self.test_number.value))
        self.box = panel("send", "6 · Send", [
            W.HBox([self.campaign, self.rate], layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.dry_run_button, self.send_button, self.stop_button],
                   layout=W.Layout(flex_flow="row wrap")),
            self.error, self.confirm_box, self.progress, self.progress_text,
            W.HBox([self.test_number, self.test_button], layout=W.Layout(flex_flow="row wrap")),
            self.test_note,
        ])
        state.subscribe(self.update)
        self.update("send")

    def update(self, topic: Topic) -> None:
        """Enable what can run now; show the confirmation, the progress, the errors."""
        s = self.state
        if topic == "progress":
            p = s.progress
            self.progress.max = max(1, p.total)
            self.progress.value = min(p.done, self.progress.max)
            self.progress_text.value = _html.progress_line(p)
            self.stop_button.disabled = not s.running or p.phase == "stopping"
            return
        if topic not in ("send", "totals", "provider", "message", "recipients"):
            return
        if self.campaign.value != s.campaign:
            self.campaign.value = s.campaign
        ready = not s.blocked(live=False)
        self.dry_run_button.disabled = not ready
        # Disarmed until the channel is set, and once nothing is left to send.
        self.send_button.disabled = bool(s.blocked(live=True) or s.fully_sent)
        self.test_button.disabled = bool(s.blocked(live=True))
        self.stop_button.disabled = not s.running
        self.error.value = _html.error_line(s.errors.get("send", "")) or (
            f"<div class='ck-note'>{_html.e(s.fully_sent)}</div>" if s.fully_sent else "")
        conf = s.confirmation
        shown(self.confirm_box, conf is not None)
        self.confirm_text.value = _html.confirmation(conf)
        shown(self.confirm_button, conf is not None and conf.button is not None)
        if conf is not None and conf.button is not None:
            self.confirm_button.description = conf.button
        self.test_note.value = _html.e(s.test_note)
