"""Alert text: summaries are templates filled by the unit formatter, links follow the public
URL, and the rules say what is true at each evaluation, over the line or back."""

from __future__ import annotations

import pytest

from kpis.alert_rules import alert_expression, rule_annotations
from kpis.rules import generated_files
from kpis.thresholds import ThresholdsConfig, ThresholdsError, parse_thresholds, read_thresholds

ENTRY = """
thresholds:
  - kpi: csat
    window: 30d
    comparison: below
    value: 0.8
    severity: critical
    summary: "{summary}"
    runbook: /docs/runbooks/csat.md
"""


def csat_config(
    summary: str = "{kpi} over {window} is {value}, below {threshold}",
) -> ThresholdsConfig:
    return parse_thresholds(ENTRY.replace("{summary}", summary))


def error_of(summary: str) -> str:
    with pytest.raises(ThresholdsError) as caught:
        csat_config(summary)
    return str(caught.value)


def test_a_summary_template_is_filled_with_the_units_formats() -> None:
    config = csat_config()
    summary = rule_annotations(config.thresholds[0], config)["summary"]
    assert summary.startswith(
        "{{ if lt $value 0.8 }}Customer satisfaction (CSAT) over 30d is "
        "{{ $value | humanizePercentage }}, below 80%{{ else }}"
    )


def test_an_unknown_placeholder_is_one_line_with_a_suggestion() -> None:
    message = error_of("{kpi} is {valeu}")
    assert message.startswith("thresholds.yaml: entry 1 (csat 30d): summary: ")
    assert "unknown placeholder {valeu} (did you mean {value}?)" in message
    assert "\n" not in message


def test_a_hand_typed_number_in_a_summary_is_refused() -> None:
    assert "write numbers as {threshold}" in error_of("CSAT is below 80 %")


def test_the_resolved_text_says_the_kpi_is_back_with_the_value_now() -> None:
    config = csat_config()
    annotations = rule_annotations(config.thresholds[0], config)
    before = (
        '{{ range query `min_over_time(window:crmkpi_csat:ratio{window="30d"}[1m])` }}'
        "{{ .Value | humanizePercentage }}{{ end }}"
    )
    assert annotations["summary"].endswith(
        "{{ else }}Customer satisfaction (CSAT) over 30d is back above 80% "
        "({{ $value | humanizePercentage }} now, " + before + " before){{ end }}"
    )
    assert annotations["description"].endswith(
        "now, at or above the threshold 80% (it was " + before + ").{{ end }}"
    )


def test_the_alert_holds_past_recovery_to_quote_the_recovered_value() -> None:
    config = csat_config()
    expression = alert_expression(config.thresholds[0], "1m")
    series = 'window:crmkpi_csat:ratio{window="30d"}'
    assert expression == (f"{series} < 0.8 or ({series} and min_over_time({series}[1m]) < 0.8)")


def test_a_public_url_makes_every_link_public() -> None:
    config = read_thresholds(
        public_url="https://crmkpi.example.com", grafana_url="https://grafana.example.com/"
    )
    assert config.dashboard_url == "https://grafana.example.com/d/crmkpi/crm-kpis"
    assert config.links.scorecard == "https://crmkpi.example.com/"
    linked = csat_config().linked("https://crmkpi.example.com", None)
    assert rule_annotations(linked.thresholds[0], linked)["runbook_url"] == (
        "https://crmkpi.example.com/docs/runbooks/csat.md"
    )
    generated = generated_files(config)
    assert "localhost" not in generated["prometheus/rules/crmkpi-alerts.rules.yml"]


def test_a_base_url_that_is_not_http_is_one_line() -> None:
    with pytest.raises(ThresholdsError, match=r"^settings: public_url: Value error, not an http"):
        read_thresholds(public_url="crmkpi.example.com")
