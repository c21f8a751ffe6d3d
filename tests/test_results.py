"""Results files Excel cannot execute, written atomically, and the summary."""

from __future__ import annotations

import zipfile

import openpyxl
import pandas as pd
import pytest

from campaignkit import Media, Problem, Template
from campaignkit.results import ResultsSummary, neutralise, results_summary, save_results

PAYLOADS = ['=HYPERLINK("http://x","c")', "+cmd|' /C calc'!A0", "-1+1", "@SUM(A1)",
            "\tTAB", "\rCR", "\nLF"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [*((p, "'" + p) for p in PAYLOADS),
     ("+447700900123", "+447700900123"), ("+44 7700 900123", "'+44 7700 900123"),
     ("Hi Ada", "Hi Ada"), ("", ""), ("a=b", "a=b")],
)
def test_neutralise_prefixes_formula_triggers(text, expected):
    """OWASP: a cell starting with = + - @ tab CR LF gets a leading quote; E.164 stays."""
    assert neutralise(text) == expected


def results_frame() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "to": ["+447700900001", "+447700900002"],
            "name": ['=HYPERLINK("http://x","c")', "Bo"],
            "media": [(Media(url="https://x.test/a.png"),), ()],
            "template": [Template(id="HX1", variables={"1": "Ada"}), None],
            "problems": [(), (Problem(3, "phone", "bad", "invalid-phone"),
                              Problem(3, "name", "@empty", "missing-value"))],
            "key": ["+447700900001", "+447700900002"],
            "status": ["sent", "skipped"],
            "error": [None, "-1+1"],
            "http_status": pd.array([200, None], dtype="Int64"),
            "attempts": [1, 0],
            "sent_at": pd.to_datetime(["2026-01-02T03:04:05+00:00", None], utc=True),
        },
        index=pd.Index([2, 3], name="row"),
    )
    frame.attrs = {"campaign": "spring", "mode": "live", "ledger": "/srv/clinic/ledger.db",
                   "stopped": None}
    return frame


def test_csv_is_quoted_neutralised_and_flat(tmp_path):
    """CSV: every field quoted, triggers neutralised, problems joined with "; "."""
    path = save_results(results_frame(), tmp_path / "r.csv")
    assert path.read_text(encoding="utf-8-sig").splitlines() == [
        '"row","to","name","media","template","problems","key","status","error",'
        '"http_status","attempts","sent_at"',
        '"2","+447700900001","\'=HYPERLINK(""http://x"",""c"")","https://x.test/a.png",'
        '"{""id"":""HX1"",""variables"":{""1"":""Ada""}}","","+447700900001","sent","","200",'
        '"1","2026-01-02T03:04:05+00:00"',
        '"3","+447700900002","Bo","","","row 3, column ""phone"": bad; row 3, column ""name"": '
        '@empty","+447700900002","skipped","\'-1+1","","0",""',
    ]


def test_xlsx_has_no_formula_and_reads_back_as_text(tmp_path):
    """XLSX: 0 <f> elements in the sheet XML; cells read back exactly."""
    path = save_results(results_frame(), tmp_path / "r.xlsx")
    with zipfile.ZipFile(path) as archive:
        sheets = [archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/")]
    assert sum(xml.count(b"<f>") + xml.count(b"<f ") for xml in sheets) == 0
    rows = list(openpyxl.load_workbook(path).active.iter_rows(values_only=True))
    assert rows[1][:3] == (2, "+447700900001", '\'=HYPERLINK("http://x","c")')
    assert rows[2][8:11] == ("'-1+1", None, 0)


def test_a_failed_write_leaves_the_old_file_intact(tmp_path):
    """A write that fails midway keeps the previous file byte for byte and leaves no temp file."""
    path = tmp_path / "r.csv"
    save_results(results_frame(), path)
    before = path.read_bytes()

    class Boom:
        def __str__(self) -> str:
            raise RuntimeError("disk full")

    broken = results_frame()
    broken["name"] = pd.Series(["ok", Boom()], index=broken.index, dtype=object)
    with pytest.raises(RuntimeError, match="disk full"):
        save_results(broken, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]


def test_other_suffixes_are_refused(tmp_path):
    """Only .csv and .xlsx are written."""
    with pytest.raises(ValueError, match=r"save_results writes \.csv or \.xlsx, not 'r\.json'"):
        save_results(results_frame(), tmp_path / "r.json")


def test_summary_counts_statuses_and_shows_the_way_to_resolve():
    """The summary counts each status, lists top errors and the resolve hint for unknown rows."""
    frame = results_frame()
    frame.loc[3, "status"] = "unknown"
    summary = results_summary(frame)
    assert {k: n for k, n in summary.counts.items() if n} == {"sent": 1, "unknown": 1}
    assert summary.top_errors == (("-1+1", 1),)
    assert repr(summary) == (
        "<ResultsSummary spring (live): 1 sent, 1 unknown; 1 row is unknown (the provider may "
        "or may not have sent it): check with the provider, then run campaignkit ledger "
        "--ledger /srv/clinic/ledger.db resolve spring +447700900002 --as sent (or --as "
        "resend)>"
    )


def test_summary_html_is_escaped():
    """Provider text in the HTML summary is escaped."""
    summary = ResultsSummary("<b>x</b>", "live", {"failed": 1}, (("<script>", 1),), (), None,
                             None)
    html = summary._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;x&lt;/b&gt;" in html
