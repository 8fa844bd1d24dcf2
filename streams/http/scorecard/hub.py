"""One reader, many viewers: the board is built once per tick and pushed to every page.

A tick reads the snapshot, compares the new board with the last one and sends the
changed tiles to every connected page as one pre-encoded Server-Sent Event, so 50
pages cost what one does. Ticks run only while a page is connected, at most
every `min_interval` seconds, and slow down (to `max_interval`) when reading gets
slow so that the worker's own batches keep the event loop. A page that cannot keep up
is disconnected; its browser reconnects and starts again from a full board.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from streams.http.scorecard.board import Board, changes

log = logging.getLogger(__name__)

BoardReader = Callable[[], Awaitable[Board]]
Message = bytes | None  # None: the stream ends


@dataclass(frozen=True)
class Pace:
    """How often the hub reads, samples and talks."""

    min_interval: float = 0.5  # seconds between two reads, at least
    max_interval: float = 1.0  # and at most
    busy_share: float = 0.2  # between the two, reads take at most this share of the time
    sample_every: float = 2.0  # seconds between two sparkline points
    points: int = 150  # sparkline points kept per series
    keepalive: float = 15.0  # seconds of silence before a comment line keeps proxies open
    backlog: int = 64  # messages a slow page may fall behind before it is dropped


def encode(event: str, data: object) -> bytes:
    """One Server-Sent Event; orjson never writes a newline, so one `data:` line holds it."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class History:
    """Recent overall values of every KPI in every window, for the sparklines."""

    def __init__(self, points: int) -> None:
        self.points = points
        self.series: dict[str, dict[str, deque[float | None]]] = {}

    def add(self, board: Board) -> dict[str, dict[str, float | None]]:
        """Append the board's values; returns them as one sample."""
        sample = {
            kpi: {window: view["value"] for window, view in windows.items()}
            for kpi, windows in board["tiles"].items()
        }
        for kpi, windows in sample.items():
            for window, value in windows.items():
                by_window = self.series.setdefault(kpi, {})
                by_window.setdefault(window, deque(maxlen=self.points)).append(value)
        return sample

    def to_json(self) -> dict[str, dict[str, list[float | None]]]:
        return {
            kpi: {window: list(values) for window, values in windows.items()}
            for kpi, windows in self.series.items()
        }


class Hub:
    """Fans the board out to every connected page."""

    def __init__(self, read_board: BoardReader, page: dict[str, Any], pace: Pace) -> None:
        self.read_board = read_board
        self.page = page  # what never changes: catalogue, groups, thresholds problems
        self.pace = pace
        self.clients: set[asyncio.Queue[Message]] = set()
        self.latest: Board | None = None
        self.history = History(pace.points)
        self.last_sample = 0.0
        self.task: asyncio.Task[None] | None = None
        self.starting = asyncio.Lock()  # pages arriving together share the first read

    async def subscribe(self) -> asyncio.Queue[Message]:
        """A new page: its queue starts with the full board (read now if no tick runs)."""
        async with self.starting:
            if self.task is None or self.task.done():
                self._take(await self.read_board())
                self.task = asyncio.get_running_loop().create_task(self._run())
        queue: asyncio.Queue[Message] = asyncio.Queue(self.pace.backlog)
        queue.put_nowait(encode("board", self._full()))
        self.clients.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Message]) -> None:
        self.clients.discard(queue)

    async def close(self) -> None:
        """End every stream (the server is stopping) and the ticks."""
        for queue in list(self.clients):
            self._end(queue)
        self.clients.clear()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def _full(self) -> dict[str, Any]:
        return {**self.page, **(self.latest or {}), "history": self.history.to_json()}

    def _take(self, board: Board) -> None:
        """Make `board` the latest; push what changed, and a sparkline point when due."""
        changed = changes(self.latest, board) if self.latest is not None else {}
        self.latest = board
        if changed:
            self._broadcast(encode("update", changed))
        now = time.monotonic()
        if now - self.last_sample >= self.pace.sample_every:
            self.last_sample = now
            self._broadcast(encode("sample", self.history.add(board)))

    def _broadcast(self, message: bytes) -> None:
        for queue in list(self.clients):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                log.info("scorecard: a page fell %d messages behind, dropped", queue.qsize())
                self.clients.discard(queue)
                self._end(queue)

    @staticmethod
    def _end(queue: asyncio.Queue[Message]) -> None:
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        spent = 0.0
        while True:
            pause = min(
                max(self.pace.min_interval, spent / self.pace.busy_share), self.pace.max_interval
            )
            await asyncio.sleep(max(0.0, pause - spent))
            if not self.clients:
                return
            started = loop.time()
            try:
                self._take(await self.read_board())
            except Exception as error:  # the store or broker is down: keep the pages open
                log.warning("scorecard: cannot read the snapshot: %s", error)
            spent = loop.time() - started
