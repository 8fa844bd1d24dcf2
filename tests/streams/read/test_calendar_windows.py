"""Previous and calendar windows in a time zone: the monitor's reads equal the reference."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from kpis.engine import PartitionState
from kpis.ledger import Ledger
from streams.read.snapshot_reader import SnapshotReader
from streams.read.store import MemoryStore, Position
from streams.simulate import simulate_history
from tests.kpis.test_reference import calendar_cases, prev_30d_retention_case, prev_boundary_case
from tests.reference import compare_snapshot, compute_reference

NOW = datetime(2026, 12, 1, tzinfo=UTC)


async def mismatches(lines: Sequence[str], timezone: str) -> list[str]:
    """Apply `lines` to a partition bucketing in `timezone`, read them as the worker's
    readers do, and compare every series with the reference."""
    zone = ZoneInfo(timezone)
    state = PartitionState(ledger=Ledger(zone))
    for line in lines:
        state.apply_raw(line.encode(), int(NOW.timestamp() * 1_000_000))
        state.offset += 1
    state.ledger.prune()  # as the worker does: no window may miss a pruned bucket
    store = MemoryStore()
    position = Position(state.offset, watermark_us=state.ledger.watermark_us)
    await store.publish("crm.events:0", position, state.ledger.take_changes(), True)
    snapshot, _ = await SnapshotReader(store, zone).read(None, 1.0)
    reference = compute_reference(lines, NOW, timezone=timezone)
    assert {entry.window for entry in snapshot.kpis} >= {"prev_30d", "mtd", "qtd"}
    return compare_snapshot(reference, snapshot.to_json())


@pytest.mark.parametrize(
    ("start", "days", "timezone"),
    [
        # Ends 2026-05-14, mid-quarter: prev_30d reaches back into the previous quarter.
        (datetime(2026, 3, 25, tzinfo=UTC), 50, "UTC"),
        # Ends 2026-03-20: mtd and qtd span New York's change to summer time (March 8).
        (datetime(2026, 2, 1, tzinfo=UTC), 47, "America/New_York"),
        # Ends 2026-05-10 in a zone 5:45 ahead of UTC.
        (datetime(2026, 3, 20, tzinfo=UTC), 51, "Asia/Kathmandu"),
    ],
)
async def test_a_simulated_history_equals_the_reference_in_every_window(
    start: datetime, days: int, timezone: str
) -> None:
    lines = list(simulate_history(11, days, start=start, scale=0.2))
    assert await mismatches(lines, timezone) == []


@pytest.mark.parametrize("timezone", ["America/New_York", "Asia/Kathmandu", "Asia/Kolkata"])
async def test_events_at_the_local_month_start_equal_the_reference(timezone: str) -> None:
    for lines in calendar_cases(timezone):
        assert await mismatches(lines, timezone) == []


async def test_prev_window_boundaries_and_retention_equal_the_reference() -> None:
    assert await mismatches(prev_boundary_case(), "UTC") == []
    assert await mismatches(prev_30d_retention_case(), "UTC") == []
