"""What to send: the `Message` model, one shape every provider's payload is built from.

Every string leaf is a Jinja2 template rendered per row by `campaignkit.render`:
the text, each media URL, and each WhatsApp template variable. After rendering, a row
carries the same models with plain strings (columns ``text``, ``media``, ``template``),
so a channel builds its payload from a row without knowing about templates.

>>> Message(text="Hi {{ first_name }}, your appointment is on {{ date }}.")
Message(text='Hi {{ first_name }}, your appointment is on {{ date }}.')
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Media", "Message", "Template"]

class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def __repr_args__(self) -> Iterator[tuple[str, Any]]:
        # Only the fields that were set: a Message repr reads like the call that made it.
        for name in type(self).model_fields:
            if name in self.model_fields_set:
                yield name, getattr(self, name)


class Media(_Model):
    """One attachment: a public URL (a template), its kind and, where a provider needs it, its type.

    Sociocs (twlo) sends it as ``image_url`` / ``video_url`` / ``file_url``; TextUs as its single
    ``attachments`` entry (``content_type`` required); Bird as an image or a file body.
    """

    url: str
    kind: Literal["image", "video", "file"] = "image"
    content_type: str | None = None
    filename: str | None = None


class Template(_Model):
    """A pre-approved WhatsApp template and its variables (each value a template string).

    ``variables`` is flat for Twilio Content (``{"1": "{{ name }}"}``), TextUs
    (``{"appt_date": "{{ date }}"}``) and Bird parameters, and nested by component for
    Gupshup (``{"MEDIA_URL": "...", "Body": {"1": "{{ name }}"}}``). ``version`` and
    ``locale`` are Bird's (``projectId`` is ``id``).
    """

    id: str
    variables: dict[str, str | dict[str, str]] = Field(default_factory=dict)
    version: str | None = None
    locale: str | None = None


class Message(_Model):
    """The message of a campaign: text, media and/or a WhatsApp template, all templated per row."""

    text: str | None = None
    media: tuple[Media, ...] = ()
    template: Template | None = None
