"""The thresholds file: defaults load, and every mistake is one line naming the entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpis.thresholds import (
    DEFAULT_THRESHOLDS_FILE,
    ThresholdsError,
    parse_thresholds,
    read_thresholds,
)

CSAT = """
  - kpi: csat
    window: 30d
    comparison: below
    value: 0.8
    severity: critical
    summary: CSAT low
    runbook: Read the surveys.
"""


def error_of(entries: str) -> str:
    with pytest.raises(ThresholdsError) as caught:
        parse_thresholds("thresholds:" + CSAT + CSAT.replace("csat\n", "nps\n", 1) + entries)
    message = str(caught.value)
    assert "\n" not in message
    return message


def entry(**fields: object) -> str:
    lines = {
        "kpi": "csat",
        "window": "30d",
        "comparison": "below",
        "value": 0.8,
        "severity": "critical",
        "summary": "CSAT low",
        "runbook": "Read the surveys.",
        "name": "Third",
        **fields,
    }
    text = "\n  - " + "\n    ".join(
        f"{key}: {value}" for key, value in lines.items() if value != "-"
    )
    return text + "\n"


def test_the_default_file_holds_the_issue_defaults() -> None:
    config = read_thresholds()
    assert DEFAULT_THRESHOLDS_FILE.name == "thresholds.yaml"
    kinds = {(t.kpi, t.window, t.comparison) for t in config.thresholds}
    assert ("csat", "30d", "below") in kinds
    assert ("nps", "30d", "drop") in kinds
    assert ("open_pipeline_value", "now", "drop_percent") in kinds
    assert ("rep_activities", "24h", "idle") in kinds
    assert len({t.alertname for t in config.thresholds}) == len(config.thresholds)


def test_unknown_kpi_names_the_entry_and_suggests_the_closest() -> None:
    message = error_of(entry(kpi="csatt"))
    assert (
        message
        == "thresholds.yaml: entry 3 (csatt 30d): unknown KPI 'csatt' (did you mean 'csat'?)"
    )


def test_unknown_window_lists_the_kpis_windows() -> None:
    message = error_of(entry(window="30days"))
    assert message == (
        "thresholds.yaml: entry 3 (csat 30days): unknown window '30days' for csat"
        " (did you mean '30d'?) (one of 1h, 24h, 7d, 30d, prev_24h, prev_7d, prev_30d, mtd, qtd)"
    )


def test_now_window_is_unknown_for_a_windowed_kpi() -> None:
    assert "unknown window 'now' for csat" in error_of(entry(window="now"))


def test_wrong_type_names_the_field_and_the_value() -> None:
    message = error_of(entry(value="high"))
    assert message.startswith("thresholds.yaml: entry 3 (csat 30d): value: ")
    assert "'high'" in message


def test_unknown_comparison_names_the_choices() -> None:
    message = error_of(entry(comparison="under"))
    assert message.startswith("thresholds.yaml: entry 3 (csat 30d): comparison: ")
    assert "'below'" in message and "'under'" in message


def test_bad_for_duration() -> None:
    message = error_of(entry(**{"for": "ten minutes"}))
    assert message.startswith("thresholds.yaml: entry 3 (csat 30d): for: ")
    assert "not a duration" in message


def test_unknown_field_is_refused() -> None:
    assert error_of(entry(treshold=3)) == (
        "thresholds.yaml: entry 3 (csat 30d): treshold: unknown field"
    )


def test_missing_field_is_named() -> None:
    assert error_of(entry(severity="-")) == (
        "thresholds.yaml: entry 3 (csat 30d): severity: Field required"
    )


def test_dimension_must_be_the_kpis_dimension() -> None:
    message = error_of(entry(dimension="{segment: smb}"))
    assert message.endswith("dimension: csat is broken down by 'team', not 'segment'")


def test_drop_needs_over_shorter_than_for() -> None:
    assert error_of(entry(comparison="drop")).endswith(
        "over: required for comparison 'drop' (e.g. over: 24h)"
    )
    message = error_of(entry(comparison="drop", over="1h", **{"for": "2h"}))
    assert message.endswith("for: must be shorter than over (1h), or the alert never fires")


def test_quantile_only_for_the_histogram_kpi() -> None:
    assert error_of(entry(quantile=0.9)).endswith("quantile: csat has no histogram")


def test_idle_is_for_counts() -> None:
    message = error_of(entry(comparison="idle", over="7d", value="-"))
    assert message.endswith("comparison 'idle' is for counts; csat is a ratio")


def test_the_same_alert_twice_is_refused() -> None:
    assert error_of(entry(name="-")).endswith(
        "alert CrmkpiCsat30dBelow is defined twice (give one a name)"
    )


def test_an_entry_that_is_not_a_mapping() -> None:
    assert error_of("\n  - csat\n") == (
        "thresholds.yaml: entry 3: expected a mapping (kpi, window, comparison, ...)"
    )


def test_bad_notify_section_is_named() -> None:
    with pytest.raises(ThresholdsError, match=r"^thresholds.yaml: notify.routing.warning.0: "):
        parse_thresholds("notify:\n  routing:\n    warning: [pager]\n")


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("thresholds:\n  - kpi: [csat\n")
    with pytest.raises(ThresholdsError, match=r"^mine.yaml: line \d+: not valid YAML$"):
        read_thresholds(path)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ThresholdsError, match="cannot read"):
        read_thresholds(tmp_path / "missing.yaml")


def pace_entry(**fields: object) -> str:
    pace = {"kpi": "won_amount", "window": "qtd", "comparison": "behind_pace", "after": "14d"}
    return entry(**{**pace, **fields})


def test_behind_pace_is_in_the_default_file_and_parses() -> None:
    config = read_thresholds()
    (pace,) = [t for t in config.thresholds if t.comparison == "behind_pace"]
    assert (pace.kpi, pace.window, pace.value, pace.after) == ("won_amount", "qtd", 0.8, "14d")
    assert pace.alertname == "CrmkpiWonAmountQtdBehindPace"
    assert parse_thresholds("thresholds:" + pace_entry()).thresholds[0].after == "14d"


def test_behind_pace_is_for_counts_and_sums_over_calendar_periods() -> None:
    assert error_of(pace_entry(kpi="csat")).endswith(
        "comparison 'behind_pace' is for counts and sums; csat is not one"
    )
    assert error_of(pace_entry(window="30d")).endswith(
        "window: 'behind_pace' is for the calendar windows mtd, qtd"
    )


def test_after_is_for_behind_pace_and_shorter_than_the_period() -> None:
    assert error_of(entry(after="14d")).endswith("after: only for comparison 'behind_pace'")
    assert error_of(pace_entry(window="mtd", after="30d")).endswith(
        "after: must be shorter than the shortest mtd (28d)"
    )
    assert "after: Value error, not a duration" in error_of(pace_entry(after="two weeks"))
