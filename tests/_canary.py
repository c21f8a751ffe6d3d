"""Canary keys in every awkward shape, and one check for every way a secret can leak.

The checks are written independently of campaignkit's own redaction (``secret_forms`` here
is not the library's): a form the library forgets to redact is found here.

Use from any test module::

    from _canary import CASES, assert_no_secret, assert_no_secret_in_files, make_channel

    @pytest.mark.parametrize(("provider", "shape"), CASES)
    def test_my_output_never_shows_a_key(provider, shape, tmp_path):
        if not shape.valid:
            ...  # make_channel raises ChannelError: sweep exception_texts(error)
        channel = make_channel(provider, shape)
        ...  # produce the output
        assert_no_secret(my_output, *shape.secrets(provider), where="my output")

To sweep a new output (the ledger, a notebook saved with widget state), write it to
``tmp_path`` and call `assert_no_secret_in_files` on the folder: SQLite databases are dumped
as SQL text, XLSX and other zip files are unzipped, everything else is read as text.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
import sqlite3
import traceback
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import strategies as st

from campaignkit import Bird, Sociocs, TextUs
from campaignkit.channels import Channel

__all__ = [
    "CASES",
    "KEY_SHAPES",
    "PROVIDERS",
    "KeyShape",
    "assert_no_secret",
    "assert_no_secret_in_files",
    "exception_texts",
    "keys",
    "log_texts",
    "make_channel",
    "secret_forms",
]

PROVIDERS = ("sociocs", "textus", "bird")
WORKSPACE = "a1405560-c8d3-4b1a-877d-3f449ad95352"
CHANNEL = "ce6a2fd6-b2fa-4f5a-a2cd-f3bd15883318"


@dataclass(frozen=True)
class KeyShape:
    """One way a key can look, for each secret of each provider."""

    name: str
    sociocs_api_key: str
    sociocs_channel_key: str  # for provider "twlo"
    textus_token: str
    bird_access_key: str
    #: whether every constructor accepts it (else each refuses it with a ChannelError)
    valid: bool

    def secrets(self, provider: str) -> tuple[str, ...]:
        """The secrets ``provider``'s channel holds in this shape."""
        return {
            "sociocs": (self.sociocs_api_key, self.sociocs_channel_key),
            "textus": (self.textus_token,),
            "bird": (self.bird_access_key,),
        }[provider]


def _shape(name: str, api: str, channel: str, token: str, bird: str, *, valid: bool) -> KeyShape:
    return KeyShape(name, api, "twlo_" + channel, token, bird, valid)


_API = "CanaryKeyId7Q:CanarySecret5Fb2Ux9"
_TOKEN = "CanaryTextusTok3n9Xw"
_BIRD = "CanaryBirdAcc3ssK3y4"

KEY_SHAPES: tuple[KeyShape, ...] = (
    _shape("plain", _API, "16175550142", _TOKEN, _BIRD, valid=True),
    # accepted by the channels, refused by the sandbox: the error paths get the canary
    _shape("inner-spaces", "Canary Key Id:Canary Secret Part", "1617 5550143",
           "Canary Textus Token 9", "Canary Bird Key 4", valid=True),
    _shape("very-short", "Q:z", "7", "Zq", "Q9", valid=True),
    # characters that URL-encoding, HTML, JSON and repr each write differently
    _shape("punctuation", "Canary/Id+7=:Secret&<Part>\"'%9", "1617&<5550150>\"'%",
           "Tok/+=&<Canary>\"'%9", "Bird/+=&<Canary>\"'%4", valid=True),
    # the channel key travels in the JSON body, where any printable text goes
    _shape("unicode-body", "CanaryKeyId8R:CanarySecret6Gc3Vy0", "1617ключé",
           "CanaryTextusTok3n0Yx", "CanaryBirdAcc3ssK3y5", valid=True),
    # refused at construction
    KeyShape("trailing-crlf", _API + "\r\n", "twlo_16175550144\r\n", _TOKEN + "\r\n",
             _BIRD + "\r\n", False),
    KeyShape("trailing-lf", _API + "\n", "twlo_16175550145\n", _TOKEN + "\n", _BIRD + "\n",
             False),
    KeyShape("leading-space", " " + _API, " twlo_16175550146", " " + _TOKEN, " " + _BIRD,
             False),
    KeyShape("control-inside", "CanaryKeyId7Q:Canary\x00Secret", "twlo_1617\x1b5550147",
             "CanaryTextus\tTok3n", "CanaryBird\x7fKey", False),
    KeyShape("invisible-inside", "CanaryKeyId7Q:Canary\u200bSecret", "twlo_1617\ufeff5550148",
             "CanaryTextus\u200bTok3n", "CanaryBird\u2028Key", False),
    # a header cannot carry it (the Sociocs channel key travels in the body: accepted there)
    KeyShape("unicode", "CanäryKeyId:Sécret-ключ-9", "twlo_16175550149", "Tokén-canary-ключ",
             "clé-canary-ß-4", False),
)


#: one case per provider and key shape, for ``pytest.mark.parametrize(("provider", "shape"), ...)``
CASES = [pytest.param(provider, shape, id=f"{provider}-{shape.name}")
         for provider in PROVIDERS for shape in KEY_SHAPES]


def make_channel(provider: str, shape: KeyShape, **options: Any) -> Channel:
    """``provider``'s channel with ``shape``'s keys (Sociocs on twlo, TextUs on SMS)."""
    if provider == "sociocs":
        return Sociocs(shape.sociocs_api_key, shape.sociocs_channel_key, "twlo", **options)
    if provider == "textus":
        return TextUs("acme", shape.textus_token, "sms", **options)
    return Bird(WORKSPACE, CHANNEL, shape.bird_access_key, **options)


