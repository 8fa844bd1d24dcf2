"""Reading back the checkpoints a recovery needs: from each source's latest snapshot on.

Every checkpoint names the checkpoint-log offset of its writer's latest snapshot
(`base`; a snapshot's own offset is its base). The reader scans each checkpoint
partition backwards from the fence it appended until it has the latest checkpoint of
every source it recovers, then reads on back to the smallest of their bases; it applies
to each source only its checkpoints at or after its base. Every record from the smallest
base already known on is needed anyway, so the scan first reads back to it; past it, it
steps back a quarter as far again as it has read (at least one record), so at most a fifth
of what it reads lies before the smallest base. A source never written is
recovered empty once the scan reaches the start of the log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError, KafkaTimeoutError

from kpis import checkpoint as cp
from kpis.engine import PartitionState

FENCE = b":fence:"  # key infix of the markers `recover` reads up to
FENCE_TIMEOUT_SECONDS = 60.0
SMALLEST_STEP = 1  # record: the first step back from the fence, and the least one

Visit = Callable[[TopicPartition, ConsumerRecord[bytes, bytes]], bool]
"""Takes a record read; True when its partition is read far enough."""


class FenceLost(KafkaError):  # type: ignore[misc]
    """The broker acknowledged a fence but does not serve it: recovery writes a new one.

    Tansu 0.6.0 does this after a restart with memory storage: a batch produced to a topic
    it no longer has is stored, and the topic created again reuses its offsets, hiding
    records acknowledged next.
    """


class _Partition:
    """What the reader has of one checkpoint partition: its window and the sources' bases."""

    def __init__(self, fence: bytes, fenced_at: int, states: dict[bytes, PartitionState]) -> None:
        self.fence = fence
        self.fenced_at = fenced_at  # the offset the broker acknowledged for the fence
        self.states = states  # the sources recovered from it, by key
        self.start = fenced_at  # the window read: from here to the fence
        self.log_start = -1  # the offset of its first record
        self.window: list[tuple[int, bytes, cp.Checkpoint]] = []  # in log order
        self.read: list[tuple[int, bytes, cp.Checkpoint]] = []  # before the window, being read
        self.bases: dict[bytes, int] = {}  # of each source's latest checkpoint read

    def next_start(self) -> int:
        """Where the window must begin: the smallest base known (needed in any case); past
        it, while a source's latest checkpoint is unread, a quarter as far again as read."""
        smallest_base = min(self.bases.values(), default=self.start)
        if len(self.bases) == len(self.states) or self.start <= self.log_start:
            return smallest_base
        if smallest_base < self.start:
            return max(self.log_start, smallest_base)
        step = max(SMALLEST_STEP, (self.fenced_at - self.start) // 4)
        return max(self.log_start, self.start - step)

    def widen(self, start: int) -> None:
        """Put the checkpoints read from `start` in front of the window."""
        for offset, key, checkpoint in reversed(self.read):
            if key not in self.bases:  # the source's latest checkpoint
                base = offset if checkpoint.full else checkpoint.base
                self.bases[key] = base if base >= 0 else self.log_start
        self.window[:0], self.read = self.read, []
        self.start = start

    def restore(self) -> None:
        """Apply each source's checkpoints from its base on, in log order."""
        for offset, key, checkpoint in self.window:
            if offset >= self.bases[key]:
                cp.restore(self.states[key], checkpoint)


class CheckpointReader:
    """Reads checkpoint partitions back to the snapshots their sources need."""

    def __init__(
        self,
        consumers: tuple[AIOKafkaConsumer, AIOKafkaConsumer],
        fences: Mapping[TopicPartition, bytes],
        fenced_at: Mapping[TopicPartition, int],
        states: Mapping[TopicPartition, dict[bytes, PartitionState]],
    ) -> None:
        # Fetching little (the first fence follows the log's start closely) and more.
        self.first, self.consumer = consumers
        self.partitions = {tp: _Partition(fences[tp], fenced_at[tp], states[tp]) for tp in fences}
        self.deadline = time.monotonic() + FENCE_TIMEOUT_SECONDS
        self.read_bytes = 0

    async def restore(self) -> None:
        """Set each partition's incarnation, read back its window and apply it."""
        await self._read({tp: None for tp in self.partitions}, self._first_fence, self.first)
        while starts := {
            tp: start
            for tp, partition in self.partitions.items()
            if (start := partition.next_start()) < partition.start
        }:
            await self._read(starts, self._take, self.consumer)
            for tp, start in starts.items():
                self.partitions[tp].widen(start)
        for partition in self.partitions.values():
            partition.restore()

    def _first_fence(self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes]) -> bool:
        """The first fence of a partition names the incarnation of its log."""
        partition = self.partitions[tp]
        if partition.log_start < 0:
            partition.log_start = record.offset
        if FENCE not in (record.key or b""):
            return False
        for state in partition.states.values():
            state.incarnation = int.from_bytes(record.value or b"", "big")
        return True

    def _take(self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes]) -> bool:
        """Keep a checkpoint of a recovered source, of its incarnation; True at the start of
        the window read before (the first one ends at the fence only)."""
        partition = self.partitions[tp]
        if partition.fenced_at > record.offset >= partition.start:
            return True
        state = partition.states.get(record.key or b"")
        if state is not None and record.value is not None:
            checkpoint = cp.decode(record.value)
            if checkpoint.incarnation == state.incarnation:
                partition.read.append((record.offset, record.key or b"", checkpoint))
        return False

    async def _read(
        self,
        starts: Mapping[TopicPartition, int | None],
        visit: Visit,
        consumer: AIOKafkaConsumer,
    ) -> None:
        """Read partitions from their start (None: the beginning) until `visit` says so, or
        their fence is read; a partition read past its fence's offset to its end without
        the fence raises `FenceLost`. The consumer fetches only meanwhile (paused after:
        an unassigned aiokafka 0.14 consumer hangs in `stop`)."""
        consumer.assign(list(starts))
        try:
            await self._read_assigned(starts, visit, consumer)
        finally:
            consumer.pause(*starts)

    async def _read_assigned(
        self,
        starts: Mapping[TopicPartition, int | None],
        visit: Visit,
        consumer: AIOKafkaConsumer,
    ) -> None:
        for tp, start in starts.items():
            if start is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, start)
        reading, passed = set(starts), set[TopicPartition]()
        while reading and time.monotonic() < self.deadline:
            batches = await consumer.getmany(*reading, timeout_ms=1000)
            if lost := (reading & passed) - batches.keys():
                missing = ", ".join(str(tp.partition) for tp in sorted(lost))
                raise FenceLost(f"checkpoint partitions {missing}: fence acknowledged, not served")
            for tp, records in batches.items():
                partition = self.partitions[tp]
                for record in records:
                    key = record.key or b""
                    if record.offset >= partition.fenced_at and key != partition.fence:
                        passed.add(tp)
                    if visit(tp, record) or key == partition.fence:
                        reading.discard(tp)
                        break  # a fence, or the first record of the window read before
                    self.read_bytes += len(key) + len(record.value or b"")
        if reading:
            missing = ", ".join(str(tp.partition) for tp in sorted(reading))
            raise KafkaTimeoutError(f"checkpoint partitions {missing}: fence not read back")
