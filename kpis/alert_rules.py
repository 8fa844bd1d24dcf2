"""Alerting rules: one per threshold, reading the recorded KPI series, and the health alerts."""

from __future__ import annotations

import json
from typing import Any

from kpis import alert_text
from kpis.alert_text import shown_as
from kpis.goal_rules import ELAPSED_SECONDS, PACE
from kpis.health_rules import HEALTH_GROUP, health_rules
from kpis.recording_rules import recorded_name
from kpis.thresholds import FALLING, Threshold, ThresholdsConfig, duration_seconds
from kpis.units import Currency

ALERTING_GROUP = "crmkpi.alerts"


def _selector(threshold: Threshold, window: str | None = None) -> str:
    """The recorded series an alert reads, with its window and dimension matchers: the KPI's,
    or for `behind_pace` the pace of its goals (overall: the goal without a dimension)."""
    kpi = threshold.catalogue_kpi
    name = recorded_name(kpi, threshold.dimension is not None, threshold.quantile)
    matchers = [f'window="{window or threshold.window}"']
    if threshold.comparison == "behind_pace":
        name = PACE
        matchers.insert(0, f'kpi="{kpi.name}"')
        if threshold.dimension is None:
            matchers.append(f'{kpi.dimension}=""')
    for dimension, regex in (threshold.dimension or {}).items():
        matchers.append(f"{dimension}=~{json.dumps(regex)}")
    return f"{name}{{{', '.join(matchers)}}}"


def _measured(threshold: Threshold) -> str:
    """The PromQL of the value an alert quotes (`$value`) and compares with the threshold."""
    current = _selector(threshold)
    if threshold.comparison == "drop":
        return f"(({current} offset {threshold.over}) - {current})"
    if threshold.comparison == "drop_percent":
        earlier = f"({current} offset {threshold.over} > 0)"
        return f"(100 * (1 - {current} / {earlier}))"
    return current


def _idle(threshold: Threshold) -> str:
    """The PromQL of `idle`: active over the longer window, nothing in this one."""
    dimension = threshold.catalogue_kpi.dimension
    active = _selector(threshold, threshold.over)
    return f"({active} > 0) unless on ({dimension}) ({_selector(threshold)} > 0)"


def _recent_worst(threshold: Threshold, resolved_after: str) -> str:
    """The PromQL of the worst value of the last `resolved_after`: over the line while it is."""
    worst = "min_over_time" if threshold.comparison in FALLING else "max_over_time"
    measured = _measured(threshold)
    if threshold.comparison in {*FALLING, "above"}:
        return f"{worst}({measured}[{resolved_after}])"
    return f"{worst}({measured}[{resolved_after}:])"  # a subquery: a range cannot follow it


def alert_expression(threshold: Threshold, resolved_after: str) -> str:
    """The breaching series, and for `resolved_after` once back each one's value now.

    Alertmanager's resolved notice quotes the annotations of the last firing evaluation:
    holding the alert a little past recovery makes that evaluation read the recovered value.
    """
    if threshold.comparison == "idle":
        expression = _idle(threshold)
    else:
        operator = "<" if threshold.comparison in FALLING else ">"
        measured = _measured(threshold)
        recent = f"{_recent_worst(threshold, resolved_after)} {operator} {threshold.value!r}"
        expression = f"{measured} {operator} {threshold.value!r} or ({measured} and {recent})"
    if threshold.comparison == "behind_pace":
        elapsed = f'{ELAPSED_SECONDS}{{window="{threshold.window}"}}'
        after = duration_seconds(threshold.after or "0s")
        expression = f"({expression}) and on (window) ({elapsed} >= {after})"
    if threshold.business_days:
        expression = f"({expression}) and on () (day_of_week() > 0 < 6)"
    return expression


def _still_over(threshold: Threshold) -> str:
    """Go template condition: `$value` is over the line."""
    operator = "lt" if threshold.comparison in FALLING else "gt"
    return f"{operator} $value {float(threshold.value or 0.0)!r}"


