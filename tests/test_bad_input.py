"""Bad input gets one sentence saying what was wrong and what is accepted, never a traceback.

On the command line, in Python and in campaign.toml: a rate of 0, a fractional limit, a
campaign name too long for the ledger, a message file that is missing or a folder, a ledger
that cannot be written. What a user sees carries no chained internal exception either (no
"RuntimeError: no running event loop" behind a send error in a script).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pandas as pd
import pytest

from campaignkit import (
    DataError,
    Guardrails,
    LedgerError,
    Message,
    Pacing,
    Retry,
    SendError,
    Sociocs,
    TemplateError,
    decide,
    load_recipients,
    plan,
    preview,
    render,
    save_results,
    send,
)
from campaignkit.campaign_file import load_campaign
from campaignkit.cli import main
from campaignkit.sandbox import Sandbox

CHANNEL = Sociocs("kid:bad-input-secret", "twlo_16175550100", "twlo")
NO_QUIET = Guardrails(quiet_hours=None)


@pytest.fixture(scope="module")
def rendered() -> pd.DataFrame:
    sheet = pd.DataFrame({"phone": ["+16175551212", "+16175551213"], "name": ["Ada", "Bo"]})
    return render(load_recipients(sheet), Message(text="Hi {{ name }}"))


def campaign(folder: Path, *, message: str = 'text = "Hi"', send_lines: str = "",
             name: str = "bad-input") -> Path:
    (folder / "recipients.csv").write_text("phone\n+16175551212\n", encoding="utf-8")
    path = folder / "campaign.toml"
    path.write_text(
        '[recipients]\npath = "recipients.csv"\ndefault_region = "US"\n\n'
        f"[message]\n{message}\n\n"
        '[channel]\ntype = "sociocs"\nprovider = "twlo"\napi_key_env = "CK_BAD_KEY"\n'
        'channel_key_env = "CK_BAD_CHANNEL"\n\n'
        f'[send]\ncampaign = "{name}"\n{send_lines}\n\n[guardrails]\nquiet_hours = false\n',
        encoding="utf-8")
    return path


def cli(*args: str) -> tuple[int, str, str]:
    """``campaignkit ARGS`` in this process (argparse's exit included)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    return code, out.getvalue(), err.getvalue()


# -- the command line's options -------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "abc", "", "1e999"])
def test_a_rate_that_is_not_one_is_refused_by_the_option(value: str, tmp_path: Path) -> None:
    """--rate 0 / -1 / nan / abc: exit 2, the option's one sentence, nothing run."""
    code, out, err = cli("send", str(campaign(tmp_path)), "--rate", value)
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == (
        f"campaignkit send: error: argument --rate: {value!r} is not a rate: give messages per "
        "second as a number above 0, e.g. 5")
    assert not (tmp_path / "results.xlsx").exists()


@pytest.mark.parametrize("value", ["-1", "2.5", "1e3", "ten"])
def test_a_limit_that_is_not_a_count_is_refused_by_the_option(value: str,
                                                              tmp_path: Path) -> None:
    """--limit -1 / 2.5: exit 2 and one sentence saying a whole number, 0 or more."""
    code, out, err = cli("send", str(campaign(tmp_path)), "--limit", value)
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == (
        f"campaignkit send: error: argument --limit: {value!r} is not a number of messages: "
        "give a whole number, 0 or more")


@pytest.mark.parametrize(("args", "expected"), [
    (["demo", "--rate", "0"], "campaignkit demo: error: argument --rate: '0' is not a rate: "
     "give messages per second as a number above 0, e.g. 5"),
    (["preview", "x.toml", "--rows", "-3"], "campaignkit preview: error: argument --rows: '-3' "
     "is not a number of messages: give a whole number, 0 or more"),
])
def test_the_other_commands_check_their_numbers_too(args: list[str], expected: str) -> None:
    """demo --rate and preview --rows take the same checks."""
    code, _, err = cli(*args)
    assert (code, err.splitlines()[-1]) == (2, expected)


@pytest.mark.parametrize(("line", "expected"), [
    ("", "[send.campaign] String should have at most 120 characters"),
    ("rate = 0", "[send.rate] Input should be greater than 0"),
    ("rate = nan", "[send.rate] Input should be a finite number"),
    ("limit = -1", "[send.limit] Input should be greater than or equal to 0"),
    ("limit = 2.5", "[send.limit] Input should be a valid integer, got a number with a "
     "fractional part"),
])
def test_the_same_numbers_in_campaign_toml_are_one_sentence(line: str, expected: str,
                                                            tmp_path: Path) -> None:
    """[send] rate, limit and a 300-character campaign name are checked when it is read."""
    path = campaign(tmp_path, send_lines=line, name="bad-input" if line else "x" * 300)
    with pytest.raises(DataError) as raised:
        load_campaign(path)
    assert str(raised.value) == f"{path}: {expected}"


# -- Python arguments -------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1e9, 2.5, "3", -1, True])
def test_send_refuses_a_limit_that_is_not_a_whole_count(limit: object,
                                                        rendered: pd.DataFrame) -> None:
    """limit=1e9 / 2.5 / "3": a SendError, never "slice indices must be integers"."""
    with pytest.raises(SendError) as raised:
        send(rendered, CHANNEL, campaign="bad", limit=limit, progress=False)  # type: ignore[arg-type]
    assert str(raised.value) == (f"limit={limit!r} is not a number of messages: give a whole "
                                 "number, 0 or more (or None for all)")


@pytest.mark.parametrize("call", [plan, decide], ids=["plan", "decide"])
@pytest.mark.parametrize("limit", [1e9, 2.5, "3"])
def test_plan_and_decide_refuse_the_same_limits(call: Callable[..., object], limit: object,
                                                rendered: pd.DataFrame) -> None:
    """The functions that count a send check limit= the same way."""
    with pytest.raises(SendError) as raised:
        call(rendered, CHANNEL, campaign="bad", limit=limit)
    assert str(raised.value) == (f"limit={limit!r} must be a whole number of messages, 0 or "
                                 "more (or None for all)")


@pytest.mark.parametrize("rate", ["5", 0, -1, float("nan"), float("inf"), True])
def test_pacing_refuses_a_rate_that_is_not_a_positive_number(rate: object) -> None:
    """Pacing(rate="5"): one sentence with an example."""
    with pytest.raises(SendError) as raised:
        Pacing(rate=rate)  # type: ignore[arg-type]
    assert str(raised.value) == (f"rate={rate!r} is not a rate: give messages per second as a "
                                 "number above 0, e.g. Pacing(rate=5)")


@pytest.mark.parametrize(("name", "expected"), [
    ("x" * 300, "campaign= must be at most 120 characters with no control characters (got 300 "
     'characters): choose a short name, e.g. "spring-reminders"'),
    ("spring\nreminders", "campaign= must be at most 120 characters with no control characters "
     '(got 16 characters): choose a short name, e.g. "spring-reminders"'),
    ("  ", 'campaign= needs a name, e.g. campaign="spring-reminders": the ledger uses it so a '
     "re-run never sends a row twice"),
])
def test_a_campaign_name_the_ledger_cannot_keep_is_refused_first(
        name: str, expected: str, rendered: pd.DataFrame, tmp_path: Path) -> None:
    """A 300-character name: a SendError before the ledger is opened (no sqlite error)."""
    with pytest.raises(SendError) as raised:
        send(rendered, CHANNEL, campaign=name, live=True, progress=False,
             ledger=tmp_path / "ledger.db", transport=Sandbox().transport())
    assert str(raised.value) == expected
    assert not (tmp_path / "ledger.db").exists()


@pytest.mark.parametrize(("options", "expected"), [
    ({"frame": None}, "frame= takes a DataFrame, the one render(...) returns, not NoneType"),
    ({"channel": "sociocs"}, "channel= takes a channel: Sociocs(...), TextUs(...) or Bird(...), "
     "not str"),
    ({"pacing": 5}, "pacing= takes a Pacing, e.g. Pacing(rate=5), or None, not int"),
    ({"retry": 3}, "retry= takes a Retry, e.g. Retry(attempts=3), or None, not int"),
    ({"guardrails": False}, "guardrails= takes a Guardrails, e.g. Guardrails(quiet_hours=None), "
     "or None, not bool"),
])
def test_send_names_an_argument_of_the_wrong_kind(options: dict[str, object], expected: str,
                                                  rendered: pd.DataFrame) -> None:
    """send(pacing=5): a SendError naming the argument, never an AttributeError from inside."""
    arguments: dict[str, object] = {"frame": rendered, "channel": CHANNEL, **options}
    with pytest.raises(SendError) as raised:
        send(arguments.pop("frame"), arguments.pop("channel"), campaign="bad",  # type: ignore[arg-type]
             progress=False, **arguments)  # type: ignore[arg-type]
    assert str(raised.value) == expected


@pytest.mark.parametrize("verb", [plan, preview], ids=["plan", "preview"])
@pytest.mark.parametrize(("position", "value", "expected"), [
    (0, "recipients.csv", "takes a DataFrame, the one render(...) returns, not str"),
    (1, "sociocs", "channel= takes a channel: Sociocs(...), TextUs(...) or Bird(...), not str"),
])
def test_plan_and_preview_name_an_argument_of_the_wrong_kind(
        verb: Callable[..., object], position: int, value: object, expected: str,
        rendered: pd.DataFrame) -> None:
    """The same sentence as send's, never an AttributeError from inside."""
    arguments: list[object] = [rendered, CHANNEL]
    arguments[position] = value
    with pytest.raises(SendError) as raised:
        verb(*arguments, campaign="bad")
    assert str(raised.value).endswith(expected)


@pytest.mark.parametrize(("recipients", "message", "error", "expected"), [
    ("recipients.csv", "Hi", DataError,
     "recipients= takes a DataFrame, the one load_recipients(...) returns, not str"),
    (None, None, TemplateError,
     'message= takes a template string ("Hi {{ name }}") or a Message, not NoneType'),
    (None, 5, TemplateError,
     'message= takes a template string ("Hi {{ name }}") or a Message, not int'),
])
def test_render_names_an_argument_of_the_wrong_kind(
        recipients: object, message: object, error: type[Exception], expected: str) -> None:
    frame = pd.DataFrame({"phone": ["+16175551212"]}) if recipients is None else recipients
    with pytest.raises(error) as raised:
        render(frame, message)  # type: ignore[arg-type]
    assert str(raised.value) == expected


def test_retry_refuses_attempts_of_zero() -> None:
    """Retry(attempts=0): one sentence."""
    with pytest.raises(SendError, match=r"^attempts=0: give a whole number of 1 or more$"):
        Retry(attempts=0)


# -- files ------------------------------------------------------------------------------------


def test_a_missing_message_file_is_one_sentence(tmp_path: Path) -> None:
    """text_file naming no file: a DataError, not FileNotFoundError."""
    path = campaign(tmp_path, message='text_file = "message.txt"')
    with pytest.raises(DataError) as raised:
        load_campaign(path)
    assert str(raised.value) == (f"{tmp_path / 'message.txt'}: no such message file; check "
                                 "[message] text_file")
    assert raised.value.__suppress_context__


def test_a_message_file_that_is_a_folder_is_one_sentence(tmp_path: Path) -> None:
    """text_file naming a folder: a DataError, not IsADirectoryError."""
    (tmp_path / "message").mkdir()
    path = campaign(tmp_path, message='text_file = "message"')
    with pytest.raises(DataError) as raised:
        load_campaign(path)
    assert str(raised.value) == (f"{tmp_path / 'message'} is a folder, not a message file; "
                                 "check [message] text_file")


def test_the_command_says_so_for_a_missing_message_file(tmp_path: Path) -> None:
    """campaignkit send with a missing text_file: exit 2 and the sentence, no traceback."""
    code, out, err = cli("send", str(campaign(tmp_path, message='text_file = "gone.txt"')))
    assert (code, out, err) == (2, "", f"error: {tmp_path / 'gone.txt'}: no such message file; "
                                       "check [message] text_file\n")


def test_save_results_into_a_missing_folder_names_the_folder(rendered: pd.DataFrame,
                                                             tmp_path: Path) -> None:
    """The folder that is missing and the fix, never the hidden temporary file's name."""
    results = send(rendered, CHANNEL, campaign="save", progress=False, guardrails=NO_QUIET)
    target = tmp_path / "missing" / "results.xlsx"
    with pytest.raises(FileNotFoundError) as raised:
        save_results(results, target)
    assert str(raised.value) == (f"save_results cannot write {target}: the folder "
                                 f"{target.parent} does not exist; create it first or choose "
                                 "another path")
    assert list(tmp_path.iterdir()) == []


# -- the ledger --------------------------------------------------------------------------------

# As root every folder is writable; the kernel's /proc is not, for anyone.
READ_ONLY = Path("/proc/campaignkit-ledger.db")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs a /proc file system")
def test_a_ledger_in_a_read_only_folder_is_one_sentence(rendered: pd.DataFrame) -> None:
    """A live send whose ledger cannot be created: the path, why, and the fix."""
    with pytest.raises(LedgerError) as raised:
        send(rendered, CHANNEL, campaign="ro", live=True, progress=False, ledger=READ_ONLY,
             transport=Sandbox().transport(), guardrails=NO_QUIET)
    assert str(raised.value) == (
        f"the ledger {READ_ONLY} cannot be written (opening it): the file or its folder is "
        "read-only; make it writable, or point CAMPAIGNKIT_LEDGER (or ledger=) at a writable "
        "file")
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs a /proc file system")
def test_the_command_says_so_for_a_read_only_ledger(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """CAMPAIGNKIT_LEDGER in a read-only folder: exit 2 with that sentence, nothing sent."""
    monkeypatch.setenv("CAMPAIGNKIT_LEDGER", str(READ_ONLY))
    monkeypatch.setenv("CK_BAD_KEY", "kid:bad-input-secret")
    monkeypatch.setenv("CK_BAD_CHANNEL", "twlo_16175550100")
    code, _, err = cli("send", str(campaign(tmp_path)), "--live", "--yes")
    assert (code, err) == (2, (
        f"error: the ledger {READ_ONLY} cannot be written (opening it): the file or its folder "
        "is read-only; make it writable, or point CAMPAIGNKIT_LEDGER (or ledger=) at a "
        "writable file\n"))


def test_a_file_where_the_ledgers_folder_should_be_is_one_sentence(
        rendered: pd.DataFrame, tmp_path: Path) -> None:
    """ledger=FILE/ledger.db: a LedgerError naming the ledger, not a raw OSError."""
    (tmp_path / "file").write_text("in the way", encoding="utf-8")
    with pytest.raises(LedgerError) as raised:
        send(rendered, CHANNEL, campaign="blocked", live=True, progress=False,
             ledger=tmp_path / "file" / "ledger.db", transport=Sandbox().transport(),
             guardrails=NO_QUIET)
    assert str(raised.value).startswith(f"the ledger {tmp_path / 'file' / 'ledger.db'} ")
    assert "\n" not in str(raised.value)


def test_a_damaged_ledger_stops_a_send_with_the_recovery(rendered: pd.DataFrame,
                                                         tmp_path: Path) -> None:
    """A ledger file that is not a database: restore a backup or move it aside."""
    path = tmp_path / "ledger.db"
    path.write_bytes(b"not a database " * 200)
    with pytest.raises(LedgerError) as raised:
        send(rendered, CHANNEL, campaign="damaged", live=True, progress=False, ledger=path,
             transport=Sandbox().transport(), guardrails=NO_QUIET)
    assert str(raised.value) == (
        f"the ledger {path} is damaged (opening it: file is not a database); restore it from a "
        "backup (campaignkit ledger backup makes one), or move it aside to start a new one, "
        "which forgets what was sent")


# -- what a script shows ----------------------------------------------------------------------

SCRIPT = """
import json, sys, traceback
import pandas as pd
from campaignkit import (Guardrails, Message, Sandbox, SandboxCredentials, Sociocs,
                         load_recipients, render, send)

sheet = pd.DataFrame({"phone": ["+16175551212", "+16175551213"], "name": ["Ada", "Bo"]})
rendered = render(load_recipients(sheet), Message(text="Hi {{ name }}"))
channel = Sociocs("kid:script-secret", "twlo_16175550100", "twlo")
options = dict(live=True, progress=False, guardrails=Guardrails(quiet_hours=None))
refusing = Sandbox(credentials=SandboxCredentials(sociocs_api_keys=["kid:other"]))
cases = {
    "bad limit": lambda: send(rendered, channel, campaign="c", limit=2.5),
    "auth failed": lambda: send(rendered, channel, campaign="c", transport=refusing.transport(),
                                **options),
    "unreachable": lambda: send(rendered, Sociocs("kid:script-secret", "twlo_16175550100",
                                                  "twlo", base_url="http://127.0.0.1:9"),
                                campaign="c", **options),
    "ledger": lambda: send(rendered, channel, campaign="c", ledger=sys.argv[1], **options),
    "changed": lambda: [send(rendered, channel, campaign="d", transport=Sandbox().transport(),
                             **options),
                        send(render(load_recipients(sheet), Message(text="Bye")), channel,
                             campaign="d", transport=Sandbox().transport(), **options)],
}
shown = {}
for name, case in cases.items():
    try:
        case()
        shown[name] = "no error"
    except Exception as error:
        shown[name] = "".join(traceback.format_exception(error))
print(json.dumps(shown))
"""


def test_send_errors_in_a_script_carry_no_chained_internal_exception(tmp_path: Path) -> None:
    """Every error of send() in a plain script prints as itself: no "no running event loop",
    no "During handling of the above exception" behind it."""
    (tmp_path / "file").write_text("in the way", encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "file" / "ledger.db")],
                          text=True, capture_output=True, timeout=120, check=False,
                          env={**os.environ, "PYTHONUTF8": "1",
                               "CAMPAIGNKIT_LEDGER": str(tmp_path / "ledger.db")})
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    last = {name: text.strip().splitlines()[-1].partition(":")[0] for name, text in shown.items()}
    assert last == {"bad limit": "campaignkit._errors.SendError",
                    "auth failed": "campaignkit._errors.AuthFailed",
                    "unreachable": "campaignkit._errors.Unreachable",
                    "ledger": "campaignkit._errors.LedgerError",
                    "changed": "campaignkit._errors.CampaignChanged"}
    for name, text in shown.items():
        assert "no running event loop" not in text, name
        assert "During handling of the above exception" not in text, name
        assert "The above exception was the direct cause" not in text, name
