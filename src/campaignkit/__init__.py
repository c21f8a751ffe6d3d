"""campaignkit: run SMS and WhatsApp campaigns from a spreadsheet, in Jupyter and in a terminal."""

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
    SendError,
    TemplateError,
)
from .message import Media, Message, Template
from .problems import Problem, problems_table

__all__ = [
    "AuthFailed",
    "CampaignChanged",
    "CampaignError",
    "CampaignPaused",
    "ChannelError",
    "ColumnError",
    "DataError",
    "JournalLocked",
    "LimitExceeded",
    "Media",
    "Message",
    "Problem",
    "SendError",
    "Template",
    "TemplateError",
    "problems_table",
]
