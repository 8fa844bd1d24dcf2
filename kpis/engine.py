"""Applying canonical events to one partition's state: transitions and KPI parts.

Pure and deterministic: the same events in the same order always give the
same state, which is what makes replay after a crash exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from sys import intern
from typing import Any

from kpis import churn, retention
from kpis import events as ev
from kpis import parts as p
from kpis.digests import DigestTable, digest
from kpis.entities import Customer, Entity, Lead, Opportunity, Ticket
from kpis.events import Event, Rejection
from kpis.ledger import Ledger
from kpis.retention import DAY_US, DEFAULT_GRACE_DAYS, IdOwner, IdRecord
from kpis.windows import HOUR_US, MINUTE_US


def to_micro_units(amount: float) -> int:
    """Money as an exact integer count of millionths (sums stay exact in any order)."""
    return round(amount * 1_000_000)


@dataclass
class PartitionState:
    """Everything one source partition knows: entities, applied event ids (by digest), parts."""

    entities: DigestTable[Entity] = field(default_factory=DigestTable)
    event_ids: DigestTable[IdOwner] = field(default_factory=DigestTable)
    ledger: Ledger = field(default_factory=Ledger)
    churn_rules: churn.ChurnRules = field(default_factory=churn.ChurnRules)
    grace_us: int = DEFAULT_GRACE_DAYS * DAY_US
    offset: int = -1
    incarnation: int = 0  # of the log `offset` counts in (see `kpis.checkpoint`)
    changed_entities: set[int] = field(default_factory=set)
    new_event_ids: list[IdRecord] = field(default_factory=list)
    forgotten_before_us: int | None = None  # `T - G` of the last `retention.forget` (memory)
    forget_at: int = 0  # entries held (entities and ids) from which `retention.forget` passes
    _keyed: tuple[Event | None, int] = field(default=(None, 0), repr=False, compare=False)

    def apply_raw(self, raw: bytes, now_us: int) -> tuple[Event | None, Rejection | None]:
        """Validate and apply one raw record; a rejection is counted and returned, never raised."""
        try:
            event = ev.decode_event(raw)
            self.apply(event, now_us)
        except Rejection as rejection:
            self.count_rejection(rejection.reason)
            return None, rejection
        return event, None

    def apply(self, event: Event, now_us: int) -> None:
        """Apply a decoded event, or raise `Rejection` leaving the state untouched."""
        t_us = ev.check_not_future(event, now_us)
        limit_us = self.horizon()
        key = self.key(event) if type(event) in ENTITY_EVENTS else 0
        if limit_us is not None and t_us < limit_us and self.held(key) is None:
            raise Rejection("too_late", "older than the grace period, about nothing still held")
        seen = self.event_ids.get(event_id := digest(event.event_id))
        if seen is not None and retention.id_is_held(seen, limit_us):
            raise Rejection("duplicate", f"event_id {event.event_id!r} was already applied")
        HANDLERS[type(event)](self, event, t_us)  # changes its entity in place, or creates it
        owner: IdOwner = t_us
        if key:  # the entity is marked changed here, for the next checkpoint
            owner = self.entities[key]
            owner.last_us = max(owner.last_us, t_us)
            self.changed_entities.add(key)
        self.event_ids[event_id] = owner
        self.new_event_ids.append(retention.id_record(event_id, key, owner))
        self.ledger.accept(t_us)

    def key(self, event: Event) -> int:
        """The digest of the event's entity id, taken once for the event being applied."""
        keyed, key = self._keyed
        if event is not keyed:
            key = digest(event.entity_id)
            self._keyed = (event, key)
        return key

    def horizon(self) -> int | None:
        """`T - G` of this partition now."""
        return retention.horizon(self.ledger.watermark_us, self.grace_us)

    def held(self, key: int) -> Entity | None:
        """The entity of `key` unless it is unknown or forgotten."""
        entity = self.entities.get(key) if key else None
        if entity is None or not retention.is_held(entity, self.horizon()):
            return None
        return entity

    def prune(self) -> None:
        """Free what no window or judgement reads again: expired buckets, forgotten entities
        and their ids (`kpis.retention.forget`)."""
        self.ledger.prune()
        retention.forget(self)

    def churn_signal(self, customer_id: str | None, signal: str, t_us: int) -> None:
        """Record one churn-signal occurrence for a customer (events may not name one)."""
        if customer_id is not None:
            part = churn.signal_part(signal)
            self.ledger.add_windowed(part, customer_id, t_us, 1, churn.SIGNAL_BUCKETS)

    def count_rejection(self, reason: str) -> None:
        """Count one rejected event by reason."""
        self.ledger.add_gauge(p.EVENTS_REJECTED, reason, 1)

    def entity(self, event: Event, kind: type[Any]) -> Any:
        """The entity the event is about, or `unknown_entity`."""
        found = self.held(self.key(event))
        if found is None:
            raise Rejection("unknown_entity", f"{event.entity_key} {event.entity_id!r} is unknown")
        assert isinstance(found, kind)
        return found

    def create(self, event: Event, entity: Entity) -> None:
        """Record a new entity (replacing a forgotten one); a second creation of one still held
        is an `invalid_transition`."""
        if self.held(self.key(event)) is not None:
            raise Rejection(
                "invalid_transition", f"{event.entity_key} {event.entity_id!r} already exists"
            )
        self.entities[self.key(event)] = entity


