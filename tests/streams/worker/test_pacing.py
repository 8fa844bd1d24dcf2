"""Checkpoints of partitions being caught up, paced (in process over fakes, no broker): the
changes of several batches written, committed and published as one, never lost."""

from __future__ import annotations

from kpis import parts as p
from streams.kafka.fetching import PARTITION_BACKLOG_RECORDS
from streams.worker.pacing import CATCH_UP_CHECKPOINT_SECONDS
from tests.worker_fakes import (
    LEADS_0,
    LEADS_1,
    FakeGroupConsumer,
    Worker,
    consumption,
    lead_created,
    records,
    worker,
)

ACCEPTED = (p.EVENTS_ACCEPTED, "", 0, 0)
BEHIND = {LEADS_0: PARTITION_BACKLOG_RECORDS}  # a backlog: the partition is being caught up


async def accepted_published(w: Worker) -> int:
    return (await w.published())["crm.leads:0"].values.get(ACCEPTED, 0)


async def caught_up_twice(w: Worker) -> None:
    """Two batches of 2 and 3 leads, each with a backlog past it."""
    await w.processor.process({LEADS_0: records([lead_created(), lead_created()])}, BEHIND)
    await w.processor.process({LEADS_0: records([lead_created() for _ in range(3)], 2)}, BEHIND)


async def test_a_partition_being_caught_up_waits_for_its_next_checkpoint() -> None:
    w = worker()
    first = await w.processor.process({LEADS_0: records([lead_created()])}, BEHIND)
    assert first.commit == {LEADS_0: 1}  # never checkpointed yet: at once
    second = await w.processor.process({LEADS_0: records([lead_created()], 1)}, BEHIND)
    assert second.commit == {}
    assert w.checkpoints.offsets(LEADS_0) == [0]
    assert await accepted_published(w) == 1
    caught_up = await w.processor.process({LEADS_0: records([lead_created()], 2)}, {LEADS_0: 0})
    assert caught_up.commit == {LEADS_0: 3}
    assert w.checkpoints.offsets(LEADS_0) == [0, 2]  # the waiting changes in one checkpoint
    assert await accepted_published(w) == 3


async def test_live_traffic_and_other_partitions_are_checkpointed_every_batch() -> None:
    w = worker()
    live = {LEADS_0: PARTITION_BACKLOG_RECORDS - 1}
    for offset in range(3):
        outcome = await w.processor.process({LEADS_0: records([lead_created()], offset)}, live)
        assert outcome.commit == {LEADS_0: offset + 1}
    behind = {LEADS_1: PARTITION_BACKLOG_RECORDS}
    await w.processor.process({LEADS_1: records([lead_created()])}, behind)
    outcome = await w.processor.process({LEADS_1: records([lead_created()], 1)}, behind)
    assert outcome.commit == {}
    outcome = await w.processor.process({LEADS_0: records([lead_created()], 3)})
    assert outcome.commit == {LEADS_0: 4}  # LEADS_1 still waits
    assert w.checkpoints.offsets(LEADS_1) == [0]


async def test_waiting_changes_are_checkpointed_once_old_enough_and_all_at_a_stop() -> None:
    w = worker()
    await caught_up_twice(w)
    assert (await w.processor.checkpoint_waiting()).commit == {}
    w.processor.pacing.checkpointed_at[LEADS_0] -= CATCH_UP_CHECKPOINT_SECONDS
    assert (await w.processor.checkpoint_waiting()).commit == {LEADS_0: 5}
    assert await accepted_published(w) == 5

    stopping = worker()
    await caught_up_twice(stopping)
    assert (await stopping.processor.checkpoint_waiting(everything=True)).commit == {LEADS_0: 5}
    assert stopping.checkpoints.offsets(LEADS_0) == [1, 4]
    assert (await stopping.processor.checkpoint_waiting(everything=True)).commit == {}


async def test_a_crash_loses_the_waiting_changes_and_the_replay_applies_them_once() -> None:
    first = worker()
    await caught_up_twice(first)
    restarted = worker(first.checkpoints)  # from the checkpoints: the first batch only
    replay = records([lead_created() for _ in range(5)])  # read again from the commit, 2
    outcome = await restarted.processor.process({LEADS_0: replay})
    assert outcome.commit == {LEADS_0: 5}
    assert await accepted_published(restarted) == 5  # 2 recovered, 3 replayed


async def test_a_revoked_partition_forgets_its_waiting_changes() -> None:
    w = worker()
    await caught_up_twice(w)
    w.processor.forget({LEADS_0})
    assert (await w.processor.checkpoint_waiting(everything=True)).commit == {}
    assert w.checkpoints.offsets(LEADS_0) == [1]


async def test_the_backlog_is_the_highwater_past_each_partitions_last_record() -> None:
    w, consumer = worker(), FakeGroupConsumer()
    consuming, _ = consumption(w, consumer)
    consumer.highwaters[LEADS_0] = 2 + PARTITION_BACKLOG_RECORDS
    await consuming.apply({LEADS_0: records([lead_created()])})
    await consuming.apply({LEADS_0: records([lead_created()], 1)})
    assert consumer.commits == [{LEADS_0: 1}]
    consumer.highwaters[LEADS_0] = 3
    await consuming.apply({LEADS_0: records([lead_created()], 2)})
    assert consumer.commits == [{LEADS_0: 1}, {LEADS_0: 3}]
    await consuming.checkpoint_waiting(everything=True)
    assert len(consumer.commits) == 2  # nothing waited
