"""The Faust application: one agent applies every source topic in batches.

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
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import faust
import mode
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from faust.types import TP
from redis.exceptions import RedisError

from kpis.thresholds import ThresholdsError, read_thresholds
from streams.config import Settings
from streams.errors import CliError
from streams.http.ingest.endpoint import IngestEndpoint
from streams.http.server import HttpServer, build_app
from streams.kafka.adapter import Batch, BatchConsumer
from streams.kafka.producer import CrmProducer
from streams.kafka.topics import Topics, ensure_topics
from streams.read.exposition import WorkerView
from streams.read.snapshot_reader import LagProbe, Snapshot, SnapshotReader
from streams.read.store import Store, open_store
from streams.worker.checkpoint_log import MAX_CHECKPOINT_BYTES, CheckpointLog
from streams.worker.churn_alerts import ChurnAlerts
from streams.worker.churn_announcer import ChurnAnnouncer
from streams.worker.processor import Processor, SourceBatch

log = logging.getLogger(__name__)
BATCH_SIZE = 10_000  # records per fetch: each batch costs a checkpoint write and a commit
MAX_BACKOFF_SECONDS = 10.0
POSITION_TIMEOUT_SECONDS = 10.0  # a recovered partition's read position, asked of the consumer
BUSY_ANNOUNCE_SECONDS = 5.0

StartHook = Callable[["Runtime"], Awaitable[None]]


class Runtime(mode.Service):  # type: ignore[misc]
    """The clients and servers a worker owns besides Faust's consumer (a Faust app service).

    Kafka clients need a running loop, so they are made in `on_start`; the
    agent waits for `ready` before it hands over the first batch.
    """

    producer: AIOKafkaProducer
    checkpoints: CheckpointLog
    processor: Processor
    probe: LagProbe
    announcer: ChurnAnnouncer

    def __init__(
        self, settings: Settings, store: Store, serve_http: bool, on_started: StartHook | None
    ) -> None:
        super().__init__()
        self.on_started_hook = on_started
        self.background: set[asyncio.Task[None]] = set()
        self.churn_rules = settings.churn_rules()
        self.last_snapshot: tuple[Snapshot, dict[str, int]] | None = None
        self.last_snapshot_at = 0.0
        self.announced_at = 0.0
        self.datadir = Path(tempfile.mkdtemp(prefix="crmkpi-faust-"))
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self.store = store
        self.reader = SnapshotReader(store)
        self.serve_http = serve_http
        self.ready = asyncio.Event()
        self.http: HttpServer | None = None
        self.assigned: set[str] = set()
        self.churn_alerts = self._churn_alerts(settings)
        self.rebalances = 0

    @staticmethod
    def _churn_alerts(settings: Settings) -> ChurnAlerts | None:
        if settings.alertmanager_url is None:
            return None
        try:
            thresholds = read_thresholds(
                settings.thresholds_file, settings.public_url, settings.grafana_url
            )
        except ThresholdsError as error:
            raise CliError(str(error)) from None
        return ChurnAlerts(settings.alertmanager_url, thresholds.churn_alert, thresholds.links)

    async def on_start(self) -> None:
        started = time.monotonic()
        settings = self.settings
        await ensure_topics(settings)
        self.producer = AIOKafkaProducer(
            **settings.kafka_options(), acks="all", max_request_size=MAX_CHECKPOINT_BYTES
        )
        self.checkpoints = CheckpointLog(settings, self.topics.checkpoints, self.producer)
        self.processor = Processor(self.topics, self.store, self.producer, self.checkpoints)
        self.probe = LagProbe(settings, self.topics.sources)
        self.announcer = ChurnAnnouncer(self.producer, self.topics.churn_signals)
        await self.producer.start()
        await self.probe.start()
        if self.serve_http:
            shared = CrmProducer(
                settings,
                origin="ingest",
                request_timeout=settings.ingest_broker_timeout,
                kafka=self.producer,
            )
            ingest = IngestEndpoint(settings, shared)
            app = build_app(
                self.snapshot,
                self.readiness,
                settings.thresholds_file,
                ingest.handle,
                self.worker_view,
            )
            self.http = HttpServer(app, self.settings.http_host, self.settings.http_port)
            await self.http.start()
        self.ready.set()
        if self.on_started_hook is not None:
            await self.on_started_hook(self)
        log.info("runtime started in %.1fs", time.monotonic() - started)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` beside the worker; it is cancelled when the worker stops."""
        task = asyncio.get_running_loop().create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def on_stop(self) -> None:
        for task in list(self.background):
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        shutil.rmtree(self.datadir, ignore_errors=True)
        if self.http is not None:
            await self.http.stop()
        await self.probe.stop()
        await self.checkpoints.close()
        await self.producer.stop()
        await self.store.close()
        if self.churn_alerts is not None:
            await self.churn_alerts.close()

    async def snapshot(self) -> tuple[Snapshot, dict[str, int]]:
        """The current snapshot; while the store is unreachable, the last one, marked stale."""
        try:
            latest = await self.reader.read(
                self.probe,
                self.settings.gross_margin,
                self.processor.store_stale_since,
                self.churn_rules,
            )
        except RedisError:
            if self.last_snapshot is None:
                raise
            snapshot, lag = self.last_snapshot
            stale_since = snapshot.stale_since or self.last_snapshot_at
            return replace(snapshot, stale_since=stale_since), lag
        self.last_snapshot, self.last_snapshot_at = latest, time.time()
        return latest

    @property
    def reporter(self) -> bool:
        """Whether this worker speaks for the group: it owns the first customers partition."""
        return f"{self.topics.prefix}customers:0" in self.assigned

    def worker_view(self) -> WorkerView:
        """What this worker owns and its health, for /metrics."""
        processor = self.processor
        return WorkerView(
            frozenset(self.assigned),
            self.reporter,
            self.rebalances,
            processor.last_flush,
            processor.processing_errors,
            dict(processor.dead_letters),
        )

    async def announce_churn_risk(self) -> None:
        """The reporter announces churn-risk changes.

        On `crm.churn_signals`, and as alerts to Alertmanager when one is configured.
        """
        if not self.reporter:
            return
        # A snapshot costs time in proportion to the whole state: while this worker is busy
        # applying batches, announce less often (changes are still all announced).
        now = time.time()
        busy = self.processor.last_flush is not None and now - self.processor.last_flush < 1.0
        if busy and now - self.announced_at < BUSY_ANNOUNCE_SECONDS:
            return
        self.announced_at = now
        snapshot, _ = await self.snapshot()
        await self.announcer.announce(snapshot.churn_risks, snapshot.watermark_us)
        if self.churn_alerts is not None:
            try:
                await self.churn_alerts.sync(snapshot.churn_risks)
            except (aiohttp.ClientError, TimeoutError) as error:  # retried on the next tick
                log.warning("posting churn-risk alerts to Alertmanager failed: %s", error)

    async def readiness(self) -> list[str]:
        problems = []
        if not await self.store.ping():
            problems.append("store unreachable")
        if self.processor.store_stale_since is not None:
            problems.append("store is behind (it was unreachable)")
        try:
            await self.probe.end_offsets()
        except Exception as error:
            problems.append(f"broker unreachable: {error}")
        if not self.assigned:
            problems.append("no partitions assigned yet")
        return problems

    async def recreate_topics(self) -> None:
        """Create the topics again if the broker lost them (a memory-only broker restarted)."""
        try:
            await ensure_topics(self.settings)
        except CliError as error:  # still unreachable: the caller retries
            log.warning("%s", error)

    async def recover(self, partitions: dict[str, int], consumer: Any) -> None:
        """Recover assigned partitions ahead of their records, retrying with back-off.

        Until then readers see what the store holds; after a broker that lost its logs,
        that is the lost history, which only the recovered (empty) states replace.
        """
        await self.ready.wait()
        backoff = 0.1
        while partitions:
            await self.recreate_topics()
            try:
                await self.processor.recover(partitions)
                await self.read_on_from_states(partitions, consumer)
                return
            except (KafkaError, TimeoutError) as error:
                log.warning("recovering assigned partitions, retrying in %.1fs: %s", backoff, error)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            partitions = {name: p for name, p in partitions.items() if name in self.assigned}

    async def read_on_from_states(self, partitions: dict[str, int], consumer: Any) -> None:
        """Make the consumer read each recovered partition from its state's next offset.

        The group's offset is there already, unless a commit made for a lost incarnation
        of the logs reached a restarted memory-only broker: it can lie past the new log's
        records, which would then never be read. Such an offset is committed back and
        sought; a position past the state because records are in flight is harmless to
        move back too (they are read again, and skipped or applied once).
        """
        for name, partition in partitions.items():
            state = self.processor.states.get(name)
            if state is None:  # revoked meanwhile
                continue
            tp = TP(name.rpartition(":")[0], partition)
            position = await asyncio.wait_for(consumer.position(tp), POSITION_TIMEOUT_SECONDS)
            if position is not None and position > state.offset + 1:
                log.warning(
                    "%s: read position %d is past the recovered state: reading again from %d",
                    *(name, position, state.offset + 1),
                )
                await consumer._commit({tp: state.offset + 1})
                await consumer.seek(tp, state.offset + 1)

    async def process(self, batch: SourceBatch, consumer: Any) -> None:
        """Process a batch, retrying with back-off while the broker or store is failing.

        A batch whose partitions were revoked meanwhile is dropped: it comes again from the
        committed offsets, and after a broker that lost its logs, not at all.
        """
        await self.ready.wait()
        epoch = consumer.epoch
        backoff = 0.1
        while True:
            try:
                resume_at = await self.processor.process(batch)
                break
            except KafkaError as error:
                log.warning("broker error, retrying in %.1fs: %s", backoff, error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                if consumer.epoch != epoch:
                    log.warning("partitions revoked while retrying: batch dropped")
                    return
                await self.recreate_topics()
        # Faust never acks the source topic (acks=False), so the group's offsets move only
        # here, after the checkpoint: a stop mid-batch can never skip unapplied records.
        # `_commit` is the consumer's own primitive for committing explicit offsets.
        offsets = {TP(topic, partition): offset for (topic, partition), offset in resume_at.items()}
        if offsets:
            await consumer._commit(offsets)
        rewinds, self.processor.rewinds = self.processor.rewinds, {}
        for (topic, partition), offset in rewinds.items():
            log.warning(
                "records skipped upstream: reading %s:%d again from %d", *(topic, partition, offset)
            )
            await consumer.seek(TP(topic, partition), offset)


def create_app(
    settings: Settings, *, serve_http: bool = True, on_started: StartHook | None = None
) -> tuple[faust.App, Runtime]:
    """The Faust app and its runtime for the given settings."""
    runtime = Runtime(settings, open_store(settings.redis_url), serve_http, on_started)
    app = faust.App(
        settings.group_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=runtime.datadir,
        web_enabled=False,
        autodiscover=False,
        topic_partitions=settings.partitions,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_max_request_size=MAX_CHECKPOINT_BYTES,
        broker_max_poll_records=BATCH_SIZE,
        # A SIGKILLed worker's partitions move after this long, not Kafka's default minute.
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=min(1.0, settings.session_timeout / 3),
        broker_rebalance_timeout=settings.session_timeout,
    )
    app.service(runtime)
    source = app.topic(
        *runtime.topics.sources,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
        acks=False,
    )

    async def apply_batch(batch: Batch) -> None:
        await runtime.process(batch, app.consumer)

    # Records reach `apply_batch` a whole fetch at a time, not through an agent's stream.
    app.transport.Consumer = partial(BatchConsumer, handler=apply_batch)
    app.topics.add(source)

    @app.on_partitions_revoked.connect  # type: ignore[untyped-decorator]
    async def on_revoked(sender: Any, revoked: set[Any], **_: Any) -> None:
        app.consumer.epoch += 1  # batches fetched before this revocation are dropped
        names = {f"{tp.topic}:{tp.partition}" for tp in revoked}
        runtime.assigned -= names
        if runtime.ready.is_set():
            runtime.processor.forget(names)

    @app.on_partitions_assigned.connect  # type: ignore[untyped-decorator]
    async def on_assigned(sender: Any, assigned: set[Any], **_: Any) -> None:
        runtime.assigned = {f"{tp.topic}:{tp.partition}" for tp in assigned}
        runtime.rebalances += 1
        # Readers see the partitions before their next record arrives.
        runtime.spawn(
            runtime.recover(
                {f"{tp.topic}:{tp.partition}": tp.partition for tp in assigned}, app.consumer
            )
        )

    @app.timer(1.0)  # type: ignore[untyped-decorator]
    async def housekeeping() -> None:
        if not runtime.ready.is_set():
            return
        await runtime.processor.republish()
        try:
            await runtime.announce_churn_risk()
        except KafkaError as error:  # announced on the next tick instead
            log.warning("churn-risk announcement failed: %s", error)

    return app, runtime
