"""campaignkit: run SMS and WhatsApp campaigns from a spreadsheet, in Jupyter and in a terminal.

sheet → `load_recipients` → `render` → `preview` → `send` (a dry run unless ``live=True``)
→ `save_results`. `summary` describes any of those frames.
"""

from ._errors import (
    AuthFailed,
    CampaignChanged,
    CampaignError,
    CampaignPaused,
    ChannelError,
    ColumnError,
    DataError,
    JournalLocked,
    LimitExceeded,
    LookupInconclusive,
    SendError,
    TemplateError,
)
from .channels import Bird, ContactSaving, Sociocs, TextUs
from .guardrails import Budget, FrequencyCap, Guardrails, QuietHours, SendPlan, Suppression, plan
from .journal import Journal
from .message import Media, Message, Template
from .outcomes import (
    SqliteOutcomeStore,
    blocked_numbers,
    refresh,
    refresh_async,
    replies,
    replies_async,
)
from .preview import Preview, preview
from .problems import Problem, problems_table
from .recipients import LoadSummary, load_recipients
from .report import Report, report, undelivered
from .results import ResultsSummary, save_results
from .sandbox import Faults, Sandbox, SandboxCredentials, Story
from .sending import send, send_async
from .summaries import summary
from .templating import render
from .widgets import Composer

__all__ = [
    "AuthFailed",
    "Bird",
    "Budget",
    "CampaignChanged",
    "CampaignError",
    "CampaignPaused",
    "ChannelError",
    "ColumnError",
    "Composer",
    "ContactSaving",
    "DataError",
    "Faults",
    "FrequencyCap",
    "Guardrails",
    "Journal",
    "JournalLocked",
    "LimitExceeded",
    "LoadSummary",
    "LookupInconclusive",
    "Media",
    "Message",
    "Preview",
    "Problem",
    "QuietHours",
    "Report",
    "ResultsSummary",
    "Sandbox",
    "SandboxCredentials",
    "SendError",
    "SendPlan",
    "Sociocs",
    "SqliteOutcomeStore",
    "Story",
    "Suppression",
    "Template",
    "TemplateError",
    "TextUs",
    "blocked_numbers",
    "load_recipients",
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
    "undelivered",
]
