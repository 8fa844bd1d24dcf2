"""Where readers find the current parts of every source partition.

One small interface, two implementations: in-process for the single-process
embedded default, Redis (`CRMKPI_REDIS_URL`) for several workers and readers.
A partition's entry only moves forward, by (incarnation of the logs, offset):
a write older than the stored one (a worker that lost the partition) is
ignored, and changes for a partition the store has no entry of their
incarnation for (Redis restarted empty, or the broker lost its logs) are
refused with `PartitionMissing`: applied to another state they would read as
a whole partition.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import orjson
import redis.asyncio as redis

from kpis.ledger import PartKey
from kpis.tracked_summary import Change
from streams.read.journal import Journal

Changes = list[tuple[PartKey, int]]


@dataclass(frozen=True)
class Position:
    """How far a published state reaches: its last source offset, in which incarnation of
    the logs, and its event-time watermark."""

    offset: int
    incarnation: int = 0
    watermark_us: int | None = None

    @property
    def order(self) -> tuple[int, int]:
        """Later incarnations first, then higher offsets."""
        return self.incarnation, self.offset


class PartitionMissing(Exception):
    """Changes were published for a partition the store has no entry for: publish it whole."""


@dataclass
class PartitionView:
    """What readers know of one source partition."""

    offset: int = -1
    incarnation: int = 0
    watermark_us: int | None = None
    values: dict[PartKey, int] = field(default_factory=dict)
    version: object = None  # the entry as last read (Redis: its parts are read when it differs)
    journal: Journal = field(default_factory=Journal)  # how `values` came to be


class Store(Protocol):
    async def publish(
        self, partition: str, position: Position, changes: Changes, full: bool
    ) -> None:
        """Record a partition's changed parts (or, with `full`, all of them) up to `position`."""
        ...

    async def read(self) -> dict[str, PartitionView]:
        """Every partition's current view."""
        ...

    async def names(self) -> set[str]:
        """The partitions the store has an entry for."""
        ...

    async def ping(self) -> bool:
        """Whether the store answers."""
        ...

    async def close(self) -> None: ...


def _apply(values: dict[PartKey, int], changes: Changes) -> Iterator[Change]:
    """Apply changes to `values`, yielding each that changed a value."""
    for key, value in changes:
        old = values.get(key, 0)
        if value == old:
            continue
        if value:
            values[key] = value
        else:
            del values[key]
        yield key, old, value


class MemoryStore:
    """The in-process store of the single-process embedded default."""

    def __init__(self) -> None:
        self.partitions: dict[str, PartitionView] = {}

    async def publish(
        self, partition: str, position: Position, changes: Changes, full: bool
    ) -> None:
        view = self.partitions.get(partition)
        if view is not None and (view.incarnation, view.offset) > position.order:
            return
        if not full and (view is None or view.incarnation != position.incarnation):
            raise PartitionMissing(partition)
        if view is None:
            view = self.partitions[partition] = PartitionView()
        if full:
            values = {key: value for key, value in changes if value}
            view.journal.record(view.values, values)
            view.values = values
        else:
            view.journal.append(_apply(view.values, changes), view.values)
        view.offset, view.incarnation = position.offset, position.incarnation
        view.watermark_us = position.watermark_us

    async def read(self) -> dict[str, PartitionView]:
        return self.partitions

    async def names(self) -> set[str]:
        return set(self.partitions)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None


# KEYS[1] meta hash, KEYS[2] the partition's parts hash; ARGV: partition, incarnation,
# offset, meta json, full flag, then field/value pairs (value "0" deletes the field).
# Returns 1 when written, 0 when older than the stored entry, -1 for changes without an
# entry of their incarnation. Incarnations are µs since the epoch: exact as Lua numbers.
_PUBLISH = """
local stored = redis.call('HGET', KEYS[1], ARGV[1])
local incarnation, offset = tonumber(ARGV[2]), tonumber(ARGV[3])
local held = -1
if stored then
  local entry = cjson.decode(stored)
  held = tonumber(entry['incarnation'])
  if held > incarnation or (held == incarnation and tonumber(entry['offset']) > offset) then
    return 0
  end
end
if held ~= incarnation and ARGV[5] ~= '1' then return -1 end
if ARGV[5] == '1' then redis.call('DEL', KEYS[2]) end
for i = 6, #ARGV, 2 do
  if ARGV[i + 1] == '0' then
    redis.call('HDEL', KEYS[2], ARGV[i])
  else
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
return 1
"""


class RedisStore:
    """Partitions' parts in Redis hashes, one per partition, written atomically by a script."""

    def __init__(self, url: str, namespace: str = "crmkpi") -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.meta_key = f"{namespace}:partitions"
        self.parts_prefix = f"{namespace}:parts:"
        self._publish = self.client.register_script(_PUBLISH)
        self.views: dict[str, PartitionView] = {}  # the last read, by partition

    async def publish(
        self, partition: str, position: Position, changes: Changes, full: bool
    ) -> None:
        # A fresh token per write: readers know an unchanged entry by its meta alone.
        meta = orjson.dumps(
            {
                "offset": position.offset,
                "incarnation": position.incarnation,
                "watermark_us": position.watermark_us,
                "token": os.urandom(8).hex(),
            }
        )
        args: list[bytes | str | int] = [
            partition,
            position.incarnation,
            position.offset,
            meta,
            "1" if full else "0",
        ]
        for key, value in changes:
            args += (orjson.dumps(key), value)
        written = await self._publish(
            keys=[self.meta_key, self.parts_prefix + partition], args=args
        )
        if written == -1:
            raise PartitionMissing(partition)

    async def read(self) -> dict[str, PartitionView]:
        """Reads only the parts of partitions whose entry changed since the last read."""
        metas = await self.client.hgetall(self.meta_key)
        changed = sorted(
            _text(name)
            for name, meta in metas.items()
            if (known := self.views.get(_text(name))) is None or known.version != meta
        )
        if changed:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.hmget(self.meta_key, changed)
                for partition in changed:
                    pipe.hgetall(self.parts_prefix + partition)
                fresh_metas, *all_parts = await pipe.execute()
            for partition, meta, parts in zip(changed, fresh_metas, all_parts, strict=True):
                if meta is None:  # deleted meanwhile
                    continue
                entry = orjson.loads(meta)
                values = {_part_key(field): int(value) for field, value in parts.items()}
                journal = Journal()
                if (before := self.views.get(partition)) is not None:
                    journal = before.journal
                    journal.record(before.values, values)
                self.views[partition] = PartitionView(
                    entry["offset"],
                    entry["incarnation"],
                    entry["watermark_us"],
                    values,
                    meta,
                    journal,
                )
        names = {_text(name) for name in metas}
        self.views = {name: view for name, view in self.views.items() if name in names}
        return dict(sorted(self.views.items()))

    async def names(self) -> set[str]:
        return {_text(name) for name in await self.client.hkeys(self.meta_key)}

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except redis.RedisError:
            return False

    async def close(self) -> None:
        await self.client.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _part_key(field: bytes) -> PartKey:
    part, dimension, x, y = orjson.loads(field)
    return (part, dimension, x, y)


def open_store(redis_url: str | None) -> Store:
    """Redis when a URL is configured, else the in-process store."""
    return RedisStore(redis_url) if redis_url else MemoryStore()
