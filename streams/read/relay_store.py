"""The store of `crmkpi up` with several workers and no Redis: the `up` process holds it in
memory (`MemoryStore`) and serves it on a Unix socket, through which its other worker
processes publish and read.

The socket sits in a directory only its user can open. Each request is one msgpack frame,
answered by one. A publish is applied by the in-process store's own rules (later positions
only; changes need the partition's entry). A read sends, per partition, the reader's
position in its journal and the offset it saw, and gets back, for each partition that
moved, the changes since that position, or every part when the journal no longer holds
them: as the Redis store's readers follow its change lists.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import msgspec
from msgspec import Struct

from streams.errors import StoreUnreachable
from streams.read.store import (
    Changes,
    MemoryStore,
    PartitionMissing,
    PartitionView,
    Position,
    followed_view,
)

FRAME_HEADER = struct.Struct(">I")  # each frame's length
Known = tuple[int, int, int]  # what a reader read of a partition: journal end, incarnation, offset


class Publish(Struct, tag=True):
    """`Store.publish`, sent by a worker."""

    partition: str
    offset: int
    incarnation: int
    watermark_us: int | None
    full: bool
    changes: Changes


class Follow(Struct, tag=True):
    """A read: what the reader already knows of each partition."""

    known: dict[str, Known]


class Names(Struct, tag=True):
    """`Store.names`."""


class Moved(Struct, array_like=True):
    """How one partition moved since a reader's last read."""

    offset: int
    incarnation: int
    watermark_us: int | None
    journal_end: int
    whole: bool  # `pairs` are every part, not the changes since the reader's position
    pairs: Changes


class Followed(Struct, array_like=True):
    """The answer to a read: every partition's name, and those that moved."""

    names: list[str]
    moved: dict[str, Moved]


Request = Publish | Follow | Names
Answer = TypeVar("Answer")
_requests = msgspec.msgpack.Decoder(Request)
_published = msgspec.msgpack.Decoder(bool)  # False: PartitionMissing
_followed = msgspec.msgpack.Decoder(Followed)
_names = msgspec.msgpack.Decoder(list[str])


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = FRAME_HEADER.unpack(await reader.readexactly(FRAME_HEADER.size))
    return await reader.readexactly(size)


def _write_frame(writer: asyncio.StreamWriter, payload: bytes) -> None:
    writer.write(FRAME_HEADER.pack(len(payload)) + payload)


class RelayServer:
    """Serves an in-process store to the other workers of the same `crmkpi up`."""

    def __init__(self, store: MemoryStore, path: Path) -> None:
        self.store = store
        self.path = path
        self.server: asyncio.Server | None = None
        self.before_stop: Callable[[], Awaitable[None]] | None = None  # e.g. stop its workers

    async def start(self) -> None:
        self.server = await asyncio.start_unix_server(self._serve, path=str(self.path))

    async def stop(self) -> None:
        if self.before_stop is not None:
            await self.before_stop()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        self.path.unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer one worker's requests until it disconnects or the server stops (a handler
        that ends cancelled would be logged as an error by asyncio's stream callback)."""
        with contextlib.suppress(
            asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError
        ):
            while True:
                request = _requests.decode(await _read_frame(reader))
                _write_frame(writer, msgspec.msgpack.encode(await self.answer(request)))
                await writer.drain()
        writer.close()

    async def answer(self, request: Request) -> bool | Followed | list[str]:
        """What a request gets (msgpack-encoded on the socket)."""
        if isinstance(request, Publish):
            position = Position(request.offset, request.incarnation, request.watermark_us)
            try:
                await self.store.publish(request.partition, position, request.changes, request.full)
            except PartitionMissing:
                return False
            return True
        if isinstance(request, Follow):
            views = self.store.partitions
            return Followed(
                sorted(views),
                {
                    name: _moved(view, request.known.get(name))
                    for name, view in views.items()
                    if request.known.get(name) != (view.journal.end, view.incarnation, view.offset)
                },
            )
        return sorted(self.store.partitions)


def _moved(view: PartitionView, known: Known | None) -> Moved:
    """A partition's changes since the reader's journal position, or all its parts."""
    changes = None
    if known is not None and known[0] <= view.journal.end:  # else: another server's journal
        changes = view.journal.since(known[0])
    if changes is None:
        pairs, whole = list(view.values.items()), True
    else:
        pairs, whole = [(key, value) for key, _, value in changes], False
    position = (view.offset, view.incarnation, view.watermark_us)
    return Moved(*position, journal_end=view.journal.end, whole=whole, pairs=pairs)


class RelayStore:
    """A worker's store in another process of its `crmkpi up`, reached on its Unix socket."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.asking = asyncio.Lock()
        self.views: dict[str, PartitionView] = {}  # the last read, by partition
        self.known: dict[str, Known] = {}  # what it knew of each

    async def _ask(self, request: Request, decoder: msgspec.msgpack.Decoder[Answer]) -> Answer:
        """One request and its answer; the connection is opened again after a failure, and
        any failure is `StoreUnreachable`."""
        async with self.asking:
            try:
                if self.connection is None:
                    self.connection = await asyncio.open_unix_connection(self.path)
                reader, writer = self.connection
                _write_frame(writer, msgspec.msgpack.encode(request))
                await writer.drain()
                return decoder.decode(await _read_frame(reader))
            except (OSError, asyncio.IncompleteReadError) as error:
                self._disconnect()
                raise StoreUnreachable(f"store relay {self.path}: {error!r}") from error
            except BaseException:  # cancelled mid-request: its answer would be read as the next's
                self._disconnect()
                raise

    def _disconnect(self) -> None:
        """Close the connection; the next read gets every partition whole (the server may be
        another by then)."""
        self.known = {}
        if self.connection is not None:
            self.connection[1].close()
            self.connection = None

    async def publish(
        self, partition: str, position: Position, changes: Changes, full: bool
    ) -> None:
        request = Publish(
            partition, position.offset, position.incarnation, position.watermark_us, full, changes
        )
        if not await self._ask(request, _published):
            raise PartitionMissing(partition)

    async def read(self) -> dict[str, PartitionView]:
        """Brings the partitions that moved since the last read up to date."""
        followed = await self._ask(Follow(self.known), _followed)
        for name, moved in followed.moved.items():
            position = Position(moved.offset, moved.incarnation, moved.watermark_us)
            before = self.views.get(name)
            self.views[name] = followed_view(before, moved.pairs, moved.whole, position, moved)
            self.known[name] = (moved.journal_end, moved.incarnation, moved.offset)
        self.views = {name: self.views[name] for name in followed.names}
        self.known = {name: self.known[name] for name in followed.names}
        return dict(self.views)

    async def names(self) -> set[str]:
        names: list[str] = await self._ask(Names(), _names)
        return set(names)

    async def ping(self) -> bool:
        try:
            await self.names()
        except StoreUnreachable:
            return False
        return True

    async def close(self) -> None:
        self._disconnect()
