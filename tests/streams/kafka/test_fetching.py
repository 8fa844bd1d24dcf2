"""Live traffic in flight is not a backlog: reads are spaced only for a backlog."""

from __future__ import annotations

from streams.kafka.fetching import FETCH_RECORDS, backlogged


def test_a_lag_one_fetch_takes_is_not_a_backlog() -> None:
    assert not backlogged(0)
    assert not backlogged(FETCH_RECORDS)  # live traffic in flight: reads are not spaced


def test_a_lag_beyond_one_fetch_or_unknown_is_a_backlog() -> None:
    assert backlogged(FETCH_RECORDS + 1)
    assert backlogged(None)  # the broker did not answer: spaced, as while catching up
