"""The reporter's churn-risk announcements: on `crm.churn_signals`, and to Alertmanager."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import aiohttp
from aiokafka.errors import KafkaError
from redis.exceptions import RedisError

from streams.errors import StoreUnreachable
from streams.read.snapshot_reader import ReadResult
from streams.worker.assignment import Assignment
from streams.worker.churn_alerts import ChurnAlerts
from streams.worker.churn_announcer import ChurnAnnouncer
from streams.worker.processor import Processor

log = logging.getLogger(__name__)
BUSY_ANNOUNCE_SECONDS = 5.0


class ChurnReporter:
    """Announces churn-risk changes when this worker is the group's reporter."""

    def __init__(
        self,
        assignment: Assignment,
        processor: Processor,
        read_snapshot: Callable[[], Awaitable[ReadResult]],
        announcer: ChurnAnnouncer,
        alerts: ChurnAlerts | None,
    ) -> None:
        self.assignment = assignment
        self.processor = processor
        self.read_snapshot = read_snapshot
        self.announcer = announcer
        self.alerts = alerts
        self.announced_at = 0.0

    async def tick(self) -> None:
        """Announce what changed since the last tick; a failure (of the broker, or of the
        store before any snapshot was read) is retried on the next."""
        try:
            await self.announce()
        except (KafkaError, RedisError, StoreUnreachable) as error:
            log.warning("churn-risk announcement failed: %s", error)

    async def announce(self) -> None:
        if not self.assignment.reporter:
            return
        # A snapshot costs time in proportion to the whole state: while this worker is busy
        # applying batches, announce less often (changes are still all announced).
        now = time.time()
        if self.processor.applying() and now - self.announced_at < BUSY_ANNOUNCE_SECONDS:
            return
        self.announced_at = now
        snapshot, _ = await self.read_snapshot()
        await self.announcer.announce(snapshot.churn_risks, snapshot.watermark_us)
        if self.alerts is not None:
            try:
                await self.alerts.sync(snapshot.churn_risks)
            except (aiohttp.ClientError, TimeoutError) as error:  # retried on the next tick
                log.warning("posting churn-risk alerts to Alertmanager failed: %s", error)
