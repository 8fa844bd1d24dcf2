"""The one HTTP server: /metrics, /kpis, /healthz, /readyz, the scorecard page at /
and, when given, /ingest/{source}."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from streams.http.scorecard import add_scorecard
from streams.read.exposition import WorkerView, render
from streams.read.snapshot_reader import Snapshot

SnapshotReader = Callable[[], Awaitable[tuple[Snapshot, dict[str, int]]]]
ReadinessCheck = Callable[[], Awaitable[list[str]]]
RequestHandler = Callable[[web.Request], Awaitable[web.Response]]
WorkerViewer = Callable[[], WorkerView]


def json_response(document: object, status: int = 200) -> web.Response:
    """`document` as a JSON response (orjson: compact, UTF-8)."""
    return web.Response(body=orjson.dumps(document), status=status, content_type="application/json")


def build_app(
    read_snapshot: SnapshotReader,
    readiness: ReadinessCheck,
    thresholds_file: Path | None = None,
    ingest: RequestHandler | None = None,
    worker_view: WorkerViewer | None = None,
) -> web.Application:
    """The aiohttp application serving the readers' endpoints (`worker_view`: one of a group)."""

    async def kpis(request: web.Request) -> web.Response:
        snapshot, _ = await read_snapshot()
        return json_response(snapshot.to_json())

    async def metrics(request: web.Request) -> web.Response:
        snapshot, lag = await read_snapshot()
        worker = worker_view() if worker_view is not None else None
        response = web.Response(body=render(snapshot, lag, worker))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def healthz(request: web.Request) -> web.Response:
        return json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        problems = await readiness()
        if problems:
            return json_response({"status": "not ready", "problems": problems}, status=503)
        return json_response({"status": "ready"})

    app = web.Application()
    app.router.add_get("/kpis", kpis)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    add_scorecard(app, read_snapshot, thresholds_file)
    if ingest is not None:
        app.router.add_post("/ingest/{source}", ingest)
    return app


class HttpServer:
    """Runs the application on host:port inside the worker's event loop."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.runner = web.AppRunner(app, access_log=None)
        self.host = host
        self.port = port

    async def start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, self.host, self.port).start()

    async def stop(self) -> None:
        await self.runner.cleanup()
