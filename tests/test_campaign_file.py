"""campaign.toml is not trusted: keys only from the environment, files only from its folder.

A campaign file can come from someone else (a colleague, a template on the web). It may name
where to read recipients and the message, and where to write results, but only inside its
own folder (or where an absolute path says so in plain sight); it never holds a key, and it
never chooses the ledger. ``campaignkit init`` writes real files in a real folder only.
"""

from __future__ import annotations

import io
import os
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from _canary import WORKSPACE, assert_no_secret
from campaignkit import ChannelError, ContactSaving, DataError
from campaignkit.campaign_file import load_campaign
from campaignkit.cli import main

RECIPIENTS = "phone,name\n+16175551212,Ada\n+16175551213,Bo\n"
CHANNELS = {
    "sociocs": 'type = "sociocs"\nprovider = "twlo"\n',
    "textus": 'type = "textus"\naccount = "acme"\nchannel = "sms"\n',
    "bird": f'type = "bird"\nworkspace_id = "{WORKSPACE}"\n'
            'channel_id = "ce6a2fd6-b2fa-4f5a-a2cd-f3bd15883318"\n',
}
#: the secret options of each provider, and a valid value of each from the environment
KEYS = {
    "sociocs": {"api_key": "CanaryKeyId7Q:CanarySecret5Fb2Ux9",
                "channel_key": "twlo_16175550142"},
    "textus": {"token": "CanaryTextusTok3n9Xw"},
    "bird": {"access_key": "CanaryBirdAcc3ssK3y4"},
}
#: the variable the message proposes for each secret option
PROPOSED = {"api_key": "SOCIOCS_API_KEY", "channel_key": "SOCIOCS_CHANNEL_KEY",
            "token": "TEXTUS_TOKEN", "access_key": "BIRD_ACCESS_KEY",
            "password": "CAMPAIGNKIT_PASSWORD", "secret": "CAMPAIGNKIT_SECRET"}


def write_campaign(folder: Path, *, provider: str = "sociocs", channel: str = "",
                   recipients: str = 'path = "recipients.csv"', message: str = 'text = "Hi"',
                   send: str = "", extra: str = "") -> Path:
    """A campaign folder: recipients.csv, and campaign.toml with the given sections' lines.

    The provider's keys come from environment variables named ``CK_<OPTION>`` unless
    ``channel`` gives them otherwise.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "recipients.csv").write_text(RECIPIENTS, encoding="utf-8")
    keys = "".join(f'{option}_env = "CK_{option.upper()}"\n' for option in KEYS[provider]
                   if f"{option}" not in channel)
    path = folder / "campaign.toml"
    path.write_text(
        f'[recipients]\n{recipients}\ndefault_region = "US"\n\n[message]\n{message}\n\n'
        f"[channel]\n{CHANNELS[provider]}{keys}{channel}\n\n"
        f'[send]\ncampaign = "file-test"\n{send}\n'
        + (f"\n[guardrails]\n{extra}" if extra else ""),
        encoding="utf-8")
    return path


def env_for(provider: str) -> dict[str, str]:
    return {f"CK_{option.upper()}": value for option, value in KEYS[provider].items()}


def cli(*args: str) -> tuple[int, str, str]:
    """``campaignkit ARGS`` in this process: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


# -- keys: only from the environment ---------------------------------------------------------

INLINE = [pytest.param(provider, option, id=f"{provider}-{option}")
          for provider, options in KEYS.items() for option in options]


@pytest.mark.parametrize(("provider", "option"), INLINE)
def test_a_key_written_in_the_file_is_refused_naming_the_variable_to_use(
        provider: str, option: str, tmp_path: Path) -> None:
    """api_key = "..." in [channel]: refused, with the NAME_env line and the export to write."""
    secret = KEYS[provider][option]
    path = write_campaign(tmp_path, provider=provider, channel=f'{option} = "{secret}"')
    with pytest.raises(ChannelError) as raised:
        load_campaign(path).channel(env=env_for(provider))
    variable = PROPOSED[option]
    assert str(raised.value) == (
        f"{path}: [channel] {option} is written in the file; a secret must never be: write "
        f'{option}_env = "{variable}" instead and export {variable}=... before running')
    assert_no_secret(str(raised.value), secret)


@pytest.mark.parametrize("option", ["password", "secret"])
def test_any_option_named_like_a_secret_is_refused_too(option: str, tmp_path: Path) -> None:
    """password = / secret = in [channel] are refused before the channel sees them."""
    path = write_campaign(tmp_path, channel=f'{option} = "hunter2-canary"')
    with pytest.raises(ChannelError) as raised:
        load_campaign(path).channel(env=env_for("sociocs"))
    assert str(raised.value).startswith(f"{path}: [channel] {option} is written in the file; ")
    assert f'{option}_env = "{PROPOSED[option]}"' in str(raised.value)


