"""Results files Excel cannot execute, written atomically, and the summary."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zipfile

import openpyxl
import pandas as pd
import pytest

from campaignkit import Media, Problem, Template, load_recipients
from campaignkit.results import (
    EXCEL_CELL_LIMIT,
    ResultsSummary,
    TruncatedCellWarning,
    neutralise,
    results_summary,
    save_results,
)

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


# Near misses: spreadsheet programs skip leading blanks and read fullwidth signs as formulas.
NEAR_MISSES = [" =1+1", "  @SUM(A1)", "\u3000=1+1", "\u200b=1+1", "\ufeff=1+1", "\u00a0-1+1",
               "\uff1d1+1", "\uff0b1", "\uff0d1", "\uff20SUM(A1)", " \u3000\u200b\uff1dX",
               " +447700900123"]


@pytest.mark.parametrize("text", NEAR_MISSES, ids=ascii)
def test_neutralise_catches_near_miss_prefixes(text):
    """A trigger behind spaces, U+3000, U+200B, U+FEFF or in fullwidth still gets the quote."""
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize(
    ("text", "expected"),
    [("\x00=1+1", "'=1+1"), ("\x01\x02-1", "'-1"), ("\x0b@SUM(A1)", "'@SUM(A1)"),
     ("A\x00B", "AB"), ("\x00 =1", "' =1"), ("\tTAB\x00", "'\tTAB")],
    ids=ascii,
)
def test_neutralise_strips_control_characters_first(text, expected):
    """Control characters go first, so a NUL cannot hide a formula from the check."""
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
    """XLSX: every text cell a typed string, 0 <f> elements; cells read back exactly."""
    path = save_results(results_frame(), tmp_path / "r.xlsx")
    with zipfile.ZipFile(path) as archive:
        sheets = [archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/")]
    assert sum(xml.count(b"<f>") + xml.count(b"<f ") for xml in sheets) == 0
    rows = list(openpyxl.load_workbook(path).active.iter_rows(values_only=True))
    assert rows[1][:3] == (2, "+447700900001", '=HYPERLINK("http://x","c")')
    assert rows[2][5:11] == ('row 3, column "phone": bad; row 3, column "name": @empty',
                             "+447700900002", "skipped", "-1+1", None, 0)
    cells = {c.coordinate: c.data_type for row in openpyxl.load_workbook(path).active
             for c in row if isinstance(c.value, str)}
    assert set(cells.values()) == {"s"}


@pytest.mark.parametrize("name", ["-Ann-", "=Bo", "+Cy", "@Di", "\uff1dEd", " -Flo"], ids=ascii)
def test_a_follow_up_campaign_from_xlsx_results_sends_the_name_as_written(tmp_path, name):
    """No apostrophe is added in XLSX, so results loaded as recipients keep the exact text."""
    frame = results_frame()
    frame["name"] = [name, "Bo"]
    path = save_results(frame, tmp_path / "r.xlsx")
    again = load_recipients(path, phone_column="to")
    assert again["name"].tolist() == [name, "Bo"]


def test_xlsx_drops_control_characters_openpyxl_cannot_write(tmp_path):
    """A NUL or other C0 control is dropped from an XLSX cell; the text around it stays."""
    frame = results_frame()
    frame["name"] = ["\x00=1+1", "B\x01o"]
    rows = list(openpyxl.load_workbook(save_results(frame, tmp_path / "r.xlsx")).active.iter_rows(
        values_only=True))
    assert [rows[1][2], rows[2][2]] == ["=1+1", "Bo"]


def _long_frame() -> pd.DataFrame:
    frame = results_frame()
    frame["error"] = ["x" * 40_000, "y" * (EXCEL_CELL_LIMIT + 1)]
    return frame


def test_a_cell_cut_at_excels_limit_is_a_warning(tmp_path):
    """Text over 32,767 characters is cut in XLSX and one warning names each row and column."""
    with pytest.warns(TruncatedCellWarning) as caught:
        path = save_results(_long_frame(), tmp_path / "r.xlsx")
    assert [str(w.message) for w in caught] == [
        "2 cells of r.xlsx were cut to Excel's limit of 32,767 characters: row 2, column "
        '"error" (40,000 characters); row 3, column "error" (32,768 characters); save the '
        "results as .csv to keep every character"
    ]
    rows = list(openpyxl.load_workbook(path).active.iter_rows(values_only=True))
    assert [len(rows[1][8]), len(rows[2][8])] == [EXCEL_CELL_LIMIT, EXCEL_CELL_LIMIT]


def test_csv_keeps_long_cells_whole_without_a_warning(tmp_path, recwarn):
    """CSV has no cell limit: nothing is cut and nothing is warned."""
    path = save_results(_long_frame(), tmp_path / "r.csv")
    assert len(path.read_text(encoding="utf-8-sig")) > 72_000
    assert [w for w in recwarn if issubclass(w.category, TruncatedCellWarning)] == []


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_the_file_mode_follows_the_umask(tmp_path, umask, mode, suffix):
    """A results file gets the mode any new file would (0666 less the umask)."""
    old = os.umask(umask)
    try:
        path = save_results(results_frame(), tmp_path / f"r{suffix}")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_saving_into_a_missing_folder_says_so(tmp_path, suffix):
    """One sentence naming the folder, never a hidden temporary file, and no chained error."""
    target = tmp_path / "missing" / f"r{suffix}"
    with pytest.raises(FileNotFoundError) as raised:
        save_results(results_frame(), target)
    assert str(raised.value) == (
        f"save_results cannot write {target}: the folder {target.parent} does not exist; "
        "create it first or choose another path"
    )
    assert raised.value.__cause__ is None and raised.value.__context__ is None


def test_saving_into_a_file_as_folder_says_so(tmp_path):
    """A path whose folder is a file is named as such."""
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError) as raised:
        save_results(results_frame(), tmp_path / "file" / "r.csv")
    assert str(raised.value) == (
        f"save_results cannot write {tmp_path / 'file' / 'r.csv'}: {tmp_path / 'file'} is a "
        "file, not a folder; choose another path"
    )


_SLOW_SAVE = """
import sys, pandas as pd
from campaignkit.results import save_results
n = 400_000
frame = pd.DataFrame({"to": ["+447700900001"] * n, "name": ["Ada Lovelace"] * n,
                      "text": ["Hi Ada, your appointment is on Monday"] * n})
