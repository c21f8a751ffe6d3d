"""What the panels show: the state's views, plain frozen dataclasses (no library calls)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal
from typing import Literal

import pandas as pd

from ..guardrails import Suppression

__all__ = ["Confirmation", "Outcome", "Progress", "RowView", "Settings", "Totals"]


# -- views (what the panels show) ------------------------------------------------------------


@dataclass(frozen=True)
class RowView:
    """The current row as the recipient's phone would show it, and why it is not sent."""

    label: Hashable
    position: int
    rows: int
    to: str
    text: str | None
    encoding: str | None
    segments: int
    characters: int
    culprits: tuple[str, ...]
    swaps: tuple[str, ...]  # "’ → '": the message's own UCS-2 characters and their look-alikes
    problems: tuple[str, ...]
    request: str | None
    request_note: str
    whatsapp: bool
    template: tuple[str, tuple[tuple[str, str], ...]] | None


@dataclass(frozen=True)
class Totals:
    """Every row decided: counts (the plan's and ``already-sent``), segments, cost, time."""

    sheet_rows: int = 0
    rows: int = 0
    counts: Mapping[str, int] = field(default_factory=dict)
    segments: int = 0
    cost: Decimal | None = None
    currency: str = "$"
    seconds: float = 0.0
    rate: float = 0.0
    sentence: str = ""
    warnings: tuple[str, ...] = ()
    refused: str | None = None
    problems: pd.DataFrame | None = None
    updating: bool = False
    error: str = ""

    @property
    def to_send(self) -> int:
        """Messages a live send would send now."""
        return int(self.counts.get("send", 0))


@dataclass(frozen=True)
class Confirmation:
    """What a live send asks the user to confirm; ``button`` None when nothing is left."""

    sentence: str
    host: str
    warnings: tuple[str, ...]
    button: str | None


@dataclass(frozen=True)
class Progress:
    """A send's progress as shown: at most ten of these a second, and always the last one."""

    mode: str = ""
    done: int = 0
    total: int = 0
    phase: Literal["idle", "starting", "sending", "stopping", "finished"] = "idle"


@dataclass(frozen=True)
class Outcome:
    """A finished run in plain words: counts, headline, why it stopped, the first rows."""

    mode: str
    counts: Mapping[str, int]
    headline: str
    note: str
    errors: tuple[tuple[str, int], ...]
    table: pd.DataFrame


@dataclass(frozen=True)
class Settings:
    """The guardrail controls (quiet hours are on by default: a live send waits for them)."""

    quiet_hours: bool = True
    start: time = time(8)
    end: time = time(21)
    max_cost: str = ""
    cap_messages: int = 0
    cap_days: int = 7
    suppression: Suppression | None = None


