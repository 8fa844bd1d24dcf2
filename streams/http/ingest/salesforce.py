"""Salesforce Change Data Capture events -> canonical events.

A body is one change event or a JSON array of them, each the event's `payload`
(a `ChangeEventHeader` plus the record's fields), the Pub/Sub envelope
`{"payload": {...}, "event": {"replayId": ...}}` or the Streaming API (CometD)
message `{"data": {"schema", "payload", "event"}, "channel"}`. A CREATE carries
every set field; an UPDATE the changed ones, named in `changedFields` (CometD) or
coded there as hex bitmaps of the Avro schema (Pub/Sub: `["0x08F81000"]`), where
the changed fields are the ones with a value. One change event can name several
records (`recordIds`): each gets its own events. `GAP_*` change types mean
Salesforce could not send the change: they are refused as `upstream_gap`.
"""

from __future__ import annotations

import re
from typing import Annotated, TypeVar

import msgspec
from msgspec import Meta, Struct

from streams.http.ingest.errors import BadPayload
from streams.http.ingest.handlers import Handlers
from streams.http.ingest.items import BAD_ITEM, UPSTREAM_GAP, Item
from streams.http.ingest.payload import (
    CanonicalEvent,
    EpochMillis,
    Id,
    JsonObject,
    amount,
    canonical_event,
    convert,
    decode,
    generic_ids,
    label,
    millis_time,
    text,
)
from streams.http.ingest.salesforce_records import (
    PRIORITIES,
    Activity,
    Case,
    Lead,
    Opportunity,
    Record,
)

UNCHANGED_STAGE = "unchanged"  # an Amount change alone: UPDATE events omit StageName
CONTACTED_STATUS = "working_contacted"  # standard lead status "Working - Contacted"
QUALIFIED_STATUS = "qualified"
CLOSED_WON, CLOSED_LOST = "closed_won", "closed_lost"
MILESTONES = frozenset({"created", "qualified", "converted", "opened", "logged"})
GAP = "GAP_"
HEADER = "ChangeEventHeader"
FIELD_BITMAP = re.compile(r"(\d+-)?0x[0-9a-fA-F]+")  # `0x08F81000`, nested `4-0x01`


class _Header(Struct):
    entityName: Id
    changeType: Id
    commitTimestamp: EpochMillis
    recordIds: Annotated[list[Id], Meta(min_length=1)]
    changedFields: list[object] | None = None


class _ChangeEvent(Struct):
    ChangeEventHeader: _Header


class _GapHeader(Struct):
    """What a gap or overflow event names (an overflow has no record ids)."""

    entityName: Id
    changeType: Id
    recordIds: list[Id] | None = None
    commitTimestamp: int | None = None


class _GapEvent(Struct):
    ChangeEventHeader: _GapHeader


R = TypeVar("R", bound=Record)


class _Change:
    """One change event: its header, and the record fields read as the entity's Struct."""

    def __init__(self, document: JsonObject, where: str) -> None:
        self.document, self.where = document, where
        self.header = convert(document, _ChangeEvent, where).ChangeEventHeader
        changed = [str(name) for name in self.header.changedFields or []]
        if any(FIELD_BITMAP.fullmatch(name) for name in changed):
            changed = [name for name, value in document.items() if value is not None]
        self.changed = set(changed) - {HEADER}

    @property
    def kind(self) -> tuple[str, str]:
        return str(self.header.entityName), str(self.header.changeType)

    def item(self, raw: bytes) -> Item:
        """This change as an item with its events."""
        records = [str(record) for record in self.header.recordIds]
        translations = [_handlers.events(self.kind, self, record) for record in records]
        return Item(".".join(self.kind), raw, [e for events in translations for e in events])

    def record(self, kind: type[R]) -> R:
        return convert(self.document, kind, self.where)

    def has(self, name: str) -> bool:
        """Whether this change sets `name`: any field of a CREATE, a changed one of an UPDATE."""
        return name in self.document and (self.kind[1] == "CREATE" or name in self.changed)

    def amount(self, record: Opportunity) -> float | None:
        return amount(record.Amount, f"{self.where}.Amount")

    def event(self, kind: str, record: str, step: str, /, **fields: object) -> CanonicalEvent:
        entity, at = str(self.header.entityName).lower(), self.header.commitTimestamp
        milestone = step if step in MILESTONES else None
        event_id = salesforce_event_id(entity, record, kind, at, milestone, step)
        return canonical_event("salesforce", event_id, kind, millis_time(at), **fields)


