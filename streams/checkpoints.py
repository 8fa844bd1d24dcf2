"""Reading and writing partition checkpoints on the checkpoint topic.

Checkpoints of source partition `topic:p` live on partition `p % N` of the
checkpoint topic, keyed by `topic:p`; each record is one `kpis.checkpoint`.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaTimeoutError

from kpis import checkpoint as cp
from kpis.engine import PartitionState
from streams.config import Settings

MAX_CHECKPOINT_BYTES = 16 * 1024 * 1024
FENCE = ":fence:"  # key infix of the markers `recover` reads up to
FENCE_TIMEOUT_SECONDS = 60.0


class CheckpointLog:
    """The checkpoint topic: append a partition's changes, read them all back to recover."""

    def __init__(self, settings: Settings, topic: str, producer: AIOKafkaProducer) -> None:
        self.settings = settings
        self.topic = topic
        self.producer = producer
        self.partitions = settings.partitions
        self._consumer: AIOKafkaConsumer | None = None

    def partition_of(self, source_partition: int) -> int:
        return source_partition % self.partitions

    async def append(self, checkpoints: list[tuple[str, int, cp.Checkpoint]]) -> None:
        """Write checkpoints (name, source partition, changes) and wait until the broker has all."""
        sent = [
            await self.producer.send(
                self.topic,
                cp.encode(checkpoint),
                key=name.encode(),
                partition=self.partition_of(source_partition),
            )
            for name, source_partition, checkpoint in checkpoints
        ]
        await asyncio.gather(*sent)

    async def recover(self, name: str, source_partition: int) -> PartitionState:
        """Rebuild a source partition's state from every checkpoint written for it.

        The end of the log is found by a fence: a marker record this call appends, then
        reads up to. Every checkpoint acknowledged before it lies below it, whatever end
        offset the broker reports (Tansu's can lag behind the records it serves).
        """
        state = PartitionState(churn_rules=self.settings.churn_rules())
        tp = TopicPartition(self.topic, self.partition_of(source_partition))
        fence = f"{name}{FENCE}{uuid.uuid4().hex}".encode()
        await (await self.producer.send(self.topic, b"", key=fence, partition=tp.partition))
        consumer = await self._reader()
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        wanted = name.encode()
        deadline = time.monotonic() + FENCE_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            batches = await consumer.getmany(tp, timeout_ms=1000)
            for record in batches.get(tp, []):
                if record.key == fence:
                    state.changed_entities.clear()
                    state.new_event_ids.clear()
                    state.ledger.dirty.clear()
                    return state
                if record.key == wanted and record.value is not None:
                    cp.restore(state, cp.decode(record.value))
        raise KafkaTimeoutError(f"checkpoints of {name}: fence not read back")

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def _reader(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            self._consumer = AIOKafkaConsumer(
                **self.settings.kafka_options(),
                enable_auto_commit=False,
                fetch_max_bytes=MAX_CHECKPOINT_BYTES * 4,
                max_partition_fetch_bytes=MAX_CHECKPOINT_BYTES,
            )
            await self._consumer.start()
        return self._consumer
