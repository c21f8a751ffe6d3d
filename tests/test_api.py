"""The front door: `campaignkit.__all__` is exactly the curated public API."""

from __future__ import annotations

import pytest

import campaignkit

PUBLIC = [
    "AuthFailed", "Bird", "Budget", "CampaignChanged", "CampaignError", "CampaignLocked",
    "CampaignPaused", "ChannelError", "ClaimLost", "ColumnError", "Composer", "ContactSaving",
    "DataError", "Decisions", "Faults", "FrequencyCap", "Guardrails", "Ledger", "LedgerError",
    "LimitExceeded", "LoadSummary", "LookupInconclusive", "Media", "Message", "Pacing", "Preview",
    "Problem", "QuietHours", "Report", "ResultsSummary", "Retry", "Sandbox", "SandboxCredentials",
    "SendError", "SendPlan", "Sociocs", "Story", "Suppression", "Template",
    "TemplateError", "TextUs", "Unreachable", "blocked_numbers", "decide", "load_recipients",
    "locate_ledger", "plan", "preview", "problems_table", "refresh", "refresh_async", "render",
    "replies", "replies_async", "report", "save_results", "send", "send_async", "summary",
    "suppress", "undelivered",
]


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
    errors = [getattr(campaignkit, n) for n in PUBLIC if isinstance(getattr(campaignkit, n), type)
              and issubclass(getattr(campaignkit, n), Exception)]
    assert len(errors) == 15
    assert all(issubclass(e, campaignkit.CampaignError) for e in errors)


@pytest.mark.parametrize(("old", "new"), [("Journal", "Ledger"),
                                          ("JournalLocked", "CampaignLocked")])
def test_the_names_of_0_1_still_work_for_one_release_with_a_warning(old, new) -> None:
    """campaignkit.Journal and JournalLocked warn and give the new class."""
    with pytest.warns(DeprecationWarning, match=f"campaignkit.{old} is now campaignkit.{new}"):
        assert getattr(campaignkit, old) is getattr(campaignkit, new)
