"""Hypothesis over keys and campaign.toml files: no key in any output, no uncaught exception.

Each example writes a campaign folder (a small sheet and a drawn campaign.toml: right and
wrong sections, options, types, paths, keys written inline or read from the environment),
sets the drawn keys in the environment, and runs ``campaignkit preview`` and ``campaignkit
send`` (a dry run: nothing leaves the machine) in this process. Whatever the file says:

- the command returns 0, 1 or 2; only a `CampaignError` stops it, printed as one line
  ``error: ...`` at the end of stderr, with no traceback;
- no form of any key (`_canary.secret_forms`) is in stdout, stderr, a log record at DEBUG,
  or any file the run wrote.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from _canary import (
    CHANNEL,
    KEY_SHAPES,
    WORKSPACE,
    assert_no_secret,
    assert_no_secret_in_files,
    keys,
)
from _canary import log_texts as record_texts
from campaignkit.cli import main

SHEET = "phone,name\n+16175551212,Ada\n+16175551213,Bo\n+1617555,Cy\n"

# -- drawing a campaign file ------------------------------------------------------------------

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
scalars = st.one_of(text, st.integers(-10**6, 10**6), st.floats(allow_nan=True), st.booleans(),
                    st.just(datetime(2026, 12, 24, 9, tzinfo=UTC)))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)), max_leaves=6)
paths = st.sampled_from(["recipients.csv", "../recipients.csv", "sub/../recipients.csv",
                         "missing.csv", "/nonexistent/x.csv", ".", "~/x.csv", "~nosuchuser/x.csv",
                         "recipients.csv/x", "/proc/self/environ", "/dev/zero",
                         "message.txt", "../message.txt", "results.xlsx", "out/results.csv",
                         "../results.xlsx", "results.pdf", ""]) | text

def mostly(default: Any, other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``default`` about nine times in ten, else a draw of ``other``: most files are nearly
    right, so most runs get past the first check and into the rest of the pipeline."""
    return st.sampled_from([True] * 9 + [False]).flatmap(
        lambda keep: st.just(default) if keep else other)


#: the secret options of each provider, and the KeyShape field their drawn keys come from
SECRETS = {
    "sociocs": {"api_key": "sociocs_api_key", "channel_key": "sociocs_channel_key"},
    "textus": {"token": "textus_token"},
    "bird": {"access_key": "bird_access_key"},
}
REQUIRED = {
    "sociocs": {"provider": mostly("twlo", st.sampled_from(["twlowa", "gswa", "sms"]) | values)},
    "textus": {"account": mostly("acme", values), "channel": mostly("sms", values)},
    "bird": {"workspace_id": mostly(WORKSPACE, values), "channel_id": mostly(CHANNEL, values)},
}
OPTIONAL = {
    "base_url": st.sampled_from(["https://api.example.com", "http://127.0.0.1:9",
                                 "http://192.0.2.10:8000", "ftp://x", "not a url",
                                 "https://user:Ck9UrlPass77@api.example.com",
                                 "http://user:Ck9UrlPass77@127.0.0.1:9"]) | values,
    "allow_insecure": st.booleans() | values,
    "name_column": mostly("name", values), "contact_saving": values, "schedule": values,
    "tags": values, "validity": values, "scheduled_for": values, "saved_reply": values,
    "colour": values, "duplicates_allowed": values, "now": values,
}
URL_SECRET = "user:Ck9UrlPass77"


