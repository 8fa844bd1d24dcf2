"""Generated Prometheus rules and Alertmanager config: current, valid, and tested by promtool."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from kpis.catalogue import CATALOGUE
from kpis.engine import PartitionState
from kpis.formulas import Total
from kpis.goal_rules import ATTAINMENT, PACE
from kpis.goals import Goals, read_goals
from kpis.metric_names import NOTIFICATIONS_FAILED, PART_FAMILIES
from kpis.recording_rules import recorded_name
from kpis.rules import (
    ALERT_TESTS_FILE,
    ALERTING_FILE,
    ALERTMANAGER_FILE,
    GOALS_FILE,
    GOALS_TESTS_FILE,
    HEALTH_TESTS_FILE,
    RECORDING_FILE,
    generated_files,
)
from kpis.thresholds import read_thresholds
from streams.read.exposition import render
from streams.read.snapshot_reader import SnapshotReader
from streams.read.store import MemoryStore, Position
from streams.read.worker_view import WorkerView
from streams.simulate import Anomalies, simulate_history
from tests import REPO_ROOT
from tests.kpis.test_properties import NOW_US
from tests.processes import crmkpi_env, run_crmkpi, wait_idle, worker
from tests.prometheus import prometheus
from tests.streams.read.test_exposition import LINES
from tests.waiting import wait_until

DEPLOY = REPO_ROOT / "deploy"


def binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed: CRMKPI_WITH_PROMETHEUS=1 scripts/ensure-services.sh"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def load(relative: str) -> Any:
    return yaml.safe_load((DEPLOY / relative).read_text())


def rules_of(relative: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = load(relative)["groups"][0]["rules"]
    return rules


def test_committed_files_are_what_crmkpi_rules_generates() -> None:
    for relative, text in generated_files(read_thresholds()).items():
        committed = (DEPLOY / relative).read_text()
        assert committed == text, f"deploy/{relative} is stale: run `crmkpi rules`"


def test_every_kpi_is_recorded_overall_and_per_dimension() -> None:
    recorded = {rule["record"] for rule in rules_of(RECORDING_FILE)}
    for kpi in CATALOGUE:
        assert recorded_name(kpi, per_dimension=False) in recorded
        assert recorded_name(kpi, per_dimension=True) in recorded
    assert "window:crmkpi_csat:ratio" in recorded
    assert "window_team:crmkpi_csat:ratio" in recorded
    assert "window_team:crmkpi_resolution_time_hours:p90" in recorded


def test_recording_rules_read_only_exported_families() -> None:
    exported = {family.name for family in PART_FAMILIES.values()}
    exported |= {f"crmkpi_ticket_resolution_seconds_{s}" for s in ("bucket", "sum", "count")}
    exported.add("crmkpi_gross_margin")  # exported by the reporter: tests/kpis/test_gross_margin.py
    # A total over no parts is 0 where the reporter's KPI gauge has a series.
    exported |= {kpi.metric for kpi in CATALOGUE if isinstance(kpi.formula, Total)}
    recorded = {rule["record"] for rule in rules_of(RECORDING_FILE)}
    for rule in rules_of(RECORDING_FILE):
        names = set(re.findall(r"[a-z_:]*crmkpi_[a-z0-9_:]+", rule["expr"]))
        assert names <= exported | recorded, (rule["record"], names - exported - recorded)


def test_alerts_read_recorded_series_and_carry_kpi_severity_and_runbook() -> None:
    recorded = {rule["record"] for rule in rules_of(RECORDING_FILE) + rules_of(GOALS_FILE)}
    alerts = rules_of(ALERTING_FILE)
    assert len(alerts) == len(read_thresholds().thresholds)
    for alert in alerts:
        pattern = r"(?:window|goal)[a-z_]*:crmkpi_[a-z0-9_]+:[a-z0-9]+"
        names = set(re.findall(pattern, alert["expr"]))
        assert names and names <= recorded, alert["alert"]
        assert set(alert["labels"]) == {"severity", "kpi", "window"}
        assert {"summary", "description", "dashboard"} <= set(alert["annotations"])
        assert {"runbook", "runbook_url"} & set(alert["annotations"])


async def exported_sample_names(goals: Goals = ()) -> set[str]:
    """Sample names of a worker's /metrics with some state, rejections and a flush."""
    state = PartitionState()
    for raw in [*LINES, b"{not json"]:
        state.apply_raw(raw, NOW_US)
    store = MemoryStore()
    await store.publish(
        "crm.surveys:0",
        Position(9, watermark_us=state.ledger.watermark_us),
        [*state.ledger.values.items()],
        True,
    )
    snapshot, _ = await SnapshotReader(store, goals=goals).read(None, 1.0)
    view = WorkerView(
        frozenset({"crm.surveys:0"}), True, 1, 1e9, 0, {"invalid_json": 1}, (0.5, 2048)
    )
    text = render(snapshot, {"crm.surveys:0": 0}, view).decode()
    return {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }


