"""Render a message for every recipient: Jinja2 in a bounded sandbox, column names matched loosely.

`render` turns a recipients frame and a `Message` into the rendered frame: every recipient
column plus ``text``, ``encoding``, ``segments``, ``characters``, ``media`` and ``template``.

* A template name finds its column ignoring case, spaces and punctuation (as GOV.UK Notify
  does): ``{{ first_name }}`` finds "First Name". A name that fits two columns, or none (unless
  guarded by ``| default`` or ``is defined``), is a `TemplateError` naming its line and column.
* Jinja2 runs sandboxed with ``StrictUndefined`` and no autoescaping. An empty cell is falsy,
  so ``{% if clinic %}``, ``{{ clinic or "our clinic" }}``, ``| default("our clinic")`` and
  ``is defined`` all pass it; printed bare it is that row's `Problem` ("missing-value"); so
  is any error of a filter. Other rows are unaffected, and a row with a problem has ``text``
  None (it is never sent). A syntax error, an unknown filter or test, a blank message and
  printing what is not a value (``{{ range }}``, a macro) raise `TemplateError`.
* The sandbox is bounded (`campaignkit._jinja`): huge powers, repetitions, ranges, widths,
  loops and outputs are refused as that row's problem, saying what was too big; a row's text
  longer than ``max_characters`` is a "content" problem stating its length. `check_template`
  renders one row within a time box, for an editor's every keystroke.
* `template_warnings` names what is probably a mistake but is sent as written: ``{name}`` in
  single braces. `render` keeps them in ``rendered.attrs["template_warnings"]``.
* Filters beyond Jinja's own (``default``, ``title``, ``upper``…): ``date(fmt="%d %b %Y")``
  for ISO dates, date cells and Excel serial numbers.
* A message of plain ``{{ name }}`` substitutions (with literal fallbacks: ``{{ name or "x" }}``,
  ``{{ name | default("x") }}``) is rendered by vectorised concatenation (Arrow), with the same
  texts and problems as Jinja2, and its SMS sizes are added up from its parts'; anything else
  runs the compiled template over column lists, once per distinct combination of values.

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
import difflib
import itertools
import math
import numbers
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import jinja2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from jinja2 import meta, nodes
from jinja2.exceptions import SecurityError

from . import _jinja
from ._errors import DataError, TemplateError, require
from ._jinja import BoundedEnvironment, Empty, NotAValue
from ._memory import system_pool
from .message import Media, Message, Template
from .problems import Problem
from .sms import PartSizes, analyse_part_arrays, analyse_series, part_sizes

__all__ = [
    "CHECK_SECONDS",
    "MAX_CHARACTERS",
    "MAX_SMS_CHARACTERS",
    "MAX_WHATSAPP_CHARACTERS",
    "RENDERED_COLUMNS",
    "check_template",
    "render",
    "template_warnings",
]

#: The columns `render` adds (replacing them if the frame already has them).
RENDERED_COLUMNS = ("text", "encoding", "segments", "characters", "media", "template")
#: Twilio's limit on a message body, which Sociocs applies too: "The Body parameter for an
#: outgoing message can be up to 1,600 characters" (https://www.twilio.com/docs/api/errors/21617).
MAX_SMS_CHARACTERS = 1600
#: WhatsApp's limit on a text message: "A text message can be a maximum of 4096 characters
#: long" (https://docs.360dialog.com/docs/messaging/messaging).
MAX_WHATSAPP_CHARACTERS = 4096
#: `render`'s default cap on a row's text: the longest any supported channel takes. Pass
#: ``max_characters=MAX_SMS_CHARACTERS`` when the channel is SMS.
MAX_CHARACTERS = MAX_WHATSAPP_CHARACTERS
#: `check_template`'s time box for one row, in seconds (a keystroke must not hang an editor).
CHECK_SECONDS = 0.5
# render's time box per row: a last resort behind the step and size bounds, which stop a bomb
# long before (a real message takes well under a millisecond).
_ROW_SECONDS = 2.0
# The longest template campaignkit compiles: compiling is not time-boxed, so it is bounded here.
_MAX_SOURCE = 20_000
_BUILTIN_FILTERS = "https://jinja.palletsprojects.com/en/stable/templates/#list-of-builtin-filters"
_BUILTIN_TESTS = "https://jinja.palletsprojects.com/en/stable/templates/#list-of-builtin-tests"
_UNSUPPORTED = {
    nodes.Extends: "extends",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from … import",
}
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


class _Content(Exception):
    """A row's text breaks a rule of every channel: blank, or longer than the cap."""


