"""Render a message for every recipient: Jinja2 in a sandbox, column names matched loosely.

`render` turns a recipients frame and a `Message` into the rendered frame: every recipient
column plus ``text``, ``encoding``, ``segments``, ``characters``, ``media`` and ``template``.

* A template name finds its column ignoring case, spaces and punctuation (as GOV.UK Notify
  does): ``{{ first_name }}`` finds "First Name". A name that fits two columns is a
  `TemplateError`; only the names the message uses are looked up.
* Jinja2 runs sandboxed with ``StrictUndefined`` and no autoescaping. An empty cell is
  *undefined* to Jinja, so ``{{ first_name | default("there") }}`` accepts it, and a cell the
  message uses without a default becomes that row's `Problem`; so does a name that matches
  no column and any error of a filter. Other rows are unaffected, and a row with a problem
  has ``text`` None (it is never sent). A syntax error raises `TemplateError`.
* Filters beyond Jinja's own (``default``, ``title``, ``upper``…): ``date(fmt="%d %b %Y")``
  for ISO dates, date cells and Excel serial numbers.
* A message of plain ``{{ name }}`` substitutions is rendered by vectorised concatenation
  (Arrow), with the same texts and problems as Jinja2; anything else runs the compiled
  template over column lists, once per distinct combination of values.

>>> import pandas as pd
>>> from campaignkit.problems import Problem
>>> people = pd.DataFrame(
...     {"First Name": ["Ann", ""], "to": ["+447700900001", "+447700900002"],
...      "problems": [(), ()], "repairs": [(), ()]},
...     index=pd.Index([2, 3], name="row"))
>>> out = render(people, "Hi {{ first_name }}!")
>>> out["text"].tolist()
['Hi Ann!', None]
>>> [str(p) for p in out.loc[3, "problems"]]
['row 3, column "First Name": is empty, and the message uses it as {{ first_name }}']
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import numbers
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import jinja2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from ._errors import TemplateError
from .message import Media, Message, Template
from .problems import Problem
from .sms import PartSizes, analyse_parts, analyse_series, part_sizes

__all__ = ["RENDERED_COLUMNS", "render"]

#: The columns `render` adds (replacing them if the frame already has them).
RENDERED_COLUMNS = ("text", "encoding", "segments", "characters", "media", "template")
# Columns a template cannot use: campaignkit's own bookkeeping and rendered output.
_NOT_FOR_TEMPLATES = frozenset({"problems", "repairs", *RENDERED_COLUMNS})


class _FilterFailed(Exception):
    """A filter could not use a value: names the value so the problem can name its column."""

    def __init__(self, value: object, reason: str) -> None:
        super().__init__(reason)
        self.value = value


@dataclass(frozen=True, slots=True)
class _Failure:
    """Why one row's piece could not be rendered (kept per distinct combination of values)."""

    error: BaseException


@dataclass
class _Piece:
    """One templated string of the message: the text, a media URL or a WhatsApp variable."""

    where: str  # "the message", "media 1 URL", 'template variable "1"'
    source: str
    template: jinja2.Template
    names: tuple[str, ...]  # the undeclared names, in order of first appearance
    parts: tuple[str | nodes.Name, ...] | None  # literal text and names, if plain substitution
    codes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    unique: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    first: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    plain: bool = False  # rendered by concatenation: ``unique`` joins ``parts`` at ``first``

    @property
    def rendered(self) -> np.ndarray:
        """Each row's rendered string (None where it failed)."""
        rendered: np.ndarray = self.unique[self.codes]
        return rendered


