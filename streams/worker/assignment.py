"""The source partitions this worker owns, as the group's rebalances assign and revoke them."""

from __future__ import annotations

import time
from collections.abc import Iterable

from streams.kafka.partitions import PartitionId
from streams.kafka.topics import Topics


class Assignment:
    """Owned partitions, and the one epoch counter: it moves on every revocation.

    Work begun in an earlier epoch (a fetched batch, a recovery) may cover partitions this
    worker no longer owns: it is dropped and comes again from the committed offsets.
    """

    def __init__(self, topics: Topics) -> None:
        self.owned: frozenset[PartitionId] = frozenset()
        self.epoch = 0
        self.rebalances = 0
        self.changed_at = time.monotonic()  # the last assignment or revocation
        self.reporting_partition = PartitionId(topics.prefix + "customers", 0)

    def assign(self, partitions: Iterable[PartitionId]) -> None:
        self.owned = frozenset(partitions)
        self.rebalances += 1
        self.changed_at = time.monotonic()

    def revoke(self, partitions: Iterable[PartitionId]) -> None:
        self.epoch += 1
        self.owned -= frozenset(partitions)
        self.changed_at = time.monotonic()

    @property
    def reporter(self) -> bool:
        """Whether this worker speaks for the group: it owns the first customers partition."""
        return self.reporting_partition in self.owned
