"""Pipedrive webhooks v2 (`meta`, `data`, `previous`) -> canonical events.

`data` is the object after the change, `previous` the changed fields' old values.
Deals, activities and leads are read; other entities and deletions are ignored.
"""

from __future__ import annotations

from streams.http.ingest.payload import (
    CanonicalEvent,
    JsonObject,
    as_object,
    flag,
    iso_time,
    label,
    millis_time,
    money,
    optional_object,
    optional_text,
    parse_json,
    stable_id,
    text,
)

UNASSIGNED = "unassigned"


def adapt(body: bytes) -> list[CanonicalEvent]:
    """Canonical events of one Pipedrive webhook."""
    webhook = _Webhook(as_object(parse_json(body), "$"))
    handler = _HANDLERS.get((webhook.entity, webhook.action))
    return handler(webhook) if handler is not None else []


class _Webhook:
    def __init__(self, document: JsonObject) -> None:
        meta = as_object(document.get("meta"), "$.meta")
        self.action = text(meta, "action", "$.meta")
        self.entity = text(meta, "entity", "$.meta")
        # v2 sends an ISO time; v1-style integer milliseconds are accepted too
        if isinstance(meta.get("timestamp"), int):
            self.occurred_at = millis_time(meta, "timestamp", "$.meta")
        else:
            self.occurred_at = iso_time(meta, "timestamp", "$.meta")
        self.data = optional_object(document, "data", "$")
        self.previous = optional_object(document, "previous", "$")
        if self.data:
            self.id = text(self.data, "id", "$.data")
        else:
            self.id = text(meta, "entity_id", "$.meta")

    def event(self, kind: str, step: str, /, **fields: object) -> CanonicalEvent:
        """A canonical event whose id is the object's id and the step (and time, for changes)."""
        changed_at = (self.occurred_at,) if step == "changed" else ()  # a change can recur
        return {
            "event_id": stable_id("pipedrive", self.entity, self.id, step, *changed_at),
            "type": kind,
            "occurred_at": self.occurred_at,
            "source": "pipedrive",
            **{name: value for name, value in fields.items() if value is not None},
        }

    def field(self, name: str) -> str | None:
        return optional_text(self.data, name, "$.data")

    @property
    def rep(self) -> str:
        return self.field("owner_id") or self.field("user_id") or "unknown"


def _deal_created(hook: _Webhook) -> list[CanonicalEvent]:
    created = hook.event(
        "opportunity.created",
        "created",
        opportunity_id=hook.id,
        amount=money(hook.data, "value", "$.data") or 0.0,
        stage=_stage(hook),
        rep=hook.rep,
        team=UNASSIGNED,
    )
    return [created, *_closing(hook)]


def _deal_changed(hook: _Webhook) -> list[CanonicalEvent]:
    if "status" in hook.previous:
        return _closing(hook)
    if hook.field("status") not in (None, "open"):
        return []  # a closed deal's later edits are no pipeline change
    if "stage_id" in hook.previous or "value" in hook.previous:
        amount = money(hook.data, "value", "$.data") if "value" in hook.previous else None
        stage = _stage(hook)
        fields = {"opportunity_id": hook.id, "stage": stage, "amount": amount}
        return [hook.event("opportunity.stage_changed", "changed", **fields)]
    return []


def _closing(hook: _Webhook) -> list[CanonicalEvent]:
    status = hook.field("status")
    if status == "won":
        amount = money(hook.data, "value", "$.data")
        return [hook.event("opportunity.won", "won", opportunity_id=hook.id, amount=amount)]
    if status == "lost":
        reason = label(hook.field("lost_reason"))
        return [hook.event("opportunity.lost", "lost", opportunity_id=hook.id, reason=reason)]
    return []


def _stage(hook: _Webhook) -> str:
    stage = hook.field("stage_id")
    return f"stage_{stage}" if stage else "new"


def _activity(hook: _Webhook) -> list[CanonicalEvent]:
    """An activity counts once, when it is done (created done, or marked done later)."""
    done_now = flag(hook.data, "done", "$.data")
    was_done = flag(hook.previous, "done", "$.previous") if "done" in hook.previous else None
    if not done_now or (hook.action == "change" and was_done is not False):
        return []
    fields = {
        "activity_id": hook.id,
        "kind": label(hook.field("type")) or "task",
        "rep": hook.rep,
        "team": UNASSIGNED,
        "opportunity_id": hook.field("deal_id"),
        "lead_id": hook.field("lead_id"),
    }
    return [hook.event("activity.logged", "done", **fields)]


def _lead_created(hook: _Webhook) -> list[CanonicalEvent]:
    channel = label(hook.field("source_name")) or "unknown"
    return [hook.event("lead.created", "created", lead_id=hook.id, channel=channel)]


_HANDLERS = {
    ("deal", "create"): _deal_created,
    ("deal", "change"): _deal_changed,
    ("activity", "create"): _activity,
    ("activity", "change"): _activity,
    ("lead", "create"): _lead_created,
}
