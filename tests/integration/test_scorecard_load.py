"""50 scorecard pages on one monitor under live demo traffic: the worker's lag must not rise.

The lag is sampled from `/kpis` for the same time without and with 50 open event
streams; the figures are printed (`pytest -s`) for the issue's note.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import free_port
from tests.processes import crmkpi_env, crmkpi_process, wait_until_ready
from tests.waiting import wait_until_async

pytestmark = pytest.mark.integration

PAGES = 50
RATE = 200  # demo events per second
PHASE_SECONDS = 8.0


async def lag_samples(session: aiohttp.ClientSession, url: str, seconds: float) -> list[int]:
    samples = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        async with session.get(f"{url}/kpis") as response:
            lag = (await response.json())["lag"]
        if lag is not None:
            samples.append(lag)
        await asyncio.sleep(0.25)
    return samples


async def read_stream(session: aiohttp.ClientSession, url: str, events: list[str]) -> None:
    """Count the events of one page's stream until cancelled."""
    async with session.get(f"{url}/events") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        async for line in response.content:
            if line.startswith(b"event: "):
                events.append(line[7:].strip().decode())


async def settle(session: aiohttp.ClientSession, url: str) -> None:
    """Wait until the demo's opening book is applied: the lag under a second of traffic."""
    await wait_until_async(
        lambda: lag_samples(session, url, 1.0),
        f"the lag under {RATE} (a second of traffic) for a second",
        lambda samples: max(samples, default=RATE) < RATE,
    )


def summary(samples: list[int]) -> str:
    ordered = sorted(samples)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return f"mean {statistics.mean(samples):.1f}, p90 {p90}, max {max(samples)} ({len(samples)})"


async def test_fifty_event_streams_do_not_raise_the_worker_lag(tmp_path: Path) -> None:
    http_port = free_port()
    env = crmkpi_env(f"127.0.0.1:{free_port()}", http_port)
    url = f"http://127.0.0.1:{http_port}"
    with crmkpi_process(["up", "--demo", "--rate", str(RATE)], env, tmp_path / "up.log") as up:
        await asyncio.to_thread(wait_until_ready, url, up)
        timeout = aiohttp.ClientTimeout(total=None, sock_read=30)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await settle(session, url)
            alone = await lag_samples(session, url, PHASE_SECONDS)
            events: list[list[str]] = [[] for _ in range(PAGES)]
            streams = [asyncio.create_task(read_stream(session, url, e)) for e in events]
            started = time.monotonic()
            watched = await lag_samples(session, url, PHASE_SECONDS)
            elapsed = time.monotonic() - started
            for stream in streams:
                stream.cancel()
            await asyncio.gather(*streams, return_exceptions=True)
    print(f"\nlag without pages: {summary(alone)}")
    print(f"lag with {PAGES} pages: {summary(watched)}")
    updates = [page.count("update") for page in events]
    print(f"updates per page in {elapsed:.1f}s: min {min(updates)}, max {max(updates)}")
    assert all(page[:1] == ["board"] for page in events)
    assert min(updates) >= elapsed / 2  # at least one update a second of live traffic
    assert max(updates) <= elapsed * 2 + 1  # at most every 0.5 s
    assert max(watched) <= max(2 * max(alone), 2 * RATE)  # never two seconds of traffic behind
    assert statistics.mean(watched) <= statistics.mean(alone) + RATE / 4
