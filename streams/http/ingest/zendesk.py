"""Zendesk ticket event webhooks (`type`, `detail`, `event`) -> canonical events."""

from __future__ import annotations

from streams.http.ingest.payload import (
    CanonicalEvent,
    as_object,
    flag,
    iso_time,
    optional_object,
    optional_text,
    parse_json,
    stable_id,
    text,
)

EVENT_TYPE = "zen:event-type:"
PRIORITIES = {"low": "low", "normal": "normal", "high": "high", "urgent": "urgent"}
OPEN_STATUSES = {"new", "open", "pending", "hold"}


def adapt(body: bytes) -> list[CanonicalEvent]:
    """Canonical events of one Zendesk webhook: ticket created, status changed, comment added."""
    webhook = as_object(parse_json(body), "$")
    kind = text(webhook, "type", "$").removeprefix(EVENT_TYPE)
    detail = optional_object(webhook, "detail", "$")
    change = optional_object(webhook, "event", "$")
    common: CanonicalEvent = {
        "event_id": stable_id("zendesk", text(webhook, "id", "$")),
        "occurred_at": iso_time(webhook, "time", "$"),
        "source": "zendesk",
    }
    if kind not in ("ticket.created", "ticket.status_changed", "ticket.comment_added"):
        return []
    ticket = text(detail, "id", "$.detail")
    if kind == "ticket.created":
        group = optional_text(detail, "group_id", "$.detail")
        organization = optional_text(detail, "organization_id", "$.detail")
        priority = (optional_text(detail, "priority", "$.detail") or "normal").lower()
        opened = {
            "type": "ticket.opened",
            "ticket_id": ticket,
            "team": f"group_{group}" if group else "unassigned",  # a Zendesk group is a team
            "priority": PRIORITIES.get(priority, "normal"),
        }
        if organization and organization != "0":
            opened["customer_id"] = organization
        return [{**common, **opened}]
    if kind == "ticket.status_changed":
        current = (optional_text(change, "current", "$.event") or "").lower()
        previous = (optional_text(change, "previous", "$.event") or "").lower()
        if current == "solved" or (current == "closed" and previous != "solved"):
            return [{**common, "type": "ticket.resolved", "ticket_id": ticket}]
        if current in OPEN_STATUSES and previous in ("solved", "closed"):
            return [{**common, "type": "ticket.reopened", "ticket_id": ticket}]
        return []
    comment = optional_object(change, "comment", "$.event")
    author = optional_object(comment, "author", "$.event.comment")
    if not flag(comment, "is_public", "$.event.comment"):
        return []  # internal notes are no reply
    staff = flag(author, "is_staff", "$.event.comment.author")
    author_kind = "agent" if staff else "customer"
    return [{**common, "type": "ticket.replied", "ticket_id": ticket, "author": author_kind}]
