"""A batch with one bad change, through the real broker: the good change lands on its topic,
the bad one on crm.dlq with its original bytes and the reason, and the answer counts both."""

from __future__ import annotations

import time

import aiohttp
import orjson
import pytest

from streams.config import Settings
from streams.http.ingest.endpoint import IngestEndpoint
from streams.kafka.dead_letters import DeadLetter
from streams.kafka.producer import CrmProducer
from tests.ingest_http import served
from tests.ingest_signing import SECRET_ENV, signed_headers
from tests.integration.test_producer import _consume

pytestmark = pytest.mark.integration

GOOD = b'{"subscriptionType": "deal.creation", "objectId": 31, "occurredAt": 1772445600000}'
BAD = b'{"subscriptionType": "deal.creation", "occurredAt": 1772445600000}'


async def test_a_bad_change_of_a_batch_is_dead_lettered_with_its_bytes_the_good_one_lands(
    broker: str,
) -> None:
    env = {key.removeprefix("CRMKPI_").lower(): value for key, value in SECRET_ENV.items()}
    settings = Settings(kafka_bootstrap=broker, **env)
    body = b"[" + GOOD + b", " + BAD + b"]"
    async with CrmProducer(settings, origin="ingest") as producer:
        async for server in served(IngestEndpoint(settings, producer)):
            url = str(server.make_url("/ingest/hubspot"))
            headers = signed_headers("hubspot", url, body, time.time())
            async with (
                aiohttp.ClientSession() as client,
                client.post(url, data=body, headers=headers) as response,
            ):
                answer = await response.json()
    assert response.status == 202
    assert answer == {"events": 1, "accepted": 1, "rejected": 1, "gaps": 0}
    [created] = await _consume(settings, ["crm.opportunities"], 1)
    assert orjson.loads(created.value or b"")["opportunity_id"] == "31"
    [record] = await _consume(settings, ["crm.dlq"], 1)
    letter = DeadLetter.from_record(record.value, record.headers)
    assert letter.value == BAD
    assert letter.reason == "bad_payload" and "$[1].objectId: required" in letter.detail
    assert letter.origin == "ingest/hubspot"
