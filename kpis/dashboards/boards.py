"""The five dashboards: an overview of every KPI, and one per team that runs on them.

Which KPI goes where follows the catalogue's `group`, so a new catalogue entry
appears on the overview and on its team's dashboard without editing this file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kpis import catalogue as c
from kpis.catalogue import CATALOGUE, Kpi
from kpis.dashboards import queries as q
from kpis.dashboards.levels import level_thresholds, steps
from kpis.dashboards.panels import (
    DATASOURCE,
    GRID_WIDTH,
    Grid,
    Target,
    bargauge,
    goal_steps,
    kpi_unit,
    neutral_steps,
    stat,
    timeseries,
)
from kpis.dashboards.variables import dimension_variable, window_variable
from kpis.formulas import quantile_name
from kpis.goals import Goals
from kpis.thresholds import ThresholdsConfig
from kpis.windows import NOW

SCHEMA_VERSION = 41  # Grafana 12
TAGS = ["crmkpi"]
ALERT_QUANTILE = 0.9
AT_RISK_DESCRIPTION = (
    "Active customers with at least two distinct churn signals in the last 30 days: "
    "a detractor NPS, a CSAT of 1 or 2, a reopened ticket, a first resolution slower "
    "than its SLA, 3 or more tickets opened."
)


@dataclass(frozen=True)
class Board:
    """One dashboard: where it lives and which catalogue groups it shows."""

    uid: str
    slug: str
    title: str
    description: str
    groups: tuple[str, ...]
    file: str

    @property
    def kpis(self) -> list[Kpi]:
        return [kpi for kpi in CATALOGUE if kpi.group in self.groups]


SALES = Board(
    "crmkpi-sales",
    "sales",
    "CRM KPIs: Sales",
    "Pipeline, conversion, cycle, win rate, activities per rep and opportunity creation.",
    (c.SALES_PIPELINE, c.SALES_TEAM),
    "sales.json",
)
SERVICE = Board(
    "crmkpi-service",
    "service",
    "CRM KPIs: Service",
    "CSAT, NPS, resolution time and its distribution, first-contact resolution, churn signals.",
    (c.SATISFACTION,),
    "service.json",
)
MARKETING = Board(
    "crmkpi-marketing",
    "marketing",
    "CRM KPIs: Marketing",
    "Marketing conversion, customer acquisition cost and ROI per channel.",
    (c.MARKETING,),
    "marketing.json",
)
CUSTOMERS = Board(
    "crmkpi-customers",
    "customers",
    "CRM KPIs: Customers",
    "Active customers, MRR, retention, churn and lifetime value per segment.",
    (c.CUSTOMERS,),
    "customers.json",
)
TEAM_BOARDS = (SALES, SERVICE, MARKETING, CUSTOMERS)
# The overview's uid and slug are the `dashboard_url` of deploy/thresholds.yaml.
OVERVIEW = Board(
    "crmkpi",
    "crm-kpis",
    "CRM KPIs",
    "Every KPI of the catalogue at a glance, coloured by the thresholds file.",
    tuple(group for board in TEAM_BOARDS for group in board.groups),
    "overview.json",
)


def _link(board: Board) -> str:
    return f"/d/{board.uid}/{board.slug}?${{__url_time_range}}&${{window:queryparam}}"


def _title(kpi: Kpi) -> str:
    window = q.window_of(kpi)
    if window == NOW:
        return f"{kpi.title} (current)"
    return kpi.title if window.startswith("$") else f"{kpi.title} ({window})"


def _kpi_stat(
    kpi: Kpi, config: ThresholdsConfig, link: str | None = None, with_previous: bool = False
) -> dict[str, Any]:
    """The KPI's overall value; `with_previous`: the previous period's beside it."""
    targets = [Target(q.overall(kpi), legend="current")]
    description = kpi.description
    if with_previous and q.window_of(kpi).startswith("$"):
        targets.append(Target(q.previous(kpi), legend="previous"))
        description += " Beside it: the period before (prev_24h, prev_7d, prev_30d)."
    panel = stat(
        _title(kpi),
        description,
        targets,
        kpi_unit(kpi, config.currency),
        steps(level_thresholds(config.thresholds, kpi.name)),
        link,
    )
    if len(targets) > 1:
        panel["options"]["textMode"] = "value_and_name"  # which number is which period
    return panel


def _by_dimension(kpi: Kpi, config: ThresholdsConfig) -> dict[str, Any]:
    title = f"{_title(kpi)} by {kpi.dimension}"
    description = f"{kpi.description} One line per {kpi.dimension}."
    level = steps(level_thresholds(config.thresholds, kpi.name, overall_only=False))
    target = Target(q.by_dimension(kpi), legend=f"{{{{{kpi.dimension}}}}}")
    if kpi.dimension == "rep":  # many values: bars read better than lines
        target = Target(target.expr, target.legend, instant=True)
        return bargauge(title, description, target, kpi_unit(kpi, config.currency), level)
    return timeseries(title, description, [target], kpi_unit(kpi, config.currency), level)


def _goal_panels(grid: Grid, board_kpis: list[Kpi], goals: Goals) -> None:
    """Attainment of the goals of the board's KPIs, and pace where it applies: bars of every
    goal whatever the window shown (a quota is on its quarter); none without goals."""
    kpis = [kpi for kpi in board_kpis if any(goal.kpi == kpi.name for goal in goals)]
    if not kpis:
        return
    legend = "{{kpi}} {{window}} {{team}}{{rep}}{{channel}}{{segment}}"
    paced = [kpi for kpi in kpis if any(g.kpi == kpi.name and g.has_pace for g in goals)]
    width = GRID_WIDTH // 2 if paced else GRID_WIDTH
    grid.row("Goals")
    grid.add(
        bargauge(
            "Goal attainment",
            "Value / target of each goal of the goals file (target / value where lower is "
            "better): 100% meets it.",
            Target(q.goal_progress(kpis), legend=legend, instant=True),
            ("percentunit", 0),
            goal_steps(),
        ),
        width,
        8,
    )
    if paced:
        grid.add(
            bargauge(
                "Goal pace",
                "Attainment / elapsed share of the month or quarter: 100% is on track to "
                "meet the goal by the end of the period.",
                Target(q.goal_progress(paced, paced=True), legend=legend, instant=True),
                ("percentunit", 0),
                goal_steps(),
            ),
            width,
            8,
        )


def _resolution_panels(grid: Grid, config: ThresholdsConfig) -> None:
    (kpi,) = [kpi for kpi in SERVICE.kpis if kpi.quantiles]  # resolution time
    alert_steps = steps(level_thresholds(config.thresholds, kpi.name, ALERT_QUANTILE, False))
    quantiles = [
        Target(q.overall(kpi, quantile), legend=quantile_name(quantile))
        for quantile in kpi.quantiles
    ]
    grid.row("Resolution time")
    grid.add(
        timeseries(
            "Resolution time p50 / p90 / p99",
            "Quantiles of the hours from opening to first resolution of tickets first resolved "
            "in the window, from the resolution-time histogram (all teams).",
            quantiles,
            kpi_unit(kpi, config.currency),
            alert_steps,
        ),
        8,
        8,
    )
    grid.add(
        timeseries(
            "Resolution time p90 by team",
            "90 % of the tickets first resolved in the window took at most this long, per team.",
            [Target(q.by_dimension(kpi, ALERT_QUANTILE), legend="{{team}}")],
            kpi_unit(kpi, config.currency),
            alert_steps,
        ),
        8,
        8,
    )
    grid.add(
        bargauge(
            "Resolution-time histogram",
            "Tickets first resolved in the window within each bound (cumulative: 1 h, 4 h, "
            "8 h, 24 h, 48 h, 72 h, 168 h, all), for the selected teams.",
            Target(q.resolution_buckets(kpi.dimension), legend="{{le}}", instant=True),
            ("short", 0),
            neutral_steps(),
        ),
        8,
        8,
    )


def _churn_signal_panels(grid: Grid) -> None:
    grid.row("Churn signals")
    grid.add(
        stat(
            "Customers at risk",
            AT_RISK_DESCRIPTION,
            Target(q.at_risk_total(), legend="at risk"),
            ("short", 0),
            neutral_steps(),
        ),
        6,
        8,
    )
    grid.add(
        timeseries(
            "Customers at risk by segment",
            AT_RISK_DESCRIPTION,
            [Target(q.at_risk_by_segment(), legend="{{segment}}")],
            ("short", 0),
            neutral_steps(),
        ),
        18,
        8,
    )


def _annotations(kpis: list[Kpi]) -> dict[str, Any]:
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    alerts = {
        "datasource": DATASOURCE,
        "enable": True,
        "expr": q.firing_alerts([kpi.name for kpi in kpis]),
        "iconColor": "red",
        "name": "Firing KPI alerts",
        "step": "1m",
        "titleFormat": "{{alertname}}",
        "textFormat": "{{severity}}: {{kpi}} over {{window}}",
        "tagKeys": "severity,kpi",
        "useValueForTime": False,
    }
    return {"list": [builtin, alerts]}


def _dashboard(board: Board, grid: Grid, dimensions: list[str]) -> dict[str, Any]:
    variables = [window_variable(), *(dimension_variable(d) for d in dimensions)]
    return {
        "uid": board.uid,
        "title": board.title,
        "description": board.description,
        "tags": TAGS,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": False,
        "graphTooltip": 1,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "refresh": "1m",
        "time": {"from": "now-7d", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "weekStart": "",
        "annotations": _annotations(board.kpis),
        "links": [
            {
                "title": "CRM KPIs",
                "type": "dashboards",
                "tags": TAGS,
                "asDropdown": False,
                "includeVars": False,
                "keepTime": True,
            }
        ],
        "templating": {"list": variables},
        "panels": grid.panels,
    }


def overview(config: ThresholdsConfig) -> dict[str, Any]:
    """A stat per KPI, a row per team dashboard; each stat links to its team's dashboard."""
    grid = Grid()
    for board in TEAM_BOARDS:
        grid.row(board.title.removeprefix("CRM KPIs: "))
        for kpi in board.kpis:
            grid.add(_kpi_stat(kpi, config, _link(board)), 4, 5)
    return _dashboard(OVERVIEW, grid, [])


def team_dashboard(board: Board, config: ThresholdsConfig, goals: Goals) -> dict[str, Any]:
    """Overall stats, then each KPI per value of its dimension, and the board's extras."""
    grid = Grid()
    kpis = board.kpis
    grid.row("Overall")
    width = max(4, GRID_WIDTH // len(kpis))
    for kpi in kpis:
        grid.add(_kpi_stat(kpi, config, with_previous=True), width, 5)
    dimensions = list(dict.fromkeys(kpi.dimension for kpi in kpis))
    grid.row(f"By {', '.join(dimensions)}")
    for kpi in kpis:
        grid.add(_by_dimension(kpi, config), 12, 8)
    _goal_panels(grid, kpis, goals)
    if board is SERVICE:
        _resolution_panels(grid, config)
        _churn_signal_panels(grid)
        dimensions = list(dict.fromkeys([*dimensions, "segment"]))
    return _dashboard(board, grid, dimensions)


def dashboards(config: ThresholdsConfig, goals: Goals) -> dict[str, dict[str, Any]]:
    """Every dashboard, by file name under grafana/dashboards/."""
    result = {OVERVIEW.file: overview(config)}
    for board in TEAM_BOARDS:
        result[board.file] = team_dashboard(board, config, goals)
    return result
