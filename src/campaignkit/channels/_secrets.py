"""Secrets: checked once when a channel is made, and redacted in every form they can take.

Where a key goes is checked too: a ``base_url`` is https, or plain http to this machine
(loopback: the sandbox); plain http to any other host sends the key unencrypted, so it
needs ``allow_insecure=True``, and a live send then prints a warning (`check_base_url`).

A key is refused at construction when it cannot be right: empty, whitespace or a line break
around it (the usual copy-and-paste accident), a control or invisible character inside, or,
for a key sent in an HTTP header, a character a header cannot carry. The error names the
field, never the value.

Redaction then replaces every way a secret can be written out: as is, URL-encoded,
escaped by ``repr`` or JSON (httpx quotes a refused header as ``b'...\\r\\n'``), HTML- or
XML-escaped, and base64 (HTTP Basic). It matches whole tokens only, so redacting a short
key never garbles a word around it ("the token" stays "the token" when the key is "tok").

>>> redact("Invalid header value b'Bearer tok3n\\\\r\\\\n' for the token", ["tok3n\\r\\n"])
"Invalid header value b'Bearer [redacted]' for the token"
>>> redact("https://ann:s3cret@api.example.com/", userinfo_secrets("https://ann:s3cret@x"))
'https://[redacted]@api.example.com/'
"""

from __future__ import annotations

import base64
import functools
import html
import ipaddress
import json
import logging
import re
import unicodedata
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

import httpx
from pydantic import SecretStr

from .._errors import ChannelError

__all__ = [
    "REDACTED",
    "Redactor",
    "check_base_url",
    "check_secret",
    "insecure_warning",
    "is_loopback",
    "public_url",
    "redact",
    "secret_forms",
    "userinfo_secrets",
]

REDACTED = "[redacted]"
#: The parts of a ``part1:part2`` key shorter than this are not redacted on their own: too
#: short to find without garbling text ("a" in "a:b"), the whole key still is.
MIN_PART = 6
# RFC 3986 sub-delims and ":" / "@": what a URL's userinfo may carry unencoded.
_USERINFO_SAFE = "!$&'()*+,;=:@"
_PERCENT = re.compile(r"%[0-9A-F]{2}")
# Before a match: not a letter or digit, or the end of an escape (\n, %0A, \x0a, \u000a,
# _x000A_) that runs into the secret, e.g. "line\nkey" written by repr as "line\\nkey".
_LEFT = (
    r"(?:(?<![^\W_])|(?<=\\[abfnrtv0])|(?<=%[0-9A-Fa-f]{2})|(?<=\\x[0-9A-Fa-f]{2})"
    r"|(?<=\\u[0-9A-Fa-f]{4})|(?<=_x[0-9A-Fa-f]{4}_))"
)
_RIGHT = r"(?![^\W_])"


def _invisible(char: str) -> bool:
    # Cc control, Cf format (zero-width space, BOM), Zl/Zp line and paragraph separators,
    # Co/Cs/Cn private, surrogate, unassigned.
    return unicodedata.category(char)[0] == "C" or unicodedata.category(char) in ("Zl", "Zp")


def check_secret(value: object, *, name: str, fix: str, header: bool) -> SecretStr:
    """``value`` as a `SecretStr` once it can be a key; else `ChannelError` naming ``name``.

    Parameters
    ----------
    value
        The key as given (``str`` or `SecretStr`).
    name
        How the message names the field, e.g. ``"Sociocs api_key"``.
    fix
        Where a right key comes from, e.g. ``"create an API token under Profile -> API"``.
    header
        Whether the key travels in an HTTP header (then only printable ASCII can be sent).

    >>> check_secret("tok\\n", name="TextUs token", fix="copy it again", header=True)
    Traceback (most recent call last):
    ...
    campaignkit._errors.ChannelError: TextUs token has whitespace or a line break before or \
after it (often copied along with the key): remove it and give the key exactly as shown
    """
    if isinstance(value, SecretStr):
        text = value.get_secret_value()
    elif isinstance(value, str):
        text = value
    else:
        raise ChannelError(
            f"{name} must be text (a str or SecretStr), not {type(value).__name__}: {fix}"
        )
    if not text.strip():
        raise ChannelError(f"{name} is empty: {fix}")
    if text != text.strip():
        raise ChannelError(
            f"{name} has whitespace or a line break before or after it (often copied along "
            "with the key): remove it and give the key exactly as shown"
        )
    if any(_invisible(char) for char in text):
        raise ChannelError(
            f"{name} contains a control or invisible character (a line break, a tab, a "
            "zero-width space...): copy the key again, exactly as shown"
        )
    if header and not (text.isascii() and text.isprintable()):
        raise ChannelError(
            f"{name} has a character other than plain ASCII letters, digits and punctuation, "
            "which an HTTP header cannot carry: copy the key again, exactly as shown"
        )
    return value if isinstance(value, SecretStr) else SecretStr(text)


