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
  (Arrow), with the same texts and problems as Jinja2, and its SMS sizes are added up from
  its parts'; anything else runs the compiled template over column lists, once per distinct
  combination of values.

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
from .sms import PartSizes, analyse_part_arrays, analyse_series, part_sizes

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


_Part = str | nodes.Name  # of a plain template: literal text or a name


@dataclass(frozen=True, slots=True)
class _Group:
    """Consecutive parts of a plain template, rendered once per combination of values."""

    parts: tuple[_Part, ...]
    combinations: int  # how many occur
    codes: np.ndarray  # each row's combination
    digits: dict[str, np.ndarray]  # each combination's digit of each name (`_Inputs.digits`)


@dataclass
class _Piece:
    """One templated string of the message: the text, a media URL or a WhatsApp variable."""

    where: str  # "the message", "media 1 URL", 'template variable "1"'
    source: str
    template: jinja2.Template
    names: tuple[str, ...]  # the undeclared names, in order of first appearance
    parts: tuple[_Part, ...] | None  # literal text and names, if plain substitution
    # Each row's code into ``unique`` (one string per distinct combination of values), or
    # None when ``unique`` holds every row's string (plain substitution).
    codes: np.ndarray | None = None
    unique: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    plain: bool = False  # rendered by concatenation of ``parts``, one string per row
    groups: list[_Group] | None = None  # how, when plain (None: every row joined by Arrow)

    @property
    def rendered(self) -> np.ndarray:
        """Each row's rendered string (None where it failed); read-only, it may be ``unique``."""
        if self.codes is None:
            return self.unique
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
    if message.text is None:
        encoding = np.full(len(out), None, dtype=object)
        segments = characters = np.zeros(len(out), dtype=np.int64)
    else:
        encoding, segments, characters = _analyse_text(pieces[0], inputs, failed)
    out["text"] = _text_column(message, pieces, failed, out.index)
    # copy=False: these arrays are this call's own (a Series copies an array by default).
    out["encoding"] = pd.Series(encoding, index=out.index, dtype=object, copy=False)
    out["segments"] = pd.Series(segments, index=out.index, copy=False)
    out["characters"] = pd.Series(characters, index=out.index, copy=False)
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


