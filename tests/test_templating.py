"""campaignkit.templating.render: per-row texts, media, WhatsApp variables and their problems."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaignkit._errors import TemplateError
from campaignkit.message import Media, Message, Template
from campaignkit.problems import Problem
from campaignkit.sms import analyse
from campaignkit.templating import (
    MAX_CHARACTERS,
    RENDERED_COLUMNS,
    render,
    template_warnings,
)


def recipients(rows: list[int] | None = None, **columns: list[object]) -> pd.DataFrame:
    """A recipients frame in the contract shape: sheet row numbers, text columns, to, problems."""
    n = len(next(iter(columns.values())))
    rows = rows or list(range(2, 2 + n))
    frame = pd.DataFrame(columns, index=pd.Index(rows, name="row"))
    frame["to"] = [f"+4477009000{i:02d}" for i in range(n)]
    frame["problems"] = pd.Series([()] * n, index=frame.index, dtype=object)
    frame["repairs"] = pd.Series([()] * n, index=frame.index, dtype=object)
    return frame


def problem_strings(frame: pd.DataFrame) -> list[str]:
    return [str(p) for problems in frame["problems"] for p in problems]


@pytest.mark.parametrize("engine", ["auto", "jinja"])
def test_render_substitutes_each_row(engine: str) -> None:
    """Each row gets its own text; the index and the recipient columns are kept."""
    people = recipients([7, 9], **{"First Name": ["Ann", "Bob"], "clinic": ["Leeds", "York"]})
    out = render(people, "Hi {{ first_name }}, see you at {{ clinic }}.", engine=engine)  # type: ignore[arg-type]
    assert out["text"].tolist() == ["Hi Ann, see you at Leeds.", "Hi Bob, see you at York."]
    assert list(out.columns) == [
        "First Name",
        "clinic",
        "to",
        "problems",
        "repairs",
        *RENDERED_COLUMNS,
    ]
    assert out.index.tolist() == [7, 9]
    assert out.index.name == "row"


def test_rendered_columns_and_dtypes() -> None:
    """text and encoding are object (None-able), segments and characters int64."""
    out = render(recipients(name=["Zoë", "Al"]), "Hi {{ name }}")
    assert out[list(RENDERED_COLUMNS)].to_dict("list") == {
        "text": ["Hi Zoë", "Hi Al"],
        "encoding": ["UCS-2", "GSM-7"],
        "segments": [1, 1],
        "characters": [6, 5],
        "media": [(), ()],
        "template": [None, None],
    }
    assert out[list(RENDERED_COLUMNS)].dtypes.astype(str).tolist() == [
        "object",
        "object",
        "int64",
        "int64",
        "object",
        "object",
    ]


def test_render_does_not_touch_the_callers_frame() -> None:
    """The input frame is unchanged: no new columns, same problems."""
    people = recipients(name=["", "Al"])
    before = people.copy()
    render(people, "Hi {{ name }}")
    pd.testing.assert_frame_equal(people, before)


@pytest.mark.parametrize("engine", ["auto", "jinja"])
@pytest.mark.parametrize("empty", ["", "   ", None, np.nan])
def test_an_empty_cell_is_that_rows_problem(engine: str, empty: object) -> None:
    """An empty cell the message uses becomes a missing-value problem; other rows go on."""
    people = recipients([7, 8], **{"First Name": [empty, "Bob"]})
    out = render(people, "Hi {{ first_name }}", engine=engine)  # type: ignore[arg-type]
    assert out["text"].tolist() == [None, "Hi Bob"]
    assert out.loc[7, "problems"] == (
        Problem(
            7,
            "First Name",
            "is empty, and the message uses it as {{ first_name }}",
            "missing-value",
        ),
    )
    assert problem_strings(out) == [
        'row 7, column "First Name": is empty, and the message uses it as {{ first_name }}'
    ]
    assert (out.loc[7, "encoding"], out.loc[7, "segments"], out.loc[7, "characters"]) == (
        None,
        0,
        0,
    )


@pytest.mark.parametrize("engine", ["auto", "jinja"])
@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "Hi {{ nmae }}",
            "The message uses {{ nmae }} (line 1, column 7), but no column matches it: did "
            'you mean {{ name }}? The columns are "name", "clinic" and "to".',
        ),
        (
            "Hi {{ name }}\n{% if vip %}VIP {% endif %}",
            "The message uses {{ vip }} (line 2, column 7), but no column matches it. The "
            'columns are "name", "clinic" and "to".',
        ),
        (
            "Hi {{ name }} {{ name | default(clinicc) }}",
            "The message uses {{ clinicc }} (line 1, column 33), but no column matches it: "
            'did you mean {{ clinic }}? The columns are "name", "clinic" and "to".',
        ),
    ],
)
def test_a_name_that_matches_no_column_is_a_template_error(
    engine: str, source: str, message: str
) -> None:
    """A misspelt name stops the render, saying where it is and which columns there are."""
    with pytest.raises(TemplateError) as error:
        render(recipients(name=["Ann"], clinic=["Leeds"]), source, engine=engine)  # type: ignore[arg-type]
    assert str(error.value) == message


def test_a_guarded_name_that_matches_no_column_is_no_error() -> None:
    """`default` and `is defined` accept a name that no column matches."""
    source = '{{ nick | default("friend") }}{% if vip is defined %}!{% endif %}'
    assert render(recipients(name=["Ann"]), source)["text"].tolist() == ["friend"]


def test_default_filter_accepts_an_empty_cell() -> None:
    """`default` treats an empty cell (and a missing column) as undefined."""
    people = recipients(name=["", "ann smith", None])
    out = render(people, 'Hi {{ name | default("there") | title }}{{ nick | default("") }}!')
    assert out["text"].tolist() == ["Hi There!", "Hi Ann Smith!", "Hi There!"]
    assert problem_strings(out) == []


@pytest.mark.parametrize("engine", ["auto", "jinja"])
@pytest.mark.parametrize(
    ("source", "texts"),
    [
        (
            "{% if clinic %}at {{ clinic }}{% else %}at our clinic{% endif %}",
            ["at Leeds", "at our clinic", "at our clinic", "at our clinic"],
        ),
        ('at {{ clinic or "our clinic" }}', ["at Leeds", "at our clinic", "at our clinic",
                                             "at our clinic"]),
        ('at {{ clinic | default("our clinic") }}', ["at Leeds", "at our clinic",
                                                    "at our clinic", "at our clinic"]),
        ('at {{ clinic | d("our clinic", true) }}', ["at Leeds", "at our clinic",
                                                    "at our clinic", "at our clinic"]),
        ("at {{ clinic | default }}.", ["at Leeds.", "at .", "at .", "at ."]),
        (
            "{% if clinic is defined %}at {{ clinic }}{% else %}here{% endif %}",
            ["at Leeds", "here", "here", "here"],
        ),
        ('{% if not clinic %}here{% endif %}{{ "at " ~ clinic if clinic else "" }}',
         ["at Leeds", "here", "here", "here"]),
    ],
)
def test_a_guard_accepts_an_empty_cell(engine: str, source: str, texts: list[str]) -> None:
    """An empty cell is falsy: if, or, default and is defined all give the fallback."""
    out = render(recipients(clinic=["Leeds", "", "  ", None]), source, engine=engine)  # type: ignore[arg-type]
    assert (out["text"].tolist(), problem_strings(out)) == (texts, [])


@pytest.mark.parametrize("engine", ["auto", "jinja"])
def test_an_empty_cell_printed_outside_its_guard_is_still_a_problem(engine: str) -> None:
    """A guard covers only what it guards: printing the empty cell bare elsewhere fails."""
    source = 'at {{ clinic or "our clinic" }} ({{ clinic }})'
    out = render(recipients(clinic=["Leeds", ""]), source, engine=engine)  # type: ignore[arg-type]
    assert out["text"].tolist() == ["at Leeds (Leeds)", None]
    assert problem_strings(out) == [
        'row 3, column "clinic": is empty, and the message uses it as {{ clinic }}'
    ]


def test_rows_with_problems_are_still_rendered_and_keep_them() -> None:
    """An invalid phone's row still shows its text; its problem stays first."""
    people = recipients(name=["Ann", "Bob"])
    bad_phone = Problem(3, "phone", '"0712" is not a valid GB number', "invalid-phone")
    people["problems"] = pd.Series([(), (bad_phone,)], index=people.index, dtype=object)
    out = render(people, "Hi {{ name }}")
    assert out["text"].tolist() == ["Hi Ann", "Hi Bob"]
    assert out["problems"].tolist() == [(), (bad_phone,)]


