"""Readers cannot slow processing: a worker's catch-up rate alone and with 200 concurrent readers.

    PYTHONPATH=$PWD python3 -m bench.readers               # 200,000 events, 200 readers, 2 pairs
    PYTHONPATH=$PWD python3 -m bench.readers --events 50000 --pairs 1
    PYTHONPATH=$PWD python3 -m bench.readers --readers 1 --every 5   # a scrape every 5 s

Each run is a fresh broker loaded with the same events and a `crmkpi worker` catching
up from offset 0, measured by its group's committed offsets (as throughput.py), and by the
worker process's CPU time per event, which a busy shared machine disturbs far less than the
rate: what serving readers costs the worker shows there.
Runs alternate without and with readers (each reader GETs `/kpis` and `/metrics` in
turn, back to back or every `--every` seconds, for the whole run, asking for gzip as
Prometheus and browsers do), so a drift of the shared machine hits both. The readers run
in a process of their own at the lowest CPU priority: they stand for browsers and scrapers
on other machines, and on a 2-core machine their own CPU would otherwise be taken from the
worker and counted as the cost of serving them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import multiprocessing
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Annotated, Any

import aiohttp
import typer

from bench import services, throughput, workload
from bench.report import spread
from streams.kafka.topics import Topics

TIMEOUT_SECONDS = 600.0
POLL_SECONDS = 0.1
GZIP = {"Accept-Encoding": "gzip"}


@dataclass(frozen=True)
class Run:
    """One catch-up: the worker's rate, its CPU time per event and the reads answered."""

    per_second: float
    cpu_us_per_event: float
    reads: int


async def read_until(url: str, stop: asyncio.Event, every: float) -> int:
    """GET /kpis and /metrics in turn, then wait `every` seconds (0: none), until `stop`;
    the number of answers."""
    answers = 0
    async with aiohttp.ClientSession() as client:
        while not stop.is_set():
            for path in ("/kpis", "/metrics"):
                async with client.get(url + path, headers=GZIP) as response:
                    await response.read()
                answers += 1
            if every:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), every)
    return answers


async def read_while(url: str, readers: int, every: float, running: Callable[[], bool]) -> int:
    """`readers` clients reading until `running()` is false; the number of answers."""
    stop = asyncio.Event()
    clients = [asyncio.create_task(read_until(url, stop, every)) for _ in range(readers)]
    while running():
        await asyncio.sleep(POLL_SECONDS)
    stop.set()
    return sum(await asyncio.gather(*clients))


def readers_process(
    url: str, readers: int, every: float, stop: EventType, answers: Queue[int]
) -> None:
    """The readers' process: lowest CPU priority, reading until `stop` is set."""
    os.nice(19)
    answers.put(asyncio.run(read_while(url, readers, every, lambda: not stop.is_set())))


async def rate_with_readers(
    bootstrap: str, group: str, topics: Topics, url: str, expected: int, readers: int, every: float
) -> tuple[float, int]:
    """The catch-up rate (events/s) while `readers` clients read; and how many reads they made."""
    if not readers:
        rate = await throughput.worker_rate(bootstrap, group, topics, expected, TIMEOUT_SECONDS)
        return rate.per_second, 0
    stop = multiprocessing.Event()
    answers: Queue[int] = multiprocessing.Queue()
    process = multiprocessing.Process(
        target=readers_process, args=(url, readers, every, stop, answers)
    )
    process.start()
    try:
        rate = await throughput.worker_rate(bootstrap, group, topics, expected, TIMEOUT_SECONDS)
    finally:
        stop.set()
        answered = answers.get(timeout=60)
        process.join()
    return rate.per_second, answered


def run(
    records: list[workload.KafkaRecord], logs: Path, name: str, readers: int, every: float
) -> Run:
    """One worker catching up on a fresh broker loaded with `records`, with `readers` reading."""
    with services.broker(logs) as bootstrap:
        topics = asyncio.run(throughput.load_topics(bootstrap, records))
        with services.worker(bootstrap, logs, name) as (url, pid):
            group = f"bench-{name}"
            cpu_before = services.cpu_seconds(pid)
            rate, answers = asyncio.run(
                rate_with_readers(bootstrap, group, topics, url, len(records), readers, every)
            )
            cpu_us = 1e6 * (services.cpu_seconds(pid) - cpu_before) / len(records)
            return Run(rate, cpu_us, answers)


def describe(readers: int, every: float) -> str:
    """`200 readers` or `1 reader every 5 s`."""
    who = f"{readers} reader{'s' if readers != 1 else ''}"
    return f"{who} every {every:g} s" if every else who


def measure(
    records: list[workload.KafkaRecord],
    logs: Path,
    readers: int,
    every: float,
    pairs: int,
    progress: Callable[[str], object],
) -> dict[str, Any]:
    """`pairs` runs without, then with `readers` (each line of progress to `progress`); the
    rates, CPU times per event and the ratios with / without of each pair."""
    alone: list[Run] = []
    read: list[Run] = []
    for pair in range(pairs):
        alone.append(run(records, logs, f"alone-{pair}", 0, every))
        read.append(run(records, logs, f"read-{pair}", readers, every))
        progress(
            f"readers pair {pair + 1}: alone {alone[-1].per_second:,.0f} ev/s "
            f"({alone[-1].cpu_us_per_event:.1f} µs CPU/event), {describe(readers, every)} "
            f"{read[-1].per_second:,.0f} ev/s ({read[-1].cpu_us_per_event:.1f} µs CPU/event, "
            f"{read[-1].reads:,} reads)"
        )
    return {
        "events": len(records),
        "readers": readers,
        "every_seconds": every,
        "alone_per_second": spread([r.per_second for r in alone]),
        "read_per_second": spread([r.per_second for r in read]),
        "ratio": spread([b.per_second / a.per_second for a, b in zip(alone, read, strict=True)]),
        "cpu_us_per_event_alone": spread([r.cpu_us_per_event for r in alone]),
        "cpu_us_per_event_read": spread([r.cpu_us_per_event for r in read]),
        "reads": [r.reads for r in read],
    }


def main(
    events: Annotated[int, typer.Option(help="Pre-loaded events.")] = 200_000,
    readers: Annotated[int, typer.Option(help="Concurrent readers.")] = 200,
    every: Annotated[float, typer.Option(help="Seconds between a reader's reads (0: none).")] = 0,
    pairs: Annotated[int, typer.Option(help="Runs without, then with readers.")] = 2,
) -> None:
    with tempfile.TemporaryDirectory(prefix="crmkpi-bench-readers-") as directory:
        records = workload.keyed(workload.simulated(events), Topics())
        progress = functools.partial(print, flush=True)
        result = measure(records, Path(directory), readers, every, pairs, progress)
    rate_alone = result["alone_per_second"]["median"]
    rate_read = result["read_per_second"]["median"]
    cpu_alone = result["cpu_us_per_event_alone"]["median"]
    cpu_read = result["cpu_us_per_event_read"]["median"]
    print(
        f"{len(records):,} events: median alone {rate_alone:,.0f} ev/s, with "
        f"{describe(readers, every)} {rate_read:,.0f} ev/s: "
        f"{100 * (rate_read / rate_alone - 1):+.1f} %; worker CPU per event "
        f"{cpu_alone:.1f} -> {cpu_read:.1f} µs: {100 * (cpu_read / cpu_alone - 1):+.1f} %"
    )


if __name__ == "__main__":
    typer.run(main)
