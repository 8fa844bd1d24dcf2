"""Live simulated traffic: an endless stream whose event times follow the wall clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from random import Random

from streams.simulate.anomalies import NO_ANOMALIES, Anomalies, Log
from streams.simulate.history import YEAR, epoch_seconds
from streams.simulate.scenario import populate
from streams.simulate.worktime import DAY, NEVER, FlatCalendar
from streams.simulate.world import new_world

LIVE_COMPRESSION = 1_440.0
"""Simulated seconds per wall-clock second: a simulated day a minute, so deals close in a demo."""
EVENTS_PER_DAY = 1_750.0
"""Events per simulated day at scale 1 with no nights or weekends (measured): sets the volume."""


class LiveClock:
    """Maps simulated time to the wall clock: `begin` is now, later times are compressed.

    The compression is re-fitted every `REFIT_EVERY` records so that the output keeps
    its rate while the simulated company grows or shrinks.
    """

    REFIT_EVERY = 1_000

    def __init__(self, begin: int, compression: float, rate: float) -> None:
        self.sim_origin = begin
        self.wall_origin = float(begin)
        self.compression = compression
        self.nominal = compression
        self.rate = rate
        self.records = 0

    def wall(self, at: int) -> float:
        """Unix time at which simulated time `at` happens."""
        return self.wall_origin + (at - self.sim_origin) / self.compression

    def count(self, at: int) -> None:
        """Take note of a record at `at` (after the opening book) and re-fit when due."""
        self.records += 1
        if self.records < self.REFIT_EVERY or at <= self.sim_origin:
            return
        measured = (at - self.sim_origin) * self.rate / self.records
        self.wall_origin = self.wall(at)
        self.sim_origin = at
        self.compression = min(max(measured, self.nominal / 4), self.nominal * 4)
        self.records = 0

    def text(self, at: int) -> str:
        """RFC 3339 with `Z`, milliseconds precision."""
        millis = round(self.wall(at) * 1000)
        seconds, fraction = divmod(millis, 1000)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:03d}Z"

    def future(self, rng: Random, at: int) -> int:
        """Days to years after the wall clock (not compressed)."""
        ahead = rng.uniform(2, 60) * DAY if rng.random() < 0.5 else rng.uniform(1, 5) * YEAR
        return at + int(ahead * self.compression)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while number:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
    return text or "0"


def live_events(
    seed: int,
    rate: float,
    now: Callable[[], datetime],
    *,
    compression: float = LIVE_COMPRESSION,
    anomalies: Anomalies = NO_ANOMALIES,
) -> Iterator[tuple[float, str]]:
    """Endless (seconds to wait before sending, JSON line) at about `rate` events/s.

    Event times follow `now()`: sleeping each delay before sending keeps them
    within milliseconds of the wall clock. Lifecycles run about `compression`
    times faster than real time (re-fitted to hold the rate), so leads convert,
    deals close and tickets resolve within minutes. The stream opens, without
    delay, with the existing customers and open pipeline: about 90 seconds'
    worth of lines dated up to two simulated years (12 hours at the default
    compression) before now. Ids carry the start time, so a restart never
    collides with an earlier run.
    """
    if not rate > 0:
        raise ValueError(f"rate {rate}: must be a positive number of events per second")
    if not compression > 0:
        raise ValueError(f"compression {compression}: must be positive")
    begin = epoch_seconds(now(), "now()")
    tag = f"{seed}-{_base36(begin)}"
    scale = rate * DAY / (compression * EVENTS_PER_DAY)
    world = new_world(seed, scale, FlatCalendar(), tag)
    populate(world, begin)
    clock = LiveClock(begin, compression, rate)
    log = Log(anomalies, seed, clock, id_prefix=f"sim-{tag}", tag=tag)
    for at, good, last in world.engine.run(until=NEVER):
        if at >= begin:
            clock.count(at)
        for written_at, line in log.lines(at, good, last):
            yield max(0.0, clock.wall(written_at) - now().timestamp()), line
