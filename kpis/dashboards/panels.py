"""Grafana panels as plain dicts (stat, time series, bar gauge, row) on a 24-column grid."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kpis.catalogue import Kpi
from kpis.severity import Severity
from kpis.units import Currency

DATASOURCE_UID = "crmkpi-prometheus"
"""The uid of the Prometheus datasource in grafana/provisioning/datasources/."""
DATASOURCE = {"type": "prometheus", "uid": DATASOURCE_UID}
GRID_WIDTH = 24

# Every step list starts with a base colour; breaches take their severity's colour.
OK_COLOUR = "green"
NEUTRAL_COLOUR = "blue"
SEVERITY_COLOURS: dict[Severity, str] = {"critical": "red", "warning": "orange", "info": "yellow"}

Steps = list[dict[str, Any]]


def neutral_steps() -> Steps:
    return [{"color": NEUTRAL_COLOUR, "value": None}]


def goal_steps() -> Steps:
    """Attainment and pace: red under 80%, orange under 100%, green from 100%."""
    return [
        {"color": SEVERITY_COLOURS["critical"], "value": None},
        {"color": SEVERITY_COLOURS["warning"], "value": 0.8},
        {"color": OK_COLOUR, "value": 1.0},
    ]


@dataclass(frozen=True)
class Target:
    """One PromQL query of a panel."""

    expr: str
    legend: str = "__auto"
    instant: bool = False
    heatmap: bool = False

    def as_dict(self, ref_id: str) -> dict[str, Any]:
        target: dict[str, Any] = {
            "datasource": DATASOURCE,
            "refId": ref_id,
            "expr": self.expr,
            "legendFormat": self.legend,
            "range": not self.instant,
            "instant": self.instant,
        }
        if self.heatmap:
            target["format"] = "heatmap"
        return target


@dataclass
class Grid:
    """Places panels left to right, top to bottom, and numbers them."""

    panels: list[dict[str, Any]] = field(default_factory=list)
    x: int = 0
    y: int = 0
    line_height: int = 0

    def add(self, panel: dict[str, Any], width: int, height: int) -> None:
        if self.x + width > GRID_WIDTH:
            self.new_line()
        panel["id"] = len(self.panels) + 1
        panel["gridPos"] = {"h": height, "w": width, "x": self.x, "y": self.y}
        self.panels.append(panel)
        self.x += width
        self.line_height = max(self.line_height, height)

    def new_line(self) -> None:
        self.y += self.line_height
        self.x = 0
        self.line_height = 0

    def row(self, title: str) -> None:
        """A full-width row header."""
        self.new_line()
        self.add({"type": "row", "title": title, "collapsed": False, "panels": []}, GRID_WIDTH, 1)
        self.new_line()


def _field_defaults(unit: str, decimals: int, steps: Steps) -> dict[str, Any]:
    return {
        "unit": unit,
        "decimals": decimals,
        "color": {"mode": "thresholds"},
        "thresholds": {"mode": "absolute", "steps": steps},
    }


def kpi_unit(kpi: Kpi, currency: Currency) -> tuple[str, int]:
    """Grafana's unit id and decimals for the KPI's unit, amounts in `currency`."""
    unit = kpi.display(currency)
    return unit.grafana, unit.decimals


def _panel(
    kind: str, title: str, description: str, targets: list[Target], defaults: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": [target.as_dict(chr(ord("A") + n)) for n, target in enumerate(targets)],
        "fieldConfig": {"defaults": defaults, "overrides": []},
    }


_STAT_OPTIONS = {
    "orientation": "auto",
    "textMode": "value",
    "colorMode": "background",
    "graphMode": "area",  # the sparkline
    "justifyMode": "center",
    "wideLayout": True,
    "showPercentChange": False,
}
_BAR_OPTIONS = {
    "orientation": "horizontal",
    "displayMode": "gradient",
    "valueMode": "color",
    "showUnfilled": True,
    "namePlacement": "left",
}


def _last_value_panel(
    kind: str,
    title: str,
    description: str,
    target: Target | list[Target],
    unit: tuple[str, int],
    steps: Steps,
    options: dict[str, Any],
) -> dict[str, Any]:
    """A panel showing each series' last value."""
    targets = target if isinstance(target, list) else [target]
    panel = _panel(kind, title, description, targets, _field_defaults(*unit, steps))
    reduce = {"calcs": ["lastNotNull"], "fields": "", "values": False}
    panel["options"] = {"reduceOptions": reduce, **options}
    return panel


def stat(
    title: str,
    description: str,
    target: Target | list[Target],
    unit: tuple[str, int],
    steps: Steps,
    link: str | None = None,
) -> dict[str, Any]:
    """A big number coloured by the thresholds, with a sparkline of the time range (one per
    target: e.g. the current and the previous period)."""
    panel = _last_value_panel("stat", title, description, target, unit, steps, _STAT_OPTIONS)
    if link:
        panel["links"] = [{"title": "Details", "url": link}]
    return panel


def timeseries(
    title: str, description: str, targets: list[Target], unit: tuple[str, int], steps: Steps
) -> dict[str, Any]:
    """Lines over the time range; thresholds other than the base colour are dashed lines."""
    defaults = _field_defaults(*unit, steps)
    defaults["color"] = {"mode": "palette-classic"}
    defaults["custom"] = {
        "drawStyle": "line",
        "lineWidth": 2,
        "fillOpacity": 8,
        "showPoints": "never",
        "spanNulls": True,
        "thresholdsStyle": {"mode": "dashed" if len(steps) > 1 else "off"},
    }
    panel = _panel("timeseries", title, description, targets, defaults)
    panel["options"] = {
        "legend": {
            "displayMode": "table",
            "placement": "right",
            "calcs": ["lastNotNull"],
            "showLegend": True,
        },
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return panel


def bargauge(
    title: str, description: str, target: Target, unit: tuple[str, int], steps: Steps
) -> dict[str, Any]:
    """Current value per series as horizontal bars (one per dimension value or bucket)."""
    return _last_value_panel("bargauge", title, description, target, unit, steps, _BAR_OPTIONS)
