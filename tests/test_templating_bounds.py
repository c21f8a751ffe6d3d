"""Bounded templates (issue 13): powers, repetitions, ranges, loops and output are capped.

Every bomb runs in a child process held to 1 GiB of new memory and 60 s of CPU
(``tests/_template_child.py``): a bound that failed would kill the child, not the test
run. What comes back must be a problem or a `TemplateError` with a reason, never a
"valid" huge row.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _template_child import Child, Outcome
from campaignkit._errors import TemplateError
from campaignkit.problems import Problem
from campaignkit.templating import (
    MAX_CHARACTERS,
    MAX_SMS_CHARACTERS,
    MAX_WHATSAPP_CHARACTERS,
    check_template,
    render,
)


@pytest.fixture(scope="module")
def child() -> Iterator[Child]:
    """One capped child for the module (started once: importing pandas takes a second)."""
    process = Child()
    yield process
    process.close()


def recipients(**columns: list[object]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    frame = pd.DataFrame(columns, index=pd.Index(range(2, 2 + n), name="row"))
    frame["to"] = "+447700900000"
    frame["problems"] = pd.Series([()] * n, index=frame.index, dtype=object)
    return frame


BOUND = "the message could not be rendered: "
TOO_MUCH_WORK = (
    "it takes more than the 200,000 steps a template may take for one row (a loop, a macro "
    "or a repetition that runs too long)"
)


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (
            "{{ 7 ** 1000000000 }}",
            "7 ** 1000000000 would be a number of about 845,098,041 digits, more than the "
            "1,000 a template may compute",
        ),
        (
            "{{ 10 ** 600 * 10 ** 600 }}",
            "a number of 601 digits * a number of 601 digits would be a number of about 1,201 "
            "digits, more than the 1,000 a template may compute",
        ),
        (
            "{{ 'x' * 10**9 }}",
            "'x' * 1000000000 would be 1,000,000,000 characters long, more than the 100,000 a "
            "template may make",
        ),
        (
            "{{ 10**9 * name }}",
            "1000000000 * 'Ann' would be 3,000,000,000 characters long, more than the 100,000 a "
            "template may make",
        ),
        (
            "{{ ([name] * 10**9) | length }}",
            "['Ann'] * 1000000000 would be about 9,000,000,000 characters long, more than the "
            "100,000 a template may make",
        ),
        (
            "{{ range(10**9) | list | length }}",
            "range(1000000000) would count 1,000,000,000 numbers, more than the 10,000 a "
            "template may use",
        ),
        (
            "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
            TOO_MUCH_WORK,
        ),
        (
            "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
            "{{ f(40) }}",
            TOO_MUCH_WORK,
        ),
        (
            "{% set b = name * 30000 %}{% for i in range(100) %}{{ b }}{% endfor %}",
            TOO_MUCH_WORK,
        ),
        (
            "{{ [1] | slice(1000000000) | list | length }}",
            "slice(1000000000) would make 1,000,000,000 lists or items, more than the 10,000 a "
            "template may use",
        ),
        (
            "{{ name | center(10**9) }}",
            "center(1000000000) would make 1,000,000,000 characters, more than the 100,000 a "
            "template may make",
        ),
        (
            "{{ nickname | indent(10**9) }}",
            "indent(1000000000) would make 1,000,000,000 characters, more than the 100,000 a "
            "template may make",
        ),
        (
            "{{ name.ljust(10**9) }}",
            "ljust(1000000000) would make 1,000,000,000 characters, more than the 100,000 a "
            "template may make",
        ),
        (
            "{{ (1).to_bytes(10**9, 'big') }}",
            "to_bytes(1000000000) would make 1,000,000,000 characters, more than the 100,000 a "
            "template may make",
        ),
        (
            "{{ '%1000000000s' % name }}",
            'the format "%1000000000s" asks for 1,000,000,000 characters, more than the 100,000 '
            "a template may make",
        ),
        (
            "{{ '%.1000000000f' | format(1.5) }}",
            'the format "%.1000000000f" asks for 1,000,000,000 characters, more than the '
            "100,000 a template may make",
        ),
        (
            "{{ '{:>1000000000}'.format(name) }}",
            'the format "{:>1000000000}" asks for 1,000,000,000 characters, more than the '
            "100,000 a template may make",
        ),
        (
            "{{ '{:{}}'.format(name, 10**9) }}",
            'the format "{:{}}" takes a width from a value, which a template may not do: write '
            "the width in the format",
        ),
        (
            "{% set ns = namespace(s=name) %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
            "{% endfor %}{{ ns.s | length }}",
            "~ would make 196,608 characters, more than the 100,000 a template may make",
        ),
        (
            "{{ (name * 30000).replace('', name * 30000) | length }}",
            "replace would make 8,100,180,000 characters, more than the 100,000 a template may "
            "make",
        ),
        (
            "{{ (name * 30000) | wordwrap(1, true, name * 30000) | length }}",
            "wordwrap would make about 8,100,090,000 characters, more than the 100,000 a "
            "template may make",
        ),
        (
            "{{ range(3) | join(name * 30000) | length }}",
            "join would make 180,003 characters, more than the 100,000 a template may make",
        ),
        (
            "{% set l = range(10000) | list %}{% for i in l %}{% if i in l %}{% endif %}"
            "{% endfor %}",
            TOO_MUCH_WORK,
        ),
        (
            "{{ name.encode('punycode') }}",
            'encode("punycode") is not one a template may use: use "utf-8", "utf-16", '
            '"utf-32", "ascii" or "latin-1"',
        ),
        ("{{ 10.0 ** 400 }}", "a number is too large to compute"),
    ],
)
def test_a_template_bomb_is_that_rows_problem(child: Child, source: str, reason: str) -> None:
    """Each bomb is refused before it allocates: the row has a problem saying what was too
    big and the bound, never a huge text, an empty reason or a hang."""
    outcome = child.render(source, {"name": ["Ann"], "nickname": [""]})
    assert outcome == Outcome(texts=(None,), problems=((f"row 2: {BOUND}{reason}",),))


def test_intercepted_operators_are_not_folded_at_compile_time() -> None:
    """Powers, products, sums and % go through the sandbox's operator hook at render time:
    compiling never computes them (constant folding hung on 7 ** 1000000000)."""
    from campaignkit import templating

    code = templating._environment().compile(
        "{{ 7 ** 9 }}{{ 'x' * 3 }}{{ 'a' + 'b' }}{{ '%s' % 1 }}", raw=True
    )
    assert [op for op in ("**", "*", "+", "%") if f"call_binop(context, {op!r}" in code] == [
        "**",
        "*",
        "+",
        "%",
    ]


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("{{ 2 ** 100 }}", str(2**100)),
        ("{{ 'ab' * 3 }}{{ [1] * 2 }}", "ababab[1, 1]"),
        ("{% for i in range(3) %}{{ i }}{% endfor %}", "012"),
        ("{{ '%5s|%.2f' % ('a', 1.5) }}", "    a|1.50"),
        ("{{ '{:>4}'.format(name) }}", " Ann"),
        ("{{ name | center(7) }}|{{ name.zfill(5) }}", "  Ann  |00Ann"),
    ],
)
def test_small_operations_stay_allowed(source: str, text: str) -> None:
    """The bounds are far above what a message needs: ordinary uses render as in Jinja."""
    assert render(recipients(name=["Ann"]), source)["text"].tolist() == [text]


@pytest.mark.parametrize("engine", ["auto", "jinja"])
@pytest.mark.parametrize(
    ("longest", "problem"),
    [
        (
            MAX_SMS_CHARACTERS,
            "the message is 1,601 characters long, more than the 1,600 a message may have: "
            "shorten it by 1",
        ),
        (MAX_WHATSAPP_CHARACTERS, None),
    ],
)
def test_a_row_longer_than_the_cap_is_a_content_problem(
    engine: str, longest: int, problem: str | None
) -> None:
    """A row over ``max_characters`` (Twilio's 1,600 for SMS, 4,096 for WhatsApp) is a
    content problem stating its length; shorter rows go on."""
    people = recipients(name=["Ann", "Al"])
    out = render(people, "{{ name }}" + "x" * 1598, engine=engine, max_characters=longest)  # type: ignore[arg-type]
    if problem is None:
        assert out["text"].map(len).tolist() == [1601, 1600]
        return
    assert out["text"].tolist() == [None, "Al" + "x" * 1598]
    assert out.loc[2, "problems"] == (Problem(2, None, problem, "content"),)


def test_the_default_cap_is_the_longest_any_channel_takes() -> None:
    """Without ``max_characters`` the cap is WhatsApp's 4,096 characters."""
    out = render(recipients(name=["Ann"]), "{{ name }}" + "x" * 4094)
    assert MAX_CHARACTERS == 4096
    assert [str(p) for p in out.loc[2, "problems"]] == [
        "row 2: the message is 4,097 characters long, more than the 4,096 a message may have: "
        "shorten it by 1"
    ]


@pytest.mark.parametrize(
    ("name", "column"),
    [("self", 4), ("range", 4), ("cycler", 4), ("dict", 4), ("joiner", 4), ("namespace", 4)],
)
def test_printing_a_name_of_the_template_language_is_a_template_error(
    name: str, column: int
) -> None:
    """{{ self }}, {{ range }}… say they are not columns (render crashed with KeyError)."""
    with pytest.raises(TemplateError) as error:
        render(recipients(name=["Ann"]), f"{{{{ {name} }}}}")
    assert str(error.value) == (
        f"The message prints {{{{ {name} }}}} (line 1, column {column}), but {name} is part of "
        f'the template language, not a column; if the sheet has a column called "{name}", '
        f'rename it (for example to "{name}_1") and use that name.'
    )


def test_lipsum_is_not_there() -> None:
    """lipsum (random text) is removed: it is an unknown column like any other name."""
    with pytest.raises(TemplateError) as error:
        render(recipients(name=["Ann"]), "{{ lipsum() }}")
    assert str(error.value) == (
        "The message uses {{ lipsum }} (line 1, column 4), but no column matches it. The "
        'columns are "name" and "to".'
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "{{ name.upper }}",
            'The message prints the function "upper" instead of a value: call it with '
            "brackets, as in upper().",
        ),
        (
            "{% macro greet() %}Hi{% endmacro %}{{ greet }}",
            'The message prints the macro "greet" instead of its text: call it with brackets, '
            "as in {{ greet() }}.",
        ),
        (
            "{{ range(3) }}",
            'The message prints a range instead of a value: list its numbers with | join(", ").',
        ),
        (
            "{{ [name] | map('upper') }}",
            "The message prints a sequence made by a filter (map, select…) instead of a value: "
            'add | join(", ") or | first.',
        ),
        (
            "{% for x in [1] %}{{ loop }}{% endfor %}",
            "The message prints the loop variable instead of a value: print one of its "
            "attributes, such as loop.index.",
        ),
        (
            "{{ namespace(a=1) }}",
            "The message prints an object of the template language instead of a value: print "
            "one of its values.",
        ),
        (
            "{{ name.__class__ }}",
            'The message uses "__class__", which a message may not use: names that start with '
            "an underscore are private.",
        ),
        (
            "{% include 'footer.txt' %}",
            "The message uses {% include %} (line 1), which campaignkit does not support: a "
            "message is one template, so write all of it here.",
        ),
    ],
)
def test_printing_what_is_not_a_value_is_a_template_error(source: str, message: str) -> None:
    """A function, macro or template object printed as text stops the render with the fix,
    instead of sending its Python repr."""
    with pytest.raises(TemplateError) as error:
        render(recipients(name=["Ann"]), source)
    assert str(error.value) == message


