"""Where readers find the current parts of every source partition.

One small interface, two implementations: in-process for the single-process
embedded default, Redis (`CRMKPI_REDIS_URL`, `streams.read.redis_store`) for several
workers and readers.
A partition's entry only moves forward, by (incarnation of the logs, offset):
a write older than the stored one (a worker that lost the partition) is
ignored, and changes for a partition the store has no entry of their
incarnation for (Redis restarted empty, or the broker lost its logs) are
refused with `PartitionMissing`: applied to another state they would read as
a whole partition.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from kpis.ledger import PartKey
from kpis.tracked_summary import Change
from streams.read.journal import Journal

Changes = list[tuple[PartKey, int]]


@dataclass(frozen=True)
class Position:
    """How far a published state reaches: its last source offset, in which incarnation of
    the logs, and its event-time watermark."""

    offset: int
    incarnation: int = 0
    watermark_us: int | None = None

    @property
    def order(self) -> tuple[int, int]:
        """Later incarnations first, then higher offsets."""
        return self.incarnation, self.offset


class PartitionMissing(Exception):
    """Changes were published for a partition the store has no entry for: publish it whole."""


@dataclass
class PartitionView:
    """What readers know of one source partition."""

    offset: int = -1
    incarnation: int = 0
    watermark_us: int | None = None
    values: dict[PartKey, int] = field(default_factory=dict)
    version: object = None  # the entry as last read (Redis: its parts are read when it differs)
    journal: Journal = field(default_factory=Journal)  # how `values` came to be


class Store(Protocol):
    async def publish(
        self, partition: str, position: Position, changes: Changes, full: bool
    ) -> None:
        """Record a partition's changed parts (or, with `full`, all of them) up to `position`."""
        ...

    async def read(self) -> dict[str, PartitionView]:
        """Every partition's current view."""
        ...

    async def names(self) -> set[str]:
        """The partitions the store has an entry for."""
        ...

    async def ping(self) -> bool:
        """Whether the store answers."""
        ...

    async def close(self) -> None: ...


def apply_changes(values: dict[PartKey, int], changes: Changes) -> Iterator[Change]:
    """Apply changes to `values`, yielding each that changed a value."""
    for key, value in changes:
        old = values.get(key, 0)
        if value == old:
            continue
        if value:
            values[key] = value
        else:
            del values[key]
        yield key, old, value


def followed_view(
    before: PartitionView | None, pairs: Changes, whole: bool, position: Position, version: object
) -> PartitionView:
    """A reader's view of a partition brought up to `position`: `before` with the changes
    `pairs` applied, or (`whole`) replaced by the parts `pairs`, its journal recording what
    differs."""
    if before is not None and not whole:
        values, journal = before.values, before.journal
        journal.append(apply_changes(values, pairs), values)
    else:
        values, journal = dict(pairs), Journal()
        if before is not None:
            journal = before.journal
            journal.record(before.values, values)
    offset, incarnation, watermark_us = position.offset, position.incarnation, position.watermark_us
    return PartitionView(offset, incarnation, watermark_us, values, version, journal)


class MemoryStore:
    """The in-process store of the single-process embedded default."""

    def __init__(self) -> None:
        self.partitions: dict[str, PartitionView] = {}

    async def publish(
        self, partition: str, position: Position, changes: Changes, full: bool
    ) -> None:
        view = self.partitions.get(partition)
        if view is not None and (view.incarnation, view.offset) > position.order:
            return
        if not full and (view is None or view.incarnation != position.incarnation):
            raise PartitionMissing(partition)
        if view is None:
            view = self.partitions[partition] = PartitionView()
        if full:
            values = {key: value for key, value in changes if value}
            view.journal.record(view.values, values)
            view.values = values
        else:
            view.journal.append(apply_changes(view.values, changes), view.values)
        view.offset, view.incarnation = position.offset, position.incarnation
        view.watermark_us = position.watermark_us

    async def read(self) -> dict[str, PartitionView]:
        return self.partitions

    async def names(self) -> set[str]:
        return set(self.partitions)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None
