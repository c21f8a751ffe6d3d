"""The ``campaignkit`` command, run through its installed entry point in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from campaignkit.sandbox import Faults, Sandbox, serve

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGNKIT = str(Path(sys.executable).parent / "campaignkit")
CANARY_KEY = "kid:CANARY-1c0ffee-SECRET"
CANARY_CHANNEL = "twlo_16175550100"


def run(*args: str, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONUTF8": "1", **(env or {})}
    return subprocess.run([CAMPAIGNKIT, *args], cwd=cwd, env=environment, text=True,
                          capture_output=True, timeout=timeout, check=False)


def campaign_file(folder: Path, base_url: str, *, limit: int | None = None) -> Path:
    """A campaign on the sample sheet whose channel points at ``base_url``."""
    sample = ROOT / "sample_data"
    path = folder / "campaign.toml"
    path.write_text(
        f"""
[recipients]
path = "{(sample / 'recipients.csv').as_posix()}"
default_region = "US"
countries = ["US", "GB", "ES", "DE", "IN"]

[message]
text_file = "{(sample / 'message.txt').as_posix()}"

[channel]
type = "sociocs"
provider = "twlo"
base_url = "{base_url}"
api_key_env = "CK_TEST_API_KEY"
channel_key_env = "CK_TEST_CHANNEL_KEY"

[send]
campaign = "cli-test"
rate = 200.0
results = "results.xlsx"
{f"limit = {limit}" if limit is not None else ""}

[guardrails]
quiet_hours = false
""",
        encoding="utf-8",
    )
    return path


def _read(path: Path, dtype: type = str) -> pd.DataFrame:
    return pd.read_excel(path, dtype=dtype, engine="calamine")


SECRETS = {"CK_TEST_API_KEY": CANARY_KEY, "CK_TEST_CHANNEL_KEY": CANARY_CHANNEL}


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[tuple[Sandbox, str]]:
    box = Sandbox(seed=3, record=tmp_path / "record.sqlite")
    with box, serve(box) as base_url:
        yield box, base_url


def test_demo_runs_end_to_end_and_writes_the_results_sheet(tmp_path: Path) -> None:
    """`campaignkit demo` loads, renders and dry-runs the sample, and says what it did not do."""
    done = run("demo", "--out", "results", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1] == (
        "loaded: <LoadSummary 64 rows: 60 valid, 3 invalid-phone, 1 missing-phone; "
        "1 repeated number; 7 repaired; 1 empty row dropped>"
    )
    assert "results: <ResultsSummary demo (dry-run): 58 dry-run, 5 skipped, 1 duplicate>" in lines
    assert "not done: this was a dry run through the sandbox; nothing was sent to a provider." \
        in lines
    results = _read(tmp_path / "results" / "demo-results.xlsx", dtype=str)
    assert results["status"].value_counts().to_dict() == {
        "dry-run": 58, "skipped": 5, "duplicate": 1}


def test_everything_the_demo_needs_is_in_the_checkout() -> None:
    """A fresh clone has the demo's sheet, message and campaign file (they are tracked)."""
    tracked = subprocess.run(["git", "ls-files", "sample_data"], cwd=ROOT, text=True,
                             capture_output=True, check=True).stdout.split()
    assert {"sample_data/recipients.xlsx", "sample_data/recipients.csv",
            "sample_data/message.txt", "sample_data/campaign.toml"} <= set(tracked)


def test_send_without_live_is_a_dry_run_that_reaches_no_server(
    tmp_path: Path, sandbox: tuple[Sandbox, str]
) -> None:
    """Without --live nothing reaches the configured host: the served sandbox records 0."""
    box, base_url = sandbox
    done = run("send", str(campaign_file(tmp_path, base_url)), cwd=tmp_path, env=SECRETS)
    assert done.returncode == 0, done.stderr
    assert len(box.accepted()) == 0
    assert "not done: this was a dry run through the sandbox; nothing was sent to a provider." \
        in done.stdout.splitlines()
    results = _read(tmp_path / "results.xlsx", dtype=str)
    assert results["status"].value_counts().to_dict() == {
        "dry-run": 58, "skipped": 5, "duplicate": 1}


def test_send_live_reaches_the_host_once_and_a_rerun_sends_nothing(
    tmp_path: Path, sandbox: tuple[Sandbox, str]
) -> None:
    """--live sends each sendable row once; running the same command again sends 0 more."""
    box, base_url = sandbox
    path = campaign_file(tmp_path, base_url)
    first = run("send", str(path), "--live", "--yes", cwd=tmp_path, env=SECRETS)
    assert first.returncode == 0, first.stderr
    assert len(box.accepted()) == 58
    again = run("send", str(path), "--live", "--yes", cwd=tmp_path, env=SECRETS)
    assert again.returncode == 0, again.stderr
    assert len(box.accepted()) == 58
    results = _read(tmp_path / "results.xlsx", dtype=str)
    assert results["status"].value_counts().to_dict() == {
        "already-sent": 58, "skipped": 5, "duplicate": 1}


