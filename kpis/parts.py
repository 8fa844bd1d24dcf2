"""Names of the additive parts that KPI formulas read and event handlers write."""

from __future__ import annotations

# Current state (point parts, not windowed).
OPEN_PIPELINE_MICRO = "open_pipeline_micro"
ACTIVE_CUSTOMERS = "active_customers"
MRR_MICRO = "mrr_micro"

# Retention cohorts (point parts keyed by minute, never expire): see formulas.retention_counts.
CUSTOMERS_ACQUIRED = "customers_acquired"
CHURNED_BY_ACQUISITION = "customers_churned_by_acquisition"
CHURNED_BY_LATER_OF = "customers_churned_by_later_of"

# Windowed parts (minute and hour buckets).
LEADS_CREATED = "leads_created"
LEADS_CONVERTED = "leads_converted"
LEADS_QUALIFIED = "leads_qualified"
LEADS_FIRST_CONTACTED = "leads_first_contacted"
OPPORTUNITIES_CREATED = "opportunities_created"
OPPORTUNITIES_WON = "opportunities_won"
OPPORTUNITIES_LOST = "opportunities_lost"
WON_CYCLE_US = "won_cycle_us"
WON_AMOUNT_MICRO = "won_amount_micro"
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


RESOLVED_WITHIN = tuple(resolved_within(bound) for bound in RESOLUTION_BOUNDS_HOURS)

# Event accounting (point parts): dimension "" or the rejection reason.
EVENTS_ACCEPTED = "events_accepted"
EVENTS_REJECTED = "events_rejected"


# How each part is exported to Prometheus: family name, help, and the divisor to base units.
# Histogram parts (resolution) are exported as one histogram family instead.
EXPORTED_PARTS: dict[str, tuple[str, str, int]] = {
    OPEN_PIPELINE_MICRO: (
        "crmkpi_open_pipeline_amount",
        "Current amount of open opportunities.",
        1_000_000,
    ),
    ACTIVE_CUSTOMERS: ("crmkpi_customers_active", "Customers subscribed and not churned.", 1),
    MRR_MICRO: ("crmkpi_mrr_amount", "Current MRR of active customers.", 1_000_000),
    LEADS_CREATED: ("crmkpi_leads_created", "Leads created in the window.", 1),
    LEADS_CONVERTED: (
        "crmkpi_leads_created_converted",
        "Leads created in the window and converted since.",
        1,
    ),
    LEADS_QUALIFIED: (
        "crmkpi_leads_created_qualified",
        "Leads created in the window and qualified since.",
        1,
    ),
    LEADS_FIRST_CONTACTED: (
        "crmkpi_leads_first_contacted",
        "Leads first contacted in the window.",
        1,
    ),
    OPPORTUNITIES_CREATED: (
        "crmkpi_opportunities_created",
        "Opportunities created in the window.",
        1,
    ),
    OPPORTUNITIES_WON: ("crmkpi_opportunities_won", "Opportunities won in the window.", 1),
    OPPORTUNITIES_LOST: ("crmkpi_opportunities_lost", "Opportunities lost in the window.", 1),
    WON_CYCLE_US: (
        "crmkpi_opportunities_won_cycle_seconds",
        "Sum of creation-to-win time of opportunities won in the window.",
        1_000_000,
    ),
    WON_AMOUNT_MICRO: (
        "crmkpi_opportunities_won_amount",
        "Final amount of opportunities with a channel won in the window.",
        1_000_000,
    ),
    ACTIVITIES: ("crmkpi_activities_logged", "Activities logged in the window.", 1),
    CUSTOMERS_SUBSCRIBED: ("crmkpi_customers_subscribed", "Customers subscribed in the window.", 1),
    SPEND_MICRO: ("crmkpi_marketing_spend_amount", "Marketing spend in the window.", 1_000_000),
    TICKETS_FIRST_CONTACT_RESOLVED: (
        "crmkpi_tickets_first_contact_resolved",
        "Tickets first resolved in the window with at most one agent reply and never reopened.",
        1,
    ),
    CSAT_RESPONSES: ("crmkpi_csat_responses", "CSAT responses in the window.", 1),
    CSAT_SATISFIED: (
        "crmkpi_csat_satisfied_responses",
        "CSAT responses in the window scoring 4 or 5.",
        1,
    ),
    NPS_RESPONSES: ("crmkpi_nps_responses", "NPS responses in the window.", 1),
    NPS_PROMOTERS: ("crmkpi_nps_promoters", "NPS responses in the window scoring 9 or 10.", 1),
    NPS_DETRACTORS: ("crmkpi_nps_detractors", "NPS responses in the window scoring 0 to 6.", 1),
}
