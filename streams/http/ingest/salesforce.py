"""Salesforce Change Data Capture events -> canonical events.

A body is one change event or a JSON array of them, each the event's `payload`
(a `ChangeEventHeader` plus the record's fields) or the Pub/Sub envelope
`{"payload": {...}, "event": {"replayId": ...}}`. A CREATE carries every set
field; an UPDATE only the changed ones (listed in `changedFields`). One change
event can name several records (`recordIds`): each gets its own events.
"""

from __future__ import annotations

from streams.http.ingest.errors import BadPayload
from streams.http.ingest.payload import (
    CanonicalEvent,
    JsonObject,
    as_list,
    as_object,
    flag,
    identifier,
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
UNCHANGED_STAGE = "unchanged"  # an Amount change alone: UPDATE events omit StageName
TEAM_FIELD = "Team__c"  # optional custom field carrying the team; Salesforce has none built in
CONTACTED_STATUS = "working_contacted"  # standard lead status "Working - Contacted"
QUALIFIED_STATUS = "qualified"
CLOSED_WON, CLOSED_LOST = "closed_won", "closed_lost"
PRIORITIES = {
    "low": "low",
    "medium": "normal",
    "high": "high",
    "critical": "urgent",
    "urgent": "urgent",
}


def adapt(body: bytes) -> list[CanonicalEvent]:
    """Canonical events of a Change Data Capture delivery."""
    document = parse_json(body)
    if isinstance(document, list):
        if not document:
            raise BadPayload("$: the array holds no change events")
        items = [(item, f"$[{n}]") for n, item in enumerate(document)]
    else:
        items = [(document, "$")]
    events: list[CanonicalEvent] = []
    for item, where in items:
        change = as_object(item, where)
        if "payload" in change:
            where = f"{where}.payload"
            change = as_object(change["payload"], where)
        events.extend(_Change(change, where).events())
    return events


class _Change:
    """One change event, read through its header."""

    def __init__(self, change: JsonObject, where: str) -> None:
        self.change, self.where = change, where
        header_at = f"{where}.ChangeEventHeader"
        header = as_object(change.get("ChangeEventHeader"), header_at)
        self.entity = text(header, "entityName", header_at)
        self.kind = text(header, "changeType", header_at)
        self.transaction = text(header, "transactionKey", header_at)
        self.sequence = integer(header, "sequenceNumber", header_at)
        self.occurred_at = millis_time(header, "commitTimestamp", header_at)
        records = as_list(header.get("recordIds"), f"{header_at}.recordIds")
        if not records:
            raise BadPayload(f"{header_at}.recordIds: empty")
        self.record_ids = [
            identifier(record, f"{header_at}.recordIds[{n}]") for n, record in enumerate(records)
        ]
        changed = header.get("changedFields")
        self.changed = {str(name) for name in as_list(changed or [], f"{header_at}.changedFields")}

    def events(self) -> list[CanonicalEvent]:
        handler = _HANDLERS.get((self.entity, self.kind))
        if handler is None:
            return []
        return [event for record in self.record_ids for event in handler(self, record)]

    def field(self, name: str) -> str | None:
        return optional_text(self.change, name, self.where)

    def has(self, name: str) -> bool:
        """Whether this change sets `name`: any field of a CREATE, a changed one of an UPDATE."""
        return name in self.change and (self.kind == "CREATE" or name in self.changed)

    def event(self, kind: str, record: str, step: str, /, **fields: object) -> CanonicalEvent:
        fields = {name: value for name, value in fields.items() if value is not None}
        return {
            "event_id": stable_id("salesforce", self.transaction, self.sequence, record, step),
            "type": kind,
            "occurred_at": self.occurred_at,
            "source": "salesforce",
            **fields,
        }

    @property
    def rep(self) -> str:
        return self.field("OwnerId") or "unknown"

    @property
    def team(self) -> str:
        return label(self.field(TEAM_FIELD)) or UNASSIGNED


def _lead_created(change: _Change, lead: str) -> list[CanonicalEvent]:
    channel = label(change.field("LeadSource")) or "unknown"
    return [change.event("lead.created", lead, "created", lead_id=lead, channel=channel)]


def _lead_updated(change: _Change, lead: str) -> list[CanonicalEvent]:
    events = []
    status = label(change.field("Status")) if change.has("Status") else None
    if status == CONTACTED_STATUS:
        fields = {"rep": change.rep, "team": change.team}
        events.append(change.event("lead.contacted", lead, "contacted", lead_id=lead, **fields))
    elif status == QUALIFIED_STATUS:
        events.append(change.event("lead.qualified", lead, "qualified", lead_id=lead))
    if change.has("IsConverted") and flag(change.change, "IsConverted", change.where):
        customer = change.field("ConvertedAccountId")
        converted = change.event("lead.converted", lead, "converted", lead_id=lead)
        events.append({**converted, **({"customer_id": customer} if customer else {})})
    return events


def _opportunity_created(change: _Change, deal: str) -> list[CanonicalEvent]:
    stage = label(change.field("StageName")) or "new"
    created = change.event(
        "opportunity.created",
        deal,
        "created",
        opportunity_id=deal,
        amount=money(change.change, "Amount", change.where) or 0.0,
        stage=stage,
        rep=change.rep,
        team=change.team,
        channel=label(change.field("LeadSource")),
    )
    return [created, *_closing(change, deal, stage)]


def _opportunity_updated(change: _Change, deal: str) -> list[CanonicalEvent]:
    amount = money(change.change, "Amount", change.where) if change.has("Amount") else None
    if change.has("StageName"):
        stage = label(change.field("StageName")) or "new"
        closing = _closing(change, deal, stage, amount)
        if closing:
            return closing
        fields = {"opportunity_id": deal, "stage": stage, "amount": amount}
        return [change.event("opportunity.stage_changed", deal, "stage", **fields)]
    if amount is not None:
        fields = {"opportunity_id": deal, "stage": UNCHANGED_STAGE, "amount": amount}
        return [change.event("opportunity.stage_changed", deal, "amount", **fields)]
    return []


def _closing(
    change: _Change, deal: str, stage: str, amount: float | None = None
) -> list[CanonicalEvent]:
    """`won` / `lost` when the stage is a closed one (`IsWon` / `IsClosed`, else its name)."""
    won = flag(change.change, "IsWon", change.where)
    closed = flag(change.change, "IsClosed", change.where)
    if won or stage == CLOSED_WON:
        return [change.event("opportunity.won", deal, "won", opportunity_id=deal, amount=amount)]
    if (closed and won is False) or stage == CLOSED_LOST:
        reason = label(change.field("Loss_Reason__c"))
        fields = {"opportunity_id": deal, "reason": reason}
        return [change.event("opportunity.lost", deal, "lost", **fields)]
    return []


def _case_created(change: _Change, case: str) -> list[CanonicalEvent]:
    priority = PRIORITIES.get(label(change.field("Priority")) or "", "normal")
    fields = {"team": change.team, "priority": priority, "customer_id": change.field("AccountId")}
    return [change.event("ticket.opened", case, "opened", ticket_id=case, **fields)]


def _case_updated(change: _Change, case: str) -> list[CanonicalEvent]:
    if not change.has("Status"):
        return []
    status = label(change.field("Status"))
    if status == "closed":
        return [change.event("ticket.resolved", case, "resolved", ticket_id=case)]
    if status == "reopened":
        return [change.event("ticket.reopened", case, "reopened", ticket_id=case)]
    return []


def _activity_created(change: _Change, activity: str) -> list[CanonicalEvent]:
    kind = "meeting" if change.entity == "Event" else label(change.field("TaskSubtype")) or "task"
    who, what = change.field("WhoId") or "", change.field("WhatId") or ""
    fields = {
        "activity_id": activity,
        "kind": kind,
        "rep": change.rep,
        "team": change.team,
        "lead_id": who if who.startswith("00Q") else None,  # Lead ids start with 00Q
        "opportunity_id": what if what.startswith("006") else None,  # Opportunity: 006
    }
    return [change.event("activity.logged", activity, "logged", **fields)]


_HANDLERS = {
    ("Lead", "CREATE"): _lead_created,
    ("Lead", "UPDATE"): _lead_updated,
    ("Opportunity", "CREATE"): _opportunity_created,
    ("Opportunity", "UPDATE"): _opportunity_updated,
    ("Case", "CREATE"): _case_created,
    ("Case", "UPDATE"): _case_updated,
    ("Task", "CREATE"): _activity_created,
    ("Event", "CREATE"): _activity_created,
}
