"""The Composer's HTML pieces: pure functions of the state's views, every value escaped.

The tests parse what these return (never compare hand-typed HTML), so the class names are
the contract: ``ck-phone``, ``ck-bubble``, ``ck-error``, ``ck-totals``...
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pandas as pd

from ._views import Confirmation, Outcome, Progress, RowView, Totals

__all__ = [
    "STATUS_COLOURS", "STYLE", "chart", "confirmation", "counter", "error_line", "money",
    "outcome", "phone", "plural", "progress_line", "table", "totals_line", "warnings",
]

e = html.escape
STATUS_COLOURS = {
    "sent": "#2e7d32", "dry-run": "#1565c0", "failed": "#c62828", "skipped": "#9e9e9e",
    "unknown": "#ef6c00", "waiting": "#6d4c41", "suppressed": "#7b1fa2", "deferred": "#00838f",
    "capped": "#5d4037",
}  # fmt: skip

#: The Composer's own CSS (one <style> in the app): panels wrap, fields never clip at 800 px.
STYLE = """<style>
.ck-composer{max-width:100%;box-sizing:border-box}
.ck-composer .widget-text,.ck-composer .widget-textarea,.ck-composer .widget-dropdown,
.ck-composer .widget-password{max-width:100%}
.ck-panel{border:1px solid #ddd;border-radius:8px;padding:6px 10px;margin:4px;
  box-sizing:border-box;min-width:0}
