"""Two listeners: the public one serves webhooks and /healthz only; reads stay internal."""

from __future__ import annotations

import pytest

from tests.conftest import free_port
from tests.http_servers import AT_RISK, READ_PATHS, fetch, listening, settings_with


async def test_without_an_ingest_port_one_listener_serves_reads_and_ingest() -> None:
    settings = settings_with()
    async with listening(settings):
        base = f"http://127.0.0.1:{settings.http_port}"
        assert (await fetch(f"{base}/kpis"))[0] == 200
        assert (await fetch(f"{base}/ingest/canonical", "POST", data=b"{}"))[0] == 202


@pytest.mark.parametrize("path", READ_PATHS)
async def test_the_public_listener_answers_404_for_every_read_path(path: str) -> None:
    settings = settings_with(ingest_port=free_port())
    async with listening(settings):
        public = f"http://127.0.0.1:{settings.ingest_port}"
        for method in ("GET", "HEAD", "POST"):
            status, _, body = await fetch(public + path, method)
            assert status == 404, (method, path)
            assert AT_RISK.encode() not in body


async def test_the_public_listener_serves_ingest_and_a_bare_healthz() -> None:
    settings = settings_with(ingest_port=free_port())
    async with listening(settings):
        public = f"http://127.0.0.1:{settings.ingest_port}"
        assert (await fetch(f"{public}/ingest/canonical", "POST", data=b"{}"))[0] == 202
        status, _, body = await fetch(f"{public}/healthz")
        assert status == 200 and body == b'{"status":"ok"}'


async def test_with_an_ingest_port_the_internal_listener_serves_no_ingest() -> None:
    settings = settings_with(ingest_port=free_port())
    async with listening(settings):
        internal = f"http://127.0.0.1:{settings.http_port}"
        assert (await fetch(f"{internal}/ingest/canonical", "POST", data=b"{}"))[0] == 404
        status, _, body = await fetch(f"{internal}/kpis")
        assert status == 200 and AT_RISK.encode() in body
