"""Moved to `campaignkit.composer`; these names stay importable from here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from .composer import Composer, placeholder
from .composer._html import chart
from .results import results_summary

__all__ = ["Composer", "StatusChart", "placeholder", "status_chart"]


@dataclass(frozen=True)
class StatusChart:
    """Rows per status of a results frame as a horizontal bar chart (HTML, no matplotlib)."""

    counts: Mapping[str, int]

    def __repr__(self) -> str:
        shown = ", ".join(f"{n} {status}" for status, n in self.counts.items())
        return f"<StatusChart {shown or 'no rows'}>"

    def _repr_html_(self) -> str:
        return chart(self.counts)


def status_chart(results: pd.DataFrame) -> StatusChart:
    """The statuses of a results frame (`send`) with at least one row, as a `StatusChart`.

    >>> status_chart(results)  # doctest: +SKIP
    <StatusChart 58 dry-run, 6 skipped>
    """
    return StatusChart({s: n for s, n in results_summary(results).counts.items() if n})
