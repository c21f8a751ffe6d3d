"""Budgets: limits a campaign must stay within across all its runs, checked before a request.

What a campaign spent in earlier runs comes from the ledger (`Spend`): four runs with
``limit=16`` under ``max_cost=$0.20`` spend at most $0.20 in all, not $0.20 each.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import phonenumbers

from .._errors import LimitExceeded
from ..ledger import Spend

__all__ = ["Budget", "Price", "Spend", "price_of"]

Price = Decimal | str | int | float


def price_of(value: Price) -> Decimal:
    """A price as a `Decimal` (a float through its shortest repr: 0.04 is four cents)."""
    price = Decimal(str(value) if isinstance(value, float) else value)
    if not price.is_finite() or price < 0:
        raise ValueError(f"a price must be a finite amount >= 0, not {value!r}")
    return price


def _money(amount: Decimal, currency: str) -> str:
    return f"{currency}{amount.quantize(Decimal('0.01')):,}"


@dataclass(frozen=True)
class Budget:
    """Limits for a whole campaign, across its runs; a run that would break one is refused.

    Parameters
    ----------
    max_recipients
        Messages the campaign may send in all its runs.
    max_segments_per_message
        Segments one message may take (a curly apostrophe can triple a message).
    max_total_segments
        Segments the campaign may send in all its runs.
    max_cost
        What the campaign may cost in all its runs, at ``price_per_segment``.
    price_per_segment
        One price, or a map from ISO region code (``"US"``, ``"GB"``) to price, with
        ``"*"`` for every other region.
    currency
        Shown before amounts.

    The limits count what earlier runs sent (from the ledger) plus the rows this run would
    send: not the rows skipped, suppressed, deferred or capped, and only the first ``limit``
    rows when `send` has a ``limit``. Deferred rows count in the run that sends them. The
    refusal names what is spent and what is left.

    Examples
    --------
    >>> Budget(max_total_segments=1_000, price_per_segment="0.0079")
    Budget(max_total_segments=1,000, price_per_segment=0.0079)
    """

    max_recipients: int | None = None
    max_segments_per_message: int | None = None
    max_total_segments: int | None = None
    max_cost: Price | None = None
    price_per_segment: Price | Mapping[str, Price] | None = None
    currency: str = "$"
    _prices: dict[str, Decimal] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("max_recipients", "max_segments_per_message", "max_total_segments"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 0):
                raise ValueError(f"{name}={value!r} must be a whole number >= 0 or None")
        if self.max_cost is not None:
            price_of(self.max_cost)
        prices: dict[str, Decimal] = {}
        if isinstance(self.price_per_segment, Mapping):
            prices = {str(k).upper(): price_of(v) for k, v in self.price_per_segment.items()}
        elif self.price_per_segment is not None:
            prices = {"*": price_of(self.price_per_segment)}
        if self.max_cost is not None and not prices:
            raise ValueError("max_cost needs price_per_segment (one price or a map by region)")
        object.__setattr__(self, "_prices", prices)

    def __repr__(self) -> str:
        parts = []
        for name in ("max_recipients", "max_segments_per_message", "max_total_segments"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value:,}")
        if self.max_cost is not None:
            parts.append(f"max_cost={_money(price_of(self.max_cost), self.currency)}")
        if self.price_per_segment is not None:
            shown = (
                {k: str(v) for k, v in self._prices.items()}
                if isinstance(self.price_per_segment, Mapping) else str(self._prices["*"])
            )
            parts.append(f"price_per_segment={shown}")
        return f"Budget({', '.join(parts)})"

    @property
    def priced(self) -> bool:
        """Whether a price is set (so a cost can be estimated)."""
        return bool(self._prices)

    def price(self, number: str) -> Decimal | None:
        """The price per segment to ``number`` (E.164), or None when the map has none."""
        if "*" in self._prices and len(self._prices) == 1:
            return self._prices["*"]
        region = _region(number)
        found = self._prices.get(region) if region else None
        return found if found is not None else self._prices.get("*")

    def cost(
        self, numbers: Sequence[str], segments: Sequence[int]
    ) -> tuple[Decimal | None, list[int]]:
        """The cost of sending ``segments`` to ``numbers``, and the positions without a price."""
        if not self._prices:
            return None, []
        total = Decimal(0)
        unpriced: list[int] = []
        for i, (number, count) in enumerate(zip(numbers, segments, strict=True)):
            price = self.price(number)
            if price is None:
                unpriced.append(i)
            else:
                total += price * int(count)
        return total, unpriced

    def costs(self, numbers: Sequence[str], segments: Sequence[int]) -> list[Decimal | None]:
        """Each message's cost (None where no price applies, or when unpriced)."""
        if not self._prices:
            return [None] * len(numbers)
        out: list[Decimal | None] = []
        for number, count in zip(numbers, segments, strict=True):
            price = self.price(number)
            out.append(None if price is None else price * int(count))
        return out

    def check(
        self, numbers: Sequence[str], segments: Sequence[int], labels: Sequence[object],
        *, spent: Spend | None = None,
    ) -> None:
        """Raise `LimitExceeded` when sending these rows breaks a limit (nothing is sent)."""
        refusal = self.refusal(numbers, segments, labels, spent=spent)
        if refusal is not None:
            raise LimitExceeded(refusal)

    def refusal(
        self, numbers: Sequence[str], segments: Sequence[int], labels: Sequence[object],
        *, spent: Spend | None = None,
    ) -> str | None:
        """Why sending these rows (after ``spent``) breaks a limit, with what fits; or None."""
        spent = spent or Spend()
        segments = [int(s) for s in segments]
        try:
            over = self._over(numbers, segments, labels, spent)
        except LimitExceeded as exc:
            return str(exc)
        if over is None:
            return None
        fits = self.fitting(numbers, segments, labels, spent=spent)
        advice = (f"send fewer rows (limit={fits:,} fits)" if fits
                  else "send fewer rows (limit=...)" if not spent
                  else "nothing more fits this campaign's budget")
        return f"{over}; raise the limit or {advice}"

    def _over(
        self, numbers: Sequence[str], segments: Sequence[int], labels: Sequence[object],
        spent: Spend,
    ) -> str | None:
        n = len(segments)
        before = bool(spent)
        if self.max_recipients is not None and spent.messages + n > self.max_recipients:
            total = spent.messages + n
            detail = f" ({spent.messages:,} sent before, {n:,} in this run)" if before else ""
            return (f"the campaign sends {total:,} messages{detail}, "
                    f"{total - self.max_recipients:,} over "
                    f"max_recipients={self.max_recipients:,}")
        if self.max_segments_per_message is not None:
            big = [(labels[i], s) for i, s in enumerate(segments)
                   if s > self.max_segments_per_message]
            if big:
                rows = ", ".join(str(label) for label, _ in big[:10])
                more = f" and {len(big) - 10} more" if len(big) > 10 else ""
                worst = max(s for _, s in big)
                return (f"{len(big):,} message{'s' if len(big) != 1 else ''} (row"
                        f"{'s' if len(big) != 1 else ''} {rows}{more}) take up to {worst} "
                        f"segments, {worst - self.max_segments_per_message} over "
                        f"max_segments_per_message={self.max_segments_per_message}; shorten "
                        "the message or replace the characters that force UCS-2")
        run = sum(segments)
        total = spent.segments + run
        if self.max_total_segments is not None and total > self.max_total_segments:
            detail = f" ({spent.segments:,} sent before, {run:,} in this run)" if before else ""
            return (f"the campaign needs {total:,} segments{detail}, "
                    f"{total - self.max_total_segments:,} over "
                    f"max_total_segments={self.max_total_segments:,}")
        if self.max_cost is not None:
            cost, unpriced = self.cost(numbers, segments)
            if unpriced:
                regions = sorted({_region(numbers[i]) or "unknown" for i in unpriced})
                raise LimitExceeded(
                    f"max_cost cannot be checked: price_per_segment has no price for "
                    f"{', '.join(regions)} (row {labels[unpriced[0]]}); add it, e.g. "
                    f'{{"{regions[0]}": "0.05"}}, or a "*" price for every other region'
                )
            limit = price_of(self.max_cost)
            assert cost is not None
            if spent.cost + cost > limit:
                left = max(limit - spent.cost, Decimal(0))
                detail = (f" ({_money(spent.cost, self.currency)} spent before, "
                          f"{_money(left, self.currency)} left)") if before else ""
                return (f"the campaign costs about {_money(spent.cost + cost, self.currency)}"
                        f"{detail}, {_money(spent.cost + cost - limit, self.currency)} over "
                        f"max_cost={_money(limit, self.currency)}")
        return None

    def fitting(
        self, numbers: Sequence[str], segments: Sequence[int], labels: Sequence[object],
        *, spent: Spend | None = None,
    ) -> int:
        """The most rows, from the first, that fit every limit after ``spent``."""
        spent = spent or Spend()
        lo, hi = 0, len(segments)
        while lo < hi:  # the limits only grow with more rows: bisect
            mid = (lo + hi + 1) // 2
            try:
                fits = self._over(numbers[:mid], segments[:mid], labels[:mid], spent) is None
            except LimitExceeded:
                fits = False
            if fits:
                lo = mid
            else:
                hi = mid - 1
        return lo


@functools.cache
def _region(number: str) -> str | None:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return None
