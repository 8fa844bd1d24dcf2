"""Applying batches of source records exactly once, without broker transactions.

For each batch: apply every record to its partition's state (skipping what
the state already covers), send the batch's dead letters, then write one
checkpoint per touched partition — its changes together with the last
offset they cover, in one record — and only then let the consumer commit,
while the store is told in the background (`StorePublisher.publish_later`).
A crash anywhere replays records that the recovered state either covers
(skipped) or does not (applied once).
A checkpoint is a snapshot of the whole state or its changes (see
`snapshots`); either way one record carries the state and its offset.
A partition being caught up is checkpointed less often (`pacing`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer

from kpis import checkpoint as cp
from kpis.engine import PartitionState
from kpis.windows import MINUTE_US
from streams.kafka.dead_letters import DeadLetter
from streams.kafka.partitions import PartitionId
from streams.kafka.topics import Topics
from streams.read.store import Store
from streams.worker.assignment import Assignment
from streams.worker.checkpoint_log import CheckpointLog
from streams.worker.pacing import CheckpointPacing
from streams.worker.record_applier import RecordApplier, SourceRecord
from streams.worker.rewinds import Rewinds
from streams.worker.snapshots import SnapshotPolicy, Taken
from streams.worker.store_publisher import StorePublisher

log = logging.getLogger(__name__)
PRUNE_EVERY_US = 10 * MINUTE_US
APPLY_EVERY = 50  # records applied between two looks at the clock
TURN_SECONDS = 0.002  # the loop turns at least this often while a batch is applied
# A read waits for several turns. bench.catchup --days 540, /kpis while catching up, median:
# 171 ms turning every 200 records, 75 ms every 50; 172-193 ms every 5 ms, 91 ms every 2 ms.
# A turn hands the interpreter to the consumer's thread and runs every ready task: turning
# every 50 records cost bench.readers' lone worker about 15 % (17,000 events/s, 20,000 by
# the clock), so the clock decides.
APPLYING_SECONDS = 1.0  # since the last flush: batches are being applied
BUSY_SECONDS = 5.0  # since a partition's last checkpoint: it is still being read


SourceBatch = Mapping[PartitionId, Sequence[SourceRecord]]
"""Records per source partition, each partition's in offset order."""


@dataclass(frozen=True)
class Outcome:
    """What the consumer must do after a batch: commit offsets, read partitions again."""

    commit: dict[PartitionId, int] = field(default_factory=dict)
    """Per checkpointed source partition, the offset to resume from: safe to commit now."""
    rewind: dict[PartitionId, int] = field(default_factory=dict)
    """Per partition whose records before a gap were dropped upstream, where to read again."""


class Turns:
    """Lets the event loop turn once `TURN_SECONDS` have passed since the last turn."""

    def __init__(self) -> None:
        self.at = time.perf_counter()

    async def take(self) -> None:
        if time.perf_counter() - self.at >= TURN_SECONDS:
            await asyncio.sleep(0)
            self.at = time.perf_counter()


