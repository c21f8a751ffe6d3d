"""The audience filter: column / operator / value conditions, evaluated vectorised.

Never evaluated code: a Voila page must not run what a visitor types, so a condition is
data (three strings) and each operator is one pandas string or comparison method.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["OPERATORS", "Condition", "audience_mask", "condition_problem"]

#: operator -> whether it takes a value
OPERATORS: dict[str, bool] = {
    "is": True,
    "is not": True,
    "contains": True,
    "does not contain": True,
    "starts with": True,
    "is one of": True,
    "is more than": True,
    "is less than": True,
    "is empty": False,
    "is not empty": False,
}


@dataclass(frozen=True)
class Condition:
    """``column operator value``, e.g. ``Condition("Clinic", "is", "Riverside Clinic")``."""

    column: str
    operator: str
    value: str = ""

    def __str__(self) -> str:
        tail = f" “{self.value}”" if OPERATORS.get(self.operator) else ""
        return f"{self.column} {self.operator}{tail}"


def _number(value: str) -> float | None:
    try:
        return float(value.replace(",", "").strip())
    except ValueError:
        return None


def condition_problem(condition: Condition, columns: Sequence[str]) -> str | None:
    """Why ``condition`` cannot be applied (one sentence), or None."""
    if condition.column not in columns:
        return f"the filter names the column “{condition.column}”, which the sheet does not have"
    if condition.operator not in OPERATORS:
        return f"“{condition.operator}” is not a filter operator: pick one from the list"
    if condition.operator in ("is more than", "is less than") and _number(condition.value) is None:
        return f"“{condition.column} {condition.operator}” needs a number, not “{condition.value}”"
    return None


def _one(cells: pd.Series, condition: Condition) -> pd.Series:
    op = condition.operator
    value = condition.value.strip().casefold()
    folded = cells.str.strip().str.casefold()
    if op == "is":
        return folded == value
    if op == "is not":
        return folded != value
    if op == "contains":
        return folded.str.contains(value, regex=False)
    if op == "does not contain":
        return ~folded.str.contains(value, regex=False)
    if op == "starts with":
        return folded.str.startswith(value)
    if op == "is one of":
        wanted = {v.strip().casefold() for v in condition.value.split(",") if v.strip()}
        return folded.isin(wanted)
    if op == "is empty":
        return folded == ""
    if op == "is not empty":
        return folded != ""
    numbers = pd.to_numeric(cells.str.replace(",", "", regex=False), errors="coerce")
    limit = _number(condition.value)
    assert limit is not None  # condition_problem rules it out
    return numbers > limit if op == "is more than" else numbers < limit


def audience_mask(frame: pd.DataFrame, conditions: Sequence[Condition]) -> pd.Series:
    """Boolean Series on ``frame.index``: the rows every condition keeps (all of them: AND)."""
    keep = pd.Series(np.ones(len(frame), dtype=bool), index=frame.index)
    for condition in conditions:
        cells = frame[condition.column].astype(object).where(frame[condition.column].notna(), "")
        keep &= _one(cells.astype(str), condition).fillna(False).astype(bool)
    return keep
