"""The scorecard's content: every catalogue KPI as a tile, from one snapshot.

A board is plain JSON data, so the server can compare two boards and push only
the tiles that changed; the page formats the numbers as each KPI's unit says.
A goal shows in the window it is set for: on the tile for the overall series,
in the breakdown for a team, rep, channel or segment.
"""

from __future__ import annotations

from typing import Any

from kpis.catalogue import CATALOGUE, Kpi
from kpis.goals import GoalProgress
from kpis.severity import worst
from kpis.thresholds import Threshold
from kpis.units import Currency
from kpis.windows import PREVIOUS_OF
from streams.http.scorecard.states import Judge, SeriesValues, state_of
from streams.read.snapshot_reader import Snapshot

GROUPS = ("Sales pipeline", "Sales team", "Customer satisfaction", "Marketing", "Customers")
CHURN_GROUP = "Customer satisfaction"

Board = dict[str, Any]
# kpi -> window -> dimension value ("" is overall) -> value
ValuesByKpi = dict[str, dict[str, dict[str, float | None]]]
# kpi -> window -> dimension value ("" is overall) -> the goal's progress, as the page shows it
GoalsByKpi = dict[str, dict[str, dict[str, dict[str, Any]]]]


def kpi_values(snapshot: Snapshot) -> ValuesByKpi:
    """The snapshot's series arranged by KPI, window and dimension value."""
    arranged: ValuesByKpi = {kpi.name: {window: {} for window in kpi.windows} for kpi in CATALOGUE}
    for series in snapshot.kpis:
        name = next(iter(series.labels.values()), "")
        arranged.setdefault(series.kpi, {}).setdefault(series.window, {})[name] = series.value
    return arranged


def goal_view(entry: GoalProgress) -> dict[str, Any]:
    """What the page shows of a goal: target, attainment, pace where it applies, on track."""
    view = {"target": entry.goal.target, "attainment": entry.attainment}
    if entry.goal.has_pace:
        view["pace"] = entry.pace
    return view | {"on_track": entry.on_track}


def goal_views(goals: list[GoalProgress]) -> tuple[GoalsByKpi, ValuesByKpi]:
    """The goals' views, and their series' values (a rep with a quota and nothing won yet
    has a goal but no series), arranged by KPI, window and dimension value."""
    views: GoalsByKpi = {}
    values: ValuesByKpi = {}
    for entry in goals:
        goal = entry.goal
        name = next(iter(goal.labels.values()), "")
        views.setdefault(goal.kpi, {}).setdefault(goal.window, {})[name] = goal_view(entry)
        values.setdefault(goal.kpi, {}).setdefault(goal.window, {})[name] = entry.value
    return views, values


def _bar_order(item: tuple[str, float | None]) -> tuple[bool, float, str]:
    name, value = item
    return (value is None, -(value or 0.0), name)


def _change(value: float | None, before: float | None) -> float | None:
    return None if value is None or before is None else value - before


def _window_view(
    judge: Judge,
    kpi: Kpi,
    window: str,
    by_window: dict[str, SeriesValues],
    goals: dict[str, dict[str, Any]],
    goal_values: SeriesValues,
) -> dict[str, Any]:
    """The window's value, state, goal and breakdown, each with its change against the
    period just before the window (`delta`, None where there is none). A goal's dimension
    value without a series is listed with its goal's value; the thresholds judge only the
    snapshot's series, as Prometheus does."""
    values = {**goal_values, **by_window.get(window, {})}
    before = by_window.get(PREVIOUS_OF.get(window, ""), {})
    severities = judge.severities(kpi.name, window, by_window)
    bars = sorted(((name, v) for name, v in values.items() if name), key=_bar_order)
    return {
        "value": values.get(""),
        "delta": _change(values.get(""), before.get("")),
        "state": state_of(worst(severities.values())),
        "goal": goals.get(""),
        "breakdown": [
            [
                name,
                value,
                state_of(severities.get(name)),
                _change(value, before.get(name)),
                goals.get(name),
            ]
            for name, value in bars
        ],
    }


def tiles(snapshot: Snapshot, thresholds: tuple[Threshold, ...]) -> dict[str, Any]:
    """kpi -> window -> {value, delta, state, goal, breakdown}; a tile's state is its worst
    series'."""
    arranged = kpi_values(snapshot)
    goal_by_kpi, goal_values = goal_views(snapshot.goals)
    judge = Judge(thresholds, snapshot.watermark_us)
    by_kpi: dict[str, Any] = {}
    for kpi in CATALOGUE:
        by_window: dict[str, SeriesValues] = dict(arranged[kpi.name])
        goals_of, goal_values_of = goal_by_kpi.get(kpi.name, {}), goal_values.get(kpi.name, {})
        by_kpi[kpi.name] = {
            window: _window_view(
                judge,
                kpi,
                window,
                by_window,
                goals_of.get(window, {}),
                goal_values_of.get(window, {}),
            )
            for window in kpi.windows
        }
    return by_kpi


def catalogue(currency: Currency) -> list[dict[str, Any]]:
    """What the page needs to lay out the tiles, in catalogue order, amounts in `currency`."""
    return [
        {
            "name": kpi.name,
            "title": kpi.title,
            "description": kpi.description,
            "unit": kpi.unit,
            "format": kpi.display(currency).page_format(),
            "better": kpi.better,
            "dimension": kpi.dimension,
            "windows": list(kpi.windows),
            "group": kpi.group,
        }
        for kpi in CATALOGUE
    ]


def build_board(snapshot: Snapshot, thresholds: tuple[Threshold, ...]) -> Board:
    """The live part of the page: tiles; watermark, lag and event counts; churn risk."""
    document = snapshot.to_json()
    return {
        "tiles": tiles(snapshot, thresholds),
        "status": {
            "watermark": document["watermark"],
            "lag": snapshot.lag,
            "accepted": snapshot.accepted,
            "rejected": snapshot.rejected,
            "stale_since": document.get("stale_since"),
        },
        "churn": document["churn_risk"],
    }


def changes(before: Board | None, after: Board) -> Board:
    """The parts of `after` that differ from `before`: whole tiles, status, churn."""
    if before is None:
        return after
    changed: Board = {}
    tiles_changed = {
        name: tile for name, tile in after["tiles"].items() if before["tiles"].get(name) != tile
    }
    if tiles_changed:
        changed["tiles"] = tiles_changed
    for key in ("status", "churn"):
        if before[key] != after[key]:
            changed[key] = after[key]
    return changed