def test_a_macro_that_calls_itself_forever_is_a_problem() -> None:
    """Unbounded recursion becomes that row's problem in plain words."""
    out = render(recipients(name=["Ann"]), "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}")
    assert [str(p) for p in out.loc[2, "problems"]] == [
        f"row 2: {BOUND}a macro or a loop calls itself too deeply"
    ]


def test_a_huge_template_is_a_template_error() -> None:
    """A message template over 20,000 characters is refused before it is compiled."""
    with pytest.raises(TemplateError) as error:
        render(recipients(name=["Ann"]), "{{ name }}" * 2001)
    assert str(error.value) == (
        "The message is 20,010 characters long as a template, more than the 20,000 campaignkit "
        "reads: shorten it."
    )


# --- check_template: one row, bounded, for the Composer's keystrokes -----------------------


@pytest.mark.parametrize(
    ("message", "row", "result"),
    [
        ("Hi {{ first_name }}", {"First Name": "Ann"}, ("Hi Ann", None)),
        (
            "Hi {{ first_name }}",
            pd.Series({"First Name": " ", "problems": ()}, name=7),
            (
                None,
                'row 7, column "First Name": is empty, and the message uses it as '
                "{{ first_name }}",
            ),
        ),
        (
            "Hi {{ first_name",
            {"First Name": "Ann"},
            (
                None,
                "The message has a template error on line 1: unexpected end of template, "
                "expected 'end of print statement'. Check that every {{ is closed by }} and "
                "every {% if %} or {% for %} by {% endif %} or {% endfor %}.",
            ),
        ),
        (
            "{{ first_name }}" + "x" * 1600,
            {"First Name": "Ann"},
            (
                None,
                "the message is 1,603 characters long, more than the 1,600 a message may have: "
                "shorten it by 3",
            ),
        ),
    ],
)
def test_check_template_renders_one_row(
    message: str, row: dict[str, str] | pd.Series, result: tuple[str | None, str | None]
) -> None:
    """(text, None) for a good row, (None, one sentence) for a template error or a problem."""
    assert check_template(message, row, max_characters=MAX_SMS_CHARACTERS) == result


