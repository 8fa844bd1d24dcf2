"""Recording rules of goals: attainment of every goal, pace of the additive ones, from the
recorded KPI series and the targets crmkpi exports (`crmkpi_goal_target`).

The rules are generated from the catalogue, not from the goals file: a goal added to the
file is recorded as soon as crmkpi exports its target. Attainment is `value / target`
(better higher) or `target / value` (better lower, no sample at 0); pace divides the
attainment of an additive KPI over `mtd` / `qtd` by the elapsed fraction of its period,
from the period bounds crmkpi exports (they follow `CRMKPI_TIMEZONE`).
"""

from __future__ import annotations

from typing import Any

from kpis import metric_names as m
from kpis.catalogue import CATALOGUE, HIGHER, Kpi
from kpis.recording_rules import recorded_name
from kpis.windows import CALENDAR_WINDOWS

GOALS_GROUP = "crmkpi.goals"
ELAPSED_SECONDS = "window:crmkpi_period_elapsed:seconds"
ELAPSED_RATIO = "window:crmkpi_period_elapsed:ratio"
ATTAINMENT = "goal:crmkpi_goal_attainment:ratio"
PACE = "goal:crmkpi_goal_pace:ratio"


def _attainment(kpi: Kpi, per_dimension: bool) -> str:
    on = ", ".join(("window", *((kpi.dimension,) if per_dimension else ())))
    operator = "!=" if per_dimension else "="
    target = f'max by ({on}) ({m.GOAL_TARGET}{{kpi="{kpi.name}", {kpi.dimension}{operator}""}})'
    value = recorded_name(kpi, per_dimension)
    if kpi.better == HIGHER:
        return f"{value} / on ({on}) {target}"
    return f"{target} / on ({on}) ({value} > 0)"


def _attainment_rule(kpi: Kpi) -> dict[str, Any]:
    """One rule per KPI (its `kpi` label), overall and per dimension value."""
    expression = f"{_attainment(kpi, False)} or {_attainment(kpi, True)}"
    return {"record": ATTAINMENT, "expr": expression, "labels": {"kpi": kpi.name}}


def goal_rules() -> list[dict[str, Any]]:
    """The period's elapsed time, each KPI's attainment (overall, per value), then pace."""
    start, end = f"max by (window) ({m.PERIOD_START})", f"max by (window) ({m.PERIOD_END})"
    rules: list[dict[str, Any]] = [
        {
            "record": ELAPSED_SECONDS,
            "expr": f"max({m.WATERMARK}) - on () group_right () {start}",
        },
        {"record": ELAPSED_RATIO, "expr": f"{ELAPSED_SECONDS} / on (window) ({end} - {start})"},
    ]
    rules += [_attainment_rule(kpi) for kpi in CATALOGUE]
    additive = "|".join(kpi.name for kpi in CATALOGUE if kpi.additive)
    calendar = "|".join(CALENDAR_WINDOWS)
    attained = f'{ATTAINMENT}{{kpi=~"{additive}", window=~"{calendar}"}}'
    rules.append(
        {
            "record": PACE,
            "expr": f"{attained} / on (window) group_left () ({ELAPSED_RATIO} > 0)",
        }
    )
    return rules


def goal_recording_rules() -> dict[str, Any]:
    """The goals group, a file of its own beside the KPIs' recording rules."""
    return {"groups": [{"name": GOALS_GROUP, "rules": goal_rules()}]}
