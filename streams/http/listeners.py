"""Where the monitor listens: the internal listener, and the public ingest one when it has a port.

Without `CRMKPI_INGEST_PORT` everything is served on `CRMKPI_HTTP_HOST:PORT` (one
localhost port for `crmkpi up`); with it, `/ingest/*` moves to its own listener, which
answers 404 to every read path, and the internal one serves reads only.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from aiohttp import web

from streams.config import Settings
from streams.http.auth import ReadAuth, read_users
from streams.http.server import (
    ReadinessCheck,
    RequestHandler,
    SnapshotReader,
    WorkerViewer,
    build_app,
    build_ingest_app,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Listener:
    """One application on one address."""

    app: web.Application
    host: str
    port: int


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def read_auth(settings: Settings) -> ReadAuth:
    users = read_users(settings.read_users_file) if settings.read_users_file else {}
    return ReadAuth(settings.read_token, users)


def plan_listeners(
    settings: Settings,
    read_snapshot: SnapshotReader,
    readiness: ReadinessCheck,
    ingest: RequestHandler,
    worker_view: WorkerViewer | None = None,
) -> list[Listener]:
    """The internal listener first, then the ingest one if it has its own port."""
    auth = read_auth(settings)
    if not auth.enabled and not is_loopback(settings.http_host):
        log.warning(
            "reads (/kpis, /metrics, /events, the page) are open to anyone reaching %s: "
            "set CRMKPI_READ_TOKEN or CRMKPI_READ_USERS_FILE",
            settings.http_host,
        )
    separate = settings.ingest_port is not None
    internal = build_app(
        read_snapshot,
        readiness,
        settings.thresholds_file,
        None if separate else ingest,
        worker_view,
        middlewares=[auth.middleware()] if auth.enabled else [],
    )
    listeners = [Listener(internal, settings.http_host, settings.http_port)]
    if settings.ingest_port is not None:
        public = build_ingest_app(ingest)
        listeners.append(Listener(public, settings.ingest_host, settings.ingest_port))
    return listeners


class Listeners:
    """Runs every listener inside the worker's event loop."""

    def __init__(self, listeners: list[Listener]) -> None:
        self.listeners = listeners
        self.runners: list[web.AppRunner] = []

    @classmethod
    def for_settings(
        cls,
        settings: Settings,
        read_snapshot: SnapshotReader,
        readiness: ReadinessCheck,
        ingest: RequestHandler,
        worker_view: WorkerViewer | None = None,
    ) -> Listeners:
        return cls(plan_listeners(settings, read_snapshot, readiness, ingest, worker_view))

    async def start(self) -> None:
        for listener in self.listeners:
            runner = web.AppRunner(listener.app, access_log=None)
            await runner.setup()
            self.runners.append(runner)
            await web.TCPSite(runner, listener.host, listener.port).start()

    async def stop(self) -> None:
        for runner in reversed(self.runners):
            await runner.cleanup()
        self.runners.clear()
