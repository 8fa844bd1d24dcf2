"""The goals file: validation one line per mistake, attainment by direction, pace by the
elapsed share of a calendar period in the configured time zone."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kpis.catalogue import CATALOGUE, KPIS_BY_NAME
from kpis.goals import (
    DEFAULT_GOALS_FILE,
    Goal,
    GoalsError,
    attainment,
    elapsed_fraction,
    pace,
    parse_goals,
    progress,
    read_goals,
)
from kpis.snapshot import KpiValue

PARIS = ZoneInfo("Europe/Paris")
QUOTA = "  - {kpi: won_amount, window: qtd, dimension: {rep: rep-01}, target: 120000}\n"


def us(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000


def error_of(entry: str) -> str:
    with pytest.raises(GoalsError) as caught:
        parse_goals("goals:\n" + QUOTA + entry)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_the_default_file_holds_the_readmes_kinds_of_goal() -> None:
    goals = read_goals()
    kinds = {(g.kpi, g.window, *(g.dimension or {})) for g in goals}
    assert ("won_amount", "qtd", "rep") in kinds
    assert ("csat", "mtd", "team") in kinds
    assert ("customer_acquisition_cost", "30d", "channel") in kinds
    assert all(
        g.catalogue_kpi.better == "lower" for g in goals if g.kpi == "customer_acquisition_cost"
    )
    assert DEFAULT_GOALS_FILE.name == "goals.yaml"


def test_every_kpi_declares_its_direction() -> None:
    lower = {kpi.name for kpi in CATALOGUE if kpi.better == "lower"}
    assert lower == {
        "customer_acquisition_cost",
        "resolution_time_hours",
        "churn_rate",
        "sales_cycle_days",
    }
    assert {kpi.better for kpi in CATALOGUE} == {"higher", "lower"}


def test_unknown_kpi_names_the_entry_and_suggests_the_closest() -> None:
    message = error_of("  - {kpi: won_amout, window: qtd, target: 1}\n")
    assert message == (
        "goals.yaml: entry 2 (won_amout qtd): unknown KPI 'won_amout' (did you mean 'won_amount'?)"
    )


def test_unknown_window_suggests_one_of_the_kpis_windows() -> None:
    message = error_of("  - {kpi: csat, window: qdt, target: 0.85}\n")
    assert message.startswith(
        "goals.yaml: entry 2 (csat qdt): unknown window 'qdt' for csat (did you mean 'qtd'?)"
    )


def test_dimension_must_be_the_kpis_dimension() -> None:
    message = error_of("  - {kpi: csat, window: mtd, dimension: {rep: a}, target: 0.85}\n")
    assert message == (
        "goals.yaml: entry 2 (csat mtd): dimension: csat is broken down by 'team', not 'rep'"
    )


def test_target_must_be_a_positive_number() -> None:
    assert "target: Input should be greater than 0" in error_of(
        "  - {kpi: csat, window: mtd, target: 0}\n"
    )
    assert "target: Input should be a valid number" in error_of(
        "  - {kpi: csat, window: mtd, target: high}\n"
    )


def test_missing_and_unknown_fields_are_named() -> None:
    assert error_of("  - {kpi: csat, window: mtd}\n").endswith("target: Field required")
    assert error_of("  - {kpi: csat, window: mtd, target: 1, goal: 2}\n").endswith(
        "goal: unknown field"
    )


def test_the_same_series_twice_is_refused() -> None:
    message = error_of(QUOTA.replace("120000", "130000"))
    assert message.endswith("a goal for the same series is defined above")


def test_bad_yaml_and_bad_shapes_are_one_line() -> None:
    with pytest.raises(GoalsError, match=r"^goals.yaml: line \d+: not valid YAML$"):
        parse_goals("goals: [")
    with pytest.raises(GoalsError, match="goals: expected a list of entries"):
        parse_goals("goals: {kpi: csat}")
    with pytest.raises(GoalsError, match="entry 1: expected a mapping"):
        parse_goals("goals: [csat]")


def test_an_unreadable_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(GoalsError, match="cannot read"):
        read_goals(tmp_path / "missing.yaml")


def test_attainment_is_value_over_target_or_target_over_value() -> None:
    csat, cac = KPIS_BY_NAME["csat"], KPIS_BY_NAME["customer_acquisition_cost"]
    assert attainment(csat, 0.8, 0.85) == 0.8 / 0.85
    assert attainment(cac, 500.0, 400.0) == 0.8  # lower is better: 400 / 500
    assert attainment(cac, 200.0, 400.0) == 2.0
    assert attainment(cac, 0.0, 400.0) is None  # no spend per customer: undefined, not infinite
    assert attainment(csat, None, 0.85) is None


def test_elapsed_fraction_counts_real_time_in_the_zone_across_dst() -> None:
    # Paris leaves summer time on 2026-10-25: October is 31 days and one hour long.
    start = datetime(2026, 10, 1, tzinfo=PARIS)
    watermark = datetime(2026, 10, 26, 0, tzinfo=PARIS)  # 25 days and one hour after start
    month_seconds = 31 * 86400 + 3600
    assert elapsed_fraction("mtd", us(watermark), PARIS) == (25 * 86400 + 3600) / month_seconds
    # The quarter runs to 2027-01-01 local midnight: 92 days and one hour.
    quarter_seconds = 92 * 86400 + 3600
    assert elapsed_fraction("qtd", us(watermark), PARIS) == (
        (us(watermark) - us(start)) / 1e6 / quarter_seconds
    )
    assert elapsed_fraction("mtd", us(start), PARIS) == 0.0
    assert elapsed_fraction("qtd", None, PARIS) is None


def test_the_period_is_the_local_one_not_utc() -> None:
    # 2026-03-31T23:30Z is already April 1st in Paris: the second quarter has just begun.
    watermark = datetime(2026, 4, 1, 1, 30, tzinfo=PARIS)
    assert elapsed_fraction("qtd", us(watermark), PARIS) == pytest.approx(1.5 * 3600 / (91 * 86400))
    assert elapsed_fraction("qtd", us(watermark), ZoneInfo("UTC")) == pytest.approx(
        1 - 0.5 * 3600 / (90 * 86400)
    )


def test_pace_is_attainment_over_the_elapsed_fraction() -> None:
    assert pace(0.4, 0.5) == 0.8
    assert pace(None, 0.5) is None
    assert pace(0.1, 0.0) is None  # the very start of a period


def snapshot_values() -> list[KpiValue]:
    return [
        KpiValue("won_amount", "qtd", {}, 200_000.0),
        KpiValue("won_amount", "qtd", {"rep": "rep-01"}, 60_000.0),
        KpiValue("csat", "mtd", {"team": "emea"}, 0.81),
        KpiValue("customer_acquisition_cost", "30d", {"channel": "web"}, 500.0),
    ]


def test_progress_reports_value_attainment_pace_and_direction() -> None:
    goals = parse_goals(
        "goals:\n"
        + QUOTA
        + "  - {kpi: won_amount, window: qtd, dimension: {rep: rep-09}, target: 50000}\n"
        + "  - {kpi: csat, window: mtd, dimension: {team: emea}, target: 0.9}\n"
        + "  - {kpi: csat, window: mtd, dimension: {team: apac}, target: 0.9}\n"
        + "  - {kpi: customer_acquisition_cost, window: 30d, dimension: {channel: web},"
        + " target: 400}\n"
    )
    # Half of the fourth quarter in Paris: 2026-11-15T12:00 is 45.5 days and one hour in.
    watermark = us(datetime(2026, 11, 15, 12, tzinfo=PARIS))
    elapsed = (45.5 * 86400 + 3600) / (92 * 86400 + 3600)
    quota, idle_rep, emea, apac, cac = (
        entry.to_json() for entry in progress(goals, snapshot_values(), watermark, PARIS)
    )
    assert quota == {
        "kpi": "won_amount",
        "window": "qtd",
        "labels": {"rep": "rep-01"},
        "target": 120000.0,
        "value": 60000.0,
        "attainment": 0.5,
        "direction": "higher",
        "pace": pytest.approx(0.5 / elapsed),
    }
    # A rep without a won deal this quarter has won 0, not nothing.
    assert (idle_rep["value"], idle_rep["attainment"], idle_rep["pace"]) == (0.0, 0.0, 0.0)
    assert emea["attainment"] == 0.81 / 0.9 and "pace" not in emea  # a ratio: no pace
    assert (apac["value"], apac["attainment"]) == (None, None)  # no responses: null
    assert (cac["attainment"], cac["direction"]) == (0.8, "lower")


def test_goal_labels_are_its_dimension() -> None:
    goal = Goal(kpi="won_amount", window="qtd", dimension={"rep": "rep-01"}, target=1.0)
    assert goal.labels == {"rep": "rep-01"} and goal.has_pace
    assert not Goal(kpi="won_amount", window="30d", target=1.0).has_pace


def test_on_track_is_a_pace_or_else_an_attainment_of_at_least_one() -> None:
    goals = parse_goals(
        "goals:\n"
        + QUOTA
        + "  - {kpi: csat, window: mtd, dimension: {team: emea}, target: 0.81}\n"
        + "  - {kpi: csat, window: mtd, dimension: {team: apac}, target: 0.9}\n"
        + "  - {kpi: customer_acquisition_cost, window: 30d, dimension: {channel: web},"
        + " target: 400}\n"
    )
    # A third of the way into Q4 (UTC): rep-01's 50 % of the quota is ahead of pace.
    watermark = us(datetime(2026, 10, 31, tzinfo=ZoneInfo("UTC")))
    quota, emea, apac, cac = progress(goals, snapshot_values(), watermark)
    assert quota.attainment == 0.5 and quota.on_track is True
    assert emea.attainment == 1.0 and emea.on_track is True  # met exactly
    assert apac.on_track is None  # no value: neither
    assert cac.attainment == 0.8 and cac.on_track is False  # dearer than the target