@dataclass(frozen=True, slots=True)
class _Fallback:
    """``{{ name or "text" }}`` or ``{{ name | default("text") }}``: the cell, or ``text``
    where it is empty."""

    name: str
    text: str


_Part = str | nodes.Name | _Fallback  # of a plain template: literal text, a name, a fallback


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
    is_text: bool  # the message text: blank or too long is a problem of the row
    # Where each name is first used without a guard (| default, is defined), or first used
    # at all when every use is guarded; and the names with a guarded use.
    lines: dict[str, int]
    guarded: frozenset[str]
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


@system_pool
def render(
    recipients: pd.DataFrame,
    message: str | Message,
    *,
    engine: Literal["auto", "jinja"] = "auto",
    max_characters: int = MAX_CHARACTERS,
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
    max_characters
        The longest text a row may have; a longer one is that row's "content" problem.
        The default, `MAX_CHARACTERS` (4,096), is the longest any supported channel takes;
        pass `MAX_SMS_CHARACTERS` (1,600, Twilio's limit) for SMS.

    Returns
    -------
    pandas.DataFrame
        The recipient columns plus ``text`` (str, or None when the message has no text or
        the row failed), ``encoding`` ("GSM-7"/"UCS-2", None without text), ``segments``,
        ``characters`` (see `campaignkit.sms`), ``media`` (a tuple of `Media` with rendered
        URLs) and ``template`` (a `Template` with plain-string variables, or None);
        ``problems`` extended with each row's rendering problems. ``attrs["message"]`` is
        the `Message`, ``attrs["template_warnings"]`` its `template_warnings`.

    Raises
    ------
    TemplateError
        A template has a syntax error, an unknown filter or test, uses a name that fits no
        column (unguarded) or more than one, prints what is not a value, or the text is blank.

    >>> import pandas as pd
    >>> people = pd.DataFrame({"Clinic": ["Leeds", ""], "problems": [(), ()]},
    ...                       index=pd.Index([2, 3], name="row"))
    >>> render(people, 'See you at {{ clinic or "our clinic" }}.')["text"].tolist()
    ['See you at Leeds.', 'See you at our clinic.']
    """
    require("recipients", recipients, pd.DataFrame,
            "a DataFrame, the one load_recipients(...) returns", DataError)
    require("message", message, (str, Message), 'a template string ("Hi {{ name }}") or a '
            "Message", TemplateError)
    return _render(recipients, message, engine, max_characters, _ROW_SECONDS)


def check_template(
    message: str | Message,
    row: Mapping[str, Any],
    *,
    max_characters: int = MAX_CHARACTERS,
    seconds: float = CHECK_SECONDS,
) -> tuple[str | None, str | None]:
    """Render ``message`` for one ``row``, bounded in steps and time: for an editor's keystrokes.

    Compiling is bounded by the template's length, rendering by the sandbox's bounds and a
    time box of ``seconds``, so a keystroke that types ``{{ 7 ** 1000000000 }}`` gets its
    problem back at once. Render the whole sheet with `render` once this passes.

    Parameters
    ----------
    message
        The template, as for `render`.
    row
        The row's cells by column name: a dict, or a row of a recipients frame (a Series
        whose name, the sheet's row number, the problem then names).
    max_characters
        The longest text the row may have, as for `render`.
    seconds
        The time box of the rendering.

    Returns
    -------
    tuple
        ``(text, None)`` when the row renders (``text`` None if the message has no text), or
        ``(None, error)``: the `TemplateError`'s message or the row's problems, in plain words.

    >>> check_template("Hi {{ first_name }}", {"First Name": "Ann"})
    ('Hi Ann', None)
    >>> check_template("Hi {{ first_name | shout }}", {"First Name": "Ann"})[1][:60]
    'The message uses the filter "shout" (line 1, column 20), whi'
    """
    if not isinstance(seconds, numbers.Real) or not 0 <= seconds < math.inf:
        raise ValueError(f"seconds must be a number of seconds ≥ 0, not {seconds!r}")
    label = row.name if isinstance(row, pd.Series) else None
    cells = {k: v for k, v in dict(row).items() if k not in _NOT_FOR_TEMPLATES}
    frame = pd.DataFrame([cells], index=pd.Index([label], name="row"))
    frame["problems"] = pd.Series([()], index=frame.index, dtype=object)
    try:
        out = _render(frame, message, "auto", max_characters, float(seconds))
    except TemplateError as error:
        return None, str(error)
    problems = out["problems"].iloc[0]
    if problems:
        return None, "; ".join(str(p) for p in problems)
    text: str | None = out["text"].iloc[0]
    return text, None


def template_warnings(message: str | Message) -> list[str]:
    """What in ``message`` is sent as written but is probably a mistake: ``{first_name}``
    (another tool's placeholder) in single braces, with its line, column and fix.

    It reads the text only, so it never raises (a broken template is `render`'s to report).

    >>> template_warnings("Hi {first_name}")  # doctest: +NORMALIZE_WHITESPACE
    ['The message has {first_name} (line 1, column 4): single braces are sent as they are;
      write {{ first_name }} to put in the value from the sheet.']
    """
    if isinstance(message, str):
        message = Message(text=message)
    warnings = []
    for where, source in _sources(message):
        masked = _TAGS.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), source)
        for match in _SINGLE_BRACES.finditer(masked):
            inner = match.group(1).strip()
            name = inner if inner.isidentifier() else _as_name(inner)
            position = _line_and_column(masked, match.start())
            warnings.append(
                f"{_capital(where)} has {match.group(0)} ({position}): single braces are sent "
                f"as they are; write {{{{ {name} }}}} to put in the value from the sheet."
            )
    return warnings


# Jinja's tags and comments, whose braces are Jinja's own.
_TAGS = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
# {name} or { First Name }: one brace each side, a name inside.
_SINGLE_BRACES = re.compile(r"(?<!\{)\{(\s*[^\W\d][\w .-]*?\s*)\}(?!\})")


def _line_and_column(source: str, offset: int) -> str:
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def _as_name(text: str) -> str:
    """A template name for a column called ``text``: "First Name" -> first_name."""
    return re.sub(r"[^0-9a-z]+", "_", text.casefold()).strip("_") or "name"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _render(
    recipients: pd.DataFrame,
    message: str | Message,
    engine: Literal["auto", "jinja"],
    longest: int,
    seconds: float,
) -> pd.DataFrame:
    if isinstance(message, str):
        message = Message(text=message)
    if not _is_int(longest) or longest < 1:
        raise ValueError(f"max_characters must be a whole number ≥ 1, not {longest!r}")
    if message.text is not None and not message.text.strip():
        raise TemplateError(
            "The message is blank (only spaces or line breaks): write the text to send, or "
            "leave the text out to send only media or a WhatsApp template."
        )
    out = recipients.drop(columns=[c for c in RENDERED_COLUMNS if c in recipients.columns])
    columns = [c for c in out.columns if c not in _NOT_FOR_TEMPLATES]
    env = _environment(seconds)
    pieces = _pieces(env, message)
    lookup = _match_columns(pieces, columns)
    for piece in pieces:
        _check_unmatched(piece, lookup, columns)
    found: dict[int, list[Problem]] = {}

    inputs = _Inputs(out, lookup)
    for piece in pieces:
        mapped = all(lookup.get(n) is not None for n in piece.names)
        if engine == "auto" and piece.parts is not None and mapped and inputs.all_text(piece):
            failures = _render_piece(piece, inputs, longest, plain=True)
        else:
            failures = _render_piece(piece, inputs, longest, plain=False)
        failures.sort(key=lambda failure: failure[0])
        _raise_template_errors(piece, failures, lookup, columns)
        for position, failure in failures:
            label = out.index[position]
            problem = _problem(piece, failure, label, inputs, position)
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
    # The ledger refuses the same campaign with another message (CampaignChanged).
    out.attrs["message"] = message
    out.attrs["template_warnings"] = template_warnings(message)
    return out


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


# --- environment and filters ------------------------------------------------------------


def _environment(seconds: float = _ROW_SECONDS) -> BoundedEnvironment:
    env = BoundedEnvironment(seconds)
    env.add_filter("date", _cached(_date))
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


def _pieces(env: BoundedEnvironment, message: Message) -> list[_Piece]:
    return [
        _compile(env, where, source, is_text=where == "the message")
        for where, source in _sources(message)
    ]


def _sources(message: Message) -> list[tuple[str, str]]:
    """Each templated string of ``message`` and what to call it: the text first."""
    sources: list[tuple[str, str]] = []
    if message.text is not None:
        sources.append(("the message", message.text))
    for number, media in enumerate(message.media, start=1):
        where = "the media URL" if len(message.media) == 1 else f"media {number} URL"
        sources.append((where, media.url))
    if message.template is not None:
        for path, source in _leaves(message.template.variables):
            sources.append((f'template variable "{".".join(path)}"', source))
    return sources


def _leaves(
    variables: dict[str, Any], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], str]]:
    for key, value in variables.items():
        if isinstance(value, dict):
            yield from _leaves(value, (*prefix, key))
        else:
            yield (*prefix, key), value


def _compile(env: BoundedEnvironment, where: str, source: str, *, is_text: bool) -> _Piece:
    """Parse, check and compile one templated string (compiling is bounded by its length)."""
    if len(source) > _MAX_SOURCE:
        raise TemplateError(
            f"{_capital(where)} is {len(source):,} characters long as a template, more than "
            f"the {_MAX_SOURCE:,} campaignkit reads: shorten it."
        )
    try:
        ast = env.parse(source)
        _check_tree(env, where, source, ast)
        undeclared = meta.find_undeclared_variables(ast)
    except jinja2.TemplateSyntaxError as error:
        raise _syntax_error(where, error) from None
    except RecursionError:
        raise _too_deep(where) from None
    order = [n.name for n in ast.find_all(nodes.Name) if n.name in undeclared]
    names = tuple(dict.fromkeys(order))
    lines, guarded = _uses(ast, undeclared)
    parts = _plain_parts(ast, undeclared)
    env.start_row()  # constant folding runs filters at compile time: give it the bounds too
    try:
        template = env.from_string(_jinja.bound(ast, env))
    except jinja2.TemplateSyntaxError as error:
        raise _syntax_error(where, error) from None
    except (RecursionError, SyntaxError, MemoryError):
        # Python's compiler refuses too many nested blocks or brackets.
        raise _too_deep(where) from None
    return _Piece(where, source, template, names, parts, is_text, lines, guarded)


def _syntax_error(where: str, error: jinja2.TemplateSyntaxError) -> TemplateError:
    return TemplateError(
        f"{_capital(where)} has a template error on line {error.lineno}: "
        f"{(error.message or '').rstrip('.')}. Check that every {{{{ is closed by }}}} "
        "and every {% if %} or {% for %} by {% endif %} or {% endfor %}."
    )


def _too_deep(where: str) -> TemplateError:
    return TemplateError(
        f"{_capital(where)} nests too deeply (brackets or blocks inside one another) for "
        "campaignkit to read: simplify it."
    )


def _check_tree(env: BoundedEnvironment, where: str, source: str, ast: nodes.Template) -> None:
    """What is wrong with a template whatever the rows: a tag campaignkit does not support, an
    unknown filter or test, a name of the template language printed as if a column."""
    for tag in ast.find_all(tuple(_UNSUPPORTED)):
        raise TemplateError(
            f"{_capital(where)} uses {{% {_UNSUPPORTED[type(tag)]} %}} (line {tag.lineno}), "
            "which campaignkit does not support: a message is one template, so write all "
            "of it here."
        )
    known: Mapping[str, Any]
    for kind, known, found, link in (
        ("filter", env.filters, nodes.Filter, _BUILTIN_FILTERS),
        ("test", env.tests, nodes.Test, _BUILTIN_TESTS),
    ):
        for used in ast.find_all(found):
            assert isinstance(used, nodes.Filter | nodes.Test)
            if used.name in known:
                continue
            name = re.escape(used.name)
            patterns = (rf"\|\s*({name})\b", rf"\bis\s+(?:not\s+)?({name})\b", rf"\b({name})\b")
            ours = [n for n in known if " " not in n]
            close = difflib.get_close_matches(used.name, ours, n=1, cutoff=0.75)
            guess = f': did you mean "{close[0]}"?' if close else "."
            also = ', with campaignkit\'s "date"' if kind == "filter" else ""
            raise TemplateError(
                f'{_capital(where)} uses the {kind} "{used.name}" '
                f"({_position(source, used.lineno, patterns)}), which does not exist{guess} "
                f"The {kind}s are listed at {link}{also}."
            )
    language = {"self", *env.globals}
    assigned = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for output in ast.find_all(nodes.Output):
        for printed in output.nodes:
            if isinstance(printed, nodes.Name) and printed.name in language - assigned:
                name = printed.name
                position = _position(source, printed.lineno, (rf"\b({re.escape(name)})\b",))
                raise TemplateError(
                    f"{_capital(where)} prints {{{{ {name} }}}} ({position}), but {name} is "
                    f"part of the template language, not a column; if the sheet has a column "
                    f'called "{name}", rename it (for example to "{name}_1") and use that name.'
                )


def _position(source: str, lineno: int, patterns: tuple[str, ...]) -> str:
    """"line L, column C" of the first match of a pattern inside a tag on line ``lineno``
    (Jinja gives only lines); "line L" when none matches."""
    lines = source.split("\n")
    if not 1 <= lineno <= len(lines):
        return f"line {lineno}"
    start = sum(len(line) + 1 for line in lines[: lineno - 1])
    end = start + len(lines[lineno - 1])
    tags = [t for t in _TAGS.finditer(source) if t.start() < end and t.end() > start]
    for pattern in patterns:
        regex = re.compile(pattern)
        for tag in tags:
            match = regex.search(source, max(tag.start(), start), min(tag.end(), end))
            if match:
                return f"line {lineno}, column {match.start(1) - start + 1}"
    return f"line {lineno}"


_GUARDS = {
    (nodes.Filter, "default"),
    (nodes.Filter, "d"),
    (nodes.Test, "defined"),
    (nodes.Test, "undefined"),
}


def _uses(ast: nodes.Template, names: set[str]) -> tuple[dict[str, int], frozenset[str]]:
    """(the line of each name's first unguarded use, or first use if all are guarded; the
    names used under a guard: ``x | default(...)``, ``x is defined``)."""
    safe = {
        id(node.node)
        for node in ast.find_all((nodes.Filter, nodes.Test))
        if (type(node), node.name) in _GUARDS and isinstance(node.node, nodes.Name)
    }
    lines: dict[str, int] = {}
    first: dict[str, int] = {}
    guarded: set[str] = set()
    for node in ast.find_all(nodes.Name):
        if node.name not in names:
            continue
        first.setdefault(node.name, node.lineno)
        if id(node) in safe:
            guarded.add(node.name)
        else:
            lines.setdefault(node.name, node.lineno)
    return {**first, **lines}, frozenset(guarded)


def _plain_parts(
    ast: nodes.Template, names: set[str] | None = None
) -> tuple[_Part, ...] | None:
    """The literal text, names and fallbacks of a template that only substitutes
    ``{{ name }}``, ``{{ name or "text" }}`` and ``{{ name | default("text") }}``.

    ``names`` are the template's undeclared names (the columns it uses); the template
    language's own (``range``, ``self``) are never plain.
    """
    if names is None:
        names = meta.find_undeclared_variables(ast)
    parts: list[_Part] = []
    for statement in ast.body:
        if not isinstance(statement, nodes.Output):
            return None
        for node in statement.nodes:
            if isinstance(node, nodes.TemplateData):
                parts.append(node.data)
            elif isinstance(node, nodes.Name) and _is_column(node, names):
                parts.append(node)
            elif (fallback := _fallback(node, names)) is not None:
                parts.append(fallback)
            else:
                return None
    return tuple(parts)


def _is_column(node: nodes.Node | None, names: set[str]) -> bool:
    return isinstance(node, nodes.Name) and node.ctx == "load" and node.name in names


def _fallback(node: nodes.Node, names: set[str]) -> _Fallback | None:
    """``name or "text"``, ``name | default("text")`` (or ``d``, or no argument: "")."""
    if (
        isinstance(node, nodes.Or)
        and _is_column(node.left, names)
        and isinstance(node.right, nodes.Const)
        and isinstance(node.right.value, str)
    ):
        return _Fallback(node.left.name, node.right.value)  # type: ignore[attr-defined]
    if (
        isinstance(node, nodes.Filter)
        and node.name in ("default", "d")
        and _is_column(node.node, names)
        and not (node.kwargs or node.dyn_args or node.dyn_kwargs)
        and len(node.args) <= 1
    ):
        column: str = node.node.name  # type: ignore[union-attr]
        if not node.args:
            return _Fallback(column, "")
        (value,) = node.args
        if isinstance(value, nodes.Const) and isinstance(value.value, str):
            return _Fallback(column, value.value)
    return None


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


def _check_unmatched(piece: _Piece, lookup: dict[str, str | None], columns: list[str]) -> None:
    """A name no column matches is a TemplateError where it is used without a guard; with a
    guarded use (``| default``, ``is defined``) it may be optional, so only a row that
    prints it regardless fails (`_raise_template_errors`)."""
    for name in piece.names:
        if lookup.get(name) is None and name not in piece.guarded:
            raise _unmatched(piece, name, columns)


def _unmatched(piece: _Piece, name: str, columns: list[str]) -> TemplateError:
    used = rf"(?<![\w.])({re.escape(name)})(?!\w)"
    position = _position(piece.source, piece.lines[name], (used,))
    keys = {_key(str(c)): str(c) for c in columns}
    close = difflib.get_close_matches(_key(name), list(keys), n=1, cutoff=0.75)
    guess = f": did you mean {{{{ {_as_name(keys[close[0]])} }}}}?" if close else "."
    quoted = [f'"{c}"' for c in columns]
    if len(quoted) > 1:
        listed = f"The columns are {', '.join(quoted[:-1])} and {quoted[-1]}."
    else:
        listed = f"The only column is {quoted[0]}." if quoted else "The sheet has no columns."
    return TemplateError(
        f"{_capital(piece.where)} uses {{{{ {name} }}}} ({position}), but no column matches "
        f"it{guess} {listed}"
    )


_UNSAFE = re.compile(r"access to attribute '([^']*)'")


def _raise_template_errors(
    piece: _Piece,
    failures: list[tuple[int, _Failure]],
    lookup: dict[str, str | None],
    columns: list[str],
) -> None:
    """Raise what failed a row because of the template, not the row's values: printing a
    function or a template object, a name no column matches, what the sandbox forbids."""
    for _, failure in failures:
        error = failure.error
        if isinstance(error, NotAValue):
            what, fix = _jinja.describe(error.value)
            raise TemplateError(f"{_capital(piece.where)} prints {what}: {fix}.")
        if isinstance(error, SecurityError):
            match = _UNSAFE.search(str(error))
            if match is None:
                raise TemplateError(
                    f"{_capital(piece.where)} does something a message may not do: {error}"
                )
            name = match.group(1)
            why = (
                "names that start with an underscore are private"
                if name.startswith("_")
                else "a message cannot change a list or a mapping, nor reach Python's insides"
            )
            raise TemplateError(
                f'{_capital(piece.where)} uses "{name}", which a message may not use: {why}.'
            )
        if isinstance(error, jinja2.UndefinedError):
            name = _undefined_name(error)
            if name is not None and name in piece.names and lookup.get(name) is None:
                raise _unmatched(piece, name, columns)


class _Inputs:
    """The used columns, each factorised once per render: digits, empty cells, lists."""

    def __init__(self, frame: pd.DataFrame, lookup: dict[str, str | None]) -> None:
        self.frame = frame
        self.lookup = lookup
        self._digits: dict[str, tuple[np.ndarray, int]] = {}
        self._empty: dict[str, np.ndarray] = {}
        self._factorized: dict[str, tuple[np.ndarray, pd.Index | np.ndarray]] = {}
        self._texts: dict[str, pa.Array] = {}
        self._fallbacks: dict[tuple[str, str], pa.Array] = {}

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

    def part_texts(self, part: nodes.Name | _Fallback) -> pa.Array:
        """The text of each digit of the name ``part`` prints: `texts`, with a fallback's
        text for the empty cell."""
        if isinstance(part, nodes.Name):
            return self.texts(part.name)
        key = (part.name, part.text)
        if key not in self._fallbacks:
            values = self.texts(part.name)[1:]
            empty = pa.array([part.text], pa.large_string())
            self._fallbacks[key] = pa.concat_arrays([empty, values])
        return self._fallbacks[key]

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


def _render_piece(
    piece: _Piece, inputs: _Inputs, longest: int, *, plain: bool
) -> list[tuple[int, _Failure]]:
    """Render ``piece`` and set its ``unique`` and ``codes``: returns the failed rows (by
    position) with their failure.

    Jinja2 renders once per distinct combination of the piece's values; concatenation
    renders every row (see `_render_plain`).
    """
    if plain:
        piece.unique, piece.groups, failures = _render_plain(piece, inputs, longest)
        piece.codes = None
        piece.plain = True
        return failures
    codes, first = inputs.combinations(piece.names)
    piece.unique, failed = _render_jinja(piece, inputs, first, longest)
    piece.codes = codes
    piece.plain = False
    return [
        (int(position), failed[int(codes[position])])
        for position in (np.flatnonzero(np.isin(codes, list(failed))) if failed else ())
    ]


def _render_jinja(
    piece: _Piece, inputs: _Inputs, positions: np.ndarray, longest: int
) -> tuple[np.ndarray, dict[int, _Failure]]:
    """The compiled template over column lists (never row Series or per-row dicts of the frame)."""
    template = piece.template
    environment: BoundedEnvironment = template.environment  # type: ignore[assignment]
    names = piece.names
    columns = [inputs.values(n, positions) for n in names]
    rows = zip(*columns, strict=True) if columns else itertools.repeat((), len(positions))
    rendered = np.empty(len(positions), dtype=object)
    failed: dict[int, _Failure] = {}
    concat = environment.concat
    # An empty cell of a column is falsy (guards pass it) and fails when printed; a name no
    # column matches is left out, so StrictUndefined reports it.
    empty = {n: Empty(name=n) for n in names if inputs.lookup.get(n) is not None}
    # The globals flattened once: Template.new_context() would copy their ChainMap for every
    # row, and the Context would iterate it again for its keys.
    base = dict(template.globals)
    make_context, render_func = environment.context_class, template.root_render_func
    start_row = environment.start_row
    for i, values in enumerate(rows):
        context = dict(base)
        for name, value in zip(names, values, strict=True):
            if value is not None:
                context[name] = value
            elif name in empty:
                context[name] = empty[name]
        start_row()
        try:
            # root_render_func, not render(): render() rewrites the traceback of every
            # failure, which costs milliseconds a row when a whole column is empty.
            text = concat(
                render_func(
                    make_context(environment, context, template.name, template.blocks, base)
                )
            )
        except Exception as error:  # any failure is this row's problem, not the campaign's
            failed[i] = _Failure(error)
            continue
        if piece.is_text and (not text or text.isspace()):
            failed[i] = _Failure(_Content(_blank(piece)))
        elif piece.is_text and len(text) > longest:
            failed[i] = _Failure(_Content(_too_long(piece, len(text), longest)))
        else:
            rendered[i] = text
    return rendered, failed


def _blank(piece: _Piece) -> str:
    return (
        f"{piece.where} comes out blank for this row (only spaces or line breaks), so there "
        "is nothing to send"
    )


def _too_long(piece: _Piece, length: int, longest: int) -> str:
    return (
        f"{piece.where} is {length:,} characters long, more than the {longest:,} a message "
        f"may have: shorten it by {length - longest:,}"
    )


def _render_plain(
    piece: _Piece, inputs: _Inputs, longest: int
) -> tuple[np.ndarray, list[_Group] | None, list[tuple[int, _Failure]]]:
    """Vectorised ``{{ name }}`` substitution, one string per row; the first empty name
    printed bare fails a row, as in Jinja, and a fallback prints its text instead.

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
    # In order of first bare appearance: the one Jinja meets first.
    bare = dict.fromkeys(part.name for part in piece.parts if isinstance(part, nodes.Name))
    for name in bare:
        first = inputs.empty(name) & ~done
        rows = np.flatnonzero(first)
        if len(rows):
            done |= first
            failure = _Failure(jinja2.UndefinedError(f"'{name}' is undefined"))
            failures.extend((row, failure) for row in rows.tolist())
    if piece.is_text:
        for row, failure in _plain_content(piece, texts, done, inputs, longest):
            done[row] = True
            failures.append((row, failure))
    if failures:
        texts[done] = None
    return texts, groups, failures


def _plain_content(
    piece: _Piece, texts: np.ndarray, done: np.ndarray, inputs: _Inputs, longest: int
) -> list[tuple[int, _Failure]]:
    """The rows whose concatenated text is blank or longer than ``longest``, looked at only
    when the parts allow it (a bare name always prints a non-space; a bound on the lengths)."""
    assert piece.parts is not None
    failures: list[tuple[int, _Failure]] = []
    blank = np.zeros(len(texts), dtype=bool)
    parts = piece.parts
    if not any(isinstance(p, nodes.Name) or (isinstance(p, str) and p.strip()) for p in parts):
        for row in np.flatnonzero(~done).tolist():
            text = texts[row]
            if not text or text.isspace():
                blank[row] = True
                failures.append((row, _Failure(_Content(_blank(piece)))))
    bound = sum(
        len(p) if isinstance(p, str) else pc.max(pc.utf8_length(inputs.part_texts(p))).as_py() or 0
        for p in piece.parts
    )
    if bound > longest:
        lengths = pc.utf8_length(pa.array(texts, type=pa.large_string(), from_pandas=True))
        length = lengths.fill_null(0).to_numpy(zero_copy_only=False)
        for row in np.flatnonzero((length > longest) & ~done & ~blank).tolist():
            failures.append((row, _Failure(_Content(_too_long(piece, int(length[row]), longest)))))
    return failures


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
    """The column name of each part that prints one (bare or with a fallback)."""
    return (part.name for part in parts if not isinstance(part, str))


def _join_rows(parts: tuple[_Part, ...], inputs: _Inputs) -> np.ndarray:
    """Every row's concatenation of ``parts`` (None where a bare name's cell is missing)."""

    def values(part: nodes.Name | _Fallback) -> pa.Array:
        if isinstance(part, nodes.Name):
            return pa.array(inputs.column(part.name), type=pa.large_string(), from_pandas=True)
        return inputs.part_texts(part).take(inputs.digits(part.name)[0])

    return _joined(parts, values, len(inputs.frame))


def _joined(
    parts: tuple[_Part, ...], values: Callable[[nodes.Name | _Fallback], pa.Array], length: int
) -> np.ndarray:
    """The ``length`` concatenations of ``parts``, each name's strings from ``values``."""
    arrays: list[pa.Array | pa.Scalar] = []
    if all(isinstance(part, str) for part in parts):
        arrays.append(pa.array([""] * length, pa.large_string()))  # the join needs an array
    for part in parts:
        if isinstance(part, str):
            arrays.append(pa.scalar(part, pa.large_string()))
        else:
            arrays.append(values(part))
    joined = pc.binary_join_element_wise(*arrays, pa.scalar("", pa.large_string()))
    texts: np.ndarray = joined.to_numpy(zero_copy_only=False).astype(object, copy=False)
    return texts


def _join_group(parts: tuple[_Part, ...], inputs: _Inputs) -> tuple[_Group, np.ndarray]:
    """The group of ``parts`` and every row's concatenation of them, made once per
    combination that occurs ("" for an empty cell printed bare: a row with one fails
    whatever its text).
    """
    names = tuple(dict.fromkeys(_names(parts)))
    key, size = inputs.key(names)
    used = np.flatnonzero(np.bincount(key, minlength=size))
    digits: dict[str, np.ndarray] = {}
    rest = used
    for name in reversed(names):  # the key's digits, last name first
        radix = inputs.digits(name)[1]
        digits[name], rest = rest % radix, rest // radix
    strings = _joined(
        parts, lambda part: inputs.part_texts(part).take(digits[part.name]), len(used)
    )
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
    # Every literal and every distinct value (a fallback's text in place of the empty cell)
    # in one `part_sizes` call (the regular expressions are compiled once a call); `sized`
    # then picks each part's sizes.
    literals = {part: i for i, part in enumerate(dict.fromkeys(_literals(piece.parts)))}
    texts = [pa.array(list(literals), pa.large_string())]
    offset: dict[object, int] = {}
    start = len(literals)
    for part in piece.parts:
        if isinstance(part, str) or _part_key(part) in offset:
            continue
        offset[_part_key(part)] = start
        texts.append(inputs.part_texts(part))
        start += len(texts[-1])
    sizes = part_sizes(pa.concat_arrays(texts))

    def sized(
        parts: tuple[_Part, ...], digits: dict[str, np.ndarray]
    ) -> tuple[list[PartSizes], list[np.ndarray | None]]:
        """The sizes of ``parts`` and where each combination (or row) finds its own."""
        literal = [sizes.take(np.array([literals[p]])) for p in _literals(parts)]
        at: list[np.ndarray | None] = [
            offset[_part_key(p)] + digits[p.name] for p in parts if not isinstance(p, str)
        ]
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


def _part_key(part: nodes.Name | _Fallback) -> object:
    return part.name if isinstance(part, nodes.Name) else (part.name, part.text)


def _literals(parts: tuple[_Part, ...]) -> Iterator[str]:
    return (part for part in parts if isinstance(part, str))


# --- problems -----------------------------------------------------------------------------

_UNDEFINED = re.compile(r"'(\w+)' is undefined")


def _undefined_name(error: jinja2.UndefinedError) -> str | None:
    match = _UNDEFINED.fullmatch(str(error))
    return match.group(1) if match else None


def _problem(
    piece: _Piece, failure: _Failure, label: Any, inputs: _Inputs, position: int
) -> Problem:
    error = failure.error
    row = int(label) if isinstance(label, numbers.Integral) else None
    if isinstance(error, _Content):
        return Problem(row, None, str(error), "content")
    if isinstance(error, jinja2.UndefinedError):
        name = _undefined_name(error)
        column = inputs.lookup.get(name) if name in piece.names else None
        if column is not None:
            return Problem(
                row,
                str(column),
                f"is empty, and {piece.where} uses it as {{{{ {name} }}}}",
                "missing-value",
            )
    column = None
    if isinstance(error, _FilterFailed):
        holders = [
            inputs.lookup[n]
            for n in piece.names
            if inputs.lookup.get(n) is not None
            and inputs.values(n, np.array([position]))[0] == error.value
        ]
        column = str(holders[0]) if len(set(holders)) == 1 else None
    reason = _reason(error)
    return Problem(row, column, f"{piece.where} could not be rendered: {reason}", "template")


def _reason(error: BaseException) -> str:
    """Why a row failed, in words: never empty, never only an exception's name."""
    if isinstance(error, MemoryError):
        return "it needs more memory than there is"
    if isinstance(error, RecursionError):
        return "a macro or a loop calls itself too deeply"
    if isinstance(error, OverflowError):
        return "a number is too large to compute"
    reason = str(error).strip()
    return reason or f"an error without a description ({type(error).__name__})"


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