.ck-composer .widget-html-content{line-height:1.4;overflow-wrap:break-word}
.ck-composer .widget-checkbox{width:auto;max-width:100%}
.ck-panel h3{margin:2px 0 4px 0;font-size:1.05em}
.ck-error{color:#b71c1c;background:#fdecea;border-radius:4px;padding:2px 6px;margin:2px 0}
.ck-warning{color:#8a4b00;background:#fff4e5;border-radius:4px;padding:2px 6px;margin:2px 0}
.ck-phone{width:260px;max-width:100%;border:10px solid #222;border-radius:28px;
  padding:14px 10px;background:#f4f4f8;box-sizing:border-box;margin:4px auto}
.ck-phone-to{font-size:.8em;color:#555;text-align:center;margin-bottom:8px}
.ck-bubble{background:#e5e5ea;color:#000;border-radius:16px;padding:8px 11px;
  white-space:pre-wrap;max-width:92%;word-wrap:break-word}
.ck-wa .ck-bubble{background:#dcf8c6;border-radius:8px}
.ck-wa{background:#ece5dd}
.ck-wa-template{font-size:.85em}
.ck-row-problems{color:#b71c1c;font-size:.85em;padding-left:1.2em}
.ck-table{border-collapse:collapse;font-size:.85em;width:100%}
.ck-table td:first-child,.ck-table th:first-child{white-space:nowrap}
.ck-table td,.ck-table th{border-bottom:1px solid #eee;padding:1px 6px;text-align:left}
.ck-scroll{max-height:18em;overflow:auto;max-width:100%}
.ck-request-text{white-space:pre-wrap;font-size:.8em;line-height:1.3;margin:0}
.ck-confirm-sentence{background:#fff8e1;border-left:4px solid #f9a825;padding:4px 8px}
</style>"""


def plural(n: int, word: str) -> str:
    """``1 number``, ``2 numbers``, ``1,000 numbers``."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def money(amount: Decimal | None, currency: str = "$") -> str:
    """``$0.58``; an amount under a cent keeps its digits (``$0.0083``)."""
    if amount is None:
        return "unknown"
    if amount and amount < Decimal("0.01"):
        return f"{currency}{amount.normalize():f}"
    return f"{currency}{amount.quantize(Decimal('0.01')):,}"


def error_line(text: str) -> str:
    """One error, beside the field it is about ("" when there is none)."""
    return f"<div class='ck-error' role='alert'>{e(text)}</div>" if text else ""


def warnings(items: Sequence[str]) -> str:
    """Warnings, one per line ("" when there are none)."""
    return "".join(f"<div class='ck-warning'>{e(w)}</div>" for w in items)


def _highlight(text: str, culprits: Sequence[str]) -> str:
    if not culprits:
        return e(text)
    pattern = "|".join(re.escape(c) for c in sorted(culprits, key=len, reverse=True))
    return "".join(
        f"<mark class='ck-ucs2' title='forces UCS-2'>{e(p)}</mark>" if i % 2 else e(p)
        for i, p in enumerate(re.split(f"({pattern})", text))
    )


def phone(view: RowView | None, note: str = "") -> str:
    """The current row as the recipient's phone shows it: an SMS bubble or a WhatsApp card."""
    if view is None:
        body = f"<div class='ck-empty'><i>{e(note or 'no message to show')}</i></div>"
        return f"<div class='ck-phone'>{body}</div>"
    kind = " ck-wa" if view.whatsapp else ""
    to = view.to or "no valid phone number"
    if view.template is not None:
        ident, variables = view.template
        rows = "".join(f"<li><code>{e(k)}</code> {e(v)}</li>" for k, v in variables)
        bubble = (f"<div class='ck-bubble ck-wa-template'><b>template {e(ident)}</b>"
                  f"<ul>{rows}</ul></div>")
    elif view.text is not None:
        bubble = f"<div class='ck-bubble ck-text'>{_highlight(view.text, view.culprits)}</div>"
    else:
        bubble = "<div class='ck-bubble ck-text ck-no-text'><i>no text</i></div>"
    problems = "".join(f"<li>{e(p)}</li>" for p in view.problems)
    listed = f"<ul class='ck-row-problems'>{problems}</ul>" if problems else ""
    return (f"<div class='ck-phone{kind}'><div class='ck-phone-to'>to {e(to)} · row "
            f"{e(str(view.label))} ({view.position:,} of {view.rows:,})</div>{bubble}</div>"
            f"{listed}")


def counter(view: RowView | None) -> str:
    """``GSM-7 · 1 segment · 103 characters``; WhatsApp has no segments."""
    if view is None or view.text is None:
        return "no text" if view is not None and view.template is None else ""
    if view.whatsapp:
        return f"WhatsApp · {view.characters:,} characters"
    plural = "" if view.segments == 1 else "s"
    return f"{view.encoding} · {view.segments} segment{plural} · {view.characters:,} characters"


# The plan's fates that are not "send" (a count of 0 is not shown).
_HELD = (("skipped", "with problems"), ("duplicate", "duplicate"),
         ("suppressed", "suppressed"), ("deferred", "deferred"), ("capped", "capped"),
         ("over-budget", "over budget"), ("waiting", "waiting"), ("already-sent", "already sent"))


def totals_line(totals: Totals) -> str:
    """Rows ready, segments, the cost estimate, and every row not sent now and why."""
    if totals.updating:
        return "<span class='ck-updating'>updating…</span>"
    if not totals.counts:
        return ""
    c = totals.counts
    head = f"{totals.to_send:,} of {totals.rows:,} rows ready"
    if totals.rows != totals.sheet_rows:
        head += f" (audience of {totals.sheet_rows:,})"
    parts = [head, f"{totals.segments:,} segments"]
    if totals.cost is not None:
        parts.append(f"about {money(totals.cost, totals.currency)} (estimate)")
    parts += [f"{c[k]:,} {word}{'s' if k == 'duplicate' and c[k] != 1 else ''}"
              for k, word in _HELD if c.get(k)]
    return e(" · ".join(parts))


def table(frame: pd.DataFrame, css: str, *, total: int | None = None) -> str:
    """A small escaped table of ``frame`` (index first) and how many rows are not shown."""
    head = "".join(f"<th>{e(str(c))}</th>" for c in [frame.index.name or "row", *frame])
    body = "".join(
        f"<tr><td>{e(str(label))}</td>"
        + "".join(f"<td>{e(_cell(v))}</td>" for v in values) + "</tr>"
        for label, values in zip(frame.index, frame.itertuples(index=False), strict=True)
    )
    more = (total or len(frame)) - len(frame)
    tail = f"<p class='ck-more'>… and {more:,} more rows</p>" if more > 0 else ""
    return (f"<div class='ck-scroll'><table class='ck-table {e(css)}'><thead><tr>{head}</tr>"
            f"</thead><tbody>{body}</tbody></table></div>{tail}")


def _cell(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def confirmation(conf: Confirmation | None) -> str:
    """The sentence a live send is confirmed by, and its warnings."""
    if conf is None:
        return ""
    notes = "".join(f"<div class='ck-warning'>{e(w)}</div>" for w in conf.warnings)
    return f"<div class='ck-confirm-sentence'>{e(conf.sentence)}</div>{notes}"


def progress_line(progress: Progress) -> str:
    """``dry-run: 42,453 of 43,849 rows``, or what the run is doing."""
    if progress.phase == "idle":
        return ""
    mode = progress.mode
    if progress.phase == "starting":
        return f"{mode}: starting (checking {progress.total:,} rows)"
    count = f"{progress.done:,} of {progress.total:,} rows"
    if progress.phase == "stopping":
        return f"{mode}: stopping after {count} (requests in flight finish)"
    return f"{mode}: {count}" + (" · done" if progress.phase == "finished" else "")


def chart(counts: Mapping[str, int]) -> str:
    """Rows per status as horizontal bars, the longest 240 px (no plotting library)."""
    top = max(counts.values(), default=0) or 1
    return "<div class='ck-chart'>" + "".join(
        "<div style='display:flex;align-items:center;gap:6px;margin:2px 0'>"
        f"<span style='width:6em;text-align:right'>{e(status)}</span>"
        f"<span class='ck-bar' data-status='{e(status)}' style='display:inline-block;"
        f"height:1em;width:{round(240 * n / top)}px;"
        f"background:{STATUS_COLOURS.get(status, '#555')}'></span><span>{n:,}</span></div>"
        for status, n in counts.items()
    ) + "</div>"


def outcome(result: Outcome | None) -> str:
    """What happened: the headline, why it stopped, the bars and the commonest errors."""
    if result is None:
        return ""
    note = f"<div class='ck-warning ck-note'>{e(result.note)}</div>" if result.note else ""
    errors = "".join(f"<li>{e(text)} ({n:,})</li>" for text, n in result.errors)
    listed = f"<ul class='ck-errors'>{errors}</ul>" if errors else ""
    return (f"<div class='ck-headline'><b>{e(result.headline)}</b></div>{note}"
            f"{chart(result.counts)}{listed}")
