"""Connection hygiene on real sockets: slow clients are cut, busy ingest says 503, headers
are checked before bodies, and no response tells an outsider about the inside."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from streams.config import Settings
from streams.http.ingest.endpoint import IngestEndpoint
from streams.http.listeners import Listeners
from streams.kafka.producer import CrmProducer
from tests.http_servers import BROKER_PROBLEM, fetch, listening, settings_with

TOKEN = "ingest-token-0123456789"
AUTHORIZED = f"Authorization: Bearer {TOKEN}\r\n"
TIMEOUT = 1.0  # seconds: the header and body timeouts of these tests
SLACK = 1.5  # seconds a cut may come after its timeout on a loaded machine


@asynccontextmanager
async def ingest_server(**values: Any) -> AsyncIterator[tuple[Settings, Listeners]]:
    """Listeners with the real ingest endpoint; its producer never starts, no body gets there."""
    options = {"http_header_timeout": TIMEOUT, "http_body_timeout": TIMEOUT, **values}
    settings = settings_with(ingest_token=TOKEN, **options)
    endpoint = IngestEndpoint(settings, CrmProducer(settings))
    async with listening(settings, endpoint.handle) as listeners:
        yield settings, listeners


async def connect(settings: Settings) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", settings.http_port)


async def closed_after(reader: asyncio.StreamReader, started: float, limit: float) -> float:
    """Seconds from `started` until the server closed the connection (reading what it sent)."""
    try:
        async with asyncio.timeout(limit):
            while await reader.read(65536):
                pass
    except ConnectionResetError:
        pass
    return time.monotonic() - started


async def trickle(writer: asyncio.StreamWriter, pieces: bytes, every: float) -> None:
    """Send `pieces` one byte at a time, `every` seconds apart: a slow client."""
    for byte in pieces:
        writer.write(bytes([byte]))
        try:
            await writer.drain()
        except ConnectionError:
            return
        await asyncio.sleep(every)


async def request_head(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: str
) -> bytes:
    """Send a request's head (no body) and read the whole answer until the server closes."""
    writer.write(head.encode())
    await writer.drain()
    return await asyncio.wait_for(reader.read(1 << 20), TIMEOUT + SLACK)


async def test_a_connection_that_sends_nothing_is_closed_within_the_header_timeout() -> None:
    async with ingest_server() as (settings, _):
        reader, writer = await connect(settings)
        assert await closed_after(reader, time.monotonic(), 10) < TIMEOUT + SLACK
        writer.close()


async def test_a_client_sending_headers_slowly_is_cut_within_the_header_timeout() -> None:
    async with ingest_server() as (settings, _):
        reader, writer = await connect(settings)
        started = time.monotonic()
        slow = asyncio.create_task(
            trickle(writer, b"GET /kpis HTTP/1.1\r\nX-Slow: " + b"a" * 100, 0.1)
        )
        assert await closed_after(reader, started, 10) < TIMEOUT + SLACK
        slow.cancel()
        writer.close()


@pytest.mark.parametrize("path", ["/ingest/canonical", "/kpis", "/nowhere"])
async def test_a_client_sending_its_body_slowly_is_cut_within_the_body_timeout(path: str) -> None:
    async with ingest_server() as (settings, _):
        reader, writer = await connect(settings)
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\n{AUTHORIZED}Content-Length: 1000\r\n\r\n"
        writer.write(head.encode())
        started = time.monotonic()
        slow = asyncio.create_task(trickle(writer, b"[" + b" " * 999, 0.1))
        assert await closed_after(reader, started, 10) < TIMEOUT + SLACK
        slow.cancel()
        writer.close()


async def test_slow_bodies_answer_408() -> None:
    async with ingest_server() as (settings, _):
        reader, writer = await connect(settings)
        head = (
            f"POST /ingest/canonical HTTP/1.1\r\nHost: x\r\n{AUTHORIZED}Content-Length: 10\r\n\r\n["
        )
        answer = await request_head(reader, writer, head)
        assert answer.startswith(b"HTTP/1.1 408")
        writer.close()


async def test_credentials_are_checked_before_any_body_byte_is_read() -> None:
    async with ingest_server() as (settings, _):
        reader, writer = await connect(settings)
        head = "POST /ingest/canonical HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n"
        answer = await request_head(reader, writer, head)  # 401 with not one byte sent
        assert answer.startswith(b"HTTP/1.1 401")
        writer.close()


