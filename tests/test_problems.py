"""Problems name the row and the column, and travel with the frame."""

from __future__ import annotations

import pandas as pd

from campaignkit import Problem, problems_table
from campaignkit.problems import add_problems


def test_problem_str_names_row_and_column() -> None:
    """A problem reads like a spreadsheet reference followed by what is wrong."""
    problem = Problem(17, "phone", '"0712 3456" is not a valid GB number', "invalid-phone")
    assert str(problem) == 'row 17, column "phone": "0712 3456" is not a valid GB number'


def test_problem_without_row_or_column() -> None:
    """A sheet-level problem has neither row nor column and reads as its message."""
    assert str(Problem(None, None, "2 empty rows were dropped", "sheet")) == (
        "2 empty rows were dropped"
    )
    assert str(Problem(4, None, "is empty", "sheet")) == "row 4: is empty"


def _frame() -> pd.DataFrame:
    frame = pd.DataFrame(
        {"to": ["+16175551212", ""], "problems": [(), ()]},
        index=pd.Index([2, 3], name="row"),
    )
    frame["problems"] = pd.Series([(), ()], index=frame.index, dtype=object)
    return frame


def test_add_problems_extends_and_never_mutates() -> None:
    """add_problems returns a new frame; the caller's frame keeps its empty tuples."""
    frame = _frame()
    bad = Problem(3, "phone", "is empty", "missing-phone")
    out = add_problems(frame, {3: [bad]})
    assert out["problems"].tolist() == [(), (bad,)]
    assert frame["problems"].tolist() == [(), ()]
    assert out.index.tolist() == [2, 3]


def test_problems_table_is_flat() -> None:
    """problems_table lists every problem with its row, column and kind."""
    bad = Problem(3, "phone", "is empty", "missing-phone")
    table = problems_table(add_problems(_frame(), {3: [bad]}))
    assert table.to_dict("records") == [
        {"row": 3, "column": "phone", "kind": "missing-phone",
         "problem": 'row 3, column "phone": is empty'}
    ]