def _plain_parts(ast: nodes.Template) -> tuple[_Part, ...] | None:
    """The literal text and names of a template that only substitutes ``{{ name }}``s."""
    parts: list[_Part] = []
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
    """The used columns, each factorised once per render: digits, empty cells, lists."""

    def __init__(self, frame: pd.DataFrame, lookup: dict[str, str | None]) -> None:
        self.frame = frame
        self.lookup = lookup
        self._digits: dict[str, tuple[np.ndarray, int]] = {}
        self._empty: dict[str, np.ndarray] = {}
        self._factorized: dict[str, tuple[np.ndarray, pd.Index | np.ndarray]] = {}
        self._texts: dict[str, pa.Array] = {}

    def column(self, name: str) -> pd.Series | None:
        column = self.lookup.get(name)
        return None if column is None else self.frame[column]

    def all_text(self, piece: _Piece) -> bool:
        return all(pd.api.types.is_string_dtype(self.column(n)) for n in piece.names)

    def digits(self, name: str) -> tuple[np.ndarray, int]:
        """(each row's ``name`` value as a digit, the radix): 0 for every empty cell, k for
        the k-th distinct value (counted from 1), so digits of several names make one key.
        """
        if name not in self._digits:
            series = self.column(name)
            if series is None:
                self._digits[name] = (np.zeros(len(self.frame), dtype=np.int64), 1)
            else:
                # Emptiness is decided among the distinct values (a few thousand, not every
                # row); a missing cell has code -1, which picks the appended 0.
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
                digit = np.where(blank, 0, np.arange(1, len(uniques) + 1, dtype=np.int64))
                self._digits[name] = (np.append(digit, 0)[codes], len(uniques) + 1)
        return self._digits[name]

    def empty(self, name: str) -> np.ndarray:
        """Where ``name``'s cell is empty: missing, or only whitespace."""
        if name not in self._empty:
            self._empty[name] = self.digits(name)[0] == 0
        return self._empty[name]

    def texts(self, name: str) -> pa.Array:
        """The text of each digit of ``name`` (a text column): "" for 0, then its values."""
        if name not in self._texts:
            _, uniques = self.factorized(name)
            values = pa.array(uniques, type=pa.large_string(), from_pandas=True)
            if isinstance(values, pa.ChunkedArray):  # what an Arrow-backed column gives
                values = values.combine_chunks()
            self._texts[name] = pa.concat_arrays([pa.array([""], pa.large_string()), values])
        return self._texts[name]

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
            self._factorized[name] = (codes.astype(np.int64, copy=False), uniques)
        return self._factorized[name]

    def key(self, names: tuple[str, ...]) -> tuple[np.ndarray, int]:
        """(each row's combination of ``names`` values as one number, how many there can be).

        Every empty cell is the same digit (undefined to Jinja). For a few names of few
        values (a group of `_plain_groups`), whose product of radixes is at most the rows.
        The key is read-only: for one name it is that name's digits.
        """
        if not names:
            return np.zeros(len(self.frame), dtype=np.int64), 1
        key, size = self.digits(names[0])
        for name in names[1:]:
            digits, radix = self.digits(name)
            key, size = key * radix + digits, size * radix
        return key, size

    def combinations(self, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(code of each row's combination of ``names`` values, first row of each code).

        A template's result depends only on these values, so it is rendered once per
        distinct combination (a date column has a few hundred distinct values, not a
        million) and the results are broadcast by code.
        """
        key = np.zeros(len(self.frame), dtype=np.int64)
        for name in names:
            digits, radix = self.digits(name)
            if radix == 1:
                continue
            if int(key.max(initial=0)) * radix >= 2**62:
                key = pd.factorize(key)[0].astype(np.int64)
            key = key * radix + digits
        # factorize numbers codes in order of first appearance (a hash, not a sort), so a
        # code's first row is where the running maximum of the codes steps up.
        combination = pd.factorize(key)[0].astype(np.int64)
        steps = np.diff(np.maximum.accumulate(combination), prepend=-1)
        return combination, np.flatnonzero(steps > 0)


# --- rendering ----------------------------------------------------------------------------


def _render(piece: _Piece, inputs: _Inputs, *, plain: bool) -> list[tuple[int, _Failure]]:
    """Render ``piece`` and set its ``unique`` and ``codes``: returns the failed rows (by
    position) with their failure.

    Jinja2 renders once per distinct combination of the piece's values; concatenation
    renders every row (see `_render_plain`).
    """
    if plain:
        piece.unique, piece.groups, failures = _render_plain(piece, inputs)
        piece.codes = None
        piece.plain = True
        return failures
    codes, first = inputs.combinations(piece.names)
    piece.unique, failed = _render_jinja(piece, inputs, first)
    piece.codes = codes
    piece.plain = False
    return [
        (int(position), failed[int(codes[position])])
        for position in (np.flatnonzero(np.isin(codes, list(failed))) if failed else ())
    ]


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
    piece: _Piece, inputs: _Inputs
) -> tuple[np.ndarray, list[_Group] | None, list[tuple[int, _Failure]]]:
    """Vectorised ``{{ name }}`` substitution, one string per row; the first empty name
    fails a row, as in Jinja.

    Making a Python string is most of the cost (about 0.1 µs each), so a part whose
    values repeat is rendered once per distinct combination (`_plain_groups`); the texts
    of a row are then one lookup, or two joined by one ``+``.
    """
    assert piece.parts is not None
    n = len(inputs.frame)
    radix = {name: inputs.digits(name)[1] for name in piece.names}
    layout = _plain_groups(piece.parts, radix, n)
    groups = None
    if layout is None:
        texts = _join_rows(piece.parts, inputs)
    else:
        made = [_join_group(parts, inputs) for parts in layout]
        groups = [group for group, _ in made]
        texts = made[0][1]
        for _, strings in made[1:]:
            texts = texts + strings  # str + str per row, in C
    done = np.zeros(n, dtype=bool)
    failures: list[tuple[int, _Failure]] = []
    for name in piece.names:  # in order of first appearance: the one Jinja meets first
        first = inputs.empty(name) & ~done
        rows = np.flatnonzero(first)
        if len(rows):
            done |= first
            failure = _Failure(jinja2.UndefinedError(f"'{name}' is undefined"))
            failures.extend((row, failure) for row in rows.tolist())
    if failures:
        texts[done] = None
    return texts, groups, failures


def _plain_groups(
    parts: tuple[_Part, ...], radix: dict[str, int], rows: int
) -> list[tuple[_Part, ...]] | None:
    """How to concatenate ``parts``: as one group rendered once per distinct combination of
    its names' values, as a left and a right group so made and joined per row, or None:
    every row joined by Arrow.

    ``radix`` bounds each name's distinct values (empty cells being one more). A group
    pays one Python string per combination it may hold, a row per group beyond the first
    one ``+``: one group while its combinations cannot outnumber the rows, two while
    theirs are at most a quarter of the rows (``+`` costs about half of an Arrow join).

    >>> name, date = nodes.Name("name", "load"), nodes.Name("date", "load")
    >>> _plain_groups(("Hi ", name), {"name": 45}, 1000)
    [('Hi ', Name(name='name', ctx='load'))]
    >>> _plain_groups(("Hi ", name, " on ", date), {"name": 45, "date": 200}, 1000)
    [('Hi ', Name(name='name', ctx='load')), (' on ', Name(name='date', ctx='load'))]
    >>> _plain_groups(("Hi ", name, " on ", date), {"name": 500, "date": 200}, 1000) is None
    True
    """

    def size(group: tuple[_Part, ...]) -> int:
        return math.prod(radix[n] for n in dict.fromkeys(_names(group)))

    if size(parts) <= max(rows, 1):
        return [parts]
    splits = [(parts[:i], parts[i:]) for i in range(1, len(parts))]
    best = min(splits, key=lambda pair: size(pair[0]) + size(pair[1]), default=None)
    if best is not None and size(best[0]) + size(best[1]) <= rows // 4:
        return list(best)
    return None


def _names(parts: tuple[_Part, ...]) -> Iterator[str]:
    return (part.name for part in parts if isinstance(part, nodes.Name))


def _join_rows(parts: tuple[_Part, ...], inputs: _Inputs) -> np.ndarray:
    """Every row's concatenation of ``parts`` (None where a cell is missing)."""
    return _joined(
        parts,
        lambda name: pa.array(inputs.column(name), type=pa.large_string(), from_pandas=True),
        len(inputs.frame),
    )


def _joined(
    parts: tuple[_Part, ...], values: Callable[[str], pa.Array], length: int
) -> np.ndarray:
    """The ``length`` concatenations of ``parts``, each name's strings from ``values``."""
    arrays: list[pa.Array | pa.Scalar] = []
    if not any(isinstance(part, nodes.Name) for part in parts):
        arrays.append(pa.array([""] * length, pa.large_string()))  # the join needs an array
    for part in parts:
        if isinstance(part, str):
            arrays.append(pa.scalar(part, pa.large_string()))
        else:
            arrays.append(values(part.name))
    joined = pc.binary_join_element_wise(*arrays, pa.scalar("", pa.large_string()))
    texts: np.ndarray = joined.to_numpy(zero_copy_only=False).astype(object, copy=False)
    return texts


def _join_group(parts: tuple[_Part, ...], inputs: _Inputs) -> tuple[_Group, np.ndarray]:
    """The group of ``parts`` and every row's concatenation of them, made once per
    combination that occurs ("" for an empty cell: a row with one fails whatever its text).
    """
    names = tuple(dict.fromkeys(_names(parts)))
    key, size = inputs.key(names)
    used = np.flatnonzero(np.bincount(key, minlength=size))
    digits: dict[str, np.ndarray] = {}
    rest = used
    for name in reversed(names):  # the key's digits, last name first
        radix = inputs.digits(name)[1]
        digits[name], rest = rest % radix, rest // radix
    strings = _joined(parts, lambda name: inputs.texts(name).take(digits[name]), len(used))
    number = np.empty(size, dtype=np.intp)
    number[used] = np.arange(len(used))
    codes = number[key]
    return _Group(parts, len(used), codes, digits), strings[codes]


def _analyse_text(
    piece: _Piece, inputs: _Inputs, failed: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(encoding, segments, characters) of every row's text: None, 0, 0 where it failed.

    A text made by Jinja2 is analysed once per distinct text, like the rendering. A text
    made by concatenation is analysed part by part: each literal and each used column's
    distinct values once (a few thousand, where nearly every text of a real sheet is
    distinct), in one `part_sizes` call; `analyse_part_arrays` then adds them up per row.
    """
    if not piece.plain:
        assert piece.codes is not None
        sms = analyse_series(pd.Series(piece.unique, dtype=object))
        codes = np.where(failed, len(sms), piece.codes)
        return (
            np.append(sms["encoding"].to_numpy(dtype=object), [None])[codes],
            np.append(sms["segments"].to_numpy(), 0)[codes],
            np.append(sms["characters"].to_numpy(), 0)[codes],
        )
    assert piece.parts is not None
    # Every literal and every distinct value in one `part_sizes` call (the regular
    # expressions are compiled once a call); `sized` then picks each part's sizes.
    literals = {part: i for i, part in enumerate(dict.fromkeys(_literals(piece.parts)))}
    texts = [pa.array(list(literals), pa.large_string())]
    offset: dict[str, int] = {}
    start = len(literals)
    for name in piece.names:
        offset[name] = start
        texts.append(inputs.texts(name))
        start += len(texts[-1])
    sizes = part_sizes(pa.concat_arrays(texts))

    def sized(
        parts: tuple[_Part, ...], digits: dict[str, np.ndarray]
    ) -> tuple[list[PartSizes], list[np.ndarray | None]]:
        """The sizes of ``parts`` and where each combination (or row) finds its own."""
        literal = [sizes.take(np.array([literals[p]])) for p in _literals(parts)]
        at: list[np.ndarray | None] = [offset[n] + digits[n] for n in _names(parts)]
        return [*literal, *[sizes] * len(at)], [*[None] * len(literal), *at]

    if piece.groups is None:
        parts, at = sized(piece.parts, {name: inputs.digits(name)[0] for name in piece.names})
    else:
        # Joined per combination of each group (a few thousand) and found per row by its
        # code: joins of joins are joins (`PartSizes.join`).
        parts = []
        for group in piece.groups:
            group_parts, group_at = sized(group.parts, group.digits)
            parts.append(PartSizes.join(group_parts, group.combinations, group_at))
        at = [g.codes for g in piece.groups]
    return analyse_part_arrays(piece.unique, parts, ~failed, at)


def _literals(parts: tuple[_Part, ...]) -> Iterator[str]:
    return (part for part in parts if isinstance(part, str))


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
    current = frame["problems"] if "problems" in frame.columns else _constant((), frame.index)
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
        return _constant(None, index)
    text = pieces[0].rendered
    if failed.any():  # a row whose media or template variable failed is not sent either
        text = text.copy()  # `rendered` may be the piece's own array
        text[failed] = None
    return pd.Series(text, index=index, dtype=object, copy=False)


def _constant(value: object, index: pd.Index) -> pd.Series:
    """An object column holding ``value`` (None, an empty tuple) in every row."""
    values = np.empty(len(index), dtype=object)
    values.fill(value)
    return pd.Series(values, index=index, dtype=object, copy=False)


def _media_column(
    message: Message, pieces: list[_Piece], failed: np.ndarray, index: pd.Index
) -> pd.Series:
    if not message.media:
        return _constant((), index)
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
        return _constant(None, index)
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