def test_limit_sends_the_next_rows_on_each_run_and_never_a_row_twice(
    tmp_path: Path, sandbox: tuple[Sandbox, str]
) -> None:
    """--limit 5 twice: 10 different recipients, the rest left waiting for the next run."""
    box, base_url = sandbox
    path = campaign_file(tmp_path, base_url)
    for _ in range(2):
        done = run("send", str(path), "--live", "--yes", "--limit", "5", cwd=tmp_path, env=SECRETS)
        assert done.returncode == 0, done.stderr
    received = box.accepted()["to"]
    assert (len(received), received.nunique()) == (10, 10)
    results = _read(tmp_path / "results.xlsx", dtype=str)
    assert results["status"].value_counts().to_dict() == {
        "waiting": 48, "already-sent": 5, "sent": 5, "skipped": 5, "duplicate": 1}


def test_the_exit_status_is_1_when_a_row_failed_or_is_unknown(tmp_path: Path) -> None:
    """A provider answering 500 leaves rows unknown: the command exits 1."""
    box = Sandbox(seed=3, faults=Faults(p_500_before=1.0))
    with box, serve(box) as base_url:
        done = run("send", str(campaign_file(tmp_path, base_url, limit=2)), "--live", "--yes",
                   cwd=tmp_path, env=SECRETS)
    assert done.returncode == 1, done.stderr
    results = _read(tmp_path / "results.xlsx", dtype=str)
    assert results["status"].value_counts().to_dict() == {
        "waiting": 56, "skipped": 5, "duplicate": 1,
                                                          "unknown": 2}


def test_a_missing_secret_names_the_variable_and_the_fix(
    tmp_path: Path, sandbox: tuple[Sandbox, str]
) -> None:
    """A secret's environment variable that is not set stops the run with exit 2."""
    _, base_url = sandbox
    done = run("send", str(campaign_file(tmp_path, base_url)), cwd=tmp_path,
               env={"CK_TEST_API_KEY": CANARY_KEY})
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"error: {tmp_path / 'campaign.toml'}: [channel] channel_key_env names the environment "
        "variable CK_TEST_CHANNEL_KEY, which is not set; export CK_TEST_CHANNEL_KEY=... and "
        "run again"
    )


def test_preview_shows_the_request_with_every_secret_redacted(
    tmp_path: Path, sandbox: tuple[Sandbox, str]
) -> None:
    """preview prints each row's exact request; the key and channel key appear 0 times."""
    box, base_url = sandbox
    done = run("preview", str(campaign_file(tmp_path, base_url)), "--rows", "2",
               cwd=tmp_path, env=SECRETS)
    assert done.returncode == 0, done.stderr
    assert f"row 2 → POST {base_url}/message" in done.stdout
    assert done.stdout.count("[redacted]") == 4  # apikey header and channel_key, 2 rows
    for secret in (CANARY_KEY, "CANARY-1c0ffee-SECRET", CANARY_CHANNEL):
        assert secret not in done.stdout + done.stderr
    assert len(box.accepted()) == 0


def test_init_writes_a_campaign_and_never_overwrites(tmp_path: Path) -> None:
    """init writes campaign.toml, recipients.csv and message.txt, then refuses to overwrite."""
    first = run("init", "mine", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == [
        "campaign.toml", "message.txt", "recipients.csv"]
    second = run("init", "mine", cwd=tmp_path)
    assert second.returncode == 2
    assert second.stderr.strip() == (
        "error: mine: campaign.toml, recipients.csv, message.txt already exist; campaignkit "
        "init never overwrites. Choose an empty folder: campaignkit init FOLDER"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sandbox_command_serves_the_emulator_on_loopback(tmp_path: Path) -> None:
    """`campaignkit sandbox --port N` answers a Sociocs send on 127.0.0.1 and records it."""
    port = _free_port()
    record = tmp_path / "record.sqlite"
    server = subprocess.Popen([CAMPAIGNKIT, "sandbox", "--port", str(port), "--record",
                               str(record)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.post(
                    f"http://127.0.0.1:{port}/message",
                    headers={"apikey": "kid:secret"},
                    json={"provider": "twlo", "channel_key": "twlo_16175550100",
                          "to": "+16175550123", "text": "hello"},
                )
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.1)
        assert answer.status_code == 200
        assert answer.json()["status"] == "success"
    finally:
        server.terminate()
        server.wait(10)
    from campaignkit.sandbox import read_record

    assert read_record(record)["to"].tolist() == ["+16175550123"]
