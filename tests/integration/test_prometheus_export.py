"""A real Prometheus scraping a real worker: PromQL sums of the exported parts equal /kpis."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from streams.simulate import Anomalies, simulate_history
from tests.processes import crmkpi_env, get_json, run_crmkpi, wait_idle, worker
from tests.prometheus import prometheus

pytestmark = pytest.mark.integration


def by_window(a: str, b: str) -> str:
    return f"sum by (window) ({a}) / sum by (window) ({b})"


# Each overall KPI written in PromQL from the exported per-dimension parts only.
PROMQL = {
    "csat": by_window("crmkpi_csat_satisfied_responses", "crmkpi_csat_responses"),
    "lead_conversion_rate": by_window("crmkpi_leads_created_converted", "crmkpi_leads_created"),
    "marketing_conversion_rate": by_window(
        "crmkpi_leads_created_qualified", "crmkpi_leads_created"
    ),
    "opportunity_creation_ratio": by_window(
        "crmkpi_opportunities_created", "crmkpi_leads_first_contacted"
    ),
    "win_rate": "sum by (window) (crmkpi_opportunities_won) / (sum by (window) "
    "(crmkpi_opportunities_won) + sum by (window) (crmkpi_opportunities_lost))",
    "sales_cycle_days": by_window(
        "crmkpi_opportunities_won_cycle_seconds", "crmkpi_opportunities_won"
    )
    + " / 86400",
    "resolution_time_hours": by_window(
        "crmkpi_ticket_resolution_seconds_sum", "crmkpi_ticket_resolution_seconds_count"
    )
    + " / 3600",
    "first_contact_resolution_rate": by_window(
        "crmkpi_tickets_first_contact_resolved", "crmkpi_ticket_resolution_seconds_count"
    ),
    "customer_acquisition_cost": by_window(
        "crmkpi_marketing_spend_amount", "crmkpi_customers_subscribed"
    ),
    "marketing_roi": "(sum by (window) (crmkpi_opportunities_won_amount) - sum by (window) "
    "(crmkpi_marketing_spend_amount)) / sum by (window) (crmkpi_marketing_spend_amount)",
    "nps": "100 * (sum by (window) (crmkpi_nps_promoters) - sum by (window) "
    "(crmkpi_nps_detractors)) / sum by (window) (crmkpi_nps_responses)",
    "churn_rate": by_window(
        "crmkpi_customers_churned_in_window", "crmkpi_customers_at_window_start"
    ),
    "customer_retention_rate": "1 - "
    + by_window("crmkpi_customers_churned_in_window", "crmkpi_customers_at_window_start"),
    "rep_activities": "sum by (window) (crmkpi_activities_logged)",
    "won_amount": "sum by (window) (crmkpi_rep_won_amount)",
}
NOW_PROMQL = {
    "open_pipeline_value": "sum(crmkpi_open_pipeline_amount)",
    "active_customers": "sum(crmkpi_customers_active)",
    "mrr": "sum(crmkpi_mrr_amount)",
}


def test_promql_sums_of_parts_give_the_overall_kpis(broker: str, tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    lines = list(simulate_history(3, 35, anomalies=Anomalies.default()))
    history.write_text("\n".join(lines) + "\n")
    with worker(broker, tmp_path) as (url, _):
        run_crmkpi(["produce", str(history)], crmkpi_env(broker, 0))
        wait_idle(url, accepted_at_least=len(lines) // 2)
        snapshot = wait_idle(url)
        overall = {(s["kpi"], s["window"]): s["value"] for s in snapshot["kpis"] if not s["labels"]}
        target = url.removeprefix("http://")
        with prometheus([target], tmp_path) as prom:
            prom.wait_for("crmkpi_csat_responses")
            assert get_json(f"{url}/kpis")["kpis"] == snapshot["kpis"]  # nothing moved since
            checked: set[tuple[str, str]] = set()
            for kpi, promql in PROMQL.items():
                for sample in prom.query(promql):
                    window = sample["metric"]["window"]
                    value = float(sample["value"][1])
                    expected = overall[(kpi, window)]
                    if expected is None:
                        assert math.isnan(value) or math.isinf(value), (kpi, window, value)
                        continue
                    assert math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-9), (
                        kpi,
                        window,
                        value,
                        expected,
                    )
                    checked.add((kpi, window))
            for kpi, promql in NOW_PROMQL.items():
                value = float(prom.query(promql)[0]["value"][1])
                assert math.isclose(value, overall[(kpi, "now")], rel_tol=1e-9), kpi
                checked.add((kpi, "now"))
    assert {(kpi, "30d") for kpi in PROMQL} <= checked
    assert {(kpi, "now") for kpi in NOW_PROMQL} <= checked
