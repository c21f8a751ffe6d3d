"""Guardrails: what must never be sent, decided on this machine before any request.

The costliest campaign mistakes are not crashes
(docs/reliability.md#guardrails-what-must-never-be-sent):

- texting someone who replied STOP (Twilio error 21610): `Suppression`, and the ledger's
  own list (opt-outs learned from providers, `campaignkit.suppress`);
- texting at 11 pm in the recipient's time zone: `QuietHours` (on by default);
- a curly apostrophe that triples the bill, or a list bigger than meant: `Budget`, per
  campaign across its runs;
- texting one person too often across campaigns: `FrequencyCap`, read from the ledger.

`Guardrails` holds the policies; `campaignkit.decide` applies them to every row, and `send`,
`plan`, `preview` and the Composer all call it, so they agree.

>>> from datetime import time
>>> Guardrails(quiet_hours=QuietHours(start=time(9), end=time(20)))
Guardrails(quiet_hours=QuietHours(09:00-20:00 local))
"""

from __future__ import annotations

from ._budget import Budget
from ._cap import FrequencyCap
from ._core import Guardrails
from ._quiet import QuietHours, zones_for_number
from ._suppression import OPT_OUT_PATTERNS, Suppression, opted_out

__all__ = [
    "OPT_OUT_PATTERNS",
    "Budget",
    "FrequencyCap",
    "Guardrails",
    "QuietHours",
    "Suppression",
    "opted_out",
    "zones_for_number",
]
