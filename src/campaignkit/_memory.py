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

For the same step, glibc is asked to keep what is freed for reuse (``mallopt``): blocks
above 32 MiB (any column of a million rows) are otherwise mapped fresh from the system
and unmapped when freed, so every pass touches new pages. Measured on the largest CSV:
load + render + plan 4.3-4.6 s with reuse against 4.9-5.3 s without, the same peak. When
the outermost step ends, glibc's usual limits are set back (its dynamic thresholds'
ceiling). What the step freed stays in the heap for the next step: handing it back
(``malloc_trim``) would make `render` after `load_recipients` touch fresh pages again (0.3
to 1.2 s instead of 0.27 s); on the largest sheet the process keeps about 150 MiB more
between steps, and the peak is the same.
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


# mallopt(3) parameters and values: https://man7.org/linux/man-pages/man3/mallopt.3.html
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_REUSE = {_M_MMAP_THRESHOLD: 256 << 20, _M_TRIM_THRESHOLD: 1 << 30}
# glibc's own thresholds rise up to these as large blocks are freed (its dynamic ceiling)
_USUAL = {_M_MMAP_THRESHOLD: 32 << 20, _M_TRIM_THRESHOLD: 64 << 20}


@contextlib.contextmanager
def _system_pool() -> Iterator[None]:
    global _DEPTH, _BEFORE
    with _LOCK:
        if _DEPTH == 0:
            _mallopt(_REUSE)
            if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):  # the user's choice stands
                _BEFORE = pa.default_memory_pool()
                pa.set_memory_pool(pa.system_memory_pool())
        _DEPTH += 1
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH -= 1
            if _DEPTH == 0:
                if _BEFORE is not None:
                    # Buffers remember their pool: those made meanwhile are freed by the
                    # system's.
                    pa.set_memory_pool(_BEFORE)
                    _BEFORE = None
                _mallopt(_USUAL)


def _mallopt(settings: dict[int, int]) -> None:
    """Set glibc's allocator ``settings``; elsewhere there is no such call: nothing."""
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None) if libc is not None else None
    if mallopt is not None:
        for parameter, value in settings.items():
            mallopt(parameter, value)


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
