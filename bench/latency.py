"""(b) End-to-end latency: from an event's production to its effect in `/kpis`, at a steady load.

The producer sends on a fixed schedule and notes, per tick, how many events it
has sent by then; a poller reads `/kpis` back to back (one request at a time).
The i-th event counts as visible at the first response, received after it was
sent, whose accepted count reaches i: so a latency includes the response time
and up to one poll interval of resolution.
"""

from __future__ import annotations

import asyncio
import bisect
import gc
import time
from dataclasses import dataclass

import aiohttp
from aiokafka import AIOKafkaProducer

from bench.workload import KafkaRecord
from tests.waiting import wait_until_async

TICK_SECONDS = 0.005
POLL_SECONDS = 0.02


@dataclass(frozen=True)
class LatencyResult:
    offered_per_second: float
    achieved_per_second: float
    events: int
    p50_ms: float
    p99_ms: float
    max_ms: float


async def _accepted(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(f"{url}/kpis") as response:
        document = await response.json()
    return int(document["events"]["accepted"])


async def _poll(
    session: aiohttp.ClientSession, url: str, seen: list[tuple[float, int]], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        accepted = await _accepted(session, url)
        seen.append((time.perf_counter(), accepted))
        await asyncio.sleep(POLL_SECONDS)


class _Deliveries:
    """Counts the broker's acknowledgements (holding no future per event: a list of every
    send's future made this process's own garbage collections long enough to show in the
    latencies)."""

    def __init__(self) -> None:
        self.count = 0
        self.errors: list[BaseException] = []

    def done(self, future: asyncio.Future[object]) -> None:
        self.count += 1
        if (error := future.exception()) is not None:
            self.errors.append(error)


async def _send(
    producer: AIOKafkaProducer, records: list[KafkaRecord], rate: float
) -> tuple[list[tuple[float, int]], float]:
    """Send `records` at `rate`; (send time, events sent so far) per tick, and the duration."""
    sent_at: list[tuple[float, int]] = []
    deliveries = _Deliveries()
    started = time.perf_counter()
    sent = 0
    while sent < len(records):
        now = time.perf_counter()
        due = min(len(records), int((now - started) * rate) + 1)
        for record in records[sent:due]:
            delivery = await producer.send(record.topic, record.value, key=record.key)
            delivery.add_done_callback(deliveries.done)
        if due > sent:
            sent = due
            sent_at.append((time.perf_counter(), sent))
        await asyncio.sleep(TICK_SECONDS)
    duration = time.perf_counter() - started

    async def acknowledged() -> int:
        return deliveries.count

    await wait_until_async(acknowledged, "every send acknowledged", lambda n: n >= len(records))
    if deliveries.errors:
        raise deliveries.errors[0]
    return sent_at, duration


def _percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


async def measure(
    bootstrap: str, url: str, records: list[KafkaRecord], rate: float
) -> LatencyResult:
    """Offer `records` at `rate` events/s to a running worker; latency percentiles per event.

    The records, made before, are frozen out of this process's garbage collections (a full
    pass over them took up to 300 ms, which the latencies counted)."""
    gc.collect()
    gc.freeze()
    try:
        return await _measure(bootstrap, url, records, rate)
    finally:
        gc.unfreeze()


async def _measure(
    bootstrap: str, url: str, records: list[KafkaRecord], rate: float
) -> LatencyResult:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=1)
    await producer.start()
    async with aiohttp.ClientSession() as session:
        base = await _accepted(session, url)
        seen: list[tuple[float, int]] = []
        stop = asyncio.Event()
        poller = asyncio.create_task(_poll(session, url, seen, stop))
        try:
            sent_at, duration = await _send(producer, records, rate)

            async def applied() -> int:
                return seen[-1][1] if seen else base

            await wait_until_async(
                applied,
                f"{len(records)} events at {rate:g}/s all applied",
                lambda accepted: accepted >= base + len(records),
            )
        finally:
            stop.set()
            await poller
            await producer.stop()
    latencies = _latencies(sent_at, seen, base)
    return LatencyResult(
        offered_per_second=rate,
        achieved_per_second=len(records) / duration,
        events=len(records),
        p50_ms=_percentile(latencies, 0.50) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
        max_ms=latencies[-1] * 1000,
    )


def _latencies(
    sent_at: list[tuple[float, int]], seen: list[tuple[float, int]], base: int
) -> list[float]:
    """Per event, seconds from its tick to the first response after it that counts it."""
    seen_times = [at for at, _ in seen]
    latencies: list[float] = []
    previous = 0
    for at, total in sent_at:
        first = bisect.bisect_right(seen_times, at)
        visible = next(t for t, accepted in seen[first:] if accepted - base >= total)
        latencies.extend([visible - at] * (total - previous))
        previous = total
    return sorted(latencies)
