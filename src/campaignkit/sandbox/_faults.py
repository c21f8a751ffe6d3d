"""Faults: what the sandbox does wrong, on purpose, decided per request from a seeded RNG.

Order in which a send request meets the faults (lookups meet only steps 1 and 4, and
``list_lag``):

1. ``latency``: the sandbox waits this long before handling the request.
2. The route (404) and the credentials (401/403) are checked.
3. ``rate_limit``: a real fixed-window limit per provider account; over it, 429 with
   ``Retry-After`` (the request is not processed, as Bird's rate-limit page promises).
4. One uniform draw ``u`` in [0, 1) picks at most one random fault, in this order of bands:
   ``p_429``, ``p_drop_before``, ``p_500_before`` (nothing accepted), then, only if the body
   is valid and the message was accepted and recorded, ``p_drop_after``, ``p_500_after``,
   ``p_stall``. Every send that gets this far consumes exactly one draw, valid or not, so
   the fault of the *n*-th such request depends only on the seed and *n*.
5. The body is validated (400/422) and the message accepted.

``list_lag`` acts on reads, not sends: a message accepted less than ``list_lag`` seconds ago
is not yet in any list or lookup (Sociocs ``GET /messages``, Bird's list and its lookup by
``reference``), as a provider's read replica or search index lags its writes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal

__all__ = ["FaultKind", "Faults"]

FaultKind = Literal["429", "drop_before", "500_before", "drop_after", "500_after", "stall"]

_BANDS: tuple[tuple[str, FaultKind], ...] = (
    ("p_429", "429"),
    ("p_drop_before", "drop_before"),
    ("p_500_before", "500_before"),
    ("p_drop_after", "drop_after"),
    ("p_500_after", "500_after"),
    ("p_stall", "stall"),
)


@dataclass(frozen=True, slots=True, repr=False)
class Faults:
    """Faults the sandbox injects, deterministic given the sandbox's seed.

    Parameters
    ----------
    rate_limit
        At most this many requests per provider account (Sociocs API key, TextUs token,
        Bird workspace) in each fixed window of ``rate_window`` seconds; more get 429.
    rate_window
        Length of the rate-limit window in seconds.
    retry_after
        Seconds announced in ``Retry-After`` by the random 429s (``p_429``).
    retry_after_http_date
        Send ``Retry-After`` as an HTTP-date instead of delay-seconds (RFC 9110 §10.2.3).
    p_429, p_drop_before, p_500_before, p_drop_after, p_500_after, p_stall
        Probability of each random fault per send request; they must sum to at most 1.
        ``_before`` faults happen before the message is accepted, ``_after`` faults and
        stalls after it was accepted and recorded (the ambiguous cases).
    stall_seconds
        How long a stall holds the response when the client would wait longer than that.
    list_lag
        Seconds before an accepted message shows in list and lookup endpoints; a lookup
        sooner than that does not find it (the trap of "not found, so not sent").

    Examples
    --------
    >>> Faults(p_429=0.1, retry_after=2)
    Faults(retry_after=2, p_429=0.1)
    """

    rate_limit: int | None = None
    rate_window: float = 1.0
    retry_after: int = 1
    retry_after_http_date: bool = False
    p_429: float = 0.0
    p_drop_before: float = 0.0
    p_500_before: float = 0.0
    p_drop_after: float = 0.0
    p_500_after: float = 0.0
    p_stall: float = 0.0
    stall_seconds: float = 60.0
    list_lag: float = 0.0

    def __post_init__(self) -> None:
        if self.rate_limit is not None and self.rate_limit < 1:
            raise ValueError(f"rate_limit must be at least 1 request, got {self.rate_limit}")
        if not self.rate_window > 0:
            raise ValueError(f"rate_window must be positive seconds, got {self.rate_window}")
        if self.retry_after < 0:
            raise ValueError(f"retry_after must be 0 or more seconds, got {self.retry_after}")
        if self.stall_seconds < 0:
            raise ValueError(f"stall_seconds must be 0 or more, got {self.stall_seconds}")
        if not self.list_lag >= 0:
            raise ValueError(f"list_lag must be 0 or more seconds, got {self.list_lag}")
        total = 0.0
        for name, _ in _BANDS:
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be a probability between 0 and 1, got {p}")
            total += p
        if total > 1.0 + 1e-9:
            raise ValueError(f"the fault probabilities sum to {total:g}; they must sum to <= 1")

    @classmethod
    def mixed(cls, rate: float, **options: float | int | bool | None) -> Faults:
        """Every random fault kind at ``rate / 6``: a fault rate as in the crash test (T1)."""
        share = rate / len(_BANDS)
        return cls(**{name: share for name, _ in _BANDS}, **options)  # type: ignore[arg-type]

    def pick(self, u: float) -> FaultKind | None:
        """The fault for the uniform draw ``u`` in [0, 1), or None (see the module docstring)."""
        edge = 0.0
        for name, kind in _BANDS:
            edge += getattr(self, name)
            if u < edge:
                return kind
        return None

    def retry_after_header(self, seconds: float, *, now: float) -> str:
        """``Retry-After`` for a wait of ``seconds`` from ``now``, rounded up to whole seconds."""
        from email.utils import formatdate

        whole = max(0, math.ceil(seconds - 1e-9))
        if self.retry_after_http_date:
            return formatdate(math.ceil(now) + whole, usegmt=True)
        return str(whole)

    def __repr__(self) -> str:
        changed = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if getattr(self, f.name) != f.default
        ]
        return f"Faults({', '.join(changed)})"
