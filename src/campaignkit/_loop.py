"""Run a coroutine to completion from blocking code, also inside a running event loop.

In a Jupyter cell an event loop is already running on the main thread, so ``asyncio.run``
fails and ``nest_asyncio`` is not an option (docs/jupyter.md#sync-and-async-in-notebooks).
The coroutine then runs on one background event-loop thread owned by campaignkit; the
caller's thread blocks on its result.
A ``KeyboardInterrupt`` (Ctrl-C, Jupyter's "interrupt kernel") cancels the coroutine and waits
for its cleanup, so the sender can record in-flight rows in the ledger truthfully before the
interrupt propagates.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["run_blocking"]

T = TypeVar("T")

#: How long an interrupted caller waits for the coroutine's cleanup (ledger writes).
CLEANUP_TIMEOUT = 30.0

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def _background_loop() -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    global _loop, _thread
    with _lock:
        if _loop is None or _thread is None or not _thread.is_alive():
            _loop = asyncio.new_event_loop()
            _thread = threading.Thread(
                target=_loop.run_forever, name="campaignkit-loop", daemon=True
            )
            _thread.start()
        return _loop, _thread


def run_blocking(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Return ``await factory()``, run with ``asyncio.run`` or on the background loop thread.

    ``factory`` is called on the thread that runs the coroutine, so clients it creates
    belong to that loop.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        running = False
    else:
        running = True
    if not running:
        # Outside the except block: an error of the campaign must not carry a chained
        # "RuntimeError: no running event loop".
        return asyncio.run(factory())

    loop, thread = _background_loop()
    if threading.current_thread() is thread:
        raise RuntimeError("called from campaignkit's own loop thread: use `await send_async(...)`")
    finished = threading.Event()

    async def wrapper() -> T:
        try:
            return await factory()
        finally:
            finished.set()

    future = asyncio.run_coroutine_threadsafe(wrapper(), loop)
    try:
        return future.result()
    except BaseException:
        # KeyboardInterrupt or SystemExit in the caller's thread: cancel, then let the
        # coroutine finish its bookkeeping before the interrupt goes on.
        future.cancel()
        finished.wait(CLEANUP_TIMEOUT)
        raise
