"""The morning after: what a campaign manager looks at once `refresh` has run.

`report` counts delivered / failed / pending / opted out, breaks failures down by error code
and by country, sets the segments billed against the estimate and lists replies; it shows
itself in a notebook (escaped HTML and a chart) and saves as PNG or HTML. `undelivered`
returns the rows worth a follow-up campaign.

>>> import pandas as pd
>>> results = pd.DataFrame({"to": ["+16175550001", "+447700900123"], "status": ["sent"] * 2,
...                         "delivery": ["delivered", "undelivered"],
...                         "error_code": [None, "30003"], "error_text": [None, "Unreachable"]})
>>> report(results).counts
{'delivered': 1, 'failed': 1, 'pending': 0, 'opted out': 0, 'not sent': 0}
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import phonenumbers

from .outcomes import OutcomeStore

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["HARD_FAILURES", "Report", "report", "undelivered"]

#: Error codes that a resend cannot fix: an invalid or landline number (21614, 30006), a
#: number that opted out (21610), an unknown handset (30005)
#: (https://www.twilio.com/docs/api/errors). Others (unreachable 30003, filtered 30007, a
#: Bird or TextUs failure without a code) may succeed later.
HARD_FAILURES = frozenset({"21610", "21614", "30005", "30006"})
_DELIVERED = ("delivered", "read")
_FAILED = ("failed", "undelivered")
_COLOURS = {"delivered": "#2e7d32", "failed": "#c62828", "pending": "#f9a825",
            "opted out": "#6a1b9a", "not sent": "#9e9e9e"}


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _country(number: Any) -> str:
    try:
        parsed = phonenumbers.parse(str(number), None)
    except phonenumbers.NumberParseException:
        return "unknown"
    # By calling code, not by number: a reserved or unassigned range still has a country.
    region = phonenumbers.region_code_for_country_code(parsed.country_code or 0)
    return "unknown" if region == phonenumbers.UNKNOWN_REGION else str(region)


def _outcome(frame: pd.DataFrame, opted: set[str]) -> pd.Series:
    """Each row's bucket: delivered, failed, pending, opted out or not sent."""
    status = _column(frame, "status").astype(object)
    delivery = _column(frame, "delivery").astype(object)
    to = _column(frame, "to").astype(object)
    out = []
    for s, d, n in zip(status, delivery, to, strict=True):
        if n in opted:
            out.append("opted out")
        elif d in _DELIVERED:
            out.append("delivered")
        elif d in _FAILED or s == "failed":
            out.append("failed")
        elif s in ("sent", "unknown"):
            out.append("pending")
        else:
            out.append("not sent")
    return pd.Series(out, index=frame.index, dtype="str")


@dataclass
class Report:
    """The morning-after view of one campaign's results (see `report`)."""

    campaign: str | None
    counts: dict[str, int]
    failures_by_code: pd.DataFrame
    failures_by_country: pd.DataFrame
    segments_billed: int | None
    segments_estimated: int | None
    replies: pd.DataFrame | None = None
    outcome: pd.Series = field(default_factory=lambda: pd.Series(dtype="str"), repr=False)

    # -- the chart -----------------------------------------------------------------------

    def figure(self) -> Figure:
        """A matplotlib figure: one horizontal bar per outcome, with its count."""
        from matplotlib.figure import Figure

        names = [n for n in self.counts if self.counts[n] or n != "not sent"]
        values = [self.counts[n] for n in names]
        fig = Figure(figsize=(6.0, 0.5 + 0.45 * len(names)), dpi=100)
        ax = fig.add_subplot()
        bars = ax.barh(names[::-1], values[::-1], color=[_COLOURS[n] for n in names[::-1]])
        ax.bar_label(bars, padding=3)
        ax.set_xlim(0, max([*values, 1]) * 1.15)
        ax.spines[["top", "right"]].set_visible(False)
        ax.set_title(f"{self.campaign or 'campaign'}: {sum(values):,} rows", loc="left")
        fig.tight_layout()
        return fig

    def _png(self) -> bytes:
        buffer = io.BytesIO()
        self.figure().savefig(buffer, format="png")
        return buffer.getvalue()

    # -- text and HTML -------------------------------------------------------------------

    def _cost_line(self) -> str:
        if self.segments_billed is None and self.segments_estimated is None:
            return "segments: not known"
        billed = "not reported" if self.segments_billed is None else f"{self.segments_billed:,}"
        estimate = "-" if self.segments_estimated is None else f"{self.segments_estimated:,}"
        return f"segments billed {billed} (estimated {estimate})"

    def __repr__(self) -> str:
        parts = ", ".join(f"{k} {v:,}" for k, v in self.counts.items())
        replies = 0 if self.replies is None else len(self.replies)
        return (f"<Report {self.campaign!r}: {parts}; {self._cost_line()}; "
                f"{replies} replies>")

    def _table(self, frame: pd.DataFrame, empty: str) -> str:
        if frame.empty:
            return f"<p>{html.escape(empty)}</p>"
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
            for row in frame.itertuples(index=False))
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"

    def _repr_html_(self) -> str:
        image = base64.b64encode(self._png()).decode("ascii")
        counts = "".join(f"<li>{html.escape(k)}: <b>{v:,}</b></li>"
                         for k, v in self.counts.items())
        replies = ("<p>no replies read</p>" if self.replies is None else self._table(
            self.replies[[c for c in ("number", "text", "kind", "key")
                          if c in self.replies.columns]].head(20), "no replies"))
        return (
            f"<div class=\"campaignkit-report\"><h3>{html.escape(self.campaign or 'campaign')}"
            f"</h3><img alt=\"outcomes chart\" src=\"data:image/png;base64,{image}\"/>"
            f"<ul>{counts}</ul><p>{html.escape(self._cost_line())}</p>"
            f"<h4>Failures by error code</h4>"
            f"{self._table(self.failures_by_code, 'no failures')}"
            f"<h4>Failures by country</h4>"
            f"{self._table(self.failures_by_country, 'no failures')}"
            f"<h4>Replies</h4>{replies}</div>"
        )

    def save(self, path: str | Path) -> Path:
        """Write the chart as ``.png``, or the whole report as ``.html``; returns the path."""
        target = Path(path)
        suffix = target.suffix.lower()
        if suffix == ".png":
            target.write_bytes(self._png())
        elif suffix in (".html", ".htm"):
            page = ("<!doctype html><meta charset=\"utf-8\"><title>campaignkit report</title>"
                    + self._repr_html_())
            target.write_text(page, encoding="utf-8")
        else:
            raise ValueError(f"report.save({str(path)!r}): give a .png or .html path")
        return target


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return str(value)


