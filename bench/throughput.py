"""(a) Throughput: the whole worker against a plain aiokafka consumer, on the same topics."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench import services
from bench.workload import KafkaRecord, preload
from streams.config import Settings
from streams.kafka.topics import Topics, ensure_topics
from tests.waiting import wait_until_async

POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Rate:
    """Events handled over the seconds between the first and the last one."""

    events: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


async def load_topics(bootstrap: str, records: list[KafkaRecord]) -> Topics:
    """Create crmkpi's topics (default partition count) and write `records` to them."""
    topics = await ensure_topics(Settings(kafka_bootstrap=bootstrap))
    await preload(bootstrap, records)
    return topics


async def source_partitions(consumer: AIOKafkaConsumer, topics: Topics) -> list[TopicPartition]:
    """Every partition of the topics the worker consumes."""
    await consumer.topics()
    return [
        TopicPartition(topic, partition)
        for topic in topics.sources
        for partition in sorted(consumer.partitions_for_topic(topic) or ())
    ]


async def baseline(bootstrap: str, topics: Topics, expected: int) -> Rate:
    """A plain consumer loop: fetch, decode JSON into a dict, count per type and entity."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        tps = await source_partitions(consumer, topics)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        by_type: Counter[str] = Counter()
        last_seen: dict[str, str] = {}
        seen = 0
        started = 0.0
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            if not started and batches:
                started = time.perf_counter()
            for records in batches.values():
                for record in records:
                    event = orjson.loads(record.value)
                    by_type[event["type"]] += 1
                    last_seen[str(record.key)] = event["event_id"]
                    seen += 1
        return Rate(seen, time.perf_counter() - started)
    finally:
        await consumer.stop()


async def committed(reader: AIOKafkaConsumer, tps: list[TopicPartition]) -> int:
    """Records the worker's consumer group has committed, over every partition."""
    offsets = await asyncio.gather(*(reader.committed(tp) for tp in tps))
    return sum(offset for offset in offsets if offset)


async def worker_rate(
    bootstrap: str, group: str, topics: Topics, expected: int, timeout: float
) -> Rate:
    """Watch the group's committed offsets from the last poll before any progress until all
    are committed (a poll can see everything committed at once: the time is never 0)."""
    # Tansu does not answer the admin client's OffsetFetch: ask as a member-less group consumer.
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await reader.start()
    try:
        tps = await source_partitions(reader, topics)
        idle_at = polled_at = time.perf_counter()

        async def progress() -> int:
            nonlocal idle_at, polled_at
            done = await committed(reader, tps)
            polled_at = time.perf_counter()
            if not done:
                idle_at = polled_at
            return done

        done = await wait_until_async(
            progress,
            f"the worker's group {group} to commit {expected} events",
            lambda done: done >= expected,
            timeout=timeout,
            poll=POLL_SECONDS,
        )
        return Rate(done, polled_at - idle_at)
    finally:
        await reader.stop()


def run_worker(
    bootstrap: str, topics: Topics, logs: Path, expected: int, timeout: float
) -> tuple[Rate, int]:
    """Start a worker on loaded topics; its rate and accepted count once it has caught up."""
    with services.worker(bootstrap, logs, "throughput") as (url, _):
        rate = asyncio.run(worker_rate(bootstrap, "bench-throughput", topics, expected, timeout))
        accepted = int(services.get_json(f"{url}/kpis")["events"]["accepted"])
    return rate, accepted
