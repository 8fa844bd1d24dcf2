"""`crmkpi snapshot` against a monitor whose reads need a token."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from rich.console import Console

from streams.cli.snapshot import fetch_snapshot
from streams.errors import MonitorUnreachable
from tests.http_servers import json_monitor

TOKEN = "read-tok"
DOCUMENT = {"watermark": None, "lag": 0, "kpis": []}


def _answer(request: BaseHTTPRequestHandler) -> tuple[int, object]:
    if request.headers.get("Authorization") == f"Bearer {TOKEN}":
        return 200, DOCUMENT
    return 401, {"error": "unauthorized"}


@pytest.fixture
def monitor() -> Iterator[str]:
    with json_monitor(_answer) as url:
        yield url


def test_snapshot_sends_the_read_token(monitor: str) -> None:
    document = fetch_snapshot(monitor, False, 5.0, Console(stderr=True), TOKEN)
    assert document == DOCUMENT


def test_snapshot_without_the_token_is_refused_with_one_line(monitor: str) -> None:
    with pytest.raises(MonitorUnreachable, match=r"401.*CRMKPI_READ_TOKEN"):
        fetch_snapshot(monitor, False, 5.0, Console(stderr=True))
