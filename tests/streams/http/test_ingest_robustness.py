"""Inputs that once answered 500, and EVENTS.md's precedence for a line that is not JSON."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from kpis.events import Rejection, decode_event
from streams.config import Settings
from streams.http.ingest.endpoint import IngestEndpoint
from tests.ingest_http import RecordingProducer, served
from tests.ingest_signing import SECRET_ENV, signed_headers

CSAT = (
    b'{"event_id": "csat-1", "type": "survey.csat", "occurred_at": "2026-03-01T09:00:00Z",'
    b' "response_id": "R1", "score": 4, "team": "support", "extra": %s}'
)


@pytest.mark.parametrize("line", [b"[1, 2", b'["a"', b"{", b'{"event_id": "a", "type": '])
def test_a_line_that_is_not_json_is_invalid_json_whatever_its_first_bytes(line: bytes) -> None:
    with pytest.raises(Rejection) as rejected:
        decode_event(line)
    assert rejected.value.reason == "invalid_json"


@pytest.mark.parametrize("line", [b"[1, 2]", b'"text"', b"{}"])
def test_json_that_is_not_an_event_object_stays_schema(line: bytes) -> None:
    with pytest.raises(Rejection) as rejected:
        decode_event(line)
    assert rejected.value.reason == "schema"


async def _post(source: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    env = {key.removeprefix("CRMKPI_").lower(): value for key, value in SECRET_ENV.items()}
    settings = Settings(**env)
    async for server in served(IngestEndpoint(settings, RecordingProducer(settings))):
        url = str(server.make_url(f"/ingest/{source}"))
        signed = signed_headers(source, url, body, time.time())
        async with (
            aiohttp.ClientSession() as client,
            client.post(url, data=body, headers={**signed, **headers}) as response,
        ):
            return response.status, await response.json()
    raise AssertionError("no server")


@pytest.mark.parametrize(
    ("source", "header"),
    [("hubspot", "X-HubSpot-Request-Timestamp"), ("salesforce", "X-Salesforce-Timestamp")],
)
async def test_a_timestamp_of_non_ascii_digits_is_refused_with_401(
    source: str, header: str
) -> None:
    status, answer = await _post(source, b"[]", {header: "\u00b2" * 13})
    assert status == 401 and "epoch milliseconds" in answer["error"]


@pytest.mark.parametrize("depth", [300, 2000])
async def test_a_deeply_nested_canonical_event_gets_400_or_202_never_500(depth: int) -> None:
    nested = b'{"k": ' * depth + b"1" + b"}" * depth
    status, answer = await _post("canonical", CSAT % nested, {})
    assert status in (202, 400), answer
    if status == 400:
        assert "nested too deeply" in answer["error"]
