"""Many readers, few reads: concurrent `/kpis` and `/metrics` requests share one read.

Every caller gets the result of a read that started after it asked, or one that says it
is behind: an answer saying the worker has caught up is never older than its request (a
`snapshot --wait-idle` right after `produce` sees the new events). Callers arriving
while a read runs share the next one, and reads are spaced so that they take at most
`busy_share` of the event loop, which the worker's own batches need: 200 readers cost
about what one reader polling without pause does.
The pause is capped: a read's time includes waiting for a batch to finish, and an
uncapped pause would leave readers without an answer for as long as a backlog lasts. The
cap is what a reader could wait while the worker catches up on a large state, where one
read costs about 0.1 s of the loop: 2 s keeps that at the 5 % share. An idle or live worker
reads in milliseconds, and answers as fast. While it catches up, the latest snapshot
already says it is behind: readers get that one at once, up to a rate (`Coalesced`), as
long as it still tells the store's health as it is (`LastGoodSnapshot.still_behind`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
BUSY_SHARE = 0.05  # at most this share of the loop's time goes to reads
MAX_PAUSE_SECONDS = 2.0  # between two reads, whatever the last one cost
IMMEDIATE_PER_SECOND = 20.0  # callers answered at once with a result known to be behind


class Allowance:
    """A token bucket: at most `per_second` takes a second, in bursts of as many."""

    def __init__(self, per_second: float) -> None:
        self.per_second = per_second
        self.tokens = per_second
        self.at = 0.0

    def take(self, now: float) -> bool:
        self.tokens = min(self.per_second, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Coalesced(Generic[T]):
    """Calls `read` for every caller, once per group of callers that arrived together.

    Given `behind`, a caller may instead get the latest result at once when `behind` says
    it is known to be out of date anyway (a snapshot taken while the worker was catching
    up, lag > 0): a next read is then due for the others, and at most
    `immediate_per_second` callers a second are answered so, or readers asking again as
    soon as they are answered would take the loop from the worker's batches.
    """

    def __init__(
        self,
        read: Callable[[], Awaitable[T]],
        busy_share: float = BUSY_SHARE,
        behind: Callable[[T], bool] | None = None,
        immediate_per_second: float = IMMEDIATE_PER_SECOND,
    ) -> None:
        self.read = read
        self.busy_share = busy_share
        self.behind = behind
        self.immediate = Allowance(immediate_per_second)
        self.latest: T | None = None  # the last result read
        self.next: asyncio.Future[T] | None = None  # the read the next callers share
        self.reading: asyncio.Task[None] | None = None
        self.due = 0.0  # loop time before which no new read starts

    async def __call__(self) -> T:
        loop = asyncio.get_running_loop()
        latest, behind = self.latest, self.behind
        if self.next is None:
            self.next = loop.create_future()
            self.next.add_done_callback(_retrieved)  # nobody may be waiting for it
        if self.reading is None:
            self.reading = loop.create_task(self._read_while_asked())
        known_behind = latest is not None and behind is not None and behind(latest)
        if known_behind and self.immediate.take(loop.time()):
            return latest  # type: ignore[return-value]
        # A caller that gives up (its client left) must not cancel the others' read.
        return await asyncio.shield(self.next)

    async def _read_while_asked(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.next is not None:
                await asyncio.sleep(max(0.0, self.due - loop.time()))
                future, self.next = self.next, None  # who asks from now on waits for the next
                started = loop.time()
                try:
                    self.latest = await self.read()
                    future.set_result(self.latest)
                except Exception as error:  # every caller of this read gets it
                    future.set_exception(error)
                spent = loop.time() - started
                pause = min(spent / self.busy_share - spent, MAX_PAUSE_SECONDS)
                self.due = loop.time() + pause
        finally:
            self.reading = None


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Marks a read's error as seen: callers answered at once never wait for that read."""
    if not future.cancelled():
        future.exception()
