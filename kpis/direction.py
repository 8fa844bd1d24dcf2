"""Which way is better for each KPI: the colour of its change against the previous period.

Higher is better unless the KPI is listed here (a cost, a duration, a loss).
"""

from __future__ import annotations

LOWER_IS_BETTER = frozenset(
    {"customer_acquisition_cost", "resolution_time_hours", "churn_rate", "sales_cycle_days"}
)


def better(kpi: str) -> str:
    """`lower` or `higher`: the direction in which `kpi` improves."""
    return "lower" if kpi in LOWER_IS_BETTER else "higher"
