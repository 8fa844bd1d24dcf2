"""promtool unit tests of the alerting rules: each alert is silent, fires after `for`, resolves."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from kpis.alert_rules import alert_annotations
from kpis.alert_text import shown_as
from kpis.goal_rules import ELAPSED_SECONDS, PACE
from kpis.recording_rules import recorded_name
from kpis.thresholds import FALLING, Threshold, ThresholdsConfig, duration_seconds
from kpis.units import Currency

# promtool unit tests: input series every TEST_STEP seconds, rules evaluated as often.
TEST_STEP = 300
_SAMPLE_DIMENSION_VALUES = ("emea", "alice", "smb", "web", "x")


def _dimension_value(regex: str) -> str:
    """A dimension value the filter matches (Prometheus anchors the regex)."""
    for candidate in (regex, *_SAMPLE_DIMENSION_VALUES):
        if re.fullmatch(r"[\w.-]+", candidate) and re.fullmatch(regex, candidate):
            return candidate
    raise ValueError(f"no sample value matches the dimension filter {regex!r}")


def _series(name: str, labels: dict[str, str]) -> str:
    return (
        name + "{" + ", ".join(f"{key}={json.dumps(value)}" for key, value in labels.items()) + "}"
    )


def _values(*segments: tuple[float, int]) -> str:
    """promtool's expanding notation: each (value, count) repeated count times."""
    return " ".join(f"{value!r}+0x{count - 1}" for value, count in segments if count > 0)


