"""When a source partition's checkpoint is a full snapshot of its state, not its changes.

A recovery reads a source's checkpoints from its latest snapshot on (see
`checkpoint_log`), so the policy keeps that read near the size of the state:
a snapshot is written as the first checkpoint after a recovery, when the
changes written since the last snapshot outgrow it (a recovery then reads at
most about twice the state), and when the last snapshot lies more than
`max_behind` records behind the head of its checkpoint partition (housekeeping,
so that the records of busier sources never pile up in front of an idle one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kpis import checkpoint as cp
from kpis.engine import PartitionState
from streams.kafka.partitions import PartitionId

MAX_BEHIND = 10_000  # records of a checkpoint partition in front of a source's snapshot


@dataclass
class _Chain:
    """A source's checkpoints since its latest snapshot, as this worker wrote them."""

    since: int  # the source offset the last checkpoint taken covered
    base: int  # checkpoint-log offset of the snapshot
    snapshot_bytes: int
    change_bytes: int = 0


class SnapshotPolicy:
    """Takes each source's next checkpoint, a snapshot or its changes, and keeps account
    of what was written."""

    def __init__(self, max_behind: int = MAX_BEHIND) -> None:
        self.max_behind = max_behind
        self.chains: dict[PartitionId, _Chain] = {}  # none yet: the next one is a snapshot

    def take(self, source: PartitionId, state: PartitionState) -> cp.Checkpoint:
        """The source's next checkpoint; clears the state's change tracking."""
        chain = self.chains.get(source)
        if chain is None:
            return cp.take_snapshot(state)
        if chain.change_bytes > chain.snapshot_bytes:
            checkpoint = cp.take_snapshot(state)
            chain.change_bytes = 0  # changes taken until it is written name the former base
        else:
            checkpoint = cp.take_checkpoint(state, chain.since, chain.base)
        chain.since = checkpoint.offset  # what the next changes follow, once this is written
        return checkpoint

    def written(
        self, source: PartitionId, checkpoint: cp.Checkpoint, log_offset: int, size: int
    ) -> None:
        """Note a checkpoint the broker acknowledged at `log_offset`, `size` bytes long."""
        chain = self.chains.get(source)
        if chain is None:
            if checkpoint.full:
                self.chains[source] = _Chain(checkpoint.offset, log_offset, size)
        elif checkpoint.full:  # the changes written next follow it
            chain.base, chain.snapshot_bytes, chain.change_bytes = log_offset, size, 0
            chain.since = max(chain.since, checkpoint.offset)  # taken before the chain began
        else:
            chain.change_bytes += size

    def behind(
        self, sources: Iterable[PartitionId], heads: Mapping[PartitionId, int]
    ) -> list[PartitionId]:
        """The sources whose snapshot lies more than `max_behind` records behind `heads`
        (the next offset of each one's checkpoint partition), or that have none."""
        return [
            source
            for source in sources
            if source in heads
            and (
                (chain := self.chains.get(source)) is None
                or heads[source] - chain.base > self.max_behind
            )
        ]

    def forget(self, source: PartitionId) -> None:
        """The source's next checkpoint is a snapshot (its state was recovered or dropped)."""
        self.chains.pop(source, None)
