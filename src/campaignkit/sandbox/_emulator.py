"""The small interface the sandbox's transports depend on, instead of the `Sandbox` class.

`Sandbox.transport` and `Sandbox.asgi_app` build the in-process and served transports; the
transports need only this much of it, so they import this module and never the class (no
import circle: ARCHITECTURE.md#what-each-module-may-import).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import httpx

from ._common import Reply
from ._faults import Faults

__all__ = ["Emulator"]


class Emulator(Protocol):
    """What a transport needs of a sandbox: its latency, its faults and one answer a request."""

    @property
    def latency(self) -> float:
        """Seconds every request waits before it is handled."""

    @property
    def faults(self) -> Faults:
        """The faults injected (a transport reads ``stall_seconds``)."""

    def handle(
        self,
        method: str,
        url: str | httpx.URL,
        headers: Sequence[tuple[str, str]] | Mapping[str, str] = (),
        body: bytes = b"",
    ) -> Reply:
        """Answer one request."""

    def advance(self, seconds: float) -> int:
        """Move the sandbox's virtual clock on (the served control endpoint); return the
        webhooks posted meanwhile."""

    def now(self) -> float:
        """The sandbox's clock."""
