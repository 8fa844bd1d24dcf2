"""Pipedrive webhooks v2 (`meta`, `data`, `previous`) -> canonical events.

`data` is the object after the change, `previous` the changed fields' old values.
Deals, activities and leads are read; other entities and deletions are ignored.
"""

from __future__ import annotations

from typing import TypeVar

from msgspec import Struct

from streams.http.ingest.errors import BadPayload
from streams.http.ingest.handlers import Handlers
from streams.http.ingest.payload import (
    CanonicalEvent,
    EpochMillis,
    Id,
    JsonObject,
    RawAmount,
    Text,
    ZonedTime,
    amount,
    canonical_event,
    convert,
    decode,
    label,
    millis_time,
    stable_id,
    text,
    zoned_time,
)

UNASSIGNED = "unassigned"


class _Meta(Struct):
    action: Id
    entity: Id
    timestamp: EpochMillis | ZonedTime  # v2 sends an ISO time; v1-style milliseconds are read too
    entity_id: Text = None


class _Body(Struct):
    meta: _Meta
    data: JsonObject | None = None
    previous: JsonObject | None = None


class _Identified(Struct):
    id: Id


class _Owned(Struct):
    owner_id: Text = None
    user_id: Text = None

    @property
    def rep(self) -> str:
        return text(self.owner_id) or text(self.user_id) or "unknown"


class _Deal(_Owned):
    value: RawAmount = None
    status: Text = None
    stage_id: Text = None
    lost_reason: Text = None

    @property
    def stage(self) -> str:
        stage = text(self.stage_id)
        return f"stage_{stage}" if stage else "new"


class _Activity(_Owned):
    done: bool | None = None
    type: Text = None
    deal_id: Text = None
    lead_id: Text = None


class _Lead(_Owned):
    source_name: Text = None


class _PreviousActivity(Struct):
    done: bool | None = None


F = TypeVar("F", bound=Struct)


class _Webhook:
    def __init__(self, body: _Body) -> None:
        meta = body.meta
        self.action, self.entity = str(meta.action), str(meta.entity)
        if isinstance(meta.timestamp, int):
            self.occurred_at = millis_time(meta.timestamp)
        else:
            self.occurred_at = zoned_time(meta.timestamp)
        self.data, self.previous = body.data or {}, body.previous or {}
        if self.data:
            self.id = str(convert(self.data, _Identified, "$.data").id)
        else:
            self.id = text(meta.entity_id) or _required("$.meta.entity_id")

    def fields(self, kind: type[F]) -> F:
        """`data` as the entity's Struct."""
        return convert(self.data, kind, "$.data")

    def previous_fields(self, kind: type[F]) -> F:
        return convert(self.previous, kind, "$.previous")

    def event(self, kind: str, step: str, /, **fields: object) -> CanonicalEvent:
        """A canonical event whose id is the object's id and the step (and time, for changes)."""
        changed_at = (self.occurred_at,) if step == "changed" else ()  # a change can recur
        event_id = stable_id("pipedrive", self.entity, self.id, step, *changed_at)
        return canonical_event("pipedrive", event_id, kind, self.occurred_at, **fields)


def _required(where: str) -> str:
    raise BadPayload(f"{where}: required")


_handlers = Handlers[[_Webhook]]()


def adapt(body: bytes) -> list[CanonicalEvent]:
    """Canonical events of one Pipedrive webhook."""
    webhook = _Webhook(decode(body, _Body))
    return _handlers.events((webhook.entity, webhook.action), webhook)


@_handlers.on("deal", "create")
def _deal_created(hook: _Webhook) -> list[CanonicalEvent]:
    deal = hook.fields(_Deal)
    created = hook.event(
        "opportunity.created",
        "created",
        opportunity_id=hook.id,
        amount=amount(deal.value, "$.data.value") or 0.0,
        stage=deal.stage,
        rep=deal.rep,
        team=UNASSIGNED,
    )
    return [created, *_closing(hook, deal)]


@_handlers.on("deal", "change")
def _deal_changed(hook: _Webhook) -> list[CanonicalEvent]:
    deal = hook.fields(_Deal)
    if "status" in hook.previous:
        return _closing(hook, deal)
    if text(deal.status) not in (None, "open"):
        return []  # a closed deal's later edits are no pipeline change
    if "stage_id" in hook.previous or "value" in hook.previous:
        value = amount(deal.value, "$.data.value") if "value" in hook.previous else None
        fields = {"opportunity_id": hook.id, "stage": deal.stage, "amount": value}
        return [hook.event("opportunity.stage_changed", "changed", **fields)]
    return []


def _closing(hook: _Webhook, deal: _Deal) -> list[CanonicalEvent]:
    status = text(deal.status)
    if status == "won":
        value = amount(deal.value, "$.data.value")
        return [hook.event("opportunity.won", "won", opportunity_id=hook.id, amount=value)]
    if status == "lost":
        reason = label(deal.lost_reason)
        return [hook.event("opportunity.lost", "lost", opportunity_id=hook.id, reason=reason)]
    return []


@_handlers.on("activity", "create")
@_handlers.on("activity", "change")
def _activity(hook: _Webhook) -> list[CanonicalEvent]:
    """An activity counts once, when it is done (created done, or marked done later)."""
    activity = hook.fields(_Activity)
    was_done = None
    if "done" in hook.previous:
        was_done = hook.previous_fields(_PreviousActivity).done
    if not activity.done or (hook.action == "change" and was_done is not False):
        return []
    fields = {
        "activity_id": hook.id,
        "kind": label(activity.type) or "task",
        "rep": activity.rep,
        "team": UNASSIGNED,
        "opportunity_id": text(activity.deal_id),
        "lead_id": text(activity.lead_id),
    }
    return [hook.event("activity.logged", "done", **fields)]


@_handlers.on("lead", "create")
def _lead_created(hook: _Webhook) -> list[CanonicalEvent]:
    channel = label(hook.fields(_Lead).source_name) or "unknown"
    return [hook.event("lead.created", "created", lead_id=hook.id, channel=channel)]
