"""The suppression list: numbers that must never be sent to, in E.164.

Built from a sheet, a list or a Series (any format, normalised like the recipients), and
extended from a results frame by the provider errors that mean "this person opted out".
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .._errors import DataError
from .._phones import check_region, normalise_phones

__all__ = ["OPT_OUT_PATTERNS", "Suppression", "opt_out_reason", "opted_out", "suppress"]

#: Provider errors that mean the recipient opted out or blocked the sender (matched in a
#: results frame's ``error``). Sending again only repeats the refusal and, at Twilio, puts the
#: sender's standing at risk ("Our high number of 21610 errors is endangering our ability to
#: text", https://github.com/ProgressiveCoders/Spoke/issues/2184; docs/reliability.md#opt-outs).
OPT_OUT_PATTERNS: tuple[str, ...] = (
    r"\b21610\b",  # Twilio (Sociocs twlo/twlowa): "Attempt to send to unsubscribed recipient"
    r"\bunsubscribed\b",  # Twilio's 21610 text; Bird's "Unsubscribed" contacts
    r"\bopt(?:ed)?[ _-]?out\b",  # TextUs org-wide opt-outs; webhooks "contact.opted_out"
    r"\bis[ _-]?blocked\b|\bblocked (?:contact|recipient|number)\b",  # Sociocs contacts/block
)
_OPT_OUT = re.compile("|".join(OPT_OUT_PATTERNS), re.IGNORECASE)
# A result that was refused: the opt-out error of a row that was nevertheless sent is noise.
_REFUSED = frozenset({"failed"})

Source = str | os.PathLike[str] | pd.Series | pd.DataFrame | Iterable[str]


@dataclass(frozen=True, slots=True, repr=False)
class Suppression:
    """Numbers never to send to (E.164); rows sending to one get status ``suppressed``.

    Build it with `Suppression.read` (a CSV/XLSX sheet) or `Suppression.of` (a list, a
    Series or a DataFrame column): every number is normalised like the recipients sheet
    (``default_region`` for numbers without a country code), so ``(617) 555-0101`` matches
    a recipient's ``+16175550101``. Entries that are not valid numbers are kept in
    ``rejected`` (shown, never silently dropped).

    Examples
    --------
    >>> s = Suppression.of(["(617) 555-0101", "+44 7400 123401", "nope"], default_region="US")
    >>> s
    Suppression(2 numbers, 1 rejected)
    >>> "+16175550101" in s
    True
    """

    numbers: frozenset[str] = frozenset()
    rejected: tuple[str, ...] = ()

    # -- building ------------------------------------------------------------------------

    @classmethod
    def of(
        cls, values: pd.Series | Iterable[str], *, default_region: str | None = None
    ) -> Suppression:
        """A suppression list from phone numbers in any format.

        ``values`` is a list, a Series or any iterable of numbers; a single string is a
        `TypeError` (it would be read one character at a time): write ``[number]``.
        """
        if isinstance(values, (str, bytes)):
            raise TypeError(
                f"Suppression.of takes a list of numbers, not one string: write "
                f"Suppression.of([{values!r}])")
        series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
        series = series.astype(object).where(series.notna(), "").astype(str)
        series = series[series.str.strip() != ""].reset_index(drop=True)
        to, _problems, _repairs = normalise_phones(series, check_region(default_region))
        valid = to != ""
        rejected = tuple(dict.fromkeys(series[~valid].str.strip().tolist()))
        return cls(frozenset(to[valid].tolist()), rejected)

    @classmethod
    def read(
        cls,
        path: str | os.PathLike[str],
        *,
        phone_column: str | None = None,
        default_region: str | None = None,
        sheet: str | int | None = None,
    ) -> Suppression:
        """A suppression list from a CSV/XLSX sheet (the phone column found as for recipients).

        A file `save` wrote reads back as the same list.
        """
        from ..recipients import load_recipients  # the sheet reader, with all its repairs

        # Every country: an opt-out abroad must still hold (the campaign may send there).
        frame = load_recipients(
            path, phone_column=phone_column, default_region=default_region, sheet=sheet,
            duplicates="keep", countries="any",
        )
        column = frame.attrs.get("campaignkit.load", {}).get("phone_column", phone_column)
        valid = frame["to"] != ""
        rejected: tuple[str, ...] = ()
        if column in frame.columns:
            cells = frame.loc[~valid, column].astype(str).str.strip()
            rejected = tuple(dict.fromkeys(c for c in cells.tolist() if c))
        return cls(frozenset(frame.loc[valid, "to"].tolist()), rejected)

    # -- using ---------------------------------------------------------------------------

    def __contains__(self, number: object) -> bool:
        return number in self.numbers

    def __len__(self) -> int:
        return len(self.numbers)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.numbers))

    def __or__(self, other: Suppression) -> Suppression:
        return Suppression(self.numbers | other.numbers,
                           tuple(dict.fromkeys(self.rejected + other.rejected)))

    def __repr__(self) -> str:
        # Counts only: the numbers are personal data and a repr ends up in logs and notebooks.
        n = len(self.numbers)
        tail = f", {len(self.rejected)} rejected" if self.rejected else ""
        return f"Suppression({n} number{'s' if n != 1 else ''}{tail})"

    def matches(self, frame: pd.DataFrame) -> pd.Series:
        """Boolean Series on ``frame.index``: whose ``to`` is on the list."""
        if "to" not in frame.columns:
            raise DataError('the frame has no "to" column: load it with load_recipients() first')
        return frame["to"].isin(self.numbers).astype(bool)

    def learn(self, results: pd.DataFrame) -> Suppression:
        """A new list with every number whose send a provider refused as opted out.

        ``results`` is a results frame of `send` (``to``, ``status``, ``error``): a
        ``failed`` row whose error matches `OPT_OUT_PATTERNS` (Twilio 21610, unsubscribed,
        opted out, blocked) adds its number.
        """
        found = opted_out(results)
        learned = frozenset(results.loc[found, "to"].tolist())
        return Suppression(self.numbers | learned, self.rejected)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the list as a one-column CSV (``phone``, sorted); return the path.

        Written atomically (a temporary file, then ``os.replace``). `read` reads it back.
        """
        target = Path(path)
        fd, tmp = tempfile.mkstemp(dir=target.parent or ".", prefix=".suppression-",
                                   suffix=".csv")
        try:
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["phone"])
                writer.writerows([n] for n in sorted(self.numbers))
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target