class Processor:
    """Owns the state of the source partitions assigned to this worker."""

    def __init__(
        self,
        topics: Topics,
        store: Store,
        producer: AIOKafkaProducer,
        checkpoints: CheckpointLog,
        assignment: Assignment,
    ) -> None:
        self.applier = RecordApplier(producer, topics.dlq)
        self.publisher = StorePublisher(store)
        self.checkpoints = checkpoints
        self.assignment = assignment  # its epoch: a batch stops when partitions are revoked
        self.states: dict[PartitionId, PartitionState] = {}
        self.pending: set[PartitionId] = set()  # partitions with changes not yet checkpointed
        self.pending_checkpoints: dict[PartitionId, Taken] = {}
        self.pending_letters: list[DeadLetter] = []
        self.rewinds = Rewinds()
        self.pruned_at: dict[PartitionId, int] = {}
        self.last_flush: float | None = None
        self.pacing = CheckpointPacing()
        self.recovering = asyncio.Lock()  # one recovery at a time: a state is never rebuilt twice
        self.busy = asyncio.Lock()  # a batch or a housekeeping snapshot, one at a time
        self.snapshots = SnapshotPolicy(
            log_partition=lambda s: checkpoints.partition_of(s).partition
        )
        self.last_recovery: tuple[float, int] | None = None  # its seconds and bytes read

    async def process(
        self, batch: SourceBatch, backlog: Mapping[PartitionId, int] | None = None
    ) -> Outcome:
        """Apply one batch, then make it durable and visible (a partition with a `backlog`
        of records past the batch: paced, `pacing`); returns what the consumer must do next.

        Safe to call again with the same batch after a failure (broker or
        store down): applied records are skipped, pending output is retried.
        """
        async with self.busy:
            if backlog is not None:
                self.pacing.fetched(backlog)
            return await self._process(batch)

    async def checkpoint_waiting(self, everything: bool = False) -> Outcome:
        """Checkpoint the changes that waited long enough (`everything`: all of them, as a
        worker stops); returns the offsets now safe to commit."""
        async with self.busy:
            if not self.pending:
                return Outcome()
            return Outcome(await self._flush(everything))

    async def _process(self, batch: SourceBatch) -> Outcome:
        now_us = time.time_ns() // 1000
        epoch = self.assignment.epoch
        if missing := [source for source in batch if source not in self.states]:
            await self.recover(missing)
        await self._apply_batch(batch, epoch, now_us)
        commit = await self._flush(everything=False)
        return Outcome(commit, self.rewinds.take())

    async def _apply_batch(self, batch: SourceBatch, epoch: int, now_us: int) -> None:
        """Apply the batch APPLY_EVERY records at a time, letting the loop turn in between."""
        turns = Turns()
        for source, records in batch.items():
            for start in range(0, len(records), APPLY_EVERY):
                state = self.states.get(source)
                if self.assignment.epoch != epoch or state is None:
                    # A rebalance forgot partitions meanwhile: applying the rest to a state
                    # rebuilt from checkpoints could leave a gap. It comes again from the
                    # committed offsets.
                    return
                if not self._apply(source, state, records[start : start + APPLY_EVERY], now_us):
                    break  # a gap: the partition is read again from its state
                await turns.take()

    def _apply(
        self,
        source: PartitionId,
        state: PartitionState,
        records: Sequence[SourceRecord],
        now_us: int,
    ) -> bool:
        """Apply one partition's records that its state does not cover yet, up to a gap;
        False when it stopped at one."""
        applied_from = state.offset
        complete = True
        for record in records:
            if record.offset <= state.offset:
                continue  # already in the recovered state
            if record.offset > state.offset + 1 and self.rewinds.ask(source, state.offset + 1):
                complete = False
                break
            letter = self.applier.apply(state, source, record, now_us)
            if letter is not None:
                self.pending_letters.append(letter)
            state.offset = record.offset
        if state.offset != applied_from:  # once, not a hash of `source` a record
            self.pending.add(source)
        return complete

    async def _flush(self, everything: bool) -> dict[PartitionId, int]:
        """Send dead letters, checkpoint (but the partitions being caught up whose changes
        may wait, unless `everything`), publish (in the background); returns the offsets
        safe to commit."""
        if self.pending_letters:
            await self.applier.send(self.pending_letters)
            self.pending_letters = []
        taken: list[tuple[PartitionId, Taken]] = []
        waiting: set[PartitionId] = set()
        turns = Turns()
        for source in list(self.pending):
            state = self.states.get(source)
            if state is None:
                continue
            next_one = self.pending_checkpoints.get(source)
            if next_one is None:
                if not everything and self.pacing.may_wait(source):
                    waiting.add(source)
                    continue
                self._maybe_prune(source, state)
                next_one = self.pending_checkpoints[source] = self.snapshots.take(source, state)
                await turns.take()  # a partition's pruning and checkpoint take milliseconds
            taken.append((source, next_one))
        await self._append([(source, each.checkpoint) for source, each in taken])
        self.pending = waiting
        self.pending_checkpoints.clear()
        resume_at: dict[PartitionId, int] = {}
        publications = []
        for source, each in taken:
            state = self.states.get(source)
            if state is None:  # revoked while the checkpoints were being written
                continue
            publications.append(self.publisher.prepared(source, state, each.changes))
            resume_at[source] = each.checkpoint.offset + 1
        await self.publisher.publish_later(publications)
        self.last_flush = time.time()
        self.pacing.checkpointed(resume_at)
        return resume_at

    def unapplied(self, ends: Mapping[str, int]) -> int:
        """Records of this worker's partitions it has not applied, at least: `ends` are end
        offsets (`topic:partition` -> next offset) the broker gave earlier; they only grow."""
        return sum(
            max(0, ends.get(str(source), 0) - state.offset - 1)
            for source, state in self.states.items()
        )

    def applying(self) -> bool:
        """Whether batches are being applied: one was flushed within the last second."""
        return self.last_flush is not None and time.time() - self.last_flush < APPLYING_SECONDS

    async def _append(self, batch: list[tuple[PartitionId, cp.Checkpoint]]) -> None:
        """Write checkpoints, noting each in the snapshot policy."""
        written = await self.checkpoints.append(batch)
        for (source, checkpoint), (log_offset, size) in zip(batch, written, strict=True):
            self.snapshots.written(source, checkpoint, log_offset, size)

    async def snapshot_idle(self) -> None:
        """Write a snapshot of each state without pending changes whose latest snapshot lies
        far behind the head of its checkpoint partition, or that has none yet. Far behind
        by this worker's own bytes only once checkpointed `BUSY_SECONDS` ago: a partition
        still being read gets that snapshot at its next checkpoint (`SnapshotPolicy.take`),
        not one every second while a catch-up writes."""
        async with self.busy, self.recovering:
            idle = [source for source in self.states if source not in self.pending]
            if not idle:
                return
            heads = await self.checkpoints.heads(idle)
            busy = self.pacing.checkpointed_since(time.monotonic() - BUSY_SECONDS)
            due = [s for s in self.snapshots.behind(idle, heads, busy) if s in self.states]
            await self._append([(source, cp.take_snapshot(self.states[source])) for source in due])

    def forget(self, sources: set[PartitionId]) -> None:
        """Drop the state of partitions this worker no longer owns."""
        for source in sources:
            self.states.pop(source, None)
            self.pending.discard(source)
            self.pending_checkpoints.pop(source, None)
            self.publisher.forget(source)
            self.snapshots.forget(source)
            self.pacing.forget(source)

    def _maybe_prune(self, source: PartitionId, state: PartitionState) -> None:
        watermark = state.ledger.watermark_us
        if watermark is None:
            return
        if watermark - self.pruned_at.get(source, watermark - PRUNE_EVERY_US) >= PRUNE_EVERY_US:
            state.prune()
            self.pruned_at[source] = watermark

    async def recover(self, sources: Sequence[PartitionId]) -> None:
        """Rebuild the state of source partitions from their checkpoints, unless this worker
        has it already."""
        async with self.recovering:
            epoch = self.assignment.epoch
            missing = [source for source in sources if source not in self.states]
            if not missing:
                return
            started = time.monotonic()
            states = await self.checkpoints.recover(missing)
            if self.assignment.epoch != epoch:
                return  # revoked meanwhile: not kept, the caller stops its batch
            for source, state in states.items():
                self.states[source] = state
                self.snapshots.forget(source)
                await self.publisher.publish_whole(source, state)
            self.last_recovery = (time.monotonic() - started, self.checkpoints.read_bytes)
        log.info(
            "recovered %d partitions in %.1fs: %s",
            len(states),
            time.monotonic() - started,
            ", ".join(f"{source}@{state.offset}" for source, state in sorted(states.items())),
        )

    async def republish(self) -> None:
        """Publish again what the store missed or lost."""
        await self.publisher.republish(self.states)
