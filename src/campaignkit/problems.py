"""Per-row problems: what is wrong with a row, where, and how to fix it.

Every frame campaignkit returns has a ``problems`` column holding a tuple of `Problem`
per row (the empty tuple when there are none: a singleton, so a million clean rows cost
nothing). A row with any problem is never sent; it is reported ``skipped`` with them.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["Problem", "ProblemKind", "add_problems", "problems_table", "row_number"]

ProblemKind = Literal[
    "invalid-phone",  # the number cannot be made valid E.164
    "missing-phone",  # the phone cell is empty
    "duplicate",  # rows sharing a key with different messages
    "missing-value",  # a template uses a column whose cell is empty, or that does not exist
    "template",  # the template failed for this row (filter error, bad date...)
    "content",  # the message breaks a provider's rule (no content, media not allowed, too long)
    "schedule",  # a schedule in the wrong format or too far ahead
    "suppressed",  # the number is on the suppression list
    "sheet",  # the sheet itself (header whitespace, empty rows): reported, not per recipient
    "country-not-allowed",  # a valid number in a country outside load_recipients(countries=)
    "damaged-row",  # the file's text broke this row (a stray quote swallowed the next lines)
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem with one row, naming the row and the column.

    >>> str(Problem(17, "phone", '"0712 3456" is not a valid GB number', "invalid-phone"))
    'row 17, column "phone": "0712 3456" is not a valid GB number'
    """

    row: int | None
    column: str | None
    message: str
    kind: ProblemKind

    def __str__(self) -> str:  # one f-string a case: a million rows' reasons are made here
        row, column, message = self.row, self.column, self.message
        if row is None:
            return message if column is None else f'column "{column}": {message}'
        return f"row {row}: {message}" if column is None else (
            f'row {row}, column "{column}": {message}')


def row_number(label: Hashable) -> int | None:
    """The sheet row number of an index label (an integer), or None for any other label.

    The one rule every message uses: a frame indexed by sheet row says "row 12"; a frame
    with another index names no row rather than a wrong one.

    >>> row_number(12), row_number(np.int64(12)), row_number("a"), row_number(True)
    (12, 12, None, None)
    """
    if isinstance(label, bool | np.bool_):
        return None
    if isinstance(label, int | np.integer):
        return int(label)
    return None


def add_problems(frame: pd.DataFrame, found: dict[int, Iterable[Problem]]) -> pd.DataFrame:
    """Return a copy of ``frame`` whose ``problems`` are extended with ``found`` (by index)."""
    out = frame.copy()
    if not found:
        return out
    current = out["problems"]
    # Built as a list: assigning a tuple through .at would be unpacked as list-like.
    values = [
        tuple(old) + tuple(found[label]) if label in found else old
        for label, old in current.items()
    ]
    out["problems"] = pd.Series(values, index=current.index, dtype=object)
    return out


def problems_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Every problem of ``frame`` as a flat table with columns row, column, kind, problem."""
    rows = [
        (p.row, p.column, p.kind, str(p))
        for problems in frame["problems"]
        for p in problems
    ]
    return pd.DataFrame(rows, columns=["row", "column", "kind", "problem"])
