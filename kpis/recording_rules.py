"""Recording rules: every KPI recomputed in Prometheus from the exported additive parts.

Each catalogue KPI is recorded overall (`window:crmkpi_csat:ratio`) and per dimension
value (`window_team:crmkpi_csat:ratio`) by its own formula's PromQL; current-state
KPIs carry `window="now"` as in `/kpis`. A zero denominator gives no sample (the KPI
is null), never NaN or Inf. A total over no parts is 0, as in `/kpis`: overall, where the
KPI's own gauge has a series (its parts are exported only once seen).
"""

from __future__ import annotations

from typing import Any

from kpis import metric_names as m
from kpis.catalogue import CATALOGUE, Kpi
from kpis.formulas import HistogramMean, Total, quantile_name
from kpis.promql import Sums

RECORDING_GROUP = "crmkpi.kpis"


def _sums(kpi: Kpi, per_dimension: bool, windowed: bool = True) -> Sums:
    return Sums(windowed, kpi.dimension if per_dimension else None)


def recorded_name(kpi: Kpi, per_dimension: bool, quantile: float | None = None) -> str:
    """`window:crmkpi_csat:ratio` (overall) or `window_team:crmkpi_csat:ratio`; or a quantile's."""
    operation = quantile_name(quantile) if quantile is not None else kpi.formula.operation
    return m.recorded(_sums(kpi, per_dimension).level, kpi.name, operation)


def _with_window(expression: str, window: str) -> str:
    return f'label_replace({expression}, "window", "{window}", "", "")'


def _kpi_rules(kpi: Kpi) -> list[dict[str, str]]:
    rules = []
    point_window = kpi.formula.point_window
    for per_dimension in (False, True):
        sums = _sums(kpi, per_dimension, point_window is None)
        expression = kpi.formula.promql(sums)
        if isinstance(kpi.formula, Total) and not per_dimension:
            expression = f"({expression} or 0 * {sums.of_family(kpi.metric)})"
        if point_window is not None:
            expression = _with_window(expression, point_window)
        rules.append({"record": recorded_name(kpi, per_dimension), "expr": expression})
    return rules


def _quantile_rules(kpi: Kpi) -> list[dict[str, str]]:
    formula = kpi.formula
    if not isinstance(formula, HistogramMean):
        return []
    return [
        {
            "record": recorded_name(kpi, per_dimension, quantile),
            "expr": formula.quantile_promql(quantile, _sums(kpi, per_dimension)),
        }
        for per_dimension in (False, True)
        for quantile in formula.quantiles
    ]


def recording_rules() -> dict[str, Any]:
    """Every KPI of the catalogue, overall and per dimension value, from the exported parts."""
    # A rule reads the others' results of the same evaluation in group order.
    ordered = sorted(CATALOGUE, key=lambda kpi: kpi.formula.reads_other_rules)
    rules = [rule for kpi in ordered for rule in _kpi_rules(kpi)]
    rules += [rule for kpi in CATALOGUE for rule in _quantile_rules(kpi)]
    return {"groups": [{"name": RECORDING_GROUP, "rules": rules}]}
