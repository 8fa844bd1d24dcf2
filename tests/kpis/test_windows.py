"""Bucket math of KPIS.md "Time" and "Previous and calendar windows"."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kpis.ledger import ACCEPTED_KEY, Ledger, minute_pair, pair_key
from kpis.snapshot import summarize
from kpis.windows import (
    DAY_US,
    DAY_WINDOW,
    HOUR_US,
    HOUR_WINDOW,
    LOCAL_DAY_US,
    MINUTE_US,
    MONTH_TO_DATE,
    MONTH_WINDOW,
    PREVIOUS_WINDOWS,
    QUARTER_DAYS,
    QUARTER_TO_DATE,
    RETAINED_BUCKETS,
    WEEK_WINDOW,
    WINDOWS,
    LocalDays,
    local_day,
)

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


def test_prev_windows_are_the_buckets_just_before_their_window() -> None:
    for prev, window in zip(PREVIOUS_WINDOWS, (DAY_WINDOW, WEEK_WINDOW, MONTH_WINDOW), strict=True):
        assert prev.name == f"prev_{window.name}"
        assert prev.bucket_us == window.bucket_us
        assert prev.last_bucket(T) == window.first_bucket(T) - 1
        assert prev.first_bucket(T) == window.first_bucket(T) - window.buckets
        assert prev.end_us(T) == window.start_us(T)
        assert prev.contains(prev.start_us(T), T)
        assert not prev.contains(prev.start_us(T) - 1, T)
        assert prev.contains(window.start_us(T) - 1, T)
        assert not prev.contains(window.start_us(T), T)
    assert MONTH_WINDOW.end_us(T) is None


def micros(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp()) * 1_000_000


def test_a_local_day_starts_at_local_midnight() -> None:
    kathmandu = ZoneInfo("Asia/Kathmandu")  # UTC+5:45
    april_first = (date(2026, 4, 1) - date(1970, 1, 1)).days
    assert local_day(micros("2026-03-31T18:15:00+00:00"), kathmandu) == april_first
    assert local_day(micros("2026-03-31T18:15:00+00:00") - 1, kathmandu) == april_first - 1
    new_york = ZoneInfo("America/New_York")
    # Midnight of March 9 is in summer time (04:00Z), of March 8 in winter time (05:00Z).
    march_ninth = (date(2026, 3, 9) - date(1970, 1, 1)).days
    assert local_day(micros("2026-03-09T04:00:00+00:00"), new_york) == march_ninth
    assert local_day(micros("2026-03-09T04:00:00+00:00") - 1, new_york) == march_ninth - 1
    assert local_day(micros("2026-03-08T05:00:00+00:00"), new_york) == march_ninth - 1


def test_a_local_day_goes_on_through_an_hour_repeated_from_the_previous_date() -> None:
    # Casey went from +11 to +8 at 02:00 on 2010-03-05: 23:00-01:59 came again, 23:00-23:59
    # dated March 4. Those instants follow March 5's midnight: they belong to March 5.
    casey = ZoneInfo("Antarctica/Casey")
    midnight = micros("2010-03-04T13:00:00+00:00")
    march_fifth = (date(2010, 3, 5) - date(1970, 1, 1)).days
    assert local_day(midnight - 1, casey) == march_fifth - 1
    assert local_day(midnight, casey) == march_fifth
    assert local_day(micros("2010-03-04T15:30:00+00:00"), casey) == march_fifth


def test_calendar_windows_start_at_the_local_month_and_quarter() -> None:
    zone = ZoneInfo("Asia/Kolkata")  # UTC+5:30
    watermark = micros("2026-05-14T09:00:00+00:00")
    assert MONTH_TO_DATE.start_us(watermark, zone) == micros("2026-04-30T18:30:00+00:00")
    assert QUARTER_TO_DATE.start_us(watermark, zone) == micros("2026-03-31T18:30:00+00:00")
    may_first = (date(2026, 5, 1) - date(1970, 1, 1)).days
    assert MONTH_TO_DATE.first_bucket(watermark, zone) == may_first
    assert MONTH_TO_DATE.last_bucket(watermark, zone) == may_first + 13
    assert MONTH_TO_DATE.end_us(watermark, zone) is None
    assert MONTH_TO_DATE.contains(micros("2026-04-30T18:30:00+00:00"), watermark, zone)
    assert not MONTH_TO_DATE.contains(micros("2026-04-30T18:30:00+00:00") - 1, watermark, zone)


def test_the_ledger_keeps_every_bucket_a_window_reads() -> None:
    zone = ZoneInfo("America/New_York")
    ledger = Ledger(zone)
    # 22:00 on September 30 in New York, October 1 in UTC: the longest quarter, July to
    # September (92 days), begins 92 days before the UTC date.
    watermark = micros("2026-10-01T02:00:00+00:00")
    ledger.advance_watermark(watermark)
    quarter_first = QUARTER_TO_DATE.first_bucket(watermark, zone)
    assert quarter_first == watermark // DAY_US - QUARTER_DAYS
    oldest = {
        MINUTE_US: PREVIOUS_WINDOWS[0].first_bucket(watermark),
        HOUR_US: PREVIOUS_WINDOWS[2].first_bucket(watermark),
        LOCAL_DAY_US: quarter_first,
    }
    for bucket_us, first in oldest.items():
        ledger.add(("a", "", bucket_us, first), 1)
        ledger.add(("a", "", bucket_us, first - 1), 1)
    ledger.prune()
    assert sorted(ledger.values) == sorted(("a", "", size, first) for size, first in oldest.items())


def test_pruning_by_the_expiry_index_drops_what_a_scan_of_every_part_would() -> None:
    """Parts made, dropped at zero, made again and restored: each prune leaves the parts
    whose bucket a window still reads, and takes the removals of those written before."""
    rng = random.Random(5)
    ledger = Ledger()
    taken: dict[tuple[str, str, int, int], int] = {}  # as the checkpoints hold them
    t_us = micros("2026-01-01T00:00:00+00:00")
    for step in range(3000):
        t_us += rng.randrange(0, 6 * HOUR_US)
        ledger.advance_watermark(t_us)
        back = rng.randrange(0, 40 * DAY_US)
        size = rng.choice((MINUTE_US, HOUR_US, LOCAL_DAY_US))
        key = ("a", rng.choice("xyz"), size, (t_us - back) // size)
        ledger.add(key, rng.choice((1, -1)))
        if step % 7 == 0:
            ledger.restore([(("b", "", HOUR_US, (t_us - back) // HOUR_US), 2)])
        if step % 50 == 0:
            ledger.prune()
            cutoffs = {size: ledger._cutoff(size) for size in RETAINED_BUCKETS}
            assert all(key[3] > cutoffs[key[2]] for key in ledger.values)
            taken.update(ledger.take_changes())
            held = {key: value for key, value in taken.items() if value}
            # What the checkpoints say is every part held but the restored ones (never taken).
            assert {k: v for k, v in held.items() if k[0] == "a"} == {
                k: v for k, v in ledger.values.items() if k[0] == "a"
            }


def test_window_sums_of_deferred_adds_equal_the_sums_of_the_events_each_window_holds() -> None:
    """`add_windowed` adds wait until the parts are read: the window sums, live and restored
    from the changes taken, are those of the events each window contains, recomputed here."""
    zone = ZoneInfo("America/New_York")
    rng = random.Random(11)
    ledger, taken = Ledger(zone), {}
    added: list[tuple[str, str, int, int]] = []  # part, dimension value, time, amount
    watermark = micros("2026-01-01T00:00:00+00:00")
    for step in range(1, 2001):
        watermark += rng.randrange(0, 3 * HOUR_US)
        t_us = watermark - rng.choice((0, MINUTE_US, DAY_US, 30 * DAY_US, 120 * DAY_US))
        t_us -= rng.randrange(0, 2 * HOUR_US)
        part, value, amount = rng.choice("ab"), rng.choice("xy"), rng.choice((1, -1, 3))
        ledger.add_windowed(part, value, t_us, amount)
        ledger.advance_watermark(watermark)
        added.append((part, value, t_us, amount))
        if step % 13 == 0:
            ledger.prune()
        if step % 7 == 0:
            taken.update(ledger.take_changes())
        if step % 50 == 0:
            restored = Ledger(zone)
            restored.restore(taken.items())
            restored.advance_watermark(watermark)
            for window in WINDOWS:
                expected: dict[str, dict[str, int]] = {}
                for part, value, t_us, amount in added:
                    if window.contains(t_us, watermark, zone):
                        by_value = expected.setdefault(part, {})
                        by_value[value] = by_value.get(value, 0) + amount
                assert _nonzero(_summed(ledger, watermark, window.name)) == _nonzero(expected)
                if step % 7 == 0:  # every change taken
                    assert _summed(restored, watermark, window.name) == _summed(
                        ledger, watermark, window.name
                    )


def test_deferred_adds_to_buckets_expired_meanwhile_make_no_part() -> None:
    """A catch-up adds to minute buckets that expire before its batch ends: never made."""
    ledger = Ledger()
    start = micros("2026-01-01T00:00:00+00:00")
    for minute in range(0, 5 * 1440, 7):
        ledger.add_windowed("a", "", start + minute * MINUTE_US, 1)
        ledger.advance_watermark(start + minute * MINUTE_US)
    cutoff = ledger.watermark_us // MINUTE_US - RETAINED_BUCKETS[MINUTE_US]  # type: ignore[operator]
    made = sorted(key[3] for key, _ in ledger.take_changes() if key[2] == MINUTE_US)
    first = start // MINUTE_US
    assert made == [first + m for m in range(0, 5 * 1440, 7) if first + m > cutoff]


def test_accepted_events_are_counted_at_every_read_and_taken_once() -> None:
    """`accept` defers its count: values, take_changes and prune all see it, once."""
    ledger = Ledger()
    start = micros("2026-01-01T00:00:00+00:00")
    for n in range(3):
        ledger.accept(start - n * MINUTE_US)
    assert ledger.watermark_us == start
    assert ledger.values[ACCEPTED_KEY] == 3
    ledger.accept(start + MINUTE_US)
    assert (ledger.take_changes(), ledger.watermark_us) == ([(ACCEPTED_KEY, 4)], start + MINUTE_US)
    assert ledger.take_changes() == []
    ledger.accept(start)
    ledger.prune()
    assert ledger.take_changes() == [(ACCEPTED_KEY, 5)]


def _summed(ledger: Ledger, watermark: int, window: str) -> dict[str, dict[str, int]]:
    return summarize(ledger.values, watermark, zone=ledger.zone).windowed[window]


def _nonzero(sums: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    kept = {part: {v: n for v, n in by_value.items() if n} for part, by_value in sums.items()}
    return {part: by_value for part, by_value in kept.items() if by_value}


def test_a_pair_of_minutes_is_one_key() -> None:
    for pair in [(0, 0), (29_000_000, 29_100_000), (-1_000_000_000, 4), (5, -7)]:
        assert minute_pair(pair_key(*pair)) == pair


@pytest.mark.parametrize(
    "zone", ["UTC", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe", "Antarctica/Casey"]
)
def test_local_days_remembered_by_span_agree_with_local_day(zone: str) -> None:
    rng = random.Random(zone)
    days, tz = LocalDays(ZoneInfo(zone)), ZoneInfo(zone)
    start = micros("2025-01-01T00:00:00+00:00")
    moments = sorted(start + rng.randrange(0, 2 * 366 * 86_400_000_000) for _ in range(3000))
    moments += [
        start + rng.randrange(0, 2 * 366 * 86_400_000_000) for _ in range(1000)
    ]  # any order
    for day in range(2 * 366):  # each local midnight and the microseconds around it, in order
        on = date(2025, 1, 1) + timedelta(days=day)
        midnight = int(datetime(on.year, on.month, on.day, tzinfo=tz).timestamp() * 1_000_000)
        moments += [midnight - 1, midnight, midnight + 1]
    for moment in moments:
        assert days.day_of(moment) == local_day(moment, tz), moment
