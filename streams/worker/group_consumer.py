"""What the worker asks of the consumer group's consumer."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Protocol

from streams.kafka.partitions import PartitionId


class GroupConsumer(Protocol):
    """Commits and read positions of the source partitions assigned to this worker
    (over Faust's consumer: `streams.kafka.adapter.FaustGroupConsumer`)."""

    async def commit(self, offsets: Mapping[PartitionId, int]) -> None:
        """Commit, per partition, the offset of the next record to read."""
        ...

    async def seek(self, partition: PartitionId, offset: int) -> None:
        """Read `partition` from `offset` on."""
        ...

    async def resume(self, partitions: Collection[PartitionId]) -> None:
        """Fetch `partitions` again, should the consumer have left them paused."""
        ...

    async def position(self, partition: PartitionId) -> int | None:
        """The offset of the next record the consumer reads from `partition`."""
        ...

    def highwater(self, partition: PartitionId) -> int | None:
        """The offset after the newest record of `partition`, as the broker told the last
        fetch of it; None before any (or once it is no longer assigned)."""
        ...
