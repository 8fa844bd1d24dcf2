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
from streams.http.guards import host_allow_list
from streams.http.server import (
    ReadinessCheck,
    RequestHandler,
    SnapshotReader,
    Unapplied,
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
    unapplied: Unapplied | None = None,
) -> list[Listener]:
    """The internal listener first, then the ingest one if it has its own port."""
    auth = read_auth(settings)
    if not auth.enabled and not is_loopback(settings.http_host):
        log.warning(
            "reads (/kpis, /metrics, /events, the page) are open to anyone reaching %s: "
            "set CRMKPI_READ_TOKEN or CRMKPI_READ_USERS_FILE",
            settings.http_host,
        )
    hosts = [host_allow_list(settings.allowed_hosts)] if settings.allowed_hosts else []
    separate = settings.ingest_port is not None
    internal = build_app(
        read_snapshot,
        readiness,
        settings.thresholds_file,
        None if separate else ingest,
        worker_view,
        middlewares=hosts + ([auth.middleware()] if auth.enabled else []),
        max_event_streams=settings.max_event_streams,
        currency=settings.money(),
        unapplied=unapplied,
    )
    listeners = [Listener(internal, settings.http_host, settings.http_port)]
    if settings.ingest_port is not None:
        public = build_ingest_app(ingest, hosts)
        listeners.append(Listener(public, settings.ingest_host, settings.ingest_port))
    return listeners


class Listeners:
    """Runs every listener inside the worker's event loop."""

    def __init__(
        self, listeners: list[Listener], header_timeout: float, body_timeout: float
    ) -> None:
        self.listeners = listeners
        self.runners: list[web.AppRunner] = []
        # aiohttp closes a connection whose next request is not complete within its
        # keep-alive timeout, counted from the connection's start (aiohttp >= 3.14.5),
        # so it is the header timeout; after a handler answered without reading the
        # whole body, it reads on for `lingering_time` at most, then closes.
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout

    @classmethod
    def for_settings(
        cls,
        settings: Settings,
        read_snapshot: SnapshotReader,
        readiness: ReadinessCheck,
        ingest: RequestHandler,
        worker_view: WorkerViewer | None = None,
        unapplied: Unapplied | None = None,
    ) -> Listeners:
        listeners = plan_listeners(
            settings, read_snapshot, readiness, ingest, worker_view, unapplied
        )
        return cls(listeners, settings.http_header_timeout, settings.http_body_timeout)

    async def start(self) -> None:
        for listener in self.listeners:
            runner = web.AppRunner(
                listener.app,
                access_log=None,
                keepalive_timeout=self.header_timeout,
                lingering_time=self.body_timeout,
            )
            await runner.setup()
            self.runners.append(runner)
            await web.TCPSite(runner, listener.host, listener.port).start()

    async def stop(self) -> None:
        for runner in reversed(self.runners):
            await runner.cleanup()
        self.runners.clear()
