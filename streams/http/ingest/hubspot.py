"""HubSpot webhooks (v3 signature): a JSON array of subscription events -> canonical events.

A HubSpot event names an object and, for `*.propertyChange`, one property's new value;
creation events carry no properties, so what they cannot know gets a fixed placeholder
(channel `unknown`, rep from `sourceId` or `unknown`, team `unassigned`). Each event of
the array is judged alone: a malformed one is refused, the others go on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import msgspec
from msgspec import Struct

from streams.config import IngestStages
from streams.http.ingest.errors import BadPayload
from streams.http.ingest.handlers import Handlers
from streams.http.ingest.items import BAD_ITEM, Item
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
GENERIC = "object"  # `object.creation`, `object.propertyChange`: the type is in objectTypeId
OBJECT_TYPES = {"0-1": "contact", "0-3": "deal", "0-5": "ticket"}


class _Note(Struct):
    """One HubSpot subscription event: the fields crmkpi reads."""

    subscriptionType: Id
    objectId: Id
    occurredAt: EpochMillis
    objectTypeId: Text = None
    propertyName: Text = None
    propertyValue: Text = None
    sourceId: Text = None

    @property
    def kind(self) -> tuple[str, str]:
        """(object type, action): `deal.propertyChange` and `object.propertyChange` with
        objectTypeId `0-3` are both ("deal", "propertyChange")."""
        object_type, _, action = str(self.subscriptionType).partition(".")
        if object_type == GENERIC:
            type_id = text(self.objectTypeId) or ""
            object_type = OBJECT_TYPES.get(type_id, f"{GENERIC}_{type_id}")
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
        """A canonical event; a milestone (created, qualified, ...) gets an id per object.

        Then MQL followed by SQL, say, is one `lead.qualified`: the second is a duplicate.
        Other events get an id per change (object, property or outcome, time), which a
        retry repeats: a deal lost, reopened and won is one loss and one win.
        """
        event_id = hubspot_event_id(
            self.kind[0], self.object_id, kind, self.occurredAt, milestone, self.changed
        )
        return canonical_event("hubspot", event_id, kind, millis_time(self.occurredAt), **fields)


def hubspot_event_id(
    object_type: str,
    object_id: str,
    kind: str,
    occurred_ms: int,
    milestone: str | None,
    changed: str | None,
) -> str:
    """The `event_id` of one HubSpot fact, the same from a webhook and from an export.

    A milestone (created, qualified, converted) is one per object; any other change is one
    per object, step (won, lost, else the changed property) and time in epoch milliseconds.
    """
    if milestone is not None:
        return stable_id("hubspot", object_type, object_id, milestone)
    step = {"opportunity.won": "won", "opportunity.lost": "lost"}.get(kind, changed)
    return stable_id("hubspot", object_type, object_id, step, occurred_ms)


@dataclass(frozen=True)
class _Context:
    """What a translation reads besides the note: its place in the body and the stages."""

    where: str
    stages: IngestStages


_handlers = Handlers[[_Note, _Context]]()


def adapt(body: bytes, stages: IngestStages) -> list[Item]:
    """One item per event of a HubSpot batch: translated in event-time order, creations
    first; a malformed event is refused alone (its place and field named)."""
    raws = decode(body, list[msgspec.Raw])
    if not raws:
        raise BadPayload("$: the array holds no HubSpot events")
    notes: list[tuple[_Note, int, bytes]] = []
    refused: list[Item] = []
    for n, raw in enumerate(map(bytes, raws)):
        if not raw.lstrip().startswith(b"{"):
            raise BadPayload(f"$[{n}]: expected a HubSpot event object")
        try:
            notes.append((decode(raw, _Note, f"$[{n}]"), n, raw))
        except BadPayload as problem:
            refused.append(Item("unknown", raw).refused(BAD_ITEM, str(problem)))
    notes.sort(key=lambda note: (note[0].occurredAt, note[0].kind[1] != "creation"))
    translated = [_translated(note, raw, _Context(f"$[{n}]", stages)) for note, n, raw in notes]
    return translated + refused


def _translated(note: _Note, raw: bytes, context: _Context) -> Item:
    item = Item(".".join(note.kind), raw)
    try:
        return replace(item, events=_handlers.events(note.kind, note, context))
    except BadPayload as problem:
        return item.refused(BAD_ITEM, str(problem))


@_handlers.on("contact", "creation")
def _contact_created(note: _Note, context: _Context) -> list[CanonicalEvent]:
    return [note.event("lead.created", "created", lead_id=note.object_id, channel="unknown")]


@_handlers.on("contact", "propertyChange")
def _contact_changed(note: _Note, context: _Context) -> list[CanonicalEvent]:
    lead, changed = note.object_id, note.changed
    if changed == "lifecyclestage" and note.value in QUALIFIED_STAGES:
        return [note.event("lead.qualified", "qualified", lead_id=lead)]
    if changed == "lifecyclestage" and note.value == "customer":
        return [note.event("lead.converted", "converted", lead_id=lead)]
    if changed == "hs_lead_status" and note.value in CONTACTED_STATUSES:
        return [note.event("lead.contacted", lead_id=lead, rep=note.rep, team=UNASSIGNED)]
    return []


@_handlers.on("deal", "creation")
def _deal_created(note: _Note, context: _Context) -> list[CanonicalEvent]:
    fields = {"amount": 0.0, "stage": "new", "rep": note.rep, "team": UNASSIGNED}
    return [note.event("opportunity.created", "created", opportunity_id=note.object_id, **fields)]


@_handlers.on("deal", "propertyChange")
def _deal_changed(note: _Note, context: _Context) -> list[CanonicalEvent]:
    deal, changed = note.object_id, note.changed
    pipelines = context.stages.hubspot_deals.values()
    if changed == "dealstage" and any(note.value in stages.won for stages in pipelines):
        return [note.event("opportunity.won", opportunity_id=deal)]
    if changed == "dealstage" and any(note.value in stages.lost for stages in pipelines):
        return [note.event("opportunity.lost", opportunity_id=deal)]
    if changed == "dealstage" and label(note.value):
        stage = label(note.value)
        return [note.event("opportunity.stage_changed", opportunity_id=deal, stage=stage)]
    if changed == "amount":
        value = amount(note.propertyValue, f"{context.where}.propertyValue")
        if value is not None:
            fields = {"stage": UNCHANGED_STAGE, "amount": value}
            return [note.event("opportunity.stage_changed", opportunity_id=deal, **fields)]
    return []


@_handlers.on("ticket", "creation")
def _ticket_created(note: _Note, context: _Context) -> list[CanonicalEvent]:
    fields = {"team": UNASSIGNED, "priority": "normal"}
    return [note.event("ticket.opened", "created", ticket_id=note.object_id, **fields)]


@_handlers.on("ticket", "propertyChange")
def _ticket_changed(note: _Note, context: _Context) -> list[CanonicalEvent]:
    pipelines = context.stages.hubspot_tickets.values()
    closing = any(note.value in stages.closed for stages in pipelines)
    if note.changed == "hs_pipeline_stage" and closing:
        return [note.event("ticket.resolved", ticket_id=note.object_id)]
    return []
