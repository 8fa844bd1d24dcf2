"""Entity keys and event ids held as 64-bit digests, in a table with no object per key.

A partition holds an entity per open CRM record and an id per applied event: as strings in
dicts they cost about 100 bytes each before the entity itself. A `DigestTable` keeps a digest
in 8 bytes of an array and its value in a list slot: 16 bytes a slot, 21 to 32 an entry once
laid out by a forget pass (`retain`), up to 64 while the table grows.

Two keys sharing a digest would be one: a false `duplicate`, or two entities merged. With `n`
digests held in a partition, a new key collides with probability about `n / 2**64`: under
2e-11 even with 260 M ids a month all held in one partition, so about one false duplicate in
20 years at that rate, and far fewer over several partitions. 64 bits keep a digest in one
machine word (128 would add 8 bytes an entry for a risk already negligible). XXH3 is not
cryptographic: a sender could craft two colliding ids, but a sender can already send any
event about any entity.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from xxhash import xxh3_64_intdigest

V = TypeVar("V")

MIN_SLOTS = 8
GROWN_SLOTS_PER_ENTRY = 4  # a full table grows to a quarter full
RETAINED_SLOTS_PER_ENTRY = 2  # `retain` lays the kept entries out half full
# Growing to half full moved each entry 3 times on average over a catch-up from nothing, in
# Python: bench.engine applied 7.4-8.2 µs an event, 6.9-7.2 growing to a quarter full.


def digest(key: str) -> int:
    """The 64-bit digest a key is held as: XXH3, fast and stable across processes and Python
    versions (unlike `hash`); never 0, which stands for "no entity"."""
    return xxh3_64_intdigest(key.encode()) or 1


class DigestTable(Generic[V]):
    """A hash table from digests (never 0) to values (never None): open addressing, linear
    probing, at most 3/4 full. Entries leave only by `retain`, which rebuilds the table.
    A table that grows is laid out a quarter full, so that a growing table (a catch-up)
    moves its entries fewer times; `retain` lays it out half full, and a live partition
    whose forget passes (`kpis.retention.forget`) keep its size stays between half and 3/4.

    The last key looked up keeps its slot: an event reads and writes its entity several
    times in a row. The slot stays right until a rebuild, or until another key is added,
    which becomes the last key in turn. The values are counted by type as they come and
    go, so that `count_by_type` (a gauge of what memory holds) never visits the table."""

    def __init__(self, items: Iterable[tuple[int, V]] = ()) -> None:
        self._digests = array("Q", bytes(8 * MIN_SLOTS))
        self._values: list[V | None] = [None] * MIN_SLOTS
        self._count = 0
        self._types: Counter[type[V]] = Counter()
        self._last = (-1, 0)  # (key, slot); no digest is negative
        for key, value in items:
            self[key] = value

    def _slot(self, key: int) -> int:
        """The slot holding `key`, or the free slot (digest 0) where it goes; only the array
        of digests is read, which is most of what a miss costs."""
        last_key, slot = self._last
        if key == last_key:
            return slot
        digests = self._digests
        slots = len(digests)
        slot = key % slots
        while (held := digests[slot]) != key and held:
            slot = slot + 1 if slot + 1 < slots else 0
        self._last = key, slot
        return slot

    def get(self, key: int) -> V | None:
        return self._values[self._slot(key)]

    def __getitem__(self, key: int) -> V:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: int, value: V) -> None:
        slot = self._slot(key)
        held = self._values[slot]
        if held is None:
            if 4 * (self._count + 1) > 3 * len(self._values):
                self._rebuild(self._occupied(), self._count, GROWN_SLOTS_PER_ENTRY)
                slot = self._slot(key)
            self._count += 1
            self._types[type(value)] += 1
        elif type(held) is not type(value):
            self._types[type(held)] -= 1
            self._types[type(value)] += 1
        self._digests[slot] = key
        self._values[slot] = value

    def __len__(self) -> int:
        return self._count

    def slots(self) -> int:
        """How many entries the table has room for (16 bytes each)."""
        return len(self._values)

    def items(self) -> Iterator[tuple[int, V]]:
        pairs = zip(self._digests, self._values, strict=True)
        return ((key, value) for key, value in pairs if value is not None)

    def values(self) -> Iterator[V]:
        return (value for value in self._values if value is not None)

    def count_by_type(self) -> Counter[type[V]]:
        """How many values of each type the table holds."""
        return +self._types

    def retain(self, keep: Callable[[int, V], bool]) -> None:
        """Keep only the entries `keep` accepts."""
        digests, values = self._digests, self._values
        kept = array("Q", (slot for slot in self._occupied() if keep(digests[slot], values[slot])))  # type: ignore[arg-type]
        if len(kept) < self._count:
            self._rebuild(kept, len(kept), RETAINED_SLOTS_PER_ENTRY)
            self._types = Counter(map(type, self._values))  # at C speed
            del self._types[type(None)]

    def _occupied(self) -> Iterator[int]:
        return (slot for slot, value in enumerate(self._values) if value is not None)

    def _rebuild(self, occupied: Iterable[int], count: int, slots_per_entry: int) -> None:
        """Lay out again the `count` entries in slots `occupied`, `slots_per_entry` slots each."""
        digests, values = self._digests, self._values
        slots = max(MIN_SLOTS, slots_per_entry * count)
        new_digests = array("Q", bytes(8 * slots))
        new_values: list[V | None] = [None] * slots
        for old in occupied:
            slot = (key := digests[old]) % slots
            while new_digests[slot]:
                slot = slot + 1 if slot + 1 < slots else 0
            new_digests[slot], new_values[slot] = key, values[old]
        self._digests, self._values, self._count = new_digests, new_values, count
        self._last = (-1, 0)