@pytest.mark.parametrize("name", ["first_name", "FIRST_NAME", "firstName", "FirstName"])
def test_names_find_columns_ignoring_case_spaces_and_punctuation(name: str) -> None:
    """{{ first_name }}, {{ firstName }}… all find the column "First Name"."""
    out = render(recipients(**{"First Name": ["Ann"]}), f"Hi {{{{ {name} }}}}")
    assert out["text"].tolist() == ["Hi Ann"]


@pytest.mark.parametrize("column", ["first-name", "FIRST_NAME", " First  Name ", "First.Name"])
def test_columns_are_found_whatever_their_spelling(column: str) -> None:
    """A column spelt with dashes, capitals or extra spaces is found by {{ first_name }}."""
    out = render(recipients(**{column: ["Ann"]}), "Hi {{ first_name }}")
    assert out["text"].tolist() == ["Hi Ann"]


def test_a_name_matching_two_columns_is_a_template_error() -> None:
    """Two columns that fit one used name raise, listing both."""
    people = recipients(**{"First Name": ["Ann"], "first_name": ["Bob"]})
    with pytest.raises(TemplateError) as error:
        render(people, "Hi {{ first_name }}")
    assert str(error.value) == (
        'The message uses {{ first_name }}, which matches 2 columns: "First Name" and '
        '"first_name". Rename or remove all but one of them in the sheet.'
    )


