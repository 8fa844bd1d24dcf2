"""Readers cannot slow processing: a worker's catch-up rate alone and with 200 concurrent readers.

    PYTHONPATH=$PWD python3 -m bench.readers               # 200,000 events, 200 readers, 2 pairs
    PYTHONPATH=$PWD python3 -m bench.readers --events 50000 --pairs 1

Each run is a fresh broker loaded with the same events and a `crmkpi worker` catching
up from offset 0, measured by its group's committed offsets (as throughput.py), and by the
worker process's CPU time per event, which a busy shared machine disturbs far less than the
rate: what serving readers costs the worker shows there.
Runs alternate without and with readers (each reader GETs `/kpis` and `/metrics` in
turn, back to back, for the whole run, asking for gzip as Prometheus and browsers do), so
a drift of the shared machine hits both. The readers run in a process of their own at the
lowest CPU priority: they stand for browsers and scrapers on other machines, and on a
2-core machine their own CPU would otherwise be taken from the worker and counted as the
cost of serving them.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import statistics
import tempfile
from collections.abc import Callable
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Annotated

import aiohttp
import typer

from bench import services, throughput, workload
from streams.kafka.topics import Topics

TIMEOUT_SECONDS = 600.0
POLL_SECONDS = 0.1
GZIP = {"Accept-Encoding": "gzip"}


async def read_until(url: str, stop: asyncio.Event) -> int:
    """GET /kpis and /metrics in turn until `stop`; the number of answers."""
    answers = 0
    async with aiohttp.ClientSession() as client:
        while not stop.is_set():
            for path in ("/kpis", "/metrics"):
                async with client.get(url + path, headers=GZIP) as response:
                    await response.read()
                answers += 1
    return answers


async def read_while(url: str, readers: int, running: Callable[[], bool]) -> int:
    """`readers` clients reading until `running()` is false; the number of answers."""
    stop = asyncio.Event()
    clients = [asyncio.create_task(read_until(url, stop)) for _ in range(readers)]
    while running():
        await asyncio.sleep(POLL_SECONDS)
    stop.set()
    return sum(await asyncio.gather(*clients))


def readers_process(url: str, readers: int, stop: EventType, answers: Queue[int]) -> None:
    """The readers' process: lowest CPU priority, reading until `stop` is set."""
    os.nice(19)
    answers.put(asyncio.run(read_while(url, readers, lambda: not stop.is_set())))


async def rate_with_readers(
    bootstrap: str, group: str, topics: Topics, url: str, expected: int, readers: int
) -> tuple[float, int]:
    """The catch-up rate (events/s) while `readers` clients read; and how many reads they made."""
    if not readers:
        rate = await throughput.worker_rate(bootstrap, group, topics, expected, TIMEOUT_SECONDS)
        return rate.per_second, 0
    stop = multiprocessing.Event()
    answers: Queue[int] = multiprocessing.Queue()
    process = multiprocessing.Process(target=readers_process, args=(url, readers, stop, answers))
    process.start()
    try:
        rate = await throughput.worker_rate(bootstrap, group, topics, expected, TIMEOUT_SECONDS)
    finally:
        stop.set()
        answered = answers.get(timeout=60)
        process.join()
    return rate.per_second, answered


def run(
    records: list[workload.KafkaRecord], logs: Path, name: str, readers: int
) -> tuple[float, float, int]:
    """One worker catching up on a fresh broker loaded with `records`, with `readers` reading:
    its rate (events/s), its CPU time per event (µs) and the reads answered."""
    with services.broker(logs) as bootstrap:
        topics = asyncio.run(throughput.load_topics(bootstrap, records))
        with services.worker(bootstrap, logs, name) as (url, pid):
            group = f"bench-{name}"
            cpu_before = services.cpu_seconds(pid)
            rate, answers = asyncio.run(
                rate_with_readers(bootstrap, group, topics, url, len(records), readers)
            )
            cpu_us = 1e6 * (services.cpu_seconds(pid) - cpu_before) / len(records)
            return rate, cpu_us, answers


def main(
    events: Annotated[int, typer.Option(help="Pre-loaded events.")] = 200_000,
    readers: Annotated[int, typer.Option(help="Concurrent readers.")] = 200,
    pairs: Annotated[int, typer.Option(help="Runs without, then with readers.")] = 2,
) -> None:
    with tempfile.TemporaryDirectory(prefix="crmkpi-bench-readers-") as directory:
        logs = Path(directory)
        records = workload.keyed(workload.simulated(events), Topics())
        alone, read = [], []
        for pair in range(pairs):
            alone.append(run(records, logs, f"alone-{pair}", 0))
            read.append(run(records, logs, f"read-{pair}", readers))
            (rate, cpu, _), (rate_r, cpu_r, answers) = alone[-1], read[-1]
            print(
                f"pair {pair + 1}: alone {rate:,.0f} ev/s ({cpu:.1f} µs CPU/event), {readers} "
                f"readers {rate_r:,.0f} ev/s ({cpu_r:.1f} µs CPU/event, {answers:,} reads)",
                flush=True,
            )
    rate_alone = statistics.median(rate for rate, _, _ in alone)
    rate_read = statistics.median(rate for rate, _, _ in read)
    cpu_alone = statistics.median(cpu for _, cpu, _ in alone)
    cpu_read = statistics.median(cpu for _, cpu, _ in read)
    print(
        f"{len(records):,} events: median alone {rate_alone:,.0f} ev/s, with {readers} readers "
        f"{rate_read:,.0f} ev/s: {100 * (rate_read / rate_alone - 1):+.1f} %; worker CPU per "
        f"event {cpu_alone:.1f} -> {cpu_read:.1f} µs: {100 * (cpu_read / cpu_alone - 1):+.1f} %"
    )


if __name__ == "__main__":
    typer.run(main)
