"""The store in Redis, for several workers and readers: each partition's parts in a hash,
and the latest changes to it in a list, so that a reader fetches what changed since its
last read rather than every part of every partition that changed."""

from __future__ import annotations

import os

import orjson
import redis.asyncio as redis

from kpis.ledger import PartKey
from streams.read.journal import JOURNAL_MIN_ENTRIES
from streams.read.store import (
    Changes,
    PartitionMissing,
    PartitionView,
    Position,
    followed_view,
)

# KEYS: the meta hash, the partition's parts hash, the logs hash, the partition's change
# list. ARGV: partition, incarnation, offset, meta json, full flag, a new generation, the
# changes a list keeps at least, then field/value pairs (value "0" deletes the field).
# Returns 1 when written, 0 when older than the stored entry, -1 for changes without an
# entry of their incarnation. Incarnations are µs since the epoch: exact as Lua numbers.
# The logs hash holds "generation first last" per partition: the list holds the changes
# from position `first` to `last` of that generation; a full write starts a new one.
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
local full = ARGV[5] == '1'
if held ~= incarnation and not full then return -1 end
local generation, first, last = ARGV[6], 0, 0
local logged = redis.call('HGET', KEYS[3], ARGV[1])
if full then
  redis.call('DEL', KEYS[2])
elseif logged then
  generation, first, last = string.match(logged, '(%S+) (%d+) (%d+)')
  first, last = tonumber(first), tonumber(last)
end
if generation == ARGV[6] then redis.call('DEL', KEYS[4]) end
for i = 8, #ARGV, 2 do
  if ARGV[i + 1] == '0' then
    redis.call('HDEL', KEYS[2], ARGV[i])
  else
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  end
  if not full then
    redis.call('RPUSH', KEYS[4], ARGV[i], ARGV[i + 1])
    last = last + 1
  end
end
local keep = math.max(tonumber(ARGV[7]), redis.call('HLEN', KEYS[2]))
if last - first > 2 * keep then
  redis.call('LTRIM', KEYS[4], 2 * (last - first - keep), -1)
  first = last - keep
end
redis.call('HSET', KEYS[3], ARGV[1], generation .. ' ' .. first .. ' ' .. last)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
return 1
"""

# KEYS as _PUBLISH's; ARGV: partition, the generation and position the reader is at.
# Returns {} for no entry; else {meta, logs entry, 'log', changes since the position} or,
# when the list no longer holds them, another generation began or the partition has no
# list (written by an earlier version), {meta, logs entry, 'all', every field and value}.
_FOLLOW = """
local meta = redis.call('HGET', KEYS[1], ARGV[1])
if not meta then return {} end
local logged = redis.call('HGET', KEYS[3], ARGV[1])
if not logged then return {meta, '- 0 0', 'all', redis.call('HGETALL', KEYS[2])} end
local generation, first = string.match(logged, '(%S+) (%d+)')
local position = tonumber(ARGV[3])
if generation == ARGV[2] and tonumber(first) <= position then
  return {meta, logged, 'log', redis.call('LRANGE', KEYS[4], 2 * (position - first), -1)}
end
return {meta, logged, 'all', redis.call('HGETALL', KEYS[2])}
"""


class RedisStore:
    """Partitions' parts and latest changes in Redis, each written atomically by a script."""

    def __init__(self, url: str, namespace: str = "crmkpi") -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.meta_key = f"{namespace}:partitions"
        self.logs_key = f"{namespace}:logs"
        self.parts_prefix = f"{namespace}:parts:"
        self.log_prefix = f"{namespace}:log:"
        self._publish = self.client.register_script(_PUBLISH)
        self._follow = self.client.register_script(_FOLLOW)
        self.views: dict[str, PartitionView] = {}  # the last read, by partition
        self.followed: dict[str, tuple[str, int]] = {}  # its (generation, position) read to

    def _keys(self, partition: str) -> list[str]:
        """The keys both scripts take, in their order."""
        return [
            self.meta_key,
            self.parts_prefix + partition,
            self.logs_key,
            self.log_prefix + partition,
        ]

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
            os.urandom(8).hex(),
            JOURNAL_MIN_ENTRIES,
        ]
        for key, value in changes:
            args += (orjson.dumps(key), value)
        written = await self._publish(keys=self._keys(partition), args=args)
        if written == -1:
            raise PartitionMissing(partition)

    async def read(self) -> dict[str, PartitionView]:
        """Reads only the partitions whose entry changed since the last read: the changes
        since then, or every part when the list no longer holds them."""
        metas = await self.client.hgetall(self.meta_key)
        changed = sorted(
            _text(name)
            for name, meta in metas.items()
            if (known := self.views.get(_text(name))) is None or known.version != meta
        )
        if changed:
            async with self.client.pipeline(transaction=False) as pipe:
                for partition in changed:
                    generation, position = self.followed.get(partition, ("", 0))
                    args: list[str | int] = [partition, generation, position]
                    await self._follow(keys=self._keys(partition), args=args, client=pipe)
                answers = await pipe.execute()
            for partition, answer in zip(changed, answers, strict=True):
                if answer:  # else deleted meanwhile
                    self._follow_answer(partition, *answer)
        names = {_text(name) for name in metas}
        self.views = {name: view for name, view in self.views.items() if name in names}
        self.followed = {name: at for name, at in self.followed.items() if name in names}
        return dict(sorted(self.views.items()))

    def _follow_answer(
        self, partition: str, meta: bytes, logged: bytes, mode: bytes, flat: list[bytes]
    ) -> None:
        """Bring a partition's view up to the entry `meta`, from its changes or all parts."""
        entry = orjson.loads(meta)
        generation, _, last = _text(logged).split()
        pairs = [
            (_part_key(field), int(value))
            for field, value in zip(flat[::2], flat[1::2], strict=True)
        ]
        position = Position(entry["offset"], entry["incarnation"], entry["watermark_us"])
        before = self.views.get(partition)
        self.views[partition] = followed_view(before, pairs, mode != b"log", position, meta)
        self.followed[partition] = generation, int(last)

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
