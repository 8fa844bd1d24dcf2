"""Unauthenticated large bodies are refused before they are read: a real `crmkpi worker`."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.services import rss_bytes
from streams.kafka.broker import EmbeddedBroker
from tests.conftest import free_port
from tests.processes import worker

pytestmark = pytest.mark.integration

CLIENTS = 200
BODY = 1 << 20
MIB = 1 << 20


class PeakRss:
    """Samples a process's RSS in a thread until stopped; `peak` is the largest seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_bytes(pid)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self.stopped.wait(0.02):
            self.peak = max(self.peak, rss_bytes(self.pid))

    def __enter__(self) -> PeakRss:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self.thread.join()


async def unauthenticated_upload(port: int) -> bytes:
    """POST a 1 MiB body without credentials; the status line of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = f"POST /ingest/canonical HTTP/1.1\r\nHost: x\r\nContent-Length: {BODY}\r\n\r\n"
        writer.write(head.encode() + b"[" * BODY)
        with contextlib.suppress(ConnectionError):  # refused and closed first: fine too
            await writer.drain()
        return await asyncio.wait_for(reader.readline(), 60)
    finally:
        writer.close()


async def uploads(port: int) -> list[bytes]:
    return await asyncio.gather(*(unauthenticated_upload(port) for _ in range(CLIENTS)))


@pytest.fixture
def monitor(tmp_path: Path) -> Iterator[tuple[str, int]]:
    with (
        EmbeddedBroker(f"127.0.0.1:{free_port()}", log_path=tmp_path / "tansu.log") as broker,
        worker(broker.bootstrap, tmp_path, CRMKPI_INGEST_TOKEN="a-real-token") as (url, process),
    ):
        yield url, process.pid


def test_200_unauthenticated_1_mib_bodies_cost_less_than_50_mib(
    monitor: tuple[str, int],
) -> None:
    url, pid = monitor
    port = int(url.rpartition(":")[2])
    asyncio.run(uploads(port))  # warm up: first connections allocate the server's buffers
    with PeakRss(pid) as memory:
        before = rss_bytes(pid)
        statuses = asyncio.run(uploads(port))
    assert {line.split()[1] for line in statuses} == {b"401"}
    grown = (memory.peak - before) / MIB
    print(f"RSS {before / MIB:.0f} MiB, peak {memory.peak / MIB:.0f} MiB: {grown:+.1f} MiB")
    assert grown < 50, f"RSS grew by {grown:.1f} MiB"
