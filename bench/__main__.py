"""`python -m bench [--quick]`: run every benchmark, print a table, write JSON."""

from __future__ import annotations

import asyncio
import os
import platform
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from bench import (
    catchup,
    latency,
    memory,
    readers,
    report,
    scrape,
    services,
    snapshot,
    throughput,
    workload,
)
from streams.config import Settings
from streams.kafka.adapter import install_metadata_no_auto_create
from streams.kafka.topics import Topics, ensure_topics

DEFAULT_OUT = Path(__file__).parent / "results" / "latest.json"
SCRAPE_EVERY_SECONDS = 5.0  # (h): one reader of /kpis and /metrics, as a scrape every 5 s
console = Console(stderr=True, highlight=False)


def run_throughput(
    records: list[workload.KafkaRecord], repeat: int, logs: Path, scrapes: int
) -> dict[str, Any]:
    """(a) per repeat on a fresh broker: baseline, then the worker; (d) on the last worker."""
    baselines, workers, ratios = [], [], []
    extra: dict[str, Any] = {}
    expected = len(records)
    for run in range(1, repeat + 1):
        with services.broker(logs) as bootstrap:
            topics = asyncio.run(throughput.load_topics(bootstrap, records))
            base = asyncio.run(throughput.baseline(bootstrap, topics, expected))
            with services.worker(bootstrap, logs, f"throughput-{run}") as (url, pid):
                group = f"bench-throughput-{run}"
                rate = asyncio.run(
                    throughput.worker_rate(bootstrap, group, topics, expected, timeout=1800)
                )
                accepted = int(services.get_json(f"{url}/kpis")["events"]["accepted"])
                if accepted != expected:
                    raise RuntimeError(f"the worker accepted {accepted} of {expected} events")
                if run == repeat:
                    extra["worker_rss_mib"] = services.rss_bytes(pid) / 2**20
                    extra["scrape"] = {
                        path: scrape.response_ms(f"{url}{path}", scrapes)
                        for path in ("/metrics", "/kpis")
                    }
        baselines.append(base.per_second)
        workers.append(rate.per_second)
        ratios.append(rate.per_second / base.per_second)
        console.print(
            f"throughput run {run}: worker {rate.per_second:,.0f}/s, "
            f"baseline {base.per_second:,.0f}/s"
        )
    return {
        "throughput": {
            "events": expected,
            "worker_per_second": report.spread(workers),
            "baseline_per_second": report.spread(baselines),
            "ratio": report.spread(ratios),
        },
        **extra,
    }


def run_latency(
    records: list[workload.KafkaRecord],
    rates: list[float],
    seconds: float,
    logs: Path,
    wall_clock: bool,
) -> list[dict[str, Any]]:
    """(b) one worker, fed each offered load in turn with the next slice of the history:
    live traffic (`wall_clock`: event time is the time of sending), or the history replayed
    with its own times (days of event time a second)."""
    results = []
    setting = "live" if wall_clock else "replayed"

    def offered(chunk: list[workload.KafkaRecord], rate: float) -> list[workload.KafkaRecord]:
        return workload.on_the_wall_clock(chunk, rate) if wall_clock else chunk

    with services.broker(logs) as bootstrap:
        asyncio.run(ensure_topics(Settings(kafka_bootstrap=bootstrap)))
        with services.worker(bootstrap, logs, f"latency-{setting}") as (url, _):
            # Warm-up (not reported): the first batch of each partition recovers its state.
            start = int(rates[0])
            asyncio.run(
                latency.measure(bootstrap, url, offered(records[:start], rates[0]), rates[0])
            )
            for rate in rates:
                count = int(rate * seconds)
                chunk = offered(records[start : start + count], rate)
                start += count
                result = asyncio.run(latency.measure(bootstrap, url, chunk, rate))
                console.print(
                    f"latency ({setting}) at {rate:,.0f}/s: p50 {result.p50_ms:,.0f} ms, "
                    f"p99 {result.p99_ms:,.0f} ms"
                )
                results.append(asdict(result))
    return results


@contextmanager
def shared_redis(url: str | None, workers: int, logs: Path) -> Iterator[str | None]:
    """`url` if given, else a private redis-server when more than one worker will share it."""
    if url is not None or workers < 2:
        yield url
    else:
        with services.redis_server(logs) as private:
            yield private