salesforce_event_id = generic_ids("salesforce")
"""The `event_id` of one Salesforce fact, the same from a change event and an export:
a milestone (`MILESTONES`) is one per record; any other change one per record, step
(won, lost, stage, amount, contacted, resolved, ...) and commit time in epoch ms."""


_handlers = Handlers[[_Change, str]]()


def adapt(body: bytes) -> list[Item]:
    """One item per change event of a delivery. In a JSON array each is judged alone (a
    malformed one is refused, the others go on); a single malformed one refuses the body."""
    if not body.lstrip().startswith(b"["):
        return [_item(*_payload(decode(body, JsonObject), "$"), body)]
    raws = decode(body, list[msgspec.Raw])
    if not raws:
        raise BadPayload("$: the array holds no change events")
    return [_batch_item(bytes(raw), f"$[{n}]") for n, raw in enumerate(raws)]


def _batch_item(raw: bytes, where: str) -> Item:
    if not raw.lstrip().startswith(b"{"):
        raise BadPayload(f"{where}: expected a change event object")
    try:
        return _item(*_payload(decode(raw, JsonObject, where), where), raw)
    except BadPayload as problem:
        return Item("unknown", raw).refused(BAD_ITEM, str(problem))


def _item(change: JsonObject, where: str, raw: bytes) -> Item:
    """A change event's item, or its `upstream_gap` refusal: a gap names the records and
    the time to backfill from, an overflow (`GAP_OVERFLOW`) only the entity and time."""
    gap = convert(change, _GapEvent, where).ChangeEventHeader
    entity, change_type = str(gap.entityName), str(gap.changeType)
    if not change_type.startswith(GAP):
        return _Change(change, where).item(raw)
    records = ", ".join(str(record) for record in gap.recordIds or []) or "all records"
    detail = f"{change_type} {entity} {records} at {gap.commitTimestamp}: backfill from Salesforce"
    return Item(f"{entity}.{change_type}", raw).refused(UPSTREAM_GAP, detail)


def _payload(change: JsonObject, where: str) -> tuple[JsonObject, str]:
    """The change event (and its place) in a CometD message (`data.payload`) or a Pub/Sub
    envelope (`payload`)."""
    if "data" in change and HEADER not in change:
        where = f"{where}.data"
        change = convert(change["data"], JsonObject, where)
    if "payload" in change and HEADER not in change:
        where = f"{where}.payload"
        change = convert(change["payload"], JsonObject, where)
    return change, where


@_handlers.on("Lead", "CREATE")
def _lead_created(change: _Change, lead_id: str) -> list[CanonicalEvent]:
    channel = label(change.record(Lead).LeadSource) or "unknown"
    return [change.event("lead.created", lead_id, "created", lead_id=lead_id, channel=channel)]


@_handlers.on("Lead", "UPDATE")
def _lead_updated(change: _Change, lead_id: str) -> list[CanonicalEvent]:
    lead, events = change.record(Lead), []
    status = label(lead.Status) if change.has("Status") else None
    if status == CONTACTED_STATUS:
        fields = {"rep": lead.rep, "team": lead.team}
        events.append(
            change.event("lead.contacted", lead_id, "contacted", lead_id=lead_id, **fields)
        )
    elif status == QUALIFIED_STATUS:
        events.append(change.event("lead.qualified", lead_id, "qualified", lead_id=lead_id))
    if change.has("IsConverted") and lead.IsConverted:
        customer = text(lead.ConvertedAccountId)
        events.append(
            change.event(
                "lead.converted", lead_id, "converted", lead_id=lead_id, customer_id=customer
            )
        )
    return events