async def test_bodies_over_the_concurrency_cap_get_503_with_retry_after() -> None:
    async with ingest_server(ingest_max_concurrent_bodies=1, http_body_timeout=30) as (s, _):
        _, writer = await connect(s)
        head = (
            f"POST /ingest/canonical HTTP/1.1\r\nHost: x\r\n{AUTHORIZED}Content-Length: 10\r\n\r\n"
        )
        writer.write(head.encode() + b"[")  # holds the only slot
        await writer.drain()
        url = f"http://127.0.0.1:{s.http_port}/ingest/canonical"
        deadline = time.monotonic() + 10
        while True:  # until the first request's body is being read
            status, headers, _ = await fetch(
                url, "POST", data=b"[]", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            if status == 503 or time.monotonic() > deadline:
                break
        assert status == 503 and headers["Retry-After"]
        writer.close()


async def test_event_streams_over_the_cap_get_503_with_retry_after() -> None:
    settings = settings_with(max_event_streams=2)
    async with listening(settings):
        url = f"http://127.0.0.1:{settings.http_port}/events"
        streams = [await connect(settings) for _ in range(2)]
        for reader, writer in streams:
            writer.write(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            await writer.drain()
            assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"HTTP/1.1 200")
        status, headers, _ = await fetch(url)
        assert status == 503 and headers["Retry-After"]
        for _, writer in streams:
            writer.close()


async def test_only_allowed_hosts_are_served() -> None:
    settings = settings_with(allowed_hosts=("crmkpi.example.com",))
    async with listening(settings):
        url = f"http://127.0.0.1:{settings.http_port}"
        assert (await fetch(f"{url}/kpis", headers={"Host": "crmkpi.example.com"}))[0] == 200
        assert (await fetch(f"{url}/kpis", headers={"Host": "crmkpi.example.com:8000"}))[0] == 200
        assert (await fetch(f"{url}/kpis", headers={"Host": "rebound.attacker.example"}))[0] == 421
        assert (await fetch(f"{url}/kpis"))[0] == 421  # 127.0.0.1 is not on the list
        assert (await fetch(f"{url}/healthz"))[0] == 200  # container probes call by address


@pytest.mark.parametrize("path", ["/", "/kpis", "/scorecard/scorecard.js", "/nowhere"])
async def test_responses_carry_csp_nosniff_and_frame_ancestors(path: str) -> None:
    settings = settings_with(read_token="secret-read-token")
    async with listening(settings):
        for headers in ({}, {"Authorization": "Bearer secret-read-token"}):
            _, answer, _ = await fetch(
                f"http://127.0.0.1:{settings.http_port}{path}", headers=headers
            )
            assert "frame-ancestors 'none'" in answer["Content-Security-Policy"]
            assert answer["X-Content-Type-Options"] == "nosniff"


async def test_no_response_names_an_environment_variable_or_an_internal_address() -> None:
    async with ingest_server(ingest_max_body_bytes=10) as (settings, _):
        url = f"http://127.0.0.1:{settings.http_port}"
        bodies = [
            (await fetch(f"{url}/readyz"))[2],
            (await fetch(f"{url}/ingest/hubspot", "POST", data=b"{}"))[2],  # disabled
            (await fetch(f"{url}/ingest/canonical", "POST", data=b"[" * 100))[2],
            (
                await fetch(
                    f"{url}/ingest/canonical",
                    "POST",
                    data=b"[" * 100,
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
            )[2],
            (await fetch(f"{url}/ingest/nowhere", "POST", data=b"{}"))[2],
            (await fetch(f"{url}/kpis", "POST", data=b"{}"))[2],
        ]
    internal = BROKER_PROBLEM.partition(": ")[2]
    for body in bodies:
        assert b"CRMKPI_" not in body, body
        assert b"10.1.2.3" not in body and internal.encode() not in body, body


async def test_refused_ingest_requests_are_counted_by_source_and_outcome() -> None:
    async with ingest_server(ingest_max_body_bytes=10) as (settings, _):
        url = f"http://127.0.0.1:{settings.http_port}"
        await fetch(f"{url}/ingest/hubspot", "POST", data=b"{}")
        await fetch(f"{url}/ingest/canonical", "POST", data=b"[]")
        await fetch(
            f"{url}/ingest/canonical",
            "POST",
            data=b"[" * 100,
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        await fetch(f"{url}/ingest/customer-4711", "POST", data=b"{}")
        _, _, metrics = await fetch(f"{url}/metrics")
    text = metrics.decode()
    for source, outcome in [
        ("hubspot", "disabled"),
        ("canonical", "unauthorized"),
        ("canonical", "too_large"),
        ("unknown", "unknown_source"),
    ]:
        assert f'crmkpi_ingest_requests_total{{outcome="{outcome}",source="{source}"}}' in text
    assert "customer-4711" not in text  # never a caller's string as a label
