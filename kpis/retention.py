"""State retention (KPIS.md, "State retention"): what a partition still holds at `T - G`.

`T` is the partition's watermark when an event is judged and `G` the grace period. Whether
an entity or an event id is still held is judged logically, from the event times alone, so
a judgement never depends on when memory was physically freed: a state recovered from its
checkpoints judges every later event exactly as the original did.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from kpis.entities import Customer, Entity, Lead, Opportunity, Ticket

if TYPE_CHECKING:
    from kpis.engine import PartitionState

DAY_US = 86_400_000_000
DEFAULT_GRACE_DAYS = 35
MIN_GRACE_DAYS = 31  # more than the longest window (30 days) plus a bucket
FORGET_GROWTH = 1 / 8  # growth of the held entries since the last `forget` that makes it pass
ENTITY_KEYS = frozenset({"lead_id", "opportunity_id", "customer_id", "ticket_id"})
"""The keys of the entities a partition holds; activities, surveys and spend have none."""

IdOwner = Entity | int
"""What an applied event id is kept with: the entity its event was applied to, or the event's
`occurred_at` (µs) if about none. A forgotten entity created again is another object, whose
ids are not the old ones; and no event of an entity is later than its `last_us`."""

IdRecord = tuple[int, int, int]
"""An id as checkpoints carry it: its digest, its entity's digest (0 for none) and that
entity's `born_us` (for none, the event's `occurred_at`)."""


def horizon(watermark_us: int | None, grace_us: int) -> int | None:
    """`T - G`: older events are about forgotten state; None before any event."""
    return None if watermark_us is None else watermark_us - grace_us


def is_held(entity: Entity, limit_us: int | None) -> bool:
    """Open, or closed with its latest event not older than `T - G` (`limit_us`)."""
    return limit_us is None or entity.last_us >= limit_us or not entity.is_closed


def id_is_held(owner: IdOwner, limit_us: int | None) -> bool:
    """An id is kept while its event is within `G` of `T`, and while its entity is held."""
    if isinstance(owner, int):
        return limit_us is None or owner >= limit_us
    return is_held(owner, limit_us)


def id_record(event_id: int, key: int, owner: IdOwner) -> IdRecord:
    """How a checkpoint carries an id (digests of the id and of the entity's key)."""
    return (event_id, key, owner if isinstance(owner, int) else owner.born_us)


def forget(state: PartitionState) -> None:
    """Drop from memory the entities and ids no longer held (the judgements never wait for
    it). A pass visits every entry, so it runs at most once a day of watermark, and only
    once the tables grew by `FORGET_GROWTH` since the last pass: a catch-up, whose every
    batch spans days, pays a pass per eighth of the tables added, not per batch, and a
    live partition holds at most that much more than it must. Entities changed since the
    last checkpoint wait for the next pass, so that a checkpoint always carries their
    latest value."""
    limit_us = state.horizon()
    last = state.forgotten_before_us
    if limit_us is None or (last is not None and limit_us // DAY_US == last // DAY_US):
        return
    if len(state.entities) + len(state.event_ids) < state.forget_at:
        return
    state.forgotten_before_us = limit_us
    changed = state.changed_entities
    state.entities.retain(lambda key, entity: key in changed or is_held(entity, limit_us))
    state.event_ids.retain(lambda _, owner: id_is_held(owner, limit_us))
    state.forget_at = int((len(state.entities) + len(state.event_ids)) * (1 + FORGET_GROWTH))


ENTRY_KINDS: dict[type[Entity], str] = {
    Lead: "leads",
    Opportunity: "opportunities",
    Customer: "customers",
    Ticket: "tickets",
}


def state_entries(states: Iterable[PartitionState]) -> dict[str, int]:
    """What some partitions hold: event ids, entities of each kind and KPI parts."""
    counts = dict.fromkeys(("event_ids", *ENTRY_KINDS.values(), "parts"), 0)
    for state in states:
        counts["event_ids"] += len(state.event_ids)
        counts["parts"] += len(state.ledger.values)
        for kind, count in state.entities.count_by_type().items():
            counts[ENTRY_KINDS[kind]] += count
    return counts
