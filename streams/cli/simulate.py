"""`crmkpi simulate`: a history file, or live traffic sent to the broker."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from streams.config import Settings
from streams.kafka.producer import CrmProducer
from streams.simulate import Anomalies, live_events, simulate_history
from streams.simulate.history import DEFAULT_START

PROGRESS_EVERY = 10_000


def simulate_history_to(
    out_file: Path | None,
    seed: int,
    days: int,
    anomalies: bool,
    scale: float,
    err: Console,
    start: datetime | None = None,
) -> int:
    """Write the history as JSONL to `out_file` (or stdout); returns the number of events."""
    first = start or DEFAULT_START
    end = first + timedelta(days=days)
    if end > datetime.now(UTC):
        err.print(
            f"[yellow]warning:[/] this history runs until {end:%Y-%m-%d}, after today: its "
            "later events will be rejected as future_timestamp; choose an earlier --start"
        )
    chosen = Anomalies.default() if anomalies else Anomalies.none()
    lines = simulate_history(seed, days, start=first, anomalies=chosen, scale=scale)
    count = 0
    target = out_file.open("w") if out_file else sys.stdout
    try:
        with err.status(f"simulating {days} days (seed {seed})") as status:
            for line in lines:
                target.write(line + "\n")
                count += 1
                if count % PROGRESS_EVERY == 0:
                    status.update(f"simulating {days} days (seed {seed}): {count:,} events")
    finally:
        if out_file:
            target.close()
    err.print(f"{count:,} events" + (f" written to {out_file}" if out_file else ""))
    return count


async def _paced(seed: int, rate: float, history_days: int, err: Console) -> AsyncIterator[bytes]:
    """The lines of `live_events`, each sent at its time; a line when the history is out."""
    started = time.perf_counter()
    at_once: int | None = 0  # lines sent without waiting (the history), until the first wait
    lines = live_events(seed, rate, lambda: datetime.now(UTC), history_days=history_days)
    for delay, line in lines:
        if delay > 0:
            if at_once is not None:
                seconds = time.perf_counter() - started
                err.print(f"history sent: {at_once:,} events in {seconds:.1f} s; now live")
                at_once = None
            await asyncio.sleep(delay)
        elif at_once is not None:
            at_once += 1
        yield line.encode()


async def send_live(
    settings: Settings, seed: int, rate: float, history_days: int, err: Console
) -> None:
    """Send `history_days` of history at once, then live traffic at about `rate` events/s,
    until cancelled."""
    async with CrmProducer(settings, origin="simulator") as producer:
        await producer.send_lines(_paced(seed, rate, history_days, err))


async def simulate_live(
    settings: Settings, seed: int, rate: float, history_days: int, err: Console
) -> None:
    """`--live`: send until Ctrl-C."""
    history = f"{history_days} days of history, then " if history_days else ""
    err.print(
        f"sending {history}live CRM traffic to {settings.kafka_bootstrap} "
        f"at about {rate:g} events/s"
    )
    await send_live(settings, seed, rate, history_days, err)
