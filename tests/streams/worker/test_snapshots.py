"""When a checkpoint is a snapshot of the state: after a recovery, once the changes outgrow
the last snapshot, and when the last snapshot lies far behind the checkpoint log's head (in
records, or in bytes this worker wrote there)."""

from __future__ import annotations

from kpis import checkpoint as cp
from kpis.engine import PartitionState
from streams.kafka.partitions import PartitionId
from streams.worker.processor import BUSY_SECONDS
from streams.worker.snapshots import SnapshotPolicy
from tests.worker_fakes import LEADS_0, LEADS_1, lead_created, records, worker

TICKETS_0 = PartitionId("crm.tickets", 0)  # on the same checkpoint partition as LEADS_0
NOW_US = 1_800_000_000_000_000


def changed(state: PartitionState, parts: int) -> PartitionState:
    """The state after one more record that changed `parts` parts."""
    state.offset += 1
    for n in range(parts):
        state.ledger.add_gauge("part", f"d{n}", 1)
    return state


def test_the_first_checkpoint_is_a_snapshot_then_changes_until_they_outgrow_it() -> None:
    policy, state = SnapshotPolicy(), PartitionState()
    kinds, bases, log_offset = [], [], 100
    for _ in range(12):
        checkpoint = policy.take(LEADS_0, changed(state, 20 if state.offset < 0 else 3)).checkpoint
        size = len(cp.encode(checkpoint))
        policy.written(LEADS_0, checkpoint, log_offset, size)
        kinds.append("snapshot" if checkpoint.full else "changes")
        bases.append(checkpoint.base)
        log_offset += 10
    first_again = kinds.index("snapshot", 1)
    assert kinds[0] == "snapshot" and 2 < first_again < 12
    snapshot = policy.chains[LEADS_0].snapshot_bytes
    assert set(kinds[1:first_again]) == {"changes"}
    assert bases[1:first_again] == [100] * (first_again - 1)
    assert bases[first_again + 1] == 100 + 10 * first_again  # the log offset of the new one
    assert snapshot > 0


def grown(state: PartitionState, parts: int) -> PartitionState:
    """The state after one more record that added `parts` new parts."""
    state.offset += 1
    for n in range(parts):
        state.ledger.add_gauge("part", f"o{state.offset}d{n}", 1)
    return state


def test_a_growing_state_is_snapshotted_once_its_changes_outgrow_the_state_not_the_snapshot() -> (
    None
):
    """Changes that only add to the state never outgrow it: its last snapshot, which they
    soon outgrow, is not what a recovery's reading is measured against. Changing what it
    holds then brings the next snapshot as before."""
    policy, state = SnapshotPolicy(), PartitionState()
    kinds = []
    for log_offset in range(40):
        checkpoint = policy.take(LEADS_0, grown(state, 200 if log_offset == 0 else 20)).checkpoint
        policy.written(LEADS_0, checkpoint, log_offset, len(cp.encode(checkpoint)))
        kinds.append(checkpoint.full)
    assert kinds == [True] + [False] * 39
    chain = policy.chains[LEADS_0]
    assert chain.change_bytes > 3 * chain.snapshot_bytes  # the former rule took a snapshot
    assert chain.change_bytes <= chain.state_bytes
    for log_offset in range(40, 200):
        checkpoint = policy.take(LEADS_0, changed(state, 20)).checkpoint  # the same parts
        policy.written(LEADS_0, checkpoint, log_offset, len(cp.encode(checkpoint)))
        if checkpoint.full:
            break
    assert checkpoint.full


def test_changes_name_the_offset_they_follow() -> None:
    policy, state = SnapshotPolicy(), PartitionState()
    first = policy.take(LEADS_0, changed(state, 50)).checkpoint
    policy.written(LEADS_0, first, 7, len(cp.encode(first)))
    second = policy.take(LEADS_0, changed(changed(state, 1), 1)).checkpoint
    third = policy.take(LEADS_0, changed(state, 1)).checkpoint  # taken before the second is written
    assert (second.full, second.since, second.offset, second.base) == (False, 0, 2, 7)
    assert (third.since, third.offset) == (2, 3)


def test_after_a_housekeeping_snapshot_changes_follow_it() -> None:
    policy, state = SnapshotPolicy(), PartitionState()
    first = policy.take(LEADS_0, changed(state, 20)).checkpoint
    policy.written(LEADS_0, first, 0, len(cp.encode(first)))
    chain = policy.chains[LEADS_0]
    while chain.change_bytes <= chain.snapshot_bytes:  # the next one would be a snapshot
        checkpoint = policy.take(LEADS_0, changed(state, 5)).checkpoint
        policy.written(LEADS_0, checkpoint, 1, len(cp.encode(checkpoint)))
    housekeeping = cp.take_snapshot(state)  # as `Processor.snapshot_idle` takes it
    policy.written(LEADS_0, housekeeping, 9, len(cp.encode(housekeeping)))
    after = policy.take(LEADS_0, changed(state, 1)).checkpoint
    assert (after.full, after.base, after.since) == (False, 9, housekeeping.offset)


