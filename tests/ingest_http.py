"""Posting webhooks to a running crmkpi over real HTTP, and reading what landed on the topics."""

from __future__ import annotations

import http.client
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson
from aiohttp.test_utils import TestServer

from kpis.events import Envelope
from streams.config import Settings
from streams.http.ingest.endpoint import IngestEndpoint
from streams.http.server import build_app
from streams.kafka.dead_letters import DeadLetter
from streams.kafka.producer import CrmProducer
from tests.ingest_signing import signed_headers
from tests.integration.test_producer import _consume

# Topic and key of each event type's domain, written out by hand from EVENTS.md.
TOPIC = {
    "lead": "crm.leads",
    "opportunity": "crm.opportunities",
    "activity": "crm.activities",
    "customer": "crm.customers",
    "ticket": "crm.tickets",
    "survey": "crm.surveys",
    "marketing": "crm.marketing",
}
KEY = {
    "lead": "lead_id",
    "opportunity": "opportunity_id",
    "activity": "activity_id",
    "customer": "customer_id",
    "ticket": "ticket_id",
    "survey": "response_id",
    "marketing": "spend_id",
}


def post(
    base: str, path: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """POST `body`; the status and the JSON answer (None when the answer is not JSON)."""
    where = urlsplit(base)
    connection = http.client.HTTPConnection(where.hostname or "", where.port, timeout=30)
    try:
        connection.request("POST", path, body=body, headers=headers or {})
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    try:
        return response.status, orjson.loads(payload)
    except orjson.JSONDecodeError:
        return response.status, None


def deliver(base: str, source: str, body: bytes, at: float | None = None) -> tuple[int, Any]:
    """POST `body` to /ingest/{source}, signed as that CRM signs it."""
    path = f"/ingest/{source}"
    headers = signed_headers(source, base + path, body, time.time() if at is None else at)
    return post(base, path, body, headers)


def where_it_belongs(event: dict[str, Any]) -> tuple[str, bytes, dict[str, Any]]:
    """(topic, key, event) an event must land as."""
    domain = str(event["type"]).split(".")[0]
    return TOPIC[domain], str(event[KEY[domain]]).encode(), event


def comparable(record: tuple[str, bytes, dict[str, Any]]) -> tuple[str, bytes, bytes]:
    """A (topic, key, event) with the event's keys sorted, for order-free comparison."""
    topic, key, event = record
    return topic, key, orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


async def landed(bootstrap: str, count: int) -> list[tuple[str, bytes, dict[str, Any]]]:
    """(topic, key, event) of every record on the domain topics, once `count` have arrived."""
    records = await _consume(Settings(kafka_bootstrap=bootstrap), list(TOPIC.values()), count)
    return [(r.topic, r.key or b"", orjson.loads(r.value or b"null")) for r in records]


class RecordingProducer(CrmProducer):
    """Takes what the endpoint delivers instead of sending it to a broker."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.events: list[dict[str, Any]] = []
        self.dead_letters: list[DeadLetter] = []

    async def deliver(
        self,
        events: Sequence[tuple[Envelope, bytes]],
        dead_letters: Sequence[DeadLetter] = (),
    ) -> None:
        self.events += [orjson.loads(raw) for _, raw in events]
        self.dead_letters += dead_letters


async def served(endpoint: IngestEndpoint) -> AsyncIterator[TestServer]:
    """An HTTP server on loopback whose only working route is `POST /ingest/{source}`."""

    async def nothing() -> tuple[Any, dict[str, int]]:
        raise AssertionError("the ingest tests never read the snapshot")

    async def ready() -> list[str]:
        return []

    server = TestServer(build_app(nothing, ready, ingest=endpoint.handle))
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()
