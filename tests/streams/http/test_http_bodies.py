"""`/kpis` and `/metrics` share one read per group of readers, render it once, answer gzip
to the clients that ask for it, and answer at once while the worker is behind."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Mapping
from dataclasses import replace

import orjson
import pytest
from aiohttp.test_utils import make_mocked_request

from kpis.events import format_time
from streams.http.bodies import Body, RenderedOnce, accepts_gzip
from streams.http.listeners import Listeners
from streams.kafka.fetching import FETCH_RECORDS
from streams.read.snapshot_reader import ReadResult
from streams.read.store import PartitionView
from tests.http_servers import accept_everything, fetch, fixed_snapshot, not_ready, settings_with


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip, deflate", True),
        ("br;q=1.0, GZIP;q=0.5", True),
        ("deflate, br", False),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("", False),
    ],
)
def test_gzip_is_used_only_when_the_client_accepts_it(header: str, expected: bool) -> None:
    request = make_mocked_request("GET", "/kpis", headers={"Accept-Encoding": header})
    assert accepts_gzip(request) is expected


def test_a_body_is_rendered_once_per_source_and_compresses_losslessly() -> None:
    rendered: list[object] = []

    def render(source: object) -> bytes:
        rendered.append(source)
        return b"crmkpi_kpi_value 1\n" * 1000

    bodies = RenderedOnce(render)
    first, second = object(), object()
    assert bodies(first) is bodies(first)
    assert bodies(second).plain == render(second)
    assert rendered[:2] == [first, second]
    body = Body(b"x" * 10_000)
    assert gzip.decompress(body.gzipped) == body.plain and len(body.gzipped) < 100


async def test_concurrent_readers_of_both_endpoints_share_reads_and_get_the_same_bytes() -> None:
    reads = 0

    async def slow_read() -> ReadResult:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.05)
        return fixed_snapshot(), {}

    settings = settings_with()
    listeners = Listeners.for_settings(settings, slow_read, not_ready, accept_everything)
    await listeners.start()
    try:
        url = f"http://127.0.0.1:{settings.http_port}"
        plain = {
            path: await fetch(url + path, headers={"Accept-Encoding": "identity"})
            for path in ("/kpis", "/metrics")
        }
        reads_before = reads
        answers = await asyncio.gather(
            *(
                fetch(url + path, headers={"Accept-Encoding": "gzip"})
                for _ in range(100)
                for path in ("/kpis", "/metrics")
            )
        )
    finally:
        await listeners.stop()
    assert reads - reads_before <= 10  # 200 requests; each would read alone without sharing
    for status, headers, body in answers:
        path = "/kpis" if headers["Content-Type"] == "application/json" else "/metrics"
        assert status == 200 and headers["Content-Encoding"] == "gzip"
        assert headers["Vary"] == "Accept-Encoding"
        assert body == plain[path][2]  # decompressed by the client
    for status, headers, _ in plain.values():
        assert status == 200 and "Content-Encoding" not in headers


async def test_while_the_worker_is_behind_kpis_answers_with_the_last_read_until_it_is_not() -> None:
    reads = 0
    unapplied = 100_000
    ends_seen: list[dict[str, int]] = []

    async def read_behind() -> ReadResult:
        nonlocal reads
        reads += 1
        snapshot = replace(fixed_snapshot(), lag=100_000, processed_at=float(reads))
        snapshot.views["crm.leads:0"] = PartitionView(offset=9)
        return snapshot, {"crm.leads:0": 100_000}

    def backlog(ends: Mapping[str, int]) -> int:
        ends_seen.append(dict(ends))
        return unapplied

    settings = settings_with()
    listeners = Listeners.for_settings(
        settings, read_behind, not_ready, accept_everything, unapplied=backlog
    )
    await listeners.start()
    try:
        url = f"http://127.0.0.1:{settings.http_port}/kpis"
        answers = [orjson.loads((await fetch(url))[2])["processed_at"] for _ in range(2)]
        unapplied = FETCH_RECORDS  # one fetch away: the next caller waits for a new read
        answers.append(orjson.loads((await fetch(url))[2])["processed_at"])
    finally:
        await listeners.stop()
    first = format_time(1_000_000)
    assert answers[:2] == [first, first]  # the second at once, from the first read
    assert answers[2] != first  # from a read that started after the third request
    assert ends_seen[0] == {"crm.leads:0": 100_010}  # the first read's end offsets
