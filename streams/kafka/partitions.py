"""`PartitionId`: one partition of one topic, the unit of state, checkpoints and store entries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self


@dataclass(frozen=True, order=True)
class PartitionId:
    """A topic's partition. Its text, `topic:partition`, is the name it is stored under
    (checkpoint record keys, store entries, the `partition` label of /metrics)."""

    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}"

    @classmethod
    def parse(cls, name: str) -> Self:
        """The partition named `topic:partition` (topic names may contain `:` themselves)."""
        topic, _, partition = name.rpartition(":")
        return cls(topic, int(partition))
