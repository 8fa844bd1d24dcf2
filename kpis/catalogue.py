"""The KPI catalogue: the one place each KPI is described.

Export, `/kpis`, rules, dashboards and the live page all read this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kpis import formulas as f
from kpis import metric_names as m
from kpis import parts as p
from kpis.units import UNITS, Currency, Unit
from kpis.windows import DAY_US, HOUR_US, MONTH, NOW, WINDOWS

ALL_WINDOWS = tuple(window.name for window in WINDOWS)
Direction = Literal["higher", "lower"]
HIGHER: Direction = "higher"
LOWER: Direction = "lower"


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
    formula: f.Formula
    better: Direction  # which way the KPI improves: goals' attainment, deltas' colours

    @property
    def parts(self) -> tuple[str, ...]:
        return self.formula.parts

    @property
    def quantiles(self) -> tuple[float, ...]:
        """The quantiles recorded of its distribution (a mean exported as a histogram)."""
        return self.formula.quantiles if isinstance(self.formula, f.HistogramMean) else ()

    def display(self, currency: Currency) -> Unit:
        """How its values are shown (page, Grafana, alert text), amounts in `currency`."""
        return UNITS[self.unit].priced(currency)

    @property
    def additive(self) -> bool:
        """A windowed count or sum: its value grows through a period (goals' pace applies)."""
        formula = self.formula
        return isinstance(formula, f.Total) and formula.point_window is None

    @property
    def metric(self) -> str:
        """Prometheus family name: unit-suffixed (`_ratio`, `_score`, `_days`, ...)."""
        return m.kpi_family(self.name, self.unit)


SALES_PIPELINE = "Sales pipeline"
SALES_TEAM = "Sales team"
SATISFACTION = "Customer satisfaction"
MARKETING = "Marketing"
CUSTOMERS = "Customers"

_CHURN = f.Ratio(p.CUSTOMERS_CHURNED_IN_WINDOW, p.CUSTOMERS_AT_START)

CATALOGUE: tuple[Kpi, ...] = (
    Kpi(
        "open_pipeline_value",
        "Open pipeline value",
        "Sum of the current amount of all open opportunities.",
        "currency",
        "team",
        (NOW,),
        SALES_PIPELINE,
        f.Total(p.OPEN_PIPELINE_MICRO, f.MICRO),
        HIGHER,
    ),
    Kpi(
        "lead_conversion_rate",
        "Lead conversion rate",
        "Of the leads created in the window, the share converted so far.",
        "ratio",
        "channel",
        ALL_WINDOWS,
        SALES_PIPELINE,
        f.Ratio(p.LEADS_CONVERTED, p.LEADS_CREATED),
        HIGHER,
    ),
    Kpi(
        "sales_cycle_days",
        "Sales cycle",
        "Mean days from creation to win of the opportunities won in the window.",
        "days",
        "team",
        ALL_WINDOWS,
        SALES_PIPELINE,
        f.Mean(p.WON_CYCLE_US, p.OPPORTUNITIES_WON, scale=DAY_US),
        LOWER,
    ),
    Kpi(
        "rep_activities",
        "Rep activities",
        "Calls, emails and meetings logged in the window.",
        "count",
        "rep",
        ALL_WINDOWS,
        SALES_TEAM,
        f.Total(p.ACTIVITIES),
        HIGHER,
    ),
    Kpi(
        "opportunity_creation_ratio",
        "Opportunity creation ratio",
        "Opportunities created in the window per lead first contacted in the window.",
        "ratio",
        "team",
        ALL_WINDOWS,
        SALES_TEAM,
        f.Ratio(p.OPPORTUNITIES_CREATED, p.LEADS_FIRST_CONTACTED),
        HIGHER,
    ),
    Kpi(
        "customer_retention_rate",
        "Customer retention rate",
        "Of the customers active at the window start, the share not churned in the window.",
        "ratio",
        "segment",
        ALL_WINDOWS,
        CUSTOMERS,
        f.Retention(p.CUSTOMERS_CHURNED_IN_WINDOW, p.CUSTOMERS_AT_START),
        HIGHER,
    ),
    Kpi(
        "csat",
        "Customer satisfaction (CSAT)",
        "Share of CSAT responses in the window scoring 4 or 5.",
        "ratio",
        "team",
        ALL_WINDOWS,
        SATISFACTION,
        f.Ratio(p.CSAT_SATISFIED, p.CSAT_RESPONSES),
        HIGHER,
    ),
    Kpi(
        "resolution_time_hours",
        "Resolution time",
        "Mean hours from opening to first resolution of tickets first resolved in the window.",
        "hours",
        "team",
        ALL_WINDOWS,
        SATISFACTION,
        f.HistogramMean(
            p.RESOLUTION_US,
            p.TICKETS_FIRST_RESOLVED,
            scale=HOUR_US,
            buckets=m.RESOLUTION_BUCKET,
            quantiles=(0.5, 0.9, 0.99),
        ),
        LOWER,
    ),
    Kpi(
        "churn_rate",
        "Churn rate",
        "Of the customers active at the window start, the share churned in the window.",
        "ratio",
        "segment",
        ALL_WINDOWS,
        CUSTOMERS,
        _CHURN,
        LOWER,
    ),
    Kpi(
        "marketing_conversion_rate",
        "Marketing conversion rate",
        "Of the leads created in the window, the share qualified so far.",
        "ratio",
        "channel",
        ALL_WINDOWS,
        MARKETING,
        f.Ratio(p.LEADS_QUALIFIED, p.LEADS_CREATED),
        HIGHER,
    ),
    Kpi(
        "customer_acquisition_cost",
        "Customer acquisition cost (CAC)",
        "Marketing spend in the window per customer subscribed in the window.",
        "currency",
        "channel",
        ALL_WINDOWS,
        MARKETING,
        f.Ratio(p.SPEND_MICRO, p.CUSTOMERS_SUBSCRIBED, scale=f.MICRO),
        LOWER,
    ),
    Kpi(
        "marketing_roi",
        "Marketing ROI",
        "(Won amount of opportunities with that channel - spend) / spend, in the window.",
        "ratio",
        "channel",
        ALL_WINDOWS,
        MARKETING,
        f.ReturnOnSpend(p.WON_AMOUNT_MICRO, p.SPEND_MICRO),
        HIGHER,
    ),
    Kpi(
        "nps",
        "Net promoter score (NPS)",
        "100 x (share of 9-10 scores - share of 0-6 scores) of NPS responses in the window.",
        "nps",
        "segment",
        ALL_WINDOWS,
        SATISFACTION,
        f.NetScore(p.NPS_PROMOTERS, p.NPS_DETRACTORS, p.NPS_RESPONSES),
        HIGHER,
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
        f.Ratio(p.TICKETS_FIRST_CONTACT_RESOLVED, p.TICKETS_FIRST_RESOLVED),
        HIGHER,
    ),
    Kpi(
        "customer_lifetime_value",
        "Customer lifetime value (CLV)",
        "Mean current MRR x gross margin / 30-day churn rate.",
        "currency",
        "segment",
        (MONTH,),
        CUSTOMERS,
        f.LifetimeValue(p.MRR_MICRO, p.ACTIVE_CUSTOMERS, _CHURN, "churn_rate"),
        HIGHER,
    ),
    Kpi(
        "win_rate",
        "Win rate",
        "Opportunities won in the window / (won + lost in the window).",
        "ratio",
        "team",
        ALL_WINDOWS,
        SALES_PIPELINE,
        f.Share(p.OPPORTUNITIES_WON, p.OPPORTUNITIES_LOST),
        HIGHER,
    ),
    Kpi(
        "won_amount",
        "Won amount",
        "Sum of the final amount of opportunities won in the window (what quotas are on).",
        "currency",
        "rep",
        ALL_WINDOWS,
        SALES_TEAM,
        f.Total(p.WON_AMOUNT_BY_REP_MICRO, f.MICRO),
        HIGHER,
    ),
    Kpi(
        "active_customers",
        "Active customers",
        "Customers subscribed and not churned.",
        "count",
        "segment",
        (NOW,),
        CUSTOMERS,
        f.Total(p.ACTIVE_CUSTOMERS),
        HIGHER,
    ),
    Kpi(
        "mrr",
        "Monthly recurring revenue (MRR)",
        "Sum of the current MRR of active customers.",
        "currency",
        "segment",
        (NOW,),
        CUSTOMERS,
        f.Total(p.MRR_MICRO, f.MICRO),
        HIGHER,
    ),
)

KPIS_BY_NAME = {kpi.name: kpi for kpi in CATALOGUE}