async def test_health_alerts_read_families_the_workers_export() -> None:
    (health,) = [
        group for group in load(ALERTING_FILE)["groups"] if group["name"] != "crmkpi.alerts"
    ]
    # Prometheus' `up`, and Alertmanager's own counter of failed notifications.
    exported = {"up", NOTIFICATIONS_FAILED} | await exported_sample_names()
    for alert in health["rules"]:
        names = set(re.findall(r"\b(up|crmkpi_[a-z0-9_]+|alertmanager_[a-z_]+)\b", alert["expr"]))
        assert names and names <= exported, (alert["alert"], names - exported)
        assert alert["labels"]["severity"] in {"critical", "warning"}
        assert {"summary", "description", "runbook"} <= set(alert["annotations"])


def test_alertmanager_routes_by_severity_groups_by_kpi_and_keeps_secrets_out() -> None:
    config = load(ALERTMANAGER_FILE)
    assert config["route"]["group_by"] == ["alertname", "kpi"]
    routed = {route["matchers"][0]: route["receiver"] for route in config["route"]["routes"]}
    assert routed == {f'severity="{s}"': f"crmkpi-{s}" for s in ("critical", "warning", "info")}
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    critical = receivers["crmkpi-critical"]
    assert critical["slack_configs"][0]["api_url_file"]
    assert critical["slack_configs"][0]["send_resolved"] is True
    assert critical["email_configs"][0]["send_resolved"] is True
    assert config["global"]["smtp_auth_password_file"]
    text = (DEPLOY / ALERTMANAGER_FILE).read_text()
    assert "hooks.slack.com" not in text
    assert not re.search(r"^\s*(api_url|smtp_auth_password|auth_password):", text, re.M)


