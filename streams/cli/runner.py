"""Running a worker in the foreground, alone or with the embedded broker and demo traffic."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from pathlib import Path

import faust

from streams.app import StartHook, create_app
from streams.config import Settings
from streams.kafka.adapter import install_metadata_no_auto_create
from streams.kafka.topics import ensure_topics
from streams.secret_settings import refuse_placeholder_secrets

YOUNG_OBJECTS_BETWEEN_COLLECTIONS = 10_000  # Python's default: 700
# bench.catchup, 1,080 days, 2 workers, 2 CPUs: the collector took 1.1-1.3 of each worker's
# 5 CPU seconds by default (mostly full collections over start-up's objects). Frozen and at
# 10,000: 70-73k events/s became 81-84k (20,000: 77-78k; 50,000: 81-86k).


def run_worker(
    settings: Settings, on_started: StartHook | None = None, relay_path: Path | None = None
) -> int:
    """Run the Faust worker until Ctrl-C or SIGTERM (serving its store at `relay_path` to the
    other workers of its `crmkpi up`); returns the exit status."""
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    install_metadata_no_auto_create()
    refuse_placeholder_secrets(settings)
    # Before Faust subscribes: a broker that auto-creates topics would pick its own count.
    asyncio.run(ensure_topics(settings))
    asyncio.set_event_loop(asyncio.new_event_loop())
    app, runtime = create_app(settings, on_started=on_started, relay_path=relay_path)
    # The runtime starts first: readers get answers while the consumer joins its group.
    worker = faust.Worker(
        app, runtime, loglevel=settings.log_level, quiet=True, redirect_stdouts=False
    )
    worker.spinner = None  # its cursor codes garble our own progress lines
    settle_collector()
    try:
        worker.execute_from_commandline()
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 0
    finally:
        sys.stdout.flush()
    return 0


def settle_collector() -> None:
    """Keep the garbage collector off what start-up made, and let it run less often: a
    worker allocates a record, an event and their parts per event, almost all freed by
    reference counting, so frequent collections only walk the batch in flight."""
    gc.freeze()
    gc.set_threshold(YOUNG_OBJECTS_BETWEEN_COLLECTIONS, *gc.get_threshold()[1:])