def test_ambiguous_columns_the_message_does_not_use_do_not_matter() -> None:
    """Only the names the template uses are looked up."""
    people = recipients(**{"First Name": ["Ann"], "first_name": ["Bob"], "clinic": ["Leeds"]})
    assert render(people, "At {{ clinic }}")["text"].tolist() == ["At Leeds"]


def test_campaignkit_columns_are_not_template_names() -> None:
    """problems and repairs cannot be used by a template; `to` can."""
    out = render(recipients(name=["Ann"]), "{{ to }} {{ problems | default('-') }}")
    assert out["text"].tolist() == ["+447700900000 -"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "Hi {{ name }",
            "The message has a template error on line 1: unexpected '}'. Check that every {{ is "
            "closed by }} and every {% if %} or {% for %} by {% endif %} or {% endfor %}.",
        ),
        (
            "Hi\n{% if name %}x",
            "The message has a template error on line 2: Unexpected end of template. Jinja was "
            "looking for the following tags: 'elif' or 'else' or 'endif'. The innermost block "
            "that needs to be closed is 'if'. Check that every {{ is closed by }} and every "
            "{% if %} or {% for %} by {% endif %} or {% endfor %}.",
        ),
    ],
)
def test_a_syntax_error_is_a_template_error_with_its_line(source: str, message: str) -> None:
    """A broken template stops the whole render, naming the line and the fix."""
    with pytest.raises(TemplateError) as error:
        render(recipients(name=["Ann"]), source)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "Hi {{ first_name | shout }}",
            'The message uses the filter "shout" (line 1, column 20), which does not exist. '
            "The filters are listed at "
            "https://jinja.palletsprojects.com/en/stable/templates/#list-of-builtin-filters, "
            'with campaignkit\'s "date".',
        ),
        (
            "Hi\n{% if vip %}{{ first_name | uper }}{% endif %}",
            'The message uses the filter "uper" (line 2, column 29), which does not exist: did '
            'you mean "upper"? The filters are listed at '
            "https://jinja.palletsprojects.com/en/stable/templates/#list-of-builtin-filters, "
            'with campaignkit\'s "date".',
        ),
        (
            "{% if first_name is shouting %}!{% endif %}",
            'The message uses the test "shouting" (line 1, column 21), which does not exist. The '
            "tests are listed at "
            "https://jinja.palletsprojects.com/en/stable/templates/#list-of-builtin-tests.",
        ),
    ],
)
def test_an_unknown_filter_or_test_is_a_template_error(source: str, message: str) -> None:
    """A filter or test Jinja does not have is named with its line and column."""
    with pytest.raises(TemplateError) as error:
        render(recipients(first_name=["Ann"], vip=["yes"]), source)
    assert str(error.value) == message


