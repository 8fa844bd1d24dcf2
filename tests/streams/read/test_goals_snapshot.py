"""Goals in a time zone with a DST change: `/kpis` goals and `/metrics` targets and periods
equal what the reference's series give, with the period computed here from the calendar."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from prometheus_client.parser import text_string_to_metric_families

from kpis.engine import PartitionState
from kpis.goals import parse_goals
from kpis.ledger import Ledger
from streams.read.exposition import render
from streams.read.snapshot_reader import Snapshot, SnapshotReader
from streams.read.store import MemoryStore, Position
from streams.simulate import simulate_history
from tests.reference import Reference, compute_reference

NOW = datetime(2026, 12, 1, tzinfo=UTC)
ZONE = "America/New_York"
# Ends 2026-03-20, mid-quarter and just after New York's change to summer time (March 8).
START, DAYS = datetime(2026, 2, 1, tzinfo=UTC), 47
GOALS = """
goals:
  - {kpi: won_amount, window: qtd, target: 900000}
  - {kpi: won_amount, window: qtd, dimension: {rep: rep-01}, target: 60000}
  - {kpi: won_amount, window: qtd, dimension: {rep: rep-99}, target: 60000}
  - {kpi: won_amount, window: mtd, dimension: {rep: rep-07}, target: 30000}
  - {kpi: rep_activities, window: mtd, dimension: {rep: rep-02}, target: 150}
  - {kpi: csat, window: mtd, dimension: {team: emea}, target: 0.85}
  - {kpi: customer_acquisition_cost, window: 30d, dimension: {channel: web}, target: 400}
  - {kpi: resolution_time_hours, window: qtd, target: 12}
"""
ADDITIVE = {"won_amount", "rep_activities"}
LOWER = {"customer_acquisition_cost", "resolution_time_hours"}


async def monitor_snapshot(lines: Sequence[str]) -> Snapshot:
    zone = ZoneInfo(ZONE)
    state = PartitionState(ledger=Ledger(zone))
    for line in lines:
        state.apply_raw(line.encode(), int(NOW.timestamp() * 1_000_000))
        state.offset += 1
    state.ledger.prune()
    store = MemoryStore()
    position = Position(state.offset, watermark_us=state.ledger.watermark_us)
    await store.publish("crm.events:0", position, state.ledger.take_changes(), True)
    snapshot, _ = await SnapshotReader(store, zone, parse_goals(GOALS)).read(None, 1.0)
    return snapshot


def period(watermark: datetime, months: int) -> tuple[datetime, datetime]:
    """The local calendar month (quarter) containing the watermark, from the zone's rules."""
    zone = ZoneInfo(ZONE)
    local = watermark.astimezone(zone)
    first = local.month - (local.month - 1) % months
    start = datetime(local.year, first, 1, tzinfo=zone)
    after = first + months
    end = datetime(local.year + (after > 12), (after - 1) % 12 + 1, 1, tzinfo=zone)
    return start, end


def expected_goals(reference: Reference) -> list[dict[str, object]]:
    watermark = reference.watermark
    assert watermark is not None
    expected = []
    for goal in parse_goals(GOALS):
        key = (goal.kpi, goal.window, tuple(sorted(goal.labels.items())))
        value = reference.series.get(key, 0.0 if goal.kpi in ADDITIVE else None)
        if value is None or (goal.kpi in LOWER and value == 0):
            attained = None
        else:
            attained = goal.target / value if goal.kpi in LOWER else value / goal.target
        entry: dict[str, object] = {"kpi": goal.kpi, "window": goal.window, "value": value}
        entry |= {"labels": goal.labels, "target": goal.target, "attainment": attained}
        entry["direction"] = "lower" if goal.kpi in LOWER else "higher"
        if goal.kpi in ADDITIVE and goal.window in ("mtd", "qtd"):
            start, end = period(watermark, 3 if goal.window == "qtd" else 1)
            # Real seconds: aware datetimes of one zone subtract as wall clocks, across DST too.
            start_s, end_s = start.timestamp(), end.timestamp()
            elapsed = (watermark.timestamp() - start_s) / (end_s - start_s)
            entry["pace"] = None if attained is None else attained / elapsed
        expected.append(entry)
    return expected


def close(got: object, want: object) -> bool:
    if isinstance(want, float) and isinstance(got, float):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)
    return got == want


async def test_goals_equal_the_reference_mid_quarter_in_new_york() -> None:
    lines = list(simulate_history(11, DAYS, start=START, scale=0.2))
    snapshot = await monitor_snapshot(lines)
    reference = compute_reference(lines, NOW, timezone=ZONE)
    goals = snapshot.to_json()["goals"]
    expected = expected_goals(reference)
    assert isinstance(goals, list) and len(goals) == len(expected)
    for got, want in zip(goals, expected, strict=True):
        assert got.keys() == want.keys(), want
        assert all(close(got[key], want[key]) for key in want), (got, want)
    # The history has won deals this quarter, and rep-99 none: 0, not null.
    assert expected[0]["value"] and expected[2]["value"] == 0.0
    assert expected[0]["pace"] is not None


async def test_metrics_export_the_targets_and_the_local_periods() -> None:
    lines = list(simulate_history(11, DAYS, start=START, scale=0.2))
    snapshot = await monitor_snapshot(lines)
    text = render(snapshot, {}).decode()
    samples = [
        sample for family in text_string_to_metric_families(text) for sample in family.samples
    ]
    targets = {
        tuple(sorted((k, v) for k, v in s.labels.items() if v)): s.value
        for s in samples
        if s.name == "crmkpi_goal_target"
    }
    # Labels: kpi, window and the goal's dimension only (empty dimension labels are absent).
    assert targets == {
        tuple(sorted({"kpi": g.kpi, "window": g.window, **g.labels}.items())): g.target
        for g in parse_goals(GOALS)
    }
    watermark = compute_reference(lines, NOW, timezone=ZONE).watermark
    assert watermark is not None
    start, end = period(watermark, 3)
    bounds = {
        (s.name, s.labels["window"]): s.value
        for s in samples
        if s.name.startswith("crmkpi_period_")
    }
    assert bounds[("crmkpi_period_start_timestamp_seconds", "qtd")] == start.timestamp()
    assert bounds[("crmkpi_period_end_timestamp_seconds", "qtd")] == end.timestamp()
    assert start.date() == date(2026, 1, 1) and end.date() == date(2026, 4, 1)
