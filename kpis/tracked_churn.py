"""One partition's `ChurnSummary`, kept current as its customer parts change and the
churn window moves (the churn side of `kpis.tracked_summary`).

It reads each part as `ChurnSummary.add` does, and equals `summarize_churn` of the
current parts at the current watermark, except which segment it names for a customer
with two (the summary is then not additive, and readers combine the parts instead).
"""

from __future__ import annotations

from kpis.bucket_index import BucketIndex, list_part
from kpis.churn import (
    SEGMENT_PART_PREFIX,
    ChurnRules,
    ChurnSummary,
    windowed_bit,
)
from kpis.ledger import POINT, PartKey


class TrackedChurn:
    """The churn summary of the customer parts followed through `change` and `move`."""

    def __init__(self, rules: ChurnRules, watermark_us: int | None) -> None:
        self.summary = ChurnSummary.empty(watermark_us, rules)
        self.rules = rules
        self.buckets: BucketIndex = {}  # the window's parts, by bucket
        self.segments: dict[str, dict[str, int]] = {}  # per customer, parts read per segment
        self.signals: dict[str, dict[int, int]] = {}  # per customer, parts read per bit
        self.tickets: dict[str, int] = {}  # per customer, ticket parts read
        self.not_additive = 0  # amounts read that are not above zero, segments beyond one

    def change(self, key: PartKey, old: int, new: int) -> None:
        """Follow a part from its old value to the new (0: no such part)."""
        part, _, x, y = key
        if x == POINT:
            if not part.startswith(SEGMENT_PART_PREFIX):
                return
        elif x != self.summary.bucket_us:
            return
        elif bool(old) != bool(new):  # made or dropped
            list_part(self.buckets, y, key, bool(new))
        first = self.summary.first
        if x == POINT or (first is not None and y >= first):
            if old:
                self._read(key, old, -1)
            if new:
                self._read(key, new, 1)

    def move(self, watermark_us: int | None, values: dict[PartKey, int]) -> None:
        """Read the window's parts (their values in `values`, the parts followed) at another
        watermark: the buckets entering it are read, those leaving it are taken out."""
        first = self.rules.first_bucket(watermark_us)
        was, self.summary.first = self.summary.first, first
        if was == first:
            return
        for bucket, keys in self.buckets.items():
            inside = first is not None and bucket >= first
            if inside != (was is not None and bucket >= was):
                for key in keys:
                    self._read(key, values[key], 1 if inside else -1)

    def _read(self, key: PartKey, amount: int, sign: int) -> None:
        """Read one part in (`sign` 1) or take it out (-1), as `ChurnSummary.add` reads it."""
        part, customer, x, _ = key
        summary = self.summary
        if x == POINT:
            if amount <= 0:
                self._not_additive(sign)
            else:
                self._read_segment(customer, part.removeprefix(SEGMENT_PART_PREFIX), sign)
            return
        bit = windowed_bit(part)
        if bit is None:
            return
        if amount <= 0:
            self._not_additive(sign)
        elif bit:
            by_bit = self.signals.setdefault(customer, {})
            by_bit[bit] = by_bit.get(bit, 0) + sign
            if not by_bit[bit]:
                del by_bit[bit]
            bits = 0
            for held in by_bit:
                bits |= held
            if bits:
                summary.signals[customer] = bits
            else:
                del summary.signals[customer], self.signals[customer]
        else:
            summary.tickets[customer] = summary.tickets.get(customer, 0) + sign * amount
            parts = self.tickets.get(customer, 0) + sign
            if parts:
                self.tickets[customer] = parts
            else:
                del self.tickets[customer], summary.tickets[customer]

    def _read_segment(self, customer: str, segment: str, sign: int) -> None:
        held = self.segments.setdefault(customer, {})
        parts = sum(held.values())
        if parts + (sign > 0) > 1:
            self._not_additive(sign)  # a customer's second segment part, and each beyond
        held[segment] = held.get(segment, 0) + sign
        if not held[segment]:
            del held[segment]
        if held:
            self.summary.segments[customer] = next(iter(held))
        else:
            del self.summary.segments[customer], self.segments[customer]

    def _not_additive(self, sign: int) -> None:
        self.not_additive += sign
        self.summary.additive = not self.not_additive
