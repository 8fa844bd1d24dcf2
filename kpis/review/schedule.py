"""When reviews are due: `weekly: "MON 08:00"`, `monthly: "1 08:00"` in CRMKPI_TIMEZONE.

Each scheduled instant names the period it reviews: a weekly review sent in ISO week
2026-W10 is `weekly:2026-W10`, a monthly one sent in March 2026 is `monthly:2026-03`. The
reporter sends a review whose latest scheduled instant has passed and whose period id
differs from the one it last recorded as sent, so a restart neither sends twice nor skips
one that fell due while it was down.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
KIND_PERIOD = {"weekly": "week", "monthly": "month"}
"""A schedule's kind and the review period it sends."""
_SPEC = re.compile(r"^\s*(\S+)\s+([01]?\d|2[0-3]):([0-5]\d)\s*$")


class ScheduleError(ValueError):
    """A schedule that cannot be read; the message is one line."""


@dataclass(frozen=True)
class Schedule:
    """One kind (`weekly`, `monthly`) at a day (weekday 0-6 or day of month 1-28) and time."""

    kind: str
    day: int
    hour: int
    minute: int

    def latest(self, now: datetime, zone: ZoneInfo) -> datetime:
        """The last scheduled instant at or before `now` (aware), in `zone`."""
        local = now.astimezone(zone)
        if self.kind == "weekly":
            monday = local.date() - timedelta(days=local.weekday())
            day = monday + timedelta(days=self.day)
            candidate = self._at(day.year, day.month, day.day, zone)
            if candidate > now:
                earlier = day - timedelta(days=7)
                candidate = self._at(earlier.year, earlier.month, earlier.day, zone)
            return candidate
        candidate = self._at(local.year, local.month, self.day, zone)
        if candidate > now:
            year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
            candidate = self._at(year, month, self.day, zone)
        return candidate

    def _at(self, year: int, month: int, day: int, zone: ZoneInfo) -> datetime:
        return datetime(year, month, day, self.hour, self.minute, tzinfo=zone)

    def period_id(self, instant: datetime) -> str:
        """`weekly:2026-W10` or `monthly:2026-03`: what a review sent at `instant` is."""
        if self.kind == "weekly":
            year, week, _ = instant.isocalendar()
            return f"weekly:{year}-W{week:02d}"
        return f"monthly:{instant.year}-{instant.month:02d}"

    @property
    def period(self) -> str:
        return KIND_PERIOD[self.kind]


def parse_schedule(kind: str, text: str) -> Schedule:
    """`MON 08:00` (weekly) or `1 08:00` (monthly, days 1 to 28: every month has them)."""
    match = _SPEC.match(text)
    if kind not in KIND_PERIOD or match is None:
        raise ScheduleError(f"review.{kind}: {text!r} is not a schedule like 'MON 08:00'")
    day_text, hour, minute = match.groups()
    if kind == "weekly":
        if day_text.upper() not in WEEKDAYS:
            raise ScheduleError(f"review.weekly: {day_text!r} is not a weekday (MON ... SUN)")
        day = WEEKDAYS.index(day_text.upper())
    elif not day_text.isdigit() or not 1 <= int(day_text) <= 28:
        raise ScheduleError(f"review.monthly: {day_text!r} is not a day of the month from 1 to 28")
    else:
        day = int(day_text)
    return Schedule(kind, day, int(hour), int(minute))


def due(
    schedules: tuple[Schedule, ...], sent: set[str], now: datetime, zone: ZoneInfo
) -> list[tuple[Schedule, str]]:
    """The schedules whose latest period id is not among `sent`, with that id."""
    found = []
    for schedule in schedules:
        period_id = schedule.period_id(schedule.latest(now, zone))
        if period_id not in sent:
            found.append((schedule, period_id))
    return found
