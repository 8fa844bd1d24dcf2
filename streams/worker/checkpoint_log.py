"""Reading and writing partition checkpoints on the checkpoint topic.

Checkpoints of source partition `topic:p` live on partition `p % N` of the
checkpoint topic, keyed by `topic:p`; each record is one `kpis.checkpoint`.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, KafkaTimeoutError

from kpis import checkpoint as cp
from kpis.engine import PartitionState
from streams.config import Settings

MAX_CHECKPOINT_BYTES = 16 * 1024 * 1024
FENCE = ":fence:"  # key infix of the markers `recover` reads up to
FENCE_TIMEOUT_SECONDS = 60.0


def encode_incarnation(incarnation: int) -> bytes:
    return incarnation.to_bytes(8, "big")


def decode_incarnation(value: bytes | None) -> int:
    """A fence's incarnation; fences written before incarnations existed are the first (0)."""
    return int.from_bytes(value, "big") if value else 0


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

    async def recover(self, partitions: dict[str, int]) -> dict[str, PartitionState]:
        """Rebuild source partitions' states (name -> source partition) from every checkpoint
        written for them, reading each checkpoint partition once.

        The end of each checkpoint partition is found by a fence: a marker record this call
        appends, then reads up to. Every checkpoint acknowledged before it lies below it,
        whatever end offset the broker reports (Tansu's can lag behind the records it serves).
        A partition read past the fence's acknowledged offset to its end without the fence
        raises `FenceLost`.
        The first fence of a checkpoint partition names the incarnation of the logs (the
        time it was written, in µs): a broker that lost its data has a new first fence.
        """
        states = {
            name.encode(): PartitionState(churn_rules=self.settings.churn_rules())
            for name in partitions
        }
        tps = {TopicPartition(self.topic, self.partition_of(p)) for p in partitions.values()}
        owned = {
            tp: [
                states[name.encode()]
                for name, p in partitions.items()
                if self.partition_of(p) == tp.partition
            ]
            for tp in tps
        }
        fences = {tp: f"{tp.partition}{FENCE}{uuid.uuid4().hex}".encode() for tp in tps}
        sent = [
            await self.producer.send(
                self.topic,
                encode_incarnation(time.time_ns() // 1000),
                key=fence,
                partition=tp.partition,
            )
            for tp, fence in fences.items()
        ]
        acknowledged = {
            TopicPartition(fenced.topic, fenced.partition): fenced.offset
            for fenced in await asyncio.gather(*sent)
        }
        consumer = await self._reader()
        consumer.assign(list(tps))
        await consumer.seek_to_beginning(*tps)
        reading = set(tps)
        incarnated: set[TopicPartition] = set()
        passed: set[TopicPartition] = set()  # read past their fence's offset, fence unseen
        deadline = time.monotonic() + FENCE_TIMEOUT_SECONDS
        while reading and time.monotonic() < deadline:
            batches = await consumer.getmany(*reading, timeout_ms=1000)
            if lost := (reading & passed) - batches.keys():
                missing = ", ".join(str(tp.partition) for tp in sorted(lost))
                raise FenceLost(f"checkpoint partitions {missing}: fence acknowledged, not served")
            for tp, records in batches.items():
                for record in records:
                    key = record.key or b""
                    if record.offset >= acknowledged[tp] and key != fences[tp]:
                        passed.add(tp)
                    if FENCE.encode() in key:
                        if tp not in incarnated:
                            incarnated.add(tp)
                            for recovering in owned[tp]:
                                recovering.incarnation = decode_incarnation(record.value)
                        if key == fences[tp]:
                            reading.discard(tp)
                            break
                        continue
                    state = states.get(key)
                    if state is not None and record.value is not None:
                        cp.restore(state, cp.decode(record.value))
        if reading:
            missing = ", ".join(str(tp.partition) for tp in sorted(reading))
            raise KafkaTimeoutError(f"checkpoint partitions {missing}: fence not read back")
        for state in states.values():
            state.changed_entities.clear()
            state.new_event_ids.clear()
            state.ledger.dirty.clear()
        return {key.decode(): state for key, state in states.items()}

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
