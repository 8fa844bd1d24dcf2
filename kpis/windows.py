"""Event-time windows of KPIS.md: bucket math relative to the watermark T."""

from __future__ import annotations

from dataclasses import dataclass

MINUTE_US = 60_000_000
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US


@dataclass(frozen=True)
class Window:
    """A sliding window of `buckets` buckets of `bucket_us` microseconds, ending at T's bucket."""

    name: str
    bucket_us: int
    buckets: int

    def bucket(self, t_us: int) -> int:
        """`bucket(t) = floor(unix_seconds(t) / g)`."""
        return t_us // self.bucket_us

    def first_bucket(self, watermark_us: int) -> int:
        """The oldest bucket inside the window: `bucket(T) - n + 1`."""
        return self.bucket(watermark_us) - self.buckets + 1

    def start_us(self, watermark_us: int) -> int:
        """Where the window starts: `(bucket(T) - n + 1) * g`."""
        return self.first_bucket(watermark_us) * self.bucket_us

    def contains(self, t_us: int, watermark_us: int) -> bool:
        """Whether an event at `t_us` is in the window: `bucket(t) > bucket(T) - n`."""
        return self.bucket(t_us) > self.bucket(watermark_us) - self.buckets


HOUR_WINDOW = Window("1h", MINUTE_US, 60)
DAY_WINDOW = Window("24h", MINUTE_US, 1440)
WEEK_WINDOW = Window("7d", HOUR_US, 168)
MONTH_WINDOW = Window("30d", HOUR_US, 720)

WINDOWS: tuple[Window, ...] = (HOUR_WINDOW, DAY_WINDOW, WEEK_WINDOW, MONTH_WINDOW)
NOW = "now"
MONTH = MONTH_WINDOW.name  # CLV divides by the churn rate of this window

# The longest window of each bucket size: buckets older than this are never read again.
RETAINED_BUCKETS = {MINUTE_US: DAY_WINDOW.buckets, HOUR_US: MONTH_WINDOW.buckets}
