"""Generated Grafana dashboards: current, well-formed, and every query answered by Prometheus."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from kpis.catalogue import CATALOGUE
from kpis.dashboards import generated_dashboards
from kpis.dashboards.levels import steps
from kpis.goal_rules import ATTAINMENT
from kpis.goals import read_goals
from kpis.rules import GOALS_FILE, RECORDING_FILE
from kpis.thresholds import parse_thresholds, read_thresholds
from streams.simulate import Anomalies, simulate_history
from tests import REPO_ROOT
from tests.panels import DASHBOARDS, committed, panel_queries, panels_of, without_data
from tests.processes import crmkpi_env, run_crmkpi, wait_idle, worker
from tests.prometheus import prometheus
from tests.waiting import wait_until

ROOT = REPO_ROOT
PROVISIONING = ROOT / "grafana" / "provisioning"
SIMULATED_DAYS = 35  # more than 30: churn, retention and CLV need customers at the window start


def provisioned_uid() -> str:
    document = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    (datasource,) = document["datasources"]
    assert datasource["type"] == "prometheus"
    uid: str = datasource["uid"]
    return uid


def variable_names(dashboard: dict[str, Any]) -> set[str]:
    return {variable["name"] for variable in dashboard["templating"]["list"]}


def test_committed_dashboards_are_what_crmkpi_rules_generates() -> None:
    generated = generated_dashboards(read_thresholds(), read_goals())
    assert sorted(generated) == sorted(path.name for path in DASHBOARDS.glob("*.json"))
    for name, text in generated.items():
        assert (DASHBOARDS / name).read_text() == text, f"{name} is stale: run `crmkpi rules`"


@pytest.mark.parametrize("name", sorted(committed()))
def test_dashboard_structure(name: str) -> None:
    dashboard = committed()[name]
    uid = provisioned_uid()
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are not unique"
    boxes = [panel["gridPos"] for panel in dashboard["panels"]]
    for box in boxes:
        assert box["x"] >= 0 and box["w"] > 0 and box["x"] + box["w"] <= 24, box
    for a, b in itertools.combinations(boxes, 2):
        apart = (
            a["x"] + a["w"] <= b["x"]
            or b["x"] + b["w"] <= a["x"]
            or a["y"] + a["h"] <= b["y"]
            or b["y"] + b["h"] <= a["y"]
        )
        assert apart, f"panels overlap: {a} {b}"
    for panel in panels_of(dashboard):
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert panel["targets"] and panel["description"], panel["title"]
        assert all(target["datasource"]["uid"] == uid for target in panel["targets"])
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults["unit"], panel["title"]
        if panel["type"] == "stat":
            thresholds = defaults["thresholds"]["steps"]
            assert thresholds and thresholds[0]["value"] is None, panel["title"]
    queried = [v for v in dashboard["templating"]["list"] if v["type"] == "query"]
    assert all(variable["datasource"]["uid"] == uid for variable in queried)
    alerts = [a for a in dashboard["annotations"]["list"] if not a.get("builtIn")]
    assert alerts and all(a["datasource"]["uid"] == uid for a in alerts)
    assert all(a["expr"].startswith("ALERTS{") for a in alerts)


@pytest.mark.parametrize("name", sorted(committed()))
def test_every_variable_a_query_uses_is_defined(name: str) -> None:
    dashboard = committed()[name]
    for panel in panels_of(dashboard):
        for target in panel["targets"]:
            used = set(re.findall(r"\$(\w+)", target["expr"]))
            assert used <= variable_names(dashboard), (panel["title"], used)
    assert "window" in variable_names(dashboard)


def test_overview_has_a_stat_per_kpi_and_each_kpi_has_a_team_dashboard() -> None:
    boards = committed()
    overview = boards.pop("overview.json")
    linked = urlparse(read_thresholds().dashboard_url).path  # in every notification
    assert linked.startswith(f"/d/{overview['uid']}/"), linked
    stats = [panel for panel in panels_of(overview) if panel["type"] == "stat"]
    assert len(stats) == len(CATALOGUE)
    for kpi in CATALOGUE:
        queries = [p["targets"][0]["expr"] for p in stats]
        assert any(f":crmkpi_{kpi.name}:" in query for query in queries), kpi.name
        assert any(p["description"] == kpi.description for p in stats), kpi.name
        homes = [
            name
            for name, board in boards.items()
            if any(f"_{kpi.dimension}:crmkpi_{kpi.name}:" in q for q in queries_of(board))
        ]
        assert len(homes) == 1, (kpi.name, homes)
        assert kpi.dimension in variable_names(boards[homes[0]]), kpi.name


def queries_of(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in panels_of(dashboard) for target in panel["targets"]]


def stat_of(dashboard: dict[str, Any], kpi: str) -> dict[str, Any]:
    (panel,) = [
        p
        for p in panels_of(dashboard)
        if p["type"] == "stat" and f"window:crmkpi_{kpi}:" in p["targets"][0]["expr"]
    ]
    return panel


def test_stat_units_follow_the_catalogue() -> None:
    overview = committed()["overview.json"]
    expected = {"csat": "percentunit", "mrr": "currencyUSD", "sales_cycle_days": "d"}
    expected |= {"resolution_time_hours": "h", "nps": "none", "rep_activities": "short"}
    for kpi, unit in expected.items():
        assert stat_of(overview, kpi)["fieldConfig"]["defaults"]["unit"] == unit, kpi


def test_a_changed_threshold_changes_the_colours_after_regenerating() -> None:
    text = (ROOT / "deploy" / "thresholds.yaml").read_text()
    before = json.loads(generated_dashboards(parse_thresholds(text), ())["overview.json"])
    changed = text.replace("value: 0.80", "value: 0.9", 1)
    after = json.loads(generated_dashboards(parse_thresholds(changed), ())["overview.json"])
    colours = stat_of(before, "csat")["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert colours == [{"color": "red", "value": None}, {"color": "green", "value": 0.8}]
    colours = stat_of(after, "csat")["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert colours == [{"color": "red", "value": None}, {"color": "green", "value": 0.9}]


def test_level_steps_take_the_worst_breached_severity() -> None:
    config = parse_thresholds(
        """