# --- leads -----------------------------------------------------------------


def _lead_created(state: PartitionState, event: ev.LeadCreated, t_us: int) -> None:
    state.create(event, Lead(created_us=t_us, channel=event.channel))
    state.ledger.add_windowed(p.LEADS_CREATED, event.channel, t_us, 1)


def _lead_contacted(state: PartitionState, event: ev.LeadContacted, t_us: int) -> None:
    lead: Lead = state.entity(event, Lead)
    if lead.contacted:
        return
    lead.contacted = True
    state.ledger.add_windowed(p.LEADS_FIRST_CONTACTED, event.team, t_us, 1)


def _lead_milestone(state: PartitionState, event: ev.Event, milestone: str, part: str) -> None:
    """Qualified or converted: once per lead, counted in the lead's creation cohort."""
    lead: Lead = state.entity(event, Lead)
    if getattr(lead, milestone):
        raise Rejection("invalid_transition", f"lead {event.entity_id!r} is already {milestone}")
    setattr(lead, milestone, True)
    state.ledger.add_windowed(part, lead.channel, lead.created_us, 1)


def _lead_qualified(state: PartitionState, event: ev.LeadQualified, t_us: int) -> None:
    _lead_milestone(state, event, "qualified", p.LEADS_QUALIFIED)


def _lead_converted(state: PartitionState, event: ev.LeadConverted, t_us: int) -> None:
    _lead_milestone(state, event, "converted", p.LEADS_CONVERTED)


# --- opportunities ---------------------------------------------------------


def _open_opportunity(state: PartitionState, event: Event) -> Opportunity:
    opportunity: Opportunity = state.entity(event, Opportunity)
    if opportunity.closed:
        raise Rejection(
            "invalid_transition", f"opportunity {event.entity_id!r} is already won or lost"
        )
    return opportunity


def _opportunity_created(state: PartitionState, event: ev.OpportunityCreated, t_us: int) -> None:
    amount = to_micro_units(event.amount)
    opportunity = Opportunity(
        amount_micro=amount,
        stage=event.stage,
        rep=event.rep,
        team=event.team,
        channel=event.channel,
        created_us=t_us,
    )
    state.create(event, opportunity)
    state.ledger.add_gauge(p.OPEN_PIPELINE_MICRO, event.team, amount)
    state.ledger.add_windowed(p.OPPORTUNITIES_CREATED, event.team, t_us, 1)


def _opportunity_stage_changed(
    state: PartitionState, event: ev.OpportunityStageChanged, t_us: int
) -> None:
    opportunity = _open_opportunity(state, event)
    opportunity.stage = intern(event.stage)  # as `kpis.entities` holds dimensions
    if event.amount is not None:
        amount = to_micro_units(event.amount)
        state.ledger.add_gauge(
            p.OPEN_PIPELINE_MICRO, opportunity.team, amount - opportunity.amount_micro
        )
        opportunity.amount_micro = amount


def _opportunity_won(state: PartitionState, event: ev.OpportunityWon, t_us: int) -> None:
    opportunity = _open_opportunity(state, event)
    state.ledger.add_gauge(p.OPEN_PIPELINE_MICRO, opportunity.team, -opportunity.amount_micro)
    if event.amount is not None:
        opportunity.amount_micro = to_micro_units(event.amount)
    opportunity.closed = True
    ledger = state.ledger
    ledger.add_windowed(p.OPPORTUNITIES_WON, opportunity.team, t_us, 1)
    ledger.add_windowed(p.WON_CYCLE_US, opportunity.team, t_us, t_us - opportunity.created_us)
    ledger.add_windowed(p.WON_AMOUNT_BY_REP_MICRO, opportunity.rep, t_us, opportunity.amount_micro)
    if opportunity.channel is not None:
        ledger.add_windowed(p.WON_AMOUNT_MICRO, opportunity.channel, t_us, opportunity.amount_micro)


