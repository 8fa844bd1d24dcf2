"""Independent reference implementation of EVENTS.md and KPIS.md, for tests only.

Written straight from the specs, importing nothing from `kpis/` or `streams/`, so
that comparing the monitor's `/kpis` snapshot with it checks the system against
the spec rather than against itself. Clarity over speed: the log is replayed
into plain entity records, then every KPI is recomputed from them one window at
a time with exact arithmetic (integer microseconds, Fractions), turned into a
float only at the very end.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

Labels = tuple[tuple[str, str], ...]
SeriesKey = tuple[str, str, Labels]
Value = float | None

OVERALL: Labels = ()
MICROS = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE_US = 3600 * MICROS
NOW = "now"

# EVENTS.md "Rejection reasons", in precedence order: those found from the event alone,
# then those found against the state.
EVENT_REASONS = ("invalid_json", "schema", "future_timestamp")
STATE_REASONS = ("too_late", "duplicate", "unknown_entity", "invalid_transition")
REASONS = EVENT_REASONS + STATE_REASONS

# KPIS.md "State retention": the grace period G, and how near `T - G` a re-delivery may be
# judged either `duplicate` or `too_late` (KPIS.md allows both there).
DAY_US = 86_400 * MICROS
GRACE_DAYS = 35
BOUNDARY_MARGIN_US = 3600 * MICROS
# EVENTS.md "Topics and keys": keyed by entity on the domain's topic; Kafka's default
# partitioner, 6 partitions unless configured otherwise.
PARTITIONS = 6

# (name, bucket seconds g, number of buckets n), KPIS.md "Time".
WINDOW_SIZES = (("1h", 60, 60), ("24h", 60, 1440), ("7d", 3600, 168), ("30d", 3600, 720))
PREVIOUS_OF = ("24h", "7d", "30d")  # windows with a `prev_` window

HISTOGRAM_BOUNDS_HOURS = (1, 4, 8, 24, 48, 72, 168)
HISTOGRAM_LE = (*(str(bound) for bound in HISTOGRAM_BOUNDS_HOURS), "+Inf")


# --- Schema (EVENTS.md "Types and their fields") -------------------------------------------

Check = Callable[[object], bool]


def _text(value: object) -> bool:
    """Identifiers and dimension values: non-empty strings."""
    return isinstance(value, str) and value != ""


def _amount(value: object) -> bool:
    """Money: a JSON number (never a boolean), finite and >= 0."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    return isinstance(value, float) and math.isfinite(value) and value >= 0


def _one_of(*allowed: str) -> Check:
    return lambda value: isinstance(value, str) and value in allowed


def _integer_in(low: int, high: int) -> Check:
    return lambda value: (
        isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    )


REQUIRED = True
OPTIONAL = False

# type -> (entity key, {field: (check, required)})
SCHEMAS: dict[str, tuple[str, dict[str, tuple[Check, bool]]]] = {
    "lead.created": ("lead_id", {"channel": (_text, REQUIRED), "campaign_id": (_text, OPTIONAL)}),
    "lead.contacted": ("lead_id", {"rep": (_text, REQUIRED), "team": (_text, REQUIRED)}),
    "lead.qualified": ("lead_id", {}),
    "lead.converted": ("lead_id", {"customer_id": (_text, OPTIONAL)}),
    "opportunity.created": (
        "opportunity_id",
        {
            "amount": (_amount, REQUIRED),
            "stage": (_text, REQUIRED),
            "rep": (_text, REQUIRED),
            "team": (_text, REQUIRED),
            "channel": (_text, OPTIONAL),
            "lead_id": (_text, OPTIONAL),
        },
    ),
    "opportunity.stage_changed": (
        "opportunity_id",
        {"stage": (_text, REQUIRED), "amount": (_amount, OPTIONAL)},
    ),
    "opportunity.won": ("opportunity_id", {"amount": (_amount, OPTIONAL)}),
    "opportunity.lost": ("opportunity_id", {"reason": (_text, OPTIONAL)}),
    "activity.logged": (
        "activity_id",
        {
            "kind": (_text, REQUIRED),
            "rep": (_text, REQUIRED),
            "team": (_text, REQUIRED),
            "lead_id": (_text, OPTIONAL),
            "opportunity_id": (_text, OPTIONAL),
        },
    ),
    "customer.subscribed": (
        "customer_id",
        {"segment": (_text, REQUIRED), "channel": (_text, REQUIRED), "mrr": (_amount, REQUIRED)},
    ),
    "customer.renewed": ("customer_id", {"mrr": (_amount, OPTIONAL)}),
    "customer.churned": ("customer_id", {"reason": (_text, OPTIONAL)}),
    "ticket.opened": (
        "ticket_id",
        {
            "customer_id": (_text, OPTIONAL),
            "team": (_text, REQUIRED),
            "priority": (_one_of("low", "normal", "high", "urgent"), REQUIRED),
        },
    ),
    "ticket.replied": ("ticket_id", {"author": (_one_of("agent", "customer"), REQUIRED)}),
    "ticket.resolved": ("ticket_id", {}),
    "ticket.reopened": ("ticket_id", {}),
    "survey.csat": (
        "response_id",
        {
            "score": (_integer_in(1, 5), REQUIRED),
            "team": (_text, REQUIRED),
            "customer_id": (_text, OPTIONAL),
            "ticket_id": (_text, OPTIONAL),
        },
    ),
    "survey.nps": (
        "response_id",
        {
            "score": (_integer_in(0, 10), REQUIRED),
            "segment": (_text, REQUIRED),
            "customer_id": (_text, OPTIONAL),
        },
    ),
    "marketing.spend": (
        "spend_id",
        {
            "channel": (_text, REQUIRED),
            "amount": (_amount, REQUIRED),
            "campaign_id": (_text, OPTIONAL),
        },
    ),
}


