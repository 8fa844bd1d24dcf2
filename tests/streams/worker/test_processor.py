"""The processor in process, over fakes: exactly once, dead letters, outcomes, rewinds,
revocations (no broker)."""

from __future__ import annotations

import asyncio

import pytest

from kpis import parts as p
from streams.kafka.dead_letters import DeadLetter
from streams.worker import processor as processor_module
from streams.worker.processor import APPLY_EVERY
from tests.worker_fakes import (
    DLQ_0,
    LEADS_0,
    LEADS_1,
    BrokerDown,
    Record,
    lead_created,
    records,
    worker,
)

ACCEPTED = (p.EVENTS_ACCEPTED, "", 0, 0)


def rejected(reason: str) -> tuple[str, str, int, int]:
    return (p.EVENTS_REJECTED, reason, 0, 0)


async def test_a_batch_commits_each_partition_past_its_last_record() -> None:
    w = worker()
    leads = [lead_created() for _ in range(3)]
    batch = {LEADS_0: records(leads), LEADS_1: records([lead_created()])}
    outcome = await w.processor.process(batch)
    assert outcome.commit == {LEADS_0: 3, LEADS_1: 1}
    assert outcome.rewind == {}
    assert w.checkpoints.offsets(LEADS_0) == [2]
    stored = (await w.published())["crm.leads:0"]
    assert (stored.values[ACCEPTED], stored.offset) == (3, 2)


async def test_a_batch_retried_after_a_failed_checkpoint_is_applied_once() -> None:
    w = worker()
    batch = {LEADS_0: records([lead_created(), lead_created()])}
    w.checkpoints.failed_appends = 1
    with pytest.raises(BrokerDown):
        await w.processor.process(batch)
    assert (await w.published())["crm.leads:0"].values == {}  # published only after the checkpoint
    outcome = await w.processor.process(batch)
    assert outcome.commit == {LEADS_0: 2}
    assert (await w.published())["crm.leads:0"].values[ACCEPTED] == 2


async def test_a_batch_replayed_to_a_restarted_worker_is_skipped() -> None:
    first = worker()
    batch = {LEADS_0: records([lead_created(), lead_created()])}
    await first.processor.process(batch)
    first.checkpoints.on_recover.clear()
    restarted = worker(first.checkpoints)
    again = records([lead_created()], 2)
    outcome = await restarted.processor.process({LEADS_0: batch[LEADS_0] + again})
    assert restarted.checkpoints.on_recover == [LEADS_0]
    assert outcome.commit == {LEADS_0: 3}
    assert (await restarted.published())["crm.leads:0"].values[ACCEPTED] == 3


async def test_a_batch_of_records_already_applied_commits_nothing() -> None:
    w = worker()
    batch = {LEADS_0: records([lead_created()])}
    await w.processor.process(batch)
    outcome = await w.processor.process(batch)
    assert outcome.commit == {}
    assert w.checkpoints.offsets(LEADS_0) == [0]


async def test_rejected_records_are_dead_lettered_counted_and_named() -> None:
    w = worker()
    await w.processor.process({LEADS_0: records([b"{not json", lead_created()])})
    [(topic, value, headers)] = w.producer.sent
    letter = DeadLetter.from_record(value, headers)
    assert (topic, value) == ("crm.dlq", b"{not json")
    assert (letter.reason, letter.origin, letter.source) == (
        "invalid_json",
        "worker",
        "crm.leads:0:0",
    )
    assert w.processor.applier.dead_letters == {"invalid_json": 1}
    values = (await w.published())["crm.leads:0"].values
    assert (values[ACCEPTED], values[rejected("invalid_json")]) == (1, 1)


async def test_dead_letters_of_other_origins_are_counted_never_sent_again() -> None:
    w = worker()
    ingest = DeadLetter(b"x", "schema", "no type", "2026-03-01T09:00:00Z", "ingest")
    own = DeadLetter(b"y", "invalid_json", "", "2026-03-01T09:00:00Z", "worker")
    batch = {
        DLQ_0: [Record(0, ingest.value, ingest.headers()), Record(1, own.value, own.headers())]
    }
    outcome = await w.processor.process(batch)
    assert outcome.commit == {DLQ_0: 2}
    assert w.producer.sent == []
    assert (await w.published())["crm.dlq:0"].values == {rejected("schema"): 1}