def render(
    recipients: pd.DataFrame,
    message: str | Message,
    *,
    engine: Literal["auto", "jinja"] = "auto",
) -> pd.DataFrame:
    """Render ``message`` for every row of ``recipients``: a new frame, index kept.

    Parameters
    ----------
    recipients
        A recipients frame (index ``row``, text columns, ``to``, ``problems``).
    message
        A Jinja2 template string (the SMS text) or a `Message` whose text, media URLs and
        WhatsApp template variables are all templates.
    engine
        ``"auto"`` renders plain ``{{ name }}`` substitution vectorised and everything else
        with Jinja2; ``"jinja"`` always uses Jinja2 (same result; for checks and benchmarks).

    Returns
    -------
    pandas.DataFrame
        The recipient columns plus ``text`` (str, or None when the message has no text or
        the row failed), ``encoding`` ("GSM-7"/"UCS-2", None without text), ``segments``,
        ``characters`` (see `campaignkit.sms`), ``media`` (a tuple of `Media` with rendered
        URLs) and ``template`` (a `Template` with plain-string variables, or None);
        ``problems`` extended with each row's rendering problems.

    Raises
    ------
    TemplateError
        A template has a syntax error, or a name it uses fits more than one column.
    """
    if isinstance(message, str):
        message = Message(text=message)
    out = recipients.drop(columns=[c for c in RENDERED_COLUMNS if c in recipients.columns])
    columns = [c for c in out.columns if c not in _NOT_FOR_TEMPLATES]
    env = _environment()
    pieces = _pieces(env, message)
    lookup = _match_columns(pieces, columns)
    found: dict[int, list[Problem]] = {}

    inputs = _Inputs(out, lookup)
    for piece in pieces:
        mapped = all(lookup.get(n) is not None for n in piece.names)
        if engine == "auto" and piece.parts is not None and mapped and inputs.all_text(piece):
            failures = _render(piece, inputs, plain=True)
        else:
            failures = _render(piece, inputs, plain=False)
        for position, failure in failures:
            label = out.index[position]
            problem = _problem(piece, failure, label, inputs, position, columns)
            found.setdefault(position, []).append(problem)

    failed = np.zeros(len(out), dtype=bool)
    failed[list(found)] = True
    out["text"] = _text_column(message, pieces, failed, out.index)
    if message.text is None:
        out["encoding"] = pd.Series([None] * len(out), index=out.index, dtype=object)
        out["segments"] = np.zeros(len(out), dtype=np.int64)
        out["characters"] = np.zeros(len(out), dtype=np.int64)
    else:
        # Analysed once per distinct text, like the rendering itself.
        sms = _analyse_text(pieces[0], inputs)
        codes = np.where(failed, len(sms), pieces[0].codes)
        encoding = np.append(sms["encoding"].to_numpy(dtype=object), [None])
        out["encoding"] = pd.Series(encoding[codes], index=out.index, dtype=object)
        out["segments"] = np.append(sms["segments"].to_numpy(), 0)[codes]
        out["characters"] = np.append(sms["characters"].to_numpy(), 0)[codes]
    out["media"] = _media_column(message, pieces, failed, out.index)
    out["template"] = _template_column(message, pieces, failed, out.index)
    out["problems"] = _extend_problems(out, found)
    # The send journal refuses the same campaign with another message (CampaignChanged).
    out.attrs["message"] = message
    return out


# --- environment and filters ------------------------------------------------------------


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
    # No randomness: a row's text depends on its values only (rendering is cached on them).
    env.globals.pop("lipsum", None)
    env.filters["date"] = _cached(_date)
    return env


def _cached(function: Callable[..., str]) -> Callable[..., str]:
    """``function`` memoised for one render: a date column has few distinct values."""
    cache: dict[tuple[Any, ...], str] = {}

    def wrapper(value: Any, *args: Any) -> str:
        try:
            key = (type(value), value, *args)
            hit = cache.get(key)
        except TypeError:  # unhashable
            return function(value, *args)
        if hit is None:
            hit = cache[key] = function(value, *args)
        return hit

    return wrapper


_SERIAL = re.compile(r"\d+(?:\.\d+)?")
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)


def _date(value: Any, fmt: str = "%d %b %Y") -> str:
    """Format a date cell, an ISO date (``2026-12-01``) or an Excel serial (``46357``)."""
    return _as_datetime(value).strftime(fmt)


