"""Alerting rules: one per threshold, reading the recorded KPI series, and the health alerts."""

from __future__ import annotations

import json
from typing import Any

from kpis.formulas import quantile_name
from kpis.health_rules import HEALTH_GROUP, health_rules
from kpis.recording_rules import recorded_name
from kpis.thresholds import Threshold, ThresholdsConfig
from kpis.units import PERCENT_CHANGE, Unit
from kpis.windows import NOW

ALERTING_GROUP = "crmkpi.alerts"


def _selector(threshold: Threshold, window: str | None = None) -> str:
    """The recorded series an alert reads, with its window and dimension matchers."""
    name = recorded_name(
        threshold.catalogue_kpi, threshold.dimension is not None, threshold.quantile
    )
    matchers = [f'window="{window or threshold.window}"']
    for dimension, regex in (threshold.dimension or {}).items():
        matchers.append(f"{dimension}=~{json.dumps(regex)}")
    return f"{name}{{{', '.join(matchers)}}}"


def alert_expression(threshold: Threshold) -> str:
    """The PromQL whose samples are the breaching series; `$value` is what the text quotes."""
    current = _selector(threshold)
    value = threshold.value
    if threshold.comparison == "below":
        expression = f"{current} < {value!r}"
    elif threshold.comparison == "above":
        expression = f"{current} > {value!r}"
    elif threshold.comparison == "drop":
        expression = f"({current} offset {threshold.over}) - {current} > {value!r}"
    elif threshold.comparison == "drop_percent":
        earlier = f"({current} offset {threshold.over} > 0)"
        expression = f"100 * (1 - {current} / {earlier}) > {value!r}"
    else:  # idle: active over the longer window, nothing in this one
        dimension = threshold.catalogue_kpi.dimension
        active = _selector(threshold, threshold.over)
        expression = f"({active} > 0) unless on ({dimension}) ({current} > 0)"
    if threshold.business_days:
        expression = f"({expression}) and on () (day_of_week() > 0 < 6)"
    return expression


def shown_as(threshold: Threshold) -> tuple[Unit, bool]:
    """The unit an alert's value and limit are written in, and whether with a sign.

    A drop is a positive difference (never signed); `drop_percent` compares in percent.
    """
    if threshold.comparison == "drop_percent":
        return PERCENT_CHANGE, False
    return threshold.catalogue_kpi.display, threshold.comparison != "drop"


def description(threshold: Threshold, value: str, dimension_value: str) -> str:
    """The notification text: KPI in words, window, dimension, value and threshold."""
    kpi = threshold.catalogue_kpi
    title = kpi.title
    if threshold.quantile is not None:
        title += f" {quantile_name(threshold.quantile)}"
    where = f" over {threshold.window}" if threshold.window != NOW else ""
    if threshold.dimension is not None:
        where += f" for {kpi.dimension} {dimension_value}"
    unit, signed = shown_as(threshold)
    limit = unit.limit_text(threshold.value or 0.0, signed)
    if threshold.comparison == "below":
        return f"{title}{where} is {value}, below the threshold {limit}."
    if threshold.comparison == "above":
        return f"{title}{where} is {value}, above the threshold {limit}."
    if threshold.comparison == "drop":
        return (
            f"{title}{where} fell by {value} against {threshold.over} earlier "
            f"(threshold: a drop of more than {limit})."
        )
    if threshold.comparison == "drop_percent":
        return (
            f"{title}{where} fell by {value} against {threshold.over} earlier "
            f"(threshold: a drop of more than {limit})."
        )
    return (
        f"{title}{where} is 0, with some in the last {threshold.over} "
        "(threshold: none in the window)."
    )


def value_template(threshold: Threshold) -> str:
    """Go template printing the alert's `$value` (`shown_as` in the tests renders it)."""
    unit, signed = shown_as(threshold)
    return unit.value_template(signed)


def alert_annotations(
    threshold: Threshold, config: ThresholdsConfig, value: str, dim: str
) -> dict[str, str]:
    runbook_key = (
        "runbook_url" if threshold.runbook.startswith(("http://", "https://")) else "runbook"
    )
    return {
        "summary": threshold.summary,
        "description": description(threshold, value, dim),
        runbook_key: threshold.runbook,
        "dashboard": config.dashboard_url,
    }


def alerting_rule(threshold: Threshold, config: ThresholdsConfig) -> dict[str, Any]:
    kpi = threshold.catalogue_kpi
    return {
        "alert": threshold.alertname,
        "expr": alert_expression(threshold),
        "for": threshold.for_,
        "labels": {"severity": threshold.severity, "kpi": kpi.name, "window": threshold.window},
        "annotations": alert_annotations(
            threshold, config, value_template(threshold), f"{{{{ $labels.{kpi.dimension} }}}}"
        ),
    }


def alerting_rules(config: ThresholdsConfig) -> dict[str, Any]:
    """One alerting rule per threshold, and the alerts on crmkpi's own health."""
    rules = [alerting_rule(threshold, config) for threshold in config.thresholds]
    return {
        "groups": [
            {"name": ALERTING_GROUP, "rules": rules},
            {"name": HEALTH_GROUP, "rules": health_rules(config.health)},
        ]
    }