def run_catchup(
    days: int, scale: float, workers: int, redis: str | None, logs: Path
) -> list[dict[str, Any]]:
    """(f), (g) `crmkpi up` catching up on a history with a reader, with 1 up to `workers`
    workers (more than one sharing the store of `up`'s own process, then Redis), each beside
    a plain consumer of the same broker."""
    results = []
    with shared_redis(redis, workers, logs) as url:
        for count in range(1, workers + 1):
            for shared in [None] if count == 1 else [None, url]:
                result = catchup.measure(days, scale, catchup.SEED, workers=count, redis=shared)
                console.print(
                    f"catch-up, {count} worker(s), {result['store']} store: "
                    f"{result['worker_per_second']:,.0f}/s, "
                    f"baseline {result['baseline_per_second']:,.0f}/s"
                )
                results.append(result)
    return results


def main(
    quick: Annotated[bool, typer.Option(help="Small smoke run (a minute or two).")] = False,
    events: Annotated[int, typer.Option(help="Pre-loaded events for throughput.")] = 500_000,
    repeat: Annotated[int, typer.Option(help="Throughput runs (min/median reported).")] = 3,
    latency_seconds: Annotated[float, typer.Option(help="Seconds per offered load.")] = 20.0,
    catchup_days: Annotated[int, typer.Option(help="Days of catch-up history.")] = catchup.DAYS,
    catchup_scale: Annotated[float, typer.Option(help="Its volume multiplier.")] = catchup.SCALE,
    catchup_workers: Annotated[
        int, typer.Option(min=1, help="Catch up with 1 up to this many workers.")
    ] = 2,
    redis: Annotated[
        str | None,
        typer.Option(help="Redis URL (emptied) for several workers; else a private one."),
    ] = None,
    readers_events: Annotated[
        int, typer.Option(help="Pre-loaded events, readers' cost.")
    ] = 200_000,
    readers_pairs: Annotated[int, typer.Option(help="Runs without, then with a reader.")] = 2,
    out: Annotated[Path, typer.Option(help="Where the JSON results go.")] = DEFAULT_OUT,
) -> None:
    """Throughput vs a plain consumer, end-to-end latency, memory, scrape and snapshot times,
    catch-up with 1 and more workers, and the cost of a reader every 5 s."""
    install_metadata_no_auto_create()
    rates = [5_000.0, 20_000.0]
    memory_count, scrapes = memory.PER, 20
    if quick:
        events, repeat, latency_seconds = 20_000, 1, 3.0
        rates = [500.0, 2_000.0]
        memory_count, scrapes = 10_000, 3
        catchup_days, readers_events, readers_pairs = 60, 50_000, 1
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="crmkpi-bench-") as directory:
        logs = Path(directory)
        console.print(f"simulating {events:,} events (seed {workload.SEED})")
        lines = workload.simulated(events)
        lines += workload.rep_activities(lines[-1])
        live_count = int(rates[0] + sum(rates) * latency_seconds)
        live = workload.simulated(live_count, seed=workload.SEED + 1)
        topics = Topics()
        live_records = workload.keyed(live, topics)
        results: dict[str, Any] = {
            "mode": "quick" if quick else "full",
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            **run_throughput(workload.keyed(lines, topics), repeat, logs, scrapes),
            "latency": run_latency(live_records, rates, latency_seconds, logs, wall_clock=True),
            "latency_replayed": run_latency(
                live_records, rates, latency_seconds, logs, wall_clock=False
            ),
            "memory": memory.measure(memory_count),
            "snapshot": snapshot.measure(workload.keyed(lines, topics)),
            "catchup": run_catchup(catchup_days, catchup_scale, catchup_workers, redis, logs),
            "readers": readers.measure(
                workload.keyed(workload.simulated(readers_events), topics),
                logs,
                1,
                SCRAPE_EVERY_SECONDS,
                readers_pairs,
                console.print,
            ),
        }
    results["seconds"] = time.monotonic() - started
    report.write_json(results, out)
    report.print_table(results, Console())
    console.print(f"results written to {out}")


if __name__ == "__main__":
    typer.run(main)
