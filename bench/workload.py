"""The benchmark's events: simulated CRM history, keyed for Kafka, with fixed seeds."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaProducer

from kpis.events import decode_event, format_time
from streams.kafka.topics import Topics
from streams.simulate import simulate_history

SEED = 11
DAYS = 60  # long enough for any requested count at the scale below
EXTRA_REPS = 50  # /metrics and /kpis are measured with this many reps (the simulator has 16)


@dataclass(frozen=True)
class KafkaRecord:
    """One event as the producer SDK would send it: its domain topic, entity key and bytes."""

    topic: str
    key: bytes
    value: bytes


def simulated(count: int, seed: int = SEED) -> list[bytes]:
    """The first `count` events of a simulated history (about 1,800 a day per unit of scale)."""
    scale = max(1.0, count / (1_800 * 30))
    lines = itertools.islice(simulate_history(seed, DAYS, scale=scale), count)
    return [line.encode() for line in lines]


def rep_activities(last: bytes, reps: int = EXTRA_REPS) -> list[bytes]:
    """One activity per rep `rep-01`..`rep-NN`, at the time of `last`, so every rep is a series."""
    occurred_at = orjson.loads(last)["occurred_at"]
    teams = ("emea", "amer", "apac")
    return [
        orjson.dumps(
            {
                "event_id": f"bench-rep-{n}",
                "type": "activity.logged",
                "occurred_at": occurred_at,
                "activity_id": f"bench-act-{n}",
                "kind": "call",
                "rep": f"rep-{n:02d}",
                "team": teams[n % len(teams)],
            }
        )
        for n in range(1, reps + 1)
    ]


def on_the_wall_clock(records: list[KafkaRecord], rate: float) -> list[KafkaRecord]:
    """`records` as live traffic sent from now at `rate` events/s: each event's time is the
    wall-clock time it will be sent at (the history's order kept, its spans compressed)."""
    start_us = time.time_ns() // 1000
    stamped = []
    for number, record in enumerate(records):
        event = orjson.loads(record.value)
        event["occurred_at"] = format_time(start_us + int(number * 1_000_000 / rate))
        stamped.append(KafkaRecord(record.topic, record.key, orjson.dumps(event)))
    return stamped


def keyed(lines: list[bytes], topics: Topics) -> list[KafkaRecord]:
    """Each event on its domain topic, keyed by its entity (as `crmkpi produce` sends it)."""
    records = []
    for line in lines:
        event = decode_event(line)
        records.append(KafkaRecord(topics.for_event(event), event.entity_id.encode(), line))
    return records


async def preload(bootstrap: str, records: list[KafkaRecord], chunk: int = 5_000) -> None:
    """Write `records` to the broker in order and wait until every one is acknowledged."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks=1, linger_ms=5, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        for start in range(0, len(records), chunk):
            sent = [
                await producer.send(record.topic, record.value, key=record.key)
                for record in records[start : start + chunk]
            ]
            await asyncio.gather(*sent)
    finally:
        await producer.stop()
