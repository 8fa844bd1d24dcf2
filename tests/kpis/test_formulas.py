"""KPI formula objects: one definition gives the Python value and the recording rule."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from kpis import formulas as f
from kpis import parts as p
from kpis.catalogue import CATALOGUE, KPIS_BY_NAME
from kpis.promql import Sums
from kpis.recording_rules import recorded_name, recording_rules
from kpis.windows import MONTH, NOW


@dataclass
class Parts:
    """A scope with fixed part sums (the same in the 30d window)."""

    sums: dict[str, int]
    gross_margin: float = 1.0
    month_sums: dict[str, int] = field(default_factory=dict)

    def get(self, part: str) -> int:
        return self.sums.get(part, 0)

    def month(self) -> Parts:
        return Parts(self.month_sums or self.sums, self.gross_margin)


def test_each_formula_kind_computes_its_definition() -> None:
    scope = Parts({"a": 3, "b": 12, "c": 1})
    assert f.Total("b").evaluate(scope) == 12
    assert f.Total("b", scale=4).evaluate(scope) == 3
    assert f.Ratio("a", "b").evaluate(scope) == 0.25
    assert f.Mean("b", "a", scale=2).evaluate(scope) == 2
    assert f.Share("a", "c").evaluate(scope) == 0.75
    assert f.Retention("a", "b").evaluate(scope) == 0.75
    assert f.ReturnOnSpend("b", "a").evaluate(scope) == 3
    assert f.NetScore("a", "c", "b").evaluate(scope) == pytest.approx(100 * 2 / 12)


def test_a_zero_denominator_is_null_in_python_and_absent_in_promql() -> None:
    empty = Parts({})
    for formula in (
        f.Ratio("a", "b"),
        f.Share("a", "c"),
        f.Retention("a", "b"),
        f.ReturnOnSpend("b", "a"),
        f.NetScore("a", "c", "b"),
    ):
        assert formula.evaluate(empty) is None, formula
    promql = f.Ratio(p.CSAT_SATISFIED, p.CSAT_RESPONSES).promql(Sums(windowed=True))
    assert promql.endswith("/ (sum by (window) (crmkpi_csat_responses) > 0)")


def test_lifetime_value_divides_revenue_per_customer_by_the_month_churn_rate() -> None:
    clv = KPIS_BY_NAME["customer_lifetime_value"].formula
    now = {p.MRR_MICRO: 500_000_000, p.ACTIVE_CUSTOMERS: 10}
    month = {p.CUSTOMERS_AT_START: 20, p.CUSTOMERS_CHURNED_IN_WINDOW: 2}
    # ARPA 50, churn rate 0.1, margin 0.8: 50 * 0.8 / 0.1
    assert clv.evaluate(Parts(now, 0.8, month)) == pytest.approx(400.0)
    assert clv.evaluate(Parts(now, 0.8, {**month, p.CUSTOMERS_CHURNED_IN_WINDOW: 0})) is None
    assert clv.point_window == MONTH


def test_promql_divides_by_the_scale_in_base_units() -> None:
    days = KPIS_BY_NAME["sales_cycle_days"].formula.promql(Sums(windowed=True))
    assert days.endswith(" / 86400")
    cac = KPIS_BY_NAME["customer_acquisition_cost"].formula.promql(Sums(windowed=True))
    # spend is exported in currency units already: micro-units need no division
    assert cac.endswith("(sum by (window) (crmkpi_customers_subscribed) > 0)")


def test_every_recording_rule_comes_from_its_kpis_formula() -> None:
    rules = {rule["record"]: rule["expr"] for rule in recording_rules()["groups"][0]["rules"]}
    for kpi in CATALOGUE:
        for per_dimension in (False, True):
            name = recorded_name(kpi, per_dimension)
            assert name.endswith(f":crmkpi_{kpi.name}:{kpi.formula.operation}")
            sums = Sums(kpi.formula.point_window is None, kpi.dimension if per_dimension else None)
            assert kpi.formula.promql(sums) in rules[name]
            if kpi.formula.point_window is not None:
                assert f'"window", "{kpi.formula.point_window}"' in rules[name]


def test_current_state_totals_are_recorded_in_the_now_window() -> None:
    assert KPIS_BY_NAME["mrr"].formula.point_window == NOW
    assert KPIS_BY_NAME["rep_activities"].formula.point_window is None
