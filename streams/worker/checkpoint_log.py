"""Reading and writing partition checkpoints on the checkpoint topic.

Checkpoints of source partition `topic:p` live on partition `p % N` of the
checkpoint topic, keyed by `topic:p`; each record is one `kpis.checkpoint`,
a snapshot of the state or the changes since the writer's previous one.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Collection

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from kpis import checkpoint as cp
from kpis.engine import PartitionState
from kpis.ledger import Ledger
from streams.config import Settings
from streams.kafka.partitions import PartitionId
from streams.worker.checkpoint_reader import FENCE, CheckpointReader, FenceLost

__all__ = ["CheckpointLog", "FenceLost"]
MAX_CHECKPOINT_BYTES = 16 * 1024 * 1024
# Per partition and fetch when recovering, a fetch brings at most this beyond what the reader
# needs (a larger checkpoint comes whole): past the log's first fence, 64 KiB (1 MiB made
# reading it take 0.27 s after 720 simulated days); past a window's end, 1 MiB (64 KiB made
# a 2 MB recovery take 0.7-0.9 s instead of 0.26-0.27 s). See bench/longhaul.py.
FIRST_FENCE_FETCH_BYTES = 64 * 1024
WINDOW_FETCH_BYTES = 1024 * 1024
FETCH_WAIT_MS = 100  # a fetch at the end of a log, waiting for records, delays the next seek


class CheckpointLog:
    """The checkpoint topic: append a partition's checkpoints, read back from its latest
    snapshot to recover."""

    def __init__(self, settings: Settings, topic: str, producer: AIOKafkaProducer) -> None:
        self.settings = settings
        self.topic = topic
        self.producer = producer
        self.partitions = settings.partitions
        self._consumers: dict[int, AIOKafkaConsumer] = {}  # by bytes fetched per partition
        self.read_bytes = 0  # by the last recovery

    def partition_of(self, source: PartitionId) -> TopicPartition:
        """The checkpoint partition a source partition's checkpoints are written to."""
        return TopicPartition(self.topic, source.partition % self.partitions)

    async def append(
        self, checkpoints: list[tuple[PartitionId, cp.Checkpoint]]
    ) -> list[tuple[int, int]]:
        """Write source partitions' checkpoints and wait until the broker has all; returns
        the offset the broker acknowledged for each and its size in bytes."""
        encoded = [(source, cp.encode(checkpoint)) for source, checkpoint in checkpoints]
        sent = [
            await self.producer.send(
                self.topic,
                value,
                key=str(source).encode(),
                partition=self.partition_of(source).partition,
            )
            for source, value in encoded
        ]
        written = await asyncio.gather(*sent)
        return [
            (meta.offset, len(value)) for meta, (_, value) in zip(written, encoded, strict=True)
        ]

    async def heads(self, sources: Collection[PartitionId]) -> dict[PartitionId, int]:
        """The next offset of each source's checkpoint partition (as the broker reports it)."""
        consumer = await self._reader()
        ends = await consumer.end_offsets(list({self.partition_of(s) for s in sources}))
        return {source: ends[self.partition_of(source)] for source in sources}

    async def recover(self, sources: Collection[PartitionId]) -> dict[PartitionId, PartitionState]:
        """Rebuild source partitions' states from their checkpoints since their latest
        snapshots (see `checkpoint_reader`).

        The end of each checkpoint partition is found by a fence: a marker record this call
        appends, then reads up to. Every checkpoint acknowledged before it lies below it,
        whatever end offset the broker reports (Tansu's can lag behind the records it serves).
        A partition read past the fence's acknowledged offset to its end without the fence
        raises `FenceLost`.
        The first fence of a checkpoint partition names the incarnation of the logs (the
        time it was written, in µs): a broker that lost its data has a new first fence.
        Reading it is cheap: only checkpoints written on after a loss precede it.
        """
        settings = self.settings
        rules, zone, grace_us = settings.churn_rules(), settings.zone(), settings.grace_us()
        states = {
            source: PartitionState(churn_rules=rules, ledger=Ledger(zone), grace_us=grace_us)
            for source in sources
        }
        tps = {self.partition_of(source) for source in sources}
        fences = {tp: str(tp.partition).encode() + FENCE + uuid.uuid4().hex.encode() for tp in tps}
        acknowledged = await self._append_fences(fences)
        consumers = (
            await self._reader(FIRST_FENCE_FETCH_BYTES),
            await self._reader(),
        )
        owned: dict[TopicPartition, dict[bytes, PartitionState]] = {tp: {} for tp in tps}
        for source, state in states.items():
            owned[self.partition_of(source)][str(source).encode()] = state
        reader = CheckpointReader(consumers, fences, acknowledged, owned)
        try:
            await reader.restore()
        finally:
            self.read_bytes = reader.read_bytes
        for state in states.values():
            state.changed_entities.clear()
            state.new_event_ids.clear()
            state.ledger.dirty.clear()
        return states

    async def _append_fences(
        self, fences: dict[TopicPartition, bytes]
    ) -> dict[TopicPartition, int]:
        """Append each fence, valued with the time (a first fence's incarnation); returns the
        offsets the broker acknowledged for them."""
        incarnation = (time.time_ns() // 1000).to_bytes(8, "big")
        sent = [
            await self.producer.send(self.topic, incarnation, key=fence, partition=tp.partition)
            for tp, fence in fences.items()
        ]
        return {
            TopicPartition(fenced.topic, fenced.partition): fenced.offset
            for fenced in await asyncio.gather(*sent)
        }

    async def close(self) -> None:
        consumers, self._consumers = self._consumers, {}
        for consumer in consumers.values():
            await consumer.stop()

    async def _reader(self, fetch_bytes: int = WINDOW_FETCH_BYTES) -> AIOKafkaConsumer:
        """A consumer fetching up to `fetch_bytes` per partition."""
        if fetch_bytes not in self._consumers:
            consumer = AIOKafkaConsumer(
                **self.settings.kafka_options(),
                enable_auto_commit=False,
                fetch_max_bytes=fetch_bytes * 4,
                max_partition_fetch_bytes=fetch_bytes,
                fetch_max_wait_ms=FETCH_WAIT_MS,
            )
            await consumer.start()
            self._consumers[fetch_bytes] = consumer
        return self._consumers[fetch_bytes]