@pytest.mark.parametrize("text", ["", " ", "\n\t  \r\n"])
def test_a_blank_message_is_a_template_error(text: str) -> None:
    """A message of only spaces or line breaks is never sendable, in Python too."""
    with pytest.raises(TemplateError) as error:
        render(recipients(name=["Ann"]), text)
    assert str(error.value) == (
        "The message is blank (only spaces or line breaks): write the text to send, or leave "
        "the text out to send only media or a WhatsApp template."
    )


@pytest.mark.parametrize("engine", ["auto", "jinja"])
def test_a_message_that_comes_out_blank_for_a_row_is_that_rows_problem(engine: str) -> None:
    """A row whose text renders to only whitespace is a content problem, never sent."""
    people = recipients(name=["Ann", "Bob"], vip=["yes", "no"])
    out = render(people, '{% if vip == "yes" %}Hi {{ name }}{% endif %}\t\n', engine=engine)  # type: ignore[arg-type]
    assert out["text"].tolist() == ["Hi Ann\t", None]
    assert out.loc[3, "problems"] == (
        Problem(
            3,
            None,
            "the message comes out blank for this row (only spaces or line breaks), so there "
            "is nothing to send",
            "content",
        ),
    )


@pytest.mark.parametrize(
    ("message", "warnings"),
    [
        (
            "Hi {first_name}, see you {{ date }} at {Clinic Name}.",
            [
                "The message has {first_name} (line 1, column 4): single braces are sent as "
                "they are; write {{ first_name }} to put in the value from the sheet.",
                "The message has {Clinic Name} (line 1, column 40): single braces are sent as "
                "they are; write {{ clinic_name }} to put in the value from the sheet.",
            ],
        ),
        ("Hi {{ first_name }}, {% raw %}{{ kept }}{% endraw %} {# {note} #}", []),
        ("Hi {{ first_name }}, {{ {'a': 1} }} {x:1}", []),
        (
            Message(text="Hi", template=Template(id="t", variables={"1": "{ name }"})),
            [
                'Template variable "1" has { name } (line 1, column 1): single braces are '
                "sent as they are; write {{ name }} to put in the value from the sheet."
            ],
        ),
    ],
)
def test_single_braces_are_warned_about(message: str | Message, warnings: list[str]) -> None:
    """{first_name} (another tool's placeholder) is named with its fix; Jinja's own braces
    and a broken message give no warning."""
    assert template_warnings(message) == warnings


def test_render_carries_the_template_warnings() -> None:
    """The rendered frame keeps the warnings (the single brace is still sent as written)."""
    out = render(recipients(first_name=["Ann"]), "Hi {first_name}")
    assert out["text"].tolist() == ["Hi {first_name}"]
    assert out.attrs["template_warnings"] == [
        "The message has {first_name} (line 1, column 4): single braces are sent as they "
        "are; write {{ first_name }} to put in the value from the sheet."
    ]


def test_a_broken_message_still_gets_its_warnings() -> None:
    """template_warnings reads the text only: it never raises on a syntax error (render
    reports that), and still names the single braces."""
    assert template_warnings("Hi {name} {{ oops") == [
        "The message has {name} (line 1, column 4): single braces are sent as they are; "
        "write {{ name }} to put in the value from the sheet."
    ]


