"""Canonical CRM events (EVENTS.md v1): typed models and their validation.

One `decode_event` call parses and validates a raw line; what cannot be an
event raises `Rejection` with the reason of EVENTS.md.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, ClassVar, Literal

import msgspec
from msgspec import Meta, Struct

NonEmpty = Annotated[str, Meta(min_length=1)]
EventId = Annotated[str, Meta(min_length=1, max_length=128)]
MAX_AMOUNT = 1e12
"""The largest amount an event may carry (a trillion of the currency): in millionths it
fits the 64-bit integers checkpoints hold, with room for sums of millions of such."""
Money = Annotated[float, Meta(ge=0, le=MAX_AMOUNT)]
EventTime = Annotated[datetime, Meta(tz=True)]
Priority = Literal["low", "normal", "high", "urgent"]
Author = Literal["agent", "customer"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
FUTURE_TOLERANCE_US = 3_600_000_000  # EVENTS.md: more than 1 hour after the wall clock

RejectionReason = Literal[
    "invalid_json",
    "schema",
    "future_timestamp",
    "too_late",
    "duplicate",
    "unknown_entity",
    "invalid_transition",
    "processing_error",  # the worker raised an error on the record
    "bad_payload",  # webhook ingest: a change that is not what the CRM sends
    "upstream_gap",  # webhook ingest: changes the CRM could not send (Salesforce GAP_*)
]
"""Why an event goes to the dead-letter topic: the `reason` header and the counters' label."""


