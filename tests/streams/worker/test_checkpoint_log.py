"""Recovery from the checkpoint topic of a real broker: states rebuilt exactly from each
source's latest snapshot on, reading about as much as the state whatever the history."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer

from kpis import checkpoint as cp
from kpis.engine import PartitionState
from streams.config import Settings
from streams.kafka.partitions import PartitionId
from streams.kafka.topics import ensure_topics
from streams.worker.checkpoint_log import MAX_CHECKPOINT_BYTES, CheckpointLog
from streams.worker.snapshots import SnapshotPolicy

pytestmark = pytest.mark.integration

BUSY = PartitionId("crm.leads", 0)
IDLE = PartitionId("crm.tickets", 0)
NEVER = PartitionId("crm.surveys", 0)
DIMENSIONS = 300  # parts of the live state, each changed again and again
BATCH = 250


@pytest.fixture
async def log(broker: str) -> AsyncIterator[CheckpointLog]:
    settings = Settings(kafka_bootstrap=broker, partitions=1)
    topic = (await ensure_topics(settings)).checkpoints
    producer = AIOKafkaProducer(
        bootstrap_servers=broker, acks="all", max_request_size=MAX_CHECKPOINT_BYTES
    )
    await producer.start()
    checkpoints = CheckpointLog(settings, topic, producer)
    try:
        yield checkpoints
    finally:
        await checkpoints.close()
        await producer.stop()


class Writer:
    """A worker's view: recovered states it changes and checkpoints under a policy."""

    def __init__(self, log: CheckpointLog, states: dict[PartitionId, PartitionState]) -> None:
        self.log = log
        self.states = states
        self.policy = SnapshotPolicy(max_behind=2_000)
        self.written = 0  # checkpoint bytes

    async def append(self, checkpoints: list[tuple[PartitionId, cp.Checkpoint]]) -> None:
        written = await self.log.append(checkpoints)
        for (source, checkpoint), (offset, size) in zip(checkpoints, written, strict=True):
            self.policy.written(source, checkpoint, offset, size)
            self.written += size

    async def change(self, source: PartitionId, records: int) -> None:
        """`records` checkpoints of one changed part each, the live state's size unchanged."""
        state = self.states[source]
        for first in range(0, records, BATCH):
            batch = []
            for _ in range(first, min(first + BATCH, records)):
                state.offset += 1  # two owners change a state alike at each offset
                state.ledger.add_gauge("part", f"d{state.offset % DIMENSIONS}", state.offset % 7)
                batch.append((source, self.policy.take(source, state).checkpoint))
            await self.append(batch)
            await self.housekeeping()

    async def housekeeping(self) -> None:
        """What the worker's timer does: snapshot the idle states far behind the head."""
        idle = [source for source in self.states if source != BUSY]
        behind = self.policy.behind(idle, await self.log.heads(idle))
        await self.append([(source, cp.take_snapshot(self.states[source])) for source in behind])


async def recovered(log: CheckpointLog, writer: Writer) -> int:
    """Recover the writer's sources again, check each state is exactly the writer's; bytes read."""
    started = time.monotonic()
    states = await log.recover(list(writer.states))
    print(f"recovered in {time.monotonic() - started:.3f} s, {log.read_bytes} bytes read")
    for source, state in states.items():
        live = writer.states[source]
        assert (state.offset, state.ledger.values) == (live.offset, live.ledger.values), source
        assert state.ledger.watermark_us == live.ledger.watermark_us
        assert state.incarnation == live.incarnation
    return log.read_bytes


async def test_recovery_bytes_stay_constant_while_the_history_grows(log: CheckpointLog) -> None:
    states = await log.recover([BUSY, IDLE, NEVER])  # NEVER: owned, never changed
    writer = Writer(log, states)
    await writer.change(IDLE, 1)
    await writer.change(BUSY, 10_000)
    after_10k = await recovered(log, writer)
    print(f"after 10,000 records: {writer.written} checkpoint bytes written")
    await writer.change(BUSY, 40_000)
    after_50k = await recovered(log, writer)
    print(f"{writer.written} checkpoint bytes written")
    assert after_50k < 1.5 * after_10k
    assert after_10k < 40 * len(cp.encode(cp.take_snapshot(writer.states[BUSY])))


async def test_a_recovery_reads_nothing_before_the_smallest_base(log: CheckpointLog) -> None:
    """Large snapshots superseded just before the latest one are not read back (a window of
    records stepped back from the fence would reach them)."""
    writer = Writer(log, await log.recover([BUSY, IDLE]))
    busy = writer.states[BUSY]
    for dimension in range(10 * DIMENSIONS):
        busy.ledger.add_gauge("part", f"d{dimension}", 1)
    for _ in range(5):
        busy.offset += 1
        await writer.append([(BUSY, cp.take_snapshot(busy))])
    superseded = writer.written
    await writer.append([(IDLE, cp.take_snapshot(writer.states[IDLE]))])
    busy.offset += 1
    await writer.append([(BUSY, cp.take_snapshot(busy))])
    await writer.change(BUSY, 3)
    needed = writer.written - superseded  # values only: keys add a few bytes a record
    read = await recovered(log, writer)
    assert needed <= read < needed + 1_000


async def test_changes_of_another_owner_that_leave_a_gap_are_not_applied(
    log: CheckpointLog,
) -> None:
    """Two owners during a rebalance: the old one, ahead, writes changes that follow a
    checkpoint written before the new owner's snapshot. A recovery from that snapshot
    skips them (they would leave a gap) and ends at a state exactly that of its offset."""
    old = Writer(log, await log.recover([BUSY]))
    await old.change(BUSY, DIMENSIONS)  # a state much larger than a few changes
    new = Writer(log, await log.recover([BUSY]))  # the new owner, recovered at offset 299
    await old.change(BUSY, 5)  # 300-304
    await new.change(BUSY, 1)  # a snapshot at 300
    await old.change(BUSY, 3)  # 305-307, following 304
    await new.change(BUSY, 2)  # 301-302, following the snapshot: the latest checkpoint
    state = (await log.recover([BUSY]))[BUSY]
    assert state.offset == 302
    assert state.ledger.values == new.states[BUSY].ledger.values
    assert state.ledger.values != old.states[BUSY].ledger.values


async def test_a_source_never_written_is_recovered_empty(log: CheckpointLog) -> None:
    writer = Writer(log, await log.recover([BUSY]))
    await writer.change(BUSY, 600)
    states = await log.recover([BUSY, NEVER])
    assert (states[BUSY].offset, states[NEVER].offset) == (599, -1)
    assert states[NEVER].ledger.values == {}


async def test_checkpoints_of_a_lost_incarnation_before_the_first_fence_are_ignored(
    log: CheckpointLog,
) -> None:
    stale = PartitionState(incarnation=1)
    stale.ledger.add_gauge("part", "d", 3)
    stale.offset = 40
    await log.append([(BUSY, cp.take_snapshot(stale))])
    states = await log.recover([BUSY])
    assert states[BUSY].offset == -1
    assert states[BUSY].ledger.values == {}
    assert states[BUSY].incarnation > 1
