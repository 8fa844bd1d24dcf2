"""A tracked summary equals `summarize` of the current parts at the current watermark."""

from __future__ import annotations

import random
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from kpis import churn
from kpis import parts as p
from kpis.ledger import POINT, PartKey, pair_key
from kpis.snapshot import Summary, summarize
from kpis.tracked_summary import Change, TrackedSummary
from kpis.windows import DAY_US, HOUR_US, LOCAL_DAY_US, MINUTE_US, local_day

START_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
RULES = churn.ChurnRules()


def _random_key(rng: random.Random, watermark_us: int, zone: ZoneInfo) -> PartKey:
    """A part of any kind a partition holds, in buckets around the watermark."""
    t_us = watermark_us - rng.randrange(0, 100 * DAY_US) + rng.randrange(0, 2 * HOUR_US)
    value = rng.choice(["", "rep-1", "rep-2", "email", "ads"])
    customer = f"c{rng.randrange(6)}"
    kind = rng.randrange(10)
    if kind == 0:
        return (p.OPEN_PIPELINE_MICRO, value, POINT, 0)
    if kind == 1:  # gauges summed over point parts of several minutes
        return (p.ACTIVE_CUSTOMERS, value, POINT, rng.randrange(5))
    if kind == 2:
        return (p.CUSTOMERS_ACQUIRED, value, POINT, t_us // MINUTE_US)
    if kind == 3:
        minute = t_us // MINUTE_US
        return (p.CUSTOMERS_CHURNED, value, POINT, pair_key(minute - 5, minute))
    if kind == 4:
        size = rng.choice([MINUTE_US, HOUR_US])
        return (p.LEADS_CREATED, value, size, t_us // size)
    if kind == 5:
        return (p.WON_AMOUNT_MICRO, value, LOCAL_DAY_US, local_day(t_us, zone))
    if kind == 6:  # a bucket size no window reads
        return (p.ACTIVITIES, value, 7 * DAY_US, t_us // (7 * DAY_US))
    if kind == 7:
        signal = rng.choice([*churn.SIGNALS, "unknown"])
        return (churn.signal_part(signal), customer, HOUR_US, t_us // HOUR_US)
    if kind == 8:
        return (churn.TICKETS_OPENED_PART, customer, HOUR_US, t_us // HOUR_US)
    segment = rng.choice(["smb", "enterprise"])  # some customers in two: not additive
    return (churn.segment_part(segment), customer, POINT, 0)


def _comparable(summary: Summary) -> Summary:
    """Which segment a customer in two is named with is the order's: not compared."""
    if summary.churn is None or summary.churn.additive:
        return summary
    return replace(summary, churn=replace(summary.churn, segments={}))


@pytest.mark.parametrize("zone_name", ["UTC", "America/New_York", "Asia/Kathmandu"])
@pytest.mark.parametrize("seed", range(4))
def test_changes_and_moves_keep_the_summary_of_the_current_parts(zone_name: str, seed: int) -> None:
    rng, zone = random.Random(seed), ZoneInfo(zone_name)
    watermark: int | None = START_US
    values = {_random_key(rng, START_US, zone): rng.choice([1, 2, 5, -3]) for _ in range(300)}
    tracked = TrackedSummary(dict(values), watermark, RULES, zone)
    assert _comparable(tracked.summary) == _comparable(summarize(values, watermark, RULES, zone))
    for step in range(400):
        values = dict(values)
        changes: list[Change] = []
        for _ in range(rng.randrange(0, 12)):
            around = watermark if watermark is not None else START_US
            key = rng.choice([*values]) if values and rng.random() < 0.6 else None
            key = key or _random_key(rng, around, zone)
            old = values.get(key, 0)
            new = rng.choice([0, 0, 1, 3, -2, old + 1])
            if new == old:
                continue
            changes.append((key, old, new))
            if new:
                values[key] = new
            else:
                del values[key]
        tracked.apply(changes, values)
        if rng.random() < 0.3:  # mostly forward, by minutes to weeks; sometimes back or none
            jump = rng.choice([MINUTE_US, 17 * MINUTE_US, HOUR_US, DAY_US, 9 * DAY_US])
            if watermark is None or rng.random() < 0.95:
                watermark = (watermark or START_US) + rng.choice([1, 1, 1, -1]) * jump
            else:
                watermark = None
            tracked.move(watermark)
        expected = summarize(values, watermark, RULES, zone)
        assert _comparable(tracked.summary) == _comparable(expected), f"step {step}"
        assert tracked.summary.churn is not None and expected.churn is not None
        assert tracked.summary.churn.segments.keys() == expected.churn.segments.keys()


def test_a_sum_whose_parts_all_went_goes_even_when_others_summed_to_zero() -> None:
    """Which sums exist decides which dimension values a KPI lists: a sum of zero stays
    while parts add to it, and goes with its last part, as `summarize` has it."""
    key_a = (p.LEADS_CREATED, "rep-1", MINUTE_US, START_US // MINUTE_US)
    key_b = (p.LEADS_CREATED, "rep-1", MINUTE_US, START_US // MINUTE_US - 1)
    values = {key_a: 2, key_b: -2}
    tracked = TrackedSummary(dict(values), START_US, RULES)
    assert tracked.summary.windowed["1h"] == {p.LEADS_CREATED: {"rep-1": 0}}
    tracked.apply([(key_a, 2, 0)], {key_b: -2})
    assert tracked.summary.windowed["1h"] == {p.LEADS_CREATED: {"rep-1": -2}}
    tracked.apply([(key_b, -2, 0)], {})
    assert tracked.summary.windowed["1h"] == {}
    assert tracked.summary == summarize({}, START_US, RULES)
