"""Which earlier read may answer a reader at once: one saying the worker is behind, whose
store health is still the health now."""

from __future__ import annotations

from typing import Any

import pytest

from kpis.churn import ChurnRules
from streams.read.snapshot_cache import LastGoodSnapshot
from streams.read.snapshot_reader import ReadResult, Snapshot


def read(lag: int | None, stale_since: float | None = None) -> ReadResult:
    return Snapshot(None, lag, 0, {}, [], [], {}, stale_since=stale_since), {}


def cache(store_stale_since: float | None) -> LastGoodSnapshot:
    unused: Any = None  # the check reads neither the store nor the broker
    return LastGoodSnapshot(unused, unused, 1.0, ChurnRules(), lambda: store_stale_since)


@pytest.mark.parametrize(
    ("lag", "read_stale", "store_stale", "expected"),
    [
        (5, None, None, True),  # behind, the store reachable then and now
        (5, 10.0, 12.0, True),  # behind, missing changes then and now
        (0, None, None, False),  # caught up: a newer read could say otherwise
        (None, None, None, False),  # the lag unknown
        (5, None, 12.0, False),  # the store went down since the read
        (5, 10.0, None, False),  # the store is back since the read
    ],
)
def test_still_behind(
    lag: int | None, read_stale: float | None, store_stale: float | None, expected: bool
) -> None:
    assert cache(store_stale).still_behind(read(lag, read_stale)) is expected
