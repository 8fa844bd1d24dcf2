"""Real CRM payloads (vendor docs, SDK and integration fixtures; origins in SOURCES.md)
posted through `POST /ingest/{source}` over HTTP: each answers as expected and sends the
canonical events a CRM analyst expects, written by hand in `expected.json`."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import aiohttp
import orjson
import pytest

from streams.config import Settings
from streams.http.ingest.endpoint import IngestEndpoint
from tests.ingest_fixtures import FIXTURES
from tests.ingest_http import RecordingProducer, served
from tests.ingest_signing import SECRET_ENV, signed_headers

REAL = FIXTURES / "real"
CRMS = ("hubspot", "salesforce", "pipedrive", "zendesk")
MIN_PER_CRM = 8


def _cases() -> list[tuple[str, str]]:
    return [
        (crm, name)
        for crm in CRMS
        for name in orjson.loads((REAL / crm / "expected.json").read_bytes())
    ]


def _expected(crm: str, name: str) -> dict[str, Any]:
    expected: dict[str, Any] = orjson.loads((REAL / crm / "expected.json").read_bytes())[name]
    return expected


def _same_instant(event: dict[str, Any]) -> dict[str, Any]:
    """The event with `occurred_at` as an instant, so `.945Z` equals `.945000Z`."""
    return {**event, "occurred_at": datetime.fromisoformat(event["occurred_at"])}


@pytest.mark.parametrize("crm", CRMS)
def test_the_corpus_has_enough_payloads_each_with_an_origin(crm: str) -> None:
    names = [name for kind, name in _cases() if kind == crm]
    sources = (REAL / "SOURCES.md").read_text()
    assert len(names) >= MIN_PER_CRM
    assert sorted(names) == sorted(p.name for p in (REAL / crm).glob("[0-9]*.json"))
    assert all(f"{crm}/{name}" in sources for name in names)


@pytest.mark.parametrize(("crm", "name"), _cases())
async def test_a_real_payload_is_answered_and_translated_as_an_analyst_expects(
    crm: str, name: str
) -> None:
    env = {key.removeprefix("CRMKPI_").lower(): value for key, value in SECRET_ENV.items()}
    settings = Settings(**env)
    producer = RecordingProducer(settings)
    body = (REAL / crm / name).read_bytes()
    expected = _expected(crm, name)
    async for server in served(IngestEndpoint(settings, producer)):
        url = str(server.make_url(f"/ingest/{crm}"))
        async with aiohttp.ClientSession() as client:
            headers = signed_headers(crm, url, body, time.time())
            async with client.post(url, data=body, headers=headers) as response:
                answer = await response.json()
    assert response.status == expected["status"], answer
    if response.status != 202:
        assert expected["error"] in answer["error"]
        assert producer.events == [] and producer.dead_letters == []
        return
    assert [_same_instant(e) for e in producer.events] == [
        _same_instant(e) for e in expected["events"]
    ]
    assert answer["events"] == len(expected["events"])
    assert answer["gaps"] == expected.get("gaps", 0)
    assert [letter.reason for letter in producer.dead_letters] == ["upstream_gap"] * answer["gaps"]
