"""Providers as pure request builders and response parsers (no I/O)."""

from ._base import Channel, LookupInconclusive, Receipt
from ._secrets import REDACTED, Redactor, redact
from .bird import Bird
from .sociocs import ContactSaving, Sociocs
from .textus import TextUs

__all__ = [
    "REDACTED",
    "Bird",
    "Channel",
    "ContactSaving",
    "LookupInconclusive",
    "Receipt",
    "Redactor",
    "Sociocs",
    "TextUs",
    "redact",
]
