"""The latest changes made to a partition view's values, for readers that follow them."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from kpis.ledger import PartKey
from kpis.tracked_summary import Change

JOURNAL_MIN_ENTRIES = 4096  # a journal keeps at least this many changes, or one per value


@dataclass(eq=False)
class Journal:
    """The latest changes made to a view's values, in order.

    A reader that summarized the values up to some position of the journal reads on
    from there (`kpis.tracked_summary`). The journal keeps at least as many changes as
    the values hold (reading more would cost about as much as summarizing the values
    anew); a reader further behind, or of a view with another journal (replaced whole),
    starts again.
    """

    changes: list[Change] = field(default_factory=list)
    start: int = 0  # the position of `changes[0]`: how many were dropped before it

    @property
    def end(self) -> int:
        """The position after the last change."""
        return self.start + len(self.changes)

    def since(self, position: int) -> Iterator[Change] | None:
        """The changes from `position` on; None when some of them were dropped."""
        if position < self.start:
            return None
        return itertools.islice(self.changes, position - self.start, None)

    def append(self, changes: Iterable[Change], values: dict[PartKey, int]) -> None:
        """Record changes that made the values `values`."""
        self.changes.extend(changes)
        self._trim(len(values))

    def record(self, old_values: dict[PartKey, int], values: dict[PartKey, int]) -> None:
        """Record what differs between the values before and after a whole replacement."""
        gone = ((key, old, 0) for key, old in old_values.items() if key not in values)
        made = (
            (key, old_values.get(key, 0), value)
            for key, value in values.items()
            if old_values.get(key, 0) != value
        )
        self.append(itertools.chain(gone, made), values)

    def _trim(self, kept_values: int) -> None:
        keep = max(JOURNAL_MIN_ENTRIES, kept_values)
        if len(self.changes) > 2 * keep:  # dropped in halves: amortized, no copy per change
            dropped = len(self.changes) - keep
            del self.changes[:dropped]
            self.start += dropped
