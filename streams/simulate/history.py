"""A simulated CRM history: days of events as JSON lines, the same bytes for the same seed."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from random import Random

from streams.simulate.anomalies import NO_ANOMALIES, Anomalies, Log
from streams.simulate.scenario import populate
from streams.simulate.worktime import DAY, BusinessCalendar
from streams.simulate.world import World, new_world

DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)
"""A Monday: histories start here unless told otherwise, so a seed alone fixes the output."""
YEAR = 365 * DAY


class HistoryClock:
    """Event time is simulated time (Unix seconds, as the wall clock), written in UTC."""

    def text(self, at: int) -> str:
        """RFC 3339 with `Z`, seconds precision."""
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))

    def future(self, rng: Random, at: int) -> int:
        """Decades ahead: after any wall clock the history may be replayed at."""
        return at + int(rng.uniform(30, 70) * YEAR)


def epoch_seconds(moment: datetime, name: str) -> int:
    """Whole Unix seconds of an aware datetime; a naive one is refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} {moment.isoformat()} has no time zone: pass an aware datetime")
    return math.floor(moment.timestamp())


def simulate_history(
    seed: int,
    days: int,
    start: datetime = DEFAULT_START,
    anomalies: Anomalies = NO_ANOMALIES,
    scale: float = 1.0,
) -> Iterator[str]:
    """JSON lines (no newline) of `days` days of CRM events from `start`, in log order.

    The log opens with the company's state at `start` — customers subscribed up
    to two years before, opportunities opened up to 75 days before — then every
    event from `start` to `start + days` in time order. About 1,800 events a day
    at `scale` 1 (weekdays ~2,200, weekends ~300); `scale` multiplies volume
    (customers, leads, spend), not rates.
    """
    if days < 0:
        raise ValueError(f"days {days}: must be 0 or more")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale {scale}: must be a positive number")
    begin = epoch_seconds(start, "start")
    world = new_world(seed, scale, BusinessCalendar(), tag=str(seed))
    log = Log(anomalies, seed, HistoryClock(), id_prefix=f"sim-{seed}", tag=str(seed))
    for _, line in logged(world, log, begin, until=begin + days * DAY):
        yield line
    for _, line in log.flush():
        yield line


def logged(world: World, log: Log, begin: int, until: int) -> Iterator[tuple[int, str]]:
    """(log time, line) of the world's records from its opening book at `begin` to `until`."""
    populate(world, begin)
    for at, good, last in world.engine.run(until=until):
        yield from log.lines(at, good, last)
