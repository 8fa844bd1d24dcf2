"""A read's cost is the CPU time of its own steps, and of the tasks it starts that are counted."""

from __future__ import annotations

import asyncio
import time

import pytest

from streams.read.loop_cost import LoopCost, counted, measured


def burn(seconds: float) -> None:
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        pass


async def test_only_the_steps_of_the_coroutine_count() -> None:
    async def read() -> str:
        burn(0.02)
        await asyncio.sleep(0.05)  # meanwhile another task works
        burn(0.02)
        return "done"

    async def other() -> None:
        await asyncio.sleep(0.01)
        burn(0.1)

    cost = LoopCost()
    answer, _ = await asyncio.gather(measured(read(), cost), other())
    assert answer == "done"
    assert 0.04 <= cost.seconds < 0.08


async def test_a_counted_task_started_by_the_read_adds_to_its_cost() -> None:
    async def shared_work() -> int:
        await asyncio.sleep(0)
        burn(0.03)
        return 7

    async def read() -> int:
        return await asyncio.ensure_future(counted(shared_work()))

    cost = LoopCost()
    assert await measured(read(), cost) == 7
    assert cost.seconds >= 0.03


async def test_outside_a_measured_read_counted_leaves_the_coroutine_as_it_is() -> None:
    async def work() -> int:
        return 1

    coroutine = work()
    assert counted(coroutine) is coroutine
    assert await coroutine == 1


async def test_errors_and_cancellation_reach_the_coroutine() -> None:
    cleaned = asyncio.Event()

    async def failing() -> None:
        await asyncio.sleep(0)
        raise ValueError("broken")

    async def waiting() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            cleaned.set()

    with pytest.raises(ValueError, match="broken"):
        await measured(failing(), LoopCost())
    task = asyncio.ensure_future(measured(waiting(), LoopCost()))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned.is_set()
