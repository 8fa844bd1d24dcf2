"""Bucket math of KPIS.md "Time"."""

from __future__ import annotations

from kpis.windows import DAY_WINDOW, HOUR_WINDOW, MINUTE_US, MONTH_WINDOW, WEEK_WINDOW

T = 1_772_357_400_000_000 + 30 * 1_000_000  # 2026-03-01T09:30:30Z


def test_window_sizes_are_those_of_the_spec() -> None:
    assert (HOUR_WINDOW.bucket_us, HOUR_WINDOW.buckets) == (60_000_000, 60)
    assert (DAY_WINDOW.bucket_us, DAY_WINDOW.buckets) == (60_000_000, 1440)
    assert (WEEK_WINDOW.bucket_us, WEEK_WINDOW.buckets) == (3_600_000_000, 168)
    assert (MONTH_WINDOW.bucket_us, MONTH_WINDOW.buckets) == (3_600_000_000, 720)


def test_the_window_starts_at_the_oldest_bucket_it_holds() -> None:
    # bucket(T) is 09:30; 60 buckets back to 08:31 inclusive.
    start = HOUR_WINDOW.start_us(T)
    assert start == T - 30 * 1_000_000 - 59 * MINUTE_US
    assert HOUR_WINDOW.contains(start, T)
    assert not HOUR_WINDOW.contains(start - 1, T)


def test_the_hour_window_of_an_hourly_bucket_starts_on_the_hour() -> None:
    start = WEEK_WINDOW.start_us(T)
    assert start % 3_600_000_000 == 0
    assert WEEK_WINDOW.contains(start, T)
    assert not WEEK_WINDOW.contains(start - 1, T)
