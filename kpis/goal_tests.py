"""promtool unit tests of the goals' recording rules: attainment (higher and lower is better,
overall and per dimension value), no sample where it is undefined, and pace over a calendar
period of a non-UTC time zone, expected as `kpis.goals` computes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from kpis import metric_names as m
from kpis.catalogue import KPIS_BY_NAME
from kpis.goal_rules import ATTAINMENT, ELAPSED_RATIO, PACE
from kpis.goals import attainment, elapsed_fraction, pace, period_bounds
from kpis.recording_rules import recorded_name
from kpis.windows import CALENDAR_WINDOWS

ZONE = ZoneInfo("Europe/Paris")
# 2026-11-15 10:00 in Paris: qtd from 2026-10-01 (summer time) to 2027-01-01 (winter time).
WATERMARK = int(datetime(2026, 11, 15, 10, tzinfo=ZONE).timestamp())
STEP = "1m"

# (kpi, window, dimension value or None, value, target)
CASES = (
    ("won_amount", "qtd", None, 150_000.0, 400_000.0),
    ("won_amount", "qtd", "rep-01", 60_000.0, 120_000.0),
    ("rep_activities", "mtd", "rep-02", 90.0, 200.0),
    ("csat", "mtd", "emea", 0.81, 0.85),
    ("customer_acquisition_cost", "30d", "web", 500.0, 400.0),
    ("customer_acquisition_cost", "30d", "email", 0.0, 400.0),  # target / 0: no sample
)


def _labels(text: dict[str, str]) -> str:
    return "{" + ", ".join(f'{key}="{value}"' for key, value in text.items()) + "}"


def _input_series() -> list[dict[str, str]]:
    series = [{"series": m.WATERMARK, "values": f"{WATERMARK}x5"}]
    for name in CALENDAR_WINDOWS:
        start, end = (us // 1_000_000 for us in period_bounds(name, WATERMARK * 1_000_000, ZONE))
        series.append({"series": f'{m.PERIOD_START}{{window="{name}"}}', "values": f"{start}x5"})
        series.append({"series": f'{m.PERIOD_END}{{window="{name}"}}', "values": f"{end}x5"})
    for kpi_name, window, value_of_dimension, value, target in CASES:
        kpi = KPIS_BY_NAME[kpi_name]
        per_dimension = value_of_dimension is not None
        labels = {"window": window}
        if value_of_dimension is not None:
            labels[kpi.dimension] = value_of_dimension
        recorded = recorded_name(kpi, per_dimension)
        series.append({"series": recorded + _labels(labels), "values": f"{value!r}x5"})
        goal = _labels({"kpi": kpi_name, **labels})
        series.append({"series": m.GOAL_TARGET + goal, "values": f"{target!r}x5"})
    return series


def _expected() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    attained_samples, pace_samples = [], []
    for kpi_name, window, value_of_dimension, value, target in CASES:
        kpi = KPIS_BY_NAME[kpi_name]
        labels = {"kpi": kpi_name, "window": window}
        if value_of_dimension is not None:
            labels[kpi.dimension] = value_of_dimension
        attained = attainment(kpi, value, target)
        if attained is None:
            continue
        attained_samples.append({"labels": ATTAINMENT + _labels(labels), "value": attained})
        if kpi.additive and window in CALENDAR_WINDOWS:
            elapsed = elapsed_fraction(window, WATERMARK * 1_000_000, ZONE)
            paced = pace(attained, elapsed)
            pace_samples.append({"labels": PACE + _labels(labels), "value": paced})
    return attained_samples, pace_samples


def goal_tests(rule_file: str) -> dict[str, Any]:
    """promtool unit tests of the goals group of `rule_file`."""
    attained, paced = _expected()
    elapsed = [
        {
            "labels": ELAPSED_RATIO + _labels({"window": name}),
            "value": elapsed_fraction(name, WATERMARK * 1_000_000, ZONE),
        }
        for name in CALENDAR_WINDOWS
    ]
    return {
        "rule_files": [rule_file],
        "evaluation_interval": STEP,
        "tests": [
            {
                "name": "goals: attainment, pace and elapsed period (Europe/Paris, mid-quarter)",
                "interval": STEP,
                "input_series": _input_series(),
                "promql_expr_test": [
                    {"expr": ATTAINMENT, "eval_time": "2m", "exp_samples": attained},
                    {"expr": PACE, "eval_time": "2m", "exp_samples": paced},
                    {"expr": ELAPSED_RATIO, "eval_time": "2m", "exp_samples": elapsed},
                ],
            }
        ],
    }
