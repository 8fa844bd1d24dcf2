"""The additive parts of every KPI for one source partition.

Every KPI is a formula over integer parts (counts, micro-units of money,
microseconds), so the parts of several partitions simply add up, in any
order, exactly. A part is keyed `(part, dimension value, x, y)`: for a
windowed part `x` is the bucket size in microseconds and `y` the bucket (a
local day for `LOCAL_DAY_US`, see `kpis.windows`); for a point part (`x == 0`)
`y` is a minute, or a pair of minutes (`pair_key`), that never expires (0 for
gauges). Adds to the window buckets are summed apart until the parts are read
(`Ledger.add_windowed`): a catch-up never makes the buckets that expire within its batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from heapq import heappop, heappush
from zoneinfo import ZoneInfo

from kpis.parts import EVENTS_ACCEPTED
from kpis.windows import HOUR_US, LOCAL_DAY_US, MINUTE_US, RETAINED_BUCKETS, UTC_ZONE, LocalDays

PartKey = tuple[str, str, int, int]
POINT = 0  # `x` of a part that is not bucketed by a window
NEVER = -(1 << 62)  # the cutoff of a bucket size that never expires
WINDOW_BUCKETS = (MINUTE_US, HOUR_US, LOCAL_DAY_US)  # the bucket sizes of the KPI windows
MINUTES_PER_HOUR = HOUR_US // MINUTE_US
ACCEPTED_KEY: PartKey = (EVENTS_ACCEPTED, "", POINT, 0)  # the count of accepted events
_PAIR_OFFSET = 1 << 30  # minutes from year 1 to beyond 3000 fit in 31 bits once offset


def pair_key(first_minute: int, second_minute: int) -> int:
    """Two minutes as the one `y` of a point part (`minute_pair` reads them back)."""
    return (first_minute + _PAIR_OFFSET) << 31 | (second_minute + _PAIR_OFFSET)


def minute_pair(key: int) -> tuple[int, int]:
    """The two minutes of a `pair_key`."""
    first, second = divmod(key, 1 << 31)
    return first - _PAIR_OFFSET, second - _PAIR_OFFSET


class Ledger:
    """Integer parts with change tracking, so a checkpoint carries only what changed."""

    def __init__(self, zone: ZoneInfo = UTC_ZONE) -> None:
        self.zone = zone  # of local-day buckets
        self.local_days = LocalDays(zone)
        self._values: dict[PartKey, int] = {}
        # Adds to the window buckets (`add_windowed`), summed by (part, dimension value,
        # minute, local day) until the parts are next read (`values`, `take_changes`, `prune`).
        self.pending: dict[PartKey, int] = {}
        self.pending_t_us: int | None = None  # the event time of the last pending add,
        self.pending_minute = self.pending_day = 0  # and its minute and local day
        self.dirty: dict[PartKey, int] = {}  # parts changed since the last take: their value then
        self.watermark_us: int | None = None
        self.unread_accepted = 0  # events `accept`ed since the parts were last read
        # Per bucket size, the newest expired bucket, as of the last prune: a bucket made
        # since that expired meanwhile is dropped unseen by the next prune.
        self.cutoffs: dict[int, int] = {}
        # Per bucket size that expires, its buckets (a heap, oldest first) and the parts made
        # in each, so that a prune visits the expired parts only. A part dropped and made
        # again is listed twice.
        self.expiring: dict[int, tuple[list[int], dict[int, list[PartKey]]]] = {
            bucket_us: ([], {}) for bucket_us in RETAINED_BUCKETS
        }

    @property
    def values(self) -> dict[PartKey, int]:
        """Every part's value, the accepted events and pending window adds added."""
        self._fold()
        return self._values

    def add(self, key: PartKey, amount: int) -> None:
        """Add `amount` to one part; a part that reaches zero is dropped."""
        values = self._values
        before = values.get(key)
        if before is None:
            before = 0
            self._index(key)
        self.dirty.setdefault(key, before)
        value = before + amount
        if value:
            values[key] = value
        else:
            values.pop(key, None)

    def add_gauge(self, part: str, dimension: str, amount: int) -> None:
        """Add to a current-state part (not windowed)."""
        self.add((part, dimension, POINT, 0), amount)

    def add_point(self, part: str, dimension: str, minute: int, amount: int) -> None:
        """Add to a part keyed by a minute that stays readable forever (retention cohorts)."""
        self.add((part, dimension, POINT, minute), amount)

    def add_pair(self, part: str, dimension: str, first: int, second: int, amount: int) -> None:
        """Add to a part keyed by two minutes that stays readable forever (churned customers)."""
        self.add((part, dimension, POINT, pair_key(first, second)), amount)

    def add_windowed(
        self,
        part: str,
        dimension: str,
        t_us: int,
        amount: int,
        bucket_sizes: tuple[int, ...] = WINDOW_BUCKETS,
    ) -> None:
        """Add to the buckets of event time `t_us` that a window can still read.

        Adds to the window buckets wait, summed by minute and local day, until the parts
        are read: then those whose bucket has expired meanwhile are dropped unmade (most of
        a catch-up's minute buckets), and many adds to one part are one."""
        if bucket_sizes != WINDOW_BUCKETS:
            for bucket_us, bucket in self._live_buckets(t_us, bucket_sizes):
                self.add((part, dimension, bucket_us, bucket), amount)
            return
        if t_us != self.pending_t_us:
            self.pending_t_us = t_us
            self.pending_minute = t_us // MINUTE_US
            self.pending_day = self.local_days.day_of(t_us)
        key = (part, dimension, self.pending_minute, self.pending_day)
        pending = self.pending
        pending[key] = pending.get(key, 0) + amount

    def _fold(self) -> None:
        """Add the accepted events to their count, and the pending window adds to the buckets
        a window can still read."""
        if self.unread_accepted:
            self.add(ACCEPTED_KEY, self.unread_accepted)
            self.unread_accepted = 0
        pending = self.pending
        if not pending:
            return
        self.pending = {}
        minute_cutoff, hour_cutoff, day_cutoff = (self._cutoff(size) for size in WINDOW_BUCKETS)
        add = self.add
        for (part, dimension, minute, day), amount in pending.items():
            if minute > minute_cutoff:  # an amount of 0 too: a part touched is taken
                add((part, dimension, MINUTE_US, minute), amount)
            if (hour := minute // MINUTES_PER_HOUR) > hour_cutoff:
                add((part, dimension, HOUR_US, hour), amount)
            if day > day_cutoff:
                add((part, dimension, LOCAL_DAY_US, day), amount)

    def _live_buckets(self, t_us: int, bucket_sizes: tuple[int, ...]) -> list[tuple[int, int]]:
        """The (size, bucket) pairs of `t_us` not yet expired (other bucket sizes than the
        windows': churn signals, one add per event)."""
        found = []
        for bucket_us in bucket_sizes:
            if bucket_us == LOCAL_DAY_US:
                bucket = self.local_days.day_of(t_us)
            else:
                bucket = t_us // bucket_us
            cutoff = self.cutoffs.get(bucket_us)
            if cutoff is None:
                cutoff = self._cutoff(bucket_us)
            if bucket > cutoff:
                found.append((bucket_us, bucket))
        return found

    def advance_watermark(self, t_us: int) -> None:
        """Record an accepted event's time; the partition's watermark only grows."""
        if self.watermark_us is None or t_us > self.watermark_us:
            self.watermark_us = t_us

    def accept(self, t_us: int) -> None:
        """Record an accepted event: its time (`advance_watermark`) and one more in the count
        of accepted events, added to its part when the parts are next read (a dict update an
        event cost a catch-up 0.6 of bench.engine's 7.3 µs an event)."""
        self.advance_watermark(t_us)
        self.unread_accepted += 1

    def prune(self) -> None:
        """Drop buckets older than the longest window of their size: no window reads them again.

        A part made since the last take is dropped unseen, so a catch-up over a long, sparse
        history does not write, publish and delete again the buckets that expire within one
        batch. That is safe even when two owners write a partition's checkpoints during a
        rebalance: a stale value restored for an expired bucket is never read, and is
        pruned. A part taken before is taken again as removed (the store forgets it).
        """
        self._fold()
        values, dirty = self._values, self.dirty
        for bucket_us, (buckets, parts) in self.expiring.items():
            cutoff = self._cutoff(bucket_us)
            while buckets and buckets[0] <= cutoff:
                for key in parts.pop(heappop(buckets)):
                    value = values.pop(key, None)
                    if value is None:
                        continue  # dropped at zero before
                    if dirty.get(key, value) == 0:
                        del dirty[key]  # made since the last take: never written
                    else:
                        dirty.setdefault(key, value)

    def _index(self, key: PartKey) -> None:
        """List a part just made under its bucket, if its bucket size expires."""
        expiring = self.expiring.get(key[2])
        if expiring is None:
            return
        buckets, parts = expiring
        listed = parts.get(key[3])
        if listed is None:
            parts[key[3]] = [key]
            heappush(buckets, key[3])
        else:
            listed.append(key)

    def take_changes(self) -> list[tuple[PartKey, int]]:
        """The current value of every part added to since the last call (0 = removed), even
        if it is back at its value then: a checkpoint of another owner, restored before this
        one, may hold a value from in between (a rebalance)."""
        values = self.values
        changes = [(key, values.get(key, 0)) for key in self.dirty]
        self.dirty.clear()
        return changes

    def restore(self, changes: Iterable[tuple[PartKey, int]]) -> None:
        """Apply changes taken from another ledger (recovery from a checkpoint)."""
        values = self.values
        for key, value in changes:
            if not value:
                values.pop(key, None)
                continue
            if key not in values:
                self._index(key)
            values[key] = value

    def _cutoff(self, bucket_us: int) -> int:
        """The newest expired bucket of a size at the watermark (NEVER: none expires)."""
        retained = RETAINED_BUCKETS.get(bucket_us)
        if retained is None or self.watermark_us is None:
            return NEVER
        cutoff = self.cutoffs[bucket_us] = self.watermark_us // bucket_us - retained
        return cutoff


def combine(ledgers: Iterable[dict[PartKey, int]]) -> dict[PartKey, int]:
    """Sum the parts of several partitions."""
    total: dict[PartKey, int] = {}
    for values in ledgers:
        for key, value in values.items():
            total[key] = total.get(key, 0) + value
    return total
