"""Names of the additive parts that KPI formulas read and event handlers write."""

from __future__ import annotations

# Current state (point parts, not windowed).
OPEN_PIPELINE_MICRO = "open_pipeline_micro"
ACTIVE_CUSTOMERS = "active_customers"
MRR_MICRO = "mrr_micro"
CURRENT_STATE_PARTS = (OPEN_PIPELINE_MICRO, ACTIVE_CUSTOMERS, MRR_MICRO)

# Retention cohorts (point parts, never expire): see formulas.retention_counts.
CUSTOMERS_ACQUIRED = "customers_acquired"  # keyed by acquisition minute
CUSTOMERS_CHURNED = "customers_churned"  # keyed by the pair (acquisition, churn minute)
# KPIS.md #6 and #9: S and L, derived per window from the retention cohorts.
CUSTOMERS_AT_START = "customers_at_window_start"
CUSTOMERS_CHURNED_IN_WINDOW = "customers_churned_in_window"

# Windowed parts (minute and hour buckets).
LEADS_CREATED = "leads_created"
LEADS_CONVERTED = "leads_converted"
LEADS_QUALIFIED = "leads_qualified"
LEADS_FIRST_CONTACTED = "leads_first_contacted"
OPPORTUNITIES_CREATED = "opportunities_created"
OPPORTUNITIES_WON = "opportunities_won"
OPPORTUNITIES_LOST = "opportunities_lost"
WON_CYCLE_US = "won_cycle_us"
WON_AMOUNT_MICRO = "won_amount_micro"  # by channel, of opportunities that have one
WON_AMOUNT_BY_REP_MICRO = "won_amount_by_rep_micro"
ACTIVITIES = "activities"
CUSTOMERS_SUBSCRIBED = "customers_subscribed"
SPEND_MICRO = "spend_micro"
TICKETS_FIRST_RESOLVED = "tickets_first_resolved"
RESOLUTION_US = "resolution_us"
TICKETS_FIRST_CONTACT_RESOLVED = "tickets_first_contact_resolved"
CSAT_RESPONSES = "csat_responses"
CSAT_SATISFIED = "csat_satisfied"
NPS_RESPONSES = "nps_responses"
NPS_PROMOTERS = "nps_promoters"
NPS_DETRACTORS = "nps_detractors"

# Resolution-time histogram: cumulative `le` buckets in hours (KPIS.md #8).
RESOLUTION_BOUNDS_HOURS = (1, 4, 8, 24, 48, 72, 168)


def resolved_within(bound_hours: int) -> str:
    """The part counting first resolutions that took at most `bound_hours`."""
    return f"tickets_resolved_within_{bound_hours}h"


# Event accounting (point parts): dimension "" or the rejection reason.
EVENTS_ACCEPTED = "events_accepted"
EVENTS_REJECTED = "events_rejected"