@pytest.mark.parametrize(("provider", "option"), INLINE)
def test_a_bad_key_from_the_environment_names_the_field_and_the_variable(
        provider: str, option: str, tmp_path: Path) -> None:
    """A key ending in a line break, read from CK_X: the message names the field and CK_X."""
    path = write_campaign(tmp_path, provider=provider)
    variable = f"CK_{option.upper()}"
    env = {**env_for(provider), variable: KEYS[provider][option] + "\n"}
    with pytest.raises(ChannelError) as raised:
        load_campaign(path).channel(env=env)
    field = {"sociocs": "Sociocs", "textus": "TextUs", "bird": "Bird"}[provider] + f" {option}"
    assert str(raised.value) == (
        f"{path}: [channel] {field} has whitespace or a line break before or after it (often "
        "copied along with the key): remove it and give the key exactly as shown; it is the "
        f"value of the environment variable {variable} ([channel] {option}_env): correct it "
        "there")
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert_no_secret(str(raised.value), *env.values())


def test_a_wrong_option_not_from_the_environment_names_no_variable(tmp_path: Path) -> None:
    """provider = "sms": the file's own mistake, said without pointing at a variable."""
    path = write_campaign(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace('provider = "twlo"',
                                                             'provider = "sms"'),
                    encoding="utf-8")
    with pytest.raises(ChannelError) as raised:
        load_campaign(path).channel(env=env_for("sociocs"))
    assert str(raised.value) == (
        f"{path}: [channel] Sociocs provider 'sms' is not one of \"twlo\" (Twilio SMS), "
        '"twlowa" (Twilio WhatsApp) or "gswa" (Gupshup WhatsApp): pick the one your channel key '
        "belongs to")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("contact_saving = \"yes\"",
         "[channel] contact_saving: input should be a valid dictionary or instance of "
         "ContactSaving (the file gives str)"),
        ("duplicates_allowed = 1",
         "[channel] duplicates_allowed: input should be a valid boolean (the file gives int)"),
        ("allow_insecure = \"yes\"",
         "[channel] allow_insecure: input should be a valid boolean (the file gives str)"),
        ("now = \"2026-01-01\"",
         "[channel] now is not an option of Sociocs; its options are allow_insecure, api_key, "
         "base_url, channel_key, contact_saving, duplicates_allowed, name_column, provider, "
         "schedule, user_id (a secret as NAME_env)"),
        ("colour = \"blue\"",
         "[channel] colour is not an option of Sociocs; its options are allow_insecure, "
         "api_key, base_url, channel_key, contact_saving, duplicates_allowed, name_column, "
         "provider, schedule, user_id (a secret as NAME_env)"),
    ],
)
def test_a_channel_option_of_the_wrong_name_or_type_is_one_sentence(
        line: str, expected: str, tmp_path: Path) -> None:
    """Options are checked against the channel's own signature before it is made."""
    path = write_campaign(tmp_path, channel=line)
    with pytest.raises(ChannelError) as raised:
        load_campaign(path).channel(env=env_for("sociocs"))
    assert str(raised.value) == f"{path}: {expected}"


def test_a_table_option_becomes_its_object(tmp_path: Path) -> None:
    """contact_saving = { list_id = 3 } is a ContactSaving, as the channel takes it."""
    path = write_campaign(tmp_path, channel="contact_saving = { list_id = 3 }")
    channel = load_campaign(path).channel(env=env_for("sociocs"))
    assert channel.contact_saving == ContactSaving(list_id=3)  # type: ignore[attr-defined]


# -- files: inside the campaign's folder ------------------------------------------------------


def test_a_message_file_outside_the_folder_is_refused(tmp_path: Path) -> None:
    """text_file = "../secret.txt" never becomes the body of an SMS."""
    (tmp_path / "secret.txt").write_text("the server's password", encoding="utf-8")
    path = write_campaign(tmp_path / "campaign", message='text_file = "../secret.txt"')
    with pytest.raises(DataError) as raised:
        load_campaign(path)
    assert str(raised.value) == (
        f'{path}: [message] text_file = "../secret.txt" leads outside the campaign\'s folder '
        f"{(tmp_path / 'campaign').resolve()}; keep the files next to campaign.toml, or write "
        "an absolute path if you mean it")


def test_a_recipients_sheet_outside_the_folder_is_refused(tmp_path: Path) -> None:
    """[recipients] path = "../../x.csv" is refused when the sheet is loaded."""
    path = write_campaign(tmp_path / "a" / "b", recipients='path = "../../x.csv"')
    (tmp_path / "x.csv").write_text(RECIPIENTS, encoding="utf-8")
    with pytest.raises(DataError) as raised:
        load_campaign(path).load()
    assert str(raised.value).startswith(
        f'{path}: [recipients] path = "../../x.csv" leads outside the campaign\'s folder ')


