"""`crmkpi up`: the whole monitor in the foreground, on the embedded broker by default."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Iterator

from rich.console import Console

from streams.app import Runtime
from streams.cli.runner import run_worker
from streams.config import Settings
from streams.errors import ConfigError
from streams.kafka.broker import EmbeddedBroker
from streams.secret_settings import redacted

log = logging.getLogger(__name__)
out = Console(highlight=False, soft_wrap=True)
DEMO_SEED = 7


async def feed_demo(settings: Settings, rate: float) -> None:
    """Send simulated live CRM traffic at `rate` events/s until cancelled."""
    from streams.cli.simulate import send_live

    try:
        await send_live(settings, DEMO_SEED, rate)
    except asyncio.CancelledError:
        raise
    except Exception as error:  # the demo must never take the monitor down
        log.warning("demo traffic stopped: %s", error)


@contextlib.contextmanager
def more_workers(settings: Settings, count: int) -> Iterator[None]:
    """`count` more `crmkpi worker` processes in this one's group, each serving HTTP on the
    next port; stopped (SIGTERM, then SIGKILL) when the block ends."""
    processes = []
    for number in range(1, count + 1):
        env = dict(os.environ)
        env.update(
            CRMKPI_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
            CRMKPI_GROUP_ID=settings.group_id,
            CRMKPI_HTTP_PORT=str(settings.http_port + number),
        )
        env.pop("CRMKPI_INGEST_PORT", None)  # one public ingest listener: this process's
        if settings.redis_url is not None:
            env["CRMKPI_REDIS_URL"] = settings.redis_url.get_secret_value()
        command = [sys.executable, "-m", "streams", "worker"]
        processes.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL))
        out.print(f"worker {number + 1}: http://{settings.http_host}:{settings.http_port + number}")
    try:
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def run_up(
    settings: Settings, *, embedded_broker: bool, demo_rate: float | None, workers: int = 1
) -> int:
    """Start broker (unless external), workers, HTTP server and demo; stop all on Ctrl-C or
    SIGTERM."""
    if workers > 1 and settings.redis_url is None:
        raise ConfigError(
            "--workers needs --redis (or CRMKPI_REDIS_URL): workers share the KPIs through Redis"
        )
    broker = EmbeddedBroker(settings.kafka_bootstrap) if embedded_broker else None

    async def on_started(runtime: Runtime) -> None:
        url = f"http://{settings.http_host}:{settings.http_port}"
        out.print(f"scorecard: {url}/")
        out.print(f"http: {url}/kpis  {url}/metrics  {url}/healthz  {url}/readyz")
        if settings.ingest_port is not None:
            out.print(f"ingest: http://{settings.ingest_host}:{settings.ingest_port}/ingest/")
        else:
            out.print(f"ingest: {url}/ingest/")
        if demo_rate is not None:
            runtime.spawn(feed_demo(settings, demo_rate))
            out.print(f"demo: simulated CRM traffic at {demo_rate:g} events/s")
        out.print("crmkpi is ready (Ctrl-C to stop)")

    if broker is not None:
        broker.start()
        out.print(f"broker: embedded Kafka-compatible broker on {broker.bootstrap}")
    else:
        out.print(f"broker: {settings.kafka_bootstrap}")
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    store = f"redis {redacted(redis_url)}" if redis_url else "in-process"
    out.print(f"store: {store}")
    try:
        with more_workers(settings, workers - 1):
            return run_worker(settings, on_started)
    finally:
        if broker is not None:
            with contextlib.suppress(Exception):
                broker.stop()
        out.print("crmkpi stopped")
