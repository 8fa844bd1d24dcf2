"""Publishing partition states to the store readers read, surviving a store that is down."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from kpis.engine import PartitionState
from streams.kafka.partitions import PartitionId
from streams.read.store import Changes, Position, Store

log = logging.getLogger(__name__)


class StorePublisher:
    """Publishes checkpointed changes; what the store missed is published whole later."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.unpublished: set[PartitionId] = set()
        self.stale_since: float | None = None  # since when the store misses changes

    async def publish(
        self, source: PartitionId, state: PartitionState, changes: Changes | None
    ) -> None:
        """Publish the parts changed since the last publish, or the whole state (without
        them, or when the store missed earlier changes)."""
        if changes is None or source in self.unpublished:
            full, changes = True, list(state.ledger.values.items())
        else:
            full = False
        try:
            position = Position(state.offset, state.incarnation, state.ledger.watermark_us)
            await self.store.publish(str(source), position, changes, full=full)
        except Exception as error:  # the store is down: keep consuming, republish later
            if self.stale_since is None:
                log.warning("store unreachable, readers see stale KPIs: %s", error)
                self.stale_since = time.time()
            self.unpublished.add(source)
            return
        self.unpublished.discard(source)
        if self.stale_since is not None and not self.unpublished:
            self.stale_since = None

    async def publish_whole(self, source: PartitionId, state: PartitionState) -> None:
        """Publish a whole (recovered) state; until the store has it, changes made meanwhile
        are published whole too."""
        self.unpublished.add(source)
        await self.publish(source, state, None)

    def forget(self, source: PartitionId) -> None:
        """Stop republishing a partition this worker no longer owns."""
        self.unpublished.discard(source)

    async def republish(self, states: Mapping[PartitionId, PartitionState]) -> None:
        """Retry partitions the store missed or lost (it was down or restarted empty).

        Readers catch up when it returns.
        """
        try:
            stored = await self.store.names()
        except Exception:  # still unreachable: retry what is known to be missing
            stored = {str(source) for source in states}
        self.unpublished.update(source for source in states if str(source) not in stored)
        for source in list(self.unpublished):
            state = states.get(source)
            if state is not None:
                await self.publish(source, state, None)
