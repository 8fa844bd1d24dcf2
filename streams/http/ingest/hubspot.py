"""HubSpot webhooks (v3 signature): a JSON array of subscription events -> canonical events.

A HubSpot event names an object and, for `*.propertyChange`, one property's new value;
creation events carry no properties, so what they cannot know gets a fixed placeholder
(channel `unknown`, rep from `sourceId` or `unknown`, team `unassigned`).
"""

from __future__ import annotations

from streams.http.ingest.errors import BadPayload
from streams.http.ingest.payload import (
    CanonicalEvent,
    JsonObject,
    as_list,
    as_object,
    integer,
    label,
    millis_time,
    money,
    optional_text,
    parse_json,
    stable_id,
    text,
)

UNASSIGNED = "unassigned"
UNCHANGED_STAGE = "unchanged"  # an amount change alone: the webhook does not say the stage
QUALIFIED_STAGES = {"marketingqualifiedlead", "salesqualifiedlead"}
CONTACTED_STATUSES = {"ATTEMPTED_TO_CONTACT", "CONNECTED", "IN_PROGRESS", "OPEN_DEAL"}
CLOSED_TICKET_STAGE = "4"  # "Closed" in HubSpot's default support pipeline


def adapt(body: bytes) -> list[CanonicalEvent]:
    """Canonical events of a HubSpot webhook batch, in event-time order, creations first."""
    batch = as_list(parse_json(body), "$")
    if not batch:
        raise BadPayload("$: the array holds no HubSpot events")
    notes = [_Note(as_object(item, f"$[{n}]"), f"$[{n}]") for n, item in enumerate(batch)]
    notes.sort(key=lambda note: (note.occurred_ms, note.action != "creation"))
    return [event for note in notes for event in note.events()]


class _Note:
    """One HubSpot subscription event."""

    def __init__(self, item: JsonObject, where: str) -> None:
        self.item, self.where = item, where
        subscription = text(item, "subscriptionType", where)
        self.object_type, _, self.action = subscription.partition(".")
        self.object_id = text(item, "objectId", where)
        self.occurred_ms = integer(item, "occurredAt", where)
        self.occurred_at = millis_time(item, "occurredAt", where)
        self.property = optional_text(item, "propertyName", where)
        self.value = optional_text(item, "propertyValue", where)

    def events(self) -> list[CanonicalEvent]:
        handler = _HANDLERS.get((self.object_type, self.action))
        return handler(self) if handler is not None else []

    def event(self, kind: str, milestone: str | None = None, /, **fields: object) -> CanonicalEvent:
        """A canonical event; a milestone (created, won, ...) gets an id per object, not per note.

        Then MQL followed by SQL, say, is one `lead.qualified`: the second is a duplicate.
        """
        if milestone is not None:
            event_id = stable_id("hubspot", self.object_type, self.object_id, milestone)
        else:
            event_id = stable_id(
                "hubspot", self.object_type, self.object_id, self.property, self.occurred_ms
            )
        return {
            "event_id": event_id,
            "type": kind,
            "occurred_at": self.occurred_at,
            "source": "hubspot",
            **fields,
        }

    @property
    def rep(self) -> str:
        """The HubSpot user behind a change (`sourceId` `userId:123`), else `unknown`."""
        source = optional_text(self.item, "sourceId", self.where) or ""
        kind, _, user = source.partition(":")
        return user if kind == "userId" and user else "unknown"


def _contact_created(note: _Note) -> list[CanonicalEvent]:
    return [note.event("lead.created", "created", lead_id=note.object_id, channel="unknown")]


def _contact_changed(note: _Note) -> list[CanonicalEvent]:
    if note.property == "lifecyclestage" and note.value in QUALIFIED_STAGES:
        return [note.event("lead.qualified", "qualified", lead_id=note.object_id)]
    if note.property == "lifecyclestage" and note.value == "customer":
        return [note.event("lead.converted", "converted", lead_id=note.object_id)]
    if note.property == "hs_lead_status" and note.value in CONTACTED_STATUSES:
        return [note.event("lead.contacted", lead_id=note.object_id, rep=note.rep, team=UNASSIGNED)]
    return []


def _deal_created(note: _Note) -> list[CanonicalEvent]:
    fields = {"amount": 0.0, "stage": "new", "rep": note.rep, "team": UNASSIGNED}
    return [note.event("opportunity.created", "created", opportunity_id=note.object_id, **fields)]


def _deal_changed(note: _Note) -> list[CanonicalEvent]:
    deal = note.object_id
    if note.property == "dealstage" and note.value == "closedwon":
        return [note.event("opportunity.won", "closed", opportunity_id=deal)]
    if note.property == "dealstage" and note.value == "closedlost":
        return [note.event("opportunity.lost", "closed", opportunity_id=deal)]
    if note.property == "dealstage" and label(note.value):
        stage = label(note.value)
        return [note.event("opportunity.stage_changed", opportunity_id=deal, stage=stage)]
    if note.property == "amount":
        amount = money(note.item, "propertyValue", note.where)
        if amount is not None:
            changed = {"stage": UNCHANGED_STAGE, "amount": amount}
            return [note.event("opportunity.stage_changed", opportunity_id=deal, **changed)]
    return []


def _ticket_created(note: _Note) -> list[CanonicalEvent]:
    fields = {"team": UNASSIGNED, "priority": "normal"}
    return [note.event("ticket.opened", "created", ticket_id=note.object_id, **fields)]


def _ticket_changed(note: _Note) -> list[CanonicalEvent]:
    if note.property == "hs_pipeline_stage" and note.value == CLOSED_TICKET_STAGE:
        return [note.event("ticket.resolved", ticket_id=note.object_id)]
    return []


_HANDLERS = {
    ("contact", "creation"): _contact_created,
    ("contact", "propertyChange"): _contact_changed,
    ("deal", "creation"): _deal_created,
    ("deal", "propertyChange"): _deal_changed,
    ("ticket", "creation"): _ticket_created,
    ("ticket", "propertyChange"): _ticket_changed,
}
