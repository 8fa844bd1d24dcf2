"""`crmkpi up`: the whole monitor in the foreground, on the embedded broker by default."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from rich.console import Console

from streams.app import Runtime
from streams.cli.runner import run_worker
from streams.config import Settings
from streams.kafka.broker import EmbeddedBroker, die_with_parent, free_port, port_in_use
from streams.kafka.topics import ensure_topics
from streams.secret_settings import redacted

out = Console(highlight=False, soft_wrap=True)
DEMO_SEED = 7
DEMO_HISTORY_DAYS = 90
READY_POLL_SECONDS = 0.2  # how often `up` asks whether its worker is ready, until it is


def child_env(settings: Settings) -> dict[str, str]:
    """This process's environment, with the broker it uses (which may come from --bootstrap)."""
    return dict(os.environ, CRMKPI_KAFKA_BOOTSTRAP=settings.kafka_bootstrap)


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    """Stop `processes`: SIGTERM, then SIGKILL after 20 s (those stopped already are left)."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def stopped_at_exit(processes: list[subprocess.Popen[bytes]]) -> Iterator[None]:
    """Stop `processes` when the block ends."""
    try:
        yield
    finally:
        stop_all(processes)


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


def default_workers(settings: Settings) -> int:
    """Without Redis, one worker process per CPU this process may use, at most one per
    partition: they are scraped as one (`streams.read.relay_store`). With Redis, one: each
    worker exports its own partitions' series, and Prometheus must scrape every one."""
    if settings.redis_url is not None:
        return 1
    return max(1, min(len(os.sched_getaffinity(0)), settings.partitions))


@contextlib.contextmanager
def store_relay(settings: Settings, workers: int) -> Iterator[Path | None]:
    """Where this process serves its in-process store to its other workers (without Redis):
    a socket in a private directory, removed when the block ends."""
    if workers == 1 or settings.redis_url is not None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="crmkpi-store-") as directory:
        yield Path(directory) / "store.sock"


@contextlib.contextmanager
def more_workers(
    settings: Settings, count: int, relay: Path | None
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` more `crmkpi worker` processes in this one's group, each serving HTTP on the
    next port (a free one when it is taken) and sharing the KPIs through Redis or this
    process's `relay`; stopped (SIGTERM, then SIGKILL) when the block ends, killed if this
    process dies."""
    processes = []
    for number in range(1, count + 1):
        port = settings.http_port + number
        if port_in_use(settings.http_host, port):
            port = free_port()
        env = child_env(settings)
        env.update(CRMKPI_GROUP_ID=settings.group_id, CRMKPI_HTTP_PORT=str(port))
        env.pop("CRMKPI_INGEST_PORT", None)  # one public ingest listener: this process's
        if settings.redis_url is not None:
            env["CRMKPI_REDIS_URL"] = settings.redis_url.get_secret_value()
        elif relay is not None:
            env["CRMKPI_STORE_RELAY"] = str(relay)
        command = [sys.executable, "-m", "streams", "worker"]
        worker = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, preexec_fn=die_with_parent()
        )
        processes.append(worker)
        out.print(f"worker {number + 1}: http://{settings.http_host}:{port}")
    with stopped_at_exit(processes):
        yield processes


async def announce_ready(runtime: Runtime) -> None:
    """Print the ready line once the worker is ready (`/readyz`: partitions assigned)."""
    while await runtime.health.readiness():
        await asyncio.sleep(READY_POLL_SECONDS)
    out.print("crmkpi is ready (Ctrl-C to stop)")


def run_up(
    settings: Settings,
    *,
    embedded_broker: bool,
    demo_rate: float | None,
    workers: int | None = None,
) -> int:
    """Start broker (unless external), workers (`default_workers` unless given), HTTP server
    and demo; stop all on Ctrl-C or SIGTERM."""
    chosen = "" if workers or settings.redis_url else " (one per CPU, at most one per partition)"
    workers = workers or default_workers(settings)
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
        runtime.spawn(announce_ready(runtime))
        if runtime.relay is not None:  # they publish to it until they stop
            runtime.relay.before_stop = partial(asyncio.to_thread, stop_all, others)

    if broker is not None:
        broker.start()
        out.print(f"broker: embedded Kafka-compatible broker on {broker.bootstrap}")
    else:
        out.print(f"broker: {settings.kafka_bootstrap}")
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    store = f"redis {redacted(redis_url)}" if redis_url else "in-process"
    if workers > 1 and not redis_url:
        store += f", shared with the other worker{'s' * (workers > 2)} through a local socket"
    out.print(f"workers: {workers}{chosen}")
    out.print(f"store: {store}")
    try:
        with (
            demo_feed(settings, demo_rate),
            store_relay(settings, workers) as relay,
            more_workers(settings, workers - 1, relay) as others,
        ):
            return run_worker(settings, on_started, relay)
    finally:
        if broker is not None:
            with contextlib.suppress(Exception):
                broker.stop()
        out.print("crmkpi stopped")
