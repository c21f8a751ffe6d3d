"""Running later: debounced, in a worker thread and as tasks on the kernel's loop, or at once.

In a kernel the Composer's callbacks run on the kernel's event loop: the totals of every row
are computed in one worker thread after the typing pauses, and a send is a task, so Stop is
heard. In a script or a test without a loop, everything runs at once in the caller's thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine
from typing import Any

from .._loop import run_blocking

__all__ = ["OnLoop", "Scheduler"]


class Scheduler:
    """At once, in the caller's thread: a script, a test without an event loop."""

    def debounce(self, key: str, seconds: float, work: Callable[[], None]) -> None:
        work()

    def background(self, work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        done(work())

    def start(self, factory: Callable[[], Coroutine[Any, Any, None]]) -> asyncio.Task[None] | None:
        run_blocking(factory)
        return None


class OnLoop(Scheduler):
    """On the kernel's running loop: debounced timers, one worker thread, tasks."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ck-composer")

    def debounce(self, key: str, seconds: float, work: Callable[[], None]) -> None:
        old = self.timers.pop(key, None)
        if old is not None:
            old.cancel()
        self.timers[key] = self.loop.call_later(seconds, work)

    def background(self, work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        future = self.loop.run_in_executor(self.pool, work)
        future.add_done_callback(lambda f: done(f.result()))

    def start(self, factory: Callable[[], Coroutine[Any, Any, None]]) -> asyncio.Task[None] | None:
        return self.loop.create_task(factory())


