"""The Message model: one shape every provider's payload is built from."""

from __future__ import annotations

import pydantic
import pytest

from campaignkit import Media, Message, Template


def test_repr_shows_only_what_was_set() -> None:
    """A Message repr reads like the call that made it."""
    message = Message(text="Hi {{ name }}", media=[Media(url="https://x.test/a.png")])
    assert repr(message) == (
        "Message(text='Hi {{ name }}', media=(Media(url='https://x.test/a.png'),))"
    )


def test_unknown_fields_are_refused() -> None:
    """A typo in a field name is an error, not a silently ignored option."""
    with pytest.raises(pydantic.ValidationError):
        Message(txt="hello")  # type: ignore[call-arg]


def test_nested_gupshup_variables() -> None:
    """Template variables may be flat or nested by component (Gupshup)."""
    template = Template(
        id="c6aecef6-bcb0-4fb1-8100-28c094e3bc6b",
        variables={"MEDIA_URL": "{{ image }}", "Body": {"1": "{{ name }}"}},
    )
    assert template.variables == {"MEDIA_URL": "{{ image }}", "Body": {"1": "{{ name }}"}}


def test_messages_are_frozen_values() -> None:
    """A Message is a value: equal when equal, hashable, immutable."""
    assert Message(text="a") == Message(text="a")
    with pytest.raises(pydantic.ValidationError):
        Message(text="a").text = "b"  # type: ignore[misc]
