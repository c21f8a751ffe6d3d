"""`Guardrails`: the policies every front door applies, decided by `campaignkit.decide`."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._budget import Budget
from ._cap import FrequencyCap
from ._quiet import QuietHours
from ._suppression import Suppression

__all__ = ["OPT_OUT_SAMPLE", "Guardrails"]

#: numbers of a live Sociocs send checked with the provider's one-number opt-out lookup
OPT_OUT_SAMPLE = 50


@dataclass(frozen=True)
class Guardrails:
    """Suppression, quiet hours, a frequency cap and a budget, applied together.

    Safe by default: quiet hours (08:00-21:00 in each recipient's zone) are on unless
    ``quiet_hours=None`` turns them off, which every plan then says. The ledger adds what it
    knows to each policy: numbers suppressed there (opt-outs learned from providers, or
    `campaignkit.suppress`), every campaign's sends for the frequency cap, and what this
    campaign spent in earlier runs for the budget. `campaignkit.decide` applies them; `send`,
    `plan`, `preview` and the Composer all call it, so they agree.

    Examples
    --------
    >>> Guardrails()
    Guardrails(quiet_hours=QuietHours(08:00-21:00 local))
    >>> Guardrails(quiet_hours=None)
    Guardrails(quiet_hours=None)
    """

    suppression: Suppression | None = None
    quiet_hours: QuietHours | None = field(default_factory=QuietHours)
    budget: Budget | None = None
    frequency_cap: FrequencyCap | None = None
    #: before a live send, ask the provider which numbers it reports opted out or blocked
    #: (TextUs: every number, 50 a request; Sociocs: a sample of `OPT_OUT_SAMPLE`, one
    #: request each; Bird has no lookup) and suppress them in the ledger
    provider_opt_outs: bool = True

    def __post_init__(self) -> None:
        for name, kind in (("suppression", Suppression), ("quiet_hours", QuietHours),
                           ("budget", Budget), ("frequency_cap", FrequencyCap)):
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                raise TypeError(f"Guardrails({name}=...) takes a {kind.__name__} or None, not "
                                f"{type(value).__name__}")

    def __repr__(self) -> str:
        parts = [f"{name}={value!r}" for name, value in (
            ("suppression", self.suppression), ("quiet_hours", self.quiet_hours),
            ("budget", self.budget), ("frequency_cap", self.frequency_cap),
        ) if value is not None or name == "quiet_hours"]
        if not self.provider_opt_outs:
            parts.append("provider_opt_outs=False")
        return f"Guardrails({', '.join(parts)})"