def test_a_suppression_list_outside_the_folder_is_refused(tmp_path: Path) -> None:
    """[guardrails] suppression = ["../x.csv"] is refused too."""
    path = write_campaign(tmp_path / "c", extra='suppression = ["../x.csv"]\n')
    with pytest.raises(DataError) as raised:
        load_campaign(path).guardrails()
    assert str(raised.value).startswith(
        f'{path}: [guardrails] suppression = "../x.csv" leads outside the campaign\'s folder ')


@pytest.mark.parametrize(("extra", "expected"), [("", True),
                                                   ("provider_opt_outs = false\n", False)])
def test_asking_the_provider_for_opt_outs_is_on_unless_turned_off(
        extra: str, expected: bool, tmp_path: Path) -> None:
    """[guardrails] provider_opt_outs = false turns off the lookup before a live send."""
    path = write_campaign(tmp_path / "c", extra=extra)
    assert load_campaign(path).guardrails().provider_opt_outs is expected


def test_a_symbolic_link_in_the_folder_pointing_out_is_refused(tmp_path: Path) -> None:
    """message.txt -> /elsewhere/secret: the link is followed before the check, not after."""
    (tmp_path / "secret.txt").write_text("the server's password", encoding="utf-8")
    folder = tmp_path / "campaign"
    path = write_campaign(folder, message='text_file = "message.txt"')
    (folder / "message.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(DataError, match=r'text_file = "message.txt" leads outside'):
        load_campaign(path)


def test_files_inside_the_folder_and_absolute_paths_are_read(tmp_path: Path) -> None:
    """data/recipients.csv inside the folder, and an absolute message file, both work."""
    elsewhere = tmp_path / "shared" / "message.txt"
    elsewhere.parent.mkdir()
    elsewhere.write_text("Hi {{ name }}", encoding="utf-8")
    folder = tmp_path / "campaign"
    path = write_campaign(folder, recipients='path = "data/recipients.csv"',
                          message=f'text_file = "{elsewhere.as_posix()}"')
    (folder / "data").mkdir()
    (folder / "recipients.csv").rename(folder / "data" / "recipients.csv")
    campaign = load_campaign(path)
    assert campaign.message.text == "Hi {{ name }}"
    assert campaign.load()["to"].tolist() == ["+16175551212", "+16175551213"]


def test_results_outside_the_folder_are_refused_and_nothing_is_written(tmp_path: Path,
                                                                      monkeypatch) -> None:
    """[send] results = "../results.xlsx": exit 2, one sentence, no file outside the folder."""
    path = write_campaign(tmp_path / "campaign", send='results = "../results.xlsx"')
    for name, value in env_for("sociocs").items():
        monkeypatch.setenv(name, value)
    code, out, err = cli("send", str(path))
    assert (code, out) == (2, "")
    assert err == (
        f'error: {path}: [send] results = "../results.xlsx" leads outside the campaign\'s '
        f"folder {(tmp_path / 'campaign').resolve()}; keep the files next to campaign.toml, or "
        "write an absolute path if you mean it\n")
    assert not (tmp_path / "results.xlsx").exists()


def test_a_results_file_that_is_a_link_out_of_the_folder_is_refused(tmp_path: Path,
                                                                   monkeypatch) -> None:
    """results.xlsx as a symbolic link to a file elsewhere is never written through."""
    target = tmp_path / "precious.xlsx"
    target.write_bytes(b"keep me")
    path = write_campaign(tmp_path / "campaign")
    (tmp_path / "campaign" / "results.xlsx").symlink_to(target)
    for name, value in env_for("sociocs").items():
        monkeypatch.setenv(name, value)
    code, _, err = cli("send", str(path))
    assert code == 2
    assert err.startswith(f'error: {path}: [send] results = "results.xlsx" leads outside ')
    assert target.read_bytes() == b"keep me"


# -- the ledger is never the file's choice -----------------------------------------------------


def test_the_file_cannot_choose_the_ledger(tmp_path: Path) -> None:
    """[send] journal = "..." is refused, saying how the ledger is chosen instead."""
    path = write_campaign(tmp_path, send='journal = "/tmp/elsewhere.db"')
    with pytest.raises(DataError) as raised:
        load_campaign(path)
    assert str(raised.value) == (
        f"{path}: [send] journal is no longer an option: campaignkit keeps one ledger per user, "
        "found the same way from every folder; remove the line (to choose another ledger "
        "file, set the CAMPAIGNKIT_LEDGER environment variable)")


@pytest.mark.parametrize("line", ['ledger = "/tmp/elsewhere.db"', 'ledger_path = "x.db"'])
def test_no_other_option_chooses_the_ledger_either(line: str, tmp_path: Path) -> None:
    """Unknown [send] options are refused, so no spelling of "ledger" slips through."""
    path = write_campaign(tmp_path, send=line)
    with pytest.raises(DataError) as raised:
        load_campaign(path)
    name = line.split(" ")[0]
    assert str(raised.value) == f"{path}: [send.{name}] Extra inputs are not permitted"


# -- init writes real files in a real folder ---------------------------------------------------


def test_init_refuses_a_dangling_link_named_campaign_toml(tmp_path: Path) -> None:
    """A dangling campaign.toml link in the folder: exit 2, nothing written at its target."""
    folder = tmp_path / "mine"
    folder.mkdir()
    target = tmp_path / "outside" / "written-through.toml"
    target.parent.mkdir()
    (folder / "campaign.toml").symlink_to(target)
    code, out, err = cli("init", str(folder))
    assert (code, out) == (2, "")
    assert err == (f"error: {folder}: a symbolic link is in the way; campaignkit init writes "
                   "only real files in a real folder. Choose another folder\n")
    assert not target.exists()
    assert sorted(p.name for p in folder.iterdir()) == ["campaign.toml"]


def test_init_refuses_a_folder_that_is_a_link(tmp_path: Path) -> None:
    """init LINK where LINK points at another folder: exit 2, that folder stays empty."""
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    code, _, err = cli("init", str(link))
    assert code == 2
    assert err == (f"error: {link}: a symbolic link is in the way; campaignkit init writes "
                   "only real files in a real folder. Choose another folder\n")
    assert list(real.iterdir()) == []


def test_init_writes_files_that_are_only_the_users(tmp_path: Path) -> None:
    """The files init writes are regular files, not links (checked without following)."""
    code, _, _ = cli("init", str(tmp_path / "mine"))
    assert code == 0
    assert {p.name: p.is_symlink() for p in (tmp_path / "mine").iterdir()} == {
        "campaign.toml": False, "message.txt": False, "recipients.csv": False}
    assert all(os.stat(p, follow_symlinks=False).st_nlink == 1
               for p in (tmp_path / "mine").iterdir())


# -- files of the operating system ---------------------------------------------------------------


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
@pytest.mark.parametrize(("section", "line", "what"), [
    ("message", 'text_file = "/proc/self/environ"', "[message] text_file"),
    ("recipients", 'path = "/proc/self/environ"', "[recipients] path"),
])
def test_the_process_environment_is_never_read_as_a_campaign_file(
        section: str, line: str, what: str, tmp_path: Path, monkeypatch) -> None:
    """/proc/self/environ holds the keys: as a message or a sheet it is refused, and no key
    reaches the message, the error or the terminal."""
    secret = KEYS["sociocs"]["api_key"]
    for name, value in env_for("sociocs").items():
        monkeypatch.setenv(name, value)
    options = {"message": line} if section == "message" else {"recipients": line}
    path = write_campaign(tmp_path, **options)
    code, out, err = cli("preview", str(path))
    assert (code, out) == (2, "")
    assert err == (f'error: {path}: {what} = "/proc/self/environ" is a file of the operating '
                   "system (under /proc, /sys or /dev), not of a campaign; name a file of yours\n")
    assert_no_secret(err, secret)


def test_a_message_file_that_is_a_pipe_is_refused_without_waiting(tmp_path: Path) -> None:
    """A FIFO named message.txt would block the read forever: refused from its type."""
    os.mkfifo(tmp_path / "message.txt")
    path = write_campaign(tmp_path, message='text_file = "message.txt"')
    with pytest.raises(DataError) as raised:
        load_campaign(path)
    assert str(raised.value) == (f"{tmp_path / 'message.txt'} is not a regular file; check "
                                 "[message] text_file")


@pytest.mark.parametrize(("value", "expected"), [
    ("", "[message] text_file = '' is not a file name; give the file's name, e.g. next to "
     "campaign.toml"),
    ("~nosuchuser-ck/message.txt", '[message] text_file = "~nosuchuser-ck/message.txt" names '
     "the home folder of a user this machine does not have; write the path without ~"),
])
def test_a_path_that_names_no_file_is_one_sentence(value: str, expected: str,
                                                   tmp_path: Path) -> None:
    """An empty path, or ~user for no such user: a DataError, not a RuntimeError."""
    path = write_campaign(tmp_path, message=f'text_file = "{value}"')
    with pytest.raises(DataError) as raised:
        load_campaign(path)
    assert str(raised.value) == f"{path}: {expected}"
