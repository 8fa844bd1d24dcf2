"""The scorecard's routes: the page at `/`, its assets, and the event stream at `/events`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from kpis.thresholds import DEFAULT_THRESHOLDS_FILE, Threshold, ThresholdsError, read_thresholds
from kpis.units import USD, Currency
from kpis.windows import PREVIOUS_OF
from streams.http.scorecard.board import CHURN_GROUP, GROUPS, Board, build_board, catalogue
from streams.http.scorecard.hub import Hub, Pace
from streams.read.snapshot_reader import Snapshot

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent / "web"
HUB = web.AppKey("scorecard_hub", Hub)
MAX_STREAMS = web.AppKey("scorecard_max_streams", int)
RETRY_AFTER = {"Retry-After": "5"}
SnapshotReader = Callable[[], Awaitable[tuple[Snapshot, dict[str, int]]]]


def load_thresholds(path: Path | None) -> tuple[tuple[Threshold, ...], str | None]:
    """The thresholds the tiles are judged by, and the problem with the file if any."""
    if path is None and not DEFAULT_THRESHOLDS_FILE.exists():
        return (), None  # installed without the repository's deploy/ directory
    try:
        return read_thresholds(path).thresholds, None
    except ThresholdsError as error:
        log.warning("scorecard: %s; tiles show no thresholds", error)
        return (), str(error)


async def _page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(WEB_DIR / "index.html")


async def _events(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    if len(hub.clients) >= request.app[MAX_STREAMS]:
        log.info("scorecard: %d pages connected already, one more refused", len(hub.clients))
        raise web.HTTPServiceUnavailable(text="too many pages connected", headers=RETRY_AFTER)
    try:
        queue = await hub.subscribe()
    except Exception as error:  # no snapshot to show yet: the page retries
        log.warning("scorecard: cannot read the snapshot: %s", error)
        raise web.HTTPServiceUnavailable(text="no snapshot yet", headers=RETRY_AFTER) from None
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    try:
        await response.prepare(request)
        await response.write(b"retry: 1000\n\n")  # reconnect a second after the server left
        while True:
            try:
                message = await asyncio.wait_for(queue.get(), hub.pace.keepalive)
            except TimeoutError:
                message = b": keep-alive\n\n"
            if message is None:
                break
            await response.write(message)
    except ConnectionResetError:
        pass  # the page went away
    finally:
        hub.unsubscribe(queue)
    return response


def add_scorecard(
    app: web.Application,
    read_snapshot: SnapshotReader,
    thresholds_file: Path | None = None,
    pace: Pace | None = None,
    max_streams: int = 100,
    currency: Currency = USD,
) -> None:
    """Serve the live scorecard from `app`, amounts in `currency`."""
    thresholds, problem = load_thresholds(thresholds_file)

    async def read_board() -> Board:
        snapshot, _ = await read_snapshot()
        return build_board(snapshot, thresholds)

    pace = pace or Pace()
    page = {
        "spark_points": pace.points,
        "catalogue": catalogue(currency),
        "groups": list(GROUPS),
        "churn_group": CHURN_GROUP,
        "previous": PREVIOUS_OF,
        "thresholds_problem": problem,
    }
    hub = Hub(read_board, page, pace)
    app[HUB] = hub
    app[MAX_STREAMS] = max_streams

    async def close_streams(app: web.Application) -> None:
        await hub.close()

    app.on_shutdown.append(close_streams)
    app.router.add_get("/", _page)
    app.router.add_get("/events", _events)
    app.router.add_static("/scorecard/", WEB_DIR)
