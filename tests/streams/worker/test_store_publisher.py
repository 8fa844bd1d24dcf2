"""Publishing to a store that goes down: readers see stale KPIs, then catch up (no Redis)."""

from __future__ import annotations

import asyncio

from redis.exceptions import ConnectionError as RedisConnectionError

from kpis import checkpoint as cp
from kpis import parts as p
from kpis.engine import PartitionState
from kpis.events import format_time
from streams.read.store import Changes, MemoryStore, Position
from streams.worker.snapshots import SnapshotPolicy
from streams.worker.store_publisher import StorePublisher
from tests.worker_fakes import LEADS_0, lead_created, records, worker

ACCEPTED = (p.EVENTS_ACCEPTED, "", 0, 0)


class FlakyStore(MemoryStore):
    """A memory store that refuses every call while `down`, and its next publish once
    `fail_next` is set."""

    down = False
    fail_next = False

    async def publish(
        self, partition: str, position: Position, changes: Changes, full: bool
    ) -> None:
        if self.down or self.fail_next:
            self.fail_next = False
            raise RedisConnectionError("store down")
        await super().publish(partition, position, changes, full)

    async def names(self) -> set[str]:
        if self.down:
            raise RedisConnectionError("store down")
        return await super().names()


async def test_changes_the_store_missed_are_published_whole_once_it_is_back() -> None:
    w = worker()
    store = FlakyStore()
    w.processor.publisher = publisher = StorePublisher(store)
    await w.processor.process({LEADS_0: records([lead_created()])})
    await w.published()
    store.down = True
    await w.processor.process({LEADS_0: records([lead_created()], 1)})
    await w.processor.republish()
    assert publisher.stale_since is not None
    assert store.partitions["crm.leads:0"].values[ACCEPTED] == 1
    store.down = False
    await w.processor.republish()
    assert publisher.stale_since is None
    assert store.partitions["crm.leads:0"].values[ACCEPTED] == 2


async def test_a_store_restarted_empty_gets_every_partition_again() -> None:
    w = worker()
    await w.processor.process({LEADS_0: records([lead_created(), lead_created()])})
    w.store.partitions.clear()
    await w.processor.republish()
    stored = (await w.published())["crm.leads:0"]
    assert (stored.values[ACCEPTED], stored.offset) == (2, 1)


async def test_a_snapshot_tells_the_store_the_parts_that_returned_to_zero() -> None:
    """A snapshot carries the parts there are; the store is told what changed since the
    last checkpoint, those that returned to zero included."""
    store = MemoryStore()
    publisher, policy = StorePublisher(store), SnapshotPolicy()
    state = PartitionState()
    state.ledger.add_gauge("gone", "", 1)
    state.offset = 0
    await publisher.publish_whole(LEADS_0, state)
    first = policy.take(LEADS_0, state)
    policy.written(LEADS_0, first.checkpoint, 0, len(cp.encode(first.checkpoint)))
    await publisher.publish(LEADS_0, state, first.changes)
    state.ledger.add_gauge("gone", "", -1)
    state.ledger.add_gauge("kept", "", 2)
    state.offset = 1
    policy.chains[LEADS_0].change_bytes = policy.chains[LEADS_0].snapshot_bytes + 1
    snapshot = policy.take(LEADS_0, state)
    assert snapshot.checkpoint.full
    assert sorted(snapshot.changes) == [(("gone", "", 0, 0), 0), (("kept", "", 0, 0), 2)]
    await publisher.publish(LEADS_0, state, snapshot.changes)
    assert store.partitions["crm.leads:0"].values == {("kept", "", 0, 0): 2}


async def test_a_store_told_only_the_changes_holds_every_partition_as_the_worker_does() -> None:
    """Snapshots, changes and prunes over months of history: the store, told the changes
    only, ends up with each partition's parts exactly."""
    w = worker()
    w.processor.snapshots.max_behind = 4  # snapshots often, between changes
    day_us, start_us = 86_400_000_000, 1_767_225_600_000_000  # 2026-01-01
    for batch in range(40):
        at = format_time(start_us + batch * 5 * day_us)
        values = [lead_created(at) for _ in range(3)]
        await w.processor.process({LEADS_0: records(values, 3 * batch)})
        await w.processor.snapshot_idle()
    written = [cp.decode(data).full for _, data in w.checkpoints.written]
    assert written.count(True) > 2 and written.count(False) > 2
    assert (await w.published())["crm.leads:0"].values == w.processor.states[LEADS_0].ledger.values


class GatedStore(MemoryStore):
    """A memory store whose publishes wait for `gate`, noting the offsets in order."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.offsets: list[int] = []

    async def publish(
        self, partition: str, position: Position, changes: Changes, full: bool
    ) -> None:
        await self.gate.wait()
        self.offsets.append(position.offset)
        await super().publish(partition, position, changes, full)


async def test_a_batch_is_committed_before_the_store_has_it_and_published_in_order() -> None:
    w = worker()
    store = GatedStore()
    w.processor.publisher = publisher = StorePublisher(store)
    store.gate.set()
    await w.processor.recover([LEADS_0])
    store.gate.clear()
    outcome = await asyncio.wait_for(
        w.processor.process({LEADS_0: records([lead_created()])}), timeout=10
    )
    assert outcome.commit == {LEADS_0: 1}
    assert store.offsets == [-1]  # the recovered state only: the batch waits in the background
    second = asyncio.create_task(w.processor.process({LEADS_0: records([lead_created()], 1)}))
    store.gate.set()
    assert (await second).commit == {LEADS_0: 2}
    await publisher.settled()
    assert store.partitions["crm.leads:0"].values[ACCEPTED] == 2
    assert store.offsets == [-1, 0, 1]


async def test_changes_prepared_before_an_earlier_publication_failed_are_not_sent() -> None:
    """Applied after a publication the store missed, they would leave it holding a state
    that never was: the second batch's parts without the first's."""
    w = worker()
    store = FlakyStore()
    w.processor.publisher = publisher = StorePublisher(store)
    await w.processor.process({LEADS_0: records([lead_created()])})
    await publisher.settled()
    store.fail_next = True
    await w.processor.process({LEADS_0: records([b"{not json"], 1)})  # sent in the background
    await w.processor.process({LEADS_0: records([lead_created()], 2)})  # prepared meanwhile
    await publisher.settled()
    assert store.partitions["crm.leads:0"].offset == 0
    assert LEADS_0 in publisher.unpublished
    await w.processor.republish()
    assert store.partitions["crm.leads:0"].values == w.processor.states[LEADS_0].ledger.values