# -- the forms, independently of campaignkit --------------------------------------------


def secret_forms(secret: str) -> dict[str, str]:
    """``{how: text}`` for every way the secret (and its stripped core) can be written."""
    forms: dict[str, str] = {}
    cores = {secret, secret.strip()}
    for core in list(cores):
        if ":" in core:  # Basic auth sends "part1:part2" apart; test the long parts alone
            cores |= {part for part in core.split(":") if len(part) >= 6}
    for core in sorted(cores):
        if not core.strip():
            continue
        raw = core.encode()
        candidates = {
            "raw": core,
            "repr": repr(core)[1:-1],
            "ascii": ascii(core)[1:-1],
            "bytes repr": repr(raw)[2:-1],
            "json": json.dumps(core)[1:-1],
            "json unicode": json.dumps(core, ensure_ascii=False)[1:-1],
            "html": html.escape(core),
            "url": quote(core, safe=""),
            "url lower": re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(),
                                quote(core, safe="")),
            "url path": quote(core),
            "url form": quote_plus(core),
            "url userinfo": quote(core, safe="!$&'()*+,;=:@"),
            "base64": base64.b64encode(raw).decode().rstrip("="),
            "base64 url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
            "ooxml": "".join(f"_x{ord(c):04X}_" if ord(c) < 32 else c for c in core),
        }
        for how, text in candidates.items():
            forms.setdefault(text, f"{how} of {core!r}")
    return {how: text for text, how in forms.items()}


def _found(text: str, form: str) -> int:
    """Where ``form`` occurs in ``text`` (-1: nowhere). Short forms count as whole tokens."""
    if len(form) >= 8:
        return text.find(form)
    match = re.search(r"(?<![^\W_])" + re.escape(form) + r"(?![^\W_])", text)
    return -1 if match is None else match.start()


def assert_no_secret(data: str | bytes | Iterable[str], *secrets: str, where: str = "") -> None:
    """Fail if any form of any of ``secrets`` occurs in ``data`` (text, bytes or texts)."""
    texts: list[str]
    if isinstance(data, bytes):
        texts = [data.decode("utf-8", "replace"), data.decode("latin-1")]
    elif isinstance(data, str):
        texts = [data]
    else:
        texts = list(data)
    for secret in secrets:
        for how, form in secret_forms(secret).items():
            for text in texts:
                at = _found(text, form)
                if at >= 0:
                    context = text[max(0, at - 60): at + len(form) + 60]
                    raise AssertionError(f"{how} found in {where or 'output'}: ...{context!r}...")


def file_texts(path: Path) -> Iterator[tuple[str, str]]:
    """``(name, text)`` for a file: SQLite dumped as SQL, zip members unzipped, else text."""
    data = path.read_bytes()
    if data.startswith(b"SQLite format 3\x00"):
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            yield str(path), "\n".join(conn.iterdump())
        finally:
            conn.close()
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                yield f"{path}!{member}", archive.read(member).decode("utf-8", "replace")
    else:
        yield str(path), data.decode("utf-8", "replace")
        yield str(path) + " (latin-1)", data.decode("latin-1")


def assert_no_secret_in_files(folder: Path, *secrets: str,
                              inputs: Iterable[Path] = ()) -> list[str]:
    """Fail if any file under ``folder`` holds a secret; return the files looked at.

    A SQLite file's WAL is read raw too (a committed secret can sit there before a
    checkpoint), but only for secrets of 8 characters or more: binary pages hold short
    tokens by chance. ``inputs`` are left out (a campaign file that holds a key on purpose).
    """
    seen = []
    skipped = {Path(p).resolve() for p in inputs}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()
                       and p.resolve() not in skipped):
        seen.append(path.name)
        for name, text in file_texts(path):
            assert_no_secret(text, *secrets, where=name)
        long = [s for s in secrets if len(s.strip()) >= 8]
        assert_no_secret(path.read_bytes(), *long, where=f"{path} (raw bytes)")
    return seen


def exception_texts(error: BaseException) -> list[str]:
    """Everything an exception shows, down its ``__cause__``/``__context__`` chain.

    Each link's message as a traceback prints it, its str, repr, args and attributes. The
    traceback's source lines are left out: they quote the caller's code, not an output.
    """
    texts = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += ["".join(traceback.format_exception_only(current)), str(current),
                  repr(current), *map(repr, current.args)]
        texts += [repr(value) for value in vars(current).values()] if hasattr(
            current, "__dict__") else []
        current = current.__cause__ or current.__context__
    return texts


def log_texts(records: Iterable[logging.LogRecord]) -> list[str]:
    """Every log record as its message, its arguments, its extras and its traceback."""
    texts = []
    formatter = logging.Formatter()
    for record in records:
        texts += [record.getMessage(), repr(record.args), repr(vars(record))]
        if record.exc_info:
            texts.append(formatter.formatException(record.exc_info))
    return texts


def keys(provider_secret: str) -> st.SearchStrategy[str]:
    """A key as an environment variable can hold it: every fixed shape of ``provider_secret``
    (a `KeyShape` field, e.g. ``"textus_token"``) but the very short ones, whose tokens
    random text can hold by chance, or a distinctive prefix and any characters after it."""
    fixed = [getattr(shape, provider_secret) for shape in KEY_SHAPES
             if shape.name != "very-short" and "\x00" not in getattr(shape, provider_secret)]
    tail = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
                   min_size=1, max_size=24)
    drawn = st.tuples(st.sampled_from(["Ck9Fuzz", "twlo_1617Fz9", "Ck9Id:Ck9Secret"]), tail,
                      st.sampled_from(["", "\n", "\r\n", " "])).map("".join)
    return st.one_of(st.sampled_from(fixed), drawn)
