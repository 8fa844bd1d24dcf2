"""Recovering newly assigned partitions from their checkpoints, ahead of their records."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.errors import KafkaError

from streams.config import Settings
from streams.errors import BrokerUnreachable
from streams.kafka.partitions import PartitionId
from streams.kafka.topics import ensure_topics
from streams.worker.assignment import Assignment
from streams.worker.group_consumer import GroupConsumer
from streams.worker.processor import Processor
from streams.worker.retry import with_backoff

log = logging.getLogger(__name__)
POSITION_TIMEOUT_SECONDS = 10.0  # a recovered partition's read position, asked of the consumer


async def recreate_topics(settings: Settings) -> None:
    """Create the topics again if the broker lost them (a memory-only broker restarted)."""
    try:
        await ensure_topics(settings)
    except BrokerUnreachable as error:  # still unreachable: the caller retries
        log.warning("%s", error)


class Recovery:
    """Rebuilds assigned partitions' states and moves the consumer to read on from them."""

    def __init__(
        self,
        settings: Settings,
        processor: Processor,
        consumer: GroupConsumer,
        assignment: Assignment,
    ) -> None:
        self.settings = settings
        self.processor = processor
        self.consumer = consumer
        self.assignment = assignment

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
            await recreate_topics(self.settings)
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
                log.warning(
                    "%s: read position %d is past the recovered state: reading again from %d",
                    *(source, position, state.offset + 1),
                )
                await self.consumer.commit({source: state.offset + 1})
                await self.consumer.seek(source, state.offset + 1)
