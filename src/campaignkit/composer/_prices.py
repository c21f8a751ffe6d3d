"""Prices per segment by provider and country: a small editable table, shown as an estimate.

The figures are list prices as published in late 2026, rounded; they are a starting point
the user edits (one ``REGION price`` line each, ``*`` for every other region). WhatsApp is
priced per message, so a WhatsApp row costs one "segment" whatever its length.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

__all__ = ["DEFAULT_PRICES", "format_prices", "parse_prices"]

_SMS = {"US": "0.0083", "CA": "0.0083", "GB": "0.0450", "ES": "0.0850", "DE": "0.0900",
        "IN": "0.0650", "*": "0.0800"}
_WHATSAPP = {"US": "0.0250", "GB": "0.0550", "ES": "0.0650", "DE": "0.1400", "IN": "0.0110",
             "*": "0.0600"}
#: provider choice -> {ISO region or "*": price per segment}
DEFAULT_PRICES: dict[str, dict[str, str]] = {
    "sociocs:twlo": _SMS,
    "sociocs:twlowa": _WHATSAPP,
    "sociocs:gswa": _WHATSAPP,
    "textus:sms": _SMS,
    "textus:whatsapp": _WHATSAPP,
    "bird": _SMS,
}


def format_prices(prices: dict[str, str]) -> str:
    """The table as the editable text: one ``REGION price`` line each.

    >>> print(format_prices({"US": "0.0083", "*": "0.08"}))
    US 0.0083
    * 0.08
    """
    return "\n".join(f"{region} {price}" for region, price in prices.items())


def parse_prices(text: str) -> dict[str, str] | str:
    """``{region: price}`` from the editable text, or one sentence saying which line is wrong.

    >>> parse_prices("us 0.01\\n* 0.05")
    {'US': '0.01', '*': '0.05'}
    >>> parse_prices("US cheap")
    'price line 1 “US cheap”: write a region code and a price, e.g. “US 0.0083”'
    """
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            price = Decimal(parts[1]) if len(parts) == 2 else None
        except InvalidOperation:
            price = None
        region = parts[0].upper()
        if price is None or not price.is_finite() or price < 0 or not (
            region == "*" or (len(region) == 2 and region.isalpha())
        ):
            return (f"price line {number} “{line.strip()}”: write a region code and a price, "
                    "e.g. “US 0.0083”")
        out[region] = parts[1]
    return out
