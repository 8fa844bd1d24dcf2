"""Reading and writing partition checkpoints on the checkpoint topic.

Checkpoints of source partition `topic:p` live on partition `p % N` of the
checkpoint topic, keyed by `topic:p`; each record is one `kpis.checkpoint`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Collection

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, KafkaTimeoutError

from kpis import checkpoint as cp
from kpis.engine import PartitionState
from kpis.ledger import Ledger
from streams.config import Settings
from streams.kafka.partitions import PartitionId

MAX_CHECKPOINT_BYTES = 16 * 1024 * 1024
FENCE = b":fence:"  # key infix of the markers `recover` reads up to
FENCE_TIMEOUT_SECONDS = 60.0


class FenceLost(KafkaError):  # type: ignore[misc]
    """The broker acknowledged a fence but does not serve it: recovery writes a new one.

    Tansu 0.6.0 does this after a restart with memory storage: a batch produced to a topic
    it no longer has is stored, and the topic created again reuses its offsets, hiding
    records acknowledged next.
    """


class CheckpointLog:
    """The checkpoint topic: append a partition's changes, read them all back to recover."""

    def __init__(self, settings: Settings, topic: str, producer: AIOKafkaProducer) -> None:
        self.settings = settings
        self.topic = topic
        self.producer = producer
        self.partitions = settings.partitions
        self._consumer: AIOKafkaConsumer | None = None

    def partition_of(self, source: PartitionId) -> TopicPartition:
        """The checkpoint partition a source partition's checkpoints are written to."""
        return TopicPartition(self.topic, source.partition % self.partitions)

    async def append(self, checkpoints: list[tuple[PartitionId, cp.Checkpoint]]) -> None:
        """Write source partitions' checkpoints and wait until the broker has all."""
        sent = [
            await self.producer.send(
                self.topic,
                cp.encode(checkpoint),
                key=str(source).encode(),
                partition=self.partition_of(source).partition,
            )
            for source, checkpoint in checkpoints
        ]
        await asyncio.gather(*sent)

    async def recover(self, sources: Collection[PartitionId]) -> dict[PartitionId, PartitionState]:
        """Rebuild source partitions' states from every checkpoint written for them, reading
        each checkpoint partition once.

        The end of each checkpoint partition is found by a fence: a marker record this call
        appends, then reads up to. Every checkpoint acknowledged before it lies below it,
        whatever end offset the broker reports (Tansu's can lag behind the records it serves).
        A partition read past the fence's acknowledged offset to its end without the fence
        raises `FenceLost`.
        The first fence of a checkpoint partition names the incarnation of the logs (the
        time it was written, in µs): a broker that lost its data has a new first fence.
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
        consumer = await self._reader()
        consumer.assign(list(tps))
        await consumer.seek_to_beginning(*tps)
        owned: dict[TopicPartition, list[PartitionState]] = {}
        for source, state in states.items():
            owned.setdefault(self.partition_of(source), []).append(state)
        reader = _FenceReader(consumer, fences, acknowledged, owned)
        await reader.restore({str(source).encode(): state for source, state in states.items()})
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


class _FenceReader:
    """Reads checkpoint partitions from their beginning up to the fences just appended."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        fences: dict[TopicPartition, bytes],
        acknowledged: dict[TopicPartition, int],
        owned: dict[TopicPartition, list[PartitionState]],
    ) -> None:
        self.consumer = consumer
        self.fences = fences
        self.acknowledged = acknowledged
        self.owned = owned  # the states recovered from each checkpoint partition
        self.reading = set(fences)
        self.incarnated: set[TopicPartition] = set()
        self.passed: set[TopicPartition] = set()  # read past their fence's offset, fence unseen

    async def restore(self, states: dict[bytes, PartitionState]) -> None:
        """Apply every checkpoint keyed as one of `states` to it, until each fence is read."""
        deadline = time.monotonic() + FENCE_TIMEOUT_SECONDS
        while self.reading and time.monotonic() < deadline:
            batches = await self.consumer.getmany(*self.reading, timeout_ms=1000)
            if lost := (self.reading & self.passed) - batches.keys():
                missing = ", ".join(str(tp.partition) for tp in sorted(lost))
                raise FenceLost(f"checkpoint partitions {missing}: fence acknowledged, not served")
            for tp, records in batches.items():
                for record in records:
                    key = record.key or b""
                    if record.offset >= self.acknowledged[tp] and key != self.fences[tp]:
                        self.passed.add(tp)
                    if FENCE not in key:
                        state = states.get(key)
                        if state is not None and record.value is not None:
                            cp.restore(state, cp.decode(record.value))
                    elif self._fence_read(tp, key, record.value or b""):
                        break
        if self.reading:
            missing = ", ".join(str(tp.partition) for tp in sorted(self.reading))
            raise KafkaTimeoutError(f"checkpoint partitions {missing}: fence not read back")

    def _fence_read(self, tp: TopicPartition, key: bytes, value: bytes) -> bool:
        """Note a fence read on `tp`; whether it is this recovery's own (`tp` is read)."""
        if tp not in self.incarnated:  # the first fence names the incarnation of the logs
            self.incarnated.add(tp)
            for state in self.owned[tp]:
                state.incarnation = int.from_bytes(value, "big")
        if key != self.fences[tp]:
            return False
        self.reading.discard(tp)
        return True
