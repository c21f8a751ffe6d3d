"""The bounded Jinja2 sandbox that renders messages: every way to make something big is capped.

Jinja's `SandboxedEnvironment` stops a template from reaching Python's internals, but not
from asking for ``7 ** 1000000000`` or ``'x' * 10**9``: memory and time are the caller's
to bound (https://jinja.palletsprojects.com/en/stable/sandbox/). A message may come from
anyone who can type into the Composer, so this environment bounds each row's rendering:

* **Operators** (the sandbox's documented hook, ``intercepted_binops`` and ``call_binop``):
  ``**`` and ``*`` refuse numbers of more than `MAX_DIGITS` digits; ``*`` and ``+`` refuse
  texts and lists of more than `MAX_TEXT` characters; ``%`` refuses printf widths beyond it.
  An intercepted operator is never constant-folded at compile time, so compiling
  ``{{ 7 ** 1000000000 }}`` costs nothing.
* **Calls and filters**: widths and counts (``center``, ``ljust``, ``zfill``, ``indent``,
  ``wordwrap``, ``batch``, ``slice``, ``to_bytes``…), joins, replacements and ``format``
  specifications are checked before they run; every argument and result is at most
  `MAX_TEXT` characters as printed; ``range`` counts at most `MAX_COUNT` numbers.
* **Steps**: each row may spend `MAX_STEPS` (a loop turn or a call costs its body's size,
  an operator or a filter the characters it makes, a printed value its length) and, as a last
  resort, a time box.
* **Mutation**: lists and mappings cannot be changed (`ImmutableSandboxedEnvironment`).
* **Printing**: only values print (text, numbers, dates, lists of them): a function, a macro or
  another object of the template language is `NotAValue`, never its Python repr.

A bound raises `Refused`, whose message says what was too big and the bound; the caller
makes it that row's problem.
"""

from __future__ import annotations

import codecs
import datetime as dt
import functools
import inspect
import itertools
import math
import numbers
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.runtime import LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace
from jinja2.visitor import NodeTransformer

__all__ = [
    "MAX_COUNT",
    "MAX_DIGITS",
    "MAX_STEPS",
    "MAX_TEXT",
    "BoundedEnvironment",
    "Empty",
    "NotAValue",
    "Refused",
    "bound",
    "describe",
]

#: Characters in any one value a template makes or uses (as printed), far above a message's
#: 1,600 (SMS) or 4,096 (WhatsApp) characters.
MAX_TEXT = 100_000
#: Numbers a ``range`` counts, and items asked of ``batch`` or ``slice``.
MAX_COUNT = 10_000
#: Digits of a number a template computes.
MAX_DIGITS = 1_000
#: Work one row may take: loop turns and calls (by the size of what they run) and the
#: characters operators, filters and output make.
MAX_STEPS = 200_000

# Filters campaignkit adds to the tree (`bound`); a space keeps them out of a template's reach.
_SPEND = "campaignkit spend"
_STEPS = "campaignkit steps"
_JOIN = "campaignkit join"
_CHARGED = "campaignkit charged"


class Refused(Exception):
    """A bound of the sandbox refused an operation; the message says what and the bound."""


class NotAValue(Exception):
    """The template printed a function or an object of the template language."""

    def __init__(self, value: object) -> None:
        super().__init__(type(value).__name__)
        self.value = value


class Empty(jinja2.StrictUndefined):
    """An empty cell: falsy, so ``{% if x %}`` and ``x or "..."`` pass it, and an error
    (StrictUndefined's) when printed or used as text."""

    __slots__ = ()

    def __bool__(self) -> bool:  # type: ignore[override]
        return False


# --- sizes ---------------------------------------------------------------------------------


