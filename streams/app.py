"""The composition root: the Faust app and the worker's parts, built and wired together.

State is not kept in Faust tables: a table's changelog is not written
atomically with the source offset, and without broker transactions a crash
would double-apply. Each source partition's state is checkpointed by the
`Processor` in one record together with its offset instead (see
`streams.worker.processor`).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from functools import partial
from pathlib import Path
from typing import Any

import faust
import mode
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from faust.types import TP

from kpis.thresholds import ThresholdsConfig
from streams.config import Settings
from streams.http.ingest.endpoint import IngestEndpoint
from streams.http.listeners import Listeners
from streams.kafka.adapter import (
    Batch,
    BatchConsumer,
    FaustGroupConsumer,
    install_metadata_no_auto_create,
)
from streams.kafka.partitions import PartitionId
from streams.kafka.producer import CrmProducer
from streams.kafka.topics import Topics, ensure_topics
from streams.read.lag_probe import LagProbe
from streams.read.relay_store import RelayServer
from streams.read.snapshot_cache import LastGoodSnapshot
from streams.read.snapshot_reader import SnapshotReader
from streams.read.store import MemoryStore, Store
from streams.read.stores import open_store
from streams.review.reporter import ReviewReporter
from streams.review.sent_log import SentLog
from streams.worker.assignment import Assignment
from streams.worker.checkpoint_log import MAX_CHECKPOINT_BYTES, CheckpointLog
from streams.worker.churn_alerts import ChurnAlerts, churn_alerts_for
from streams.worker.churn_announcer import ChurnAnnouncer
from streams.worker.churn_reporter import ChurnReporter
from streams.worker.consumption import Consumption, recreate_topics
from streams.worker.faust_app import faust_app
from streams.worker.group_consumer import GroupConsumer
from streams.worker.health import WorkerHealth
from streams.worker.processor import Processor
from streams.worker.stall_watch import StallWatch

log = logging.getLogger(__name__)
MIN_STALL_SECONDS = 30.0  # an owned partition lagging this long without progress is resumed
StartHook = Callable[["Runtime"], Awaitable[None]]


class Runtime(mode.Service):  # type: ignore[misc]
    """The clients and servers a worker owns besides Faust's consumer, started before it (readers
    get answers while the group forms) and stopped before it. Kafka clients need a running
    loop, so they are made in `on_start`; batches and recoveries wait for `ready`."""

    processor: Processor
    consumption: Consumption
    churn: ChurnReporter
    reviews: ReviewReporter

    def __init__(
        self,
        settings: Settings,
        store: Store,
        consumer: GroupConsumer,
        churn_alerts: ChurnAlerts | None,
        datadir: Path,
        serve_http: bool,
        on_started: StartHook | None,
        relay_path: Path | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self.store = store
        self.assignment = Assignment(self.topics)
        self.consumer = consumer
        self.churn_alerts = churn_alerts
        self.serve_http = serve_http
        self.on_started_hook = on_started
        self.relay = None  # serves `store` at `relay_path` to the other workers of `crmkpi up`
        if relay_path is not None:
            assert isinstance(store, MemoryStore), "a relay serves the in-process store"
            self.relay = RelayServer(store, relay_path)
        self.datadir = datadir  # Faust's own files: removed on stop
        self.ready = asyncio.Event()
        self.background: set[asyncio.Task[None]] = set()
        self.http: Listeners | None = None

    async def on_start(self) -> None:
        started = time.monotonic()
        settings, topics, assignment = self.settings, self.topics, self.assignment
        if self.relay is not None:
            await self.relay.start()
        await ensure_topics(settings)
        self.producer = AIOKafkaProducer(
            **settings.kafka_options(), acks="all", max_request_size=MAX_CHECKPOINT_BYTES
        )
        self.checkpoints = CheckpointLog(settings, topics.checkpoints, self.producer)
        processor = Processor(topics, self.store, self.producer, self.checkpoints, assignment)
        self.processor = processor
        self.probe = LagProbe(settings, topics.sources)
        self.snapshots = LastGoodSnapshot(
            SnapshotReader(self.store, settings.zone(), settings.goals()),
            self.probe,
            settings.gross_margin,
            settings.churn_rules(),
            lambda: processor.publisher.stale_since,
        )
        self.health = WorkerHealth(self.store, self.probe, assignment, processor)
        self.health.exports = "all" if self.relay else "none" if settings.store_relay else "owned"
        recreate = partial(recreate_topics, settings)
        self.consumption = Consumption(processor, self.consumer, assignment, recreate)
        patience = max(MIN_STALL_SECONDS, 3 * settings.session_timeout)  # seconds stalled
        self.stall_watch = StallWatch(processor, assignment, self.consumer, self.probe, patience)
        self.health.collectors = (self.stall_watch,)
        announcer = ChurnAnnouncer(self.producer, topics.churn_signals)
        self.churn = ChurnReporter(
            assignment, processor, self.snapshots.read, announcer, self.churn_alerts
        )
        self.reviews = ReviewReporter(
            assignment,
            self.snapshots.read,
            SentLog(settings, topics.review_sent, self.producer),
            settings.thresholds() if settings.review.schedules() else ThresholdsConfig(),
            settings.review,
            settings.zone(),
            settings.prometheus_url,
        )
        await self.producer.start()
        await self.probe.start()
        if self.serve_http:
            await self._start_http()
        self.ready.set()
        if self.on_started_hook is not None:
            await self.on_started_hook(self)
        log.info("runtime started in %.1fs", time.monotonic() - started)

    async def _start_http(self) -> None:
        settings = self.settings
        shared = CrmProducer(
            settings,
            origin="ingest",
            request_timeout=settings.ingest_broker_timeout,
            kafka=self.producer,
        )
        ingest = IngestEndpoint(settings, shared)
        self.health.collectors += (ingest.items,)
        self.http = Listeners.for_settings(
            settings,
            self.snapshots.read,
            self.health.readiness,
            ingest.handle,
            self.health.view,
            self.processor.unapplied,
        )
        await self.http.start()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` beside the worker; it is cancelled when the worker stops."""
        task = asyncio.get_running_loop().create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def on_stop(self) -> None:
        for task in list(self.background):
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        if self.ready.is_set():
            try:
                await self.consumption.checkpoint_waiting(everything=True)
            except KafkaError as error:  # read again from the committed offsets
                log.warning("changes waiting for their checkpoint not written: %s", error)
        shutil.rmtree(self.datadir, ignore_errors=True)
        await self.processor.publisher.settled()
        await self.reviews.stop()
        if self.http is not None:
            await self.http.stop()
        await self.probe.stop()
        await self.checkpoints.close()
        await self.producer.stop()
        if self.relay is not None:
            await self.relay.stop()
        await self.store.close()
        if self.churn_alerts is not None:
            await self.churn_alerts.close()

    async def apply(self, batch: Batch) -> None:
        await self.ready.wait()
        await self.consumption.apply(batch)

    def assigned(self, sources: Iterable[PartitionId]) -> None:
        """Readers see newly assigned partitions before their next record arrives."""
        self.assignment.assign(sources)
        self.spawn(self._recover(sorted(self.assignment.owned)))

    async def _recover(self, sources: list[PartitionId]) -> None:
        await self.ready.wait()
        await self.consumption.recover(sources)

    def revoked(self, sources: Iterable[PartitionId]) -> None:
        """Batches fetched before a revocation are dropped, and revoked states forgotten."""
        revoked = set(sources)
        self.assignment.revoke(revoked)
        if self.ready.is_set():
            self.processor.forget(revoked)

    async def housekeeping(self) -> None:
        if self.ready.is_set():
            await self.processor.republish()
            await self.churn.tick()
            self.reviews.tick()
            try:
                await self.consumption.checkpoint_waiting()
                await self.processor.snapshot_idle()
            except KafkaError as error:  # written on a later tick
                log.warning("checkpoints of waiting or idle partitions not written: %s", error)
            await self.stall_watch.tick()


