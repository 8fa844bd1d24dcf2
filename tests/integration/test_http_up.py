"""`crmkpi up` with its own ingest port and a read token: what an outsider can do to it."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.processes import crmkpi_env, crmkpi_process, get_json, wait_until_ready

pytestmark = pytest.mark.integration

TOKEN = "read-token-for-the-up-test"
READ_PATHS = ("/", "/events", "/kpis", "/metrics", "/readyz", "/scorecard/scorecard.js")
HEADER_TIMEOUT = 2.0
CSAT = (
    b'{"event_id": "csat-up-1", "type": "survey.csat", "occurred_at": "2026-03-01T09:00:00Z",'
    b' "response_id": "R-up-1", "score": 4, "team": "support"}'
)


def status_of(url: str, headers: dict[str, str] | None = None, data: bytes | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture(scope="module")
def monitor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """`crmkpi up` (embedded broker); yields the internal and the public URL."""
    logs = tmp_path_factory.mktemp("http-up")
    http_port, ingest_port = free_port(), free_port()
    env = crmkpi_env(
        f"127.0.0.1:{free_port()}",
        http_port,
        CRMKPI_INGEST_PORT=str(ingest_port),
        CRMKPI_READ_TOKEN=TOKEN,
        CRMKPI_INGEST_TOKEN="an-ingest-token",
        CRMKPI_HTTP_HEADER_TIMEOUT=str(HEADER_TIMEOUT),
    )
    with crmkpi_process(["up"], env, Path(logs / "up.log")) as process:
        internal, public = f"http://127.0.0.1:{http_port}", f"http://127.0.0.1:{ingest_port}"
        wait_until_ready(internal, process)
        wait_until_ready(public, process, endpoint="/healthz")
        yield internal, public
    output = (logs / "up.log").read_text()
    assert f"ingest: {public}/ingest/" in output
    assert "Traceback" not in output


def test_nothing_is_readable_on_the_ingest_port(monitor: tuple[str, str]) -> None:
    _, public = monitor
    for path in READ_PATHS:
        assert status_of(public + path) == 404, path
        assert status_of(public + path, {"Authorization": f"Bearer {TOKEN}"}) == 404, path
    assert get_json(f"{public}/healthz") == {"status": "ok"}


def test_the_internal_port_reads_only_with_the_token(monitor: tuple[str, str]) -> None:
    internal, _ = monitor
    assert status_of(f"{internal}/kpis") == 401
    assert status_of(f"{internal}/metrics") == 401
    assert status_of(f"{internal}/kpis", {"Authorization": f"Bearer {TOKEN}"}) == 200
    assert status_of(f"{internal}/ingest/canonical", data=b"[]") == 404  # ingest moved


def test_webhooks_are_taken_on_the_ingest_port_only_with_credentials(
    monitor: tuple[str, str],
) -> None:
    _, public = monitor
    url = f"{public}/ingest/canonical"
    assert status_of(url, data=CSAT) == 401
    assert status_of(url, {"Authorization": "Bearer an-ingest-token"}, data=CSAT) == 202


def test_a_slow_header_client_is_cut_within_the_header_timeout(monitor: tuple[str, str]) -> None:
    _, public = monitor
    host, port = public.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as client:
        client.settimeout(HEADER_TIMEOUT + 5)
        started = time.monotonic()
        client.sendall(b"POST /ingest/canonical HTTP/1.1\r\n")
        closed = False
        while not closed and time.monotonic() - started < HEADER_TIMEOUT + 5:
            try:
                client.sendall(b"X-Slow: 1\r\n")
                client.settimeout(0.3)  # one header line per 0.3 s: slower than any real client
                closed = client.recv(1024) == b""
            except TimeoutError:
                continue
            except ConnectionError:
                closed = True
        assert closed and time.monotonic() - started < HEADER_TIMEOUT + 1.5
