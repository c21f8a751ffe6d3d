"""The one exception tree of campaignkit.

Bulk work never raises for a single row: a row's trouble becomes a `Problem` in its
``problems`` column and the other rows go on. These exceptions are for what stops the
whole operation, and every message names the row, the column or the provider status,
and the fix::

    CampaignError
    ├── DataError             the sheet cannot be read as recipients
    │   └── ColumnError       a column is missing or ambiguous (lists the columns found)
    ├── TemplateError         the message template itself is broken (syntax, ambiguous name)
    ├── ChannelError          a channel is configured wrongly (provider, option, secret)
    └── SendError             the campaign cannot go on (``.results`` when rows were decided)
        ├── CampaignChanged   the same campaign name with a different message
        ├── CampaignLocked    another process is sending this campaign
        ├── ClaimLost         this process no longer holds the campaign: it sends no more
        ├── LedgerError       the ledger cannot be opened or written (path, why, fix)
        ├── AuthFailed        the provider refused the credentials (401/403): halted
        ├── Unreachable       the provider cannot be reached at all (DNS, refused): halted
        ├── CampaignPaused    a Retry-After longer than the cap: rows left waiting
        ├── LookupInconclusive a reconciliation lookup proved neither sent nor absent
        └── LimitExceeded     a budget or guardrail refuses the campaign before any send
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AuthFailed",
    "CampaignChanged",
    "CampaignError",
    "CampaignLocked",
    "CampaignPaused",
    "ChannelError",
    "ClaimLost",
    "ColumnError",
    "DataError",
    "JournalLocked",
    "LedgerError",
    "LimitExceeded",
    "LookupInconclusive",
    "SendError",
    "TemplateError",
    "Unreachable",
]

#: what each argument of the verbs takes, as the sentence refusing a wrong one says it
EXAMPLES = {
    "frame": "a DataFrame, the one render(...) returns",
    "channel": "a channel: Sociocs(...), TextUs(...) or Bird(...)",
    "guardrails": "a Guardrails, e.g. Guardrails(quiet_hours=None), or None",
}


class CampaignError(Exception):
    """Root of every error campaignkit raises."""


class DataError(CampaignError):
    """The recipients sheet cannot be read (format, encoding, shape)."""


class ColumnError(DataError):
    """A required column is missing or more than one column matches."""


class TemplateError(CampaignError):
    """The message template cannot be compiled or refers to columns ambiguously."""


class ChannelError(CampaignError):
    """A channel's configuration is invalid."""


class SendError(CampaignError):
    """The campaign cannot be sent or go on.

    ``results`` is the results frame when the run had decided its rows (a halt after the
    first refusal, a pause): every row's status, so nothing is lost. None before that.
    """

    results: pd.DataFrame | None = None


class CampaignChanged(SendError):
    """The ledger holds this campaign with a different message or channel."""


class CampaignLocked(SendError):
    """Another process is sending this campaign (it holds the campaign's claim)."""


#: the name of `CampaignLocked` in campaignkit 0.1, kept for one release
JournalLocked = CampaignLocked


class ClaimLost(SendError):
    """This process no longer holds the campaign's claim, so it sends nothing more."""


class LedgerError(SendError):
    """The ledger cannot be opened, read or written; the message names the path and the fix."""


class Unreachable(SendError):
    """No request reached the provider (DNS, connection refused): the campaign halted."""


class AuthFailed(SendError):
    """The provider answered 401 or 403; the campaign halted after the first one."""


class CampaignPaused(SendError):
    """The provider asked to wait longer than the configured cap; rows are left waiting."""

    def __init__(self, message: str, *, retry_after: float, resume_at: str | None = None
                 ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.resume_at = resume_at


class LimitExceeded(SendError):
    """A budget or guardrail refused the campaign before anything was sent."""


class LookupInconclusive(SendError):
    """A reconciliation lookup could not prove whether the message was accepted.

    The row stays in doubt (never resent automatically); the message says why.
    """


def require(name: str, value: object, kind: type | tuple[type, ...], example: str,
            error: type[CampaignError], *, optional: bool = False) -> None:
    """Refuse an argument of the wrong type in one sentence (``name= takes …, not int``)
    rather than an AttributeError from deep inside."""
    if not (isinstance(value, kind) or (optional and value is None)):
        raise error(f"{name}= takes {example}, not {type(value).__name__}")
