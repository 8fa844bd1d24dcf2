"""Publishing partition states to the store readers read, surviving a store that is down."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from kpis.engine import PartitionState
from streams.kafka.partitions import PartitionId
from streams.read.store import Changes, Position, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Publication:
    """One partition's parts as of a checkpoint: its changes, or all its parts (`full`)."""

    source: PartitionId
    position: Position
    changes: Changes
    full: bool


class StorePublisher:
    """Publishes checkpointed changes; what the store missed is published whole later.

    A batch's publications go out in the background (`publish_later`) while the next batch
    is applied, one batch's at a time and in order: a worker whose store is in another
    process (Redis, or the relay of `crmkpi up`) does not wait on it between batches."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.unpublished: set[PartitionId] = set()
        self.stale_since: float | None = None  # since when the store misses changes
        self.sending: asyncio.Task[None] | None = None

    def prepared(
        self, source: PartitionId, state: PartitionState, changes: Changes | None
    ) -> Publication:
        """What to publish of a state now: the parts changed since the last publish, or the
        whole state (without them, or when the store missed earlier changes)."""
        position = Position(state.offset, state.incarnation, state.ledger.watermark_us)
        if changes is None or source in self.unpublished:
            return Publication(source, position, list(state.ledger.values.items()), True)
        return Publication(source, position, changes, False)

    async def publish(
        self, source: PartitionId, state: PartitionState, changes: Changes | None
    ) -> None:
        """Publish a state now, after the publications still in the background."""
        await self.settled()
        await self._send(self.prepared(source, state, changes))

    async def publish_later(self, publications: list[Publication]) -> None:
        """Send publications in the background, once the ones before them are sent."""
        await self.settled()
        self.sending = asyncio.get_running_loop().create_task(self._send_all(publications))

    async def settled(self) -> None:
        """Wait until the publications in the background are sent (or failed)."""
        while (sending := self.sending) is not None:
            await asyncio.shield(sending)  # a caller cancelled meanwhile leaves it sending
            if self.sending is sending:
                self.sending = None

    async def _send_all(self, publications: list[Publication]) -> None:
        for publication in publications:
            await self._send(publication)

    async def _send(self, publication: Publication) -> None:
        source = publication.source
        if not publication.full and source in self.unpublished:
            return  # the store missed earlier changes: the state is republished whole
        try:
            await self.store.publish(
                str(source), publication.position, publication.changes, full=publication.full
            )
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
        await self.settled()
        try:
            stored = await self.store.names()
        except Exception:  # still unreachable: retry what is known to be missing
            stored = {str(source) for source in states}
        self.unpublished.update(source for source in states if str(source) not in stored)
        for source in list(self.unpublished):
            state = states.get(source)
            if state is not None:
                await self.publish(source, state, None)