# -- forms and redaction -------------------------------------------------------------------


def _escaped_controls(text: str, *, c0_only: bool) -> str:
    # How OOXML writes a control character: _x000D_ (C0 only, or every Cc such as DEL).
    return "".join(
        f"_x{ord(c):04X}_" if (ord(c) < 0x20 if c0_only else unicodedata.category(c) == "Cc")
        else c
        for c in text
    )


def _one_forms(text: str) -> set[str]:
    encoded = text.encode()
    forms = {
        text,
        repr(text)[1:-1],
        ascii(text)[1:-1],
        repr(encoded)[2:-1],
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
        html.escape(text),
        html.escape(text, quote=False),
        *(_escaped_controls(base, c0_only=c0) for base in (text, html.escape(text, quote=False))
          for c0 in (True, False)),
        base64.b64encode(encoded).decode().rstrip("="),
        base64.urlsafe_b64encode(encoded).decode().rstrip("="),
    }
    for percent in (quote(text, safe=""), quote(text), quote_plus(text),
                    quote(text, safe=_USERINFO_SAFE)):
        forms |= {percent, _PERCENT.sub(lambda m: m.group().lower(), percent)}
    return forms


def secret_forms(secret: str) -> tuple[str, ...]:
    """Every way ``secret`` can be written out, longest first.

    The secret as is and without surrounding whitespace; each URL-encoded (``%2F`` and
    ``%2f``, ``+`` for a space), escaped by ``repr``/``ascii``/bytes ``repr``/JSON, HTML- and
    XML-escaped, base64 (standard and URL-safe, unpadded). For a ``part1:part2`` key each
    part of at least `MIN_PART` characters too (HTTP Basic sends them apart).

    >>> sorted(form for form in secret_forms("k y\\n") if len(form) == 8)
    ['k%20y%0A', 'k%20y%0a']
    """
    texts = {secret, secret.strip()}
    for text in list(texts):
        if ":" in text:
            texts |= {part for part in text.split(":") if len(part.strip()) >= MIN_PART}
    forms: set[str] = set()
    for text in texts:
        if text.strip():
            forms |= _one_forms(text)
    return tuple(sorted((form for form in forms if form), key=lambda f: (-len(f), f)))


def userinfo_secrets(url: str) -> tuple[str, ...]:
    """The userinfo of ``url``, decoded (``user:password``), as a secret; ``()`` if none.

    Its parts are redacted on their own too when long enough (see `secret_forms`).

    >>> userinfo_secrets("https://ann:p%40ssw0rd@api.example.com")
    ('ann:p@ssw0rd',)
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return ()
    if "@" not in parts.netloc:
        return ()
    userinfo = unquote(parts.netloc.rpartition("@")[0])
    return (userinfo,) if userinfo else ()


def public_url(url: str) -> str:
    """``url`` with any userinfo replaced by ``[redacted]`` (safe to show or store).

    >>> public_url("https://ann:secret@api.example.com/v1")
    'https://[redacted]@api.example.com/v1'
    >>> public_url("https://api.example.com")
    'https://api.example.com'
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc = rest[:end]
    if "@" not in netloc:
        return url
    return f"{scheme}://{REDACTED}@{netloc.rpartition('@')[2]}{rest[end:]}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine: ``localhost``, 127.0.0.0/8 or ``::1``.

    >>> [is_loopback(h) for h in ("localhost", "127.8.0.1", "::1", "127.0.0.1.example.com")]
    [True, True, True, False]
    """
    host = host.strip("[]").lower().removesuffix(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(value: object, *, owner: str, allow_insecure: object) -> str:
    """``value`` without a trailing ``/`` once it is a safe place to send a key to.

    https anywhere, plain http only to loopback (the sandbox) unless ``allow_insecure``:
    anything else is a `ChannelError` naming the fix. Userinfo never shows in the message.

    >>> check_base_url("https://api.sociocs.com/", owner="Sociocs", allow_insecure=False)
    'https://api.sociocs.com'
    >>> check_base_url("http://10.0.0.5:8000", owner="Sociocs", allow_insecure=False)
    Traceback (most recent call last):
    ...
    campaignkit._errors.ChannelError: Sociocs base_url "http://10.0.0.5:8000" is plain http \