@pytest.mark.parametrize(
    ("cell", "fmt", "text"),
    [
        ("2026-12-01", None, "01 Dec 2026"),
        ("2026-12-01 17:30:00", "%a %d %b %H:%M", "Tue 01 Dec 17:30"),
        ("46357", None, "01 Dec 2026"),
        ("46357.75", "%d/%m/%Y %H:%M", "01/12/2026 18:00"),
        ("61", None, "01 Mar 1900"),
        ("59", None, "28 Feb 1900"),
        ("1", None, "01 Jan 1900"),
    ],
)
def test_date_filter(cell: str, fmt: str | None, text: str) -> None:
    """`date` reads ISO dates and Excel serials (with the 1900 leap-year bug)."""
    call = "date" if fmt is None else f'date("{fmt}")'
    out = render(recipients(when=[cell]), f"{{{{ when | {call} }}}}")
    assert out["text"].tolist() == [text]


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2026, 12, 1, 9, 0),
        pd.Timestamp("2026-12-01"),
        dt.date(2026, 12, 1),
        46357,
        46357.0,
    ],
)
def test_date_filter_reads_date_and_number_cells(value: object) -> None:
    """Date cells and numeric Excel serials format the same way."""
    people = recipients(name=["Ann"])
    people["when"] = pd.Series([value], index=people.index, dtype=object)
    assert render(people, "{{ when | date }}")["text"].tolist() == ["01 Dec 2026"]


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        (
            "31/13/2026",
            'row 2, column "when": the message could not be rendered: "31/13/2026" is not a '
            "date; write it as 2026-12-01 or make the cell a date cell",
        ),
        (
            "60",
            'row 2, column "when": the message could not be rendered: "60" is not an Excel '
            "date number (1 to 2958465, not 60)",
        ),
    ],
)
def test_a_failing_filter_is_that_rows_problem(cell: str, problem: str) -> None:
    """A value the date filter cannot read is a template problem naming its column."""
    out = render(recipients(when=[cell, "2026-01-02"]), "On {{ when | date }}")
    assert out["text"].tolist() == [None, "On 02 Jan 2026"]
    assert problem_strings(out) == [problem]
    assert out.loc[2, "problems"][0].kind == "template"


def test_media_and_whatsapp_template_variables_are_rendered() -> None:
    """Media URLs and nested (Gupshup) template variables are rendered per row."""
    message = Message(
        text="Hi {{ name }}",
        media=(Media(url="https://cdn.example/{{ clinic }}.png", content_type="image/png"),),
        template=Template(
            id="appt",
            variables={"MEDIA_URL": "https://x/{{ clinic }}", "Body": {"1": "{{ name }}"}},
        ),
    )
    out = render(recipients(name=["Ann", "Bob"], clinic=["leeds", "york"]), message)
    assert out["media"].tolist() == [
        (Media(url="https://cdn.example/leeds.png", content_type="image/png"),),
        (Media(url="https://cdn.example/york.png", content_type="image/png"),),
    ]
    assert out["template"].tolist() == [
        Template(id="appt", variables={"MEDIA_URL": "https://x/leeds", "Body": {"1": "Ann"}}),
        Template(id="appt", variables={"MEDIA_URL": "https://x/york", "Body": {"1": "Bob"}}),
    ]


def test_a_failed_template_variable_fails_the_whole_row() -> None:
    """A row whose WhatsApp variable fails has no text, no media and no template."""
    message = Message(
        text="Hi",
        media=(Media(url="https://x/a.png"),),
        template=Template(id="t", variables={"1": "{{ name }}"}),
    )
    out = render(recipients(name=["", "Bob"]), message)
    assert out[["text", "media", "template"]].to_dict("list") == {
        "text": [None, "Hi"],
        "media": [(), (Media(url="https://x/a.png"),)],
        "template": [None, Template(id="t", variables={"1": "Bob"})],
    }
    assert problem_strings(out) == [
        'row 2, column "name": is empty, and template variable "1" uses it as {{ name }}'
    ]


def test_a_message_without_text_has_no_encoding() -> None:
    """Without text: text and encoding None, 0 segments and 0 characters."""
    out = render(recipients(name=["Ann"]), Message(media=(Media(url="https://x/{{ name }}"),)))
    assert out[["text", "encoding", "segments", "characters"]].to_dict("list") == {
        "text": [None],
        "encoding": [None],
        "segments": [0],
        "characters": [0],
    }
    assert out["media"].tolist() == [(Media(url="https://x/Ann"),)]


def test_rendering_a_rendered_frame_replaces_its_rendered_columns() -> None:
    """Re-running a cell on its own output replaces text and the other rendered columns."""
    first = render(recipients(name=["Ann"]), "Hi {{ name }}")
    again = render(first, "Bye {{ name }}")
    assert (again["text"].tolist(), list(again.columns).count("text")) == (["Bye Ann"], 1)


# --- the vectorised path equals Jinja2 ------------------------------------------------------

