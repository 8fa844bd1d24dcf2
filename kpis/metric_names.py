"""Every Prometheus family crmkpi exports or records, named once.

The exposition writes these families; the recording, alerting and health rules
and the dashboards read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from kpis import parts as p

PREFIX = "crmkpi_"


@dataclass(frozen=True)
class PartFamily:
    """How an additive part is exported: family name, the dimension it is labelled with,
    help, and the divisor to base units."""

    name: str
    dimension: str
    documentation: str
    divisor: int = 1


_MICRO = 1_000_000

# The exported part families; the resolution-time parts are one histogram instead.
PART_FAMILIES: dict[str, PartFamily] = {
    p.OPEN_PIPELINE_MICRO: PartFamily(
        "crmkpi_open_pipeline_amount", "team", "Current amount of open opportunities.", _MICRO
    ),
    p.ACTIVE_CUSTOMERS: PartFamily(
        "crmkpi_customers_active", "segment", "Customers subscribed and not churned."
    ),
    p.MRR_MICRO: PartFamily(
        "crmkpi_mrr_amount", "segment", "Current MRR of active customers.", _MICRO
    ),
    p.LEADS_CREATED: PartFamily("crmkpi_leads_created", "channel", "Leads created in the window."),
    p.LEADS_CONVERTED: PartFamily(
        "crmkpi_leads_created_converted",
        "channel",
        "Leads created in the window and converted since.",
    ),
    p.LEADS_QUALIFIED: PartFamily(
        "crmkpi_leads_created_qualified",
        "channel",
        "Leads created in the window and qualified since.",
    ),
    p.LEADS_FIRST_CONTACTED: PartFamily(
        "crmkpi_leads_first_contacted", "team", "Leads first contacted in the window."
    ),
    p.OPPORTUNITIES_CREATED: PartFamily(
        "crmkpi_opportunities_created", "team", "Opportunities created in the window."
    ),
    p.OPPORTUNITIES_WON: PartFamily(
        "crmkpi_opportunities_won", "team", "Opportunities won in the window."
    ),
    p.OPPORTUNITIES_LOST: PartFamily(
        "crmkpi_opportunities_lost", "team", "Opportunities lost in the window."
    ),
    p.WON_CYCLE_US: PartFamily(
        "crmkpi_opportunities_won_cycle_seconds",
        "team",
        "Sum of creation-to-win time of opportunities won in the window.",
        _MICRO,
    ),
    p.WON_AMOUNT_MICRO: PartFamily(
        "crmkpi_opportunities_won_amount",
        "channel",
        "Final amount of opportunities with a channel won in the window.",
        _MICRO,
    ),
    p.WON_AMOUNT_BY_REP_MICRO: PartFamily(
        "crmkpi_rep_won_amount",
        "rep",
        "Final amount of opportunities won in the window, by the opportunity's rep.",
        _MICRO,
    ),
    p.ACTIVITIES: PartFamily("crmkpi_activities_logged", "rep", "Activities logged in the window."),
    p.CUSTOMERS_SUBSCRIBED: PartFamily(
        "crmkpi_customers_subscribed", "channel", "Customers subscribed in the window."
    ),
    p.SPEND_MICRO: PartFamily(
        "crmkpi_marketing_spend_amount", "channel", "Marketing spend in the window.", _MICRO
    ),
    p.TICKETS_FIRST_CONTACT_RESOLVED: PartFamily(
        "crmkpi_tickets_first_contact_resolved",
        "team",
        "Tickets first resolved in the window with at most one agent reply and never reopened.",
    ),
    p.CSAT_RESPONSES: PartFamily("crmkpi_csat_responses", "team", "CSAT responses in the window."),
    p.CSAT_SATISFIED: PartFamily(
        "crmkpi_csat_satisfied_responses", "team", "CSAT responses in the window scoring 4 or 5."
    ),
    p.NPS_RESPONSES: PartFamily("crmkpi_nps_responses", "segment", "NPS responses in the window."),
    p.NPS_PROMOTERS: PartFamily(
        "crmkpi_nps_promoters", "segment", "NPS responses in the window scoring 9 or 10."
    ),
    p.NPS_DETRACTORS: PartFamily(
        "crmkpi_nps_detractors", "segment", "NPS responses in the window scoring 0 to 6."
    ),
    p.CUSTOMERS_AT_START: PartFamily(
        "crmkpi_customers_at_window_start",
        "segment",
        "Customers acquired before the window start and not churned before it.",
    ),
    p.CUSTOMERS_CHURNED_IN_WINDOW: PartFamily(
        "crmkpi_customers_churned_in_window",
        "segment",
        "Of those, the customers churned in the window.",
    ),
}

RESOLUTION_HISTOGRAM = "crmkpi_ticket_resolution_seconds"
RESOLUTION_BUCKET = f"{RESOLUTION_HISTOGRAM}_bucket"
# The parts the histogram's `_sum` and `_count` carry, as PromQL reads them.
HISTOGRAM_PARTS = {
    p.RESOLUTION_US: PartFamily(f"{RESOLUTION_HISTOGRAM}_sum", "team", "", _MICRO),
    p.TICKETS_FIRST_RESOLVED: PartFamily(f"{RESOLUTION_HISTOGRAM}_count", "team", ""),
}

EVENTS_ACCEPTED = "crmkpi_events_accepted"
EVENTS_REJECTED = "crmkpi_events_rejected"
CONSUMER_LAG = "crmkpi_consumer_lag_records"
WATERMARK = "crmkpi_watermark_timestamp_seconds"
WATERMARK_LAG = "crmkpi_watermark_lag_seconds"  # wall clock minus watermark, at the read
GROSS_MARGIN = "crmkpi_gross_margin"
CUSTOMERS_AT_RISK = "crmkpi_customers_at_risk"
PARTITIONS_ASSIGNED = "crmkpi_partitions_assigned"
REBALANCES = "crmkpi_rebalances"
PARTITIONS_RESUMED = "crmkpi_partitions_resumed"  # found lagging without progress, read again
LAST_FLUSH = "crmkpi_last_flush_timestamp_seconds"
PROCESSING_ERRORS = "crmkpi_processing_errors"
DEAD_LETTERS_WRITTEN = "crmkpi_dead_letters_written"
STATE_ENTRIES = "crmkpi_state_entries"  # by kind: event_ids, leads, ..., parts
RECOVERY_SECONDS = "crmkpi_recovery_seconds"  # the worker's last recovery of assigned partitions
RECOVERY_BYTES = "crmkpi_recovery_bytes"
INGEST_REQUESTS = "crmkpi_ingest_requests"  # by source and outcome, refused ones included
REVIEWS_SENT = "crmkpi_reviews_sent"  # periodic reviews by channel and outcome (sent, failed)
INGEST_ITEMS = "crmkpi_ingest_items"  # changes received, by source, kind and result

GOAL_TARGET = "crmkpi_goal_target"  # by kpi, window and the goal's dimension value
PERIOD_START = "crmkpi_period_start_timestamp_seconds"  # of the calendar windows mtd, qtd
PERIOD_END = "crmkpi_period_end_timestamp_seconds"

HEALTH_KPI = "crmkpi_health"
"""The `kpi` label of the alerts on crmkpi's own health."""
NOTIFICATIONS_FAILED = "alertmanager_notifications_failed_total"
"""Alertmanager's own counter of notifications its receivers failed to deliver."""


def counter_total(counter: str) -> str:
    """The sample name of a counter family (prometheus_client appends `_total`)."""
    return f"{counter}_total"


def promql_family(part: str) -> PartFamily:
    """The family PromQL reads for a part: its exported gauge or the histogram's sum/count."""
    return HISTOGRAM_PARTS.get(part) or PART_FAMILIES[part]


def kpi_family(name: str, unit: str) -> str:
    """A KPI's exported family: unit-suffixed (`_ratio`, `_score`, `_days`, ...)."""
    suffix = {"ratio": "_ratio", "nps": "_score"}.get(unit, "")
    base = name.removesuffix("_rate").removesuffix("_ratio") if suffix else name
    return f"{PREFIX}{base}{suffix}"


def recorded(level: str, kpi: str, operation: str) -> str:
    """A recording rule's series: `level:crmkpi_<kpi>:operation` (Prometheus' convention)."""
    return f"{level}:{PREFIX}{kpi}:{operation}"
