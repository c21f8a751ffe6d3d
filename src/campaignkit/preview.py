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
>>> from datetime import UTC, datetime
>>> noon = datetime(2026, 12, 2, 18, tzinfo=UTC)
>>> frame = preview(rendered, TextUs("my_account", "token", "sms"), now=noon)
>>> frame.loc[2, "body"]
{'to': '+13035551234', 'body': 'New phone who dis?'}
>>> Preview(frame)
<Preview: 1 row, 1 ready to send, 0 with problems>
"""

from __future__ import annotations

import html
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from ._errors import EXAMPLES, SendError, require
from .channels._base import Channel
from .decisions import decide
from .guardrails import Guardrails
from .guardrails._quiet import check_now
from .ledger import Ledger
from .plan import read_history
from .problems import Problem

__all__ = ["PREVIEW_COLUMNS", "Preview", "preview", "preview_html"]

logger = logging.getLogger(__name__)

PREVIEW_COLUMNS = ("fate", "reason", "method", "url", "headers", "body", "problems")


def preview(
    rendered: pd.DataFrame,
    channel: Channel,
    *,
    campaign: str | None = None,
    ledger: Ledger | str | os.PathLike[str] | None = None,
    guardrails: Guardrails | None = None,
    key: str | None = None,
    limit: int | None = None,
    rate: float | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """The request each row of ``rendered`` would make through ``channel``, sending nothing.

    Every row's fate comes from `campaignkit.decide`, the function `send` calls, so the
    rows called ready here are the rows `send` sends.

    Parameters
    ----------
    rendered
        The rendered frame (``to``, ``text``, ``media``, ``template``, ``problems`` and the
        sheet's columns), indexed by sheet row number.
    channel
        The channel the campaign goes out on.
    campaign, ledger, guardrails, key, limit, rate, now
        As for `send`: with ``campaign`` the preview knows what earlier runs sent.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``rendered``, with columns ``fate`` and ``reason`` (see
        `campaignkit.decide`), ``method``, ``url``, ``headers`` (a dict, secrets redacted),
        ``body`` (the JSON body as a dict, secrets redacted) and ``problems`` (the row's
        own problems, then the provider's). A row with problems gets no request: its
        method, url, headers and body are None.
    """
    require("rendered", rendered, pd.DataFrame, EXAMPLES["frame"], SendError)
    require("channel", channel, Channel, EXAMPLES["channel"], SendError)
    require("guardrails", guardrails, Guardrails, EXAMPLES["guardrails"], SendError,
            optional=True)
    guard = Guardrails() if guardrails is None else guardrails
    moment = check_now(now)
    decisions = decide(rendered, channel, campaign=campaign or "", guardrails=guard, key=key,
                       limit=limit, rate=rate, now=moment,
                       history=read_history(channel, campaign, ledger, guard, moment))
    table = decisions.table
    columns: dict[str, list[Any]] = {name: [] for name in PREVIEW_COLUMNS}
    records = rendered.to_dict("records")
    debug = logger.isEnabledFor(logging.DEBUG)
    for label, row, row_key, fate, reason, found in zip(
            rendered.index, records, table["key"], table["fate"], table["reason"],
            table["problems"], strict=True):
        columns["fate"].append(fate)
        columns["reason"].append(reason)
        columns["problems"].append(tuple(found))
        if found or fate in ("skipped", "duplicate"):
            for name in ("method", "url", "headers", "body"):
                columns[name].append(None)
            continue
        wire = f"{campaign}:{row_key}" if campaign else str(row_key)
        described = channel.describe(channel.build_request(row, key=wire))
        for name in ("method", "url", "headers", "body"):
            columns[name].append(described[name])
        if debug:
            logger.debug("row %s: %s %s %s", label, described["method"], described["url"],
                         json.dumps(described["body"], ensure_ascii=False))
    logger.debug("preview through %s: %d rows, %d with problems", channel.label,
                 len(rendered), sum(1 for p in columns["problems"] if p))
    return pd.DataFrame(
        {name: pd.Series(values, index=rendered.index, dtype=object)
         for name, values in columns.items()},
        index=rendered.index,
    )


# -- notebook display ---------------------------------------------------------------------


def _summary(frame: pd.DataFrame) -> str:
    ready = int((frame["fate"] == "send").sum())
    blocked = sum(1 for problems in frame["problems"] if problems)
    held = len(frame) - ready - blocked
    rows = "row" if len(frame) == 1 else "rows"
    tail = f", {held} held back" if held else ""
    return f"{len(frame)} {rows}, {ready} ready to send, {blocked} with problems{tail}"


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
        if record["method"] is None:
            request = "<em>not sent</em>"
            listed = "".join(f"<li>{html.escape(str(p))}</li>" for p in problems) or (
                f"<li>{html.escape(str(record['reason']))}</li>")
            problem_cell = f"<ul style=\"margin:0\">{listed}</ul>"
        else:
            request = html.escape(f"{record['method']} {record['url']}") + _pre(record["headers"])
            problem_cell = ("" if record["fate"] == "send" else
                            f"<em>{html.escape(str(record['fate']))}</em>: "
                            f"{html.escape(str(record['reason']))}")
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
