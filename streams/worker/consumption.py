"""How this worker consumes its assigned partitions: each recovered from its checkpoints
ahead of its records, then fed to the processor batch by batch, the group's offsets moved
only after the checkpoints."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiokafka.errors import KafkaError

from streams.config import Settings
from streams.errors import BrokerUnreachable
from streams.kafka.partitions import PartitionId
from streams.kafka.topics import ensure_topics
from streams.worker.assignment import Assignment
from streams.worker.group_consumer import GroupConsumer
from streams.worker.processor import Outcome, Processor, SourceBatch
from streams.worker.retry import with_backoff

log = logging.getLogger(__name__)
POSITION_TIMEOUT_SECONDS = 10.0  # a recovered partition's read position, asked of the consumer


async def recreate_topics(settings: Settings) -> None:
    """Create the topics again if the broker lost them (a memory-only broker restarted)."""
    try:
        await ensure_topics(settings)
    except BrokerUnreachable as error:  # still unreachable: the caller retries
        log.warning("%s", error)


class Consumption:
    """Recovers assigned partitions and applies batches exactly once, retrying with back-off
    (and re-creating lost topics) while the broker fails."""

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

    async def recover(self, sources: list[PartitionId]) -> None:
        """Recover assigned partitions ahead of their records, retrying with back-off.

        Until then readers see what the store holds; after a broker that lost its logs,
        that is the lost history, which only the recovered (empty) states replace.
        """
        async for attempt in with_backoff(
            (KafkaError, TimeoutError), "recovering assigned partitions"
        ):
            if attempt.retry_state.attempt_number > 1:
                sources = [source for source in sources if source in self.assignment.owned]
            if not sources:
                return
            await self.recreate_topics()
            with attempt:
                await self.processor.recover(sources)
                await self.read_on_from_states(sources)

    async def read_on_from_states(self, sources: list[PartitionId]) -> None:
        """Make the consumer read each recovered partition from its state's next offset.

        The group's offset is there already, unless a commit made for a lost incarnation
        of the logs reached a restarted memory-only broker: it can lie past the new log's
        records, which would then never be read. Such an offset is committed back and
        sought; a position past the state because records are in flight is harmless to
        move back too (they are read again, and skipped or applied once).
        """
        for source in sources:
            state = self.processor.states.get(source)
            if state is None:  # revoked meanwhile
                continue
            position = await asyncio.wait_for(
                self.consumer.position(source), POSITION_TIMEOUT_SECONDS
            )
            if position is not None and position > state.offset + 1:
                # INFO: at every start, records fetched before recovery put it here.
                log.info(
                    "%s: read position %d is past the recovered state: reading again from %d",
                    *(source, position, state.offset + 1),
                )
                await self.consumer.commit({source: state.offset + 1})
                await self.consumer.seek(source, state.offset + 1)

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
                outcome = await self.processor.process(batch, self.backlog(batch))
        await self.follow(outcome)

    async def checkpoint_waiting(self, everything: bool = False) -> None:
        """Checkpoint and commit the changes of partitions being caught up that waited long
        enough (`everything`: all, as the worker stops)."""
        await self.follow(await self.processor.checkpoint_waiting(everything))

    def backlog(self, batch: SourceBatch) -> dict[PartitionId, int]:
        """Per partition of a batch, the records past it at the broker by its last fetch."""
        backlog = {}
        for source, records in batch.items():
            highwater = self.consumer.highwater(source)
            if highwater is not None and records:
                backlog[source] = highwater - records[-1].offset - 1
        return backlog

    async def follow(self, outcome: Outcome) -> None:
        """Commit the checkpointed offsets, then seek the partitions to read again."""
        # Faust never acks the source topic (acks=False), so the group's offsets move only
        # here, after the checkpoint: a stop mid-batch can never skip unapplied records.
        if outcome.commit:
            await self.consumer.commit(outcome.commit)
        for source, offset in outcome.rewind.items():
            log.warning("records skipped upstream: reading %s again from %d", source, offset)
            await self.consumer.seek(source, offset)
