"""Per-entity state of KPIS.md: what the monitor remembers about each CRM object.

Every entity has `last_us`, the latest `occurred_at` of the events applied to it: a closed
entity (won or lost, converted, churned, or resolved and not reopened since: `is_closed`)
is forgotten once it is older than `T - G` (KPIS.md, "State retention"). `born_us` is when
it was created (the `occurred_at` of its creation event).

Entities are held by the hundred thousand, so they are compact: untracked by the garbage
collector (they hold only strings and numbers, never a cycle), and their dimension strings
(a small vocabulary: team, stage, ...) and tickets' customer ids interned: one object for
each distinct value. Their keys and ids are digests (`kpis.digests`).
"""

from __future__ import annotations

from sys import intern
from typing import ClassVar

from msgspec import Struct


class Compact(Struct, gc=False, tag=True, array_like=True):
    """An entity whose `interned` string fields are interned (at creation and decoding)."""

    interned: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for name in self.interned:
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, intern(value))


class Opportunity(Compact):
    """An opportunity; `amount_micro` is its current amount in millionths of the currency."""

    interned = ("stage", "rep", "team", "channel")

    amount_micro: int
    stage: str
    rep: str
    team: str
    channel: str | None
    created_us: int
    closed: bool = False
    last_us: int = 0

    @property
    def born_us(self) -> int:
        return self.created_us

    @property
    def is_closed(self) -> bool:
        return self.closed


class Lead(Compact):
    """A lead and how far it went through the funnel."""

    interned = ("channel",)

    created_us: int
    channel: str
    contacted: bool = False
    qualified: bool = False
    converted: bool = False
    last_us: int = 0

    @property
    def born_us(self) -> int:
        return self.created_us

    @property
    def is_closed(self) -> bool:
        return self.converted


class Customer(Compact):
    """A subscribed customer; `churned_us` is set once it churned."""

    interned = ("segment", "channel")

    segment: str
    channel: str
    mrr_micro: int
    acquired_us: int
    churned_us: int | None = None
    last_us: int = 0

    @property
    def born_us(self) -> int:
        return self.acquired_us

    @property
    def is_closed(self) -> bool:
        return self.churned_us is not None


class Ticket(Compact):
    """A support ticket; agent replies count only until the first resolution."""

    interned = ("team", "priority", "customer_id")

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

    @property
    def born_us(self) -> int:
        return self.opened_us

    @property
    def is_closed(self) -> bool:
        """Resolved and not reopened since."""
        return self.resolved


Entity = Opportunity | Lead | Customer | Ticket
