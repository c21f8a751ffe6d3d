"""Render templates in a child process held to 1 GiB of new memory and 60 s of CPU.

A template bomb that escaped the sandbox's bounds would take the test process (and the
machine it shares) with it; here it takes only the child, and the test sees a dead worker.
The cap is on address space (``RLIMIT_AS``): what the child has mapped once campaignkit is
imported, plus 1 GiB, so an allocation beyond it raises MemoryError instead of swapping.
"""

from __future__ import annotations

import multiprocessing
import resource
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import pandas as pd

GIB = 1 << 30
CPU_SECONDS = 60  # for each template
WALL_SECONDS = 60.0


def _cap() -> None:
    """Render once (the first render maps about 1 GiB of address space it never uses), then
    cap the address space."""
    import psutil
    import pyarrow as pa

    # Arrow's own allocator reserves address space ahead and cannot recover once a cap has
    # been hit; the system allocator fails one request and goes on.
    pa.set_memory_pool(pa.system_memory_pool())
    render_outcome("Hi {{ name }} {{ name | upper }}", {"name": ["Ann", ""]})
    mapped = psutil.Process().memory_info().vms
    resource.setrlimit(resource.RLIMIT_AS, (mapped + GIB, mapped + GIB))


def _limit_cpu() -> None:
    """Allow the next template CPU_SECONDS more of CPU time (past it, SIGXCPU kills the child)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    allowed = int(used.ru_utime + used.ru_stime) + CPU_SECONDS
    resource.setrlimit(resource.RLIMIT_CPU, (allowed, resource.getrlimit(resource.RLIMIT_CPU)[1]))


@dataclass(frozen=True)
class Outcome:
    """What rendering one template gave: the TemplateError, or each row's text and problems."""

    error: str | None = None
    texts: tuple[str | None, ...] = ()
    problems: tuple[tuple[str, ...], ...] = ()


def render_outcome(source: str, cells: dict[str, list[str]]) -> Outcome:
    """`render` ``source`` over a frame of ``cells`` (rows numbered from 2)."""
    from campaignkit._errors import TemplateError
    from campaignkit.templating import render

    _limit_cpu()
    n = len(next(iter(cells.values())))
    frame = pd.DataFrame(cells, index=pd.Index(range(2, 2 + n), name="row"))
    frame["to"] = "+447700900000"
    frame["problems"] = pd.Series([()] * n, index=frame.index, dtype=object)
    try:
        out = render(frame, source)
    except TemplateError as error:
        return Outcome(error=str(error))
    return Outcome(
        texts=tuple(out["text"]),
        problems=tuple(tuple(str(p) for p in row) for row in out["problems"]),
    )


def check_outcome(source: str, row: dict[str, str]) -> tuple[str | None, str | None]:
    """`check_template` of ``source`` for ``row``."""
    from campaignkit.templating import check_template

    _limit_cpu()
    return check_template(source, row)


class Child:
    """One capped worker process, started again if a template killed it."""

    def __init__(self) -> None:
        self._pool = self._start()

    @staticmethod
    def _start() -> ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")  # nothing inherited from pytest's threads
        return ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_cap)

    def render(self, source: str, cells: dict[str, list[str]]) -> Outcome:
        return self._run(render_outcome, source, cells)  # type: ignore[no-any-return]

    def check(self, source: str, row: dict[str, str]) -> tuple[str | None, str | None]:
        return self._run(check_outcome, source, row)  # type: ignore[no-any-return]

    def _run(self, function: object, *args: object) -> object:
        future = self._pool.submit(function, *args)  # type: ignore[arg-type]
        try:
            return future.result(timeout=WALL_SECONDS)
        except (BrokenProcessPool, TimeoutError):
            self.close()
            self._pool = self._start()
            raise AssertionError(
                f"the child died or ran past {WALL_SECONDS:.0f} s rendering {args[0]!r}"
            ) from None

    def close(self) -> None:
        for process in list(getattr(self._pool, "_processes", {}).values()):
            process.kill()  # a worker stuck in a bomb would never take the shutdown request
        self._pool.shutdown(wait=True, cancel_futures=True)