def test_check_template_is_time_boxed() -> None:
    """Past its time box the render stops at the next step and says so."""
    assert check_template("{% for i in range(3) %}{{ i }}{% endfor %}", {}, seconds=0) == (
        None,
        f"{BOUND}it took more than 0 seconds to render (a loop or a macro that runs too long)",
    )


def test_check_template_refuses_a_bomb(child: Child) -> None:
    """A keystroke that types a bomb gets its problem back, bounded."""
    assert child.check("{{ 7 ** 1000000000 }}", {"name": "Ann"}) == (
        None,
        f"{BOUND}7 ** 1000000000 would be a number of about 845,098,041 digits, more than the "
        "1,000 a template may compute",
    )


# --- the fuzz test --------------------------------------------------------------------------

_NUMBERS = st.one_of(
    st.integers(0, 40), st.integers(0, 10**9), st.sampled_from([10**4, 10**5, 10**6, 10**9])
)
_FRAGMENTS = [
    "{{{{ {a} ** {b} }}}}",
    "{{{{ ({a} ** {b}) | string | length }}}}",
    "{{{{ 10.0 ** {b} }}}}",
    "{{{{ {a} * {b} * {b} * {b} * {b} }}}}",
    "{{{{ name * {a} }}}}",
    "{{{{ ([name] * {a}) | string | length }}}}",
    "{{{{ ((name,) * {a}) | join | length }}}}",
    "{{{{ range({a}) | list | length }}}}",
    "{{% for i in range({a}) %}}{{% for j in range({b}) %}}{{{{ name }}}}{{% endfor %}}"
    "{{% endfor %}}",
    "{{{{ name | center({a}) }}}}",
    "{{{{ name | indent({a}, true) }}}}",
    "{{{{ (((name ~ '\\n') * 50) | indent({a})) | length }}}}",
    "{{{{ (name * {a}) | wordwrap(1, true, name * {b}) | length }}}}",
    "{{{{ '%{a}s' % name }}}}",
    "{{{{ '%.{a}f' % 1.5 }}}}",
    "{{{{ '%{a}s' | format(name) }}}}",
    "{{{{ '{{:>{a}}}'.format(name) }}}}",
    "{{{{ '{{:.{a}f}}'.format(1.5) }}}}",
    "{{{{ name.ljust({a}) }}}}",
    "{{{{ name.zfill({a}) }}}}",
    "{{{{ ('\\t' * {a}).expandtabs({b}) | length }}}}",
    "{{{{ (1).to_bytes({a}, 'big') | length }}}}",
    "{{{{ (name * {a}).replace('', name * {b}) | length }}}}",
    "{{{{ range({a}) | map('string') | join(name * {b}) | length }}}}",
    "{{{{ [1] | batch({a}, 'x') | list | length }}}}",
    "{{{{ [1] | slice({a}) | list | length }}}}",
    "{{{{ ([name] * {a}) | tojson(indent={b}) | length }}}}",
    "{{{{ {{}}.fromkeys(range({a})) | length }}}}",
    "{{% set ns = namespace(s=name) %}}{{% for i in range({a}) %}}"
    "{{% set ns.s = ns.s ~ ns.s %}}{{% endfor %}}{{{{ ns.s | length }}}}",
    "{{% set ns = namespace(l=[name]) %}}{{% for i in range({a}) %}}"
    "{{% set ns.l = ns.l + ns.l %}}{{% endfor %}}{{{{ ns.l | length }}}}",
    "{{% set b = name * {a} %}}{{% set l = [b, b, b, b, b, b, b, b] %}}"
    "{{% set m = [l, l, l, l, l, l, l, l] %}}{{{{ [m, m, m, m] | string | length }}}}",
    "{{% set l = [name] * {a} %}}{{{{ [l, l, l, l] | sum(start=[]) | length }}}}",
    "{{% macro f(n) %}}{{% if n %}}{{{{ f(n - 1) }}}}{{{{ f(n - 1) }}}}{{% endif %}}x"
    "{{% endmacro %}}{{{{ f({a} % 60) }}}}",
    "{{% macro f() %}}{{{{ f() }}}}{{% endmacro %}}{{{{ f() }}}}",
    "{{% for i in range({a}) %}}{{% set b = name * {b} %}}{{{{ b[1:] | length }}}}"
    "{{% endfor %}}",
    "{{{{ ((name * {a}) ~ ' a.co ') | urlize(target=name * {b}) | length }}}}",
    "{{{{ (name * {a}) | list | unique | list | length }}}}",
    "{{{{ ((name * {a}) ~ '&<') | escape | length }}}}",
    "{{{{ ((name ~ '<a>') * {a}) | striptags | length }}}}",
    "{{{{ (range({a}) | list) | pprint | length }}}}",
    "{{{{ (name * {a}) | list | sort | join | length }}}}",
    "{{{{ (name * {a}).encode('punycode') | length }}}}",
    "{{% set l = range({a}) | list %}}{{% for i in l %}}{{% if i in l %}}{{% endif %}}"
    "{{% endfor %}}",
]


@st.composite
def bombs(draw: st.DrawFn) -> str:
    fragments = draw(st.lists(st.sampled_from(_FRAGMENTS), min_size=1, max_size=3))
    return "".join(
        fragment.format(a=draw(_NUMBERS), b=draw(_NUMBERS)) for fragment in fragments
    )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(bombs(), st.sampled_from(["Ann", "x" * 1000, ""]))
def test_template_bombs_come_back_as_problems(child: Child, source: str, name: str) -> None:
    """Any mix of powers, repetitions, ranges, loops, macros, formats and filters renders
    within 1 GiB and 60 s, and every row is a text within the cap or has problems with a
    reason; or the whole template is a TemplateError with one."""
    outcome = child.render(source, {"name": [name]})
    if outcome.error is not None:
        assert outcome.error.strip()
        return
    (text,), (problems,) = outcome.texts, outcome.problems
    if text is None:
        assert problems
        assert all(p.split(": ", 1)[1].strip() not in ("", BOUND.strip()) for p in problems)
        assert all(not p.endswith(": ") for p in problems)
    else:
        assert len(text) <= MAX_CHARACTERS
