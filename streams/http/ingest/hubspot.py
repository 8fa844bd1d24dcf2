"""HubSpot webhooks (v3 signature): a JSON array of subscription events -> canonical events.

A HubSpot event names an object and, for `*.propertyChange`, one property's new value;
creation events carry no properties, so what they cannot know gets a fixed placeholder
(channel `unknown`, rep from `sourceId` or `unknown`, team `unassigned`).
"""

from __future__ import annotations

from msgspec import Struct

from streams.http.ingest.errors import BadPayload
from streams.http.ingest.handlers import Handlers
from streams.http.ingest.payload import (
    CanonicalEvent,
    EpochMillis,
    Id,
    Text,
    amount,
    canonical_event,
    decode,
    label,
    millis_time,
    stable_id,
    text,
)

UNASSIGNED = "unassigned"
UNCHANGED_STAGE = "unchanged"  # an amount change alone: the webhook does not say the stage
QUALIFIED_STAGES = {"marketingqualifiedlead", "salesqualifiedlead"}
CONTACTED_STATUSES = {"ATTEMPTED_TO_CONTACT", "CONNECTED", "IN_PROGRESS", "OPEN_DEAL"}
CLOSED_TICKET_STAGE = "4"  # "Closed" in HubSpot's default support pipeline


class _Note(Struct):
    """One HubSpot subscription event: the fields crmkpi reads."""

    subscriptionType: Id
    objectId: Id
    occurredAt: EpochMillis
    propertyName: Text = None
    propertyValue: Text = None
    sourceId: Text = None

    @property
    def kind(self) -> tuple[str, str]:
        """(object type, action): `deal.propertyChange` is ("deal", "propertyChange")."""
        object_type, _, action = str(self.subscriptionType).partition(".")
        return object_type, action

    @property
    def object_id(self) -> str:
        return str(self.objectId)

    @property
    def changed(self) -> str | None:
        """The property a `*.propertyChange` changed."""
        return text(self.propertyName)

    @property
    def value(self) -> str | None:
        return text(self.propertyValue)

    @property
    def rep(self) -> str:
        """The HubSpot user behind a change (`sourceId` `userId:123`), else `unknown`."""
        kind, _, user = (text(self.sourceId) or "").partition(":")
        return user if kind == "userId" and user else "unknown"

    def event(self, kind: str, milestone: str | None = None, /, **fields: object) -> CanonicalEvent:
        """A canonical event; a milestone (created, won, ...) gets an id per object, not per note.

        Then MQL followed by SQL, say, is one `lead.qualified`: the second is a duplicate.
        """
        object_type = self.kind[0]
        if milestone is not None:
            event_id = stable_id("hubspot", object_type, self.object_id, milestone)
        else:
            event_id = stable_id(
                "hubspot", object_type, self.object_id, self.changed, self.occurredAt
            )
        return canonical_event("hubspot", event_id, kind, millis_time(self.occurredAt), **fields)


_handlers = Handlers[[_Note, str]]()  # a note and its place in the body (`$[3]`) for errors


def adapt(body: bytes) -> list[CanonicalEvent]:
    """Canonical events of a HubSpot webhook batch, in event-time order, creations first."""
    notes = decode(body, list[_Note])
    if not notes:
        raise BadPayload("$: the array holds no HubSpot events")
    places = sorted(
        range(len(notes)),
        key=lambda n: (notes[n].occurredAt, notes[n].kind[1] != "creation"),
    )
    return [event for n in places for event in _handlers.events(notes[n].kind, notes[n], f"$[{n}]")]


@_handlers.on("contact", "creation")
def _contact_created(note: _Note, where: str) -> list[CanonicalEvent]:
    return [note.event("lead.created", "created", lead_id=note.object_id, channel="unknown")]


@_handlers.on("contact", "propertyChange")
def _contact_changed(note: _Note, where: str) -> list[CanonicalEvent]:
    lead, changed = note.object_id, note.changed
    if changed == "lifecyclestage" and note.value in QUALIFIED_STAGES:
        return [note.event("lead.qualified", "qualified", lead_id=lead)]
    if changed == "lifecyclestage" and note.value == "customer":
        return [note.event("lead.converted", "converted", lead_id=lead)]
    if changed == "hs_lead_status" and note.value in CONTACTED_STATUSES:
        return [note.event("lead.contacted", lead_id=lead, rep=note.rep, team=UNASSIGNED)]
    return []


@_handlers.on("deal", "creation")
def _deal_created(note: _Note, where: str) -> list[CanonicalEvent]:
    fields = {"amount": 0.0, "stage": "new", "rep": note.rep, "team": UNASSIGNED}
    return [note.event("opportunity.created", "created", opportunity_id=note.object_id, **fields)]


@_handlers.on("deal", "propertyChange")
def _deal_changed(note: _Note, where: str) -> list[CanonicalEvent]:
    deal, changed = note.object_id, note.changed
    if changed == "dealstage" and note.value == "closedwon":
        return [note.event("opportunity.won", "closed", opportunity_id=deal)]
    if changed == "dealstage" and note.value == "closedlost":
        return [note.event("opportunity.lost", "closed", opportunity_id=deal)]
    if changed == "dealstage" and label(note.value):
        stage = label(note.value)
        return [note.event("opportunity.stage_changed", opportunity_id=deal, stage=stage)]
    if changed == "amount":
        value = amount(note.propertyValue, f"{where}.propertyValue")
        if value is not None:
            fields = {"stage": UNCHANGED_STAGE, "amount": value}
            return [note.event("opportunity.stage_changed", opportunity_id=deal, **fields)]
    return []


@_handlers.on("ticket", "creation")
def _ticket_created(note: _Note, where: str) -> list[CanonicalEvent]:
    fields = {"team": UNASSIGNED, "priority": "normal"}
    return [note.event("ticket.opened", "created", ticket_id=note.object_id, **fields)]


@_handlers.on("ticket", "propertyChange")
def _ticket_changed(note: _Note, where: str) -> list[CanonicalEvent]:
    if note.changed == "hs_pipeline_stage" and note.value == CLOSED_TICKET_STAGE:
        return [note.event("ticket.resolved", ticket_id=note.object_id)]
    return []
