"""A producer judges `duplicate` only where the worker surely would, and forgets old ids."""

from __future__ import annotations

from kpis.retention import DAY_US
from streams.kafka.sent_ids import SentIds

G = 35 * DAY_US


def test_a_repeat_within_the_grace_period_is_duplicate_an_older_one_is_left_to_the_worker() -> None:
    ids = SentIds(G)
    assert not ids.is_duplicate("a", 0)
    ids.add("a", 0)
    ids.add("b", 30 * DAY_US)
    assert ids.is_duplicate("a", 0)  # W - G is before day 0
    assert not ids.is_duplicate("c", 0)
    ids.add("c", 36 * DAY_US)
    assert not ids.is_duplicate("a", 0)  # past W - G: `too_late` for the worker, or not
    assert not ids.is_duplicate("a", 36 * DAY_US)  # its first event is past W - G
    assert ids.is_duplicate("b", 30 * DAY_US)
    ids.add("a", 36 * DAY_US)  # sent on, and kept from then
    assert ids.is_duplicate("a", 36 * DAY_US)
    assert ids.times.keys() == {"a", "b", "c"}


def test_ids_older_than_the_grace_period_are_dropped_once_a_day() -> None:
    ids = SentIds(G)
    for day in range(100):
        ids.add(f"e{day}", day * DAY_US)
    assert ids.times.keys() == {f"e{day}" for day in range(64, 100)}
