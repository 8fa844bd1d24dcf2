"""Running a worker in the foreground, alone or with the embedded broker and demo traffic."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import faust

from streams.app import StartHook, create_app
from streams.config import Settings
from streams.kafka.adapter import install_metadata_no_auto_create
from streams.kafka.topics import ensure_topics
from streams.secret_settings import refuse_placeholder_secrets


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
    app, _ = create_app(settings, on_started=on_started, relay_path=relay_path)
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False)
    worker.spinner = None  # its cursor codes garble our own progress lines
    try:
        worker.execute_from_commandline()
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 0
    finally:
        sys.stdout.flush()
    return 0
