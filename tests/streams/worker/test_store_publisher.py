"""Publishing to a store that goes down: readers see stale KPIs, then catch up (no Redis)."""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError

from kpis import checkpoint as cp
from kpis import parts as p
from kpis.engine import PartitionState
from streams.read.store import Changes, MemoryStore, Position
from streams.worker.store_publisher import StorePublisher
from tests.worker_fakes import LEADS_0, lead_created, records, worker

ACCEPTED = (p.EVENTS_ACCEPTED, "", 0, 0)


class FlakyStore(MemoryStore):
    """A memory store that refuses every call while `down`."""

    down = False

    async def publish(
        self, partition: str, position: Position, changes: Changes, full: bool
    ) -> None:
        if self.down:
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
    assert w.store.partitions["crm.leads:0"].values[ACCEPTED] == 2
    assert w.store.partitions["crm.leads:0"].offset == 1


async def test_a_snapshot_replaces_what_the_store_has_of_its_partition() -> None:
    """A snapshot carries the parts there are, not those that returned to zero."""
    store = MemoryStore()
    publisher = StorePublisher(store)
    state = PartitionState()
    state.ledger.add_gauge("gone", "", 1)
    state.offset = 0
    await publisher.publish_whole(LEADS_0, state)
    await publisher.publish(LEADS_0, state, cp.take_checkpoint(state))
    state.ledger.add_gauge("gone", "", -1)
    state.ledger.add_gauge("kept", "", 2)
    state.offset = 1
    await publisher.publish(LEADS_0, state, cp.take_snapshot(state))
    assert store.partitions["crm.leads:0"].values == {("kept", "", 0, 0): 2}
