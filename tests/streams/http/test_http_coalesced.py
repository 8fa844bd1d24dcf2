"""Concurrent readers share reads, get an answer older than their request only while the
worker is behind, and reads leave the event loop to the worker most of the time."""

from __future__ import annotations

import asyncio
import time

import pytest

from streams.http.coalesced import MAX_PAUSE_SECONDS, Coalesced
from tests.waiting import wait_until_async


def burn(seconds: float) -> None:
    """Use `seconds` of this thread's CPU time."""
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        pass


class CountingRead:
    """A read that waits a turn of the loop, then takes `seconds` of its CPU time; returns
    how many reads started so far."""

    def __init__(self, seconds: float = 0.01) -> None:
        self.seconds = seconds
        self.started = 0

    async def __call__(self) -> int:
        self.started += 1
        number = self.started
        await asyncio.sleep(0.001)
        burn(self.seconds)
        return number


async def test_200_concurrent_readers_share_one_read() -> None:
    read = CountingRead()
    shared = Coalesced(read)
    answers = await asyncio.gather(*(shared() for _ in range(200)))
    assert read.started == 1 and set(answers) == {1}


async def test_a_reader_never_gets_a_read_that_started_before_it_asked() -> None:
    read = CountingRead()
    shared = Coalesced(read)
    first = asyncio.create_task(shared())
    while read.started == 0:  # until the first read runs
        await asyncio.sleep(0)
    late = asyncio.create_task(shared())
    assert await first == 1
    assert await late == 2  # it asked while read 1 ran: it waits for read 2


async def test_reads_take_at_most_their_busy_share_of_the_loop() -> None:
    read = CountingRead(seconds=0.01)
    shared = Coalesced(read, busy_share=0.1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    while loop.time() - started < 0.5:  # a reader that asks again as soon as it is answered
        await shared()
    reading = read.started * read.seconds
    assert reading <= 0.1 * (loop.time() - started) + read.seconds


async def test_waiting_and_other_tasks_work_meanwhile_do_not_count_as_a_reads_cost() -> None:
    """A read waiting for the broker while the worker applies a batch leaves the loop to it."""

    async def waiting_read() -> int:
        await asyncio.sleep(0.05)
        return 1

    async def batch() -> None:
        await asyncio.sleep(0.01)
        burn(0.03)

    shared = Coalesced(waiting_read)
    _, answer = await asyncio.gather(batch(), shared())
    assert answer == 1
    assert shared.due - asyncio.get_running_loop().time() < 0.1  # 0.6 s had the batch counted


async def test_a_read_that_finds_the_worker_caught_up_is_not_followed_by_a_pause() -> None:
    read = CountingRead(seconds=0.01)
    caught_up = Coalesced(read, behind=lambda _: False)
    await caught_up()
    assert caught_up.due <= asyncio.get_running_loop().time()
    behind = Coalesced(read, behind=lambda _: True)
    await behind()
    assert behind.due - asyncio.get_running_loop().time() >= 0.1  # 19 times 10 ms, less the wait


async def test_a_slow_read_delays_the_next_by_at_most_the_pause_cap() -> None:
    """A read slowed by a batch holding the loop must not keep readers waiting a backlog long."""
    read = CountingRead(seconds=0.15)  # uncapped, 0.15 s at a 5 % share would pause 2.85 s
    shared = Coalesced(read)
    await shared()
    assert shared.due - asyncio.get_running_loop().time() <= MAX_PAUSE_SECONDS


async def test_every_reader_of_a_failed_read_gets_its_error_and_the_next_read_runs() -> None:
    calls = 0

    async def failing_once() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("store unreachable")
        return calls

    shared = Coalesced(failing_once)
    results = await asyncio.gather(shared(), shared(), return_exceptions=True)
    assert all(isinstance(result, ConnectionError) for result in results)
    assert await shared() == 2


async def test_a_reader_that_leaves_does_not_cancel_the_others_read() -> None:
    read = CountingRead(seconds=0.05)
    shared = Coalesced(read)
    leaving, staying = asyncio.create_task(shared()), asyncio.create_task(shared())
    while read.started == 0:  # until their read runs
        await asyncio.sleep(0)
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert await staying == 1


async def test_rendering_a_result_found_behind_delays_the_next_read() -> None:
    read = CountingRead(seconds=0.0)
    shared = Coalesced(read)
    await shared()
    due = shared.due
    with shared.charged():
        burn(0.01)
    assert shared.due - due >= 0.2  # 10 ms at a 5 % share
    caught_up = Coalesced(read, behind=lambda _: False)
    await caught_up()
    due = caught_up.due
    with caught_up.charged():
        burn(0.01)
    assert caught_up.due == due


async def settled(shared: Coalesced[int]) -> None:
    """Wait until no read is due or running."""

    async def idle() -> bool:
        return shared.reading is None

    await wait_until_async(idle, "no read running")


async def test_while_the_worker_is_still_behind_a_caller_is_answered_at_once_and_asks_anew() -> (
    None
):
    read = CountingRead(seconds=0.01)  # at a 5 % share, a pause of about 0.2 s follows a read
    shared = Coalesced(read, still_behind=lambda _: True)
    assert await shared() == 1  # nothing read yet: it waits
    assert await shared() == 1  # at once, while read 2 waits for the pause to end
    assert read.started == 1
    await settled(shared)
    assert read.started == 2  # the caller answered at once asked for it
    assert await shared() == 2


async def test_a_caller_waits_for_a_new_read_once_the_worker_is_no_longer_behind() -> None:
    read = CountingRead(seconds=0.01)
    behind = True
    shared = Coalesced(read, still_behind=lambda _: behind)
    assert await shared() == 1
    behind = False  # the worker applied past the backlog that read found
    assert await shared() == 2


async def test_a_caller_that_finds_the_worker_caught_up_does_not_wait_out_the_pause() -> None:
    """The end of a catch-up: readers waited up to MAX_PAUSE_SECONDS for the read after the
    last one that found the worker behind."""
    read = CountingRead(seconds=0.1)  # at a 5 % share, a pause of about 1.9 s follows a read
    behind = True
    shared = Coalesced(read, still_behind=lambda _: behind, caught_up=lambda _: not behind)
    assert await shared() == 1
    pause_ends = shared.due
    loop = asyncio.get_running_loop()
    assert pause_ends - loop.time() > 1.0
    assert await shared() == 1  # at once, while read 2 waits for the pause to end
    behind = False  # the worker applied past the backlog that read found
    assert await shared() == 2
    assert loop.time() < pause_ends


async def test_a_result_that_found_the_worker_caught_up_is_never_answered_again() -> None:
    read = CountingRead(seconds=0.0)
    shared = Coalesced(read, behind=lambda _: False, still_behind=lambda _: True)
    assert await shared() == 1
    assert await shared() == 2


async def test_a_failed_read_is_never_answered_over_by_the_last_result() -> None:
    calls = 0

    async def failing_second() -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionError("store unreachable")
        return calls

    shared = Coalesced(failing_second, busy_share=1.0, still_behind=lambda _: True)
    assert await shared() == 1
    assert await shared() == 1  # at once; it asks for read 2, which fails
    await settled(shared)
    assert await shared() == 3  # read 1 is no longer answered: this caller waits
