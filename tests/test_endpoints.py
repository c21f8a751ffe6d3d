"""Where a key may travel: https, or plain http to this machine (the sandbox), else opt in.

Every channel checks its ``base_url`` when it is made (and when it is set again), so the
Python API, the command line (through campaign.toml) and the Composer (which makes its
channels with the same constructors) follow one rule. Plain http to another host needs
``allow_insecure=True`` and a live send then prints one warning line.
"""

from __future__ import annotations

import io
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import httpx
import pandas as pd
import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _canary import CHANNEL, WORKSPACE, assert_no_secret
from _support import fast
from campaignkit import (
    Bird,
    ChannelError,
    Guardrails,
    Message,
    Sociocs,
    TextUs,
    load_recipients,
    render,
    send,
)
from campaignkit.channels import Channel
from campaignkit.channels._secrets import is_loopback
from campaignkit.cli import main
from campaignkit.sandbox import Sandbox
from campaignkit.sending import is_sandbox

KEY = "CanaryKeyId7Q:CanarySecret5Fb2Ux9"
NAMES = {"sociocs": "Sociocs", "textus": "TextUs", "bird": "Bird"}


def make(provider: str, base_url: object, **options: object) -> Channel:
    if provider == "sociocs":
        return Sociocs(KEY, "twlo_16175550142", "twlo", base_url=base_url, **options)
    if provider == "textus":
        return TextUs("acme", "CanaryTextusTok3n9Xw", "sms", base_url=base_url, **options)
    return Bird(WORKSPACE, CHANNEL, "CanaryBirdAcc3ssK3y4", base_url=base_url, **options)


PROVIDERS = list(NAMES)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("url", "host"), [
    ("http://api.sociocs.com", "api.sociocs.com"),
    ("http://192.0.2.10:8000/", "192.0.2.10"),
    ("http://127.0.0.1.nip.io", "127.0.0.1.nip.io"),
    ("http://0.0.0.0:8000", "0.0.0.0"),
    ("http://[fd00::2]:8000", "fd00::2"),
    ("http://localhost.example.com", "localhost.example.com"),
])
def test_plain_http_to_another_host_is_refused_naming_the_fix(provider: str, url: str,
                                                              host: str) -> None:
    """http:// anywhere but loopback: a ChannelError that says https, or allow_insecure."""
    with pytest.raises(ChannelError) as raised:
        make(provider, url)
    assert str(raised.value) == (
        f'{NAMES[provider]} base_url "{url}" is plain http to {host}, so the key would travel '
        "unencrypted: use an https:// address, or pass allow_insecure=True (allow_insecure = "
        "true under [channel] in campaign.toml) to accept that")


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("url", [
    "https://api.example.com", "https://10.0.0.5:8443/v1", "http://127.0.0.1:8000",
    "http://127.8.9.10", "http://localhost:9000", "http://LOCALHOST", "http://[::1]:8000",
])
def test_https_and_loopback_http_are_accepted(provider: str, url: str) -> None:
    """https anywhere, and plain http to this machine (the sandbox), need no opt-in."""
    assert make(provider, url + "/").base_url == url


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_opt_in_accepts_plain_http(provider: str) -> None:
    """allow_insecure=True: plain http to another host is the caller's explicit choice."""
    channel = make(provider, "http://192.0.2.10:8000", allow_insecure=True)
    assert (channel.base_url, channel.allow_insecure) == ("http://192.0.2.10:8000", True)


@pytest.mark.parametrize(("url", "expected"), [
    ("ftp://api.example.com", 'Sociocs base_url "ftp://api.example.com" is not an http(s) '
     'address: give one like "https://api.example.com", or the sandbox\'s '
     '"http://127.0.0.1:8000"'),
    ("api.sociocs.com", 'Sociocs base_url "api.sociocs.com" is not an http(s) address: give '
     'one like "https://api.example.com", or the sandbox\'s "http://127.0.0.1:8000"'),
    ("https://", 'Sociocs base_url "https://" is not an http(s) address: give one like '
     '"https://api.example.com", or the sandbox\'s "http://127.0.0.1:8000"'),
    (" https://api.sociocs.com", 'Sociocs base_url "https://api.sociocs.com" is not an '
     'http(s) address: give one like "https://api.example.com", or the sandbox\'s '
     '"http://127.0.0.1:8000"'),
    (5, 'Sociocs base_url must be text such as "https://api.example.com", not int'),
    (None, 'Sociocs base_url must be text such as "https://api.example.com", not NoneType'),
])
def test_a_base_url_that_is_no_http_address_is_one_sentence(url: object, expected: str) -> None:
    """Other schemes, no scheme, no host, not text: refused in one sentence."""
    with pytest.raises(ChannelError) as raised:
        make("sociocs", url)
    assert str(raised.value) == expected


