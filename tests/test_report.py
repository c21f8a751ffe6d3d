"""The morning-after report and the follow-up frame."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from campaignkit.ledger import Ledger
from campaignkit.report import report, undelivered


def results() -> pd.DataFrame:
    """Six rows after refresh: delivered, two failures, pending, opted out, skipped."""
    frame = pd.DataFrame({
        "to": ["+16175550001", "+16175550002", "+447700900123", "+16175550004",
               "+16175550005", "+16175550006"],
        "status": ["sent", "sent", "sent", "sent", "sent", "skipped"],
        "delivery": ["delivered", "undelivered", "failed", "sent", "delivered", None],
        "error_code": [None, "30003", "21614", None, None, None],
        "error_text": [None, "Unreachable destination handset", "<b>invalid</b>", None, None,
                       None],
        "segments": [1, 2, 1, 1, 1, 1],
        "segments_billed": pd.array([1, 2, 1, None, 1, None], dtype="Int64"),
    }, index=pd.Index(range(2, 8), name="row"))
    frame.attrs["campaign"] = "spring <script>"
    return frame


def test_the_report_counts_each_row_once_and_breaks_failures_down() -> None:
    """Counts, failures by code (provider's words) and by country, billed vs estimated."""
    store = Ledger(":memory:")
    store.suppress(["+16175550005"], reason='replied "STOP"', source="sociocs reply")
    found = report(results(), store=store)
    assert found.counts == {"delivered": 1, "failed": 2, "pending": 1, "opted out": 1,
                            "not sent": 1}
    assert found.failures_by_code.to_dict("records") == [
        {"error_code": "21614", "error_text": "<b>invalid</b>", "rows": 1},
        {"error_code": "30003", "error_text": "Unreachable destination handset", "rows": 1}]
    assert found.failures_by_country.to_dict("records") == [
        {"country": "GB", "rows": 1, "failed": 1}, {"country": "US", "rows": 4, "failed": 1}]
    assert (found.segments_billed, found.segments_estimated) == (5, 6)
    assert repr(found) == (
        "<Report 'spring <script>': delivered 1, failed 2, pending 1, opted out 1, not sent 1; "
        "segments billed 5 (estimated 6); 0 replies>")


def test_the_notebook_display_escapes_every_text_and_embeds_the_chart() -> None:
    """Campaign names and provider words are escaped; the chart is an inline PNG."""
    shown = report(results())._repr_html_()
    assert "<script>" not in shown and "spring &lt;script&gt;" in shown
    assert "&lt;b&gt;invalid&lt;/b&gt;" in shown
    assert 'src="data:image/png;base64,iVBORw0KGgo' in shown


@pytest.mark.parametrize(("name", "magic"), [("report.png", b"\x89PNG\r\n\x1a\n"),
                                             ("report.html", b"<!doctype html>")])
def test_save_writes_a_png_or_an_html_file(tmp_path: Path, name: str, magic: bytes) -> None:
    """report.save(path) writes by suffix; another suffix is one clear sentence."""
    path = report(results()).save(tmp_path / name)
    assert path.read_bytes().startswith(magic)
    with pytest.raises(ValueError, match=r"^report.save\('r.pdf'\): give a .png or .html path$"):
        report(results()).save("r.pdf")


def test_undelivered_keeps_soft_failures_only() -> None:
    """30003 (unreachable) comes back; 21614 (invalid), opted-out and delivered rows do not."""
    store = Ledger(":memory:")
    store.suppress(["+16175550002"], reason='replied "STOP"', source="sociocs reply")
    assert undelivered(results()).index.tolist() == [3]
    assert undelivered(results(), store=store).index.tolist() == []
