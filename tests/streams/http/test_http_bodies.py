"""`/kpis` and `/metrics` share one read per group of readers, render it once, and answer gzip
to the clients that ask for it."""

from __future__ import annotations

import asyncio
import gzip

import pytest
from aiohttp.test_utils import make_mocked_request

from streams.http.bodies import Body, RenderedOnce, accepts_gzip
from streams.http.listeners import Listeners
from streams.read.snapshot_reader import ReadResult
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
