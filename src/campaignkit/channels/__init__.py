"""Providers as pure request builders and response parsers (no I/O)."""

from ._base import Channel, LookupInconclusive, Receipt
from .bird import Bird
from .sociocs import ContactSaving, Sociocs
from .textus import TextUs

__all__ = ["Bird", "Channel", "ContactSaving", "LookupInconclusive", "Receipt", "Sociocs", "TextUs"]
