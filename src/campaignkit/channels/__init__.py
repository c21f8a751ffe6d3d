"""Providers as pure request builders and response parsers (no I/O)."""

from ._base import Channel, Receipt

__all__ = ["Channel", "Receipt"]
