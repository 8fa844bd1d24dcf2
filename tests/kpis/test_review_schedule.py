"""Review schedules: the latest due instant and its period id, in the configured zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from kpis.review.schedule import ScheduleError, due, parse_schedule

PARIS = ZoneInfo("Europe/Paris")
WEEKLY = parse_schedule("weekly", "MON 08:00")
MONTHLY = parse_schedule("monthly", "1 08:00")


def test_weekly_is_the_last_monday_0800_local() -> None:
    # Monday 2026-03-09 07:00 UTC is 08:00 in Paris (UTC+1): due this very minute.
    at = datetime(2026, 3, 9, 7, 0, tzinfo=UTC)
    assert WEEKLY.latest(at, PARIS) == datetime(2026, 3, 9, 8, 0, tzinfo=PARIS)
    assert WEEKLY.period_id(WEEKLY.latest(at, PARIS)) == "weekly:2026-W11"
    # A minute earlier, last week's is the latest.
    before = datetime(2026, 3, 9, 6, 59, tzinfo=UTC)
    assert WEEKLY.latest(before, PARIS) == datetime(2026, 3, 2, 8, 0, tzinfo=PARIS)


def test_weekly_across_the_dst_change() -> None:
    # Paris moves to UTC+2 on 2026-03-29: Monday 30 March 08:00 is 06:00 UTC.
    at = datetime(2026, 3, 30, 6, 0, tzinfo=UTC)
    assert WEEKLY.latest(at, PARIS).astimezone(UTC) == at


def test_monthly_on_the_first_and_across_a_year() -> None:
    at = datetime(2026, 1, 1, 6, 0, tzinfo=UTC)  # 07:00 in Paris: not yet
    assert MONTHLY.period_id(MONTHLY.latest(at, PARIS)) == "monthly:2025-12"
    at = datetime(2026, 1, 1, 7, 0, tzinfo=UTC)
    assert MONTHLY.period_id(MONTHLY.latest(at, PARIS)) == "monthly:2026-01"


def test_due_skips_what_was_sent_and_catches_up_what_was_not() -> None:
    at = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)  # Wednesday: Monday's was due while down
    assert [pid for _, pid in due((WEEKLY, MONTHLY), set(), at, PARIS)] == [
        "weekly:2026-W11",
        "monthly:2026-03",
    ]
    sent = {"weekly:2026-W11", "monthly:2026-03"}
    assert due((WEEKLY, MONTHLY), sent, at, PARIS) == []


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        ("weekly", "MONDAY 08:00", "not a weekday"),
        ("weekly", "MON 8h", "not a schedule"),
        ("monthly", "31 08:00", "from 1 to 28"),
        ("monthly", "1 24:00", "not a schedule"),
        ("yearly", "1 08:00", "not a schedule"),
    ],
)
def test_bad_schedules_are_one_line(kind: str, text: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(kind, text)
