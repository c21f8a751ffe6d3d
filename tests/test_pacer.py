"""The pacer: slots on an absolute schedule, no burst, a pause that holds everyone."""

from __future__ import annotations

import asyncio

import pytest

from campaignkit._pacer import Pacer


class SteppedClock:
    """Time moves only when the test says so; sleepers wake when their time has come."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sleepers.append((self.t + seconds, future))
        await future

    async def advance_to(self, t: float) -> None:
        self.t = t
        for wake, future in list(self.sleepers):
            if wake <= t + 1e-9 and not future.done():
                future.set_result(None)
        for _ in range(5):
            await asyncio.sleep(0)


def test_repr_reads_like_the_call():
    """A pacer shows its rate."""
    assert repr(Pacer(rate=50.0)) == "Pacer(rate=50.0)"


@pytest.mark.parametrize("rate", [0, -1.0])
def test_rate_must_be_positive(rate):
    """A rate of zero or less is refused with the value given."""
    with pytest.raises(ValueError, match=f"rate must be > 0 messages per second, got {rate}"):
        Pacer(rate)


def test_slots_follow_the_schedule_without_a_first_second_burst():
    """Ten callers at once start at 0.0, 0.1, ... 0.9 s: never more than the rate."""
    clock = SteppedClock()
    pacer = Pacer(10.0, clock=clock, sleep=clock.sleep)

    async def main() -> list[float]:
        tasks = [asyncio.ensure_future(pacer.acquire()) for _ in range(10)]
        for step in range(11):
            await clock.advance_to(step / 10)
        return [round(t, 6) for t in await asyncio.gather(*tasks)]

    assert asyncio.run(main()) == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def test_a_late_caller_catches_up_at_most_one_interval():
    """After an idle gap the next callers hold the slots 4.9, 5.0 and 5.1 (one interval of
    catch-up) but leave no closer than 0.1/1.01 s apart: 5.0, 5.0990, 5.1980."""
    clock = SteppedClock()
    pacer = Pacer(10.0, clock=clock, sleep=clock.sleep)
    left: list[float] = []

    async def caller() -> float:
        slot = await pacer.acquire()
        left.append(round(clock(), 3))
        return round(slot, 6)

    async def main() -> list[float]:
        first = await caller()
        await clock.advance_to(5.0)
        later = [asyncio.ensure_future(caller()) for _ in range(3)]
        await asyncio.sleep(0)  # they take their slots at 5.0
        for step in range(1, 300):
            await clock.advance_to(round(5.0 + step * 0.001, 6))
        return [first, *await asyncio.gather(*later)]

    assert asyncio.run(main()) == [0.0, 4.9, 5.0, 5.1]
    assert left == [0.0, 5.0, 5.1, 5.199]  # the first millisecond step at or after each


def test_a_pause_holds_callers_already_waiting_for_an_earlier_slot():
    """pause_for(2) at t=0 moves a caller asleep towards 0.1 s to 2.0 s, the next to 2.1 s."""
    clock = SteppedClock()
    pacer = Pacer(10.0, clock=clock, sleep=clock.sleep)

    async def main() -> list[float]:
        first = await pacer.acquire()
        waiting = [asyncio.ensure_future(pacer.acquire()) for _ in range(2)]
        await asyncio.sleep(0)
        pacer.pause_for(2.0)
        for t in (0.1, 0.2, 2.0, 2.1):
            await clock.advance_to(t)
        return [round(t, 6) for t in (first, *await asyncio.gather(*waiting))]

    assert asyncio.run(main()) == [0.0, 2.0, 2.1]
    assert pacer.resume_at == 2.0


def test_callers_woken_late_together_leave_at_most_2_percent_above_the_rate():
    """A loop stall wakes 6 slot holders at once: they leave 0.1/1.01 s apart, so no window
    rises more than 2 % above the rate."""
    clock = SteppedClock()
    pacer = Pacer(10.0, clock=clock, sleep=clock.sleep)
    released: list[float] = []

    async def caller() -> None:
        await pacer.acquire()
        released.append(round(clock(), 3))

    async def main() -> None:
        tasks = [asyncio.ensure_future(caller()) for _ in range(6)]
        await clock.advance_to(0.0)
        await clock.advance_to(2.0)  # the stall: slots 0.1 to 0.5 all passed meanwhile
        for step in range(1, 400):
            await clock.advance_to(round(2.0 + step * 0.001, 6))
        await asyncio.gather(*tasks)

    asyncio.run(main())
    # After the stall: 2.0, then 0.0990 s apart, seen at the first millisecond step at or
    # after each.
    assert released == [0.0, 2.0, 2.1, 2.199, 2.298, 2.397]
