"""A faithful local emulator of the Sociocs, TextUs and Bird send APIs.

One pure handler (`Sandbox.handle`) answers like the providers' documents say; it runs
in-process as an httpx transport (`Sandbox.transport`) or over loopback HTTP
(`Sandbox.asgi_app`, `serve`, ``python -m campaignkit.sandbox``). `Faults` injects 429s,
5xx, dropped connections and stalls deterministically from the seed, and every accepted
message is recorded in SQLite (`Sandbox.accepted`, `read_record`): the ground truth of
what a provider would have received. With a `Story`, accepted messages then live on over
virtual time (`Sandbox.advance`): delivered, undelivered or failed with real error codes,
answered, opted out; the follow-up endpoints (statuses, lists, opt-outs, bulk jobs) and
Sociocs webhooks tell it.
"""

from __future__ import annotations

from ._asgi import serve
from ._auth import SandboxCredentials
from ._cli import main
from ._common import Reply
from ._faults import Faults
from ._handler import Sandbox
from ._record import read_record
from ._story import Story
from ._transport import SandboxTransport

__all__ = [
    "Faults",
    "Reply",
    "Sandbox",
    "SandboxCredentials",
    "SandboxTransport",
    "Story",
    "main",
    "read_record",
    "serve",
]
