"""Handing each fetched batch to the processor and its outcome to the consumer group."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiokafka.errors import KafkaError

from streams.worker.assignment import Assignment
from streams.worker.group_consumer import GroupConsumer
from streams.worker.processor import Outcome, Processor, SourceBatch
from streams.worker.retry import with_backoff

log = logging.getLogger(__name__)


class BatchApplier:
    """Applies batches exactly once: processed (checkpointed, published), then committed."""

    def __init__(
        self,
        processor: Processor,
        consumer: GroupConsumer,
        assignment: Assignment,
        recreate_topics: Callable[[], Awaitable[None]],
    ) -> None:
        self.processor = processor
        self.consumer = consumer
        self.assignment = assignment
        self.recreate_topics = recreate_topics

    async def apply(self, batch: SourceBatch) -> None:
        """Process a batch, retrying with back-off while the broker or store is failing.

        A batch whose partitions were revoked meanwhile is dropped: it comes again from the
        committed offsets, and after a broker that lost its logs, not at all.
        """
        epoch = self.assignment.epoch
        async for attempt in with_backoff((KafkaError,), "broker error"):
            if attempt.retry_state.attempt_number > 1:
                if self.assignment.epoch != epoch:
                    log.warning("partitions revoked while retrying: batch dropped")
                    return
                await self.recreate_topics()
            with attempt:
                outcome = await self.processor.process(batch)
        await self.follow(outcome)

    async def follow(self, outcome: Outcome) -> None:
        """Commit the checkpointed offsets, then seek the partitions to read again."""
        # Faust never acks the source topic (acks=False), so the group's offsets move only
        # here, after the checkpoint: a stop mid-batch can never skip unapplied records.
        if outcome.commit:
            await self.consumer.commit(outcome.commit)
        for source, offset in outcome.rewind.items():
            log.warning("records skipped upstream: reading %s again from %d", source, offset)
            await self.consumer.seek(source, offset)
