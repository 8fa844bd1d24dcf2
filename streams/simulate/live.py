"""Live simulated traffic: a recent history at once, then the same company on the wall clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from streams.simulate.anomalies import NO_ANOMALIES, Anomalies, Log
from streams.simulate.history import HistoryClock, epoch_seconds, logged
from streams.simulate.worktime import DAY, NEVER, BusinessCalendar
from streams.simulate.world import new_world

HISTORY_SCALE = 0.3
"""Volume of the history sent first: ~530 events a day (720 customers at the start), so 90
days, ~48,000 events, are sent and applied within seconds (docs/demo.md)."""
LIVE_EVENTS_PER_DAY = 660.0
"""Events a day, per unit of scale of new work, in the first week after live traffic starts
(measured from a Thursday morning): new leads, deals, signups, tickets, chats and spend, and
the work each brings. The bulk of the company's events (its customers' tickets, renewals)
scale with its customers, who are few that first week."""


def live_scale(rate: float) -> float:
    """The scale of new work that makes about `rate` events/s over the first week."""
    return rate * DAY / LIVE_EVENTS_PER_DAY


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
    history_days: int = 0,
    history_scale: float = HISTORY_SCALE,
    anomalies: Anomalies = NO_ANOMALIES,
) -> Iterator[tuple[float, str]]:
    """Endless (seconds to wait before sending, JSON line): a history, then live traffic.

    One simulated company on business calendars: its opening book and `history_days`
    days of events up to `now()` at `history_scale` come first, without delay; from
    then on the same company runs in real time (event time is the wall clock, no
    compression), its new work at the scale that makes about `rate` events/s.
    Sleeping each delay before sending keeps event times within a second of the
    wall clock. Ids carry the start time, so a restart never collides with an
    earlier run.
    """
    if not rate > 0:
        raise ValueError(f"rate {rate}: must be a positive number of events per second")
    if history_days < 0:
        raise ValueError(f"history_days {history_days}: must be 0 or more")
    start = epoch_seconds(now(), "now()")
    tag = f"{seed}-{_base36(start)}"
    world = new_world(seed, history_scale, BusinessCalendar(), tag)
    world.rescaled = (start, live_scale(rate))
    log = Log(anomalies, seed, HistoryClock(), id_prefix=f"sim-{tag}", tag=tag)
    for written_at, line in logged(world, log, start - history_days * DAY, until=NEVER):
        yield max(0.0, written_at - now().timestamp()), line
