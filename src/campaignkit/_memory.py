"""Memory of the large steps: which allocator Arrow uses while campaignkit works, and giving
freed memory back to the system.

Arrow's default pool (mimalloc in the pyarrow wheels) keeps its own heap beside the C
library's. On the largest sheet (1,048,575 rows) campaignkit's steps allocate and free
hundreds of MiB of both Arrow buffers and Python objects; with two heaps neither can reuse
what the other freed, and on machines where first touching fresh memory is slow (virtual
machines) that costs seconds. Measured (docs/performance.md#what-made-the-difference): load +
render + plan of the CSV in 7.6 s and 873 MiB at peak with the system pool against 11.7 s and
961 MiB with mimalloc. `system_pool` chooses the C library's allocator for the duration of
one step only, and never when the user chose a pool with ``ARROW_DEFAULT_MEMORY_POOL``
(https://arrow.apache.org/docs/cpp/env_vars.html).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

import pyarrow as pa

__all__ = ["give_back", "system_pool"]

P = ParamSpec("P")
R = TypeVar("R")

_LOCK = threading.Lock()
_DEPTH = 0  # nested steps (plan calls decide) switch once
_BEFORE: pa.MemoryPool | None = None


@contextlib.contextmanager
def _system_pool() -> Iterator[None]:
    global _DEPTH, _BEFORE
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):  # the user's choice stands
        yield
        return
    with _LOCK:
        if _DEPTH == 0:
            _BEFORE = pa.default_memory_pool()
            pa.set_memory_pool(pa.system_memory_pool())
        _DEPTH += 1
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH -= 1
            if _DEPTH == 0 and _BEFORE is not None:
                # Buffers remember their pool: those made meanwhile are freed by the system's.
                pa.set_memory_pool(_BEFORE)
                _BEFORE = None


def system_pool(function: Callable[P, R]) -> Callable[P, R]:
    """Run ``function`` with Arrow allocating from the C library's allocator."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with _system_pool():
            return function(*args, **kwargs)

    return wrapper


@functools.cache
def _libc() -> Any:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def give_back() -> None:
    """Return the memory freed by millions of small objects (a sheet's cells) to the system.

    glibc keeps freed small blocks in its heap, so the process would stay as large as the
    reader's copy of the sheet for the rest of the session; ``malloc_trim`` hands the free
    pages back (https://man7.org/linux/man-pages/man3/malloc_trim.3.html). Elsewhere the
    allocator does this by itself or the call does not exist: nothing is done.
    """
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None) if libc is not None else None
    if trim is not None:
        trim(0)
