"""Recovery of assigned partitions and the batch loop, in process over fakes (no broker):
states rebuilt from checkpoints, read positions fixed up, retries, commits after checkpoints."""

from __future__ import annotations

from kpis import parts as p
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


async def checkpointed(leads: int) -> Worker:
    """A worker that applied `leads` records of crm.leads:0; its checkpoints survive it."""
    first = worker()
    await first.processor.process({LEADS_0: records([lead_created() for _ in range(leads)])})
    return first


async def test_recovery_rebuilds_assigned_states_from_their_checkpoints_and_publishes_them() -> (
    None
):
    w = worker((await checkpointed(3)).checkpoints)
    w.assignment.assign([LEADS_0, LEADS_1])
    consumer = FakeGroupConsumer()
    consumer.positions = {LEADS_0: 3, LEADS_1: 0}
    recover, _ = consumption(w, consumer)
    await recover.recover([LEADS_0, LEADS_1])
    assert (w.processor.states[LEADS_0].offset, w.processor.states[LEADS_1].offset) == (2, -1)
    stored = await w.published()
    assert stored["crm.leads:0"].values[ACCEPTED] == 3
    assert stored["crm.leads:1"].values == {}
    assert (consumer.commits, consumer.seeks) == ([], [])  # positions are the states' next


async def test_a_read_position_past_the_recovered_state_is_committed_back_and_sought() -> None:
    w = worker((await checkpointed(2)).checkpoints)
    w.assignment.assign([LEADS_0])
    consumer = FakeGroupConsumer()
    consumer.positions = {LEADS_0: 9}  # a commit of a lost incarnation of the logs
    recover, _ = consumption(w, consumer)
    await recover.recover([LEADS_0])
    assert consumer.commits == [{LEADS_0: 2}]
    assert consumer.seeks == [(LEADS_0, 2)]


async def test_recovery_retries_while_the_broker_fails_recreating_topics_each_time() -> None:
    w = worker((await checkpointed(1)).checkpoints)
    w.assignment.assign([LEADS_0])
    w.checkpoints.failed_recoveries = 2
    recover, recreated = consumption(w, FakeGroupConsumer())
    await recover.recover([LEADS_0])
    assert w.processor.states[LEADS_0].offset == 0
    assert recreated.calls == 3


async def test_recovery_gives_up_partitions_revoked_while_retrying() -> None:
    w = worker()
    w.assignment.assign([LEADS_0, LEADS_1])
    w.checkpoints.failed_recoveries = 1
    recover_checkpoints = w.checkpoints.recover

    async def revoke_on_failure(sources: object) -> object:
        if w.checkpoints.failed_recoveries:
            w.assignment.revoke([LEADS_1])
        return await recover_checkpoints(sources)  # type: ignore[arg-type]

    w.checkpoints.recover = revoke_on_failure  # type: ignore[method-assign]
    recover, _ = consumption(w, FakeGroupConsumer())
    await recover.recover([LEADS_0, LEADS_1])
    assert w.checkpoints.on_recover == [LEADS_0, LEADS_1, LEADS_0]
    assert set(w.processor.states) == {LEADS_0}


async def test_a_batch_is_committed_after_its_checkpoint_even_when_it_took_retries() -> None:
    w = worker()
    w.assignment.assign([LEADS_0])
    consumer = FakeGroupConsumer()
    w.checkpoints.failed_appends = 2
    apply, recreated = consumption(w, consumer)
    await apply.apply({LEADS_0: records([lead_created(), lead_created()])})
    assert consumer.commits == [{LEADS_0: 2}]
    assert w.checkpoints.offsets(LEADS_0) == [1]
    assert recreated.calls == 2
    assert (await w.published())["crm.leads:0"].values[ACCEPTED] == 2


async def test_a_batch_revoked_while_retrying_is_dropped_uncommitted() -> None:
    w = worker()
    w.assignment.assign([LEADS_0])
    consumer = FakeGroupConsumer()
    append = w.checkpoints.append

    async def revoked_while_failing(checkpoints: object) -> None:
        w.assignment.revoke([LEADS_0])
        await append(checkpoints)  # type: ignore[arg-type]

    w.checkpoints.failed_appends = 1
    w.checkpoints.append = revoked_while_failing  # type: ignore[method-assign]
    apply, recreated = consumption(w, consumer)
    await apply.apply({LEADS_0: records([lead_created()])})
    assert (consumer.commits, consumer.seeks) == ([], [])
    assert w.checkpoints.offsets(LEADS_0) == []
    assert recreated.calls == 0  # not retried


async def test_the_outcome_s_rewinds_are_sought_after_the_commit() -> None:
    w = worker()
    w.assignment.assign([LEADS_0])
    consumer = FakeGroupConsumer()
    apply, _ = consumption(w, consumer)
    await apply.apply({LEADS_0: [*records([lead_created()]), *records([lead_created()], 4)]})
    assert consumer.commits == [{LEADS_0: 1}]
    assert consumer.seeks == [(LEADS_0, 1)]