to 10.0.0.5, so the key would travel unencrypted: use an https:// address, or pass \
allow_insecure=True (allow_insecure = true under [channel] in campaign.toml) to accept that
    """
    if not isinstance(allow_insecure, bool):
        raise ChannelError(f"{owner} allow_insecure must be True or False, not "
                           f"{allow_insecure!r}")
    if not isinstance(value, str):
        raise ChannelError(f'{owner} base_url must be text such as "https://api.example.com", '
                           f"not {type(value).__name__}")
    shown = public_url(value.strip())
    if "@" in shown and REDACTED not in shown:  # userinfo without a scheme: "ann:pw@host"
        shown = f"{REDACTED}@{shown.rpartition('@')[2]}"
    shown = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in shown)  # one line
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError, ValueError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host or value != value.strip():
        raise ChannelError(f'{owner} base_url "{shown}" is not an http(s) address: give one '
                           'like "https://api.example.com", or the sandbox\'s '
                           '"http://127.0.0.1:8000"')
    if url.scheme == "http" and not allow_insecure and not is_loopback(url.host):
        raise ChannelError(
            f'{owner} base_url "{shown}" is plain http to {url.host}, so the key would travel '
            "unencrypted: use an https:// address, or pass allow_insecure=True "
            "(allow_insecure = true under [channel] in campaign.toml) to accept that")
    return value.rstrip("/")


def insecure_warning(base_url: str) -> str | None:
    """The warning a live send prints when its key travels unencrypted; None when it does not.

    >>> insecure_warning("http://10.0.0.5:8000")
    'sending to http://10.0.0.5:8000 over plain http (allow_insecure=True): the key travels \
unencrypted, readable by anyone on the network path to 10.0.0.5'
    >>> insecure_warning("https://api.sociocs.com") is None
    True
    """
    url = httpx.URL(base_url)
    if url.scheme != "http" or is_loopback(url.host):
        return None
    return (f"sending to {public_url(base_url)} over plain http (allow_insecure=True): the key "
            f"travels unencrypted, readable by anyone on the network path to {url.host}")


class _UserinfoFilter(logging.Filter):
    """httpx logs each request's URL as given (``HTTP Request: POST https://user:pass@...``):
    the userinfo of a ``base_url`` is shown as ``[redacted]`` there too."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, httpx.URL) and a.userinfo
                                           for a in args):
            record.args = tuple(public_url(str(a)) if isinstance(a, httpx.URL) else a
                                for a in args)
        return True


logging.getLogger("httpx").addFilter(_UserinfoFilter())


class Redactor:
    """Replaces every form of the given secrets by ``[redacted]`` (compiled once).

    >>> Redactor(["tok"]).redact("the token: tok")
    'the token: [redacted]'
    """

    __slots__ = ("_patterns",)

    def __init__(self, secrets: Iterable[str]) -> None:
        self._patterns = _compile(tuple(sorted({s for s in secrets if s and s.strip()})))

    def redact(self, text: str) -> str:
        """``text`` with every form of every secret replaced by ``[redacted]``."""
        if self._patterns is None:
            return text
        quick, pattern = self._patterns
        # Most text holds no secret: the bare alternation skips ahead on its first
        # characters, which the boundary look-behinds in front of ``pattern`` prevent.
        if quick.search(text) is None:
            return text
        return pattern.sub(REDACTED, text)

    def redact_json(self, value: Any) -> Any:
        """``value`` (decoded JSON) with every string leaf and key redacted."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self.redact(str(k)): self.redact_json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.redact_json(v) for v in value]
        return value

    def __repr__(self) -> str:
        return "<Redactor>" if self._patterns is None else "<Redactor armed>"


@functools.lru_cache(maxsize=64)
def _compile(secrets: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str]] | None:
    forms = sorted({f for s in secrets for f in secret_forms(s)}, key=lambda f: (-len(f), f))
    if not forms:
        return None
    alternation = "(?:" + "|".join(map(re.escape, forms)) + ")"
    return re.compile(alternation), re.compile(_LEFT + alternation + _RIGHT)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every form of every one of ``secrets`` replaced by ``[redacted]``.

    >>> redact("apikey=id%3As3cret-key; the key", ["id:s3cret-key"])
    'apikey=[redacted]; the key'
    """
    return Redactor(secrets).redact(text)
