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
    # base_url = "https://..."       https, or http to this machine (the sandbox);
    # allow_insecure = true          accepts plain http to another host, and says so

    [send]
    campaign = "spring-reminders"
    rate = 5.0                       # messages per second (default: the provider's)
    limit = 10                       # optional
    results = "results.xlsx"

    [guardrails]
    quiet_hours = true               # 08:00-21:00 in each recipient's zone (the default)
    # quiet_hours = { start = "09:00", end = "20:00" }   or false, which every run prints
    suppression = ["opt-outs.csv"]   # sheets of numbers never to text
    budget = { max_cost = "25.00", price_per_segment = "0.0079" }
    frequency_cap = { max_messages = 1, period = "24h" }    # across every campaign

Every option of ``[channel]`` is passed to the channel class; an option ending in ``_env``
names the environment variable that holds its value: a secret written in the file itself is
refused. Paths are relative to the file's folder and may not leave it (an absolute path is
taken as written). Where the ledger lives is never the file's choice: see `locate_ledger`.
"""

from __future__ import annotations

import inspect
import os
import re
import stat
import tomllib
import typing
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ._errors import ChannelError, DataError
from .channels import Bird, Channel, Sociocs, TextUs
from .guardrails import Budget, FrequencyCap, Guardrails, QuietHours, Suppression
from .message import Media, Message, Template

__all__ = ["Campaign", "load_campaign"]

_CHANNELS: dict[str, type[Channel]] = {"sociocs": Sociocs, "textus": TextUs, "bird": Bird}
#: channel options that hold a secret: only ever the name of an environment variable
_SECRETS = {"api_key": "SOCIOCS_API_KEY", "channel_key": "SOCIOCS_CHANNEL_KEY",
            "token": "TEXTUS_TOKEN", "access_key": "BIRD_ACCESS_KEY", "password": None,
            "secret": None}
#: folders of the operating system's virtual files, never read or written for a campaign
_SYSTEM = tuple(Path(p) for p in ("/proc", "/sys", "/dev") if os.name == "posix")
#: the largest text file a message is read from (an SMS is at most 1,600 characters)
TEXT_FILE_LIMIT = 64 * 1024


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Recipients(_Section):
    path: str
    phone_column: str | None = None
    default_region: str | None = None
    countries: list[str] | None = None
    sheet: str | int | None = None
    header_row: int | None = None
    duplicates: Literal["first", "keep"] = "first"


class _Message(_Section):
    text: str | None = None
    text_file: str | None = None
    media: list[Media] = []
    template: Template | None = None


class _Send(_Section):
    campaign: str = Field(min_length=1, max_length=120)
    rate: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    concurrency: int | None = Field(default=None, ge=1)
    limit: int | None = Field(default=None, ge=0)
    results: str = "results.xlsx"
    key: str | None = None
    bulk: bool = False


class _QuietHours(_Section):
    start: time = time(8)
    end: time = time(21)
    tz_column: str | None = None


class _Budget(_Section):
    max_recipients: int | None = Field(default=None, ge=0)
    max_segments_per_message: int | None = Field(default=None, ge=0)
    max_total_segments: int | None = Field(default=None, ge=0)
    max_cost: str | float | None = None
    price_per_segment: str | float | dict[str, str | float] | None = None
    currency: str = "$"


class _Cap(_Section):
    max_messages: int = Field(ge=1)
    period: str


class _Guardrails(_Section):
    quiet_hours: bool | _QuietHours = True
    suppression: list[str] = []
    budget: _Budget | None = None
    provider_opt_outs: bool = True
    frequency_cap: _Cap | None = None


class _File(_Section):
    recipients: _Recipients
    message: _Message
    channel: dict[str, Any]
    send: _Send
    guardrails: _Guardrails = Field(default_factory=_Guardrails)


_PERIOD = re.compile(r"^\s*(\d+)\s*(d|days?|h|hours?|min|minutes?)\s*$", re.IGNORECASE)


def _period(text: str, path: Path) -> timedelta:
    found = _PERIOD.match(text)
    if found is None:
        raise DataError(f'{path}: [guardrails] frequency_cap period = "{text}" is not a period: '
                        'write it like "24h", "7d" or "90min"')
    amount, unit = int(found[1]), found[2].lower()
    if unit.startswith("d"):
        return timedelta(days=amount)
    if unit.startswith("h"):
        return timedelta(hours=amount)
    return timedelta(minutes=amount)


@dataclass(frozen=True)
class Campaign:
    """A campaign file, read and checked: what to load, what to say, where, and how fast."""

    path: Path
    recipients: _Recipients
    message: Message
    channel_options: dict[str, Any]
    send: _Send
    guardrail_options: _Guardrails = field(default_factory=_Guardrails)

    def resolve(self, relative: str, what: str = "a path") -> Path:
        """A path from the file: inside the file's folder, or absolute as written.

        A relative path that climbs out of the folder (``../secret``) is refused: a campaign
        file someone sent you must not make campaignkit read or write elsewhere.
        """
        return _inside(self.path, relative, what)

    def guardrails(self) -> Guardrails:
        """The `Guardrails` of ``[guardrails]`` (quiet hours on unless turned off)."""
        options = self.guardrail_options
        quiet: QuietHours | None
        if options.quiet_hours is True:
            quiet = QuietHours()
        elif options.quiet_hours is False:
            quiet = None
        else:
            q = options.quiet_hours
            try:
                quiet = QuietHours(start=q.start, end=q.end, tz_column=q.tz_column)
            except ValueError as exc:
                raise DataError(f"{self.path}: [guardrails] quiet_hours: {exc}") from None
        suppression = None
        for name in options.suppression:
            found = Suppression.read(self.resolve(name, "[guardrails] suppression"),
                                     default_region=self.recipients.default_region)
            suppression = found if suppression is None else suppression | found
        budget = None
        if options.budget is not None:
            try:
                budget = Budget(**options.budget.model_dump(exclude_none=True))
            except ValueError as exc:
                raise DataError(f"{self.path}: [guardrails] budget: {exc}") from None
        cap = None
        if options.frequency_cap is not None:
            cap = FrequencyCap(options.frequency_cap.max_messages,
                               _period(options.frequency_cap.period, self.path))
        return Guardrails(suppression=suppression, quiet_hours=quiet, budget=budget,
                          frequency_cap=cap, provider_opt_outs=options.provider_opt_outs)

    def load(self) -> pd.DataFrame:
        """The recipients frame (`load_recipients` with the file's options)."""
        from .recipients import load_recipients

        r = self.recipients
        options: dict[str, Any] = {}
        for name in ("countries", "header_row"):
            if getattr(r, name) is not None:
                if name not in inspect.signature(load_recipients).parameters:
                    raise DataError(f"{self.path}: [recipients] {name} is not supported by "
                                    "this version of campaignkit; remove the line")
                options[name] = getattr(r, name)
        return load_recipients(
            self.resolve(r.path, "[recipients] path"),
            phone_column=r.phone_column,
            default_region=r.default_region,
            sheet=r.sheet,
            duplicates=r.duplicates,
            **options,
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
        for name in [n for n in options if n in _SECRETS]:
            variable = _SECRETS[name] or f"CAMPAIGNKIT_{name.upper()}"
            raise ChannelError(
                f"{self.path}: [channel] {name} is written in the file; a secret must never "
                f'be: write {name}_env = "{variable}" instead and export {variable}=... '
                "before running")
        variables: dict[str, str] = {}
        for name in [n for n in options if n.endswith("_env")]:
            variable = str(options.pop(name))
            if variable not in env or not env[variable]:
                raise ChannelError(
                    f"{self.path}: [channel] {name} names the environment variable "
                    f"{variable}, which is not set; export {variable}=... and run again"
                )
            options[name.removesuffix("_env")] = env[variable]
            variables[name.removesuffix("_env")] = variable
        cls = _CHANNELS[kind]
        checked = _checked_options(self.path, cls, options)
        try:
            return cls(**checked)
        except ChannelError as exc:
            # A key from the environment that cannot be right: say which variable holds it.
            culprit = next((n for n in variables if re.search(rf"\b{n}\b", str(exc))), None)
            where = ("" if culprit is None else
                     f"; it is the value of the environment variable {variables[culprit]} "
                     f"([channel] {culprit}_env): correct it there")
            raise ChannelError(f"{self.path}: [channel] {exc}{where}") from None


def _checked_options(path: Path, cls: type[Channel], options: dict[str, Any]
                     ) -> dict[str, Any]:
    """The ``[channel]`` options as ``cls`` takes them (a table becomes a `ContactSaving`);
    an option ``cls`` does not have, or a value of the wrong type, is a `ChannelError`."""
    checked = {}
    hints = typing.get_type_hints(cls.__init__)
    hints.pop("return", None)
    parameters = inspect.signature(cls.__init__).parameters
    for name in hints:
        if parameters[name].default is inspect.Parameter.empty and name not in options:
            line = f'{name}_env = "{_SECRETS[name]}"' if _SECRETS.get(name) else f"{name} = ..."
            raise ChannelError(f"{path}: [channel] {cls.__name__} needs {name}: add the line "
                               f"{line}")
    config = ConfigDict(arbitrary_types_allowed=True)
    for name, value in options.items():
        if name not in hints or name == "now":  # now: a test's clock, never a file's
            known = ", ".join(sorted(n for n in hints if n != "now"))
            raise ChannelError(f"{path}: [channel] {name} is not an option of {cls.__name__}; "
                               f"its options are {known} (a secret as NAME_env)")
        # A choice among strings is the channel's to explain (it names each choice).
        hint = str if typing.get_origin(hints[name]) is Literal else hints[name]
        try:
            checked[name] = TypeAdapter(hint, config=config).validate_python(value, strict=True)
        except ValidationError as exc:
            message = exc.errors()[0]["msg"]
            raise ChannelError(f"{path}: [channel] {name}: {message[0].lower()}{message[1:]} "
                               f"(the file gives {type(value).__name__})") from None
    return checked


def load_campaign(path: str | os.PathLike[str]) -> Campaign:
    """Read and check a campaign TOML file; errors name the file, the section and the fix."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: no such campaign file; `campaignkit init` writes one") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a folder: give the campaign file inside it, e.g. "
                        f"{path / 'campaign.toml'}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DataError(f"{path}: not valid TOML ({exc})") from None
    if isinstance(raw.get("send"), dict) and "journal" in raw["send"]:
        raise DataError(
            f"{path}: [send] journal is no longer an option: campaignkit keeps one ledger per "
            "user, found the same way from every folder; remove the line (to choose another "
            "ledger file, set the CAMPAIGNKIT_LEDGER environment variable)")
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
        text = _read_text(_inside(path, m.text_file, "[message] text_file"))
    message = Message(text=text, media=tuple(m.media), template=m.template)
    return Campaign(path, parsed.recipients, message, parsed.channel, parsed.send,
                    parsed.guardrails)


def _inside(path: Path, relative: str, what: str) -> Path:
    """``relative`` from the campaign file's folder, refused when it climbs out of it."""
    if not relative or "\x00" in relative:
        raise DataError(f"{path}: {what} = {relative!r} is not a file name; give the file's "
                        "name, e.g. next to campaign.toml")
    try:
        candidate = Path(relative).expanduser()
    except RuntimeError:  # "~someone/..." where there is no such user
        raise DataError(f'{path}: {what} = "{relative}" names the home folder of a user this '
                        "machine does not have; write the path without ~") from None
    folder = path.parent.resolve()
    target = (folder / candidate).resolve()
    # The kernel's own files (/proc/self/environ holds the keys) are nobody's campaign.
    if any(target == system or system in target.parents for system in _SYSTEM):
        raise DataError(f'{path}: {what} = "{relative}" is a file of the operating system '
                        "(under /proc, /sys or /dev), not of a campaign; name a file of yours")
    if candidate.is_absolute():
        return candidate
    if target != folder and folder not in target.parents:
        raise DataError(
            f'{path}: {what} = "{relative}" leads outside the campaign\'s folder {folder}; '
            "keep the files next to campaign.toml, or write an absolute path if you mean it")
    return path.parent / candidate


def _read_text(target: Path) -> str:
    try:
        found = target.stat()
        if stat.S_ISDIR(found.st_mode):
            raise IsADirectoryError
        if not stat.S_ISREG(found.st_mode):  # a pipe or a device could block or never end
            raise DataError(f"{target} is not a regular file; check [message] text_file")
        if found.st_size > TEXT_FILE_LIMIT:
            raise DataError(f"{target} is {found.st_size:,} bytes: a message file holds "
                            f"at most {TEXT_FILE_LIMIT // 1024} KB of text")
        return target.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{target}: no such message file; check [message] text_file") from None
    except IsADirectoryError:
        raise DataError(f"{target} is a folder, not a message file; check [message] "
                        "text_file") from None
    except UnicodeDecodeError:
        raise DataError(f"{target} is not UTF-8 text; save the message as UTF-8") from None
    except OSError as exc:  # a file in the way of a folder, no permission, a device
        raise DataError(f"{target} cannot be read as a message file ({exc.strerror or exc}); "
                        "check [message] text_file") from None
