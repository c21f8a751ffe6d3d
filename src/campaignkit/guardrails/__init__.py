"""Guardrails: what must never be sent, checked on this machine before any request.

The costliest campaign mistakes are not crashes (peers.md (c), reliability.md §1.6):

- texting someone who replied STOP (Twilio error 21610): `Suppression`;
- texting at 11 pm in the recipient's time zone: `QuietHours`;
- a curly apostrophe that triples the bill, or a list bigger than meant: `Budget`;
- texting one person too often across campaigns: `FrequencyCap`;
- a queue that drains after the window closes or after the provider's validity: `plan`.

`Guardrails.apply` decides every row of a rendered frame (``suppressed``, ``deferred``,
``capped``, or send now) and `Guardrails.check_budget` refuses a run over budget with
`LimitExceeded` before its first request. `send` and `plan` call the same two functions, so
the plan's counts are what `send` then does.

>>> from datetime import time
>>> Guardrails(quiet_hours=QuietHours(start=time(9), end=time(20)))
Guardrails(quiet_hours=QuietHours(09:00-20:00 local))
"""

from __future__ import annotations

from ._budget import Budget
from ._cap import FrequencyCap, read_history
from ._core import GUARD_STATUSES, Guardrails, Verdict
from ._plan import PLAN_STATUSES, SendPlan, guard_plan, plan, provider_validity
from ._quiet import QuietHours, zones_for_number
from ._suppression import OPT_OUT_PATTERNS, Suppression, opted_out

__all__ = [
    "GUARD_STATUSES",
    "OPT_OUT_PATTERNS",
    "PLAN_STATUSES",
    "Budget",
    "FrequencyCap",
    "Guardrails",
    "QuietHours",
    "SendPlan",
    "Suppression",
    "Verdict",
    "guard_plan",
    "opted_out",
    "plan",
    "provider_validity",
    "read_history",
    "zones_for_number",
]
