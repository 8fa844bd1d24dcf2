"""PromQL of the dashboard panels: the recorded series of `kpis.rules`, filtered by variables.

Panels never recompute a KPI: they read `window:crmkpi_<kpi>:<op>` (overall) and
`window_<dimension>:crmkpi_<kpi>:<op>` (per dimension value), so a dashboard shows
exactly what the alerts watch.
"""

from __future__ import annotations

from kpis import metric_names as m
from kpis.catalogue import Kpi
from kpis.goal_rules import ATTAINMENT, PACE
from kpis.recording_rules import recorded_name
from kpis.windows import NOW

WINDOW_VARIABLE = "window"


def window_of(kpi: Kpi) -> str:
    """The window matcher value: the selected window, or the KPI's only window."""
    if kpi.windows == (NOW,):
        return NOW
    if len(kpi.windows) == 1:
        return kpi.windows[0]
    return f"${WINDOW_VARIABLE}"


def dimension_matcher(dimension: str) -> str:
    """Every selected value of the dimension's variable (`All` is `.+`)."""
    return f'{dimension}=~"${dimension}"'


def overall(kpi: Kpi, quantile: float | None = None) -> str:
    """The overall series of a KPI in the selected window."""
    return f'{recorded_name(kpi, False, quantile)}{{window="{window_of(kpi)}"}}'


def by_dimension(kpi: Kpi, quantile: float | None = None) -> str:
    """One series per selected value of the KPI's dimension."""
    matchers = f'window="{window_of(kpi)}", {dimension_matcher(kpi.dimension)}'
    return f"{recorded_name(kpi, True, quantile)}{{{matchers}}}"


def previous(kpi: Kpi) -> str:
    """The overall series in the period before the selected window (`prev_30d` of `30d`)."""
    return f'{recorded_name(kpi, False)}{{window="prev_{window_of(kpi)}"}}'


def goal_progress(kpis: list[Kpi], paced: bool = False) -> str:
    """Attainment (or pace) of every goal of some KPIs, in any window."""
    names = "|".join(kpi.name for kpi in kpis)
    return f'{PACE if paced else ATTAINMENT}{{kpi=~"{names}"}}'


def resolution_buckets(dimension: str) -> str:
    """Tickets per resolution-time bucket (cumulative `le`) of the selected window and teams."""
    matchers = f'window="${WINDOW_VARIABLE}", {dimension_matcher(dimension)}'
    return f"sum by (le) ({m.RESOLUTION_BUCKET}{{{matchers}}})"


def at_risk_by_segment() -> str:
    return f"sum by (segment) ({m.CUSTOMERS_AT_RISK}{{{dimension_matcher('segment')}}})"


def at_risk_total() -> str:
    return f"sum({m.CUSTOMERS_AT_RISK})"


def dimension_values(dimension: str) -> str:
    """Grafana's variable query: the values of a dimension in any recorded KPI series."""
    return f'label_values({{__name__=~"window_{dimension}:{m.PREFIX}.+"}}, {dimension})'


def firing_alerts(kpis: list[str]) -> str:
    """The firing alerts of some KPIs (Prometheus' ALERTS series), for annotations."""
    return f'ALERTS{{alertstate="firing", kpi=~"{"|".join(kpis)}"}}'