def _opportunity_lost(state: PartitionState, event: ev.OpportunityLost, t_us: int) -> None:
    opportunity = _open_opportunity(state, event)
    state.ledger.add_gauge(p.OPEN_PIPELINE_MICRO, opportunity.team, -opportunity.amount_micro)
    opportunity.closed = True
    state.ledger.add_windowed(p.OPPORTUNITIES_LOST, opportunity.team, t_us, 1)


# --- activities, surveys, spend (no state) ---------------------------------


def _activity_logged(state: PartitionState, event: ev.ActivityLogged, t_us: int) -> None:
    state.ledger.add_windowed(p.ACTIVITIES, event.rep, t_us, 1)


def _survey_csat(state: PartitionState, event: ev.SurveyCsat, t_us: int) -> None:
    state.ledger.add_windowed(p.CSAT_RESPONSES, event.team, t_us, 1)
    if event.score >= 4:
        state.ledger.add_windowed(p.CSAT_SATISFIED, event.team, t_us, 1)
    if event.score <= state.churn_rules.low_csat_max_score:
        state.churn_signal(event.customer_id, churn.LOW_CSAT, t_us)


def _survey_nps(state: PartitionState, event: ev.SurveyNps, t_us: int) -> None:
    state.ledger.add_windowed(p.NPS_RESPONSES, event.segment, t_us, 1)
    if event.score >= 9:
        state.ledger.add_windowed(p.NPS_PROMOTERS, event.segment, t_us, 1)
    elif event.score <= 6:
        state.ledger.add_windowed(p.NPS_DETRACTORS, event.segment, t_us, 1)
    if event.score <= state.churn_rules.detractor_max_score:
        state.churn_signal(event.customer_id, churn.DETRACTOR_NPS, t_us)


def _marketing_spend(state: PartitionState, event: ev.MarketingSpend, t_us: int) -> None:
    state.ledger.add_windowed(p.SPEND_MICRO, event.channel, t_us, to_micro_units(event.amount))


# --- customers -------------------------------------------------------------


def _active_customer(state: PartitionState, event: Event) -> Customer:
    customer: Customer = state.entity(event, Customer)
    if customer.churned_us is not None:
        raise Rejection("invalid_transition", f"customer {event.entity_id!r} has churned")
    return customer


