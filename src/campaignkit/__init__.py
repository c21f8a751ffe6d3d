"""campaignkit: run SMS and WhatsApp campaigns from a spreadsheet, in Jupyter and in a terminal.

sheet → `load_recipients` → `render` → `preview` → `send` (a dry run unless ``live=True``)
→ `save_results`. `summary` describes any of those frames.
"""

import warnings as _warnings
from typing import Any as _Any

from . import _logs  # noqa: F401  (library log lines stay quiet unless logging is set up)
from ._errors import (
    AuthFailed,
    CampaignChanged,
    CampaignError,
    CampaignLocked,
    CampaignPaused,
    ChannelError,
    ClaimLost,
    ColumnError,
    DataError,
    LedgerError,
    LimitExceeded,
    LookupInconclusive,
    SendError,
    TemplateError,
    Unreachable,
)
from .channels import Bird, ContactSaving, Sociocs, TextUs
from .composer import Composer
from .decisions import Decisions, decide
from .guardrails import Budget, FrequencyCap, Guardrails, QuietHours, Suppression
from .guardrails._suppression import suppress
from .ledger import Ledger, locate_ledger
from .message import Media, Message, Template
from .outcomes import (
    blocked_numbers,
    refresh,
    refresh_async,
    replies,
    replies_async,
)
from .plan import SendPlan, plan
from .preview import Preview, preview
from .problems import Problem, problems_table
from .recipients import LoadSummary, load_recipients
from .report import Report, report, undelivered
from .results import ResultsSummary, save_results
from .sandbox import Faults, Sandbox, SandboxCredentials, Story
from .sending import Pacing, Retry, send, send_async
from .summaries import summary
from .templating import render

_RENAMED = {"Journal": ("Ledger", Ledger), "JournalLocked": ("CampaignLocked", CampaignLocked)}


def __getattr__(name: str) -> _Any:
    """The names of campaignkit 0.1, kept for one release with a DeprecationWarning."""
    if name in _RENAMED:
        new, value = _RENAMED[name]
        _warnings.warn(f"campaignkit.{name} is now campaignkit.{new}", DeprecationWarning,
                      stacklevel=2)
        return value
    raise AttributeError(f"module 'campaignkit' has no attribute {name!r}")

__all__ = [
    "AuthFailed",
    "Bird",
    "Budget",
    "CampaignChanged",
    "CampaignError",
    "CampaignLocked",
    "CampaignPaused",
    "ChannelError",
    "ClaimLost",
    "ColumnError",
    "Composer",
    "ContactSaving",
    "DataError",
    "Decisions",
    "Faults",
    "FrequencyCap",
    "Guardrails",
    "Ledger",
    "LedgerError",
    "LimitExceeded",
    "LoadSummary",
    "LookupInconclusive",
    "Media",
    "Message",
    "Pacing",
    "Preview",
    "Problem",
    "QuietHours",
    "Report",
    "ResultsSummary",
    "Retry",
    "Sandbox",
    "SandboxCredentials",
    "SendError",
    "SendPlan",
    "Sociocs",
    "Story",
    "Suppression",
    "Template",
    "TemplateError",
    "TextUs",
    "Unreachable",
    "blocked_numbers",
    "decide",
    "load_recipients",
    "locate_ledger",
    "plan",
    "preview",
    "problems_table",
    "refresh",
    "refresh_async",
    "render",
    "replies",
    "replies_async",
    "report",
    "save_results",
    "send",
    "send_async",
    "summary",
    "suppress",
    "undelivered",
]