def test_the_opt_in_must_be_a_boolean() -> None:
    """allow_insecure="no" is not silently true."""
    with pytest.raises(ChannelError) as raised:
        make("textus", "https://next.textus.com", allow_insecure="no")
    assert str(raised.value) == "TextUs allow_insecure must be True or False, not 'no'"


def test_a_password_in_a_refused_base_url_never_shows() -> None:
    """The refusal names the host, never the userinfo."""
    with pytest.raises(ChannelError) as raised:
        make("bird", "http://ann:Canary-pass-9x@192.0.2.10")
    assert str(raised.value).startswith(
        'Bird base_url "http://[redacted]@192.0.2.10" is plain http to 192.0.2.10, ')
    assert_no_secret(str(raised.value), "ann:Canary-pass-9x")


def test_setting_base_url_later_is_checked_too() -> None:
    """channel.base_url = "http://..." after construction goes through the same check."""
    channel = make("sociocs", "https://api.sociocs.com")
    with pytest.raises(ChannelError, match=r"is plain http to 192\.0\.2\.10,"):
        channel.base_url = "http://192.0.2.10"
    assert channel.base_url == "https://api.sociocs.com"


@pytest.mark.parametrize(("url", "sandbox"), [
    ("http://127.0.0.1:8000", True), ("http://localhost:8000", True), ("http://[::1]:1", True),
    ("https://127.0.0.1.nip.io", False), ("https://api.sociocs.com", False),
])
def test_only_loopback_counts_as_the_sandbox(url: str, sandbox: bool) -> None:
    """A host named like 127.x is not this machine: its sends go to the real ledger."""
    assert is_sandbox(make("sociocs", url)) is sandbox


# -- the warning -----------------------------------------------------------------------------

WARNING = ("warning: sending to http://192.0.2.10:8000 over plain http (allow_insecure=True): "
           "the key travels unencrypted, readable by anyone on the network path to 192.0.2.10\n")


def _rendered() -> pd.DataFrame:
    sheet = pd.DataFrame({"phone": ["+16175551212", "+16175551213"]})
    return render(load_recipients(sheet), Message(text="Hi"))