def _customer_subscribed(state: PartitionState, event: ev.CustomerSubscribed, t_us: int) -> None:
    mrr = to_micro_units(event.mrr)
    customer = Customer(
        segment=event.segment, channel=event.channel, mrr_micro=mrr, acquired_us=t_us
    )
    state.create(event, customer)
    ledger = state.ledger
    ledger.add_gauge(p.ACTIVE_CUSTOMERS, event.segment, 1)
    ledger.add_gauge(p.MRR_MICRO, event.segment, mrr)
    ledger.add_gauge(churn.segment_part(event.segment), event.customer_id, 1)
    ledger.add_point(p.CUSTOMERS_ACQUIRED, event.segment, t_us // MINUTE_US, 1)
    ledger.add_windowed(p.CUSTOMERS_SUBSCRIBED, event.channel, t_us, 1)


def _customer_renewed(state: PartitionState, event: ev.CustomerRenewed, t_us: int) -> None:
    customer = _active_customer(state, event)
    if event.mrr is not None:
        mrr = to_micro_units(event.mrr)
        state.ledger.add_gauge(p.MRR_MICRO, customer.segment, mrr - customer.mrr_micro)
        customer.mrr_micro = mrr


def _customer_churned(state: PartitionState, event: ev.CustomerChurned, t_us: int) -> None:
    customer = _active_customer(state, event)
    customer.churned_us = t_us
    ledger = state.ledger
    ledger.add_gauge(p.ACTIVE_CUSTOMERS, customer.segment, -1)
    ledger.add_gauge(p.MRR_MICRO, customer.segment, -customer.mrr_micro)
    ledger.add_gauge(churn.segment_part(customer.segment), event.customer_id, -1)
    acquired_minute = customer.acquired_us // MINUTE_US
    ledger.add_pair(p.CUSTOMERS_CHURNED, customer.segment, acquired_minute, t_us // MINUTE_US, 1)


# --- tickets ---------------------------------------------------------------


def _ticket_opened(state: PartitionState, event: ev.TicketOpened, t_us: int) -> None:
    ticket = Ticket(
        team=event.team, priority=event.priority, customer_id=event.customer_id, opened_us=t_us
    )
    state.create(event, ticket)
    if event.customer_id is not None:
        state.ledger.add_windowed(
            churn.TICKETS_OPENED_PART, event.customer_id, t_us, 1, churn.SIGNAL_BUCKETS
        )


def _ticket_replied(state: PartitionState, event: ev.TicketReplied, t_us: int) -> None:
    ticket: Ticket = state.entity(event, Ticket)
    if ticket.resolved:
        raise Rejection("invalid_transition", f"ticket {event.ticket_id!r} is resolved")
    if event.author == "agent" and ticket.first_resolved_us is None:
        ticket.agent_replies += 1


def _ticket_resolved(state: PartitionState, event: ev.TicketResolved, t_us: int) -> None:
    ticket: Ticket = state.entity(event, Ticket)
    if ticket.resolved:
        raise Rejection("invalid_transition", f"ticket {event.ticket_id!r} is already resolved")
    ticket.resolved = True
    if ticket.first_resolved_us is None:
        ticket.first_resolved_us = t_us
        _count_first_resolution(state, ticket, t_us)


RESOLUTION_BUCKETS = tuple(
    (bound * HOUR_US, p.resolved_within(bound)) for bound in p.RESOLUTION_BOUNDS_HOURS
)
"""The bounds of the resolution-time histogram and their parts, made once."""


def _count_first_resolution(state: PartitionState, ticket: Ticket, t_us: int) -> None:
    ledger = state.ledger
    took_us = t_us - ticket.opened_us
    ledger.add_windowed(p.TICKETS_FIRST_RESOLVED, ticket.team, t_us, 1)
    ledger.add_windowed(p.RESOLUTION_US, ticket.team, t_us, took_us)
    for bound_us, part in RESOLUTION_BUCKETS:
        if took_us <= bound_us:
            ledger.add_windowed(part, ticket.team, t_us, 1)
    if state.churn_rules.breaches_sla(ticket.priority, took_us):
        state.churn_signal(ticket.customer_id, churn.SLOW_RESOLUTION, t_us)
    if ticket.agent_replies <= 1:
        ticket.first_contact_resolved = True
        ledger.add_windowed(p.TICKETS_FIRST_CONTACT_RESOLVED, ticket.team, t_us, 1)


def _ticket_reopened(state: PartitionState, event: ev.TicketReopened, t_us: int) -> None:
    ticket: Ticket = state.entity(event, Ticket)
    if not ticket.resolved:
        raise Rejection("invalid_transition", f"ticket {event.ticket_id!r} is not resolved")
    ticket.resolved = False
    ticket.reopened = True
    state.churn_signal(ticket.customer_id, churn.REOPENED_TICKET, t_us)
    if ticket.first_contact_resolved and ticket.first_resolved_us is not None:
        # "never reopened (up to T)": the first resolution no longer counts as first-contact.
        ticket.first_contact_resolved = False
        state.ledger.add_windowed(
            p.TICKETS_FIRST_CONTACT_RESOLVED, ticket.team, ticket.first_resolved_us, -1
        )


ENTITY_EVENTS: frozenset[type[ev.Envelope]] = frozenset(
    kind for kind in ev.EVENT_TYPES if kind.entity_key in retention.ENTITY_KEYS
)
"""The events about an entity the state holds (activities, surveys and spend have none)."""

HANDLERS: dict[type[Any], Callable[[PartitionState, Any, int], None]] = {
    ev.LeadCreated: _lead_created,
    ev.LeadContacted: _lead_contacted,
    ev.LeadQualified: _lead_qualified,
    ev.LeadConverted: _lead_converted,
    ev.OpportunityCreated: _opportunity_created,
    ev.OpportunityStageChanged: _opportunity_stage_changed,
    ev.OpportunityWon: _opportunity_won,
    ev.OpportunityLost: _opportunity_lost,
    ev.ActivityLogged: _activity_logged,
    ev.CustomerSubscribed: _customer_subscribed,
    ev.CustomerRenewed: _customer_renewed,
    ev.CustomerChurned: _customer_churned,
    ev.TicketOpened: _ticket_opened,
    ev.TicketReplied: _ticket_replied,
    ev.TicketResolved: _ticket_resolved,
    ev.TicketReopened: _ticket_reopened,
    ev.SurveyCsat: _survey_csat,
    ev.SurveyNps: _survey_nps,
    ev.MarketingSpend: _marketing_spend,
}
