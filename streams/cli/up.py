"""`crmkpi up`: the whole monitor in the foreground, on the embedded broker by default."""

from __future__ import annotations

import asyncio
import contextlib
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
from streams.kafka.topics import ensure_topics
from streams.secret_settings import redacted

out = Console(highlight=False, soft_wrap=True)
DEMO_SEED = 7
DEMO_HISTORY_DAYS = 90


def child_env(settings: Settings) -> dict[str, str]:
    """This process's environment, with the broker it uses (which may come from --bootstrap)."""
    return dict(os.environ, CRMKPI_KAFKA_BOOTSTRAP=settings.kafka_bootstrap)


@contextlib.contextmanager
def stopped_at_exit(processes: list[subprocess.Popen[bytes]]) -> Iterator[None]:
    """Stop `processes` (SIGTERM, then SIGKILL after 20 s) when the block ends."""
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


@contextlib.contextmanager
def demo_feed(settings: Settings, rate: float | None) -> Iterator[None]:
    """With a `rate`, `crmkpi simulate --live` in a process of its own (the worker keeps this
    process's core): 90 days of history at once, then live traffic, until the block ends."""
    if rate is None:
        yield
        return
    asyncio.run(ensure_topics(settings))  # before the worker: neither races to create them
    command = [sys.executable, "-m", "streams", "simulate", "--live", "--seed", str(DEMO_SEED)]
    command += ["--rate", f"{rate:g}", "--history-days", str(DEMO_HISTORY_DAYS)]
    feeder = subprocess.Popen(command, env=child_env(settings), stdout=subprocess.DEVNULL)
    with stopped_at_exit([feeder]):
        yield


@contextlib.contextmanager
def more_workers(settings: Settings, count: int) -> Iterator[None]:
    """`count` more `crmkpi worker` processes in this one's group, each serving HTTP on the
    next port; stopped (SIGTERM, then SIGKILL) when the block ends."""
    processes = []
    for number in range(1, count + 1):
        env = child_env(settings)
        env.update(
            CRMKPI_GROUP_ID=settings.group_id,
            CRMKPI_HTTP_PORT=str(settings.http_port + number),
        )
        env.pop("CRMKPI_INGEST_PORT", None)  # one public ingest listener: this process's
        if settings.redis_url is not None:
            env["CRMKPI_REDIS_URL"] = settings.redis_url.get_secret_value()
        command = [sys.executable, "-m", "streams", "worker"]
        processes.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL))
        out.print(f"worker {number + 1}: http://{settings.http_host}:{settings.http_port + number}")
    with stopped_at_exit(processes):
        yield


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
            out.print(
                f"demo: {DEMO_HISTORY_DAYS} days of simulated CRM history, then live traffic "
                f"at about {demo_rate:g} events/s"
            )
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
        with demo_feed(settings, demo_rate), more_workers(settings, workers - 1):
            return run_worker(settings, on_started)
    finally:
        if broker is not None:
            with contextlib.suppress(Exception):
                broker.stop()
        out.print("crmkpi stopped")