def test_promtool_checks_the_rules() -> None:
    promtool = binary("promtool")
    files = [str(DEPLOY / name) for name in (RECORDING_FILE, GOALS_FILE, ALERTING_FILE)]
    result = subprocess.run([promtool, "check", "rules", *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_checks_the_alertmanager_config() -> None:
    amtool = binary("amtool")
    result = subprocess.run(
        [amtool, "check-config", str(DEPLOY / ALERTMANAGER_FILE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_cover_every_alert() -> None:
    tests = load(ALERT_TESTS_FILE)["tests"] + load(HEALTH_TESTS_FILE)["tests"]
    tested = {case["alertname"] for group in tests for case in group["alert_rule_test"]}
    groups = load(ALERTING_FILE)["groups"]
    assert tested == {alert["alert"] for group in groups for alert in group["rules"]}
    for group in tests:
        expectations = [bool(case["exp_alerts"]) for case in group["alert_rule_test"]]
        assert expectations[0] is False and True in expectations and expectations[-1] is False
    promtool = binary("promtool")
    for test_file in (DEPLOY / ALERT_TESTS_FILE, DEPLOY / HEALTH_TESTS_FILE):
        result = subprocess.run(
            [promtool, "test", "rules", test_file.name],
            cwd=test_file.parent,
            capture_output=True,
            text=True,
            timeout=120,  # the drop alerts replay 30 days of 5-minute steps
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_every_kpi_has_a_goal_attainment_rule_and_additive_ones_a_pace() -> None:
    rules = rules_of(GOALS_FILE)
    attained = {rule["labels"]["kpi"] for rule in rules if rule["record"] == ATTAINMENT}
    assert attained == {kpi.name for kpi in CATALOGUE}
    (paced,) = [rule["expr"] for rule in rules if rule["record"] == PACE]
    assert 'kpi=~"rep_activities|won_amount"' in paced and 'window=~"mtd|qtd"' in paced


async def test_goal_rules_read_exported_families_and_recorded_kpis() -> None:
    exported = await exported_sample_names(read_goals())
    recorded = {rule["record"] for rule in rules_of(RECORDING_FILE) + rules_of(GOALS_FILE)}
    for rule in rules_of(GOALS_FILE):
        for name in re.findall(r"[a-z_]*:?crmkpi_[a-z0-9_]+(?::[a-z0-9]+)?", rule["expr"]):
            assert name in exported | recorded, (rule["record"], name)


def test_promtool_unit_tests_check_attainment_and_pace() -> None:
    (case,) = load(GOALS_TESTS_FILE)["tests"]
    checked = {test["expr"]: test["exp_samples"] for test in case["promql_expr_test"]}
    assert checked[ATTAINMENT] and checked[PACE]
    promtool = binary("promtool")
    test_file = DEPLOY / GOALS_TESTS_FILE
    result = subprocess.run(
        [promtool, "test", "rules", test_file.name],
        cwd=test_file.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_recorded_kpis_equal_the_monitors_kpis(broker: str, tmp_path: Path) -> None:
    binary("prometheus")
    history = tmp_path / "history.jsonl"
    lines = list(simulate_history(3, 35, anomalies=Anomalies.default()))
    history.write_text("\n".join(lines) + "\n")
    rules = tmp_path / "kpis.rules.yml"
    rules.write_text((DEPLOY / RECORDING_FILE).read_text())
    # A margin other than 1: the rules read the one the worker exports.
    with worker(broker, tmp_path, CRMKPI_GROSS_MARGIN="0.7") as (url, _):
        run_crmkpi(["produce", str(history)], crmkpi_env(broker, 0))
        wait_idle(url, accepted_at_least=len(lines) // 2)
        snapshot = wait_idle(url)
        expected = {
            (s["kpi"], s["window"], tuple(sorted(s["labels"].items()))): s["value"]
            for s in snapshot["kpis"]
        }
        with prometheus([url.removeprefix("http://")], tmp_path, [rules]) as prom:
            prom.wait_for("window:crmkpi_csat:ratio")
            prom.wait_for("window_segment:crmkpi_customer_lifetime_value:clv")
            checked: set[tuple[str, str, tuple[tuple[str, str], ...]]] = set()
            for kpi in CATALOGUE:
                for per_dimension in (False, True):
                    for sample in prom.query(recorded_name(kpi, per_dimension)):
                        labels = dict(sample["metric"])
                        labels.pop("__name__", None)
                        window = labels.pop("window")
                        key = (kpi.name, window, tuple(sorted(labels.items())))
                        value = float(sample["value"][1])
                        assert key in expected, key
                        assert expected[key] is not None, (key, value)
                        assert math.isclose(value, expected[key], rel_tol=1e-9, abs_tol=1e-9), (
                            key,
                            value,
                            expected[key],
                        )
                        checked.add(key)
    # Every non-null series of /kpis, overall and per dimension value, was recorded; but a sum
    # over a window without any part (no won deal in the last hour) is 0 in /kpis and has no
    # sample in Prometheus.
    additive = {kpi.name for kpi in CATALOGUE if kpi.additive}
    nothing = {key for key, value in expected.items() if value == 0 and key[0] in additive}
    assert {key for key, value in expected.items() if value is not None} - nothing <= checked


@pytest.mark.integration
def test_recorded_goals_equal_the_monitors_goals(broker: str, tmp_path: Path) -> None:
    binary("prometheus")
    history = tmp_path / "history.jsonl"
    lines = list(simulate_history(5, 35))
    history.write_text("\n".join(lines) + "\n")
    rule_files = []
    for relative in (RECORDING_FILE, GOALS_FILE):
        rule_files.append(tmp_path / Path(relative).name)
        rule_files[-1].write_text((DEPLOY / relative).read_text())
    # The shipped goals file, and calendar periods of a zone 5:45 ahead of UTC.
    with worker(broker, tmp_path, CRMKPI_TIMEZONE="Asia/Kathmandu") as (url, _):
        run_crmkpi(["produce", str(history)], crmkpi_env(broker, 0))
        wait_idle(url, accepted_at_least=len(lines) // 2)
        goals = wait_idle(url)["goals"]
        # The goal rules read series the recording rules make: in another group, evaluated
        # at its own moment, so wait until every goal with a nonzero value has its attainment.
        needed = {
            (ATTAINMENT, goal["kpi"], goal["window"], tuple(goal["labels"].items()))
            for goal in goals
            if goal.get("attainment") is not None and goal["value"] != 0.0
        }
        with prometheus([url.removeprefix("http://")], tmp_path, rule_files) as prom:
            prom.wait_for(PACE)

            def recorded_goals() -> dict[tuple[Any, ...], float]:
                recorded = {}
                for name in (ATTAINMENT, PACE):
                    for sample in prom.query(name):
                        labels = dict(sample["metric"])
                        labels.pop("__name__", None)
                        kpi, window = labels.pop("kpi"), labels.pop("window")
                        recorded[(name, kpi, window, tuple(labels.items()))] = float(
                            sample["value"][1]
                        )
                return recorded

            recorded = wait_until(
                recorded_goals, "every goal's attainment recorded", lambda got: needed <= got.keys()
            )
    checked = {ATTAINMENT: 0, PACE: 0}
    for goal in goals:
        series = (goal["kpi"], goal["window"], tuple(goal["labels"].items()))
        for name, field in ((ATTAINMENT, "attainment"), (PACE, "pace")):
            key, expected = (name, *series), goal.get(field)
            if expected is None:  # no value, or pace does not apply: no sample
                assert key not in recorded, (name, goal)
            elif key in recorded or goal["value"] != 0.0:
                # (A count or sum without a series of its own is 0 in /kpis, absent here.)
                assert math.isclose(recorded[key], expected, rel_tol=1e-9), (name, goal)
                checked[name] += 1
    assert checked[ATTAINMENT] >= len(goals) // 2 and checked[PACE] >= 1, checked
