"""Tile states from the thresholds file: which shown value crosses a line, and how badly.

The page shows values as they are now, so it evaluates the comparisons that need
nothing but the current snapshot: `below`, `above` and `idle` (every window of a
KPI is in the snapshot). `drop`, `drop_percent` and quantile thresholds compare
with history or histograms that Prometheus keeps; their alerts come from there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal

from kpis.thresholds import Threshold

State = Literal["ok", "warning", "breach"]
STATE_ORDER: tuple[State, ...] = ("ok", "warning", "breach")
STATE_OF_SEVERITY: dict[str, State] = {
    "critical": "breach",
    "warning": "warning",
    "info": "warning",
}
EVALUATED = frozenset({"below", "above", "idle"})

# dimension value ("" for the overall series) -> value, for one KPI in one window
SeriesValues = Mapping[str, float | None]


def worst(states: list[State]) -> State:
    """The most severe of `states` (`ok` for none)."""
    return max(states, key=STATE_ORDER.index, default="ok")


def evaluated_here(threshold: Threshold) -> bool:
    """Whether the page can judge this threshold from one snapshot."""
    return threshold.comparison in EVALUATED and threshold.quantile is None


def _crossed(threshold: Threshold, value: float | None, earlier: float | None) -> bool:
    if threshold.comparison == "idle":
        return not value and bool(earlier)
    if value is None or threshold.value is None:
        return False
    if threshold.comparison == "below":
        return value < threshold.value
    return value > threshold.value


def _applies_on(threshold: Threshold, watermark_us: int | None) -> bool:
    if not threshold.business_days:
        return True
    if watermark_us is None:
        return False
    return datetime.fromtimestamp(watermark_us / 1e6, UTC).weekday() < 5


def _matching(threshold: Threshold, names: list[str]) -> list[str]:
    """The series a threshold watches: the overall one, or the matching dimension values."""
    if threshold.dimension is None:
        return [""]
    (pattern,) = threshold.dimension.values()
    anchored = re.compile(f"(?:{pattern})\\Z")  # Prometheus label matchers are anchored
    return [name for name in names if name and anchored.match(name)]


def series_states(
    thresholds: tuple[Threshold, ...],
    kpi: str,
    window: str,
    by_window: Mapping[str, SeriesValues],
    watermark_us: int | None,
) -> dict[str, State]:
    """State of each series of `kpi` in `window` ("" is overall) that some threshold crosses."""
    values = by_window.get(window, {})
    states: dict[str, list[State]] = {}
    for threshold in thresholds:
        if threshold.kpi != kpi or threshold.window != window or not evaluated_here(threshold):
            continue
        if not _applies_on(threshold, watermark_us):
            continue
        earlier = by_window.get(threshold.over or "", {})
        names = sorted({*values, *earlier})
        for name in _matching(threshold, names):
            if _crossed(threshold, values.get(name), earlier.get(name)):
                states.setdefault(name, []).append(STATE_OF_SEVERITY[threshold.severity])
    return {name: worst(found) for name, found in states.items()}
