"""One partition's `Summary`, kept current as its parts change and its windows move.

`summarize` reads every part of a partition; a reader of a busy store would do that for
every changed partition at every read. A `TrackedSummary` is built by the same rules
once, then follows the changes of the parts, each `(key, old value, new value)`, and
the windows' bounds as the watermark moves: a read costs what changed, not the size of
the partitions. It always equals `summarize` of the current parts at the current
watermark, down to which sums exist: each sum counts the parts it adds, and goes when
the last one does.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from kpis.bucket_index import BucketIndex, list_part
from kpis.churn import ChurnRules, is_customer_part
from kpis.ledger import POINT, PartKey
from kpis.snapshot import RETENTION_COHORTS, PartSums, Summary, window_bounds
from kpis.tracked_churn import TrackedChurn
from kpis.windows import UTC_ZONE, WINDOWS

Change = tuple[PartKey, int, int]
"""A part's key, its value before and after (0: no such part)."""

_GAUGES, _COHORTS = -1, -2  # sections of a summary besides the windows (their indexes)
_SECTIONS_BY_SIZE: dict[int, tuple[int, ...]] = {}
for _index, _window in enumerate(WINDOWS):
    _SECTIONS_BY_SIZE[_window.bucket_us] = (*_SECTIONS_BY_SIZE.get(_window.bucket_us, ()), _index)
_by_customer = cache(is_customer_part)  # few part names, read for many keys


class TrackedSummary:
    """`summarize(values, watermark_us, churn_rules, zone)`, kept current by `apply` and
    `move`."""

    def __init__(
        self,
        values: dict[PartKey, int],
        watermark_us: int | None,
        churn_rules: ChurnRules,
        zone: ZoneInfo = UTC_ZONE,
    ) -> None:
        self.values = values  # the parts followed: read again when a window moves
        self.churn_rules = churn_rules
        self.zone = zone
        self.bounds = window_bounds(watermark_us, zone)
        self.summary = Summary(windowed={window.name: {} for window in WINDOWS})
        self.counts: dict[Hashable, int] = {}  # how many parts each sum adds
        # Per bucket size a window reads, the windowed parts of each bucket.
        self.buckets: dict[int, BucketIndex] = {size: {} for size in _SECTIONS_BY_SIZE}
        self.churn = TrackedChurn(churn_rules, watermark_us)
        self.summary.churn = self.churn.summary
        self.revision = 0  # moves on whenever the summary does
        for key, value in values.items():
            self._change(key, 0, value)

    def apply(self, changes: Iterable[Change], values: dict[PartKey, int]) -> None:
        """Follow changes of the parts, which made them `values`."""
        self.values = values
        for key, old, new in changes:
            self._change(key, old, new)
            self.revision += 1

    def move(self, watermark_us: int | None) -> None:
        """Sum the windows at another watermark: each part of the buckets entering or
        leaving a window is added or taken out."""
        bounds = window_bounds(watermark_us, self.zone)
        churn_first = self.churn.summary.first
        self.churn.move(watermark_us, self.values)
        if self.churn.summary.first != churn_first:
            self.revision += 1
        if bounds == self.bounds:
            return
        before, self.bounds = self.bounds, bounds
        for section in range(len(WINDOWS)):
            was = None if before is None else before[section]
            now = None if bounds is None else bounds[section]
            if was != now:
                self._move_window(section, was, now)
        self.revision += 1

    def _move_window(
        self, section: int, was: tuple[int, int] | None, now: tuple[int, int] | None
    ) -> None:
        window = WINDOWS[section]
        sums = self.summary.windowed[window.name]
        for keys, sign in _crossing(self.buckets[window.bucket_us], was, now):
            for key in keys:
                count_key = (section, key[0], key[1])
                self._add_to_sums(sums, count_key, sign * self.values[key], sign)

    def _change(self, key: PartKey, old: int, new: int) -> None:
        """Follow a part from its old value to the new (0: no such part) in the sums that
        read it."""
        part, value_of_dimension, x, y = key
        if _by_customer(part):
            self.churn.change(key, old, new)
            return
        amount, made = new - old, 1 if not old else -1 if not new else 0
        summary = self.summary
        if x == POINT:
            if part in RETENTION_COHORTS:
                self._add_to_cohort(key, amount, made)
            else:
                self._add_to_sums(summary.gauges, (_GAUGES, part, value_of_dimension), amount, made)
            return
        sections = _SECTIONS_BY_SIZE.get(x)
        if sections is None:
            return  # no window reads this bucket size
        if made:
            list_part(self.buckets[x], y, key, made > 0)
        if self.bounds is not None:
            for section in sections:
                first, last = self.bounds[section]
                if first <= y <= last:
                    sums = summary.windowed[WINDOWS[section].name]
                    self._add_to_sums(sums, (section, part, value_of_dimension), amount, made)

    def _add_to_sums(
        self, sums: PartSums, count_key: tuple[int, str, str], amount: int, made: int
    ) -> None:
        _, part, value_of_dimension = count_key
        by_value = sums.get(part)
        if by_value is None:
            by_value = sums[part] = {}
        if self._add(by_value, value_of_dimension, count_key, amount, made) and not by_value:
            del sums[part]

    def _add_to_cohort(self, key: PartKey, amount: int, made: int) -> None:
        part, value_of_dimension, _, minute = key
        cohorts = self.summary.cohorts
        by_value = cohorts.setdefault(part, {})
        by_minute = by_value.setdefault(value_of_dimension, {})
        if self._add(by_minute, minute, key, amount, made) and not by_minute:
            del by_value[value_of_dimension]
            if not by_value:
                del cohorts[part]

    def _add(
        self, sums: dict[Any, int], cell: object, count_key: Hashable, amount: int, made: int
    ) -> bool:
        """Add `amount` to one sum and count the parts in it; True when none is left (the
        sum went)."""
        sums[cell] = sums.get(cell, 0) + amount
        if not made:
            return False
        parts = self.counts.get(count_key, 0) + made
        if parts:
            self.counts[count_key] = parts
            return False
        del self.counts[count_key], sums[cell]
        return True


Span = tuple[int, int]  # a window's first and last bucket


def _outside(span: Span | None, other: Span | None) -> list[range]:
    """The buckets of `span` that are not in `other`."""
    if span is None:
        return []
    first, last = span
    if other is None or other[1] < first or other[0] > last:
        return [range(first, last + 1)]
    return [range(first, other[0]), range(other[1] + 1, last + 1)]


def _crossing(
    by_bucket: dict[int, set[PartKey]], was: Span | None, now: Span | None
) -> Iterator[tuple[set[PartKey], int]]:
    """The parts of each bucket that enters a window moved from `was` to `now` (1) or
    leaves it (-1): looked up by bucket when those are fewer than the buckets held (a
    window moved by a bucket or a few, as under live traffic), else found by a scan."""
    spans = [(span, 1) for span in _outside(now, was)] + [(span, -1) for span in _outside(was, now)]
    if sum(len(span) for span, _ in spans) <= len(by_bucket):
        for span, sign in spans:
            for bucket in span:
                if (keys := by_bucket.get(bucket)) is not None:
                    yield keys, sign
        return
    for bucket, keys in by_bucket.items():
        inside = now is not None and now[0] <= bucket <= now[1]
        if inside != (was is not None and was[0] <= bucket <= was[1]):
            yield keys, 1 if inside else -1