def size(value: Any, limit: int = MAX_TEXT) -> int:
    """About how many characters ``value`` prints as; past ``limit`` the count stops there
    (a lower bound), so a huge nested list costs at most ``limit`` steps to measure."""
    if isinstance(value, str | bytes | bytearray):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return digits(value)
    if isinstance(value, numbers.Number | dt.date | dt.time | dt.timedelta):
        return 32
    if isinstance(value, jinja2.Undefined):
        return 0
    if isinstance(value, range):  # at most MAX_COUNT numbers (`bounded_range`)
        return len(value) * (2 + max(digits(value.start), digits(value.stop)))
    if not isinstance(value, list | tuple | set | frozenset | dict | Namespace):
        return 1
    total = 0
    pending: list[Iterator[Any]] = [iter(_items(value))]
    while pending:
        item = next(pending[-1], _END)
        if item is _END:
            pending.pop()
            total += 2  # brackets
        elif isinstance(item, list | tuple | set | frozenset | dict | Namespace):
            pending.append(iter(_items(item)))
            total += 2  # the separator
        else:
            total += size(item, limit) + 2 + 2 * isinstance(item, str)  # quotes, separator
        if total > limit:
            return total
    return total


_END = object()
_MEASURED = (list, tuple, set, frozenset, dict, Namespace)


def _items(value: Any) -> Iterable[Any]:
    if isinstance(value, Namespace):
        value = value._Namespace__attrs
    if isinstance(value, dict):
        return itertools.chain.from_iterable(value.items())
    return value  # type: ignore[no-any-return]


def digits(number: int) -> int:
    """The decimal digits of ``number`` (exact up to the ones str() can print)."""
    if number.bit_length() < 13_000:
        return len(str(abs(number)))
    return int(number.bit_length() * math.log10(2)) + 1


def _about(value: Any) -> str:
    """"about " where a size is an estimate (a list as printed), "" where it is exact."""
    return "" if isinstance(value, str | bytes | bytearray) else "about "


