"""Pipedrive webhooks v2 (`meta`, `data`, `previous`) -> canonical events.

`data` is the object after the change, `previous` the changed fields' old values.
Deals, activities and leads are read; other entities and deletions are ignored.
Webhooks v1 (`current`, `meta.object`, `"v": 1`) are refused, naming the fix: their
shape and fields are not v2's.
"""

from __future__ import annotations

from typing import TypeVar

from msgspec import Struct

from kpis.events import to_micros
from streams.config import ClosingStages, IngestStages
from streams.http.ingest.errors import BadPayload
from streams.http.ingest.handlers import Handlers
from streams.http.ingest.items import Item
from streams.http.ingest.payload import (
    CanonicalEvent,
    EpochSeconds,
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
    seconds_time,
    stable_id,
    text,
    zoned_time,
)

UNASSIGNED = "unassigned"
RECURRING = ("changed", "won", "lost")  # steps a deal can take again, at another time
V1_MARKS = ("current", "v", "event", "retry")  # top-level fields only webhooks v1 send
V1_REFUSED = (
    "webhooks v1 are not supported: create the Pipedrive webhook with version 2.0 (docs/ingest.md)"
)


class _Meta(Struct):
    action: Id
    entity: Id
    timestamp: EpochSeconds | ZonedTime  # an ISO time, or the 10-digit seconds v2 also sends
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
    pipeline_id: Text = None
    lost_reason: Text = None

    def closing(self, stages: IngestStages) -> str | None:
        """`won` or `lost` by status, else by a closing stage configured for its pipeline."""
        status = text(self.status)
        if status in ("won", "lost"):
            return status
        pipeline = stages.pipedrive_deals.get(text(self.pipeline_id) or "", ClosingStages())
        stage = text(self.stage_id)
        if stage in pipeline.won:
            return "won"
        if stage in pipeline.lost:
            return "lost"
        return None

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
    def __init__(self, body: _Body, stages: IngestStages) -> None:
        meta = body.meta
        self.stages = stages
        self.action, self.entity = str(meta.action), str(meta.entity)
        if isinstance(meta.timestamp, int):
            self.occurred_at, self.millis = seconds_time(meta.timestamp), meta.timestamp * 1000
        else:
            self.occurred_at = zoned_time(meta.timestamp)
            self.millis = to_micros(meta.timestamp) // 1000
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
        """A canonical event whose id is the object's id and the step, and the time for
        steps that can recur (`pipedrive_event_id`)."""
        milestone = None if step in RECURRING else step
        event_id = pipedrive_event_id(self.entity, self.id, kind, self.millis, milestone, step)
        return canonical_event("pipedrive", event_id, kind, self.occurred_at, **fields)


def pipedrive_event_id(
    entity: str,
    entity_id: str,
    kind: str,
    occurred_ms: int,
    milestone: str | None,
    changed: str | None,
) -> str:
    """The `event_id` of one Pipedrive fact, the same from a webhook and from an export.

    A milestone (a deal or lead created, an activity done) is one per object; a step that
    can recur (a deal's stage change; won or lost, as a deal can be reopened) is one per
    object, step and time (RFC 3339, as `occurred_at`).
    """
    if milestone is not None:
        return stable_id("pipedrive", entity, entity_id, milestone)
    step = {"opportunity.won": "won", "opportunity.lost": "lost"}.get(kind, changed or "changed")
    return stable_id("pipedrive", entity, entity_id, step, millis_time(occurred_ms))


def _required(where: str) -> str:
    raise BadPayload(f"{where}: required")


_handlers = Handlers[[_Webhook]]()


def adapt(body: bytes, stages: IngestStages) -> list[Item]:
    """The one item of a Pipedrive webhook v2; v1 bodies are refused, naming the fix."""
    document = decode(body, JsonObject)
    meta = document.get("meta")
    if any(mark in document for mark in V1_MARKS) or (isinstance(meta, dict) and _is_v1(meta)):
        raise BadPayload(V1_REFUSED)
    webhook = _Webhook(decode(body, _Body), stages)
    kind = (webhook.entity, webhook.action)
    return [Item(".".join(kind), body, _handlers.events(kind, webhook))]


def _is_v1(meta: dict[object, object]) -> bool:
    return "object" in meta or str(meta.get("version", "2")).startswith("1")


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
    if "status" in hook.previous or ("stage_id" in hook.previous and deal.closing(hook.stages)):
        return _closing(hook, deal)
    if text(deal.status) not in (None, "open"):
        return []  # a closed deal's later edits are no pipeline change
    if "stage_id" in hook.previous or "value" in hook.previous:
        value = amount(deal.value, "$.data.value") if "value" in hook.previous else None
        fields = {"opportunity_id": hook.id, "stage": deal.stage, "amount": value}
        return [hook.event("opportunity.stage_changed", "changed", **fields)]
    return []


def _closing(hook: _Webhook, deal: _Deal) -> list[CanonicalEvent]:
    status = deal.closing(hook.stages)
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