_CELLS = st.one_of(
    st.just(""),
    st.just("  "),
    st.none(),
    st.sampled_from(["Ann", "Zoë", "{x}", "a\r\nb", "😜"]),
    st.text(max_size=8),
    # what decides SMS boundaries: extension characters, emoji, combining marks, ZWJ, CR LF,
    # curly quotes, and long runs that put a text near 160/153 or 70/67
    st.sampled_from(["€", "[~]", "e\u0301", "\u0301", "🏳️‍🌈", "’", "\r", "\n", "x\r\n"]),
    st.builds(lambda c, n: c * n, st.sampled_from(["x", "ë", "€", "😜"]), st.integers(1, 160)),
)
_COLUMNS = ["First Name", "clinic", "appt-date"]
_NAMES = ["first_name", "FirstName", "clinic", "appt_date", "APPT DATE".replace(" ", "_")]
_LITERALS = st.text(
    alphabet=st.characters(blacklist_characters="{}%#", blacklist_categories=("Cs",)), max_size=6
)  # no Jinja delimiters: a literal stays literal


# Guards an empty cell passes (issue 12): the first three are rendered by concatenation too.
_GUARDS = [
    '{{{{ {name} or "{fallback}" }}}}',
    '{{{{ {name} | default("{fallback}") }}}}',
    '{{{{ {name} | d("{fallback}") }}}}',
    "{{{{ {name} | default }}}}",
    '{{% if {name} %}}<{{{{ {name} }}}}>{{% else %}}{fallback}{{% endif %}}',
    "{{% if {name} is defined %}}{{{{ {name} }}}}{{% endif %}}",
    "{{% if not {name} %}}{fallback}{{% endif %}}",
]
_FALLBACKS = st.sampled_from(["", " ", "there", "our clinic", "€", "😜", "\r\n"])

_LONG_LITERALS = st.builds(
    lambda c, n: c * n, st.sampled_from(["x", "ë", "€", "😜", "’", "\r\n"]), st.integers(1, 160)
)


@st.composite
def frames_and_templates(draw: st.DrawFn) -> tuple[pd.DataFrame, str]:
    n = draw(st.integers(1, 12))
    cells = {c: draw(st.lists(_CELLS, min_size=n, max_size=n)) for c in _COLUMNS}
    frame = recipients(**cells)  # type: ignore[arg-type]
    dtype = draw(st.sampled_from(["str", object]))  # what a loaded sheet and a user give
    for column in _COLUMNS:
        frame[column] = frame[column].astype("str").astype(dtype)
    parts = draw(
        st.lists(
            st.one_of(
                _LITERALS,
                _LONG_LITERALS,
                st.sampled_from(_NAMES).map(lambda n: f"{{{{ {n} }}}}"),
                st.tuples(st.sampled_from(_NAMES), st.sampled_from(_GUARDS), _FALLBACKS).map(
                    lambda guard: guard[1].format(name=guard[0], fallback=guard[2])
                ),
            ),
            max_size=6,
        )
    )
    return frame, "".join(parts)


def _assert_sms_of_each_text(rendered: pd.DataFrame, texts: pd.Series) -> None:
    """Each row's (encoding, segments, characters) is `analyse` of its text; none for none."""
    sms = ["encoding", "segments", "characters"]
    assert list(rendered[sms].itertuples(index=False, name=None)) == [
        (None, 0, 0) if text is None else (lambda i: (i.encoding, i.segments, i.characters))(
            analyse(text))
        for text in texts
    ]


def _forced(layout: str | int) -> object:
    """A `_plain_groups` that always picks ``layout``: the heuristic's choice ("auto"), every
    row joined by Arrow ("rows"), one group ("one"), or two groups split at that part."""
    from campaignkit import templating

    chosen = templating._plain_groups

    def groups(parts: tuple[object, ...], radix: dict[str, int], rows: int) -> object:
        if layout == "auto":
            return chosen(parts, radix, rows)  # type: ignore[arg-type]
        if layout == "rows":
            return None
        if layout == "one" or not 0 < int(layout) < len(parts):
            return [parts]
        return [parts[: int(layout)], parts[int(layout) :]]

    return groups


# The small frames drawn here make the heuristic pick one group or Arrow rows; every
# layout must give the same frame, so each is forced in turn.
_LAYOUTS = st.one_of(st.sampled_from(["auto", "rows", "one"]), st.integers(1, 5))


