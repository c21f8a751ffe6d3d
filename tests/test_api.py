"""The front door: `campaignkit.__all__` is exactly the curated public API."""

from __future__ import annotations

import campaignkit

PUBLIC = [
    "AuthFailed", "Bird", "Budget", "CampaignChanged", "CampaignError", "CampaignPaused",
    "ChannelError", "ColumnError", "Composer", "ContactSaving", "DataError", "Faults",
    "FrequencyCap",
    "Guardrails", "Journal", "JournalLocked", "LimitExceeded", "LoadSummary",
    "LookupInconclusive", "Media", "Message", "Preview", "Problem", "QuietHours",
    "ResultsSummary", "Sandbox", "SandboxCredentials", "SendError", "SendPlan", "Sociocs",
    "Suppression", "Template", "TemplateError", "TextUs", "load_recipients", "plan", "preview",
    "problems_table", "render", "save_results", "send", "send_async", "summary",
]
# after the send (issue 15)
PUBLIC += ["Report", "SqliteOutcomeStore", "Story", "blocked_numbers", "refresh",
           "refresh_async", "replies", "replies_async", "report", "undelivered"]
PUBLIC.sort(key=lambda n: (n[0].islower(), n))


def test_all_is_the_curated_sorted_list() -> None:
    """__all__ lists exactly the public names, sorted (httpx test_exported_members)."""
    assert campaignkit.__all__ == PUBLIC
    assert campaignkit.__all__ == sorted(campaignkit.__all__, key=lambda n: (n[0].islower(), n))


def test_every_public_name_is_importable_and_nothing_else_is_public() -> None:
    """Every name in __all__ exists; no other public, non-module attribute leaks out."""
    exported = {name for name in dir(campaignkit) if not name.startswith("_")}
    modules = {name for name in exported if type(getattr(campaignkit, name)).__name__ == "module"}
    assert exported - modules == set(PUBLIC)


def test_errors_form_one_tree() -> None:
    """Every exception campaignkit exports derives from CampaignError."""
    errors = [getattr(campaignkit, n) for n in PUBLIC if n.endswith(("Error", "Failed",
              "Changed", "Locked", "Paused", "Exceeded", "Inconclusive"))]
    assert len(errors) == 12
    assert all(issubclass(e, campaignkit.CampaignError) for e in errors)
