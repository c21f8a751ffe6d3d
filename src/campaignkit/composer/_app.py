"""The Composer: the state and its seven panels, laid out in one or two columns."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

import ipywidgets as W
import pandas as pd

from ..channels import Channel
from ._guardrails import GuardrailsPanel
from ._happened import HappenedPanel
from ._html import STYLE
from ._kit import css
from ._message import MessagePanel
from ._preview import PreviewPanel
from ._provider import ProviderPanel
from ._recipients import RecipientsPanel
from ._send import SendPanel
from ._state import ComposerState

__all__ = ["Composer"]


class Composer:
    """Compose, check and send a campaign in Jupyter or Voila.

    Parameters
    ----------
    recipients
        A DataFrame to start with (a recipients frame is used as it is; any other frame is
        loaded with `load_recipients`), or load a sheet in the app.
    channel
        A configured channel (`Sociocs`, `TextUs`, `Bird`); otherwise choose the provider
        and type its options and secrets (or the names of environment variables) in the app.
    message
        The message text to start with (a Jinja2 template).
    default_region
        The region for numbers without a country code (``"US"``, ``"GB"``).
    ledger
        The ledger file (default: found as `send` finds it: ``$CAMPAIGNKIT_LEDGER``, else the
        per-user one).
    clock
        The instant now (aware) for the guardrails; default the real clock.

    Notes
    -----
    ``composer.state`` is the campaign being composed (`ComposerState`): every call into
    campaignkit goes through it, and the panels only bind widgets to it. A send runs as a
    task on the kernel's event loop (``composer.task``), so Stop is heard; without a
    running loop (a script) it blocks.

    Examples
    --------
    >>> composer = Composer(default_region="US", ledger=tmp_path / "ledger.db")  # doctest: +SKIP
    >>> composer.state.load("sample_data/recipients.csv")  # doctest: +SKIP
    True
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
        self.state = ComposerState(channel=channel, message=message,
                                   default_region=default_region, ledger=ledger,
                                   clock=clock)
        self.recipients_panel = RecipientsPanel(self.state)
        self.provider_panel = ProviderPanel(self.state)
        self.message_panel = MessagePanel(self.state)
        self.preview_panel = PreviewPanel(self.state)
        self.guardrails_panel = GuardrailsPanel(self.state)
        self.send_panel = SendPanel(self.state)
        self.happened_panel = HappenedPanel(self.state)
        left = W.VBox([self.recipients_panel.box, self.provider_panel.box,
                       self.message_panel.box], layout=W.Layout(min_width="0"))
        right = W.VBox([self.preview_panel.box, self.guardrails_panel.box,
                        self.send_panel.box, self.happened_panel.box],
                       layout=W.Layout(min_width="0"))
        # Two columns where they fit (1366 px), one below 880 px (an 800 px window).
        self.app = css(W.GridBox([W.HTML(STYLE), left, right], layout=W.Layout(
            grid_template_columns="repeat(auto-fit, minmax(min(100%, 440px), 1fr))",
            width="100%")), "ck-composer")
        if recipients is not None:
            self.state.load(recipients)

    def load(self, source: Any, *, name: str | None = None) -> bool:
        """Load recipients from a path, bytes or a DataFrame (as the Sheet field does)."""
        return self.state.load(source, name=name)

    @property
    def results(self) -> pd.DataFrame | None:
        """The last run's results frame (None before the first run)."""
        return self.state.results

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The running send (``await composer.task`` waits for its results)."""
        return self.state.task

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.app._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        s = self.state
        rows = "no recipients" if s.recipients is None else f"{len(s.recipients)} rows"
        channel = s.channel.label if s.channel is not None else "no channel"
        return f"<Composer {rows}, {channel}, row {s.row if s.row is not None else '-'}>"