def _is_business_day(seconds: int) -> bool:
    return (seconds // 86400 + 4) % 7 not in (0, 6)  # 1970-01-01 was a Thursday


def _minutes(steps: int) -> str:
    return f"{steps * TEST_STEP // 60}m"


def _value_text(threshold: Threshold, currency: Currency, value: float) -> str:
    """What the Go template of `value_template` prints for `value`."""
    unit, signed = shown_as(threshold, currency)
    return unit.template_text(value, signed)


def _test_values(threshold: Threshold) -> tuple[float, float, float]:
    """The recorded value before and after the breach, and the `$value` the alert quotes."""
    value = threshold.value or 0.0
    ratio = threshold.catalogue_kpi.unit == "ratio" or threshold.comparison == "behind_pace"
    delta = 0.05 if ratio else max(5.0, abs(value) * 0.1)
    if threshold.comparison in FALLING:
        return value + delta, value - delta, value - delta
    if threshold.comparison == "above":
        return value - delta, value + delta, value + delta
    if threshold.comparison == "drop":
        good = 2 * (abs(value) + delta)
        bad = good - (value + delta)
        return good, bad, good - bad
    if threshold.comparison == "drop_percent":
        good = 1000.0
        bad = good * (1 - (value + 5) / 100)
        return good, bad, 100 * (1 - bad / good)
    return 3.0, 0.0, 10.0  # idle: the longer window has 10 throughout


def alert_test_group(threshold: Threshold, config: ThresholdsConfig) -> dict[str, Any]:
    """A promtool test group: the alert stays silent, fires after `for`, and resolves."""
    kpi = threshold.catalogue_kpi
    history = duration_seconds(threshold.over) // TEST_STEP if threshold.over else 0
    if threshold.comparison == "idle":
        history = 0
    pending = math.ceil(duration_seconds(threshold.for_) / TEST_STEP)
    start = history + 3
    breach, recovery = pending + 3, 6
    while threshold.business_days and not all(
        _is_business_day(step * TEST_STEP) for step in range(start - 1, start + breach + recovery)
    ):
        start += 86400 // TEST_STEP
    labels = {"window": threshold.window}
    dimension_value = ""
    if threshold.dimension is not None:
        dimension_value = _dimension_value(threshold.dimension[kpi.dimension])
        labels[kpi.dimension] = dimension_value
    name = recorded_name(kpi, threshold.dimension is not None, threshold.quantile)
    series = []
    good, bad, fired = _test_values(threshold)
    if threshold.comparison == "behind_pace":
        name, labels = PACE, {"kpi": kpi.name, **labels}
        series.append(_elapsed(threshold, 0, start + breach + recovery))
    if threshold.comparison == "idle":
        assert threshold.over is not None
        series.append(
            {
                "series": _series(name, {**labels, "window": threshold.over}),
                "values": _values((10.0, start + breach + recovery)),
            }
        )
    series.append(
        {
            "series": _series(name, labels),
            "values": _values((good, start), (bad, breach), (good, recovery)),
        }
    )
    alert_labels = {"severity": threshold.severity, "kpi": kpi.name, **labels}
    alert_labels["window"] = threshold.window
    firing = {
        "exp_labels": alert_labels,
        "exp_annotations": alert_annotations(
            threshold, config, _value_text(threshold, config.currency, fired), dimension_value
        ),
    }
    checks = [(start - 1, False), (start + pending, True), (start + breach + 1, False)]
    if pending >= 1:
        checks.insert(1, (start + pending - 1, False))
    return {
        "name": f"{threshold.alertname}: silent, fires after {threshold.for_}, resolves",
        "interval": f"{TEST_STEP}s",
        "input_series": series,
        "alert_rule_test": [
            {
                "eval_time": _minutes(step),
                "alertname": threshold.alertname,
                "exp_alerts": [firing] if fires else [],
            }
            for step, fires in checks
        ],
    }


def _elapsed(threshold: Threshold, first: int, steps: int, growing: bool = False) -> dict[str, str]:
    """The elapsed time of the threshold's period: `first` seconds past its `after`, then
    constant or growing with the time."""
    elapsed = duration_seconds(threshold.after or "0s") + first
    values = f"{elapsed}+{TEST_STEP}x{steps - 1}" if growing else _values((elapsed, steps))
    return {"series": _series(ELAPSED_SECONDS, {"window": threshold.window}), "values": values}


def early_pace_test_group(threshold: Threshold, config: ThresholdsConfig) -> dict[str, Any]:
    """A promtool test group: behind pace from the start, the alert is silent until `after`
    of the period has passed, then fires after `for`, and resolves."""
    kpi = threshold.catalogue_kpi
    labels = {"kpi": kpi.name, "window": threshold.window}
    dimension_value = ""
    if threshold.dimension is not None:
        dimension_value = _dimension_value(threshold.dimension[kpi.dimension])
        labels[kpi.dimension] = dimension_value
    good, bad, fired = _test_values(threshold)
    pending = math.ceil(duration_seconds(threshold.for_) / TEST_STEP)
    crossing, breach, recovery = 3, pending + 6, 6  # `after` is reached at step `crossing`
    firing = {
        "exp_labels": {"severity": threshold.severity, **labels},
        "exp_annotations": alert_annotations(
            threshold, config, _value_text(threshold, config.currency, fired), dimension_value
        ),
    }
    checks = [(crossing - 1, False), (crossing + pending, True), (breach + 1, False)]
    return {
        "name": f"{threshold.alertname}: silent in the first {threshold.after} of the period",
        "interval": f"{TEST_STEP}s",
        "input_series": [
            _elapsed(threshold, -crossing * TEST_STEP, breach + recovery, growing=True),
            {"series": _series(PACE, labels), "values": _values((bad, breach), (good, recovery))},
        ],
        "alert_rule_test": [
            {
                "eval_time": _minutes(step),
                "alertname": threshold.alertname,
                "exp_alerts": [firing] if fires else [],
            }
            for step, fires in checks
        ],
    }


def alert_tests(config: ThresholdsConfig, rule_file: str) -> dict[str, Any]:
    """promtool unit tests covering every alert of `config`."""
    tests = []
    for threshold in config.thresholds:
        tests.append(alert_test_group(threshold, config))
        if threshold.comparison == "behind_pace" and threshold.after:
            tests.append(early_pace_test_group(threshold, config))
    return {"rule_files": [rule_file], "evaluation_interval": f"{TEST_STEP}s", "tests": tests}
