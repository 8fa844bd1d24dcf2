"""The scheduled reviewer without a broker: what is due, once per period and channel, only
on the reporter, after the lag reaches 0, and a failed channel alone tried again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from kpis.review.model import Review
from kpis.thresholds import ThresholdsConfig
from kpis.windows import UTC_ZONE
from streams.config import ReviewSchedules
from streams.kafka.topics import Topics
from streams.review import reporter as module
from streams.review.reporter import ReviewReporter
from streams.review.sent_log import SentLog
from streams.worker.assignment import Assignment
from tests.kpis.test_review import SNAPSHOT


class MemorySentLog(SentLog):
    def __init__(self, sent: dict[str, str]) -> None:
        self.sent = dict(sent)
        self.reads = 0

    async def read(self) -> dict[str, str]:
        self.reads += 1
        return dict(self.sent)

    async def record(self, key: str, period_id: str) -> None:
        self.sent[key] = period_id


@dataclass
class FakeSnapshot:
    lag: int | None

    def to_json(self) -> dict[str, object]:
        return dict(SNAPSHOT)


def reviewer(
    sent_log: SentLog, lag: list[int | None], reporter: bool = True, wait_idle: float = 1e9
) -> ReviewReporter:
    topics = Topics()
    assignment = Assignment(topics)
    if reporter:
        assignment.assign([assignment.reporting_partition])

    async def read_snapshot() -> tuple[Any, dict[str, int]]:
        return FakeSnapshot(lag[0]), {}

    settings = ReviewSchedules(
        weekly="MON 08:00",
        monthly="1 08:00",
        retry_later_seconds=3600,
        wait_idle_seconds=wait_idle,
        customer_ids=("email",),
    )
    return ReviewReporter(
        assignment, read_snapshot, sent_log, ThresholdsConfig(), settings, UTC_ZONE
    )


@pytest.fixture
def deliveries(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[str, ...]]]:
    """Every (period, channels) handed to delivery; email fails, Slack gets it."""
    calls: list[tuple[str, tuple[str, ...]]] = []

    def deliver(
        review: Review,
        config: ThresholdsConfig,
        channels: tuple[str, ...],
        retries: Any,
        customer_ids: tuple[str, ...],
    ) -> dict[str, bool]:
        assert customer_ids == ("email",)  # the setting's internal channels
        calls.append((review.period, channels))
        return {channel: channel == "slack" for channel in channels}

    monkeypatch.setattr(module, "deliver", deliver)
    return calls


def test_pending_is_each_latest_period_a_channel_lacks() -> None:
    log = MemorySentLog({})
    one = reviewer(log, [0])
    one.sent = {"weekly:slack": "weekly:2026-W11", "monthly:slack": "monthly:2026-02"}
    at = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)
    assert [(d.period_id, d.channels) for d in one.pending(at)] == [
        ("weekly:2026-W11", ("email",)),
        ("monthly:2026-03", ("slack", "email")),
    ]


async def test_it_waits_for_lag_0_then_sends_and_records(
    deliveries: list[tuple[str, tuple[str, ...]]],
) -> None:
    log = MemorySentLog({})
    lag: list[int | None] = [5]
    one = reviewer(log, lag)
    await one._send_due()
    assert deliveries == [] and log.reads == 1  # the lag is not 0 yet
    lag[0] = 0
    await one._send_due()
    assert deliveries == [("week", ("slack", "email")), ("month", ("slack", "email"))]
    assert set(log.sent) == {"weekly:slack", "monthly:slack"}  # email failed: not recorded
    await one._send_due()  # email is tried again only after retry_later_seconds
    assert len(deliveries) == 2


async def test_only_the_reporter_sends(deliveries: list[tuple[str, tuple[str, ...]]]) -> None:
    log = MemorySentLog({})
    one = reviewer(log, [0], reporter=False)
    one.tick()
    assert one.sending is None and log.reads == 0


async def test_past_the_idle_wait_it_sends_anyway(
    deliveries: list[tuple[str, tuple[str, ...]]],
) -> None:
    await reviewer(MemorySentLog({}), [5], wait_idle=0)._send_due()
    assert len(deliveries) == 2


async def test_what_the_log_holds_is_not_sent_again(
    deliveries: list[tuple[str, tuple[str, ...]]],
) -> None:
    first = MemorySentLog({})
    await reviewer(first, [0])._send_due()
    first.sent.update({"weekly:email": "x", "monthly:email": "x"})  # email: an older period
    second = reviewer(first, [0])  # a restart: the log is read again
    await second._send_due()
    assert deliveries[2:] == [("week", ("email",)), ("month", ("email",))]