@settings(max_examples=300, deadline=None)
@given(frames_and_templates(), _LAYOUTS, st.sampled_from([MAX_CHARACTERS, 12, 200]))
def test_vectorised_substitution_equals_jinja(
    case: tuple[pd.DataFrame, str], layout: str | int, longest: int
) -> None:
    """Plain substitution (with its ``or``/``default`` guards) gives Jinja2's exact texts,
    problems, SMS columns and errors, however the concatenation is grouped and whatever the
    length cap; guarded empty cells agree too."""
    from campaignkit import templating

    frame, source = case
    with mock.patch.object(templating, "_plain_groups", wraps=_forced(layout)) as groups:
        fast = _outcome(frame, source, "auto", longest)
    slow = _outcome(frame, source, "jinja", longest)
    if isinstance(slow, str):
        assert fast == slow
        return
    # "str" columns take the vectorised path (an object column with a missing cell is no
    # string dtype to pandas, so Jinja2 renders it, as before).
    plain = templating._plain_parts(templating._environment().parse(source)) is not None
    if plain and all(frame[c].dtype == "str" for c in _COLUMNS):
        assert groups.call_count == 1
    assert isinstance(fast, pd.DataFrame)
    pd.testing.assert_frame_equal(fast, slow)
    _assert_sms_of_each_text(fast, slow["text"])


def _outcome(frame: pd.DataFrame, source: str, engine: str, longest: int) -> pd.DataFrame | str:
    """The rendered frame, or the TemplateError's message."""
    try:
        return render(frame, source, engine=engine, max_characters=longest)  # type: ignore[arg-type]
    except TemplateError as error:
        return str(error)


@pytest.mark.parametrize(
    ("source", "layout"),
    [
        # 22 x 4 digits (the distinct values and the empty cell) fit 600 rows: one group
        ("Hi {{ name }} at {{ clinic }}.", [5]),
        # 22 x 31 do not, 22 + 31 are at most a quarter of them: two groups
        ("Hi {{ name }}, {{ date }}!", [2, 3]),
        ("{{ date }}, {{ name }} at {{ clinic }}", [1, 4]),
        # an email per row: every row joined by Arrow
        ("Hi {{ name }}, {{ email }}", None),
    ],
)
def test_plain_layouts_on_a_larger_sheet(source: str, layout: list[int] | None) -> None:
    """The heuristic groups parts whose values repeat; every layout equals Jinja2 and
    `analyse`, empty cells (every seventh name) and long UCS-2 texts included."""
    from campaignkit import templating

    n = 600
    people = recipients(
        name=[("" if i % 7 == 0 else f"Zoë{i % 20}") for i in range(n)],
        clinic=[["Leeds", "York", "Hull"][i % 3] for i in range(n)],
        date=[f"2026-12-{i % 30 + 1:02d} {'ë' * (i % 60)}😜" for i in range(n)],
        email=[f"p{i}@example.org" for i in range(n)],
    )
    with mock.patch.object(templating, "_plain_groups", wraps=templating._plain_groups) as spy:
        fast = render(people, source)
    groups = templating._plain_groups(*spy.call_args.args)
    assert (None if groups is None else [len(g) for g in groups]) == layout
    pd.testing.assert_frame_equal(fast, render(people, source, engine="jinja"))
    assert int(fast["text"].isna().sum()) == 86  # rows 0, 7, … 595 have no name
    _assert_sms_of_each_text(fast, fast["text"])


@pytest.mark.parametrize(
    ("source", "plain"),
    [
        ("Hi {{ name }}, at {{ clinic }}!", True),
        ("no names at all", True),
        ("{% raw %}{{ kept }}{% endraw %} {{ name }}", True),
        ("Hi {{ name | title }}", False),
        ("{% if name %}Hi{% endif %}", False),
        ("Hi {{ name.upper() }}", False),
        ("Hi {{ name ~ '!' }}", False),
        ('Hi {{ name | default("there") }}, {{ clinic or "our clinic" }}', True),
        ("Hi {{ name | d }}", True),
        ('Hi {{ name | default("there", true) }}', False),
        ("Hi {{ name | default(other) }}", False),
        ("Hi {{ name or 0 }}", False),
        ("{{ range }}", False),
        ("{{ self }}", False),
    ],
)
def test_which_templates_take_the_vectorised_path(source: str, plain: bool) -> None:
    """Only literal text, bare {{ name }}s and names with a literal fallback (``or``,
    ``default``) are rendered by concatenation; the template language's own names are not."""
    from campaignkit import templating

    env = templating._environment()
    assert (templating._plain_parts(env.parse(source)) is not None) is plain
