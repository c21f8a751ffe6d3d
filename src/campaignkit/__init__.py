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
from .composer import Composer
from .guardrails import Budget, FrequencyCap, Guardrails, QuietHours, SendPlan, Suppression, plan
from .journal import Journal
from .message import Media, Message, Template
from .preview import Preview, preview
from .problems import Problem, problems_table
from .recipients import LoadSummary, load_recipients
from .results import ResultsSummary, save_results
from .sandbox import Faults, Sandbox, SandboxCredentials
from .sending import send, send_async
from .summaries import summary
from .templating import render

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
    "ResultsSummary",
    "Sandbox",
    "SandboxCredentials",
    "SendError",
    "SendPlan",
    "Sociocs",
    "Suppression",
    "Template",
    "TemplateError",
    "TextUs",
    "load_recipients",
    "plan",
    "preview",
    "problems_table",
    "render",
    "save_results",
    "send",
    "send_async",
    "summary",
]
