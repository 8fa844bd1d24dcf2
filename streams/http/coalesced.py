"""Many readers, few reads: concurrent `/kpis` and `/metrics` requests share one read.

A caller gets the result of a read that started after it asked (but see below, while the
worker catches up). Callers arriving while a read runs share the next one, and reads are
spaced so that they take at most `busy_share` of the event loop, which the worker's
own batches need: 200 readers cost about what one reader polling without pause does.
A read's cost is the CPU time of its own steps on the loop (`loop_cost`): neither its
wait for the broker or Redis nor the batches applied meanwhile count, so a reader of a
worker catching up waits a few times what a read costs, not seconds. The pause is capped,
in case one read is very slow. A read that finds no backlog (the server's `behind`: no more
records waiting than one fetch takes) is not followed by a pause: live traffic does not
need the loop's every turn, and a backlog that builds up makes the next read behind.

While the worker catches up, callers do not wait for the next read: a caller is answered at
once with the last result when that result found the worker behind and `still_behind` says
it still is (its own partitions have more records waiting than one fetch takes, by the end
offsets that read saw). Such an answer is older than its request, and says so: its
`processed_at` and its lag, which is larger than now. A caller still starts the next read
for those after it. A result that found the worker caught up is never answered again, so
an answer with no backlog is never older than its request (a `snapshot --wait-idle` right
after `produce` sees the new events), nor is any answer once the worker has caught up.
A caller that finds the worker caught up since (`caught_up`: by its own partitions, though
the last read still found records waiting, maybe another worker's) ends the pause: it waits
for a read as live traffic's readers do, not for up to `MAX_PAUSE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from streams.read.loop_cost import LoopCost, measured

T = TypeVar("T")
BUSY_SHARE = 0.05  # at most this share of the loop's time goes to reads
MAX_PAUSE_SECONDS = 2.0  # between two reads, whatever the last one cost
LAST_ANSWERED_SECONDS = 10.0  # the oldest result found behind that still answers at once


class Coalesced(Generic[T]):
    """Calls `read` for every caller, once per group of callers that arrived together;
    `behind` tells whether a result found the worker behind (then a pause follows), and
    `still_behind` whether the worker still is behind by such a result (then it answers
    callers until the next read ends), `caught_up` whether it has applied past what such a
    result found (then a caller that waits ends the pause)."""

    def __init__(
        self,
        read: Callable[[], Awaitable[T]],
        busy_share: float = BUSY_SHARE,
        behind: Callable[[T], bool] = lambda _: True,
        still_behind: Callable[[T], bool] = lambda _: False,
        caught_up: Callable[[T], bool] = lambda _: False,
    ) -> None:
        self.read = read
        self.busy_share = busy_share
        self.behind = behind
        self.still_behind = still_behind
        self.caught_up = caught_up
        self.next: asyncio.Future[T] | None = None  # the read the next callers share
        self.reading: asyncio.Task[None] | None = None
        self.due = 0.0  # loop time before which no new read starts
        self.pausing = False  # whether the last read found the worker behind
        self.last: tuple[float, T] | None = None  # loop time and result of a read found behind
        self.hurried = asyncio.Event()  # set when a caller ends the pause (`due` moved to now)

    async def __call__(self) -> T:
        loop = asyncio.get_running_loop()
        if self.next is None:
            self.next = loop.create_future()
        if self.reading is None:
            self.reading = loop.create_task(self._read_while_asked())
        if (last := self._last_still_behind(loop.time())) is not None:
            return last
        if self.last is not None and self.caught_up(self.last[1]):
            self.due = loop.time()
            self.hurried.set()
        # A caller that gives up (its client left) must not cancel the others' read.
        return await asyncio.shield(self.next)

    def _last_still_behind(self, now: float) -> T | None:
        """The last result, if it found the worker behind and the worker still is."""
        if self.last is None:
            return None
        read_at, result = self.last
        if now - read_at > LAST_ANSWERED_SECONDS or not self.still_behind(result):
            return None
        return result

    async def _read_while_asked(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.next is not None:
                await self._pause()
                future, self.next = self.next, None  # who asks from now on waits for the next
                cost = LoopCost()
                behind = True
                try:
                    result = await measured(self.read(), cost)
                    future.set_result(result)
                    behind = self.behind(result)
                    self.last = (loop.time(), result) if behind else None
                except Exception as error:  # every caller of this read gets it
                    future.set_exception(error)
                    future.exception()  # retrieved: its callers may all have had the last result
                    self.last = None
                spent, self.pausing = cost.seconds, behind
                pause = min(spent / self.busy_share - spent, MAX_PAUSE_SECONDS) if behind else 0.0
                self.due = loop.time() + pause
        finally:
            self.reading = None

    async def _pause(self) -> None:
        """Wait until `due`, which a caller may move to now meanwhile."""
        loop = asyncio.get_running_loop()
        while (left := self.due - loop.time()) > 0:
            self.hurried.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.hurried.wait(), left)

    @contextmanager
    def charged(self) -> Iterator[None]:
        """Count the CPU time of the block (rendering a result) as reading: after a read that
        found the worker behind, it delays the next read as the read's own steps do."""
        started = time.thread_time()
        try:
            yield
        finally:
            if self.pausing:
                spent = time.thread_time() - started
                latest = asyncio.get_running_loop().time() + MAX_PAUSE_SECONDS
                self.due = min(self.due + spent / self.busy_share, latest)