class Rejection(Exception):
    """An event the monitor refuses, with its EVENTS.md reason and a one-line detail."""

    def __init__(self, reason: RejectionReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class Envelope(Struct, frozen=True, kw_only=True, tag_field="type"):
    """Fields every canonical event carries."""

    entity_key: ClassVar[str]
    domain: ClassVar[str]

    event_id: EventId
    occurred_at: EventTime
    source: str | None = None
    schema_version: int = 1

    @property
    def entity_id(self) -> str:
        """The value of this event's entity key: its Kafka key and state key."""
        value: str = getattr(self, self.entity_key)
        return value


class LeadEvent(Envelope, frozen=True, kw_only=True):
    """An event about one lead."""

    entity_key = "lead_id"
    domain = "leads"
    lead_id: NonEmpty


class LeadCreated(LeadEvent, frozen=True, kw_only=True, tag="lead.created"):
    channel: NonEmpty
    campaign_id: NonEmpty | None = None


class LeadContacted(LeadEvent, frozen=True, kw_only=True, tag="lead.contacted"):
    rep: NonEmpty
    team: NonEmpty


class LeadQualified(LeadEvent, frozen=True, kw_only=True, tag="lead.qualified"):
    """The lead became a qualified prospect."""


class LeadConverted(LeadEvent, frozen=True, kw_only=True, tag="lead.converted"):
    customer_id: NonEmpty | None = None


class OpportunityEvent(Envelope, frozen=True, kw_only=True):
    """An event about one opportunity."""

    entity_key = "opportunity_id"
    domain = "opportunities"
    opportunity_id: NonEmpty


class OpportunityCreated(OpportunityEvent, frozen=True, kw_only=True, tag="opportunity.created"):
    amount: Money
    stage: NonEmpty
    rep: NonEmpty
    team: NonEmpty
    channel: NonEmpty | None = None
    lead_id: NonEmpty | None = None


class OpportunityStageChanged(
    OpportunityEvent, frozen=True, kw_only=True, tag="opportunity.stage_changed"
):
    stage: NonEmpty
    amount: Money | None = None


class OpportunityWon(OpportunityEvent, frozen=True, kw_only=True, tag="opportunity.won"):
    amount: Money | None = None


class OpportunityLost(OpportunityEvent, frozen=True, kw_only=True, tag="opportunity.lost"):
    reason: NonEmpty | None = None


class ActivityLogged(Envelope, frozen=True, kw_only=True, tag="activity.logged"):
    entity_key = "activity_id"
    domain = "activities"
    activity_id: NonEmpty
    kind: NonEmpty
    rep: NonEmpty
    team: NonEmpty
    lead_id: NonEmpty | None = None
    opportunity_id: NonEmpty | None = None


class CustomerEvent(Envelope, frozen=True, kw_only=True):
    """An event about one customer."""

    entity_key = "customer_id"
    domain = "customers"
    customer_id: NonEmpty


class CustomerSubscribed(CustomerEvent, frozen=True, kw_only=True, tag="customer.subscribed"):
    segment: NonEmpty
    channel: NonEmpty
    mrr: Money


class CustomerRenewed(CustomerEvent, frozen=True, kw_only=True, tag="customer.renewed"):
    mrr: Money | None = None


class CustomerChurned(CustomerEvent, frozen=True, kw_only=True, tag="customer.churned"):
    reason: NonEmpty | None = None


class TicketEvent(Envelope, frozen=True, kw_only=True):
    """An event about one ticket."""

    entity_key = "ticket_id"
    domain = "tickets"
    ticket_id: NonEmpty


class TicketOpened(TicketEvent, frozen=True, kw_only=True, tag="ticket.opened"):
    team: NonEmpty
    priority: Priority
    customer_id: NonEmpty | None = None


class TicketReplied(TicketEvent, frozen=True, kw_only=True, tag="ticket.replied"):
    author: Author


class TicketResolved(TicketEvent, frozen=True, kw_only=True, tag="ticket.resolved"):
    """The ticket was resolved (first resolution or again after a reopen)."""


class TicketReopened(TicketEvent, frozen=True, kw_only=True, tag="ticket.reopened"):
    """A resolved ticket was opened again."""


class SurveyEvent(Envelope, frozen=True, kw_only=True):
    """A survey response."""

    entity_key = "response_id"
    domain = "surveys"
    response_id: NonEmpty


class SurveyCsat(SurveyEvent, frozen=True, kw_only=True, tag="survey.csat"):
    score: Annotated[int, Meta(ge=1, le=5)]
    team: NonEmpty
    customer_id: NonEmpty | None = None
    ticket_id: NonEmpty | None = None


class SurveyNps(SurveyEvent, frozen=True, kw_only=True, tag="survey.nps"):
    score: Annotated[int, Meta(ge=0, le=10)]
    segment: NonEmpty
    customer_id: NonEmpty | None = None


class MarketingSpend(Envelope, frozen=True, kw_only=True, tag="marketing.spend"):
    entity_key = "spend_id"
    domain = "marketing"
    spend_id: NonEmpty
    channel: NonEmpty
    amount: Money
    campaign_id: NonEmpty | None = None


Event = (
    LeadCreated
    | LeadContacted
    | LeadQualified
    | LeadConverted
    | OpportunityCreated
    | OpportunityStageChanged
    | OpportunityWon
    | OpportunityLost
    | ActivityLogged
    | CustomerSubscribed
    | CustomerRenewed
    | CustomerChurned
    | TicketOpened
    | TicketReplied
    | TicketResolved
    | TicketReopened
    | SurveyCsat
    | SurveyNps
    | MarketingSpend
)

EVENT_TYPES: tuple[type[Envelope], ...] = Event.__args__
DOMAINS: tuple[str, ...] = tuple(dict.fromkeys(t.domain for t in EVENT_TYPES))

_decoder: msgspec.json.Decoder[Event] = msgspec.json.Decoder(Event)


def decode_event(raw: bytes | str) -> Event:
    """Parse and validate one canonical event, or raise `Rejection` (invalid_json or schema)."""
    try:
        event: Event = _decoder.decode(raw)
    except msgspec.ValidationError as error:
        _check_json(raw)  # a typed decode stops at the first wrong type, e.g. `[1, 2`
        raise Rejection("schema", str(error)) from None
    except msgspec.DecodeError as error:
        raise Rejection("invalid_json", str(error)) from None
    return event


def _check_json(raw: bytes | str) -> None:
    """`invalid_json` if `raw` is not JSON at all: it comes first in EVENTS.md's order."""
    try:
        msgspec.json.decode(raw)
    except msgspec.DecodeError as error:
        raise Rejection("invalid_json", str(error)) from None


def to_micros(moment: datetime) -> int:
    """Exact integer microseconds since the Unix epoch."""
    return (moment - EPOCH) // MICROSECOND


def from_micros(micros: int) -> datetime:
    """The UTC datetime of an integer count of microseconds since the epoch."""
    return EPOCH + micros * MICROSECOND


def format_time(micros: int) -> str:
    """RFC 3339 in UTC with a `Z`, seconds precision unless the time has a fraction."""
    moment = from_micros(micros)
    text = moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def check_not_future(event: Envelope, now_us: int) -> int:
    """The event time in microseconds; `future_timestamp` if it is over 1 h past the wall clock."""
    occurred_us = to_micros(event.occurred_at)
    if occurred_us > now_us + FUTURE_TOLERANCE_US:
        raise Rejection(
            "future_timestamp",
            f"occurred_at {event.occurred_at.isoformat()} is more than 1 hour after the wall clock",
        )
    return occurred_us
