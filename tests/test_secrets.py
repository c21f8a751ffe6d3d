"""Keys never leak: refused when they cannot be right, redacted in every form, swept by a canary.

The canary sweep runs every output that exists for every provider and every key shape of
`_canary.KEY_SHAPES`; extend it by adding an output to `_sweep_valid` (or a new test using
`_canary.assert_no_secret_in_files`).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
import stamina
from hypothesis import given, settings
from hypothesis import strategies as st

from _canary import (
    CASES,
    CHANNEL,
    KEY_SHAPES,
    PROVIDERS,
    WORKSPACE,
    KeyShape,
    assert_no_secret,
    assert_no_secret_in_files,
    exception_texts,
    log_texts,
    make_channel,
    secret_forms,
)
from _support import fast
from campaignkit import (
    Bird,
    CampaignError,
    ChannelError,
    Guardrails,
    Message,
    Preview,
    Retry,
    Sociocs,
    TextUs,
    Unreachable,
    load_recipients,
    preview,
    render,
    save_results,
    send,
)
from campaignkit.channels import Channel, Redactor, redact
from campaignkit.cli import main as cli_main
from campaignkit.preview import preview_html
from campaignkit.results import results_summary
from campaignkit.sandbox import Sandbox, serve

WS, CH = WORKSPACE, CHANNEL
CAMPAIGNKIT = str(Path(sys.executable).parent / "campaignkit")


@pytest.fixture(autouse=True)
def _stamina_testing() -> Iterator[None]:
    with stamina.set_testing(True, attempts=2):
        yield


# -- refused at construction ---------------------------------------------------------------

AROUND = ("{name} has whitespace or a line break before or after it (often copied along with "
          "the key): remove it and give the key exactly as shown")
INSIDE = ("{name} contains a control or invisible character (a line break, a tab, a zero-width "
          "space...): copy the key again, exactly as shown")
HEADER = ("{name} has a character other than plain ASCII letters, digits and punctuation, which "
          "an HTTP header cannot carry: copy the key again, exactly as shown")
#: field -> (make a channel with this value, travels in a header, a right key for it, fix)
FIELDS: dict[str, tuple[Callable[[str], object], bool, str, str]] = {
    "Sociocs api_key": (lambda v: Sociocs(v, "twlo_1", "twlo"), True, "Key:42",
                        "give the API key from Profile & settings -> API"),
    "Sociocs channel_key": (lambda v: Sociocs("id:secret", v, "twlo"), False, "twlo_142",
                            "give the channel key from Profile & settings -> API"),
    "TextUs token": (lambda v: TextUs("acme", v, "sms"), True, "Key42",
                     "create an API token under Profile -> API Tokens"),
    "Bird access_key": (lambda v: Bird(WS, CH, v), True, "Key42",
                        "create an access key in Bird's settings"),
}
#: how a right key ({}) goes wrong -> the message
BAD = {"{}\r\n": AROUND, "{}\n": AROUND, "{} ": AROUND, "\t{}": AROUND, "{}\u3000": AROUND,
       "{}\x00x": INSIDE, "{}\x1bx": INSIDE, "{}\u200bx": INSIDE, "{}\ufeffx": INSIDE,
       "{}\u2028x": INSIDE, "{}\xe9": HEADER}


@pytest.mark.parametrize("wrong", list(BAD), ids=repr)
@pytest.mark.parametrize("field", list(FIELDS))
def test_a_key_that_cannot_be_right_is_refused_naming_the_field(field: str, wrong: str) -> None:
    """A ChannelError names the field and the fix, never the value, and chains nothing."""
    make, header, right, _ = FIELDS[field]
    value = wrong.format(right)
    if BAD[wrong] is HEADER and not header:
        make(value)  # the channel key travels in the JSON body, where any printable text goes
        return
    with pytest.raises(ChannelError) as raised:
        make(value)
    assert str(raised.value) == BAD[wrong].format(name=field)
    assert raised.value.__cause__ is None and raised.value.__context__ is None
    assert_no_secret(exception_texts(raised.value), value)


@pytest.mark.parametrize("field", list(FIELDS))
@pytest.mark.parametrize("value", ["", "   ", "\r\n"], ids=repr)
def test_an_empty_key_says_where_to_get_one(field: str, value: str) -> None:
    """An empty or blank key names the field and where to find the right one."""
    make, _, _, fix = FIELDS[field]
    with pytest.raises(ChannelError) as raised:
        make(value)
    assert str(raised.value) == f"{field} is empty: {fix}"


@settings(max_examples=300, deadline=None)
@given(key=st.text(max_size=30))
def test_any_key_is_accepted_or_refused_in_one_known_sentence(key: str) -> None:
    """Fuzzed keys: each constructor accepts the key or says one of its fixed sentences."""
    for field, (make, _, right, fix) in FIELDS.items():
        value = right[:5] + key if field == "Sociocs channel_key" else key
        known = {t.format(name=field) for t in (AROUND, INSIDE, HEADER)} | {
            f"{field} is empty: {fix}"}
        try:
            make(value)
        except ChannelError as error:
            assert str(error) in known
            assert error.__cause__ is None and error.__context__ is None


@settings(max_examples=300, deadline=None)
@given(secret=st.text(min_size=8, max_size=24).filter(lambda s: len(s.strip()) >= 8),
       before=st.text(max_size=10), after=st.text(max_size=10))
def test_any_secret_in_any_form_is_redacted(secret: str, before: str, after: str) -> None:
    """Fuzzed secrets: no form of the secret survives redaction, whatever stands around it."""
    for form in secret_forms(secret).values():
        assert_no_secret(redact(f"{before} {form} {after}", [secret]), secret)


@pytest.mark.parametrize(("value", "kind"), [(None, "NoneType"), (42, "int"), (b"k:s", "bytes")])
def test_a_key_that_is_not_text_is_refused(value: object, kind: str) -> None:
    """A missing environment variable (None) is refused, not sent as the text "None"."""
    with pytest.raises(ChannelError) as raised:
        TextUs("acme", value, "sms")  # type: ignore[arg-type]
    assert str(raised.value) == (
        f"TextUs token must be text (a str or SecretStr), not {kind}: create an API token "
        "under Profile -> API Tokens"
    )


@pytest.mark.parametrize(
    ("channel_key", "provider", "message"),
    [
        ("gswa_16175550100", "twlo",
         'Sociocs channel_key belongs to provider "gswa", not "twlo": use provider="gswa", '
         "or the twlo channel key from Profile & settings -> API"),
        ("twlo_16175550100", "twlowa",
         'Sociocs channel_key belongs to provider "twlo", not "twlowa": use provider="twlo", '
         "or the twlowa channel key from Profile & settings -> API"),
        ("twlowa_16175550100", "twlo",
         'Sociocs channel_key belongs to provider "twlowa", not "twlo": use provider="twlowa", '
         "or the twlo channel key from Profile & settings -> API"),
        ("16175550100", "gswa",
         'Sociocs channel_key does not start with "gswa_" (channel keys look like '
         '"gswa_16175551212"): copy the gswa channel key from Profile & settings -> API'),
        ("e047nbp2UnWuHD9m:Xqc37DHPGMyF0Z4h", "twlo",
         'Sociocs channel_key does not start with "twlo_" (channel keys look like '
         '"twlo_16175551212"): copy the twlo channel key from Profile & settings -> API'),
    ],
)
def test_a_sociocs_channel_key_must_match_its_provider(
    channel_key: str, provider: str, message: str
) -> None:
    """A channel key of another provider, or the API key given twice, is refused before sending."""
    with pytest.raises(ChannelError) as raised:
        Sociocs("id:secret", channel_key, provider)  # type: ignore[arg-type]
    assert str(raised.value) == message
    assert_no_secret(exception_texts(raised.value), channel_key.partition("_")[2] or channel_key)


@pytest.mark.parametrize("provider", ["twlo", "twlowa", "gswa"])
def test_a_sociocs_channel_key_of_its_provider_is_accepted(provider: str) -> None:
    """``<provider>_<number>`` (the documented shape) is accepted for each provider."""
    channel = Sociocs("id:secret", f"{provider}_16175550100", provider)  # type: ignore[arg-type]
    assert channel.label == f"sociocs:{provider}"


# -- redaction ------------------------------------------------------------------------------

SAMPLES = sorted({s for shape in KEY_SHAPES for p in PROVIDERS for s in shape.secrets(p)})


@pytest.mark.parametrize("secret", SAMPLES, ids=repr)
def test_every_form_of_a_secret_is_redacted(secret: str) -> None:
    """Raw, URL-encoded, repr/JSON/HTML/XML-escaped and base64 forms all become [redacted]."""
    forms = secret_forms(secret)  # the test's own list, not the library's
    text = " | ".join(f"{how}: {form}" for how, form in forms.items())
    redacted = redact(text, [secret])
    assert_no_secret(redacted, secret)
    assert redacted.count("[redacted]") >= len(forms)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the token", "the token"),
        ("tokens, stok, tok9 and tok_x", "tokens, stok, tok9 and [redacted]_x"),
        ("tok: the tok.", "[redacted]: the [redacted]."),
        ("Bearer tok", "Bearer [redacted]"),
        ("'Bearer tok\\r\\n'", "'Bearer [redacted]\\r\\n'"),
        ("line one\\ntok", "line one\\n[redacted]"),
        ("apikey=tok&x=1", "apikey=[redacted]&x=1"),
    ],
)
def test_redaction_matches_whole_tokens_only(text: str, expected: str) -> None:
    """Redacting a short key never garbles the words around it."""
    assert TextUs("acme", "tok", "sms").redact(text) == expected


def test_redactor_redacts_json_keys_and_leaves() -> None:
    """Every string key and leaf of decoded JSON is redacted; numbers and None stay."""
    redactor = Redactor(["s3cret-key"])
    assert redactor.redact_json({"s3cret-key": ["a s3cret-key", 1, None, {"k": "s3cret-key"}]}) == {
        "[redacted]": ["a [redacted]", 1, None, {"k": "[redacted]"}]
    }


def test_a_header_refused_by_httpx_is_redacted_in_its_escaped_form() -> None:
    """httpx quotes a CR/LF header in its error; redaction still finds it (defence in depth)."""
    key = "CanaryTextusTok3n9Xw\r\n"
    with Sandbox() as box, serve(box) as base_url, pytest.raises(httpx.LocalProtocolError) as got:
        httpx.post(base_url + "/acme/messages", headers={"Authorization": f"Bearer {key}"},
                   json={"to": "+13035551234", "body": "Hi"})
    texts = exception_texts(got.value)
    with pytest.raises(AssertionError):
        assert_no_secret(texts, key)  # the key is there to leak
    assert_no_secret([redact(text, [key]) for text in texts], key)


USERINFO = "https://canary-user:canary-pass-9@api.sociocs.com"


def test_a_password_in_base_url_never_shows() -> None:
    """URL userinfo is redacted in the repr, the fingerprint, describe and the preview."""
    channel = Sociocs("id:secret", "twlo_16175550100", "twlo", base_url=USERINFO)
    rendered = render(load_recipients(pd.DataFrame({"phone": ["+16175551212"]})), "Hi")
    out = preview(rendered, channel)
    assert repr(channel) == "<Sociocs sociocs:twlo base_url='https://[redacted]@api.sociocs.com'>"
    assert channel.fingerprint()["base_url"] == "https://[redacted]@api.sociocs.com"
    assert out.loc[2, "url"] == "https://[redacted]@api.sociocs.com/message"
    assert channel.redact(f"{USERINFO}/message") == "https://[redacted]@api.sociocs.com/message"
    assert_no_secret([repr(channel), str(out.to_dict()), preview_html(out)],
                     "canary-user:canary-pass-9", "canary-pass-9")


def test_a_password_in_base_url_never_shows_in_send_errors(tmp_path: Path) -> None:
    """A connection refused at a base URL with userinfo names the host, never the password."""
    with Sandbox() as box, serve(box) as base_url:
        closed = base_url  # the port closes when the sandbox stops
    channel = TextUs("acme", "tok3n-abc", "sms",
                     base_url=closed.replace("http://", "http://canary-user:canary-pass-9@"))
    rendered = render(load_recipients(pd.DataFrame({"phone": ["+16175551212"]})), "Hi")
    with pytest.raises(Unreachable) as halted:
        send(rendered, channel, campaign="userinfo", live=True, progress=False,
             pacing=fast(), ledger=tmp_path / "ledger.db", retry=Retry(attempts=1),
             guardrails=Guardrails(quiet_hours=None))
    results = halted.value.results
    assert results is not None
    texts = [results.to_string(), repr(results["error"].tolist()),
             *exception_texts(halted.value)]
    assert results.loc[2, "status"] == "failed"
    assert str(halted.value).startswith("cannot reach 127.0.0.1 (connection refused)")
    assert_no_secret(texts, "canary-user:canary-pass-9", "canary-pass-9")
    assert_no_secret_in_files(tmp_path, "canary-user:canary-pass-9", "canary-pass-9")


# -- the canary sweep ---------------------------------------------------------------------


def _rendered() -> pd.DataFrame:
    sheet = pd.DataFrame({"phone": ["+16175551212", "+16175551213"], "name": ["Ada", "Bo"]})
    return render(load_recipients(sheet), Message(text="Hi {{ name }}, see you Monday"))


def _request_holds(channel: Channel, shape: KeyShape, provider: str) -> None:
    """The canary is really in what would be sent (so the sweep below can fail)."""
    row = _rendered().iloc[0].to_dict()
    request = channel.build_request(row, key="k")
    headers = [value.decode() for _, value in request.headers.raw]
    body = json.loads(request.content)
    sent = " ".join([*headers, *(str(v) for v in body.values() if isinstance(v, str))])
    assert all(secret in sent for secret in shape.secrets(provider))


def _sweep_valid(channel: Channel, folder: Path) -> list[str]:
    """Every output of a channel that was accepted: reprs, preview, send, results, record."""
    rendered = _rendered()
    texts = [repr(channel), str(channel.fingerprint()), channel.label]
    out = preview(rendered, channel)
    texts += [out.to_string(), repr(out.to_dict()), preview_html(out), repr(Preview(out))]
    texts.append(str(channel.describe(channel.build_request(rendered.iloc[0].to_dict(), key="k"))))
    box = Sandbox(record=folder / "record.sqlite")
    try:
        try:
            results = send(rendered, channel, campaign="canary", live=True, progress=False,
                           pacing=fast(), ledger=folder / "ledger.db", transport=box.transport(),
                           guardrails=Guardrails(quiet_hours=None))
        except CampaignError as error:
            texts += exception_texts(error)
            results = error.results  # type: ignore[attr-defined]
        texts += [results.to_string(), repr(results.to_dict()), repr(results_summary(results)),
                  results_summary(results)._repr_html_()]
        save_results(results, folder / "results.csv")
        save_results(results, folder / "results.xlsx")
        accepted = box.accepted()
        texts += [accepted.to_string(), repr(accepted.to_dict())]
    finally:
        box.close()
    return texts


@pytest.mark.parametrize(("provider", "shape"), CASES)
def test_canary_never_shows_in_any_output(
    provider: str, shape: KeyShape, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """For every provider and key shape: no form of a key in any exception, log or file."""
    secrets = shape.secrets(provider)
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        if shape.valid:
            channel = make_channel(provider, shape)
            _request_holds(channel, shape, provider)
            texts += _sweep_valid(channel, tmp_path)
        else:
            with pytest.raises(ChannelError) as raised:
                make_channel(provider, shape)
            texts += exception_texts(raised.value)
    texts += log_texts(caplog.records)
    assert_no_secret(texts, *secrets)
    swept = assert_no_secret_in_files(tmp_path, *secrets)
    if shape.valid:
        assert {"results.csv", "results.xlsx", "record.sqlite", "ledger.db"} <= set(swept)


# -- the command line, keys from the environment ---------------------------------------------

_CHANNEL_TOML = {
    "sociocs": 'type = "sociocs"\nprovider = "twlo"\napi_key_env = "CANARY_API_KEY"\n'
               'channel_key_env = "CANARY_CHANNEL_KEY"',
    "textus": 'type = "textus"\naccount = "acme"\nchannel = "sms"\ntoken_env = "CANARY_TOKEN"',
    "bird": f'type = "bird"\nworkspace_id = "{WS}"\nchannel_id = "{CH}"\n'
            'access_key_env = "CANARY_BIRD_KEY"',
}


def _campaign(folder: Path, provider: str, shape: KeyShape) -> tuple[Path, dict[str, str]]:
    (folder / "recipients.csv").write_text("phone,name\n+16175551212,Ada\n+16175551213,Bo\n",
                                           encoding="utf-8")
    path = folder / "campaign.toml"
    path.write_text(
        '[recipients]\npath = "recipients.csv"\ndefault_region = "US"\n\n'
        '[message]\ntext = "Hi {{ name }}"\n\n'
        f"[channel]\n{_CHANNEL_TOML[provider]}\n\n"
        '[send]\ncampaign = "canary"\nrate = 500.0\nresults = "results.xlsx"\n',
        encoding="utf-8",
    )
    names = {"sociocs": ("CANARY_API_KEY", "CANARY_CHANNEL_KEY"), "textus": ("CANARY_TOKEN",),
             "bird": ("CANARY_BIRD_KEY",)}[provider]
    return path, dict(zip(names, shape.secrets(provider), strict=True))


# An environment variable cannot hold a NUL byte, so that shape never reaches the CLI.
CLI_CASES = [pytest.param(provider, shape, id=f"{provider}-{shape.name}")
             for provider in PROVIDERS for shape in KEY_SHAPES
             if "\x00" not in "".join(shape.secrets(provider))]


@pytest.mark.parametrize(("provider", "shape"), CLI_CASES)
def test_canary_never_shows_on_the_command_line(
    provider: str, shape: KeyShape, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:
    """`campaignkit preview` and `send` print no form of a key, nor write one to a file."""
    path, env = _campaign(tmp_path, provider, shape)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        codes = [cli_main(["preview", str(path)]), cli_main(["send", str(path)])]
    captured = capsys.readouterr()
    texts += [captured.out, captured.err, *log_texts(caplog.records)]
    if not shape.valid:
        assert codes == [2, 2] and captured.err.count("error: ") == 2
    elif shape.name in ("plain", "very-short"):
        assert codes == [0, 0]
    else:  # the channel takes it; the provider (the sandbox) may refuse it: 1 or 2, not a crash
        assert codes[0] == 0 and codes[1] in (0, 1, 2)
    assert_no_secret(texts, *shape.secrets(provider))
    assert_no_secret_in_files(tmp_path, *shape.secrets(provider))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_canary_never_shows_in_a_real_cli_run(provider: str, tmp_path: Path) -> None:
    """A key ending in CR/LF, through the installed command: one sentence, no traceback."""
    shape = next(s for s in KEY_SHAPES if s.name == "trailing-crlf")
    path, env = _campaign(tmp_path, provider, shape)
    done = subprocess.run([CAMPAIGNKIT, "send", str(path)], cwd=tmp_path, text=True,
                          capture_output=True, timeout=120, check=False,
                          env={**os.environ, "PYTHONUTF8": "1", **env})
    field, option, variable = {
        "sociocs": ("Sociocs api_key", "api_key", "CANARY_API_KEY"),
        "textus": ("TextUs token", "token", "CANARY_TOKEN"),
        "bird": ("Bird access_key", "access_key", "CANARY_BIRD_KEY")}[provider]
    assert (done.returncode, done.stdout, done.stderr) == (2, "", (
        f"error: {path}: [channel] {field} has whitespace or a line break before or after it "
        "(often copied along with the key): remove it and give the key exactly as shown; it is "
        f"the value of the environment variable {variable} ([channel] {option}_env): correct "
        "it there\n"
    ))
    assert_no_secret([done.stdout, done.stderr], *shape.secrets(provider))
