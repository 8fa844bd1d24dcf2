"""The KPI catalogue: the one place each KPI is described.

Export, `/kpis`, rules, dashboards and the live page all read this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from kpis import formulas as f
from kpis import parts as p
from kpis.windows import NOW, WINDOWS

ALL_WINDOWS = tuple(window.name for window in WINDOWS)


@dataclass(frozen=True)
class Kpi:
    """One KPI: what it means, how it is computed and how it is shown."""

    name: str
    title: str
    description: str
    unit: str  # currency, ratio, count, days, hours, nps
    dimension: str
    windows: tuple[str, ...]
    group: str
    parts: tuple[str, ...]
    formula: f.Formula

    @property
    def metric(self) -> str:
        """Prometheus family name: unit-suffixed (`_ratio`, `_score`, `_days`, ...)."""
        suffix = {"ratio": "_ratio", "nps": "_score"}.get(self.unit, "")
        base = self.name.removesuffix("_rate").removesuffix("_ratio") if suffix else self.name
        return f"crmkpi_{base}{suffix}"


SALES_PIPELINE = "Sales pipeline"
SALES_TEAM = "Sales team"
SATISFACTION = "Customer satisfaction"
MARKETING = "Marketing"
CUSTOMERS = "Customers"

_RETENTION_PARTS = (f.CUSTOMERS_AT_START, f.CUSTOMERS_CHURNED_IN_WINDOW)

CATALOGUE: tuple[Kpi, ...] = (
    Kpi(
        "open_pipeline_value",
        "Open pipeline value",
        "Sum of the current amount of all open opportunities.",
        "currency",
        "team",
        (NOW,),
        SALES_PIPELINE,
        (p.OPEN_PIPELINE_MICRO,),
        f.total(p.OPEN_PIPELINE_MICRO, f.MICRO),
    ),
    Kpi(
        "lead_conversion_rate",
        "Lead conversion rate",
        "Of the leads created in the window, the share converted so far.",
        "ratio",
        "channel",
        ALL_WINDOWS,
        SALES_PIPELINE,
        (p.LEADS_CONVERTED, p.LEADS_CREATED),
        f.ratio(p.LEADS_CONVERTED, p.LEADS_CREATED),
    ),
    Kpi(
        "sales_cycle_days",
        "Sales cycle",
        "Mean days from creation to win of the opportunities won in the window.",
        "days",
        "team",
        ALL_WINDOWS,
        SALES_PIPELINE,
        (p.WON_CYCLE_US, p.OPPORTUNITIES_WON),
        f.SALES_CYCLE_DAYS,
    ),
    Kpi(
        "rep_activities",
        "Rep activities",
        "Calls, emails and meetings logged in the window.",
        "count",
        "rep",
        ALL_WINDOWS,
        SALES_TEAM,
        (p.ACTIVITIES,),
        f.total(p.ACTIVITIES),
    ),
    Kpi(
        "opportunity_creation_ratio",
        "Opportunity creation ratio",
        "Opportunities created in the window per lead first contacted in the window.",
        "ratio",
        "team",
        ALL_WINDOWS,
        SALES_TEAM,
        (p.OPPORTUNITIES_CREATED, p.LEADS_FIRST_CONTACTED),
        f.ratio(p.OPPORTUNITIES_CREATED, p.LEADS_FIRST_CONTACTED),
    ),
    Kpi(
        "customer_retention_rate",
        "Customer retention rate",
        "Of the customers active at the window start, the share not churned in the window.",
        "ratio",
        "segment",
        ALL_WINDOWS,
        CUSTOMERS,
        _RETENTION_PARTS,
        f.retention_rate,
    ),
    Kpi(
        "csat",
        "Customer satisfaction (CSAT)",
        "Share of CSAT responses in the window scoring 4 or 5.",
        "ratio",
        "team",
        ALL_WINDOWS,
        SATISFACTION,
        (p.CSAT_SATISFIED, p.CSAT_RESPONSES),
        f.ratio(p.CSAT_SATISFIED, p.CSAT_RESPONSES),
    ),
    Kpi(
        "resolution_time_hours",
        "Resolution time",
        "Mean hours from opening to first resolution of tickets first resolved in the window.",
        "hours",
        "team",
        ALL_WINDOWS,
        SATISFACTION,
        (p.RESOLUTION_US, p.TICKETS_FIRST_RESOLVED, *p.RESOLVED_WITHIN),
        f.RESOLUTION_TIME_HOURS,
    ),
    Kpi(
        "churn_rate",
        "Churn rate",
        "Of the customers active at the window start, the share churned in the window.",
        "ratio",
        "segment",
        ALL_WINDOWS,
        CUSTOMERS,
        _RETENTION_PARTS,
        f.churn_rate,
    ),
    Kpi(
        "marketing_conversion_rate",
        "Marketing conversion rate",
        "Of the leads created in the window, the share qualified so far.",
        "ratio",
        "channel",
        ALL_WINDOWS,
        MARKETING,
        (p.LEADS_QUALIFIED, p.LEADS_CREATED),
        f.ratio(p.LEADS_QUALIFIED, p.LEADS_CREATED),
    ),
    Kpi(
        "customer_acquisition_cost",
        "Customer acquisition cost (CAC)",
        "Marketing spend in the window per customer subscribed in the window.",
        "currency",
        "channel",
        ALL_WINDOWS,
        MARKETING,
        (p.SPEND_MICRO, p.CUSTOMERS_SUBSCRIBED),
        f.ratio(p.SPEND_MICRO, p.CUSTOMERS_SUBSCRIBED, scale=f.MICRO),
    ),
    Kpi(
        "marketing_roi",
        "Marketing ROI",
        "(Won amount of opportunities with that channel - spend) / spend, in the window.",
        "ratio",
        "channel",
        ALL_WINDOWS,
        MARKETING,
        (p.WON_AMOUNT_MICRO, p.SPEND_MICRO),
        f.marketing_roi,
    ),
    Kpi(
        "nps",
        "Net promoter score (NPS)",
        "100 x (share of 9-10 scores - share of 0-6 scores) of NPS responses in the window.",
        "nps",
        "segment",
        ALL_WINDOWS,
        SATISFACTION,
        (p.NPS_PROMOTERS, p.NPS_DETRACTORS, p.NPS_RESPONSES),
        f.nps,
    ),
    Kpi(
        "first_contact_resolution_rate",
        "First-contact resolution rate",
        "Of tickets first resolved in the window, the share with at most one agent reply "
        "and never reopened.",
        "ratio",
        "team",
        ALL_WINDOWS,
        SATISFACTION,
        (p.TICKETS_FIRST_CONTACT_RESOLVED, p.TICKETS_FIRST_RESOLVED),
        f.ratio(p.TICKETS_FIRST_CONTACT_RESOLVED, p.TICKETS_FIRST_RESOLVED),
    ),
    Kpi(
        "customer_lifetime_value",
        "Customer lifetime value (CLV)",
        "Mean current MRR x gross margin / 30-day churn rate.",
        "currency",
        "segment",
        ("30d",),
        CUSTOMERS,
        (p.MRR_MICRO, p.ACTIVE_CUSTOMERS, *_RETENTION_PARTS),
        f.customer_lifetime_value,
    ),
    Kpi(
        "win_rate",
        "Win rate",
        "Opportunities won in the window / (won + lost in the window).",
        "ratio",
        "team",
        ALL_WINDOWS,
        SALES_PIPELINE,
        (p.OPPORTUNITIES_WON, p.OPPORTUNITIES_LOST),
        f.ratio(p.OPPORTUNITIES_WON, p.OPPORTUNITIES_WON, p.OPPORTUNITIES_LOST),
    ),
    Kpi(
        "active_customers",
        "Active customers",
        "Customers subscribed and not churned.",
        "count",
        "segment",
        (NOW,),
        CUSTOMERS,
        (p.ACTIVE_CUSTOMERS,),
        f.total(p.ACTIVE_CUSTOMERS),
    ),
    Kpi(
        "mrr",
        "Monthly recurring revenue (MRR)",
        "Sum of the current MRR of active customers.",
        "currency",
        "segment",
        (NOW,),
        CUSTOMERS,
        (p.MRR_MICRO,),
        f.total(p.MRR_MICRO, f.MICRO),
    ),
)

KPIS_BY_NAME = {kpi.name: kpi for kpi in CATALOGUE}