def opt_out_reason(error: str | None) -> str | None:
    """The provider's words when ``error`` says the person opted out or blocked us, else None.

    >>> opt_out_reason("HTTP 400: Attempt to send to unsubscribed recipient (21610)")
    'HTTP 400: Attempt to send to unsubscribed recipient (21610)'
    >>> opt_out_reason("HTTP 400: invalid number") is None
    True
    """
    return error if error and _OPT_OUT.search(error) else None


def opted_out(results: pd.DataFrame) -> pd.Series:
    """Boolean Series on ``results.index``: refused rows whose error says the person opted out."""
    missing = [c for c in ("to", "status", "error") if c not in results.columns]
    if missing:
        raise DataError(
            f"a results frame needs the columns to, status and error (missing: "
            f"{', '.join(missing)}): pass the frame send() returned"
        )
    error = results["error"].astype(object).where(results["error"].notna(), "").astype(str)
    refused = results["status"].isin(_REFUSED)
    has_number = results["to"].astype(object).where(results["to"].notna(), "").astype(str) != ""
    return (refused & has_number & error.str.contains(_OPT_OUT)).astype(bool)


def suppress(
    numbers: pd.Series | Iterable[str],
    *,
    reason: str,
    default_region: str | None = None,
    ledger: str | os.PathLike[str] | None = None,
) -> Suppression:
    """Never text ``numbers`` again, in any campaign: they go on the ledger's list.

    Numbers in any format are normalised like the recipients; what is not a number is
    returned in ``rejected``. Every later `send`, `plan` and `preview` reads the list.

    >>> suppress(["(617) 555-0101", "nope"], reason="asked by phone",
    ...          default_region="US")  # doctest: +SKIP
    Suppression(1 number, 1 rejected)
    """
    from ..ledger import Ledger, locate_ledger

    if not isinstance(reason, str) or not reason.strip():
        raise DataError('suppress() needs a reason, e.g. reason="replied STOP on 2 December"')
    found = Suppression.of(numbers, default_region=default_region)
    with Ledger(locate_ledger(ledger)) as opened:
        opened.suppress(sorted(found.numbers), reason=reason.strip(), source="user")
    return found
