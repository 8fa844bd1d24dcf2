"""The one module that reaches into Faust's and aiokafka's internals.

Every private attribute of either library that crmkpi relies on is used here
and nowhere else, each with the reason, so that a library upgrade breaks this
file only:

- a metadata request that never auto-creates topics, installed in aiokafka at
  start-up (`install_metadata_no_auto_create`);
- Faust's consumer, handing each whole fetch to one handler (`BatchConsumer`)
  with a short fetch wait (`ShortFetchWaitThread`);
- explicit offset commits through Faust's consumer, and resuming partitions a rebalance
  left paused (`FaustGroupConsumer`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any

import aiokafka.client
import faust
from aiokafka import AIOKafkaConsumer
from aiokafka.protocol.metadata import MetadataRequest
from aiokafka.structs import ConsumerRecord
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer
from faust.types import TP

from streams.kafka.partitions import PartitionId

log = logging.getLogger(__name__)
FETCH_TIMEOUT_SECONDS = 1.0
FETCH_MAX_WAIT_MS = 100
"""How long the broker may hold a fetch waiting for data. Faust fixes 1,500 ms, and Tansu
answers a waiting fetch only when that runs out (measured ~450 ms): it bounds the latency."""

Batch = Mapping[PartitionId, Sequence[ConsumerRecord[bytes, bytes]]]
BatchHandler = Callable[[Batch], Awaitable[None]]


class MetadataRequestNoAutoCreate(MetadataRequest):  # type: ignore[misc]
    """A metadata request that never asks the broker to create a missing topic.

    aiokafka always asks (`allow_auto_topic_creation`), and brokers that honour it (Tansu;
    Apache Kafka with `auto.create.topics.enable`, its default) create the topic with their
    own partition count: after a broker lost its logs, the first client to look would pick
    the count. crmkpi creates its topics itself, with the configured count (`ensure_topics`).
    """

    def __init__(
        self, topics: list[str] | None = None, allow_auto_topic_creation: bool | None = None
    ) -> None:
        super().__init__(topics, allow_auto_topic_creation=False)


def install_metadata_no_auto_create() -> None:
    """Make every aiokafka client of this process (Faust's too) ask for metadata without
    creating topics. aiokafka has no option for it: its client builds each request from the
    module-level name `aiokafka.client.MetadataRequest`, so that name is replaced. Call it at
    start-up, before the first client is made."""
    aiokafka.client.MetadataRequest = MetadataRequestNoAutoCreate


class ShortFetchWaitThread(AIOKafkaConsumerThread):  # type: ignore[misc]
    """Faust's consumer thread, with a short fetch wait (FETCH_MAX_WAIT_MS).

    Faust passes no `fetch_max_wait_ms` to aiokafka: the private hook that makes the
    consumer is overridden to set it before the consumer starts (when aiokafka reads it).
    """

    def _create_worker_consumer(self, transport: Any) -> AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class BatchConsumer(Consumer):  # type: ignore[misc]
    """Faust's Kafka consumer, draining each whole fetch into `handler`, one batch at a time.

    Faust's own path turns every record into a message, an event and a task switch
    (conductor -> channel -> stream) and waits on each; at tens of thousands of records a
    second that machinery, not our work, is the cost. This consumer keeps everything Faust
    does for the group (membership, assignment, rebalances, flow control, seeking to the
    committed offsets on assignment) and only replaces its private draining loop.

    `epoch()` must change on every revocation: a batch fetched in an earlier epoch is
    dropped, and the consumer seeks back to the committed offsets so nothing it had fetched
    is skipped (replayed records are recognised by the processor's offsets).
    """

    def __init__(
        self, *args: Any, handler: BatchHandler, epoch: Callable[[], int], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.handler = handler
        self.epoch = epoch

    def _new_consumer_thread(self) -> ShortFetchWaitThread:
        return ShortFetchWaitThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                epoch = self.epoch()
                records, active = await self._wait_next_records(FETCH_TIMEOUT_SECONDS)
                if not records or self.should_stop:
                    continue
                if epoch != self.epoch() or not self.flow_active:
                    await self._seek_after_stale_fetch()
                    continue
                batch = {
                    PartitionId(tp.topic, tp.partition): found
                    for tp, found in records.items()
                    if active and tp in active
                }
                if batch:
                    await self.handler(batch)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise

    async def _seek_after_stale_fetch(self) -> None:
        try:
            await self.perform_seek()
        except Exception as error:  # Faust seeks again on the next assignment
            log.warning("seek to committed offsets failed: %s", error)


class FaustGroupConsumer:
    """The consumer group's positions and offsets, through the Faust app's consumer
    (a `streams.worker.group_consumer.GroupConsumer`)."""

    def __init__(self, app: faust.App) -> None:
        self.app = app

    async def commit(self, offsets: Mapping[PartitionId, int]) -> None:
        # Faust commits only offsets it has acked itself (never, for a topic with
        # acks=False); its private `_commit` is the primitive that commits explicit ones.
        await self.app.consumer._commit({_tp(p): offset for p, offset in offsets.items()})

    async def seek(self, partition: PartitionId, offset: int) -> None:
        await self.app.consumer.seek(_tp(partition), offset)

    async def position(self, partition: PartitionId) -> int | None:
        position: int | None = await self.app.consumer.position(_tp(partition))
        return position

    def highwater(self, partition: PartitionId) -> int | None:
        try:
            highwater: int | None = self.app.consumer.highwater(_tp(partition))
        except AssertionError:  # aiokafka asserts the partition is assigned: revoked meanwhile
            return None
        return highwater

    async def resume(self, partitions: Collection[PartitionId]) -> None:
        # Faust's own recovery resumes the partitions and the flow after each rebalance;
        # these are its calls for it, made again (`streams.worker.stall_watch`).
        consumer = self.app.consumer
        consumer.resume_partitions({_tp(partition) for partition in partitions})
        if not consumer.flow_active:
            self.app.flow_control.resume()
            consumer.resume_flow()


def _tp(partition: PartitionId) -> TP:
    return TP(partition.topic, partition.partition)
