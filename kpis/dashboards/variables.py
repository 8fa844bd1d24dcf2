"""Dashboard template variables: the window, and one multi-select per KPI dimension."""

from __future__ import annotations

from typing import Any

from kpis.dashboards.panels import DATASOURCE
from kpis.dashboards.queries import WINDOW_VARIABLE, dimension_values
from kpis.windows import WINDOWS

DEFAULT_WINDOW = "30d"
ALL_VALUE = ".+"  # every value of a dimension: per-dimension series never have an empty label


def _option(value: str, selected: bool) -> dict[str, Any]:
    return {"text": value, "value": value, "selected": selected}


def window_variable() -> dict[str, Any]:
    """The KPI window (KPIS.md), e.g. 30d, prev_30d or qtd; current-state KPIs ignore it."""
    names = [window.name for window in WINDOWS]
    return {
        "type": "custom",
        "name": WINDOW_VARIABLE,
        "label": "Window",
        "description": "The KPI window; current-state KPIs (pipeline, customers, MRR) ignore it.",
        "query": ",".join(names),
        "current": {"text": DEFAULT_WINDOW, "value": DEFAULT_WINDOW},
        "options": [_option(name, name == DEFAULT_WINDOW) for name in names],
        "multi": False,
        "includeAll": False,
        "hide": 0,
    }


def dimension_variable(dimension: str) -> dict[str, Any]:
    """The values of a dimension present in the recorded KPIs; all selected by default."""
    query = dimension_values(dimension)
    return {
        "type": "query",
        "name": dimension,
        "label": dimension.capitalize(),
        "datasource": DATASOURCE,
        "definition": query,
        "query": query,  # the classic string form: Grafana parses label_values(...)
        "current": {"text": ["All"], "value": ["$__all"]},
        "options": [],
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "multi": True,
        "includeAll": True,
        "allValue": ALL_VALUE,
        "hide": 0,
    }
