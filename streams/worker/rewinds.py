"""Partitions read again from their state's next offset, when records before a batch's were
dropped upstream (fetched before a rebalance)."""

from __future__ import annotations

import logging

from streams.kafka.partitions import PartitionId

log = logging.getLogger(__name__)


class Rewinds:
    """Where to read partitions again, each offset at most once."""

    def __init__(self) -> None:
        self.rewound: dict[PartitionId, int] = {}  # the last offset read again, per partition
        self.pending: dict[PartitionId, int] = {}  # not yet handed out in an outcome

    def ask(self, source: PartitionId, expected: int) -> bool:
        """Whether to read a partition again from `expected`, the offset its state needs next.

        Once per offset: if the records are still missing after that, they do not exist
        (retention, compaction or transaction markers), and the gap is accepted.
        """
        if self.rewound.get(source) == expected:
            log.warning("%s has no records from %d: continuing", source, expected)
            return False
        self.rewound[source] = self.pending[source] = expected
        return True

    def take(self) -> dict[PartitionId, int]:
        """The rewinds asked for since the last call."""
        taken, self.pending = self.pending, {}
        return taken
