"""Per-customer churn signals (KPIS.md "Churn signals"): which customers are at risk.

Signal occurrences are parts keyed by customer in hour buckets, written by
whichever partition sees them (surveys, tickets) and combined at read time,
like every other part: no re-keying of the event stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache

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

    def first_bucket(self, watermark_us: int | None) -> int | None:
        """The window's first bucket at a watermark (None: no watermark, no window)."""
        return None if watermark_us is None else self.window.first_bucket(watermark_us)

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


def is_customer_part(part: str) -> bool:
    """Whether a part is keyed by customer: read by `at_risk`, never summed per window."""
    return part.startswith((SIGNAL_PART_PREFIX, SEGMENT_PART_PREFIX)) or part == TICKETS_OPENED_PART


_SIGNAL_BITS = {signal: 1 << index for index, signal in enumerate(SIGNALS)}


@cache  # few part names, read for every customer part
def windowed_bit(part: str) -> int | None:
    """What a windowed customer part counts in a summary: its signal's bit in `signals`,
    0 for tickets opened (`tickets`), None for a part the summary does not read."""
    if part == TICKETS_OPENED_PART:
        return 0
    if part.startswith(SIGNAL_PART_PREFIX):
        return _SIGNAL_BITS.get(part.removeprefix(SIGNAL_PART_PREFIX))
    return None


@cache  # a few combinations of bits, named for every customer at risk on every read
def _signal_names(bits: int) -> tuple[str, ...]:
    return tuple(sorted(signal for signal, bit in _SIGNAL_BITS.items() if bits & bit))


@dataclass
class ChurnSummary:
    """What `at_risk` reads of some parts at one watermark: each active customer's segment,
    and per customer the signals (bits of `SIGNALS`) and tickets opened in the rules' window."""

    first: int | None  # the window's first bucket (`None`: no watermark, no window)
    bucket_us: int
    segments: dict[str, str] = field(default_factory=dict)
    signals: dict[str, int] = field(default_factory=dict)
    tickets: dict[str, int] = field(default_factory=dict)
    # Every amount read is positive and no customer has two segments: then summaries of
    # several partitions merge exactly into the summary of their combined parts.
    additive: bool = True

    @classmethod
    def empty(cls, watermark_us: int | None, rules: ChurnRules) -> ChurnSummary:
        return cls(rules.first_bucket(watermark_us), rules.window.bucket_us)

    def add(self, part: str, customer: str, x: int, y: int, amount: int) -> None:
        """Read one part (amounts not above zero are not read, as of combined parts)."""
        if x == POINT:
            if not part.startswith(SEGMENT_PART_PREFIX):
                return
            if amount <= 0 or customer in self.segments:
                self.additive = False
            if amount > 0:
                self.segments[customer] = part.removeprefix(SEGMENT_PART_PREFIX)
        elif x == self.bucket_us and self.first is not None and y >= self.first:
            bit = windowed_bit(part)
            if bit is None:
                return
            if amount <= 0:
                self.additive = False
            elif bit:
                self.signals[customer] = self.signals.get(customer, 0) | bit
            else:
                self.tickets[customer] = self.tickets.get(customer, 0) + amount


def summarize_churn(
    values: dict[PartKey, int], watermark_us: int | None, rules: ChurnRules
) -> ChurnSummary:
    """The churn inputs of `values`."""
    summary = ChurnSummary.empty(watermark_us, rules)
    if summary.first is not None:
        for (part, customer, x, y), amount in values.items():
            summary.add(part, customer, x, y, amount)
    return summary


def merge_churn(summaries: list[ChurnSummary]) -> ChurnSummary | None:
    """The summary of several partitions' combined parts; `None` when not additive."""
    if not summaries:
        return None
    total = replace(summaries[0], segments={}, signals={}, tickets={})
    for summary in summaries:
        if not summary.additive or not total.segments.keys().isdisjoint(summary.segments):
            return None
        total.segments.update(summary.segments)
        signals, tickets = total.signals, total.tickets
        for customer, bits in summary.signals.items():
            signals[customer] = signals.get(customer, 0) | bits
        for customer, opened in summary.tickets.items():
            tickets[customer] = tickets.get(customer, 0) + opened
    return total


def risks(summary: ChurnSummary, rules: ChurnRules) -> list[ChurnRisk]:
    """Active customers at risk, by customer id."""
    signals = dict(summary.signals)
    many = _SIGNAL_BITS[MANY_TICKETS]
    for customer, opened in summary.tickets.items():
        if opened >= rules.tickets_opened:
            signals[customer] = signals.get(customer, 0) | many
    segments, least = summary.segments, rules.min_signals
    found = [
        (customer, bits)
        for customer, bits in signals.items()
        if bits.bit_count() >= least and customer in segments
    ]
    found.sort()
    return [
        ChurnRisk(customer, segments[customer], _signal_names(bits)) for customer, bits in found
    ]


def at_risk(
    values: dict[PartKey, int], watermark_us: int | None, rules: ChurnRules
) -> list[ChurnRisk]:
    """Active customers at risk, by customer id, from combined parts."""
    return risks(summarize_churn(values, watermark_us, rules), rules)


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
