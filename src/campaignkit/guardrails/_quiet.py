"""Quiet hours: send only inside a window of each recipient's local time.

The US TCPA forbids solicitation "before the hour of 8 a.m. or after 9 p.m. (local time at
the called party's location)" (47 CFR §64.1200(c)(1), docs/reliability.md#quiet-hours),
hence the default window [08:00, 21:00). The local time comes from a time-zone column (IANA
names) when the row has one, else from the number (`phonenumbers.timezone`). A number that
maps to several zones (US toll-free numbers map to 42) is sendable only when the window
holds in *all* of them. Every instant is an aware UTC datetime and every conversion goes
through `zoneinfo`, so daylight-saving switches move the window with the wall clock.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import phonenumbers
from phonenumbers import timezone as phone_timezone

from .._errors import ColumnError

__all__ = ["QuietHours", "Window", "check_now"]

# Column names taken as a time-zone column, compared without case, spaces or punctuation.
_TZ_NAMES = frozenset({"tz", "timezone", "tzname", "ianatimezone", "localtimezone"})
_UNKNOWN_ZONE = "Etc/Unknown"  # what phonenumbers answers when it cannot tell
# How far ahead to look for a moment the window holds in every zone: zones are at most
# 26 h apart, so if no such moment exists in three days there is none.
_HORIZON_DAYS = 3


def check_now(now: datetime | None) -> datetime:
    """``now`` as an aware UTC datetime (the real clock when None)."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(
            f"now={now!r} has no time zone: pass an aware datetime, e.g. "
            "datetime(2026, 3, 8, 12, tzinfo=UTC)"
        )
    return now.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Window:
    """When a row may be sent: now (``sendable_at`` None) or later, or never (``problem``)."""

    zones: tuple[str, ...]
    sendable_at: datetime | None = None  # UTC; None: inside the window now
    closes_at: datetime | None = None  # UTC end of the current window when inside it
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class QuietHours:
    """The sending window in each recipient's local time (default 08:00 to 21:00).

    Parameters
    ----------
    start, end
        The window is ``[start, end)`` local time: 08:00:00 sends, 21:00:00 waits.
    tz_column
        The column of IANA time-zone names (``"America/New_York"``) that overrides the
        number's zones. By default a column named ``tz``, ``time zone`` or ``timezone`` is
        used when present; an empty cell falls back to the number.

    Examples
    --------
    >>> QuietHours()
    QuietHours(08:00-21:00 local)
    """

    start: time = time(8)
    end: time = time(21)
    tz_column: str | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, time) or value.tzinfo is not None:
                raise ValueError(f"{name}={value!r} must be a local datetime.time, e.g. time(8)")
        if not self.start < self.end:
            raise ValueError(
                f"start={self.start:%H:%M} must be before end={self.end:%H:%M}: the window is "
                "one stretch of the local day, e.g. QuietHours(start=time(8), end=time(21))"
            )

    def __repr__(self) -> str:
        column = f", tz_column={self.tz_column!r}" if self.tz_column else ""
        return f"QuietHours({_hm(self.start)}-{_hm(self.end)} local{column})"

    @property
    def label(self) -> str:
        """``08:00-21:00 local``."""
        return f"{_hm(self.start)}-{_hm(self.end)} local"

    # -- per row -------------------------------------------------------------------------

    def zone_column(self, frame: pd.DataFrame) -> str | None:
        """The time-zone column of ``frame``, or None."""
        if self.tz_column is not None:
            if self.tz_column not in frame.columns:
                raise ColumnError(
                    f'tz_column="{self.tz_column}": there is no such column; columns found: '
                    f"{', '.join(map(str, frame.columns))}"
                )
            return self.tz_column
        found = [c for c in frame.columns if isinstance(c, str) and _squash(c) in _TZ_NAMES]
        if len(found) > 1:
            raise ColumnError(
                f"several time-zone columns: {', '.join(map(repr, found))}; pass "
                'QuietHours(tz_column="<column>")'
            )
        return found[0] if found else None

    def windows(self, frame: pd.DataFrame, now: datetime) -> list[Window]:
        """The `Window` of every row of ``frame`` (by position), for the instant ``now``."""
        now = check_now(now)
        column = self.zone_column(frame)
        to = frame["to"].tolist() if "to" in frame.columns else [""] * len(frame)
        cells = frame[column].tolist() if column is not None else [None] * len(frame)
        cache: dict[tuple[object, object], Window] = {}
        out: list[Window] = []
        for number, cell in zip(to, cells, strict=True):
            key = (number, cell)
            if key not in cache:
                cache[key] = self._window(number, cell, column, now)
            out.append(cache[key])
        return out

    def _window(self, number: object, cell: object, column: str | None, now: datetime) -> Window:
        text = "" if cell is None or (isinstance(cell, float) and cell != cell) else str(cell)
        if text.strip():
            zone = _zone(text.strip())
            if zone is None:
                return Window((), problem=(
                    f'"{text.strip()}" in column "{column}" is not an IANA time zone: write it '
                    'like "America/New_York" or "Europe/London", or leave it empty to use the '
                    "number's"
                ))
            return self.window((text.strip(),), now)
        zones = zones_for_number(str(number) if isinstance(number, str) else "")
        if not zones:
            return Window((), problem=(
                f"cannot tell the local time of {number or 'an empty number'}: add a time-zone "
                'column ("tz") with IANA names such as "America/New_York"'
            ))
        return self.window(zones, now)

    def window(self, zones: tuple[str, ...], now: datetime) -> Window:
        """The `Window` of a recipient in ``zones`` at ``now`` (all zones must be inside)."""
        return self._window_cached(zones, check_now(now))

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - a frozen value object: hashable, few live
    def _window_cached(self, zones: tuple[str, ...], now: datetime) -> Window:
        tzs = [ZoneInfo(z) for z in zones]
        if self._inside(tzs, now):
            return Window(zones, None, min(self._closes(tz, now) for tz in tzs))
        # The earliest moment inside every window is the opening of one of them.
        candidates = sorted(
            opening
            for tz in tzs
            for opening in self._openings(tz, now)
            if opening > now
        )
        for candidate in candidates:
            if self._inside(tzs, candidate):
                return Window(zones, candidate)
        listed = ", ".join(zones[:4]) + (f" and {len(zones) - 4} more" if len(zones) > 4 else "")
        return Window(zones, problem=(
            f"the number spans time zones too far apart ({listed}): no moment is inside "
            f"{self.label} in all of them; add a time-zone column (\"tz\") naming the "
            "recipient's zone"
        ))

    def _inside(self, tzs: list[ZoneInfo], moment: datetime) -> bool:
        return all(self.start <= moment.astimezone(tz).time() < self.end for tz in tzs)

    def _openings(self, tz: ZoneInfo, now: datetime) -> list[datetime]:
        today = now.astimezone(tz).date()
        return [
            _at(today + timedelta(days=d), self.start, tz) for d in range(_HORIZON_DAYS + 1)
        ]

    def _closes(self, tz: ZoneInfo, now: datetime) -> datetime:
        return _at(now.astimezone(tz).date(), self.end, tz)


def _at(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time (a time in a DST gap moves forward)."""
    # fold=0 reads a skipped wall time (02:30 on a spring-forward night) with the offset
    # before the gap, which lands just after the gap: the window opens once the clock is there.
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


def _hm(value: time) -> str:
    return f"{value:%H:%M}" if not value.second else f"{value:%H:%M:%S}"


def _squash(name: str) -> str:
    return re.sub(r"[\W_]+", "", name).casefold()


@functools.cache
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@functools.cache
def zones_for_number(number: str) -> tuple[str, ...]:
    """The IANA zones phonenumbers gives for an E.164 number (empty when it cannot tell)."""
    if not number:
        return ()
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return ()
    zones = tuple(
        z for z in phone_timezone.time_zones_for_number(parsed)
        if z != _UNKNOWN_ZONE and _zone(z) is not None
    )
    return tuple(sorted(set(zones)))
