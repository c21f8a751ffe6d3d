"""Which credentials the sandbox accepts, and how each provider presents them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

__all__ = [
    "SandboxCredentials", "bird_access_key", "fingerprint", "sociocs_key", "textus_token",
]

# SOC api/auhentication.md: a key is "<part1>:<part2>".
_SOCIOCS_KEY = re.compile(r"^[^:\s]+:[^:\s]+$")
_TOKEN = re.compile(r"^\S+$")


def fingerprint(secret: str) -> str:
    """What the record keeps of a secret: ``sha256:`` and 12 hex digits, never any key material.

    Enough to tell two keys apart (and to group an account's messages), nothing to send with.

    >>> fingerprint("e047nbp2UnWuHD9m:Xqc37DHPGMyF0Z4hWX3Afn1Iyj6j7dPc")
    'sha256:ad52f2122fa1'
    """
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:12]


def _frozen(values: Iterable[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


@dataclass(frozen=True, slots=True, repr=False, init=False)
class SandboxCredentials:
    """The credentials the sandbox accepts; ``None`` for a kind accepts any well-formed one.

    Parameters
    ----------
    sociocs_api_keys
        Sociocs API keys (``"<part1>:<part2>"``); others get 401.
    sociocs_channel_keys
        Sociocs channel keys (``"<provider>_<digits>"``); others get 400 "Invalid channel_key.".
    textus_tokens
        TextUs bearer tokens; others get 401.
    bird_access_keys
        Bird access keys; others get 401.
    forbidden
        Credentials that authenticate but lack permission: every request with one gets 403.

    Examples
    --------
    >>> SandboxCredentials(textus_tokens=["tok"], forbidden=["other"])
    SandboxCredentials(textus_tokens=<1 secret>, forbidden=<1 secret>)
    """

    sociocs_api_keys: frozenset[str] | None = None
    sociocs_channel_keys: frozenset[str] | None = None
    textus_tokens: frozenset[str] | None = None
    bird_access_keys: frozenset[str] | None = None
    forbidden: frozenset[str] = frozenset()

    def __init__(
        self,
        *,
        sociocs_api_keys: Iterable[str] | None = None,
        sociocs_channel_keys: Iterable[str] | None = None,
        textus_tokens: Iterable[str] | None = None,
        bird_access_keys: Iterable[str] | None = None,
        forbidden: Iterable[str] = (),
    ) -> None:
        object.__setattr__(self, "sociocs_api_keys", _frozen(sociocs_api_keys))
        object.__setattr__(self, "sociocs_channel_keys", _frozen(sociocs_channel_keys))
        object.__setattr__(self, "textus_tokens", _frozen(textus_tokens))
        object.__setattr__(self, "bird_access_keys", _frozen(bird_access_keys))
        object.__setattr__(self, "forbidden", frozenset(forbidden))

    def __repr__(self) -> str:
        # Secrets never appear in a repr: show how many, never which.
        parts = []
        for name in ("sociocs_api_keys", "sociocs_channel_keys", "textus_tokens",
                     "bird_access_keys", "forbidden"):
            values = getattr(self, name)
            if values:
                noun = "secret" if len(values) == 1 else "secrets"
                parts.append(f"{name}=<{len(values)} {noun}>")
        return f"SandboxCredentials({', '.join(parts)})"


def accepts(allowed: frozenset[str] | None, value: str) -> bool:
    """Whether ``value`` is among ``allowed`` (``None``: any value)."""
    return allowed is None or value in allowed


def sociocs_key(request_headers: httpx.Headers, url: httpx.URL) -> str | None:
    """The Sociocs API key from the ``apikey`` header, HTTP Basic or ``?apikey=``.

    SOC api/auhentication.md lists four ways; credentials in the URL arrive as Basic
    (httpx turns ``https://user:pass@host`` into an ``Authorization: Basic`` header).
    Returns None when none is present or the key is not ``<part1>:<part2>``.
    """
    key: str | None = request_headers.get("apikey")
    if key is None:
        scheme, _, value = request_headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic" and value:
            try:
                key = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
    if key is None:
        key = url.params.get("apikey")
    if key is None or not _SOCIOCS_KEY.match(key):
        return None
    return str(key)


def _scheme_value(request_headers: httpx.Headers, scheme: str) -> str | None:
    header: str = request_headers.get("authorization", "")
    got, _, value = header.partition(" ")
    value = value.strip()
    if got != scheme or not _TOKEN.match(value):
        return None
    return value


def textus_token(request_headers: httpx.Headers) -> str | None:
    """The TextUs token from ``Authorization: Bearer <token>`` (TXU-REQ), or None."""
    return _scheme_value(request_headers, "Bearer")


def bird_access_key(request_headers: httpx.Headers) -> str | None:
    """The Bird key from ``Authorization: AccessKey <key>`` (spec securitySchemes), or None.

    ``Bearer`` is refused on purpose: seed 004's ``Bearer jwt`` sample is a generator artefact
    (docs/providers/bird.md#auth), and a client sending it would fail against the real API.
    """
    return _scheme_value(request_headers, "AccessKey")
