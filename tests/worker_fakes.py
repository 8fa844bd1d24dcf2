"""In-process stand-ins for the worker's Kafka clients: a producer, a checkpoint log and
a group consumer that keep what they are given in memory."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import orjson
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from kpis import checkpoint as cp
from kpis.engine import PartitionState
from streams.kafka.partitions import PartitionId
from streams.kafka.topics import Topics
from streams.read.store import MemoryStore, PartitionView
from streams.worker.assignment import Assignment
from streams.worker.consumption import Consumption
from streams.worker.processor import Processor

TOPICS = Topics()
LEADS_0 = PartitionId("crm.leads", 0)
LEADS_1 = PartitionId("crm.leads", 1)
DLQ_0 = PartitionId("crm.dlq", 0)
_ids = itertools.count()


@dataclass(frozen=True)
class Record:
    """A consumed source record."""

    offset: int
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def lead_created(at: str = "2026-03-01T09:00:00Z") -> bytes:
    """A valid canonical event, accepted by any state."""
    n = next(_ids)
    return orjson.dumps(
        {
            "event_id": f"e{n}",
            "type": "lead.created",
            "occurred_at": at,
            "lead_id": f"lead-{n}",
            "channel": "web",
        }
    )


def records(values: list[bytes], first_offset: int = 0) -> list[Record]:
    return [Record(first_offset + i, value) for i, value in enumerate(values)]


class FakeProducer:
    """Keeps what is sent: (topic, value, headers)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, list[tuple[str, bytes]]]] = []

    async def send(
        self, topic: str, value: bytes, headers: list[tuple[str, bytes]] | None = None
    ) -> asyncio.Future[None]:
        self.sent.append((topic, value, headers or []))
        delivered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return delivered


class BrokerDown(KafkaError):  # type: ignore[misc]
    """A checkpoint write or read the broker did not acknowledge."""


class FakeCheckpointLog:
    """Checkpoints in a list, in the order written; the next `failed_appends` appends and
    `failed_recoveries` recoveries raise."""

    def __init__(self) -> None:
        self.written: list[tuple[PartitionId, bytes]] = []
        self.failed_appends = 0
        self.failed_recoveries = 0
        self.on_recover: list[PartitionId] = []  # what `recover` was asked for, in order
        self.read_bytes = 0

    async def append(
        self, checkpoints: list[tuple[PartitionId, cp.Checkpoint]]
    ) -> list[tuple[int, int]]:
        if self.failed_appends:
            self.failed_appends -= 1
            raise BrokerDown("checkpoints not acknowledged")
        first = len(self.written)
        self.written += [(source, cp.encode(checkpoint)) for source, checkpoint in checkpoints]
        return [(first + i, len(data)) for i, (_, data) in enumerate(self.written[first:])]

    def partition_of(self, source: PartitionId) -> TopicPartition:
        return TopicPartition("checkpoints", 0)  # one list: one partition

    async def heads(self, sources: Collection[PartitionId]) -> dict[PartitionId, int]:
        return {source: len(self.written) for source in sources}

    async def recover(self, sources: Collection[PartitionId]) -> dict[PartitionId, PartitionState]:
        self.on_recover += sources
        if self.failed_recoveries:
            self.failed_recoveries -= 1
            raise BrokerDown("fence not read back")
        states = {source: PartitionState() for source in sources}
        for source, written in self.written:
            if source in states:
                cp.restore(states[source], cp.decode(written))
                self.read_bytes += len(written)
        return states

    def offsets(self, source: PartitionId) -> list[int]:
        """The offsets the checkpoints of `source` cover, in the order written."""
        return [cp.decode(data).offset for written, data in self.written if written == source]


class FakeGroupConsumer:
    """Records commits, seeks and resumes; `positions` and `highwaters` are what `position`
    and `highwater` answer."""

    def __init__(self) -> None:
        self.commits: list[dict[PartitionId, int]] = []
        self.seeks: list[tuple[PartitionId, int]] = []
        self.resumed: list[set[PartitionId]] = []
        self.positions: dict[PartitionId, int] = {}
        self.highwaters: dict[PartitionId, int] = {}

    async def resume(self, partitions: Collection[PartitionId]) -> None:
        self.resumed.append(set(partitions))

    async def commit(self, offsets: Mapping[PartitionId, int]) -> None:
        self.commits.append(dict(offsets))

    async def seek(self, partition: PartitionId, offset: int) -> None:
        self.seeks.append((partition, offset))

    async def position(self, partition: PartitionId) -> int | None:
        return self.positions.get(partition)

    def highwater(self, partition: PartitionId) -> int | None:
        return self.highwaters.get(partition)


@dataclass
class Worker:
    """A processor over fakes, and the fakes."""

    processor: Processor
    store: MemoryStore
    producer: FakeProducer
    checkpoints: FakeCheckpointLog
    assignment: Assignment

    async def published(self) -> dict[str, PartitionView]:
        """The store once the publications still in the background are sent."""
        await self.processor.publisher.settled()
        return self.store.partitions


def worker(checkpoints: FakeCheckpointLog | None = None) -> Worker:
    """A fresh worker (a restarted one, given the checkpoints of an earlier one)."""
    store, producer = MemoryStore(), FakeProducer()
    log = checkpoints or FakeCheckpointLog()
    assignment = Assignment(TOPICS)
    processor = Processor(TOPICS, store, producer, log, assignment)  # type: ignore[arg-type]
    return Worker(processor, store, producer, log, assignment)


class TopicsRecreated:
    """Counts the calls of `recreate_topics`."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1


def consumption(w: Worker, consumer: FakeGroupConsumer) -> tuple[Consumption, TopicsRecreated]:
    """The consumption loop of a worker over a fake group consumer."""
    recreated = TopicsRecreated()
    return Consumption(w.processor, consumer, w.assignment, recreated), recreated
