"""The Composer: a campaign in one app, as a headless state and seven thin panels.

``_state.ComposerState`` holds the campaign being composed and is the only place that calls
campaignkit's public functions; the panels (``_recipients``, ``_provider``, ``_message``,
``_preview``, ``_guardrails``, ``_send``, ``_happened``) only bind widgets to it, and the HTML
they show comes from the pure functions of ``_html``.
"""

from ._app import Composer
from ._audience import OPERATORS, Condition
from ._html import chart
from ._state import PROVIDERS, ComposerState, Settings, placeholder

__all__ = ["OPERATORS", "PROVIDERS", "Composer", "ComposerState", "Condition", "Settings",
           "chart", "placeholder"]
