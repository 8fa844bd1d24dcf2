"""Zendesk event webhooks (`type`, `detail`, `event`) -> canonical events.

Ticket events and messaging replies (`messaging_ticket.message_added`, the web widget,
WhatsApp, ...) are read; user, organization and other events are ignored. A ticket's
creation, resolution and reopening get the ids an export of the same fact gets
(`zendesk_event_id`); replies, which no export lists one by one, keep the webhook's id.
"""

from __future__ import annotations

from typing import TypeVar

from msgspec import Struct

from kpis.events import to_micros
from streams.http.ingest.handlers import Handlers
from streams.http.ingest.items import Item
from streams.http.ingest.payload import (
    CanonicalEvent,
    Id,
    JsonObject,
    Text,
    ZonedTime,
    canonical_event,
    convert,
    decode,
    generic_ids,
    stable_id,
    text,
    zoned_time,
)

EVENT_TYPE = "zen:event-type:"
UNASSIGNED = "unassigned"
PRIORITIES = {"low": "low", "normal": "normal", "high": "high", "urgent": "urgent"}
OPEN_STATUSES = {"new", "open", "pending", "hold"}
MESSAGE_AUTHORS = {"end_user": "customer", "agent": "agent"}  # trigger, system: automated
_ZENDESK_IDS = generic_ids("zendesk")  # per ticket and milestone, else step and time


class _Webhook(Struct):
    type: Id
    id: Id
    time: ZonedTime
    detail: JsonObject | None = None
    event: JsonObject | None = None

    def canonical(
        self, kind: str, ticket: _Ticket, milestone: str | None = None, /, **fields: object
    ) -> CanonicalEvent:
        """A ticket's event; a reply's id is the webhook's, others' that of the fact."""
        occurred_at = zoned_time(self.time)
        if kind == "ticket.replied":
            event_id = stable_id("zendesk", self.id)
        else:
            at_ms = to_micros(self.time) // 1000
            event_id = zendesk_event_id("ticket", ticket.ticket_id, kind, at_ms, milestone, None)
        return canonical_event(
            "zendesk", event_id, kind, occurred_at, ticket_id=ticket.ticket_id, **fields
        )


def zendesk_event_id(
    object_type: str,
    object_id: str,
    kind: str,
    occurred_ms: int,
    milestone: str | None,
    changed: str | None,
) -> str:
    """The `event_id` of one Zendesk fact, the same from a webhook and from an export.

    A milestone (created, rated) is one per object; any other change is one per object,
    step (`changed`, else the type's verb: resolved, reopened) and time. Exports give
    times to the second, webhooks to the microsecond: the id holds the whole second.
    """
    in_seconds = occurred_ms // 1000 * 1000
    return _ZENDESK_IDS(object_type, object_id, kind, in_seconds, milestone, changed)


class _Ticket(Struct):
    id: Id

    @property
    def ticket_id(self) -> str:
        return str(self.id)


class _NewTicket(_Ticket):
    group_id: Text = None
    organization_id: Text = None
    priority: Text = None


class _StatusChange(Struct):
    current: Text = None
    previous: Text = None


class _Author(Struct):
    is_staff: bool | None = None


class _Comment(Struct):
    is_public: bool | None = None
    author: _Author | None = None


class _CommentAdded(Struct):
    comment: _Comment | None = None


class _Actor(Struct):
    type: Text = None


class _MessageAdded(Struct):
    actor: _Actor | None = None


S = TypeVar("S", bound=Struct)
_handlers = Handlers[[_Webhook]]()


def adapt(body: bytes) -> list[Item]:
    """The one item of a Zendesk webhook: ticket created, status changed, reply added."""
    webhook = decode(body, _Webhook)
    kind = str(webhook.type).removeprefix(EVENT_TYPE)
    return [Item(kind, body, _handlers.events((kind,), webhook))]


def _detail(webhook: _Webhook, kind: type[S]) -> S:
    return convert(webhook.detail or {}, kind, "$.detail")


def _change(webhook: _Webhook, kind: type[S]) -> S:
    return convert(webhook.event or {}, kind, "$.event")


@_handlers.on("ticket.created")
def _ticket_created(webhook: _Webhook) -> list[CanonicalEvent]:
    ticket = _detail(webhook, _NewTicket)
    group, organization = text(ticket.group_id), text(ticket.organization_id)
    priority = (text(ticket.priority) or "normal").lower()
    opened = webhook.canonical(
        "ticket.opened",
        ticket,
        "created",
        team=f"group_{group}" if group else UNASSIGNED,  # a Zendesk group is a team
        priority=PRIORITIES.get(priority, "normal"),
        customer_id=organization if organization != "0" else None,
    )
    return [opened]


@_handlers.on("ticket.status_changed")
def _status_changed(webhook: _Webhook) -> list[CanonicalEvent]:
    ticket, change = _detail(webhook, _Ticket), _change(webhook, _StatusChange)
    current, previous = (text(change.current) or "").lower(), (text(change.previous) or "").lower()
    if current == "solved" or (current == "closed" and previous != "solved"):
        return [webhook.canonical("ticket.resolved", ticket)]
    if current in OPEN_STATUSES and previous in ("solved", "closed"):
        return [webhook.canonical("ticket.reopened", ticket)]
    return []


@_handlers.on("ticket.comment_added")
def _comment_added(webhook: _Webhook) -> list[CanonicalEvent]:
    ticket = _detail(webhook, _Ticket)
    comment = _change(webhook, _CommentAdded).comment or _Comment()
    if not comment.is_public:
        return []  # internal notes are no reply
    staff = comment.author is not None and comment.author.is_staff
    return [webhook.canonical("ticket.replied", ticket, author="agent" if staff else "customer")]


@_handlers.on("messaging_ticket.message_added")
def _message_added(webhook: _Webhook) -> list[CanonicalEvent]:
    """A messaging reply by the end user or an agent; bots and triggers are no reply."""
    ticket = _detail(webhook, _Ticket)
    actor = _change(webhook, _MessageAdded).actor or _Actor()
    author = MESSAGE_AUTHORS.get(text(actor.type) or "")
    if author is None:
        return []
    return [webhook.canonical("ticket.replied", ticket, author=author)]
