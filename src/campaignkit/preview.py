"""Preview: the exact request each row would make, with every secret redacted.

`preview` returns a plain DataFrame (indexed like the rendered frame) so it filters,
exports and tests like any other frame. For a notebook, wrap it in `Preview` (or call
`preview_html`) to see the first rows as a small, escaped HTML table; a DataFrame
subclass with its own ``_repr_html_`` would be lost on the first ``.loc`` or ``.copy``.

>>> import pandas as pd
>>> from campaignkit.channels import TextUs
>>> rendered = pd.DataFrame(
...     {"to": ["+13035551234"], "text": ["New phone who dis?"], "media": [()],
...      "template": [None], "problems": [()]},
...     index=pd.Index([2], name="row"))
>>> frame = preview(rendered, TextUs("my_account", "token", "sms"))
>>> frame.loc[2, "body"]
{'to': '+13035551234', 'body': 'New phone who dis?'}
>>> Preview(frame)
<Preview: 1 row, 1 ready to send, 0 with problems>
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._errors import DataError
from .channels._base import Channel
from .problems import Problem

__all__ = ["PREVIEW_COLUMNS", "Preview", "preview", "preview_html"]

logger = logging.getLogger(__name__)

PREVIEW_COLUMNS = ("method", "url", "headers", "body", "problems")


def preview(
    rendered: pd.DataFrame,
    channel: Channel,
    *,
    keys: pd.Series | Sequence[str] | None = None,
) -> pd.DataFrame:
    """The request each row of ``rendered`` would make through ``channel``, sending nothing.

    Parameters
    ----------
    rendered
        The rendered frame (``to``, ``text``, ``media``, ``template``, ``problems`` and the
        sheet's columns), indexed by sheet row number.
    channel
        The channel the campaign goes out on.
    keys
        Each row's key, sent where the provider has a reference field (Bird's
        ``reference``): a Series indexed like ``rendered`` or a sequence in row order.
        By default a row's key is its ``to`` number.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``rendered``, with columns ``method``, ``url``, ``headers`` (a dict,
        secrets redacted), ``body`` (the JSON body as a dict, secrets redacted) and
        ``problems`` (the row's own problems, then the provider's). A row with any problem
        gets no request: its method, url, headers and body are None.
    """
    row_keys = _keys(rendered, keys)
    columns: dict[str, list[Any]] = {name: [] for name in PREVIEW_COLUMNS}
    records = rendered.to_dict("records")
    debug = logger.isEnabledFor(logging.DEBUG)
    for label, row, key in zip(rendered.index, records, row_keys, strict=True):
        number = int(label) if isinstance(label, (int, np.integer)) else None
        own = row.get("problems")
        found = (tuple(own) if isinstance(own, (tuple, list)) else ()) + channel.problems(
            row, row_number=number
        )
        columns["problems"].append(found)
        if found:
            for name in ("method", "url", "headers", "body"):
                columns[name].append(None)
            continue
        to = row.get("to")
        described = channel.describe(
            channel.build_request(row, key=key if key is not None else str(to))
        )
        for name in ("method", "url", "headers", "body"):
            columns[name].append(described[name])
        if debug:
            logger.debug(
                "row %s: %s %s %s",
                label,
                described["method"],
                described["url"],
                json.dumps(described["body"], ensure_ascii=False),
            )
    logger.debug(
        "preview through %s: %d rows, %d with problems",
        channel.label,
        len(rendered),
        sum(1 for p in columns["problems"] if p),
    )
    return pd.DataFrame(
        {name: pd.Series(values, index=rendered.index, dtype=object)
         for name, values in columns.items()},
        index=rendered.index,
    )


def _keys(rendered: pd.DataFrame, keys: pd.Series | Sequence[str] | None) -> list[str | None]:
    if keys is None:
        return [None] * len(rendered)
    if isinstance(keys, pd.Series):
        missing = rendered.index.difference(keys.index)
        if len(missing):
            raise DataError(
                f"keys has no key for row(s) {list(missing[:5])}: give a key for every row "
                "of the rendered frame (a Series with the same index)"
            )
        return [str(k) for k in keys.loc[rendered.index]]
    if isinstance(keys, (str, bytes)) or not isinstance(keys, Sequence):
        raise DataError("keys must be a Series indexed like the frame or a list of keys")
    if len(keys) != len(rendered):
        raise DataError(
            f"keys has {len(keys)} keys for {len(rendered)} rows: give one key per row"
        )
    return [str(k) for k in keys]


# -- notebook display ---------------------------------------------------------------------


def _counts(frame: pd.DataFrame) -> tuple[int, int]:
    blocked = sum(1 for problems in frame["problems"] if problems)
    return len(frame) - blocked, blocked


def _summary(frame: pd.DataFrame) -> str:
    ready, blocked = _counts(frame)
    rows = "row" if len(frame) == 1 else "rows"
    return f"{len(frame)} {rows}, {ready} ready to send, {blocked} with problems"


def _pre(value: Mapping[str, Any] | None) -> str:
    if value is None:
        return ""
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return f"<pre style=\"margin:0;text-align:left\">{html.escape(text)}</pre>"


def preview_html(frame: pd.DataFrame, rows: int = 5) -> str:
    """The first ``rows`` rows of a `preview` frame as a small HTML table (all text escaped)."""
    shown = frame.head(rows)
    body = []
    for label, record in zip(shown.index, shown.to_dict("records"), strict=True):
        problems: tuple[Problem, ...] = record["problems"]
        if problems:
            request = "<em>not sent</em>"
            listed = "".join(f"<li>{html.escape(str(p))}</li>" for p in problems)
            problem_cell = f"<ul style=\"margin:0\">{listed}</ul>"
        else:
            request = html.escape(f"{record['method']} {record['url']}") + _pre(record["headers"])
            problem_cell = ""
        body.append(
            f"<tr><td>{html.escape(str(label))}</td><td style=\"text-align:left\">{request}</td>"
            f"<td>{_pre(record['body'])}</td><td style=\"text-align:left\">{problem_cell}</td></tr>"
        )
    more = len(frame) - len(shown)
    tail = f"<p>… and {more} more rows</p>" if more > 0 else ""
    return (
        "<div class=\"campaignkit-preview\">"
        f"<p><strong>Preview</strong>: {html.escape(_summary(frame))}</p>"
        "<table><thead><tr><th>row</th><th>request</th><th>body</th><th>problems</th></tr>"
        f"</thead><tbody>{''.join(body)}</tbody></table>{tail}</div>"
    )


@dataclass(frozen=True)
class Preview:
    """A `preview` frame shown in a notebook: a summary and the first ``rows`` requests.

    ``Preview(preview(rendered, channel))`` as the last line of a cell shows the HTML;
    the frame itself stays a plain DataFrame at ``.frame``.
    """

    frame: pd.DataFrame
    rows: int = 5

    def _repr_html_(self) -> str:
        return preview_html(self.frame, self.rows)

    def __repr__(self) -> str:
        return f"<Preview: {_summary(self.frame)}>"
