"""The two applications: the internal one (/metrics, /kpis, /healthz, /readyz, the scorecard
page at / and, on a single port, /ingest/{source}) and the public ingest one."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CONTENT_TYPE_LATEST

from kpis.units import USD, Currency
from streams.http import outcomes
from streams.http.bodies import RenderedOnce, respond
from streams.http.coalesced import Coalesced
from streams.http.guards import add_security_headers
from streams.http.scorecard import add_scorecard
from streams.kafka.fetching import backlogged
from streams.read.exposition import Exposition
from streams.read.snapshot_reader import ReadResult, end_offsets
from streams.read.worker_view import WorkerView
from streams.review import sent as reviews_sent

SnapshotReader = Callable[[], Awaitable[ReadResult]]
ReadinessCheck = Callable[[], Awaitable[list[str]]]
RequestHandler = Callable[[web.Request], Awaitable[web.Response]]
WorkerViewer = Callable[[], WorkerView]
Unapplied = Callable[[Mapping[str, int]], int]
"""Records of the worker's own partitions it has not applied, by end offsets seen earlier."""

log = logging.getLogger(__name__)


def json_response(document: object, status: int = 200) -> web.Response:
    """`document` as a JSON response (orjson: compact, UTF-8)."""
    return web.Response(body=orjson.dumps(document), status=status, content_type="application/json")


def build_app(
    read_snapshot: SnapshotReader,
    readiness: ReadinessCheck,
    thresholds_file: Path | None = None,
    ingest: RequestHandler | None = None,
    worker_view: WorkerViewer | None = None,
    middlewares: Sequence[Middleware] = (),
    max_event_streams: int = 100,
    currency: Currency = USD,
    unapplied: Unapplied | None = None,
) -> web.Application:
    """The internal application serving the readers' endpoints (`worker_view`: one of a group;
    `unapplied`: its backlog, to answer at once while it catches up)."""

    def kpis_body(read: ReadResult) -> bytes:
        snapshot, _ = read
        return orjson.dumps(snapshot.to_json())

    exposition = Exposition()

    def metrics_body(read: ReadResult) -> bytes:
        worker = worker_view() if worker_view is not None else None
        text = exposition.render(*read, worker)
        return text + outcomes.exposition() + reviews_sent.exposition()

    # Both endpoints share one read per group of readers, and each renders it once.
    shared_read = shared_reads(read_snapshot, unapplied)
    kpis_bodies, metrics_bodies = RenderedOnce(kpis_body), RenderedOnce(metrics_body)

    async def kpis(request: web.Request) -> web.Response:
        read = await shared_read()
        with shared_read.charged():  # rendering is part of what reads cost the loop
            return respond(request, kpis_bodies(read), "application/json")

    async def metrics(request: web.Request) -> web.Response:
        read = await shared_read()
        with shared_read.charged():
            return respond(request, metrics_bodies(read), CONTENT_TYPE_LATEST)

    async def readyz(request: web.Request) -> web.Response:
        problems = await readiness()
        if problems:
            log.warning("not ready: %s", "; ".join(problems))
            # What is wrong, without the addresses and errors behind it (those are logged).
            public = [problem.partition(":")[0] for problem in problems]
            return json_response({"status": "not ready", "problems": public}, status=503)
        return json_response({"status": "ready"})

    app = web.Application(middlewares=list(middlewares))
    app.on_response_prepare.append(add_security_headers)
    app.router.add_get("/kpis", kpis)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", readyz)
    add_scorecard(
        app, read_snapshot, thresholds_file, max_streams=max_event_streams, currency=currency
    )
    if ingest is not None:
        app.router.add_post("/ingest/{source}", ingest)
    return app


def shared_reads(
    read_snapshot: SnapshotReader, unapplied: Unapplied | None
) -> Coalesced[ReadResult]:
    """Reads shared by the readers: spaced only while a backlog waits (catching up), not for
    live traffic; meanwhile the last read answers at once, while the worker is still behind."""

    def still_behind(read: ReadResult) -> bool:
        return unapplied is not None and backlogged(unapplied(end_offsets(read)))

    def caught_up(read: ReadResult) -> bool:
        return unapplied is not None and not still_behind(read)

    return Coalesced(
        read_snapshot,
        behind=lambda read: backlogged(read[0].lag),
        still_behind=still_behind,
        caught_up=caught_up,
    )


async def _healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


def build_ingest_app(
    ingest: RequestHandler, middlewares: Sequence[Middleware] = ()
) -> web.Application:
    """The public application: `POST /ingest/{source}` and a bare `/healthz`, 404 for the rest."""
    app = web.Application(middlewares=list(middlewares))
    app.on_response_prepare.append(add_security_headers)
    app.router.add_post("/ingest/{source}", ingest)
    app.router.add_get("/healthz", _healthz)
    return app
