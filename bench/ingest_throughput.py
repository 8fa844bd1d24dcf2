"""Load generator for `POST /ingest/canonical` on loopback: events/s and request latency.

Starts an embedded broker and a `crmkpi worker`, then posts webhooks of `--batch`
canonical events each from `--concurrency` clients for `--seconds`, and prints
the accepted events per second with the p50 / p99 request latency (every 202
means the broker confirmed all its events).

    python bench/ingest_throughput.py --seconds 10 --concurrency 16 --batch 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import orjson

from streams.kafka.broker import EmbeddedBroker, free_port
from tests.waiting import wait_until

TOKEN = "bench-token"


def wait_ready(url: str) -> None:
    def serving() -> bool:
        urllib.request.urlopen(f"{url}/healthz", timeout=2).read()
        return True

    wait_until(serving, f"the worker at {url} serving", ignoring=(OSError,))


def webhook(client: int, number: int, batch: int) -> bytes:
    """A JSON array of `batch` CSAT responses with ids unique per client and request."""
    return orjson.dumps(
        [
            {
                "event_id": f"bench-{client}-{number}-{n}",
                "type": "survey.csat",
                "occurred_at": "2026-03-01T09:00:00Z",
                "response_id": f"r-{client}-{number}-{n}",
                "score": 1 + n % 5,
                "team": "support",
            }
            for n in range(batch)
        ]
    )


async def client(url: str, number: int, batch: int, until: float, latencies: list[float]) -> int:
    events = 0
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as session:
        request = 0
        while time.monotonic() < until:
            body = webhook(number, request, batch)
            started = time.perf_counter()
            async with session.post(f"{url}/ingest/canonical", data=body, headers=headers) as r:
                answer = await r.read()
                if r.status != 202:
                    raise SystemExit(f"unexpected {r.status}: {answer[:200]!r}")
            latencies.append(time.perf_counter() - started)
            events += batch
            request += 1
    return events


async def load(url: str, seconds: float, concurrency: int, batch: int) -> None:
    latencies: list[float] = []
    started = time.monotonic()
    until = started + seconds
    counts = await asyncio.gather(
        *(client(url, n, batch, until, latencies) for n in range(concurrency))
    )
    elapsed = time.monotonic() - started
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"{sum(counts) / elapsed:,.0f} events/s ({len(latencies) / elapsed:,.0f} requests/s, "
        f"{batch} events each, {concurrency} clients, {elapsed:.1f} s); "
        f"latency p50 {cuts[49] * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=10)
    options = parser.parse_args()
    workdir = Path("bench/results")
    workdir.mkdir(parents=True, exist_ok=True)
    with EmbeddedBroker(f"127.0.0.1:{free_port()}", log_path=workdir / "tansu.log") as broker:
        port = free_port()
        env = dict(
            os.environ,
            CRMKPI_KAFKA_BOOTSTRAP=broker.bootstrap,
            CRMKPI_HTTP_PORT=str(port),
            CRMKPI_INGEST_TOKEN=TOKEN,
        )
        with (workdir / "worker.log").open("w") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "streams", "worker"], env=env, stdout=log, stderr=log
            )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url)
            asyncio.run(load(url, options.seconds, options.concurrency, options.batch))
        finally:
            worker.terminate()
            worker.wait(20)


if __name__ == "__main__":
    main()
