"""Grafana threshold steps from the thresholds file: the colour a KPI value deserves.

Only level thresholds (`below`, `above`) become colours; `drop`, `drop_percent` and
`idle` compare against the past and show up as alert annotations instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from kpis.dashboards.panels import OK_COLOUR, SEVERITY_COLOURS, Steps, neutral_steps
from kpis.severity import worst
from kpis.thresholds import Threshold


def level_thresholds(
    thresholds: Sequence[Threshold],
    kpi: str,
    quantile: float | None = None,
    overall_only: bool = True,
) -> list[Threshold]:
    """The `below`/`above` thresholds of a KPI (or of one of its histogram quantiles)."""
    return [
        t
        for t in thresholds
        if t.kpi == kpi
        and t.comparison in ("below", "above")
        and t.quantile == quantile
        and (t.dimension is None or not overall_only)
    ]


def _colour(thresholds: Sequence[Threshold], value: float) -> str:
    severity = worst(t.severity for t in thresholds if t.crossed(value))
    return OK_COLOUR if severity is None else SEVERITY_COLOURS[severity]


def steps(thresholds: Sequence[Threshold]) -> Steps:
    """Absolute steps: each interval between limits coloured by its worst breach."""
    limits = sorted({t.value or 0.0 for t in thresholds})
    if not limits:
        return neutral_steps()
    # A value inside each interval decides its colour; Grafana applies a step from its value up.
    inside = [limits[0] - 1.0]
    inside += [(low + high) / 2 for low, high in pairwise(limits)]
    inside.append(limits[-1] + 1.0)
    result: Steps = [{"color": _colour(thresholds, inside[0]), "value": None}]
    for limit, probe in zip(limits, inside[1:], strict=True):
        result.append({"color": _colour(thresholds, probe), "value": limit})
    return result
