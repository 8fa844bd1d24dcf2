"""`crmkpi up`: the whole monitor in the foreground, on the embedded broker by default."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from rich.console import Console

from streams.app import Runtime
from streams.cli.runner import run_worker
from streams.config import Settings
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


def run_up(settings: Settings, *, embedded_broker: bool, demo_rate: float | None) -> int:
    """Start broker (unless external), worker, HTTP server and demo; stop all on Ctrl-C/SIGTERM."""
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
        return run_worker(settings, on_started)
    finally:
        if broker is not None:
            with contextlib.suppress(Exception):
                broker.stop()
        out.print("crmkpi stopped")