def _as_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return _from_serial(float(value), value)
    if isinstance(value, str):
        cell = value.strip()
        if _SERIAL.fullmatch(cell):
            return _from_serial(float(cell), value)
        try:
            return dt.datetime.fromisoformat(cell)
        except ValueError:
            pass
    raise _FilterFailed(
        value, f'"{value}" is not a date; write it as 2026-12-01 or make the cell a date cell'
    )


def _from_serial(serial: float, value: object) -> dt.datetime:
    serial = float(serial)
    # Excel's 1900 date system counts a 29 February 1900 that never was (serial 60), so
    # serials from 61 on are one day ahead of the plain count from 1899-12-31.
    if not 1 <= serial < 2958466 or math.floor(serial) == 60:
        raise _FilterFailed(value, f'"{value}" is not an Excel date number (1 to 2958465, not 60)')
    days = math.floor(serial)
    start = _EXCEL_EPOCH if days >= 61 else _EXCEL_EPOCH + dt.timedelta(days=1)
    return start + dt.timedelta(days=days, seconds=round((serial - days) * 86400))


# --- the message's pieces and their columns ---------------------------------------------


def _pieces(env: SandboxedEnvironment, message: Message) -> list[_Piece]:
    sources: list[tuple[str, str]] = []
    if message.text is not None:
        sources.append(("the message", message.text))
    for number, media in enumerate(message.media, start=1):
        where = "the media URL" if len(message.media) == 1 else f"media {number} URL"
        sources.append((where, media.url))
    if message.template is not None:
        for path, source in _leaves(message.template.variables):
            sources.append((f'template variable "{".".join(path)}"', source))
    return [_compile(env, where, source) for where, source in sources]


def _leaves(
    variables: dict[str, Any], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], str]]:
    for key, value in variables.items():
        if isinstance(value, dict):
            yield from _leaves(value, (*prefix, key))
        else:
            yield (*prefix, key), value


def _compile(env: SandboxedEnvironment, where: str, source: str) -> _Piece:
    try:
        ast = env.parse(source)
    except jinja2.TemplateSyntaxError as error:
        raise TemplateError(
            f"{where[0].upper()}{where[1:]} has a template error on line {error.lineno}: "
            f"{(error.message or '').rstrip('.')}. Check that every {{{{ is closed by }}}} "
            "and every {% if %} or {% for %} by {% endif %} or {% endfor %}."
        ) from None
    undeclared = meta.find_undeclared_variables(ast)
    order = [n.name for n in ast.find_all(nodes.Name) if n.name in undeclared]
    names = tuple(dict.fromkeys(order))
    return _Piece(where, source, env.from_string(ast), names, _plain_parts(ast))


def _plain_parts(ast: nodes.Template) -> tuple[str | nodes.Name, ...] | None:
    """The literal text and names of a template that only substitutes ``{{ name }}``s."""
    parts: list[str | nodes.Name] = []
    for statement in ast.body:
        if not isinstance(statement, nodes.Output):
            return None
        for node in statement.nodes:
            if isinstance(node, nodes.TemplateData):
                parts.append(node.data)
            elif isinstance(node, nodes.Name) and node.ctx == "load":
                parts.append(node)
            else:
                return None
    return tuple(parts)


def _key(name: str) -> str:
    return "".join(c for c in name.casefold() if c.isalnum())


def _match_columns(pieces: list[_Piece], columns: list[str]) -> dict[str, str | None]:
    """Each used name's column (None when no column fits); raise when two columns fit."""
    by_key: dict[str, list[str]] = {}
    for column in columns:
        by_key.setdefault(_key(str(column)), []).append(column)
    lookup: dict[str, str | None] = {}
    for piece in pieces:
        for name in piece.names:
            candidates = by_key.get(_key(name), [])
            if len(candidates) > 1:
                listed = " and ".join(f'"{c}"' for c in candidates)
                raise TemplateError(
                    f"{piece.where[0].upper()}{piece.where[1:]} uses {{{{ {name} }}}}, which "
                    f"matches {len(candidates)} columns: {listed}. Rename or remove all but "
                    "one of them in the sheet."
                )
            lookup[name] = candidates[0] if candidates else None
    return lookup


