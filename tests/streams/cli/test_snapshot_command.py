"""`crmkpi snapshot` against a monitor whose reads need a token."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest
from rich.console import Console

from streams.cli.snapshot import fetch_snapshot
from streams.errors import MonitorUnreachable

TOKEN = "read-tok"
DOCUMENT = {"watermark": None, "lag": 0, "kpis": []}


class _Monitor(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        allowed = self.headers.get("Authorization") == f"Bearer {TOKEN}"
        body = orjson.dumps(DOCUMENT if allowed else {"error": "unauthorized"})
        self.send_response(200 if allowed else 401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def monitor() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Monitor)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_snapshot_sends_the_read_token(monitor: str) -> None:
    document = fetch_snapshot(monitor, False, 5.0, Console(stderr=True), TOKEN)
    assert document == DOCUMENT


def test_snapshot_without_the_token_is_refused_with_one_line(monitor: str) -> None:
    with pytest.raises(MonitorUnreachable, match=r"401.*CRMKPI_READ_TOKEN"):
        fetch_snapshot(monitor, False, 5.0, Console(stderr=True))