def value_template(threshold: Threshold, currency: Currency) -> str:
    """Go template printing the alert's `$value` (`shown_as` in the tests renders it)."""
    unit, signed = shown_as(threshold, currency)
    return unit.value_template(signed)


def alert_annotations(
    threshold: Threshold, config: ThresholdsConfig, value: str, dim: str
) -> dict[str, str]:
    """The annotations while over the line, for `value` and dimension value `dim`; besides
    the texts, the parts a notification shows as fields."""
    runbook = config.runbook(threshold.runbook)
    runbook_key = "runbook_url" if runbook.startswith(("http://", "https://")) else "runbook"
    annotations = {
        "summary": alert_text.summary(threshold, config.currency, value, dim),
        "description": alert_text.description(threshold, config.currency, value, dim),
        runbook_key: runbook,
        "dashboard": config.links.dashboard,
        "scorecard": config.links.scorecard,
        "kpi_words": alert_text.kpi_words(threshold),
        "value": "0" if threshold.comparison == "idle" else value,
        "threshold": alert_text.threshold_words(threshold, config.currency),
    }
    dimension = threshold.catalogue_kpi.dimension
    whole = f"all {dimension}s"
    annotations["dimension"] = f"{dimension} {dim}" if threshold.dimension is not None else whole
    return annotations


def _before_template(threshold: Threshold, currency: Currency, resolved_after: str) -> str:
    """Go template printing the worst value of the last `resolved_after` of the alert's series:
    while held past recovery, the value just before it came back."""
    unit, signed = shown_as(threshold, currency)
    printed = unit.value_template(signed, of=".Value")
    query = f"{{{{ range query `{_recent_worst(threshold, resolved_after)}` }}}}"
    if threshold.dimension is not None:
        dimension = threshold.catalogue_kpi.dimension
        printed = f"{{{{ if eq .Labels.{dimension} $labels.{dimension} }}}}{printed}{{{{ end }}}}"
    return f"{query}{printed}{{{{ end }}}}"


def rule_annotations(threshold: Threshold, config: ThresholdsConfig) -> dict[str, str]:
    """Annotation templates that say what is true at each evaluation: over the line, or back."""
    value = value_template(threshold, config.currency)
    dim = f"{{{{ $labels.{threshold.catalogue_kpi.dimension} }}}}"
    firing = alert_annotations(threshold, config, value, dim)
    if threshold.comparison == "idle":
        return firing
    before = _before_template(threshold, config.currency, config.resolved_after)
    back = {
        "summary": alert_text.recovered_summary(threshold, config.currency, value, dim, before),
        "description": alert_text.recovered_description(
            threshold, config.currency, value, dim, before
        ),
    }
    condition = _still_over(threshold)
    for key, text in back.items():
        firing[key] = f"{{{{ if {condition} }}}}{firing[key]}{{{{ else }}}}{text}{{{{ end }}}}"
    return firing


def alerting_rule(threshold: Threshold, config: ThresholdsConfig) -> dict[str, Any]:
    kpi = threshold.catalogue_kpi
    return {
        "alert": threshold.alertname,
        "expr": alert_expression(threshold, config.resolved_after),
        "for": threshold.for_,
        "labels": {"severity": threshold.severity, "kpi": kpi.name, "window": threshold.window},
        "annotations": rule_annotations(threshold, config),
    }


def alerting_rules(config: ThresholdsConfig) -> dict[str, Any]:
    """One alerting rule per threshold, and the alerts on crmkpi's own health."""
    rules = [alerting_rule(threshold, config) for threshold in config.thresholds]
    return {
        "groups": [
            {"name": ALERTING_GROUP, "rules": rules},
            {"name": HEALTH_GROUP, "rules": health_rules(config.health, config.links)},
        ]
    }