class Rejection(Exception):
    """An event refused for `reason` (one of REASONS); it changes nothing."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Event:
    """A schema-valid event; `fields` holds the type's fields that are present and not null."""

    event_id: str
    type: str
    key: str
    at: int  # occurred_at, integer microseconds since the Unix epoch
    fields: dict[str, Any]


def to_micros(moment: datetime) -> int:
    """Exact integer microseconds since the Unix epoch of an aware datetime."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def parse_time(value: object) -> datetime | None:
    """The agreed RFC 3339 rule: fromisoformat after `Z` -> `+00:00`; naive times refused."""
    if not isinstance(value, str):
        return None
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        return None
    return moment


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"{text} is out of range")
    return number


def _check_encodable(value: object) -> None:
    """Raises UnicodeEncodeError on a lone surrogate, which is not valid UTF-8 text."""
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, dict):
        for key, item in value.items():
            key.encode("utf-8")
            _check_encodable(item)
    elif isinstance(value, list):
        for item in value:
            _check_encodable(item)


def load_json(text: str) -> object:
    """Strict JSON (as orjson reads it): no NaN/Infinity, no overflowing number, valid UTF-8."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
        _check_encodable(value)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeError are ValueErrors
        raise Rejection("invalid_json") from None
    return value


def parse_event(document: object) -> Event:
    """The envelope and the fields of the event's type, or Rejection("schema")."""
    if not isinstance(document, dict):
        raise Rejection("schema")
    event_id = document.get("event_id")
    if not (isinstance(event_id, str) and 1 <= len(event_id) <= 128):
        raise Rejection("schema")
    event_type = document.get("type")
    if not isinstance(event_type, str) or event_type not in SCHEMAS:
        raise Rejection("schema")
    occurred_at = parse_time(document.get("occurred_at"))
    if occurred_at is None:
        raise Rejection("schema")
    source = document.get("source")
    if source is not None and not isinstance(source, str):
        raise Rejection("schema")
    version = document.get("schema_version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise Rejection("schema")
    key_name, rules = SCHEMAS[event_type]
    key = document.get(key_name)
    if not _text(key):
        raise Rejection("schema")
    fields: dict[str, Any] = {}
    for name, (check, required) in rules.items():
        value = document.get(name)
        if value is None:  # an optional field given as null counts as absent
            if required:
                raise Rejection("schema")
            continue
        if not check(value):
            raise Rejection("schema")
        fields[name] = value
    try:
        at = to_micros(occurred_at)
    except OverflowError:
        raise Rejection("schema") from None
    return Event(event_id, event_type, str(key), at, fields)


# --- Entity state (KPIS.md "Entity state") -------------------------------------------------


@dataclass
class Lead:
    channel: str
    created_at: int
    first_contacted_at: int | None = None
    first_contact_team: str | None = None
    qualified: bool = False
    converted: bool = False
    last_at: int = 0  # the latest occurred_at of the events applied to it


@dataclass
class Opportunity:
    amount: Fraction
    stage: str
    rep: str
    team: str
    channel: str | None
    created_at: int
    outcome: str | None = None  # "won" or "lost" once closed
    closed_at: int | None = None
    last_at: int = 0


@dataclass
class Customer:
    segment: str
    channel: str
    mrr: Fraction
    acquired_at: int
    churned_at: int | None = None
    last_at: int = 0


@dataclass
class Ticket:
    team: str
    opened_at: int
    resolved: bool = False
    first_resolved_at: int | None = None
    agent_replies: int = 0  # before the first resolution, frozen by it
    reopened: bool = False
    last_at: int = 0


@dataclass(frozen=True)
class Activity:
    rep: str
    at: int


@dataclass(frozen=True)
class Survey:
    dimension_value: str  # team for CSAT, segment for NPS
    score: int
    at: int


@dataclass(frozen=True)
class Spend:
    channel: str
    amount: Fraction
    at: int


Record = Lead | Opportunity | Customer | Ticket
R = TypeVar("R", Lead, Opportunity, Customer, Ticket)


def _closed(record: Record) -> bool:
    """KPIS.md "State retention": won or lost, converted, churned, resolved (not reopened)."""
    if isinstance(record, Lead):
        return record.converted
    if isinstance(record, Opportunity):
        return record.outcome is not None
    if isinstance(record, Customer):
        return record.churned_at is not None
    return record.resolved


@dataclass
class CrmState:
    """Everything the accepted events established, in log order."""

    leads: dict[str, Lead] = field(default_factory=dict)
    opportunities: dict[str, Opportunity] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    activities: list[Activity] = field(default_factory=list)
    csat: list[Survey] = field(default_factory=list)
    nps: list[Survey] = field(default_factory=list)
    spend: list[Spend] = field(default_factory=list)
    contact_teams: set[str] = field(default_factory=set)
    forgotten: dict[type, list[Any]] = field(default_factory=dict)  # still counted in KPIs

    def ever(self, kind: type[R]) -> list[R]:
        """Every record of a kind ever created, forgotten ones included: forgetting changes
        no KPI."""
        live: dict[str, R] = self._records(kind.__name__.lower()) or {}
        return [*live.values(), *self.forgotten.get(kind, [])]

    def _records(self, domain: str) -> dict[str, Any] | None:
        """The live records of a domain's entities; None for activities, surveys, spend."""
        by_domain: dict[str, dict[str, Any]] = {
            "lead": self.leads,
            "opportunity": self.opportunities,
            "customer": self.customers,
            "ticket": self.tickets,
        }
        return by_domain.get(domain)

    def held(self, domain: str, key: str, limit: int | None) -> Any:
        """The live record of an entity, or None; a closed one whose latest event is older
        than `limit` (T - G) is forgotten here, at the moment an event about it is judged."""
        records = self._records(domain)
        if records is None:
            return None
        record = records.get(key)
        if record is None or limit is None or record.last_at >= limit or not _closed(record):
            return record
        del records[key]
        self.forgotten.setdefault(type(record), []).append(record)
        return None

    def touch(self, domain: str, key: str, at: int) -> Any:
        """After an applied event: the record it was about (None for none), its time kept."""
        records = self._records(domain)
        if records is None:
            return None
        record = records[key]
        record.last_at = max(record.last_at, at)
        return record

    def apply(self, event: Event) -> None:
        """Applies a fresh event, or raises unknown_entity / invalid_transition changing nothing."""
        domain = event.type.split(".")[0]
        if domain == "lead":
            self._apply_lead(event)
        elif domain == "opportunity":
            self._apply_opportunity(event)
        elif domain == "customer":
            self._apply_customer(event)
        elif domain == "ticket":
            self._apply_ticket(event)
        elif event.type == "activity.logged":
            self.activities.append(Activity(event.fields["rep"], event.at))
        elif event.type == "survey.csat":
            self.csat.append(Survey(event.fields["team"], event.fields["score"], event.at))
        elif event.type == "survey.nps":
            self.nps.append(Survey(event.fields["segment"], event.fields["score"], event.at))
        else:
            amount = Fraction(event.fields["amount"])
            self.spend.append(Spend(event.fields["channel"], amount, event.at))

    def _apply_lead(self, event: Event) -> None:
        lead = self.leads.get(event.key)
        if event.type == "lead.created":
            if lead is not None:
                raise Rejection("invalid_transition")
            self.leads[event.key] = Lead(event.fields["channel"], event.at)
            return
        if lead is None:
            raise Rejection("unknown_entity")
        if event.type == "lead.contacted":
            self.contact_teams.add(event.fields["team"])
            if lead.first_contacted_at is None:  # later contacts change nothing
                lead.first_contacted_at = event.at
                lead.first_contact_team = event.fields["team"]
        elif event.type == "lead.qualified":
            if lead.qualified:
                raise Rejection("invalid_transition")
            lead.qualified = True
        else:
            if lead.converted:
                raise Rejection("invalid_transition")
            lead.converted = True

    def _apply_opportunity(self, event: Event) -> None:
        opportunity = self.opportunities.get(event.key)
        fields = event.fields
        if event.type == "opportunity.created":
            if opportunity is not None:
                raise Rejection("invalid_transition")
            self.opportunities[event.key] = Opportunity(
                amount=Fraction(fields["amount"]),
                stage=fields["stage"],
                rep=fields["rep"],
                team=fields["team"],
                channel=fields.get("channel"),
                created_at=event.at,
            )
            return
        if opportunity is None:
            raise Rejection("unknown_entity")
        if opportunity.outcome is not None:
            raise Rejection("invalid_transition")
        if "amount" in fields:
            opportunity.amount = Fraction(fields["amount"])
        if event.type == "opportunity.stage_changed":
            opportunity.stage = fields["stage"]
        else:
            opportunity.outcome = "won" if event.type == "opportunity.won" else "lost"
            opportunity.closed_at = event.at

    def _apply_customer(self, event: Event) -> None:
        customer = self.customers.get(event.key)
        fields = event.fields
        if event.type == "customer.subscribed":
            if customer is not None:  # also a churned one: no re-subscription
                raise Rejection("invalid_transition")
            self.customers[event.key] = Customer(
                fields["segment"], fields["channel"], Fraction(fields["mrr"]), event.at
            )
            return
        if customer is None:
            raise Rejection("unknown_entity")
        if customer.churned_at is not None:
            raise Rejection("invalid_transition")
        if event.type == "customer.renewed":
            if "mrr" in fields:
                customer.mrr = Fraction(fields["mrr"])
        else:
            customer.churned_at = event.at

    def _apply_ticket(self, event: Event) -> None:
        ticket = self.tickets.get(event.key)
        if event.type == "ticket.opened":
            if ticket is not None:
                raise Rejection("invalid_transition")
            self.tickets[event.key] = Ticket(event.fields["team"], event.at)
            return
        if ticket is None:
            raise Rejection("unknown_entity")
        if event.type == "ticket.replied":
            if ticket.resolved:  # the CRM sends `reopened` first
                raise Rejection("invalid_transition")
            if event.fields["author"] == "agent" and ticket.first_resolved_at is None:
                ticket.agent_replies += 1
        elif event.type == "ticket.resolved":
            if ticket.resolved:
                raise Rejection("invalid_transition")
            ticket.resolved = True
            if ticket.first_resolved_at is None:
                ticket.first_resolved_at = event.at
        else:
            if not ticket.resolved:
                raise Rejection("invalid_transition")
            ticket.resolved = False
            ticket.reopened = True


# --- Windows (KPIS.md "Time") --------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """One KPI window: the events at or after `start` and before `end` (None: up to T)."""

    name: str
    start: int  # microseconds
    end: int | None = None

    def contains(self, at: int) -> bool:
        return at >= self.start and (self.end is None or at < self.end)


def _sliding(name: str, bucket_seconds: int, buckets: int, watermark: int, back: int) -> Window:
    """`n` buckets of `g` seconds ending `back` windows before T's bucket (KPIS.md)."""
    g = bucket_seconds * MICROS
    last = watermark // g - back * buckets  # floor, also before 1970
    end = None if back == 0 else (last + 1) * g
    return Window(name, (last - buckets + 1) * g, end)


def _local_midnight(year: int, month: int, zone: ZoneInfo) -> int:
    """The first instant of the month's first day in `zone`."""
    return to_micros(datetime(year, month, 1, tzinfo=zone))


def _calendar(name: str, months: int, watermark: int, zone: ZoneInfo) -> Window:
    """The calendar month (quarter) containing T: from the local midnight that starts it
    (the next one, when T lies in an hour repeated just after it)."""
    local = from_micros(watermark).astimezone(zone)
    month = local.month - (local.month - 1) % months
    start = _local_midnight(local.year, month, zone)
    following = month + months
    after = _local_midnight(local.year + (following > 12), (following - 1) % 12 + 1, zone)
    return Window(name, after if after <= watermark else start)


def windows_at(watermark: int, zone: ZoneInfo) -> list[Window]:
    """Every window of KPIS.md at T: sliding, previous, then calendar windows."""
    current = [_sliding(name, g, n, watermark, 0) for name, g, n in WINDOW_SIZES]
    previous = [
        _sliding(f"prev_{name}", g, n, watermark, 1)
        for name, g, n in WINDOW_SIZES
        if name in PREVIOUS_OF
    ]
    calendar = [_calendar("mtd", 1, watermark, zone), _calendar("qtd", 3, watermark, zone)]
    return [*current, *previous, *calendar]


# --- KPI formulas (KPIS.md "The KPIs") -----------------------------------------------------

Series = dict[Labels, Value]


def _groups(dimension: str, value: str | None) -> list[Labels]:
    """The series an item counts towards: overall, and its own dimension value if it has one."""
    return [OVERALL] if value is None else [OVERALL, ((dimension, value),)]


def _all_labels(dimension: str, values: Iterable[str]) -> list[Labels]:
    return [OVERALL, *(((dimension, value),) for value in sorted(set(values)))]


def _ratio(numerator: int | Fraction, denominator: int | Fraction) -> Value:
    """A ratio; null (None) on a zero denominator, never 0 or NaN."""
    if denominator == 0:
        return None
    return float(Fraction(numerator) / Fraction(denominator))


def open_pipeline_value(state: CrmState) -> Series:
    total: defaultdict[Labels, Fraction] = defaultdict(Fraction)
    for opportunity in state.ever(Opportunity):
        if opportunity.outcome is None:
            for labels in _groups("team", opportunity.team):
                total[labels] += opportunity.amount
    teams = (o.team for o in state.ever(Opportunity))
    return {labels: float(total[labels]) for labels in _all_labels("team", teams)}


def lead_cohort_rate(state: CrmState, window: Window, reached: Callable[[Lead], bool]) -> Series:
    """Leads created in the window: the share that reached a step at any time up to T."""
    cohort: Counter[Labels] = Counter()
    reached_count: Counter[Labels] = Counter()
    for lead in state.ever(Lead):
        if window.contains(lead.created_at):
            for labels in _groups("channel", lead.channel):
                cohort[labels] += 1
                reached_count[labels] += reached(lead)
    channels = (lead.channel for lead in state.ever(Lead))
    return {
        labels: _ratio(reached_count[labels], cohort[labels])
        for labels in _all_labels("channel", channels)
    }


def _won_in(state: CrmState, window: Window) -> list[tuple[Opportunity, int]]:
    """Opportunities won in the window, with their won_at."""
    return [
        (opportunity, opportunity.closed_at)
        for opportunity in state.ever(Opportunity)
        if opportunity.outcome == "won"
        and opportunity.closed_at is not None
        and window.contains(opportunity.closed_at)
    ]


def sales_cycle_days(state: CrmState, window: Window) -> Series:
    total_us: Counter[Labels] = Counter()
    won: Counter[Labels] = Counter()
    for opportunity, won_at in _won_in(state, window):
        for labels in _groups("team", opportunity.team):
            total_us[labels] += won_at - opportunity.created_at
            won[labels] += 1
    teams = (o.team for o in state.ever(Opportunity))
    return {
        labels: _ratio(total_us[labels], won[labels] * 86_400 * MICROS)
        for labels in _all_labels("team", teams)
    }


def rep_activities(state: CrmState, window: Window) -> Series:
    count: Counter[Labels] = Counter()
    for activity in state.activities:
        if window.contains(activity.at):
            for labels in _groups("rep", activity.rep):
                count[labels] += 1
    reps = (activity.rep for activity in state.activities)
    return {labels: float(count[labels]) for labels in _all_labels("rep", reps)}


def opportunity_creation_ratio(state: CrmState, window: Window) -> Series:
    created: Counter[Labels] = Counter()
    for opportunity in state.ever(Opportunity):
        if window.contains(opportunity.created_at):
            for labels in _groups("team", opportunity.team):
                created[labels] += 1
    first_contacted: Counter[Labels] = Counter()
    for lead in state.ever(Lead):
        if lead.first_contacted_at is not None and window.contains(lead.first_contacted_at):
            for labels in _groups("team", lead.first_contact_team):
                first_contacted[labels] += 1
    teams = {o.team for o in state.ever(Opportunity)} | state.contact_teams
    return {
        labels: _ratio(created[labels], first_contacted[labels])
        for labels in _all_labels("team", teams)
    }


def survivors_and_lost(state: CrmState, window: Window) -> tuple[Counter[Labels], Counter[Labels]]:
    """S: acquired strictly before the window start, not churned before it; L: S churned in it."""
    survivors: Counter[Labels] = Counter()
    lost: Counter[Labels] = Counter()
    for customer in state.ever(Customer):
        churned_at = customer.churned_at
        if customer.acquired_at < window.start and (
            churned_at is None or churned_at >= window.start
        ):
            for labels in _groups("segment", customer.segment):
                survivors[labels] += 1
                lost[labels] += churned_at is not None and window.contains(churned_at)
    return survivors, lost


def _segments(state: CrmState) -> list[Labels]:
    return _all_labels("segment", (c.segment for c in state.ever(Customer)))


def customer_retention_rate(state: CrmState, window: Window) -> Series:
    survivors, lost = survivors_and_lost(state, window)
    return {
        labels: _ratio(survivors[labels] - lost[labels], survivors[labels])
        for labels in _segments(state)
    }


def churn_rate(state: CrmState, window: Window) -> Series:
    survivors, lost = survivors_and_lost(state, window)
    return {labels: _ratio(lost[labels], survivors[labels]) for labels in _segments(state)}


def csat(state: CrmState, window: Window) -> Series:
    responses: Counter[Labels] = Counter()
    satisfied: Counter[Labels] = Counter()
    for response in state.csat:
        if window.contains(response.at):
            for labels in _groups("team", response.dimension_value):
                responses[labels] += 1
                satisfied[labels] += response.score >= 4
    teams = (response.dimension_value for response in state.csat)
    return {
        labels: _ratio(satisfied[labels], responses[labels])
        for labels in _all_labels("team", teams)
    }


def _first_resolved_in(state: CrmState, window: Window) -> list[tuple[Ticket, int]]:
    """Tickets first resolved in the window, with their resolution time in microseconds."""
    return [
        (ticket, ticket.first_resolved_at - ticket.opened_at)
        for ticket in state.ever(Ticket)
        if ticket.first_resolved_at is not None and window.contains(ticket.first_resolved_at)
    ]


def _ticket_teams(state: CrmState) -> list[Labels]:
    return _all_labels("team", (ticket.team for ticket in state.ever(Ticket)))


def resolution_time_hours(state: CrmState, window: Window) -> Series:
    total_us: Counter[Labels] = Counter()
    resolved: Counter[Labels] = Counter()
    for ticket, duration_us in _first_resolved_in(state, window):
        for labels in _groups("team", ticket.team):
            total_us[labels] += duration_us
            resolved[labels] += 1
    return {
        labels: _ratio(total_us[labels], resolved[labels] * 3600 * MICROS)
        for labels in _ticket_teams(state)
    }


def resolution_histogram(state: CrmState, window: Window) -> dict[Labels, dict[str, int]]:
    """Cumulative counts: a resolution time lands in every bucket whose bound it does not exceed."""
    histogram = {labels: dict.fromkeys(HISTOGRAM_LE, 0) for labels in _ticket_teams(state)}
    for ticket, duration_us in _first_resolved_in(state, window):
        for labels in _groups("team", ticket.team):
            for bound, le in zip(HISTOGRAM_BOUNDS_HOURS, HISTOGRAM_LE, strict=False):
                if duration_us <= bound * 3600 * MICROS:
                    histogram[labels][le] += 1
            histogram[labels]["+Inf"] += 1  # zip stops before "+Inf", which counts every one
    return histogram


def first_contact_resolution_rate(state: CrmState, window: Window) -> Series:
    resolved: Counter[Labels] = Counter()
    first_contact: Counter[Labels] = Counter()
    for ticket, _ in _first_resolved_in(state, window):
        for labels in _groups("team", ticket.team):
            resolved[labels] += 1
            first_contact[labels] += ticket.agent_replies <= 1 and not ticket.reopened
    return {
        labels: _ratio(first_contact[labels], resolved[labels]) for labels in _ticket_teams(state)
    }


def _spend_in(state: CrmState, window: Window) -> defaultdict[Labels, Fraction]:
    spent: defaultdict[Labels, Fraction] = defaultdict(Fraction)
    for record in state.spend:
        if window.contains(record.at):
            for labels in _groups("channel", record.channel):
                spent[labels] += record.amount
    return spent


def customer_acquisition_cost(state: CrmState, window: Window) -> Series:
    spent = _spend_in(state, window)
    acquired: Counter[Labels] = Counter()
    for customer in state.ever(Customer):
        if window.contains(customer.acquired_at):
            for labels in _groups("channel", customer.channel):
                acquired[labels] += 1
    channels = {record.channel for record in state.spend}
    channels |= {customer.channel for customer in state.ever(Customer)}
    return {
        labels: _ratio(spent[labels], acquired[labels])
        for labels in _all_labels("channel", channels)
    }


def marketing_roi(state: CrmState, window: Window) -> Series:
    spent = _spend_in(state, window)
    won: defaultdict[Labels, Fraction] = defaultdict(Fraction)
    for opportunity, _ in _won_in(state, window):
        # _groups leaves out an opportunity without a channel, from the overall series too
        if opportunity.channel is not None:
            for labels in _groups("channel", opportunity.channel):
                won[labels] += opportunity.amount
    channels = {record.channel for record in state.spend}
    channels |= {o.channel for o in state.ever(Opportunity) if o.channel is not None}
    return {
        labels: _ratio(won[labels] - spent[labels], spent[labels])
        for labels in _all_labels("channel", channels)
    }


def nps(state: CrmState, window: Window) -> Series:
    responses: Counter[Labels] = Counter()
    net: Counter[Labels] = Counter()  # promoters minus detractors
    for response in state.nps:
        if window.contains(response.at):
            for labels in _groups("segment", response.dimension_value):
                responses[labels] += 1
                net[labels] += (response.score >= 9) - (response.score <= 6)
    segments = (response.dimension_value for response in state.nps)
    return {
        labels: _ratio(100 * net[labels], responses[labels])
        for labels in _all_labels("segment", segments)
    }


def win_rate(state: CrmState, window: Window) -> Series:
    won: Counter[Labels] = Counter()
    closed: Counter[Labels] = Counter()
    for opportunity in state.ever(Opportunity):
        if opportunity.closed_at is not None and window.contains(opportunity.closed_at):
            for labels in _groups("team", opportunity.team):
                closed[labels] += 1
                won[labels] += opportunity.outcome == "won"
    teams = (o.team for o in state.ever(Opportunity))
    return {labels: _ratio(won[labels], closed[labels]) for labels in _all_labels("team", teams)}


def won_amount(state: CrmState, window: Window) -> Series:
    """Final amounts of the opportunities won in the window, by their rep."""
    total: defaultdict[Labels, Fraction] = defaultdict(Fraction)
    for opportunity, _ in _won_in(state, window):
        for labels in _groups("rep", opportunity.rep):
            total[labels] += opportunity.amount
    reps = (o.rep for o in state.ever(Opportunity))
    return {labels: float(total[labels]) for labels in _all_labels("rep", reps)}


def _active_totals(state: CrmState) -> tuple[Counter[Labels], defaultdict[Labels, Fraction]]:
    """Number and summed current mrr of the active (not churned) customers."""
    active: Counter[Labels] = Counter()
    mrr_total: defaultdict[Labels, Fraction] = defaultdict(Fraction)
    for customer in state.ever(Customer):
        if customer.churned_at is None:
            for labels in _groups("segment", customer.segment):
                active[labels] += 1
                mrr_total[labels] += customer.mrr
    return active, mrr_total


def active_customers(state: CrmState) -> Series:
    active, _ = _active_totals(state)
    return {labels: float(active[labels]) for labels in _segments(state)}


def mrr(state: CrmState) -> Series:
    _, mrr_total = _active_totals(state)
    return {labels: float(mrr_total[labels]) for labels in _segments(state)}


def customer_lifetime_value(state: CrmState, window: Window, gross_margin: float) -> Series:
    """ARPA * gross_margin / churn_rate; null when ARPA or the churn rate is null or 0 churn."""
    survivors, lost = survivors_and_lost(state, window)
    active, mrr_total = _active_totals(state)
    values: Series = {}
    for labels in _segments(state):
        if survivors[labels] == 0 or lost[labels] == 0 or active[labels] == 0:
            values[labels] = None
            continue
        arpa = mrr_total[labels] / active[labels]
        churn = Fraction(lost[labels], survivors[labels])
        values[labels] = float(arpa * Fraction(gross_margin) / churn)
    return values


WindowedFormula = Callable[[CrmState, Window], Series]

WINDOWED_KPIS: dict[str, WindowedFormula] = {
    "lead_conversion_rate": lambda s, w: lead_cohort_rate(s, w, lambda lead: lead.converted),
    "sales_cycle_days": sales_cycle_days,
    "rep_activities": rep_activities,
    "opportunity_creation_ratio": opportunity_creation_ratio,
    "customer_retention_rate": customer_retention_rate,
    "csat": csat,
    "resolution_time_hours": resolution_time_hours,
    "churn_rate": churn_rate,
    "marketing_conversion_rate": lambda s, w: lead_cohort_rate(s, w, lambda lead: lead.qualified),
    "customer_acquisition_cost": customer_acquisition_cost,
    "marketing_roi": marketing_roi,
    "nps": nps,
    "first_contact_resolution_rate": first_contact_resolution_rate,
    "win_rate": win_rate,
    "won_amount": won_amount,
}

NOW_KPIS: dict[str, Callable[[CrmState], Series]] = {
    "open_pipeline_value": open_pipeline_value,
    "active_customers": active_customers,
    "mrr": mrr,
}

KPI_NAMES = frozenset({*WINDOWED_KPIS, *NOW_KPIS, "customer_lifetime_value"})


# --- State retention (KPIS.md "State retention") -------------------------------------------


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash (the Java client's `Utils.murmur2`), as an unsigned 32-bit int."""
    m, mask = 0x5BD1E995, 0xFFFFFFFF
    h = (0x9747B28C ^ len(data)) & mask
    whole = len(data) // 4 * 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little") * m & mask
        k = (k ^ (k >> 24)) * m & mask
        h = (h * m & mask) ^ k
    tail = data[whole:]
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h = (h ^ tail[0]) * m & mask
    h = (h ^ (h >> 13)) * m & mask
    return h ^ (h >> 15)


def partition_of(event: Event, partitions: int) -> tuple[str, int]:
    """The source partition of an event: its domain's topic, Kafka's default partitioner on
    the entity key (murmur2 made positive, modulo the partition count)."""
    return event.type.split(".")[0], (murmur2(event.key.encode()) & 0x7FFFFFFF) % partitions


@dataclass
class _Retention:
    """`too_late` and `duplicate` with the grace period, against each partition's own `T`."""

    state: CrmState
    grace_us: int
    partitions: int
    watermarks: dict[tuple[str, int], int] = field(default_factory=dict)
    # event_id -> (occurred_at, domain, key, record it was about or None)
    ids: dict[str, tuple[int, str, str, Any]] = field(default_factory=dict)
    ambiguous: int = 0

    def _limit(self, event: Event) -> int | None:
        t = self.watermarks.get(partition_of(event, self.partitions))
        return None if t is None else t - self.grace_us

    def check(self, event: Event) -> None:
        """Raises `too_late` or `duplicate` (in that precedence) for a fresh event."""
        limit = self._limit(event)
        domain = event.type.split(".")[0]
        held = self.state.held(domain, event.key, limit)
        seen = self.ids.get(event.event_id)
        if seen is not None and limit is not None:
            near = min(abs(event.at - limit), abs(seen[0] - limit))
            self.ambiguous += near <= BOUNDARY_MARGIN_US
        if limit is not None and event.at < limit and held is None:
            raise Rejection("too_late")
        if seen is not None:
            at, seen_domain, key, record = seen
            if limit is None or at >= limit:
                raise Rejection("duplicate")
            if record is not None and self.state.held(seen_domain, key, limit) is record:
                raise Rejection("duplicate")

    def applied(self, event: Event) -> None:
        domain = event.type.split(".")[0]
        record = self.state.touch(domain, event.key, event.at)
        self.ids[event.event_id] = (event.at, domain, event.key, record)
        partition = partition_of(event, self.partitions)
        self.watermarks[partition] = max(self.watermarks.get(partition, event.at), event.at)


# --- The reference ---------------------------------------------------------------------------


@dataclass
class Reference:
    """What the monitor must report after consuming the whole log."""

    watermark: datetime | None
    accepted: int
    rejected: dict[str, int]
    series: dict[SeriesKey, Value]
    resolution_histogram: dict[tuple[str, Labels], dict[str, int]]
    ambiguous: int = 0  # re-deliveries near `T - G`: `duplicate` or `too_late` both right

    def value(self, kpi: str, window: str, **labels: str) -> Value:
        """One series, e.g. `value("csat", "30d", team="emea")`; KeyError when absent."""
        return self.series[(kpi, window, tuple(sorted(labels.items())))]

    def histogram(self, window: str, **labels: str) -> dict[str, int]:
        return self.resolution_histogram[(window, tuple(sorted(labels.items())))]


def _decode(line: str | bytes) -> str:
    if isinstance(line, bytes):
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejection("invalid_json") from None
    return line


def compute_reference(
    lines: Iterable[str | bytes],
    now: datetime,
    gross_margin: float = 1.0,
    timezone: str = "UTC",
    *,
    grace_days: int = GRACE_DAYS,
    partitions: int = PARTITIONS,
) -> Reference:
    """Replays raw JSONL lines in log order; `now` is the wall clock of the future rule,
    `timezone` the IANA name of the calendar windows (`CRMKPI_TIMEZONE`).

    Lines holding only whitespace are skipped: they are no events. `T` of the grace period
    is the watermark of the event's own source partition (`partitions` per topic).
    """
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    now_us = to_micros(now)
    state = CrmState()
    judge = _Retention(state, grace_days * DAY_US, partitions)
    rejected: Counter[str] = Counter()
    accepted = 0
    watermark: int | None = None
    for line in lines:
        try:
            text = _decode(line)
            if text.strip(" \t\r\n") == "":
                continue
            event = parse_event(load_json(text))
            if event.at > now_us + FUTURE_TOLERANCE_US:
                raise Rejection("future_timestamp")
            judge.check(event)
            state.apply(event)
        except Rejection as rejection:
            rejected[rejection.reason] += 1
            continue
        judge.applied(event)
        accepted += 1
        watermark = event.at if watermark is None else max(watermark, event.at)

    series: dict[SeriesKey, Value] = {}
    histograms: dict[tuple[str, Labels], dict[str, int]] = {}
    for kpi, now_formula in NOW_KPIS.items():
        for labels, value in now_formula(state).items():
            series[(kpi, NOW, labels)] = value
    if watermark is not None:
        for window in windows_at(watermark, ZoneInfo(timezone)):
            for kpi, formula in WINDOWED_KPIS.items():
                for labels, value in formula(state, window).items():
                    series[(kpi, window.name, labels)] = value
            for labels, counts in resolution_histogram(state, window).items():
                histograms[(window.name, labels)] = counts
            if window.name == "30d":
                clv = customer_lifetime_value(state, window, gross_margin)
                for labels, value in clv.items():
                    series[("customer_lifetime_value", window.name, labels)] = value
    return Reference(
        watermark=None if watermark is None else from_micros(watermark),
        accepted=accepted,
        rejected=dict(rejected),
        series=series,
        resolution_histogram=histograms,
        ambiguous=judge.ambiguous,
    )


# --- Comparing a /kpis snapshot ------------------------------------------------------------


def _show(key: SeriesKey) -> str:
    kpi, window, labels = key
    inner = ",".join(f"{name}={value}" for name, value in labels)
    return f"{kpi} {window} {{{inner}}}"


def _is_zero_or_null(value: object) -> bool:
    return value is None or (
        isinstance(value, int | float) and not isinstance(value, bool) and value == 0
    )


def _equal(expected: Value, got: object, rel: float, abs_tol: float) -> bool:
    if expected is None or got is None:
        return expected is None and got is None
    if isinstance(got, bool) or not isinstance(got, int | float):
        return False
    return math.isclose(expected, got, rel_tol=rel, abs_tol=abs_tol)


def _snapshot_series(
    snapshot: Mapping[str, Any], kpis: set[str] | None, problems: list[str]
) -> dict[SeriesKey, object]:
    found: dict[SeriesKey, object] = {}
    for entry in snapshot.get("kpis") or []:
        if kpis is not None and entry.get("kpi") not in kpis:
            continue
        labels = entry.get("labels") or {}
        key = (entry.get("kpi"), entry.get("window"), tuple(sorted(labels.items())))
        if key in found:
            problems.append(f"{_show(key)}: reported twice")
        found[key] = entry.get("value")
    return found


def compare_rejected(reference: Reference, got_rejected: Mapping[str, Any]) -> list[str]:
    """Mismatches of the rejection counts; up to `reference.ambiguous` events may move between
    `duplicate` and `too_late`, whose sum must match exactly."""
    problems = []
    for reason in sorted({*reference.rejected, *got_rejected} - {"duplicate", "too_late"}):
        expected_count = reference.rejected.get(reason, 0)
        got_count = got_rejected.get(reason, 0)
        if got_count != expected_count:
            problems.append(f"rejected {reason}: expected {expected_count}, got {got_count!r}")
    expected = [reference.rejected.get(reason, 0) for reason in ("duplicate", "too_late")]
    got = [got_rejected.get(reason, 0) for reason in ("duplicate", "too_late")]
    if sum(got) != sum(expected) or abs(got[0] - expected[0]) > reference.ambiguous:
        problems.append(
            f"rejected duplicate, too_late: expected {expected} (± {reference.ambiguous}"
            f" between them), got {got}"
        )
    return problems


def compare_snapshot(
    reference: Reference,
    snapshot: Mapping[str, Any],
    rel: float = 1e-9,
    *,
    kpis: set[str] | None = None,
    abs_tol: float = 1e-9,
) -> list[str]:
    """Mismatches between a `/kpis` snapshot and the reference, one line each; [] when equal.

    Series whose reference value is 0 or null may be absent from the snapshot, and the
    snapshot may carry extra series whose value is 0 or null. `kpis` limits the series
    compared (watermark and event counts are always compared).
    """
    problems: list[str] = []
    raw_watermark = snapshot.get("watermark")
    got_watermark = None if raw_watermark is None else parse_time(raw_watermark)
    if raw_watermark is not None and got_watermark is None:
        problems.append(f"watermark: {raw_watermark!r} is not an RFC 3339 time")
    elif got_watermark != reference.watermark:
        expected = None if reference.watermark is None else reference.watermark.isoformat()
        problems.append(f"watermark: expected {expected}, got {raw_watermark!r}")

    events = snapshot.get("events") or {}
    if events.get("accepted") != reference.accepted:
        problems.append(f"accepted: expected {reference.accepted}, got {events.get('accepted')!r}")
    problems += compare_rejected(reference, events.get("rejected") or {})

    got_series = _snapshot_series(snapshot, kpis, problems)
    for key, expected_value in sorted(reference.series.items()):
        if kpis is not None and key[0] not in kpis:
            continue
        if key not in got_series:
            if not _is_zero_or_null(expected_value):
                problems.append(f"{_show(key)}: missing, expected {expected_value!r}")
        elif not _equal(expected_value, got_series[key], rel, abs_tol):
            problems.append(f"{_show(key)}: expected {expected_value!r}, got {got_series[key]!r}")
    for key, got_value in got_series.items():
        if key not in reference.series and not _is_zero_or_null(got_value):
            problems.append(f"{_show(key)}: unexpected series with value {got_value!r}")
    return problems