def create_app(
    settings: Settings,
    *,
    serve_http: bool = True,
    on_started: StartHook | None = None,
    relay_path: Path | None = None,
) -> tuple[faust.App, Runtime]:
    """The Faust app and its runtime for the given settings (`relay_path`: see `Runtime`)."""
    install_metadata_no_auto_create()
    alerts = churn_alerts_for(settings)
    settings.goals()  # a bad goals file stops the worker here, in one line
    datadir = Path(tempfile.mkdtemp(prefix="crmkpi-faust-"))
    app = faust_app(settings, datadir)
    store, consumer = open_store(settings), FaustGroupConsumer(app)
    runtime = Runtime(
        settings, store, consumer, alerts, datadir, serve_http, on_started, relay_path
    )
    source = app.topic(
        *runtime.topics.sources,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
        acks=False,
    )
    # Records reach the runtime a whole fetch at a time, not through an agent's stream.
    app.transport.Consumer = partial(
        BatchConsumer, handler=runtime.apply, epoch=lambda: runtime.assignment.epoch
    )
    app.topics.add(source)

    @app.on_partitions_revoked.connect  # type: ignore[untyped-decorator]
    async def on_revoked(sender: Any, revoked: set[TP], **_: Any) -> None:
        runtime.revoked(PartitionId(tp.topic, tp.partition) for tp in revoked)

    @app.on_partitions_assigned.connect  # type: ignore[untyped-decorator]
    async def on_assigned(sender: Any, assigned: set[TP], **_: Any) -> None:
        runtime.assigned(PartitionId(tp.topic, tp.partition) for tp in assigned)

    @app.on_before_shutdown.connect  # type: ignore[untyped-decorator]
    async def stop_runtime(sender: Any, **_: Any) -> None:
        await runtime.stop()  # once no batch is in flight, before the consumer leaves its group

    @app.timer(1.0)  # type: ignore[untyped-decorator]
    async def housekeeping() -> None:
        await runtime.housekeeping()

    return app, runtime