print("start", flush=True)
save_results(frame, sys.argv[1])
"""


def test_a_kill_during_an_xlsx_save_leaves_nothing_in_the_system_temp_folder(tmp_path):
    """kill -9 mid-save: customer data stays in the destination folder, never in TMPDIR."""
    system_tmp, out = tmp_path / "system-tmp", tmp_path / "out"
    system_tmp.mkdir()
    out.mkdir()
    child = subprocess.Popen([sys.executable, "-c", _SLOW_SAVE, str(out / "r.xlsx")],
                             env={**os.environ, "TMPDIR": str(system_tmp)},
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline() == "start\n"
    deadline = time.monotonic() + 60
    # Wait until the sheet is being written (a temporary file holds rows), then kill.
    while time.monotonic() < deadline and not any(
        p.stat().st_size > 100_000 for d in (system_tmp, out) for p in d.iterdir()
    ):
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert sorted(system_tmp.iterdir()) == []
    assert not (out / "r.xlsx").exists()
    assert all(p.name.startswith(".r.xlsx.") for p in out.iterdir())


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


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_an_interrupted_write_removes_its_temporary_files(tmp_path, suffix):
    """Ctrl+C (KeyboardInterrupt) mid-write leaves only what was there before."""

    class Interrupt:
        def __str__(self) -> str:
            raise KeyboardInterrupt

    broken = results_frame()
    broken["name"] = pd.Series(["ok", Interrupt()], index=broken.index, dtype=object)
    with pytest.raises(KeyboardInterrupt):
        save_results(broken, tmp_path / f"r{suffix}")
    assert sorted(tmp_path.iterdir()) == []


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