thresholds:
  - {kpi: churn_rate, window: 30d, comparison: above, value: 0.05, severity: critical,
     summary: s, runbook: r}
  - {kpi: churn_rate, window: 30d, comparison: above, value: 0.02, severity: warning,
     summary: s, runbook: r, name: ChurnWarning}
"""
    )
    assert steps(config.thresholds) == [
        {"color": "green", "value": None},
        {"color": "orange", "value": 0.02},
        {"color": "red", "value": 0.05},
    ]
    assert steps(()) == [{"color": "blue", "value": None}]


def test_team_dashboards_show_the_previous_period_and_their_goals() -> None:
    goals = {goal.kpi for goal in read_goals()}
    paced = {goal.kpi for goal in read_goals() if goal.has_pace}
    for name, dashboard in committed().items():
        if name == "overview.json":
            continue
        panels = panels_of(dashboard)
        stats = [p for p in panels if p["type"] == "stat" and len(p["targets"]) == 2]
        assert stats and all('window="prev_$window"' in p["targets"][1]["expr"] for p in stats)
        titles = {p["title"]: p for p in panels}
        shown = {kpi.name for kpi in CATALOGUE if any(kpi.title in t for t in titles)}
        if shown & goals:
            attainment = titles["Goal attainment"]["targets"][0]["expr"]
            assert attainment.startswith(ATTAINMENT)
            assert set(attainment.split('"')[1].split("|")) == shown & goals
        else:
            assert "Goal attainment" not in titles
        assert ("Goal pace" in titles) == bool(shown & paced)


@pytest.mark.integration
def test_every_panel_query_returns_data(broker: str, tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    lines = list(simulate_history(3, SIMULATED_DAYS, anomalies=Anomalies.default()))
    history.write_text("\n".join(lines) + "\n")
    rules = tmp_path / "kpis.rules.yml"
    rules.write_text((ROOT / "deploy" / RECORDING_FILE).read_text())
    goal_rules = tmp_path / "goals.rules.yml"
    goal_rules.write_text((ROOT / "deploy" / GOALS_FILE).read_text())
    with worker(broker, tmp_path) as (url, _):
        run_crmkpi(["produce", str(history)], crmkpi_env(broker, 0))
        wait_idle(url, accepted_at_least=len(lines) // 2)
        wait_idle(url)
        with prometheus([url.removeprefix("http://")], tmp_path, [rules, goal_rules]) as prom:
            prom.wait_for("window_segment:crmkpi_customer_lifetime_value:clv")
            windows = ("7d", "30d")
            # Goal rules read recorded series: they answer an evaluation or two later.
            wait_until(
                lambda: without_data(prom, windows),
                "data in every panel",
                lambda missing: missing == [],
            )
            assert len(panel_queries(prom, windows)) > 2 * 2 * len(CATALOGUE)


def test_crmkpi_rules_writes_the_dashboards(tmp_path: Path) -> None:
    out = tmp_path / "dashboards"
    args = ["rules", "--out", str(tmp_path / "deploy"), "--dashboards", str(out)]
    result = run_crmkpi(args, crmkpi_env("127.0.0.1:1", 0))
    assert result.returncode == 0, result.stderr
    for name, text in generated_dashboards(read_thresholds(), read_goals()).items():
        assert (out / name).read_text() == text, name
    again = run_crmkpi(args, crmkpi_env("127.0.0.1:1", 0))
    assert f"unchanged {out / 'overview.json'}" in again.stdout
