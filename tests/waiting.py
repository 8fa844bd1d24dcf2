"""Waiting on a condition, for tests and benchmarks: one helper, one generous limit.

A test waits for what it needs (a worker serving, a group settled, a lag of 0),
never for a fixed time. The limit only ends a wait that will never succeed, so it
is generous and stated once: on a loaded machine a condition may take several
times longer than on an idle one without anything being wrong (docs/busy-machine.md).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

WAIT_SECONDS = 300.0 * float(os.environ.get("CRMKPI_TEST_WAIT_SCALE", "1"))
"""The longest wait of any test: a worker group applying a 100,000-event history while
workers are killed, on a machine with one core kept busy. CRMKPI_TEST_WAIT_SCALE scales it."""
FIRST_POLL_SECONDS = 0.01
POLL_SECONDS = 0.25
"""Polls start 10 ms apart and double up to this: quick for a condition about to hold,
light on a loaded machine while a worker group takes its time (a poll may scrape /metrics)."""

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A condition did not hold within the limit: names what was awaited and what was seen."""

    def __init__(self, what: str, timeout: float, last: object) -> None:
        shown = repr(last)
        if len(shown) > 500:
            shown = f"{shown[:500]}..."
        super().__init__(f"waited {timeout:g}s for {what}; last observed: {shown}")


def _truthy(value: object) -> bool:
    return bool(value)


class _Attempts:
    """One wait's bookkeeping: its deadline, and the pause before the next attempt."""

    def __init__(self, what: str, timeout: float, poll: float) -> None:
        self.what = what
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.poll = poll
        self.pause = min(FIRST_POLL_SECONDS, poll)

    def missed(self, last: object) -> float:
        """The pause before the next attempt, after one that saw `last`; out of time, fails."""
        if time.monotonic() >= self.deadline:
            raise WaitTimeout(self.what, self.timeout, last)
        pause, self.pause = self.pause, min(2 * self.pause, self.poll)
        return pause


def wait_until(
    observe: Callable[[], T],
    what: str,
    done: Callable[[T], bool] = _truthy,
    *,
    timeout: float = WAIT_SECONDS,
    ignoring: tuple[type[BaseException], ...] = (),
    poll: float = POLL_SECONDS,
) -> T:
    """Call `observe` until `done` holds for what it returns, and return that value.

    An exception of a type in `ignoring` counts as "not yet" (a server not listening
    yet); any other propagates at once (a process that exited). Raises `WaitTimeout`
    naming `what` and the last observation after `timeout` seconds. `poll`: the longest
    pause between observations (a benchmark timing the condition polls more often).
    """
    attempts = _Attempts(what, timeout, poll)
    while True:
        try:
            value = observe()
        except ignoring as error:
            time.sleep(attempts.missed(error))
            continue
        if done(value):
            return value
        time.sleep(attempts.missed(value))


async def wait_until_async(
    observe: Callable[[], Awaitable[T]],
    what: str,
    done: Callable[[T], bool] = _truthy,
    *,
    timeout: float = WAIT_SECONDS,
    ignoring: tuple[type[BaseException], ...] = (),
    poll: float = POLL_SECONDS,
) -> T:
    """`wait_until` for a coroutine function `observe`, sleeping on the event loop."""
    attempts = _Attempts(what, timeout, poll)
    while True:
        try:
            value = await observe()
        except ignoring as error:
            await asyncio.sleep(attempts.missed(error))
            continue
        if done(value):
            return value
        await asyncio.sleep(attempts.missed(value))