def report(
    results: pd.DataFrame,
    *,
    replies: pd.DataFrame | None = None,
    store: OutcomeStore | None = None,
) -> Report:
    """What happened to a campaign: counts, failures by code and country, cost, replies.

    Parameters
    ----------
    results:
        The frame `refresh` returned (``status``, ``delivery``, ``error_code``,
        ``error_text``, ``to``; ``segments`` and ``segments_billed`` when present).
    replies:
        The frame `replies` returned, shown under the counts.
    store:
        The outcome store: its suppressed numbers count as "opted out".

    Each row is in one bucket: ``opted out`` (its number is suppressed), ``delivered``,
    ``failed`` (undelivered, failed, or refused at send), ``pending`` (sent or unknown, no
    final state yet) or ``not sent`` (skipped, waiting, held back).
    """
    opted: set[str] = set() if store is None else set(store.suppressed())
    if replies is not None and "kind" in replies.columns:
        opted |= set(replies.loc[replies["kind"] == "stop", "number"])
    outcome = _outcome(results, opted)
    counts = {name: int((outcome == name).sum())
              for name in ("delivered", "failed", "pending", "opted out", "not sent")}
    failed = results[outcome == "failed"]
    codes = pd.DataFrame({
        "error_code": _column(failed, "error_code").astype(object).fillna("-"),
        "error_text": _column(failed, "error_text").astype(object)
        .fillna(_column(failed, "error").astype(object)).fillna(""),
    })
    by_code = (codes.groupby(["error_code", "error_text"], dropna=False).size()
               .rename("rows").reset_index().sort_values(["rows", "error_code"],
                                                         ascending=[False, True])
               .reset_index(drop=True))
    sent = results[outcome != "not sent"]
    countries = pd.DataFrame({"country": [_country(n) for n in _column(sent, "to")],
                              "failed": (outcome[outcome != "not sent"] == "failed").to_numpy()})
    by_country = (countries.groupby("country").agg(rows=("failed", "size"),
                                                   failed=("failed", "sum"))
                  .reset_index())
    by_country = by_country[by_country["failed"] > 0].sort_values(
        ["failed", "country"], ascending=[False, True]).reset_index(drop=True)
    billed = _column(results, "segments_billed")
    billed_total = int(pd.to_numeric(billed, errors="coerce").sum()) \
        if pd.to_numeric(billed, errors="coerce").notna().any() else None
    estimate = _column(sent, "segments")
    estimated = int(pd.to_numeric(estimate, errors="coerce").fillna(0).sum()) \
        if "segments" in results.columns else None
    return Report(
        campaign=results.attrs.get("campaign"),
        counts=counts,
        failures_by_code=by_code,
        failures_by_country=by_country.astype({"failed": "int64"}),
        segments_billed=billed_total,
        segments_estimated=estimated,
        replies=replies,
        outcome=outcome,
    )


def undelivered(
    results: pd.DataFrame, *, store: OutcomeStore | None = None,
    hard: Iterable[str] = HARD_FAILURES,
) -> pd.DataFrame:
    """The rows worth a follow-up campaign: failed or undelivered, neither opted out nor hard.

    Hard failures (`HARD_FAILURES`: invalid, landline, unknown or opted-out numbers) are left
    out, and so is every number the store suppresses. The frame keeps the sheet's columns and
    index, ready for ``render`` (``results.pipe(ck.undelivered)``).
    """
    opted = set() if store is None else set(store.suppressed())
    codes = _column(results, "error_code").astype(object)
    outcome = _outcome(results, opted)
    keep = (outcome == "failed") & ~codes.isin(set(hard))
    return results[keep.to_numpy()].copy()
