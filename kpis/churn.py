"""Per-customer churn signals (KPIS.md "Churn signals"): which customers are at risk.

Signal occurrences are parts keyed by customer in hour buckets, written by
whichever partition sees them (surveys, tickets) and combined at read time,
like every other part: no re-keying of the event stream.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from kpis.ledger import POINT, PartKey
from kpis.windows import HOUR_US, MONTH_WINDOW, Window

DETRACTOR_NPS = "detractor_nps"
LOW_CSAT = "low_csat"
REOPENED_TICKET = "reopened_ticket"
SLOW_RESOLUTION = "slow_resolution"
MANY_TICKETS = "many_tickets"
SIGNALS = (DETRACTOR_NPS, LOW_CSAT, REOPENED_TICKET, SLOW_RESOLUTION, MANY_TICKETS)
SIGNAL_WORDS = {
    DETRACTOR_NPS: "a detractor NPS score (0 to 6)",
    LOW_CSAT: "a CSAT score of 1 or 2",
    REOPENED_TICKET: "a reopened ticket",
    SLOW_RESOLUTION: "a first resolution over its priority's SLA",
    MANY_TICKETS: "many tickets opened",
}

SIGNAL_PART_PREFIX = "churn_signal:"
TICKETS_OPENED_PART = "churn_tickets_opened"
SEGMENT_PART_PREFIX = "customer_segment:"
SIGNAL_BUCKETS = (HOUR_US,)


def signal_part(signal: str) -> str:
    """The part counting one signal's occurrences per customer."""
    return SIGNAL_PART_PREFIX + signal


def segment_part(segment: str) -> str:
    """The point part marking an active customer (dimension) as a member of `segment`."""
    return SEGMENT_PART_PREFIX + segment


@dataclass(frozen=True)
class ChurnRules:
    """Signal rules and SLAs (configuration)."""

    window: Window = MONTH_WINDOW
    min_signals: int = 2
    tickets_opened: int = 3
    detractor_max_score: int = 6
    low_csat_max_score: int = 2
    sla_hours: dict[str, float] = field(
        default_factory=lambda: {"urgent": 4.0, "high": 24.0, "normal": 48.0, "low": 72.0}
    )

    def breaches_sla(self, priority: str, took_us: int) -> bool:
        """Whether a first resolution took longer than its priority's SLA."""
        hours = self.sla_hours.get(priority)
        return hours is not None and took_us > hours * HOUR_US


@dataclass(frozen=True)
class ChurnRisk:
    """An active customer with at least `min_signals` distinct signals in the window."""

    customer_id: str
    segment: str
    signals: tuple[str, ...]


def at_risk(
    values: dict[PartKey, int], watermark_us: int | None, rules: ChurnRules
) -> list[ChurnRisk]:
    """Active customers at risk, by customer id, from combined parts."""
    if watermark_us is None:
        return []
    first = rules.window.first_bucket(watermark_us)
    signals: defaultdict[str, set[str]] = defaultdict(set)
    tickets: defaultdict[str, int] = defaultdict(int)
    segments: dict[str, str] = {}
    for (part, customer, x, y), amount in values.items():
        if x == POINT:
            if part.startswith(SEGMENT_PART_PREFIX) and amount > 0:
                segments[customer] = part.removeprefix(SEGMENT_PART_PREFIX)
        elif x == rules.window.bucket_us and y >= first and amount > 0:
            if part == TICKETS_OPENED_PART:
                tickets[customer] += amount
            elif part.startswith(SIGNAL_PART_PREFIX):
                signals[customer].add(part.removeprefix(SIGNAL_PART_PREFIX))
    for customer, opened in tickets.items():
        if opened >= rules.tickets_opened:
            signals[customer].add(MANY_TICKETS)
    return [
        ChurnRisk(customer, segments[customer], tuple(sorted(found)))
        for customer, found in sorted(signals.items())
        if len(found) >= rules.min_signals and customer in segments
    ]


def at_risk_by_segment(risks: list[ChurnRisk]) -> dict[str, int]:
    """The at-risk gauge: how many customers are at risk per segment."""
    counts: dict[str, int] = {}
    for risk in risks:
        counts[risk.segment] = counts.get(risk.segment, 0) + 1
    return dict(sorted(counts.items()))


def risk_changes(
    previous: dict[str, ChurnRisk], current: list[ChurnRisk]
) -> list[tuple[ChurnRisk, bool]]:
    """What to announce: customers newly at risk or with other signals (True), recovered (False)."""
    now = {risk.customer_id: risk for risk in current}
    changed = [(risk, True) for risk in current if previous.get(risk.customer_id) != risk]
    recovered = [(risk, False) for cid, risk in previous.items() if cid not in now]
    return changed + recovered