def _show(value: Any) -> str:
    """An operand as a message can show it: short ones as written, long ones described."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        count = digits(value)
        return repr(value) if count <= 20 else f"a number of {count:,} digits"
    if isinstance(value, str):
        return repr(value) if len(value) <= 20 else f"a text of {len(value):,} characters"
    if isinstance(value, list | tuple) and size(value, 40) <= 40:
        return repr(value)
    if isinstance(value, list | tuple):
        return f"a list of {len(value):,} items"
    return "a value"


def _too_big(what: str, made: int, about: str = "") -> Refused:
    return Refused(
        f"{what} would make {about}{made:,} characters, more than the {MAX_TEXT:,} a template "
        "may make"
    )


def _check_value(value: Any) -> int:
    """Refuse an input (an argument, a printed value) of more than MAX_TEXT characters;
    return what measuring it cost (a list is walked, a text's length is known)."""
    if isinstance(value, str):
        if len(value) <= MAX_TEXT:
            return 0
        measured = len(value)
    else:
        measured = size(value)
        if measured <= MAX_TEXT:
            return measured if isinstance(value, _MEASURED) else 0
    raise Refused(
        f"a value of {_about(value)}{measured:,} characters is more than the {MAX_TEXT:,} a "
        "template may work with"
    )


# --- operators -----------------------------------------------------------------------------


def _check_power(base: Any, exponent: Any) -> None:
    if not (_is_int(base) and _is_int(exponent)) or exponent <= 1 or abs(base) <= 1:
        return
    count: float
    try:
        count = math.floor(exponent * math.log10(abs(base))) + 1
    except OverflowError:
        count = math.inf
    if count > MAX_DIGITS:
        shown = f"about {count:,}" if count != math.inf else "uncountably many"
        raise Refused(
            f"{_show(base)} ** {_show(exponent)} would be a number of {shown} digits, more "
            f"than the {MAX_DIGITS:,} a template may compute"
        )


def _check_product(left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right):
        if left and right:
            count = math.floor(math.log10(abs(left)) + math.log10(abs(right))) + 1
            if count > MAX_DIGITS:
                raise Refused(
                    f"{_show(left)} * {_show(right)} would be a number of about {count:,} "
                    f"digits, more than the {MAX_DIGITS:,} a template may compute"
                )
        return
    sequence, times = (left, right) if _is_int(right) else (right, left)
    if not (_is_int(times) and isinstance(sequence, str | bytes | list | tuple)) or times <= 1:
        return
    made = size(sequence) * times
    if made > MAX_TEXT:
        raise Refused(
            f"{_show(left)} * {_show(right)} would be {_about(sequence)}{made:,} characters "
            f"long, more than the {MAX_TEXT:,} a template may make"
        )


def _check_sum(left: Any, right: Any) -> None:
    if not (isinstance(left, str | bytes | list | tuple) and isinstance(right, type(left))):
        return
    made = size(left) + size(right)
    if made > MAX_TEXT:
        raise Refused(
            f"{_show(left)} + {_show(right)} would be {_about(left)}{made:,} characters long, "
            f"more than the {MAX_TEXT:,} a template may make"
        )


# printf-style conversions: %[(name)][flags][width][.precision][length]type
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?[a-zA-Z%]")
# a str.format specification: [[fill]align][sign][z][#][0][width][grouping][.precision][type]
_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?(\d*)[,_]?(?:\.(\d+))?[a-zA-Z%]?", re.S)


def _shown_format(fmt: str) -> str:
    return fmt if len(fmt) <= 40 else f"{fmt[:37]}…"


def _check_printf(fmt: Any, values: Any) -> None:
    if not isinstance(fmt, str):
        return
    _check_value(values)
    for match in _PRINTF.finditer(fmt):
        _check_widths(fmt, match.group(1), match.group(2))


def _check_widths(fmt: str, width: str | None, precision: str | None) -> None:
    if "*" in (width, precision):
        raise Refused(
            f'the format "{_shown_format(fmt)}" takes a width from a value, which a template '
            "may not do: write the width in the format"
        )
    asked = max(int(width or 0), int(precision or 0))
    if asked > MAX_TEXT:
        raise Refused(
            f'the format "{_shown_format(fmt)}" asks for {asked:,} characters, more than the '
            f"{MAX_TEXT:,} a template may make"
        )


def _check_format_method(fmt: str) -> None:
    """Widths and precisions of a ``str.format`` template; a width taken from an argument
    (``{:{}}``) is refused, since it is not known until the call."""
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format raises the same error with its own message
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec:
            _check_widths(fmt, "*", None)
        match = _SPEC.fullmatch(spec)
        if match:
            _check_widths(fmt, match.group(1), match.group(2))


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


# --- calls and filters ---------------------------------------------------------------------


def _check_method(function: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Methods of str, bytes and int whose result grows with an argument."""
    owner = getattr(function, "__self__", None)
    name = getattr(function, "__name__", "")
    wrapped = getattr(function, "__wrapped__", None)  # the sandbox's str.format wrapper
    if isinstance(getattr(wrapped, "__self__", None), str) and name in ("format", "format_map"):
        _check_format_method(wrapped.__self__)  # type: ignore[union-attr]
        return
    if isinstance(owner, str | bytes):
        if name in ("center", "ljust", "rjust", "zfill"):
            width = _argument(args, kwargs, 0, "width", 0)
            if _is_int(width) and width > MAX_TEXT:
                raise _too_big(f"{name}({width})", width)
        elif name == "expandtabs":
            tabsize = _argument(args, kwargs, 0, "tabsize", 8)
            tab = "\t" if isinstance(owner, str) else b"\t"
            if _is_int(tabsize):
                _check_made(name, len(owner) + owner.count(tab) * tabsize)  # type: ignore[arg-type]
        elif name == "replace" and len(args) >= 2:
            _check_replace(owner, args[0], args[1], _argument(args, kwargs, 2, "count", -1))
        elif name == "translate" and args and isinstance(args[0], Mapping):
            longest = max((size(v) for v in args[0].values()), default=1)
            _check_made("translate", len(owner) * max(1, longest), about="about ")
        elif name in ("encode", "decode"):
            _check_codec(name, _argument(args, kwargs, 0, "encoding", "utf-8"))
    elif _is_int(owner) and name == "to_bytes":
        length = _argument(args, kwargs, 0, "length", 1)
        if _is_int(length) and length > MAX_TEXT:
            raise _too_big(f"to_bytes({length})", length)


# Codecs written in C, so linear and quick; some others (punycode) are slow Python loops
# that no step budget can interrupt.
_CODECS = frozenset({"utf-8", "utf-16", "utf-32", "ascii", "latin-1", "iso8859-1"})


def _check_codec(method: str, encoding: Any) -> None:
    try:
        known = codecs.lookup(encoding).name if isinstance(encoding, str) else None
    except LookupError:
        return  # str.encode raises the same error with its own message
    if known not in _CODECS:
        raise Refused(
            f'{method}("{encoding}") is not one a template may use: use "utf-8", "utf-16", '
            '"utf-32", "ascii" or "latin-1"'
        )


def _argument(
    args: tuple[Any, ...], kwargs: dict[str, Any], at: int, name: str, default: Any
) -> Any:
    if len(args) > at:
        return args[at]
    return kwargs.get(name, default)


def _check_made(what: str, made: int, *, about: str = "") -> None:
    if made > MAX_TEXT:
        raise _too_big(what, made, about)


def _check_replace(text: Any, old: Any, new: Any, count: Any) -> None:
    if not (isinstance(text, str | bytes) and isinstance(old, type(text))
            and isinstance(new, type(text))):
        return
    found = text.count(old) if old else len(text) + 1  # type: ignore[arg-type]
    if _is_int(count) and count >= 0:
        found = min(found, count)
    _check_made("replace", len(text) + found * (len(new) - len(old)))


def _join_items(items: Any, separator: Any) -> list[Any]:
    """``items`` as a list, refused when joining them with ``separator`` makes too much."""
    taken = list(itertools.islice(items, MAX_TEXT + 1)) if not isinstance(items, str) else items
    if len(taken) > MAX_TEXT:
        raise Refused(f"join would take more than {MAX_TEXT:,} items")
    gap = size(separator) if isinstance(separator, str) else 0
    made = 0
    estimate = ""
    for item in taken:
        made += size(item) + gap
        if not isinstance(item, str | int):
            estimate = "about "
        if made > MAX_TEXT + gap:
            break
    made = max(0, made - gap)
    _check_made("join", made, about=estimate)
    return list(taken)


class _FilterCheck:
    """What a filter's parameters may ask for, read by name from a call's arguments.

    A filter may get Jinja's context first (``jinja_pass_arg``), and Jinja's async-aware
    filters (``slice``, ``join``…) wrap a function that may not: both are left out of the
    parameters that are named.
    """

    def __init__(self, function: Callable[..., Any], check: Callable[..., Any]) -> None:
        inner = inspect.unwrap(function)
        signature = inspect.signature(inner)
        parameters = list(signature.parameters.values())
        if getattr(inner, "jinja_pass_arg", None) is not None:
            parameters = parameters[1:]
        self.signature = signature.replace(parameters=parameters)
        self.skip = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0
        self.check = check

    def __call__(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        bound = self.signature.bind(*args[self.skip :], **kwargs)
        replaced = self.check(bound.arguments)
        if replaced is None:
            return args, kwargs
        bound.arguments.update(replaced)
        return (*args[: self.skip], *bound.args), bound.kwargs


def _center(a: dict[str, Any]) -> None:
    width = a.get("width", 80)
    if _is_int(width) and width > MAX_TEXT:
        raise _too_big(f"center({width})", width)


def _indent(a: dict[str, Any]) -> None:
    text, width = a.get("s"), a.get("width", 4)
    step = width if _is_int(width) else size(width)
    if step > MAX_TEXT:  # the indentation is made before the text is read
        raise _too_big(f"indent({width})" if _is_int(width) else "indent", step)
    if isinstance(text, str):
        _check_made("indent", len(text) + (text.count("\n") + 1) * step, about="about ")


def _wordwrap(a: dict[str, Any]) -> None:
    text, wrap = a.get("s"), a.get("wrapstring")
    if isinstance(text, str):
        _check_made("wordwrap", len(text) * (1 + (size(wrap) if wrap else 1)), about="about ")


def _join(a: dict[str, Any]) -> dict[str, Any] | None:
    if a.get("attribute") is not None:
        return None
    return {"value": _join_items(a.get("value", ()), a.get("d", ""))}


def _replace(a: dict[str, Any]) -> None:
    text = a.get("s")
    if isinstance(text, str):
        _check_replace(text, a.get("old"), a.get("new"), a.get("count"))


def _format(a: dict[str, Any]) -> None:
    _check_printf(a.get("value"), ())


def _count(name: str, parameter: str) -> Callable[[dict[str, Any]], None]:
    def check(a: dict[str, Any]) -> None:
        count: Any = a.get(parameter)
        if _is_int(count) and count > MAX_COUNT:
            raise Refused(
                f"{name}({count}) would make {count:,} lists or items, more than the "
                f"{MAX_COUNT:,} a template may use"
            )

    return check


def _tojson(a: dict[str, Any]) -> None:
    indent = a.get("indent")
    step = indent if _is_int(indent) else size(indent) if indent else 0
    if step:
        _check_made("tojson", size(a.get("value")) * (1 + step), about="about ")


def _urlize(a: dict[str, Any]) -> None:
    text = a.get("value")
    if isinstance(text, str):
        extra = 60 + sum(size(a.get(k) or "") for k in ("target", "rel"))
        _check_made("urlize", 2 * len(text) + (len(text) // 4 + 1) * extra, about="about ")


_FILTER_CHECKS: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]] = {
    "center": _center,
    "indent": _indent,
    "wordwrap": _wordwrap,
    "join": _join,
    "replace": _replace,
    "format": _format,
    "batch": _count("batch", "linecount"),
    "slice": _count("slice", "slices"),
    "tojson": _tojson,
    "urlize": _urlize,
}


def _check_result(what: str, result: Any) -> int:
    """The printed size of ``result``, refused past MAX_TEXT."""
    measured = len(result) if isinstance(result, str) else size(result)
    if measured > MAX_TEXT:
        raise _too_big(what, measured, _about(result))
    return measured


def bounded_range(*args: int) -> range:
    """``range`` of at most MAX_COUNT numbers."""
    numbers_ = range(*args)
    try:
        count = len(numbers_)
    except OverflowError:
        count = abs(numbers_.stop - numbers_.start) // abs(numbers_.step)
    if count > MAX_COUNT:
        shown = ", ".join(str(a) for a in args)
        raise Refused(
            f"range({shown}) would count {count:,} numbers, more than the {MAX_COUNT:,} a "
            "template may use"
        )
    return numbers_


bounded_range.__name__ = "range"


# --- the environment -----------------------------------------------------------------------


class _Budget:
    """What one row may still spend: steps, and time until its deadline."""

    __slots__ = ("deadline", "left", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.left = MAX_STEPS
        self.deadline = math.inf  # compiling (constant folding) has no time box

    def start(self) -> None:
        self.left = MAX_STEPS
        self.deadline = time.monotonic() + self.seconds

    def spend(self, amount: int) -> None:
        self.left -= amount
        if self.left < 0:
            raise Refused(
                f"it takes more than the {MAX_STEPS:,} steps a template may take for one row "
                "(a loop, a macro or a repetition that runs too long)"
            )
        if time.monotonic() >= self.deadline:
            raise Refused(
                f"it took more than {self.seconds:g} seconds to render (a loop or a macro "
                "that runs too long)"
            )


_PRINTABLE = (
    jinja2.Undefined, str, bytes, numbers.Number, dt.date, dt.time, dt.timedelta, type(None)
)
_CONTAINERS = (list, tuple, set, frozenset, dict)


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, StrictUndefined, no autoescaping, and the bounds above.

    ``seconds`` is the time box of one row (`start_row` starts it).
    """

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, seconds: float) -> None:
        self.budget = budget = _Budget(seconds)

        def printed(value: Any) -> Any:
            """Every printed value (Jinja's ``finalize``): a value, charged to the row."""
            if type(value) is str:
                # Charged, not capped: a text a template made is within MAX_TEXT already, and
                # a long cell printed once is the row's length problem, as when concatenated.
                budget.left -= len(value)
                if budget.left < 0:
                    budget.spend(0)
                return value
            if isinstance(value, _PRINTABLE):
                return value
            if isinstance(value, _CONTAINERS):
                budget.spend(_check_value(value))
                return value
            raise NotAValue(value)

        # Constants are finalized at compile time too (Jinja does it for a finalize without
        # a context): bounded by the template's length, and the budget starts again per row.
        super().__init__(undefined=jinja2.StrictUndefined, autoescape=False, finalize=printed)
        # No randomness: a row's text depends on its values only (rendering is cached on them).
        self.globals.pop("lipsum", None)
        self.globals["range"] = bounded_range
        self.filters = {name: self._bounded(name, f) for name, f in self.filters.items()}

        @jinja2.pass_context
        def spend(context: Any, cost: int) -> str:
            budget.spend(cost)
            return ""

        @jinja2.pass_context
        def steps(context: Any, iterable: Any) -> Iterator[Any]:
            for item in iterable:
                budget.spend(1)
                yield item

        @jinja2.pass_context
        def join(context: Any, values: tuple[Any, ...]) -> str:
            made = sum(size(v) for v in values)
            if made > MAX_TEXT:
                about = "" if all(isinstance(v, str) for v in values) else "about "
                raise _too_big("~", made, about)
            text = "".join(map(str, values))
            budget.spend(len(text))
            return text

        @jinja2.pass_context
        def charged(context: Any, value: Any) -> Any:
            budget.spend(1 + size(value))
            return value

        self.filters.update({_SPEND: spend, _STEPS: steps, _JOIN: join, _CHARGED: charged})

    def add_filter(self, name: str, function: Callable[..., Any]) -> None:
        """Add a filter of campaignkit's own, bounded like Jinja's."""
        self.filters[name] = self._bounded(name, function)

    def start_row(self) -> None:
        """Give the next row its full budget and a fresh time box."""
        self.budget.start()

    def _bounded(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        skip = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0
        check = _FILTER_CHECKS.get(name)
        parameters = _FilterCheck(function, check) if check is not None else None
        budget = self.budget

        @functools.wraps(function)
        def bounded(*args: Any, **kwargs: Any) -> Any:
            if not kwargs and len(args) == skip + 1 and type(args[skip]) is str:
                cost = 1 + _check_value(args[skip])  # the usual call: one text, no options
            else:
                cost = 1 + sum(map(_check_value, itertools.chain(args[skip:], kwargs.values())))
            if parameters is not None:
                args, kwargs = parameters(args, kwargs)
            result = function(*args, **kwargs)
            budget.spend(cost + _check_result(name, result))
            return result

        return bounded

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """``*``, ``**``, ``+`` and ``%``, refused before they make too much."""
        if operator == "**":
            _check_power(left, right)
        elif operator == "*":
            _check_product(left, right)
        elif operator == "+":
            _check_sum(left, right)
        elif operator == "%":
            _check_printf(left, right)
        result = self.binop_table[operator](left, right)
        self.budget.spend(1 + (size(result) if not isinstance(result, int) else 0))
        return result

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """A call from the template: its arguments, size parameters and result are bounded."""
        __self.budget.spend(1 + sum(map(_check_value, itertools.chain(args, kwargs.values()))))
        _check_method(__obj, args, kwargs)
        if getattr(__obj, "__name__", "") == "join" and isinstance(
            getattr(__obj, "__self__", None), str
        ) and args:
            args = (_join_items(args[0], __obj.__self__), *args[1:])
        result = super().call(__context, __obj, *args, **kwargs)
        what = __obj.name if isinstance(__obj, Macro) else getattr(__obj, "__name__", None)
        __self.budget.spend(_check_result(str(what or "a call"), result))
        return result


# --- the tree ----------------------------------------------------------------------------


def bound(ast: nodes.Template, environment: BoundedEnvironment) -> nodes.Template:
    """``ast`` with its repeated work charged to the row's budget: each loop turn, macro and
    call block pays for its body, ``~`` joins are measured first, slices and the searched
    side of ``in`` are charged their size."""
    _Bounder().visit(ast)
    ast.set_environment(environment)
    return ast


class _Bounder(NodeTransformer):
    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _filter(node.iter, _STEPS, node.lineno)  # type: ignore[arg-type]
        node.body.insert(0, _spend(node.body, node.lineno))
        return node

    def visit_Macro(self, node: nodes.Macro) -> nodes.Node:
        self.generic_visit(node)
        node.body.insert(0, _spend(node.body, node.lineno))
        return node

    def visit_CallBlock(self, node: nodes.CallBlock) -> nodes.Node:
        self.generic_visit(node)
        node.body.insert(0, _spend(node.body, node.lineno))
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _filter(nodes.Tuple(node.nodes, "load", lineno=node.lineno), _JOIN, node.lineno)

    def visit_Compare(self, node: nodes.Compare) -> nodes.Node:
        # ``x in y`` searches y: charge its size, as a loop turn is charged its body's.
        self.generic_visit(node)
        for operand in node.ops:
            if operand.op in ("in", "notin"):
                operand.expr = _filter(operand.expr, _CHARGED, node.lineno)
        return node

    def visit_Getitem(self, node: nodes.Getitem) -> nodes.Node:
        self.generic_visit(node)
        if isinstance(node.arg, nodes.Slice):
            return _filter(node, _CHARGED, node.lineno)
        return node


def _filter(node: nodes.Expr, name: str, lineno: int, *args: nodes.Expr) -> nodes.Filter:
    return nodes.Filter(node, name, list(args), [], None, None, lineno=lineno)


def _spend(body: list[nodes.Node], lineno: int) -> nodes.ExprStmt:
    """A statement that charges what ``body`` costs each time it runs: its size as a tree
    and its literal text."""
    cost = 1
    for statement in body:
        for node in itertools.chain((statement,), statement.find_all(nodes.Node)):
            cost += 1 + (len(node.data) if isinstance(node, nodes.TemplateData) else 0)
    return nodes.ExprStmt(_filter(nodes.Const(cost, lineno=lineno), _SPEND, lineno), lineno=lineno)


def describe(value: Any) -> tuple[str, str]:
    """(what a printed non-value is, how to print a value instead), for `NotAValue`."""
    if isinstance(value, Macro):
        return (
            f'the macro "{value.name}" instead of its text',
            f"call it with brackets, as in {{{{ {value.name}() }}}}",
        )
    if isinstance(value, LoopContext):
        return (
            "the loop variable instead of a value",
            "print one of its attributes, such as loop.index",
        )
    if isinstance(value, range):
        return "a range instead of a value", 'list its numbers with | join(", ")'
    if isinstance(value, Iterator):
        return (
            "a sequence made by a filter (map, select…) instead of a value",
            'add | join(", ") or | first',
        )
    name = getattr(value, "__name__", None)
    if callable(value) and isinstance(name, str) and not isinstance(value, type):
        return (
            f'the function "{name}" instead of a value',
            f"call it with brackets, as in {name}()",
        )
    return "an object of the template language instead of a value", "print one of its values"
