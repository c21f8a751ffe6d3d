"""A campaign described in a TOML file, for the command line.

::

    [recipients]
    path = "recipients.csv"          # relative to this file
    default_region = "US"
    # phone_column = "Mobile"; sheet = "Sheet1"; duplicates = "first" | "keep"

    [message]
    text = "Hi {{ first_name }}, ..."  # or text_file = "message.txt"
    # [[message.media]] url = "https://...", kind = "image"
    # [message.template] id = "HX...", variables = { "1" = "{{ first_name }}" }

    [channel]
    type = "sociocs"                 # sociocs | textus | bird
    provider = "twlo"
    api_key_env = "SOCIOCS_API_KEY"  # secrets only ever from named environment variables
    channel_key_env = "SOCIOCS_CHANNEL_KEY"

    [send]
    campaign = "spring-reminders"
    rate = 5.0                       # messages per second
    limit = 10                       # optional
    results = "results.xlsx"

Every option of ``[channel]`` is passed to the channel class; an option ending in ``_env``
names the environment variable that holds its value, so no secret is ever written in the file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from ._errors import ChannelError, DataError
from .channels import Bird, Channel, Sociocs, TextUs
from .message import Media, Message, Template

__all__ = ["Campaign", "load_campaign"]

_CHANNELS: dict[str, type[Channel]] = {"sociocs": Sociocs, "textus": TextUs, "bird": Bird}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Recipients(_Section):
    path: str
    phone_column: str | None = None
    default_region: str | None = None
    sheet: str | None = None
    duplicates: Literal["first", "keep"] = "first"


class _Message(_Section):
    text: str | None = None
    text_file: str | None = None
    media: list[Media] = []
    template: Template | None = None


class _Send(_Section):
    campaign: str
    rate: float = 5.0
    concurrency: int = 4
    limit: int | None = None
    results: str = "results.xlsx"
    journal: str | None = None
    key: str | None = None
    bulk: bool = False


class _File(_Section):
    recipients: _Recipients
    message: _Message
    channel: dict[str, Any]
    send: _Send


@dataclass(frozen=True)
class Campaign:
    """A campaign file, read and checked: what to load, what to say, where, and how fast."""

    path: Path
    recipients: _Recipients
    message: Message
    channel_options: dict[str, Any]
    send: _Send

    def resolve(self, relative: str) -> Path:
        """A path from the file, relative to the file's folder."""
        candidate = Path(relative).expanduser()
        return candidate if candidate.is_absolute() else self.path.parent / candidate

    def load(self) -> pd.DataFrame:
        """The recipients frame (`load_recipients` with the file's options)."""
        from .recipients import load_recipients

        r = self.recipients
        return load_recipients(
            self.resolve(r.path),
            phone_column=r.phone_column,
            default_region=r.default_region,
            sheet=r.sheet,
            duplicates=r.duplicates,
        )

    def channel(self, env: dict[str, str] | None = None) -> Channel:
        """The channel, with every ``*_env`` option read from the environment."""
        env = dict(os.environ) if env is None else env
        options = dict(self.channel_options)
        kind = str(options.pop("type", "")).lower()
        if kind not in _CHANNELS:
            raise ChannelError(
                f'{self.path}: [channel] type = "{kind}" is not a provider; '
                f"use one of {', '.join(sorted(_CHANNELS))}"
            )
        for name in [n for n in options if n.endswith("_env")]:
            variable = str(options.pop(name))
            if variable not in env or not env[variable]:
                raise ChannelError(
                    f"{self.path}: [channel] {name} names the environment variable "
                    f"{variable}, which is not set; export {variable}=... and run again"
                )
            options[name.removesuffix("_env")] = env[variable]
        try:
            return _CHANNELS[kind](**options)
        except TypeError as exc:
            raise ChannelError(f"{self.path}: [channel] {exc}; check the option names") from None


def load_campaign(path: str | os.PathLike[str]) -> Campaign:
    """Read and check a campaign TOML file; errors name the file, the section and the fix."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: no such campaign file; `campaignkit init` writes one") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path}: not valid TOML ({exc})") from None
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"[{'.'.join(str(p) for p in e['loc'])}] {e['msg']}" for e in exc.errors()
        )
        raise DataError(f"{path}: {problems}") from None
    m = parsed.message
    text = m.text
    if m.text_file is not None:
        if text is not None:
            raise DataError(f"{path}: [message] has both text and text_file; keep one")
        text = (path.parent / m.text_file).read_text(encoding="utf-8")
    message = Message(text=text, media=tuple(m.media), template=m.template)
    return Campaign(path, parsed.recipients, message, parsed.channel, parsed.send)
