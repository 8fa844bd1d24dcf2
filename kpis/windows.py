"""Event-time windows of KPIS.md: bucket math relative to the watermark T.

Sliding windows (`1h` ... `30d`) and their previous periods (`prev_24h` ...) count
buckets of a fixed size back from T's bucket. Calendar windows (`mtd`, `qtd`) use
local-day buckets: the bucket of an event is its local calendar date in the
configured time zone (days since 1970-01-01), fixed when the event is applied, so
changing the time zone needs a replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

MINUTE_US = 60_000_000
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
LOCAL_DAY_US = DAY_US  # `x` of a local-day bucket: its nominal size
QUARTER_DAYS = 92  # the longest quarter

UTC_ZONE = ZoneInfo("UTC")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DATE = _EPOCH.date()


@lru_cache(maxsize=4096)  # every partition's ledger asks for the same days
def _local_midnight_us(day: date, zone: ZoneInfo) -> int:
    """The first instant of `day` in `zone`: local midnight, or the end of a gap that skips it."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
    return (midnight - _EPOCH) // timedelta(microseconds=1)


@lru_cache(maxsize=4096)  # an event writes several parts, and the watermark is asked often
def local_day(t_us: int, zone: ZoneInfo) -> int:
    """The bucket of `t_us` in local days: the last date whose local midnight is at or
    before it (its local date, except in an hour repeated after midnight), since 1970-01-01."""
    day = (_EPOCH + timedelta(microseconds=t_us)).astimezone(zone).date()
    following = day + timedelta(days=1)
    if _local_midnight_us(following, zone) <= t_us:
        day = following
    return (day - _EPOCH_DATE).days


class LocalDays:
    """`local_day` for one zone, remembering the span of the last day it found: events come
    in time order, so most fall in the day of the one before."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.utc = zone == UTC_ZONE  # local days are UTC days: no calendar to consult
        self.start_us = self.end_us = self.day = 0  # [start, end) is the remembered day

    def day_of(self, t_us: int) -> int:
        """`local_day(t_us, zone)`."""
        if self.start_us <= t_us < self.end_us:
            return self.day
        if self.utc:
            return t_us // DAY_US
        day = local_day(t_us, self.zone)
        midnight = _EPOCH_DATE + timedelta(days=day)
        self.start_us = _local_midnight_us(midnight, self.zone)
        self.end_us = _local_midnight_us(midnight + timedelta(days=1), self.zone)
        self.day = day
        return day


@dataclass(frozen=True)
class Window:
    """Buckets `first..last` of `bucket_us` microseconds at a watermark; the base class is
    a sliding window of `buckets` buckets ending `offset` buckets before T's bucket."""

    name: str
    bucket_us: int
    buckets: int
    offset: int = 0  # 0: ends at T; `buckets`: the previous period

    def bucket(self, t_us: int, zone: ZoneInfo = UTC_ZONE) -> int:
        """`bucket(t) = floor(unix_seconds(t) / g)`."""
        return t_us // self.bucket_us

    def first_bucket(self, watermark_us: int, zone: ZoneInfo = UTC_ZONE) -> int:
        """The oldest bucket inside the window: `bucket(T) - offset - n + 1`."""
        return self.last_bucket(watermark_us, zone) - self.buckets + 1

    def last_bucket(self, watermark_us: int, zone: ZoneInfo = UTC_ZONE) -> int:
        """The newest bucket inside the window: `bucket(T) - offset`."""
        return self.bucket(watermark_us, zone) - self.offset

    def start_us(self, watermark_us: int, zone: ZoneInfo = UTC_ZONE) -> int:
        """Where the window starts: `(bucket(T) - offset - n + 1) * g`."""
        return self.first_bucket(watermark_us, zone) * self.bucket_us

    def end_us(self, watermark_us: int, zone: ZoneInfo = UTC_ZONE) -> int | None:
        """Where the window ends (exclusive); None: it runs to T."""
        if not self.offset:
            return None
        return (self.last_bucket(watermark_us, zone) + 1) * self.bucket_us

    def contains(self, t_us: int, watermark_us: int, zone: ZoneInfo = UTC_ZONE) -> bool:
        """Whether an event at `t_us` (not after T) is in the window."""
        bucket = self.bucket(t_us, zone)
        return (
            self.first_bucket(watermark_us, zone) <= bucket <= self.last_bucket(watermark_us, zone)
        )


@dataclass(frozen=True)
class CalendarWindow(Window):
    """The calendar period of `buckets` months that contains T, in local days."""

    def bucket(self, t_us: int, zone: ZoneInfo = UTC_ZONE) -> int:
        return local_day(t_us, zone)

    def _first_day(self, watermark_us: int, zone: ZoneInfo) -> date:
        today = _EPOCH_DATE + timedelta(days=local_day(watermark_us, zone))
        month = today.month - (today.month - 1) % self.buckets
        return date(today.year, month, 1)

    def first_bucket(self, watermark_us: int, zone: ZoneInfo = UTC_ZONE) -> int:
        return (self._first_day(watermark_us, zone) - _EPOCH_DATE).days

    def start_us(self, watermark_us: int, zone: ZoneInfo = UTC_ZONE) -> int:
        return _local_midnight_us(self._first_day(watermark_us, zone), zone)

    def period_end_us(self, watermark_us: int, zone: ZoneInfo = UTC_ZONE) -> int:
        """Where the whole period containing T ends: the local midnight starting the next."""
        first = self._first_day(watermark_us, zone)
        months = first.month - 1 + self.buckets
        following = date(first.year + months // 12, months % 12 + 1, 1)
        return _local_midnight_us(following, zone)


HOUR_WINDOW = Window("1h", MINUTE_US, 60)
DAY_WINDOW = Window("24h", MINUTE_US, 1440)
WEEK_WINDOW = Window("7d", HOUR_US, 168)
MONTH_WINDOW = Window("30d", HOUR_US, 720)
_WITH_PREVIOUS = (DAY_WINDOW, WEEK_WINDOW, MONTH_WINDOW)
PREVIOUS_WINDOWS = tuple(
    Window(f"prev_{w.name}", w.bucket_us, w.buckets, w.buckets) for w in _WITH_PREVIOUS
)
PREVIOUS_OF = {w.name: p.name for w, p in zip(_WITH_PREVIOUS, PREVIOUS_WINDOWS, strict=True)}
"""The period just before a window, by the window's name: `24h` -> `prev_24h`."""
MONTH_TO_DATE = CalendarWindow("mtd", LOCAL_DAY_US, 1)
QUARTER_TO_DATE = CalendarWindow("qtd", LOCAL_DAY_US, 3)
CALENDAR_WINDOWS = {window.name: window for window in (MONTH_TO_DATE, QUARTER_TO_DATE)}

WINDOWS: tuple[Window, ...] = (
    HOUR_WINDOW,
    DAY_WINDOW,
    WEEK_WINDOW,
    MONTH_WINDOW,
    *PREVIOUS_WINDOWS,
    MONTH_TO_DATE,
    QUARTER_TO_DATE,
)
NOW = "now"
MONTH = MONTH_WINDOW.name  # CLV divides by the churn rate of this window

# Per bucket size, how many buckets back from `T // size` any window reads: older ones never
# are. A local date is at most one day before the UTC date: local days keep one more.
RETAINED_BUCKETS = {
    MINUTE_US: 2 * DAY_WINDOW.buckets,
    HOUR_US: 2 * MONTH_WINDOW.buckets,
    LOCAL_DAY_US: QUARTER_DAYS + 1,
}
