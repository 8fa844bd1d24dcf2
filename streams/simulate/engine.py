"""A discrete-event engine: entity lifecycles are generators, run in event-time order."""

from __future__ import annotations

import itertools
from collections.abc import Generator, Iterator
from heapq import heappop, heappush
from typing import NamedTuple


class Record(NamedTuple):
    """One CRM event before it gets its id and time: its type and its own fields."""

    type: str
    fields: dict[str, object]


def record(type_: str, **fields: object) -> Record:
    """A record of `type_`; fields that are None (optional and absent) are left out."""
    return Record(type_, {name: value for name, value in fields.items() if value is not None})


Step = tuple[int, Record | None]
"""What a lifecycle yields: when, and what happens then (None only wakes it up)."""

Process = Generator[Step, None, None]
"""A lifecycle: its steps in time order; code between yields runs at the previous step's time."""


class Engine:
    """Runs lifecycles and one-off records in time order, ties broken by scheduling order."""

    def __init__(self) -> None:
        self._queue: list[tuple[int, int, Record | None, Process | None]] = []
        self._order = itertools.count()
        self.now = 0

    def spawn(self, process: Process) -> None:
        """Start a lifecycle: its first step is scheduled now."""
        self._advance(process)

    def schedule(self, at: int, one_off: Record) -> None:
        """A record with no lifecycle (activity, survey response, spend) at `at`."""
        heappush(self._queue, (max(at, self.now), next(self._order), one_off, None))

    def run(self, until: int) -> Iterator[tuple[int, Record, bool]]:
        """Records before `until` in time order, each with whether its lifecycle ends there."""
        queue = self._queue
        while queue and queue[0][0] < until:
            at, _, due, process = heappop(queue)
            self.now = at
            last = process is None or not self._advance(process)
            if due is not None:
                yield at, due, last

    def _advance(self, process: Process) -> bool:
        """Schedule the next step of `process` (never before now); False when it has ended."""
        step = next(process, None)
        if step is None:
            return False
        heappush(self._queue, (max(step[0], self.now), next(self._order), step[1], process))
        return True