class _Inputs:
    """The used columns, each as a list with None for an empty cell, built once per render."""

    def __init__(self, frame: pd.DataFrame, lookup: dict[str, str | None]) -> None:
        self.frame = frame
        self.lookup = lookup
        self._values: dict[str, list[Any]] = {}
        self._empty: dict[str, np.ndarray] = {}
        self._factorized: dict[str, tuple[np.ndarray, pd.Index | np.ndarray]] = {}

    def column(self, name: str) -> pd.Series | None:
        column = self.lookup.get(name)
        return None if column is None else self.frame[column]

    def all_text(self, piece: _Piece) -> bool:
        return all(pd.api.types.is_string_dtype(self.column(n)) for n in piece.names)

    def empty(self, name: str) -> np.ndarray:
        """Where ``name``'s cell is empty: missing, or only whitespace."""
        if name not in self._empty:
            series = self.column(name)
            if series is None:
                mask = np.ones(len(self.frame), dtype=bool)
            else:
                # Found among the distinct values (a few thousand, not every row); a missing
                # cell has code -1, which picks the appended False.
                codes, uniques = self.factorized(name)
                if isinstance(series.dtype, pd.StringDtype):
                    distinct = pd.Series(uniques, dtype=series.dtype).str.strip().eq("")
                    blank = distinct.to_numpy(dtype=bool, na_value=False)
                elif series.dtype == object:
                    blank = np.array(
                        [isinstance(v, str) and not v.strip() for v in uniques.tolist()],
                        dtype=bool,
                    )
                else:
                    blank = np.zeros(len(uniques), dtype=bool)
                mask = (codes < 0) | np.append(blank, False)[codes]
            self._empty[name] = mask
        return self._empty[name]

    def values(self, name: str, positions: np.ndarray) -> list[Any]:
        """The cells of ``name`` at ``positions`` as Python objects, None where empty."""
        series = self.column(name)
        if series is None:
            return [None] * len(positions)
        values: list[Any] = series.take(positions).tolist()
        for i in np.flatnonzero(self.empty(name)[positions]):
            values[i] = None
        return values

    def factorized(self, name: str) -> tuple[np.ndarray, pd.Index | np.ndarray]:
        """(code of each row's ``name`` value, -1 where missing; the distinct values)."""
        if name not in self._factorized:
            codes, uniques = pd.factorize(self.column(name))
            self._factorized[name] = (codes.astype(np.int64), uniques)
        return self._factorized[name]

    def combinations(self, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(code of each row's combination of ``names`` values, first row of each code).

        A template's result depends only on these values, so it is rendered once per
        distinct combination (a date column has a few hundred distinct values, not a
        million) and the results are broadcast by code.
        """
        key = np.zeros(len(self.frame), dtype=np.int64)
        for name in names:
            series = self.column(name)
            if series is None:
                continue
            codes, uniques = self.factorized(name)
            codes = codes + 1
            codes[self.empty(name)] = 0  # every empty cell is the same: undefined
            if int(key.max(initial=0)) * (len(uniques) + 1) >= 2**62:
                key = pd.factorize(key)[0].astype(np.int64)
            key = key * (len(uniques) + 1) + codes
        # factorize numbers codes in order of first appearance (a hash, not a sort), so a
        # code's first row is where the running maximum of the codes steps up.
        combination = pd.factorize(key)[0].astype(np.int64)
        steps = np.diff(np.maximum.accumulate(combination), prepend=-1)
        return combination, np.flatnonzero(steps > 0)


# --- rendering ----------------------------------------------------------------------------


def _render(piece: _Piece, inputs: _Inputs, *, plain: bool) -> list[tuple[int, _Failure]]:
    """Render ``piece`` once per distinct combination of its values; set ``piece.rendered``.

    Returns the failed rows (by position) with their failure.
    """
    codes, first = inputs.combinations(piece.names)
    if plain:
        unique, failed = _render_plain(piece, inputs, first)
    else:
        unique, failed = _render_jinja(piece, inputs, first)
    piece.codes = codes
    piece.unique = unique
    piece.first = first
    piece.plain = plain
    failures: list[tuple[int, _Failure]] = []
    if failed:
        for position in np.flatnonzero(np.isin(codes, list(failed))):
            failures.append((int(position), failed[int(codes[position])]))
    return failures


def _render_jinja(
    piece: _Piece, inputs: _Inputs, positions: np.ndarray
) -> tuple[np.ndarray, dict[int, _Failure]]:
    """The compiled template over column lists (never row Series or per-row dicts of the frame)."""
    template = piece.template
    names = piece.names
    columns = [inputs.values(n, positions) for n in names]
    rows = zip(*columns, strict=True) if columns else itertools.repeat((), len(positions))
    rendered = np.empty(len(positions), dtype=object)
    failed: dict[int, _Failure] = {}
    concat = template.environment.concat
    # The globals flattened once: new_context() would copy their ChainMap for every row.
    base = dict(template.globals)
    for i, values in enumerate(rows):
        context = {n: v for n, v in zip(names, values, strict=True) if v is not None}
        try:
            # root_render_func, not render(): render() rewrites the traceback of every
            # failure, which costs milliseconds a row when a whole column is empty.
            rendered[i] = concat(
                template.root_render_func(template.new_context({**base, **context}, shared=True))
            )
        except Exception as error:  # any failure is this row's problem, not the campaign's
            failed[i] = _Failure(error)
    return rendered, failed


def _render_plain(
    piece: _Piece, inputs: _Inputs, positions: np.ndarray
) -> tuple[np.ndarray, dict[int, _Failure]]:
    """Vectorised ``{{ name }}`` substitution; the first empty name fails a row, as in Jinja."""
    assert piece.parts is not None
    parts = []
    for part in piece.parts:
        if isinstance(part, str):
            parts.append(pa.scalar(part, pa.large_string()))
        else:
            series = inputs.column(part.name).take(positions)  # type: ignore[union-attr]
            parts.append(pa.array(series, type=pa.large_string(), from_pandas=True))
    if not piece.names:
        parts.insert(0, pa.array([""] * len(positions), pa.large_string()))
    joined = pc.binary_join_element_wise(*parts, pa.scalar("", pa.large_string()))
    rendered = joined.to_numpy(zero_copy_only=False).astype(object, copy=False)
    done = np.zeros(len(positions), dtype=bool)
    failed: dict[int, _Failure] = {}
    for name in piece.names:  # in order of first appearance: the one Jinja meets first
        first = inputs.empty(name)[positions] & ~done
        done |= first
        for i in np.flatnonzero(first):
            failed[int(i)] = _Failure(jinja2.UndefinedError(f"'{name}' is undefined"))
    rendered[done] = None
    return rendered, failed


def _analyse_text(piece: _Piece, inputs: _Inputs) -> pd.DataFrame:
    """`analyse_series` of each distinct text of the message.

    A text made by concatenation is analysed part by part: each literal once and each
    used column's distinct values once (a few thousand, where nearly every text of a
    real sheet is distinct), the sizes then added per text by `analyse_parts`.
    """
    if not piece.plain:
        return analyse_series(pd.Series(piece.unique, dtype=object))
    assert piece.parts is not None
    sizes: list[PartSizes] = []
    for part in piece.parts:
        if isinstance(part, str):
            sizes.append(part_sizes([part]))  # the same in every text: broadcast
        else:
            codes, uniques = inputs.factorized(part.name)
            at = codes[piece.first]
            # A missing value (code -1) fails its row; its text is None and not analysed.
            at = np.where(at < 0, len(uniques), at)
            sizes.append(part_sizes([*uniques.tolist(), None]).take(at))
    return analyse_parts(piece.unique, sizes)


# --- problems -----------------------------------------------------------------------------

_UNDEFINED = re.compile(r"'(\w+)' is undefined")


def _problem(
    piece: _Piece,
    failure: _Failure,
    label: Any,
    inputs: _Inputs,
    position: int,
    columns: list[str],
) -> Problem:
    error = failure.error
    row = int(label) if isinstance(label, numbers.Integral) else None
    if isinstance(error, jinja2.UndefinedError):
        match = _UNDEFINED.fullmatch(str(error))
        name = match.group(1) if match else None
        if name in piece.names:
            column = inputs.lookup.get(name)
            if column is None:
                listed = ", ".join(f'"{c}"' for c in columns)
                return Problem(
                    row,
                    None,
                    f"{piece.where} uses {{{{ {name} }}}}, but no column matches it "
                    f"(columns: {listed})",
                    "missing-value",
                )
            return Problem(
                row,
                str(column),
                f"is empty, and {piece.where} uses it as {{{{ {name} }}}}",
                "missing-value",
            )
    column = None
    reason = str(error)
    if isinstance(error, _FilterFailed):
        holders = [
            inputs.lookup[n]
            for n in piece.names
            if inputs.lookup.get(n) is not None
            and inputs.values(n, np.array([position]))[0] == error.value
        ]
        column = str(holders[0]) if len(set(holders)) == 1 else None
    return Problem(row, column, f"{piece.where} could not be rendered: {reason}", "template")


def _extend_problems(frame: pd.DataFrame, found: dict[int, list[Problem]]) -> pd.Series:
    if "problems" in frame.columns:
        current = frame["problems"]
    else:
        current = pd.Series([()] * len(frame), index=frame.index, dtype=object)
    if not found:
        return current
    values = current.tolist()
    for position, problems in found.items():
        values[position] = tuple(values[position]) + tuple(problems)
    return pd.Series(values, index=frame.index, dtype=object)


# --- output columns -----------------------------------------------------------------------


def _text_column(
    message: Message, pieces: list[_Piece], failed: np.ndarray, index: pd.Index
) -> pd.Series:
    if message.text is None:
        return pd.Series([None] * len(index), index=index, dtype=object)
    text = pieces[0].rendered
    text[failed] = None  # a row whose media or template variable failed is not sent either
    return pd.Series(text, index=index, dtype=object)


def _media_column(
    message: Message, pieces: list[_Piece], failed: np.ndarray, index: pd.Index
) -> pd.Series:
    if not message.media:
        return pd.Series([()] * len(index), index=index, dtype=object)
    first = 1 if message.text is not None else 0
    urls = [p.rendered for p in pieces[first : first + len(message.media)]]
    made: dict[tuple[str, ...], tuple[Media, ...]] = {}
    values: list[tuple[Media, ...]] = []
    for position, row_urls in enumerate(zip(*urls, strict=True)):
        if failed[position]:
            values.append(())
            continue
        media = made.get(row_urls)
        if media is None:
            media = made[row_urls] = tuple(
                _with(m, url=u) for m, u in zip(message.media, row_urls, strict=True)
            )
        values.append(media)
    return pd.Series(values, index=index, dtype=object)


def _template_column(
    message: Message, pieces: list[_Piece], failed: np.ndarray, index: pd.Index
) -> pd.Series:
    if message.template is None:
        return pd.Series([None] * len(index), index=index, dtype=object)
    first = (1 if message.text is not None else 0) + len(message.media)
    leaves = [p.rendered for p in pieces[first:]]
    paths = [path for path, _ in _leaves(message.template.variables)]
    made: dict[tuple[str, ...], Template] = {}
    values: list[Template | None] = []
    rows = zip(*leaves, strict=True) if leaves else itertools.repeat((), len(index))
    for position, row_values in enumerate(rows):
        if failed[position]:
            values.append(None)
            continue
        template = made.get(row_values)
        if template is None:
            variables: dict[str, Any] = {}
            for path, value in zip(paths, row_values, strict=True):
                *parents, leaf = path
                target = variables
                for parent in parents:
                    target = target.setdefault(parent, {})
                target[leaf] = value
            template = made[row_values] = _with(message.template, variables=variables)
        values.append(template)
    return pd.Series(values, index=index, dtype=object)


def _with(model: Any, **changes: Any) -> Any:
    """A copy of a frozen model with ``changes``, validated, its set fields kept for the repr."""
    fields = {name: getattr(model, name) for name in model.model_fields_set}
    return type(model)(**{**fields, **changes})
