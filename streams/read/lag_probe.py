"""How far the store is behind the source topics: the broker's end offsets against the
offsets the store reflects."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaTimeoutError

from streams.config import Settings
from streams.kafka.partitions import PartitionId

PROBE_TIMEOUT_SECONDS = 3.0
"""How long readers wait for the broker's end offsets: a stalled broker would hold a
request for aiokafka's 40 s request timeout, and /kpis and /readyz with it."""
METADATA_MAX_AGE_SECONDS = 5.0
"""How long the probe trusts its list of the source topics' partitions: a read asks the
broker only for the end offsets then (one round trip, not two; each costs a busy worker's
readers tens of milliseconds). A topic's partitions are fixed before its first event."""


class LagProbe:
    """Asks the broker for the end offsets of the source topics."""

    def __init__(self, settings: Settings, topics: tuple[str, ...]) -> None:
        self.topics = topics
        self.consumer = AIOKafkaConsumer(**settings.kafka_options(), enable_auto_commit=False)
        self.partitions: list[TopicPartition] = []
        self.listed_at = -METADATA_MAX_AGE_SECONDS  # monotonic time of `partitions`

    async def start(self) -> None:
        await self.consumer.start()

    async def stop(self) -> None:
        await self.consumer.stop()

    async def end_offsets(self) -> dict[str, int]:
        """`topic:partition` -> offset of the next record to be written; `KafkaTimeoutError`
        when the broker does not answer within PROBE_TIMEOUT_SECONDS."""
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
                return await self._end_offsets()
        except TimeoutError:
            raise KafkaTimeoutError(f"no answer within {PROBE_TIMEOUT_SECONDS:g}s") from None

    async def _end_offsets(self) -> dict[str, int]:
        tps = await self._partitions()
        ends = await self.consumer.end_offsets(tps) if tps else {}
        return {str(PartitionId(tp.topic, tp.partition)): offset for tp, offset in ends.items()}

    async def _partitions(self) -> list[TopicPartition]:
        """The source topics' partitions, listed again once older than the metadata age."""
        if time.monotonic() - self.listed_at >= METADATA_MAX_AGE_SECONDS:
            await self.consumer.topics()  # refresh metadata
            known = {topic: self.consumer.partitions_for_topic(topic) for topic in self.topics}
            self.partitions = [
                TopicPartition(topic, partition)
                for topic, partitions in known.items()
                for partition in sorted(partitions or ())
            ]
            if all(known.values()):
                self.listed_at = time.monotonic()
        return self.partitions


def consumer_lag(ends: dict[str, int], applied: dict[str, int]) -> dict[str, int]:
    """Records not yet reflected in the store, per source partition (`applied`: the offset
    after the last one reflected)."""
    return {name: max(0, end - applied.get(name, 0)) for name, end in ends.items()}
