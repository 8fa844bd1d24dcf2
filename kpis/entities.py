"""Per-entity state of KPIS.md: what the monitor remembers about each CRM object.

Every entity has `last_us`, the latest `occurred_at` of the events applied to it: a closed
entity is forgotten once it is older than `T - G` (KPIS.md, "State retention").
"""

from __future__ import annotations

from msgspec import Struct


class Opportunity(Struct, tag=True, array_like=True):
    """An opportunity; `amount_micro` is its current amount in millionths of the currency."""

    amount_micro: int
    stage: str
    rep: str
    team: str
    channel: str | None
    created_us: int
    closed: bool = False
    last_us: int = 0


class Lead(Struct, tag=True, array_like=True):
    """A lead and how far it went through the funnel."""

    created_us: int
    channel: str
    contacted: bool = False
    qualified: bool = False
    converted: bool = False
    last_us: int = 0


class Customer(Struct, tag=True, array_like=True):
    """A subscribed customer; `churned_us` is set once it churned."""

    segment: str
    channel: str
    mrr_micro: int
    acquired_us: int
    churned_us: int | None = None
    last_us: int = 0


class Ticket(Struct, tag=True, array_like=True):
    """A support ticket; agent replies count only until the first resolution."""

    team: str
    priority: str
    customer_id: str | None
    opened_us: int
    agent_replies: int = 0
    resolved: bool = False
    first_resolved_us: int | None = None
    reopened: bool = False
    first_contact_resolved: bool = False
    last_us: int = 0


Entity = Opportunity | Lead | Customer | Ticket
