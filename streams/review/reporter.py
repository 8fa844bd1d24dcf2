"""The scheduled review: the group's reporter sends each review once it is due.

Only the reporter (the worker owning the first customers partition, as for churn
announcements) sends. It reads the sent log when it becomes the reporter, then on each tick
sends every schedule's latest period a channel has not got, from its own `/kpis` snapshot
once the consumer lag is 0 (or `wait_idle_seconds` after the scheduled instant, whichever
comes first). A channel that fails after its retries is tried again `retry_later_seconds`
later. The sent log is written after a delivery: a crash between the two sends it again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from aiokafka.errors import KafkaError

from kpis.review.schedule import Schedule
from kpis.thresholds import ThresholdsConfig
from streams.config import ReviewSchedules
from streams.errors import CrmkpiError
from streams.read.snapshot_reader import ReadResult
from streams.review.build import review_with_prometheus
from streams.review.delivery import Retries, deliver
from streams.review.sent_log import SentLog, sent_key
from streams.worker.assignment import Assignment

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Due:
    """A review to send: its schedule, scheduled instant, period and the channels lacking it."""

    schedule: Schedule
    instant: datetime
    period_id: str
    channels: tuple[str, ...]


class ReviewReporter:
    """Sends due reviews when this worker is the group's reporter."""

    def __init__(
        self,
        assignment: Assignment,
        read_snapshot: Callable[[], Awaitable[ReadResult]],
        sent_log: SentLog,
        config: ThresholdsConfig,
        settings: ReviewSchedules,
        zone: ZoneInfo,
        prometheus_url: str | None = None,
    ) -> None:
        self.assignment = assignment
        self.read_snapshot = read_snapshot
        self.sent_log = sent_log
        self.config = config
        self.schedules = settings.schedules()
        self.zone = zone
        self.prometheus_url = prometheus_url  # of the alerts that fired, when set
        self.channels: tuple[str, ...] = settings.channels
        self.customer_ids: tuple[str, ...] = settings.customer_ids  # the internal channels
        self.retries = Retries(settings.attempts, settings.first_delay)
        self.retry_later = settings.retry_later_seconds
        self.wait_idle = timedelta(seconds=settings.wait_idle_seconds)
        self.sent: dict[str, str] | None = None  # read when this worker becomes the reporter
        self.next_try = 0.0  # monotonic time before which failed channels are not retried
        self.sending: asyncio.Task[None] | None = None
        self.first_check = False  # the first check after reading the sent log is logged

    def tick(self) -> None:
        """Start sending what is due, unless a send is still under way (called every second)."""
        if not self.schedules:
            return
        if not self.assignment.reporter:
            self.sent = None  # another worker may send meanwhile: read the log again
            return
        if self.sending is None or self.sending.done():
            self.sending = asyncio.get_running_loop().create_task(self._send_due())

    async def stop(self) -> None:
        if self.sending is not None:
            self.sending.cancel()
            await asyncio.gather(self.sending, return_exceptions=True)

    def pending(self, now: datetime) -> list[Due]:
        """Each schedule's latest period and the channels that have not got it."""
        sent = self.sent or {}
        found = []
        for schedule in self.schedules:
            instant = schedule.latest(now, self.zone)
            period_id = schedule.period_id(instant)
            missing = tuple(
                channel
                for channel in self.channels
                if sent.get(sent_key(schedule.kind, channel)) != period_id
            )
            if missing:
                found.append(Due(schedule, instant, period_id, missing))
        return found

    async def _send_due(self) -> None:
        try:
            if self.sent is None:
                self.sent = await self.sent_log.read()
                log.info("reporter: reviews sent so far %s", self.sent or "none")
                self.first_check = True
            if time.monotonic() < self.next_try:
                return
            now = datetime.now(UTC)
            due = self.pending(now)
            if self.first_check:
                self.first_check = False
                log.info("reporter: reviews due %s", [one.period_id for one in due] or "none")
            if not due:
                return
            snapshot, _ = await self.read_snapshot()
            if snapshot.lag != 0 and all(now - one.instant < self.wait_idle for one in due):
                return  # the period's last events are still being applied
            document = snapshot.to_json()
            for one in due:
                await self._send(one.schedule, one.period_id, one.channels, document)
        except (KafkaError, CrmkpiError) as error:  # tried again on a later tick
            log.warning("periodic review not sent: %s", error)
            self.next_try = time.monotonic() + self.retry_later

    async def _send(
        self,
        schedule: Schedule,
        period_id: str,
        channels: tuple[str, ...],
        document: dict[str, object],
    ) -> None:
        review = await asyncio.to_thread(
            review_with_prometheus, document, schedule.period, self.prometheus_url
        )
        results = await asyncio.to_thread(
            deliver, review, self.config, channels, self.retries, customer_ids=self.customer_ids
        )
        for channel, ok in results.items():
            if ok:
                key = sent_key(schedule.kind, channel)
                await self.sent_log.record(key, period_id)
                if self.sent is not None:
                    self.sent[key] = period_id
                log.info("review %s sent to %s", period_id, channel)
            else:
                self.next_try = time.monotonic() + self.retry_later