def test_sources_without_a_snapshot_or_far_behind_the_head_are_due() -> None:
    policy, state = SnapshotPolicy(max_behind=1000), PartitionState()
    snapshot = policy.take(LEADS_0, changed(state, 1)).checkpoint
    policy.written(LEADS_0, snapshot, 500, 10)
    assert policy.behind([LEADS_0, LEADS_1], {LEADS_0: 1500, LEADS_1: 1500}) == [LEADS_1]
    assert policy.behind([LEADS_0], {LEADS_0: 1501}) == [LEADS_0]
    policy.forget(LEADS_0)
    assert policy.behind([LEADS_0], {LEADS_0: 501}) == [LEADS_0]


def test_a_slow_large_state_is_snapshotted_once_its_partition_outgrows_the_snapshots() -> None:
    """A busy small source writes its own snapshots and changes; the large idle one on the
    same checkpoint partition is due once the bytes written since its snapshot exceed the
    latest snapshots of both (counted here from the sizes written)."""
    policy, large, small = SnapshotPolicy(), PartitionState(), PartitionState()
    written: list[tuple[PartitionId, bool, int]] = []

    def write(source: PartitionId, state: PartitionState, parts: int) -> cp.Checkpoint:
        checkpoint = policy.take(source, changed(state, parts)).checkpoint
        size = len(cp.encode(checkpoint))
        policy.written(source, checkpoint, len(written), size)
        written.append((source, checkpoint.full, size))
        return checkpoint

    def due() -> bool:
        since = max(
            n for n, (source, full, _) in enumerate(written) if source == TICKETS_0 and full
        )
        latest = {source: size for source, full, size in written if full}
        return sum(size for _, _, size in written[since + 1 :]) > sum(latest.values())

    assert write(TICKETS_0, large, 400).full and write(LEADS_0, small, 5).full
    while not due():
        assert policy.behind([TICKETS_0], {TICKETS_0: len(written)}) == []
        write(LEADS_0, small, 5)
    assert policy.chains[TICKETS_0].change_bytes == 0  # not due by its own changes
    assert policy.behind([TICKETS_0], {TICKETS_0: len(written)}) == [TICKETS_0]
    assert sum(full for source, full, _ in written if source == LEADS_0) > 2
    assert write(TICKETS_0, large, 1).full
    assert policy.behind([TICKETS_0], {TICKETS_0: len(written)}) == []


async def test_a_recovered_state_s_first_checkpoint_is_a_snapshot() -> None:
    first = worker()
    await first.processor.process({LEADS_0: records([lead_created(), lead_created()])})
    await first.processor.process({LEADS_0: records([lead_created()], 2)})
    second = worker(first.checkpoints)
    second.assignment.assign([LEADS_0])
    await second.processor.process({LEADS_0: records([lead_created()], 3)})
    written = [cp.decode(data) for _, data in second.checkpoints.written]
    assert [(c.offset, c.full) for c in written] == [(1, True), (2, False), (3, True)]
    assert len(written[-1].event_ids) == 4
    assert second.processor.last_recovery is not None
    assert second.processor.last_recovery[1] == sum(
        len(data) for _, data in first.checkpoints.written[:2]
    )


async def test_housekeeping_snapshots_states_without_one_or_far_behind_the_head() -> None:
    w = worker()
    w.processor.snapshots.max_behind = 3
    await w.processor.process({LEADS_0: records([lead_created()]), LEADS_1: records([])})
    await w.processor.snapshot_idle()  # LEADS_1, recovered and idle, has none yet
    await w.processor.snapshot_idle()  # both near the head: nothing
    assert [(source, cp.decode(data).full) for source, data in w.checkpoints.written] == [
        (LEADS_0, True),
        (LEADS_1, True),
    ]
    w.checkpoints.written += [(LEADS_1, b"")] * 2  # records written by others meanwhile
    await w.processor.snapshot_idle()
    assert [source for source, _ in w.checkpoints.written[4:]] == [LEADS_0]
    assert cp.decode(w.checkpoints.written[4][1]) == cp.decode(w.checkpoints.written[0][1])


async def test_housekeeping_leaves_a_partition_still_being_read_to_its_next_checkpoint() -> None:
    """Far behind by this worker's own bytes (a catch-up writing), but checkpointed just now:
    no snapshot every second; once idle, one."""
    w = worker()
    await w.processor.process({LEADS_0: records([lead_created()])})
    snapshots = w.processor.snapshots
    chain = snapshots.chains[LEADS_0]
    snapshots.log_bytes[chain.log] += 10 * chain.snapshot_bytes  # written there since
    await w.processor.snapshot_idle()
    assert len(w.checkpoints.written) == 1
    w.processor.pacing.checkpointed_at[LEADS_0] -= BUSY_SECONDS
    await w.processor.snapshot_idle()
    assert [(s, cp.decode(data).full) for s, data in w.checkpoints.written[1:]] == [(LEADS_0, True)]
    assert (
        snapshots.take(LEADS_0, w.processor.states[LEADS_0]).checkpoint.full is False
    )  # caught up again
