"""In-process crmkpi listeners on real sockets, with a fixed snapshot and a stub ingest handler."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from kpis.churn import ChurnRisk
from kpis.windows import NOW, WINDOWS
from streams.config import Settings
from streams.http.listeners import Listeners
from streams.http.server import RequestHandler
from streams.read.snapshot_reader import Snapshot
from tests.conftest import free_port

AT_RISK = "C-AT-RISK-1"
READ_PATHS = ("/", "/events", "/kpis", "/metrics", "/readyz", "/scorecard/scorecard.js")
BROKER_PROBLEM = "broker unreachable: KafkaConnectionError: 10.1.2.3:9092 (CRMKPI_KAFKA_BOOTSTRAP)"


def fixed_snapshot() -> Snapshot:
    windows = {NOW: {}} | {window.name: {} for window in WINDOWS}
    risk = ChurnRisk(AT_RISK, "smb", ("tickets_opened", "sla_breached"))
    return Snapshot(None, 0, 0, {}, [], [risk], windows)  # type: ignore[arg-type]


async def read_snapshot() -> tuple[Snapshot, dict[str, int]]:
    return fixed_snapshot(), {}


async def not_ready() -> list[str]:
    return [BROKER_PROBLEM]


async def accept_everything(request: web.Request) -> web.Response:
    """Stands in for the ingest endpoint: the listener tests are about routing, not webhooks."""
    return web.json_response({"events": 0}, status=202)


def settings_with(**values: Any) -> Settings:
    """Settings on free localhost ports, whatever the environment says."""
    return Settings(http_host="127.0.0.1", http_port=free_port(), **values)


@asynccontextmanager
async def listening(
    settings: Settings, ingest: RequestHandler = accept_everything
) -> AsyncIterator[Listeners]:
    listeners = Listeners.for_settings(settings, read_snapshot, not_ready, ingest)
    await listeners.start()
    try:
        yield listeners
    finally:
        await listeners.stop()


async def fetch(url: str, method: str = "GET", **options: Any) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one request (a fresh connection each time)."""
    async with (
        aiohttp.ClientSession() as client,
        client.request(method, url, allow_redirects=False, **options) as response,
    ):
        streaming = response.content_type == "text/event-stream"  # never ends: its first bytes
        body = await (response.content.readany() if streaming else response.read())
        return response.status, dict(response.headers), body


Answer = Callable[[BaseHTTPRequestHandler], tuple[int, object]]


@contextmanager
def json_monitor(answer: Answer) -> Iterator[str]:
    """A threaded HTTP server answering every GET with `answer(request)`: a status and a
    JSON body; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, document = answer(self)
            body = orjson.dumps(document)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
