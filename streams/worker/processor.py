"""Applying batches of source records exactly once, without broker transactions.

For each batch: apply every record to its partition's state (skipping what
the state already covers), send the batch's dead letters, then write one
checkpoint per touched partition — its changes together with the last
offset they cover, in one record — and only then publish to the store and
let the consumer commit. A crash anywhere replays records that the
recovered state either covers (skipped) or does not (applied once).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer

from kpis import checkpoint as cp
from kpis.engine import PartitionState
from kpis.events import Rejection, format_time
from kpis.windows import MINUTE_US
from streams.kafka.dead_letters import WORKER, DeadLetter
from streams.kafka.topics import Topics
from streams.read.store import Position, Store
from streams.worker.checkpoint_log import CheckpointLog

log = logging.getLogger(__name__)
PRUNE_EVERY_US = 10 * MINUTE_US


class SourceRecord(Protocol):
    """The parts of a consumed record the processor needs (an aiokafka `ConsumerRecord`)."""

    @property
    def offset(self) -> int: ...

    @property
    def value(self) -> bytes | None: ...

    @property
    def headers(self) -> Any: ...


SourceBatch = Mapping[tuple[str, int], Sequence[SourceRecord]]
"""Records per source (topic, partition), each partition's in offset order."""


class Processor:
    """Owns the state of the source partitions assigned to this worker."""

    def __init__(
        self, topics: Topics, store: Store, producer: AIOKafkaProducer, checkpoints: CheckpointLog
    ) -> None:
        self.topics = topics
        self.store = store
        self.producer = producer
        self.checkpoints = checkpoints
        self.states: dict[str, PartitionState] = {}
        self.pending: dict[str, int] = {}  # partitions with changes not yet checkpointed
        self.pending_checkpoints: dict[str, cp.Checkpoint] = {}
        self.pending_letters: list[DeadLetter] = []
        self.unpublished: set[str] = set()
        self.pruned_at: dict[str, int] = {}
        self.store_stale_since: float | None = None
        self.last_flush: float | None = None
        self.processing_errors = 0
        self.dead_letters: Counter[str] = Counter()  # written since start, by reason
        self.epoch = 0  # counts `forget` calls: a batch stops when partitions are revoked under it
        self.rewinds: dict[tuple[str, int], int] = {}  # where the consumer must read again
        self.rewound: dict[tuple[str, int], int] = {}  # the last offset read again, per partition
        self.recovering = asyncio.Lock()  # one recovery at a time: a state is never rebuilt twice

    async def process(self, batch: SourceBatch) -> dict[tuple[str, int], int]:
        """Apply one batch, then make it durable and visible.

        Returns, per checkpointed source partition, the offset to resume from:
        safe to commit to the consumer group now.

        Safe to call again with the same batch after a failure (broker or
        store down): applied records are skipped, pending output is retried.
        """
        now_us = time.time_ns() // 1000
        epoch = self.epoch
        missing = {
            f"{topic}:{partition}": partition
            for topic, partition in batch
            if f"{topic}:{partition}" not in self.states
        }
        if missing:
            await self.recover(missing)
        for (topic, partition), records in batch.items():
            name = f"{topic}:{partition}"
            state = self.states.get(name)
            if self.epoch != epoch or state is None:
                # A rebalance forgot partitions meanwhile: applying the rest to a state rebuilt
                # from checkpoints could leave a gap. It comes again from the committed offsets.
                break
            apply = self._apply_dead_letter if topic == self.topics.dlq else self._apply_event
            for record in records:
                if record.offset <= state.offset:
                    continue  # already in the recovered state
                if record.offset > state.offset + 1 and self._rewind(topic, partition, state):
                    break
                letter = apply(state, name, record, now_us)
                if letter is not None:
                    self.pending_letters.append(letter)
                state.offset = record.offset
                self.pending[name] = partition
        return await self._flush()

    async def _flush(self) -> dict[tuple[str, int], int]:
        if self.pending_letters:
            await self._send_dead_letters(self.pending_letters)
            self.pending_letters = []
        batch: list[tuple[str, int, cp.Checkpoint]] = []
        for name, partition in self.pending.items():
            state = self.states.get(name)
            if state is None:
                continue
            checkpoint = self.pending_checkpoints.get(name)
            if checkpoint is None:
                self._maybe_prune(name, state)
                checkpoint = self.pending_checkpoints[name] = cp.take_checkpoint(state)
            batch.append((name, partition, checkpoint))
        await self.checkpoints.append(batch)
        self.pending.clear()
        self.pending_checkpoints.clear()
        resume_at: dict[tuple[str, int], int] = {}
        for name, partition, checkpoint in batch:
            state = self.states.get(name)
            if state is None:  # revoked while the checkpoints were being written
                continue
            await self._publish(name, state, checkpoint)
            topic = name.rpartition(":")[0]
            resume_at[(topic, partition)] = checkpoint.offset + 1
        self.last_flush = time.time()
        return resume_at

    def _rewind(self, topic: str, partition: int, state: PartitionState) -> bool:
        """Whether to read a partition again from the state's next offset: records before
        this one were dropped upstream (fetched before a rebalance).

        Once per offset: if the records are still missing after that, they do not exist
        (retention, compaction or transaction markers), and the gap is accepted.
        """
        key, expected = (topic, partition), state.offset + 1
        if self.rewound.get(key) == expected:
            log.warning("%s:%d has no records from %d: continuing", topic, partition, expected)
            return False
        self.rewound[key] = self.rewinds[key] = expected
        return True

    def forget(self, names: set[str]) -> None:
        """Drop the state of partitions this worker no longer owns."""
        self.epoch += 1
        for name in names:
            self.states.pop(name, None)
            self.pending.pop(name, None)
            self.pending_checkpoints.pop(name, None)
            self.unpublished.discard(name)

    def _apply_dead_letter(
        self, state: PartitionState, name: str, record: SourceRecord, now_us: int
    ) -> DeadLetter | None:
        letter = DeadLetter.from_record(record.value or b"", record.headers)
        if letter.origin != WORKER:  # the worker counted its own rejections already
            state.count_rejection(letter.reason)
        return None  # never dead-lettered again

    def _apply_event(
        self, state: PartitionState, name: str, record: SourceRecord, now_us: int
    ) -> DeadLetter | None:
        value = record.value or b""
        try:
            _, rejection = state.apply_raw(value, now_us)
        except Exception as error:  # a bug must not stop the stream: count it and dead-letter
            log.exception("processing error at %s:%d", name, record.offset)
            self.processing_errors += 1
            rejection = Rejection("processing_error", repr(error))
            state.count_rejection(rejection.reason)
        if rejection is None:
            return None
        source = f"{name}:{record.offset}"
        return DeadLetter(
            value, rejection.reason, rejection.detail, format_time(now_us), WORKER, source
        )

    async def _send_dead_letters(self, letters: list[DeadLetter]) -> None:
        sends = [
            await self.producer.send(self.topics.dlq, letter.value, headers=letter.headers())
            for letter in letters
        ]
        if sends:
            await asyncio.gather(*sends)
        self.dead_letters.update(letter.reason for letter in letters)

    def _maybe_prune(self, name: str, state: PartitionState) -> None:
        watermark = state.ledger.watermark_us
        if watermark is None:
            return
        if watermark - self.pruned_at.get(name, watermark - PRUNE_EVERY_US) >= PRUNE_EVERY_US:
            state.ledger.prune()
            self.pruned_at[name] = watermark

    async def republish(self) -> None:
        """Retry partitions the store missed or lost (it was down or restarted empty).

        Readers catch up when it returns.
        """
        try:
            stored = await self.store.names()
        except Exception:  # still unreachable: retry what is known to be missing
            stored = set(self.states)
        self.unpublished.update(set(self.states) - stored)
        for name in list(self.unpublished):
            state = self.states.get(name)
            if state is not None:
                await self._publish(name, state, None)

    async def recover(self, partitions: dict[str, int]) -> None:
        """Rebuild the state of source partitions (name -> partition) from their checkpoints,
        unless this worker has it already."""
        async with self.recovering:
            epoch = self.epoch
            missing = {name: p for name, p in partitions.items() if name not in self.states}
            if not missing:
                return
            started = time.monotonic()
            states = await self.checkpoints.recover(missing)
            if self.epoch != epoch:
                return  # revoked meanwhile: not kept, the caller stops its batch
            for name, state in states.items():
                self.states[name] = state
                self.unpublished.add(name)  # readers get the whole recovered state
                await self._publish(name, state, None)
        log.info(
            "recovered %d partitions in %.1fs: %s",
            len(states),
            time.monotonic() - started,
            ", ".join(f"{name}@{state.offset}" for name, state in sorted(states.items())),
        )

    async def _publish(
        self, name: str, state: PartitionState, checkpoint: cp.Checkpoint | None
    ) -> None:
        full = checkpoint is None or name in self.unpublished
        changes = (
            list(state.ledger.values.items())
            if full or checkpoint is None
            else [((k0, k1, k2, k3), value) for k0, k1, k2, k3, value in checkpoint.parts]
        )
        try:
            position = Position(state.offset, state.incarnation, state.ledger.watermark_us)
            await self.store.publish(name, position, changes, full=full)
        except Exception as error:  # the store is down: keep consuming, republish later
            if self.store_stale_since is None:
                log.warning("store unreachable, readers see stale KPIs: %s", error)
                self.store_stale_since = time.time()
            self.unpublished.add(name)
            return
        self.unpublished.discard(name)
        if self.store_stale_since is not None and not self.unpublished:
            self.store_stale_since = None
