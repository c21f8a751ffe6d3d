"""`summary`: one front door to describe any frame campaignkit returns."""

from __future__ import annotations

import pandas as pd

from .recipients import LoadSummary, load_summary
from .results import ResultsSummary, results_summary

__all__ = ["summary"]


def summary(frame: pd.DataFrame) -> LoadSummary | ResultsSummary:
    """Summarise a recipients or rendered frame (`LoadSummary`) or a results frame.

    Both summaries have a one-line repr and a small HTML repr for notebooks.
    """
    if "status" in frame.columns:
        return results_summary(frame)
    return load_summary(frame)
