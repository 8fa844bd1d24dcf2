"""What a read costs the event loop: the CPU time of its own steps, not of what runs while it
waits.

A read waits for the broker, for Redis and for its turn of the loop; meanwhile the worker
applies batches on the same thread, so neither the wall time nor the thread's CPU time
from start to end tells the read's own cost. `measured` runs a coroutine step by step,
adding each step's CPU time to a `LoopCost`; `counted` does the same for a task the read
starts (a shared read of the store), adding to the cost of the read that started it.
"""

from __future__ import annotations

import time
import types
from collections.abc import Awaitable, Coroutine, Generator
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")


class LoopCost:
    """CPU seconds of the loop thread spent in the steps measured under it."""

    def __init__(self) -> None:
        self.seconds = 0.0


_current: ContextVar[LoopCost | None] = ContextVar("crmkpi_loop_cost", default=None)


async def measured(awaitable: Awaitable[T], cost: LoopCost) -> T:
    """Await `awaitable`, adding its steps' CPU time, and that of the tasks it starts that
    are `counted`, to `cost`."""
    token = _current.set(cost)  # tasks created from here on inherit it
    try:
        return await _steps(awaitable.__await__(), cost)
    finally:
        _current.reset(token)


def counted(coroutine: Coroutine[Any, Any, T]) -> Coroutine[Any, Any, T]:
    """`coroutine`, its steps' CPU time added to the cost of the read it runs for, if any."""
    cost = _current.get()
    return coroutine if cost is None else _run(coroutine, cost)


async def _run(coroutine: Coroutine[Any, Any, T], cost: LoopCost) -> T:
    return await _steps(coroutine.__await__(), cost)


@types.coroutine
def _steps(steps: Generator[Any, Any, T], cost: LoopCost) -> Generator[Any, Any, T]:
    """Drive `steps` as `await` would, timing each resumption."""
    value: Any = None
    error: BaseException | None = None
    while True:
        started = time.thread_time()
        try:
            yielded = steps.send(value) if error is None else steps.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            cost.seconds += time.thread_time() - started
        try:
            value, error = (yield yielded), None
        except BaseException as thrown:  # cancellation included: handed to the coroutine
            value, error = None, thrown