@_handlers.on("Opportunity", "CREATE")
def _opportunity_created(change: _Change, deal_id: str) -> list[CanonicalEvent]:
    deal = change.record(Opportunity)
    stage = label(deal.StageName) or "new"
    created = change.event(
        "opportunity.created",
        deal_id,
        "created",
        opportunity_id=deal_id,
        amount=change.amount(deal) or 0.0,
        stage=stage,
        rep=deal.rep,
        team=deal.team,
        channel=label(deal.LeadSource),
    )
    return [created, *_closing(change, deal, deal_id, stage)]


@_handlers.on("Opportunity", "UPDATE")
def _opportunity_updated(change: _Change, deal_id: str) -> list[CanonicalEvent]:
    deal = change.record(Opportunity)
    value = change.amount(deal) if change.has("Amount") else None
    if change.has("StageName"):
        stage = label(deal.StageName) or "new"
        closing = _closing(change, deal, deal_id, stage, value)
        if closing:
            return closing
        fields = {"opportunity_id": deal_id, "stage": stage, "amount": value}
        return [change.event("opportunity.stage_changed", deal_id, "stage", **fields)]
    if value is not None:
        fields = {"opportunity_id": deal_id, "stage": UNCHANGED_STAGE, "amount": value}
        return [change.event("opportunity.stage_changed", deal_id, "amount", **fields)]
    return []


def _closing(
    change: _Change, deal: Opportunity, deal_id: str, stage: str, value: float | None = None
) -> list[CanonicalEvent]:
    """`won` / `lost` when the stage is a closed one (`IsWon` / `IsClosed`, else its name)."""
    if deal.IsWon or stage == CLOSED_WON:
        fields = {"opportunity_id": deal_id, "amount": value}
        return [change.event("opportunity.won", deal_id, "won", **fields)]
    if (deal.IsClosed and deal.IsWon is False) or stage == CLOSED_LOST:
        fields = {"opportunity_id": deal_id, "reason": label(deal.Loss_Reason__c)}
        return [change.event("opportunity.lost", deal_id, "lost", **fields)]
    return []


@_handlers.on("Case", "CREATE")
def _case_created(change: _Change, case_id: str) -> list[CanonicalEvent]:
    case = change.record(Case)
    priority = PRIORITIES.get(label(case.Priority) or "", "normal")
    fields = {"team": case.team, "priority": priority, "customer_id": text(case.AccountId)}
    return [change.event("ticket.opened", case_id, "opened", ticket_id=case_id, **fields)]


@_handlers.on("Case", "UPDATE")
def _case_updated(change: _Change, case_id: str) -> list[CanonicalEvent]:
    if not change.has("Status"):
        return []
    status = label(change.record(Case).Status)
    if status == "closed":
        return [change.event("ticket.resolved", case_id, "resolved", ticket_id=case_id)]
    if status == "reopened":
        return [change.event("ticket.reopened", case_id, "reopened", ticket_id=case_id)]
    return []


@_handlers.on("Task", "CREATE")
@_handlers.on("Event", "CREATE")
def _activity_created(change: _Change, activity_id: str) -> list[CanonicalEvent]:
    activity = change.record(Activity)
    is_meeting = change.kind[0] == "Event"
    kind = "meeting" if is_meeting else label(activity.TaskSubtype) or "task"
    who, what = text(activity.WhoId) or "", text(activity.WhatId) or ""
    fields = {
        "activity_id": activity_id,
        "kind": kind,
        "rep": activity.rep,
        "team": activity.team,
        "lead_id": who if who.startswith("00Q") else None,  # Lead ids start with 00Q
        "opportunity_id": what if what.startswith("006") else None,  # Opportunity: 006
    }
    return [change.event("activity.logged", activity_id, "logged", **fields)]
