"""`crmkpi simulate`: a history file, or live traffic sent to the broker."""

from __future__ import annotations

import asyncio
import sys
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


async def _paced(seed: int, rate: float) -> AsyncIterator[bytes]:
    for delay, line in live_events(seed, rate, lambda: datetime.now(UTC)):
        if delay > 0:
            await asyncio.sleep(delay)
        yield line.encode()


async def send_live(settings: Settings, seed: int, rate: float) -> None:
    """Send live simulated traffic at about `rate` events/s until cancelled."""
    async with CrmProducer(settings, origin="simulator") as producer:
        await producer.send_lines(_paced(seed, rate))


async def simulate_live(settings: Settings, seed: int, rate: float, err: Console) -> None:
    """`--live`: send until Ctrl-C."""
    err.print(f"sending live CRM traffic to {settings.kafka_bootstrap} at {rate:g} events/s")
    await send_live(settings, seed, rate)