@pytest.mark.parametrize(("url", "live", "expected"), [
    ("http://192.0.2.10:8000", True, WARNING),
    ("http://192.0.2.10:8000", False, ""),  # a dry run: the key never leaves the machine
    ("https://192.0.2.10:8000", True, ""),
])
def test_a_live_send_over_plain_http_prints_one_warning_line(
        url: str, live: bool, expected: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """send(live=True) through an opted-in http channel says once that the key is exposed."""
    channel = make("textus", url, allow_insecure=True)
    results = send(_rendered(), channel, campaign="warned", live=live, progress=False,
                   pacing=fast(), transport=Sandbox().transport(),
                   guardrails=Guardrails(quiet_hours=None, provider_opt_outs=False))
    assert results["status"].tolist() == ["sent" if live else "dry-run"] * 2
    assert capsys.readouterr() == ("", expected)


# -- on the wire: a listener on this machine's network address ------------------------------


def _network_address() -> str | None:
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith("127."):
                return str(address.address)
    return None


class Listener:
    """A TCP server that keeps every request head it gets and answers 401."""

    def __init__(self, host: str) -> None:
        self.sock = socket.create_server((host, 0))
        self.url = f"http://{host}:{self.sock.getsockname()[1]}"
        self.heads: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.heads.append(data.partition(b"\r\n\r\n")[0])
                conn.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")

    def close(self) -> None:
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def listener() -> Iterator[Listener]:
    host = _network_address()
    if host is None:
        pytest.skip("this machine has no network address other than loopback")
    server = Listener(host)
    yield server
    server.close()


def _campaign(folder: Path, base_url: str, opt_in: bool) -> Path:
    (folder / "recipients.csv").write_text("phone\n+16175551212\n+16175551213\n",
                                           encoding="utf-8")
    path = folder / "campaign.toml"
    path.write_text(
        '[recipients]\npath = "recipients.csv"\ndefault_region = "US"\n\n'
        '[message]\ntext = "Hi"\n\n'
        f'[channel]\ntype = "textus"\naccount = "acme"\nchannel = "sms"\n'
        f'token_env = "CK_WIRE_TOKEN"\nbase_url = "{base_url}"\n'
        f"{'allow_insecure = true' if opt_in else ''}\n\n"
        '[send]\ncampaign = "wire"\nrate = 100.0\n\n[guardrails]\nquiet_hours = false\n',
        encoding="utf-8")
    return path


@pytest.mark.parametrize("opt_in", [False, True])
def test_a_listener_on_the_network_never_sees_the_key_without_the_opt_in(
        opt_in: bool, listener: Listener, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """send --live --yes to plain http on this machine's network address: without the opt-in
    0 connections and exit 2; with it the key crosses the wire (and the warning said so)."""
    token = "CanaryWireTok3n7Zq"
    monkeypatch.setenv("CK_WIRE_TOKEN", token)
    path = _campaign(tmp_path, listener.url, opt_in)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["send", str(path), "--live", "--yes"])
    host = listener.url.removeprefix("http://").rpartition(":")[0]
    warning = (f"warning: sending to {listener.url} over plain http (allow_insecure=True): the "
               f"key travels unencrypted, readable by anyone on the network path to {host}")
    if not opt_in:
        assert (code, listener.heads) == (2, [])
        assert err.getvalue() == (
            f'error: {path}: [channel] TextUs base_url "{listener.url}" is plain http to {host}, '
            "so the key would travel unencrypted: use an https:// address, or pass "
            "allow_insecure=True (allow_insecure = true under [channel] in campaign.toml) to "
            "accept that\n")
        assert warning not in out.getvalue()
    else:  # the listener answers 401 to the opt-out lookup: the run halts before any send
        assert code == 2
        assert len(listener.heads) == 1
        assert listener.heads[0].startswith(b"GET /acme/opt_outs?")
        assert f"Authorization: Bearer {token}\r\n".encode() in listener.heads[0]
        assert out.getvalue().splitlines().count(warning) == 1
        assert err.getvalue().splitlines()[0] == warning


def test_replies_over_plain_http_say_so_before_the_key_travels(
        listener: Listener, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """campaignkit replies with allow_insecure: the same warning as send, then the one GET."""
    monkeypatch.setenv("CK_WIRE_KEY", "kid:CanaryWireK3y7Zq")
    monkeypatch.setenv("CK_WIRE_CHANNEL", "twlo_16175550100")
    path = _campaign(tmp_path, listener.url, opt_in=True)
    path.write_text(path.read_text(encoding="utf-8").replace(
        'type = "textus"\naccount = "acme"\nchannel = "sms"\ntoken_env = "CK_WIRE_TOKEN"\n',
        'type = "sociocs"\nprovider = "twlo"\napi_key_env = "CK_WIRE_KEY"\n'
        'channel_key_env = "CK_WIRE_CHANNEL"\n'), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["replies", str(path)])
    host = listener.url.removeprefix("http://").rpartition(":")[0]
    assert code == 2
    assert out.getvalue().splitlines()[0] == (
        f"warning: sending to {listener.url} over plain http (allow_insecure=True): the "
        f"key travels unencrypted, readable by anyone on the network path to {host}")
    assert len(listener.heads) == 1
    assert err.getvalue().startswith("error: sociocs:twlo: reading ")


# -- any base_url ------------------------------------------------------------------------------

hosts = st.sampled_from(["127.0.0.1", "localhost", "[::1]", "127.1.2.3", "10.0.0.5",
                         "api.example.com", "127.0.0.1.nip.io", "[fd00::2]", "ïdn.example",
                         ""]) | st.text(max_size=12)


@st.composite
def base_urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "", "//"]))
    userinfo = draw(st.sampled_from(["", "ann:Ck9Pass-word77@"]))
    port = draw(st.sampled_from(["", ":8000", ":0", ":99999", ":x"]))
    path = draw(st.sampled_from(["", "/", "/v1/", "?q=1", "#x"]) | st.text(max_size=8))
    return scheme + userinfo + draw(hosts) + port + path


@settings(max_examples=300, deadline=None)
@given(url=base_urls() | st.text(max_size=40), opt_in=st.booleans())
def test_any_base_url_is_accepted_only_where_the_key_travels_safely(url: str,
                                                                    opt_in: bool) -> None:
    """Accepted: https, loopback http, or http with the opt-in; else one sentence without the
    password. Never another exception."""
    try:
        channel = make("bird", url, allow_insecure=opt_in)
    except ChannelError as error:
        assert "\n" not in str(error) and str(error).startswith("Bird base_url ")
        assert_no_secret(str(error), "ann:Ck9Pass-word77")
        return
    parsed = httpx.URL(channel.base_url)
    assert parsed.scheme == "https" or (parsed.scheme == "http" and (
        opt_in or is_loopback(parsed.host)))


def test_httpx_request_log_lines_never_show_a_password_in_base_url(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """httpx logs "HTTP Request: POST <url>" at INFO: the url's userinfo shows as [redacted]."""
    channel = make("sociocs", "http://ann:Ck9Pass-word77@127.0.0.1:9")
    with caplog.at_level(logging.DEBUG):
        send(_rendered(), channel, campaign="logged", live=True, progress=False,
             pacing=fast(), transport=Sandbox().transport(), ledger=tmp_path / "ledger.db",
             guardrails=Guardrails(quiet_hours=None, provider_opt_outs=False))
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert lines == ['HTTP Request: POST http://[redacted]@127.0.0.1:9/message "HTTP/1.1 200 OK"'
                     ] * 2
    assert_no_secret(lines, "ann:Ck9Pass-word77")
