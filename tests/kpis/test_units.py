"""Severity order, threshold crossing and unit formats: each written once in kpis/."""

from __future__ import annotations

from kpis.severity import SEVERITIES, worst
from kpis.thresholds import Threshold
from kpis.units import PERCENT_CHANGE, UNITS


def threshold(comparison: str, value: float | None = None, **extra: object) -> Threshold:
    return Threshold.model_validate(
        {
            "kpi": "rep_activities" if comparison == "idle" else "csat",
            "window": "24h",
            "comparison": comparison,
            "value": value,
            "severity": "warning",
            "summary": "s",
            "runbook": "r",
            **extra,
        }
    )


def test_severities_rank_info_below_warning_below_critical() -> None:
    assert SEVERITIES == ("info", "warning", "critical")
    assert worst(["warning", "critical", "info"]) == "critical"
    assert worst(["info", "warning"]) == "warning"
    assert worst([]) is None


def test_a_level_threshold_is_crossed_strictly_past_its_value() -> None:
    below, above = threshold("below", 0.8), threshold("above", 0.8)
    assert below.crossed(0.79) and not below.crossed(0.8) and not below.crossed(None)
    assert above.crossed(0.81) and not above.crossed(0.8) and not above.crossed(None)


def test_idle_is_crossed_by_none_now_and_some_over_the_longer_window() -> None:
    idle = threshold("idle", over="7d")
    assert idle.crossed(0, 3) and idle.crossed(None, 3)
    assert not idle.crossed(0, 0) and not idle.crossed(2, 3)


def test_drops_need_history_and_are_never_crossed_from_one_value() -> None:
    assert not threshold("drop", 0.1, over="7d").crossed(-5.0, 10.0)


def test_a_ratio_is_a_percent_without_a_space_everywhere() -> None:
    ratio = UNITS["ratio"]
    assert ratio.limit_text(0.8) == "80%"
    assert ratio.template_text(0.8) == "80%"
    assert ratio.value_template() == "{{ $value | humanizePercentage }}"
    assert ratio.page_format() == {
        "scale": 100,
        "decimals": 1,
        "small_decimals": None,
        "suffix": "%",
        "signed": False,
        "currency": None,
    }
    assert ratio.grafana == "percentunit"


def test_values_carry_their_units_suffix_and_scores_their_sign() -> None:
    assert UNITS["hours"].limit_text(48) == "48 h"
    assert UNITS["hours"].template_text(50.26) == "50.3 h"
    assert UNITS["hours"].value_template() == '{{ printf "%.1f" $value }} h'
    assert UNITS["nps"].limit_text(10) == "+10 points"
    assert UNITS["nps"].limit_text(10, signed=False) == "10 points"
    assert UNITS["nps"].template_text(-3) == "-3.0 points"
    assert UNITS["nps"].value_template() == '{{ printf "%+.1f" $value }} points'
    assert UNITS["currency"].template_text(412.5) == "$412.50"
    assert PERCENT_CHANGE.template_text(12.34) == "12.3%"