async def test_a_gap_rewinds_the_partition_to_the_state_once() -> None:
    w = worker()
    gap = [*records([lead_created(), lead_created()]), *records([lead_created()], 5)]
    outcome = await w.processor.process({LEADS_0: gap})
    assert outcome.rewind == {LEADS_0: 2}
    assert outcome.commit == {LEADS_0: 2}  # the records before the gap are checkpointed
    assert (await w.published())["crm.leads:0"].values[ACCEPTED] == 2
    # Read again and still missing: the records do not exist, the gap is accepted.
    outcome = await w.processor.process({LEADS_0: gap[2:]})
    assert outcome.rewind == {}
    assert outcome.commit == {LEADS_0: 6}


async def test_a_rewind_found_by_a_failed_attempt_is_in_the_retry_outcome() -> None:
    w = worker()
    gap = [*records([lead_created()]), *records([lead_created()], 3)]
    w.checkpoints.failed_appends = 1
    with pytest.raises(BrokerDown):
        await w.processor.process({LEADS_0: gap})
    outcome = await w.processor.process({LEADS_0: gap})
    assert outcome.rewind == {LEADS_0: 1}
    assert outcome.commit == {LEADS_0: 1}


async def test_a_revocation_during_recovery_stops_the_batch() -> None:
    w = worker()
    recover = w.checkpoints.recover

    async def revoked_meanwhile(sources: object) -> object:
        w.assignment.revoke([LEADS_0])
        return await recover(sources)  # type: ignore[arg-type]

    w.checkpoints.recover = revoked_meanwhile  # type: ignore[method-assign]
    outcome = await w.processor.process({LEADS_0: records([lead_created()])})
    assert outcome.commit == {}
    assert w.processor.states == {}
    assert "crm.leads:0" not in await w.published()


async def test_a_forgotten_partition_is_neither_checkpointed_nor_committed() -> None:
    w = worker()
    w.checkpoints.failed_appends = 1
    batch = {LEADS_0: records([lead_created()]), LEADS_1: records([lead_created()])}
    with pytest.raises(BrokerDown):
        await w.processor.process(batch)
    w.assignment.revoke([LEADS_1])
    w.processor.forget({LEADS_1})
    outcome = await w.processor.process({LEADS_0: batch[LEADS_0]})
    assert outcome.commit == {LEADS_0: 1}
    assert w.checkpoints.offsets(LEADS_1) == []


async def test_a_gap_past_the_first_slice_of_a_long_batch_still_stops_the_partition() -> None:
    w = worker()
    before, after = APPLY_EVERY + 100, 50
    gap = [*records([lead_created() for _ in range(before)])]
    gap += records([lead_created() for _ in range(after)], before + 10)
    outcome = await w.processor.process({LEADS_0: gap})
    assert outcome.rewind == {LEADS_0: before}
    assert outcome.commit == {LEADS_0: before}
    assert (await w.published())["crm.leads:0"].values[ACCEPTED] == before


async def test_readers_get_turns_during_a_long_batch_and_a_revocation_then_stops_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(processor_module, "TURN_SECONDS", 0.0)  # a turn after every slice
    w = worker()
    await w.processor.recover([LEADS_0])
    w.assignment.assign([LEADS_0])
    turns: list[int] = []

    async def reader() -> None:
        while True:
            turns.append(w.processor.states[LEADS_0].offset)
            if len(turns) == 2:  # mid-batch: the group takes the partition away
                w.assignment.revoke([LEADS_0])
                w.processor.forget({LEADS_0})
                return
            await asyncio.sleep(0)

    batch = {LEADS_0: records([lead_created() for _ in range(4 * APPLY_EVERY)])}
    task = asyncio.get_running_loop().create_task(reader())
    outcome = await w.processor.process(batch)
    await task
    assert turns[-1] < 4 * APPLY_EVERY - 1  # it read between two slices of the batch
    assert outcome.commit == {}  # what was applied before the revocation is not committed
    assert w.checkpoints.offsets(LEADS_0) == []


async def test_unapplied_counts_records_of_owned_partitions_past_their_states() -> None:
    w = worker()
    await w.processor.process({LEADS_0: records([lead_created() for _ in range(3)])})
    ends = {"crm.leads:0": 10, "crm.leads:1": 7, "crm.tickets:0": 50}  # only leads:0 is owned
    assert w.processor.unapplied(ends) == 7  # offsets 3 to 9
    assert w.processor.unapplied({"crm.leads:0": 2}) == 0  # ends seen before the state's
