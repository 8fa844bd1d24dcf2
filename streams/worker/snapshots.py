"""When a source partition's checkpoint is a full snapshot of its state, not its changes.

A recovery reads a checkpoint partition from the smallest latest snapshot of the
sources it recovers on (see `checkpoint_log`): every record written there since, of
every source, not only the source's own changes. So the policy keeps that read near the
size of the states: a snapshot is written as the first checkpoint after a recovery;
when the source's changes since its last snapshot outgrow the state (its size now,
estimated at the last snapshot's bytes per entry, never below that snapshot: a growing
state, whose changes are mostly what it adds, is not snapshotted at each doubling); when
this worker has written more bytes to the checkpoint partition since then than the
states of all its sources there (`BYTES_BEHIND` times), so that a large state changing slowly
never keeps busier sources' superseded records in front of the others' snapshots; and
when the last snapshot lies more than `max_behind` records behind the head of its
checkpoint partition (the records other workers write there, whose bytes this one does
not see). The last two also apply to idle sources, at the worker's housekeeping.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass

from kpis import checkpoint as cp
from kpis.engine import PartitionState
from streams.kafka.partitions import PartitionId
from streams.read.store import Changes

MAX_BEHIND = 10_000  # records of a checkpoint partition in front of a source's snapshot
BYTES_BEHIND = 1.0  # bytes written since a source's snapshot, per byte of its partition's snapshots


@dataclass(frozen=True)
class Taken:
    """A source's next checkpoint, and the parts changed since the previous one: what the
    store is told, even when the checkpoint is a snapshot of every part."""

    checkpoint: cp.Checkpoint
    changes: Changes


@dataclass
class _Chain:
    """A source's checkpoints since its latest snapshot, as this worker wrote them."""

    since: int  # the source offset the last checkpoint taken covered
    base: int  # checkpoint-log offset of the snapshot
    snapshot_bytes: int
    log: int  # its checkpoint partition
    mark: int  # bytes this worker had written to that partition up to the snapshot
    snapshot_entries: int  # ids, entities and parts in it
    change_bytes: int = 0
    state_bytes: int = 0  # the state's size at the last take, estimated (`_estimate`)


class SnapshotPolicy:
    """Takes each source's next checkpoint, a snapshot or its changes, and keeps account
    of what was written."""

    def __init__(
        self,
        max_behind: int = MAX_BEHIND,
        log_partition: Callable[[PartitionId], int] = lambda source: source.partition,
    ) -> None:
        self.max_behind = max_behind
        self.log_partition = log_partition  # the checkpoint partition of a source
        self.chains: dict[PartitionId, _Chain] = {}  # none yet: the next one is a snapshot
        self.log_bytes: Counter[int] = Counter()  # written by this worker, per log partition

    def take(self, source: PartitionId, state: PartitionState) -> Taken:
        """The source's next checkpoint; clears the state's change tracking."""
        chain = self.chains.get(source)
        if chain is None:
            return _snapshot(state)
        chain.state_bytes = _estimate(chain, state)
        if chain.change_bytes > chain.state_bytes or self._far_behind(chain):
            taken = _snapshot(state)
            chain.change_bytes = 0  # changes taken until it is written name the former base
        else:
            changes = state.ledger.take_changes()
            taken = Taken(cp.take_checkpoint(state, chain.since, chain.base, changes), changes)
        chain.since = taken.checkpoint.offset  # what the next changes follow, once written
        return taken

    def written(
        self, source: PartitionId, checkpoint: cp.Checkpoint, log_offset: int, size: int
    ) -> None:
        """Note a checkpoint the broker acknowledged at `log_offset`, `size` bytes long."""
        log = self.log_partition(source)
        self.log_bytes[log] += size
        chain = self.chains.get(source)
        if chain is None:
            if checkpoint.full:
                self.chains[source] = _Chain(
                    checkpoint.offset,
                    log_offset,
                    size,
                    log,
                    self.log_bytes[log],
                    _entries_in(checkpoint),
                    state_bytes=size,
                )
        elif checkpoint.full:  # the changes written next follow it
            chain.base, chain.snapshot_bytes, chain.change_bytes = log_offset, size, 0
            chain.snapshot_entries, chain.state_bytes = _entries_in(checkpoint), size
            chain.mark = self.log_bytes[log]
            chain.since = max(chain.since, checkpoint.offset)  # taken before the chain began
        else:
            chain.change_bytes += size

    def behind(
        self,
        sources: Iterable[PartitionId],
        heads: Mapping[PartitionId, int],
        busy: Container[PartitionId] = frozenset(),
    ) -> list[PartitionId]:
        """The sources whose snapshot lies more than `max_behind` records behind `heads`
        (the next offset of each one's checkpoint partition) or, unless `busy` (their next
        checkpoint applies that rule, `take`), too many bytes behind what this worker wrote
        there, or that have none."""
        return [
            source
            for source in sources
            if source in heads
            and (
                (chain := self.chains.get(source)) is None
                or heads[source] - chain.base > self.max_behind
                or (source not in busy and self._far_behind(chain))
            )
        ]

    def _far_behind(self, chain: _Chain) -> bool:
        """This worker wrote more to the chain's checkpoint partition since its snapshot
        than `BYTES_BEHIND` times the states of all its sources there (as estimated at
        their last take)."""
        states = sum(c.state_bytes for c in self.chains.values() if c.log == chain.log)
        return self.log_bytes[chain.log] - chain.mark > BYTES_BEHIND * states

    def forget(self, source: PartitionId) -> None:
        """The source's next checkpoint is a snapshot (its state was recovered or dropped)."""
        self.chains.pop(source, None)


def _snapshot(state: PartitionState) -> Taken:
    """A snapshot of the state, with the parts changed since the last take."""
    changes = state.ledger.take_changes()
    return Taken(cp.take_snapshot(state), changes)


def _entries_in(checkpoint: cp.Checkpoint) -> int:
    return len(checkpoint.entities) + len(checkpoint.event_ids) + len(checkpoint.parts)


def _estimate(chain: _Chain, state: PartitionState) -> int:
    """The bytes a snapshot of the state would take now, at its last snapshot's bytes per
    entry; never less than that snapshot, so that a state that shrank is judged as before."""
    entries = len(state.entities) + len(state.event_ids) + len(state.ledger.values)
    return max(
        chain.snapshot_bytes, chain.snapshot_bytes * entries // max(1, chain.snapshot_entries)
    )