@st.composite
def channels(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """``([channel] table, environment, every secret drawn)``."""
    provider = draw(st.sampled_from(list(SECRETS)))
    table: dict[str, Any] = {"type": draw(mostly(provider, st.sampled_from(
        [provider.upper(), "sms", ""]) | values))}
    for name, strategy in REQUIRED[provider].items():
        if draw(mostly(True, st.just(False))):
            table[name] = draw(strategy)
    env: dict[str, str] = {}
    secrets: list[str] = []
    for option, field in SECRETS[provider].items():
        key = draw(mostly(getattr(KEY_SHAPES[0], field), keys(field)))
        secrets.append(key)
        how = draw(mostly("env", st.sampled_from(["inline", "unset", "missing"])))
        if how == "inline":
            table[option] = key
        elif how in ("env", "unset"):
            variable = f"CK_FUZZ_{option.upper()}"
            table[f"{option}_env"] = variable
            if how == "env":
                env[variable] = key
    for name in draw(mostly([], st.lists(st.sampled_from(sorted(OPTIONAL)), min_size=1,
                                         max_size=2, unique=True))):
        table[name] = draw(OPTIONAL[name])
    if URL_SECRET in str(table.get("base_url")):
        secrets.append(URL_SECRET)
    return table, env, secrets


@st.composite
def campaign_files(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """A campaign file as a TOML table (nearly right, wrong in a few drawn places), its
    environment and its secrets."""
    channel, env, secrets = draw(channels())
    recipients: dict[str, Any] = {"path": draw(mostly("recipients.csv", paths)),
                                  "default_region": draw(mostly("US", values))}
    for name in draw(mostly([], st.lists(st.sampled_from(
            ["phone_column", "sheet", "header_row", "duplicates", "countries", "color"]),
            max_size=2, unique=True))):
        recipients[name] = draw(values)
    message: dict[str, Any] = draw(mostly({"text": "Hi {{ name }}"}, st.one_of(
        st.fixed_dictionaries({"text": st.sampled_from(["Hi {{ nope }}", "{% if %}", "Hi",
                                                        "{{ name | upper }} ✓"]) | text}),
        st.fixed_dictionaries({"text_file": paths}),
        st.dictionaries(st.sampled_from(["text", "text_file", "media", "template", "x"]),
                        values, max_size=3))))
    send: dict[str, Any] = {"campaign": draw(mostly("fuzz", st.sampled_from(
        ["x" * 300, "", "a\nb"]) | text))}
    for name in draw(mostly([], st.lists(st.sampled_from(
            ["rate", "concurrency", "limit", "results", "key", "bulk", "journal", "ledger"]),
            max_size=2, unique=True))):
        send[name] = draw(paths if name in ("results", "journal", "ledger") else values)
    guardrails: dict[str, Any] = {"quiet_hours": draw(mostly(False, st.booleans() | values))}
    for name in draw(mostly([], st.lists(st.sampled_from(
            ["suppression", "budget", "frequency_cap", "x"]), max_size=2, unique=True))):
        guardrails[name] = draw(st.lists(paths, max_size=2) if name == "suppression"
                                else values)
    table: dict[str, Any] = {"recipients": recipients, "message": message, "channel": channel,
                             "send": send, "guardrails": guardrails}
    for section in draw(mostly([], st.lists(st.sampled_from(sorted(table)), max_size=1))):
        del table[section]
    return table, env, secrets


# -- running it ---------------------------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _logged() -> Iterator[_Records]:
    """Every log record of every logger at DEBUG, for the length of the block."""
    root = logging.getLogger()
    handler, level = _Records(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _run(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, env), redirect_stdout(out), redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def _check_outcome(code: int, err: str) -> None:
    assert code in (0, 1, 2), (code, err)
    assert "Traceback" not in err, err
    if code == 2:
        head, _, message = err.rpartition("error: ")
        assert message.endswith("\n") and message.count("\n") == 1, err
        assert not head or head.endswith("\n"), err


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(drawn=campaign_files(), raw=mostly(None, st.binary(max_size=60)))
def test_no_campaign_file_leaks_a_key_or_crashes_the_command(
        drawn: tuple[dict[str, Any], dict[str, str], list[str]], raw: bytes | None) -> None:
    """preview and send (dry run) on any drawn campaign.toml: 0, 1 or 2 with one sentence,
    and no key anywhere."""
    table, env, secrets = drawn
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "recipients.csv").write_text(SHEET, encoding="utf-8")
        (folder / "message.txt").write_text("Hi {{ name }}", encoding="utf-8")
        path = folder / "campaign.toml"
        path.write_bytes(raw if raw is not None else tomli_w.dumps(table).encode())
        texts: list[str] = []
        with _logged() as logged:
            for args in (["preview", str(path)], ["send", str(path)]):
                code, out, err = _run(args, env)
                _check_outcome(code, err)
                event(f"{args[0]} exits {code}")
                texts += [out, err]
        texts += record_texts(logged.records)
        assert_no_secret(texts, *secrets)
        assert_no_secret_in_files(folder, *secrets, inputs=[path])
