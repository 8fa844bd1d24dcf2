"""The producer SDK against a real broker: topics, keys, bytes, dead letters, errors."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from streams.config import Settings
from streams.kafka.dead_letters import DeadLetter
from streams.kafka.outcomes import Problem
from streams.kafka.producer import CrmProducer, ProducerError
from streams.kafka.sync_producer import SyncCrmProducer
from tests.conftest import free_port
from tests.waiting import wait_until_async

pytestmark = pytest.mark.integration

# The expected topic and key of each valid event are written out by hand from EVENTS.md.
VALID: list[tuple[str, str, dict[str, object]]] = [
    ("leads", "L1", {"type": "lead.created", "lead_id": "L1", "channel": "web"}),
    (
        "opportunities",
        "O1",
        {
            "type": "opportunity.created",
            "opportunity_id": "O1",
            "amount": 1200.5,
            "stage": "discovery",
            "rep": "ana",
            "team": "emea",
        },
    ),
    (
        "activities",
        "A1",
        {
            "type": "activity.logged",
            "activity_id": "A1",
            "kind": "call",
            "rep": "ana",
            "team": "emea",
        },
    ),
    (
        "customers",
        "C1",
        {
            "type": "customer.subscribed",
            "customer_id": "C1",
            "segment": "smb",
            "channel": "web",
            "mrr": 99,
        },
    ),
    (
        "tickets",
        "T1",
        {"type": "ticket.opened", "ticket_id": "T1", "team": "support", "priority": "high"},
    ),
    ("surveys", "R1", {"type": "survey.csat", "response_id": "R1", "score": 4, "team": "support"}),
    (
        "marketing",
        "S1",
        {"type": "marketing.spend", "spend_id": "S1", "channel": "web", "amount": 10},
    ),
]


def _line(number: int, body: dict[str, object], event_id: str | None = None) -> bytes:
    event = {"event_id": event_id or f"e{number}", "occurred_at": "2026-03-01T09:30:00Z", **body}
    return orjson.dumps(event)


VALID_LINES = [_line(n, body) for n, (_, _, body) in enumerate(VALID, start=1)]
INVALID_JSON = b'{"event_id": "broken", "type": '
SCHEMA = _line(0, {"type": "survey.csat", "response_id": "R2", "score": 9, "team": "x"}, "bad")
DUPLICATE = _line(0, {"type": "lead.qualified", "lead_id": "L1"}, "e1")
LINES = [*VALID_LINES[:3], INVALID_JSON, *VALID_LINES[3:5], SCHEMA, *VALID_LINES[5:], DUPLICATE]
REJECTS = {4: ("invalid_json", None), 7: ("schema", "bad"), 10: ("duplicate", "e1")}


@pytest.fixture
def settings(broker: str) -> Settings:
    """A non-default topic prefix, so every topic name below proves the prefix is honoured."""
    return Settings(kafka_bootstrap=broker, topic_prefix=f"t{uuid.uuid4().hex[:8]}.", partitions=2)


@pytest.fixture
def jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in LINES))
    return path


async def _consume(settings: Settings, topics: list[str], count: int) -> list[ConsumerRecord]:
    """Every record of `topics`, once `count` of them have arrived."""
    consumer = AIOKafkaConsumer(
        *topics, group_id=None, auto_offset_reset="earliest", **settings.kafka_options()
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:

        async def fetch() -> int:
            batches = await consumer.getmany(timeout_ms=500)
            records.extend(record for batch in batches.values() for record in batch)
            return len(records)

        await wait_until_async(fetch, f"{count} records", lambda fetched: fetched >= count)
    finally:
        await consumer.stop()
    return records


async def test_report_counts_sent_and_names_each_rejected_line(
    settings: Settings, jsonl: Path
) -> None:
    seen: list[int] = []
    async with CrmProducer(settings) as producer:
        with jsonl.open("rb") as lines:
            report = await producer.send_lines(lines, progress=seen.append)
    assert report.sent == len(VALID)
    assert report.rejected == {"invalid_json": 1, "schema": 1, "duplicate": 1}
    assert [(p.line, p.reason, p.event_id) for p in report.problems] == [
        (line, reason, event_id) for line, (reason, event_id) in REJECTS.items()
    ]
    assert all(isinstance(p, Problem) and p.detail for p in report.problems)
    assert seen[-1] == len(LINES)


async def test_valid_events_are_on_their_domain_topic_keyed_by_entity_with_original_bytes(
    settings: Settings, jsonl: Path
) -> None:
    async with CrmProducer(settings) as producer:
        with jsonl.open("rb") as lines:
            await producer.send_lines(lines)
    domains = sorted({domain for domain, _, _ in VALID})
    records = await _consume(settings, [settings.topic_prefix + d for d in domains], len(VALID))
    found = sorted((r.topic, r.key, r.value) for r in records)
    expected = sorted(
        (settings.topic_prefix + domain, key.encode(), line)
        for (domain, key, _), line in zip(VALID, VALID_LINES, strict=True)
    )
    assert found == expected


async def test_rejected_lines_are_on_the_dead_letter_topic_with_reason_headers(
    settings: Settings, jsonl: Path
) -> None:
    async with CrmProducer(settings) as producer:
        with jsonl.open("rb") as lines:
            await producer.send_lines(lines)
    records = await _consume(settings, [settings.topic_prefix + "dlq"], len(REJECTS))
    letters = [DeadLetter.from_record(r.value, r.headers) for r in records]
    assert sorted((letter.reason, letter.value) for letter in letters) == sorted(
        [("invalid_json", INVALID_JSON), ("schema", SCHEMA), ("duplicate", DUPLICATE)]
    )
    assert {letter.origin for letter in letters} == {"producer"}
    assert all(letter.rejected_at.endswith("Z") and letter.detail for letter in letters)


async def test_a_rejected_event_does_not_consume_its_event_id(settings: Settings) -> None:
    async with CrmProducer(settings) as producer:
        first = await producer.send_line(SCHEMA)
        second = await producer.send_line(_line(0, dict(VALID[0][2]), "bad"))
        third = await producer.send_line(_line(0, dict(VALID[0][2]), "bad"))
    assert (first.reason, second.reason, third.reason) == ("schema", None, "duplicate")
    assert second.sent and second.topic == settings.topic_prefix + "leads"


async def test_future_events_are_rejected(settings: Settings) -> None:
    future = _line(0, dict(VALID[0][2])).replace(b"2026-03-01", b"2999-01-01")
    async with CrmProducer(settings) as producer:
        outcome = await producer.send_line(future)
    assert outcome.reason == "future_timestamp"
    assert outcome.topic == settings.topic_prefix + "dlq"


async def test_send_lines_reads_an_async_iterable(settings: Settings) -> None:
    async def lines() -> AsyncIterator[bytes]:
        for line in VALID_LINES:
            await asyncio.sleep(0)
            yield line

    async with CrmProducer(settings) as producer:
        report = await producer.send_lines(lines())
    assert (report.sent, report.rejected) == (len(VALID), {})


def test_sync_producer_sends_dicts_and_lines(settings: Settings) -> None:
    event = {"event_id": "d1", "occurred_at": "2026-03-01T09:30:00Z", **VALID[4][2]}
    with SyncCrmProducer(CrmProducer(settings)) as producer:
        outcome = producer.send_event(event)
        report = producer.send_lines([VALID_LINES[0], INVALID_JSON])
    assert outcome.sent and outcome.topic == settings.topic_prefix + "tickets"
    assert (report.sent, report.rejected) == (1, {"invalid_json": 1})
    records = asyncio.run(_consume(settings, [settings.topic_prefix + "tickets"], 1))
    assert [(r.key, orjson.loads(r.value)) for r in records] == [(b"T1", event)]


async def test_unreachable_broker_raises_a_one_line_producer_error_quickly() -> None:
    address = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(ProducerError) as raised:
        async with CrmProducer(Settings(kafka_bootstrap=address), request_timeout=2):
            pass
    assert time.monotonic() - started < 10
    assert address in str(raised.value) and "\n" not in str(raised.value)


def test_unreachable_broker_raises_producer_error_in_sync_use() -> None:
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(ProducerError, match=address):
        SyncCrmProducer(CrmProducer(Settings(kafka_bootstrap=address), request_timeout=2))
