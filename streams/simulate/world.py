"""The simulated company: teams, reps and dimensions, and the random draws it is made of."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import accumulate
from random import Random
from typing import Generic, TypeVar

from streams.simulate.engine import Engine, record
from streams.simulate.worktime import MINUTE, Calendar, Profile

T = TypeVar("T")

TEAMS = ("emea", "amer", "apac")
"""Sales teams, and the support teams of the same regions."""

REPS: dict[str, tuple[str, ...]] = {
    "emea": tuple(f"rep-{n:02d}" for n in range(1, 7)),
    "amer": tuple(f"rep-{n:02d}" for n in range(7, 14)),
    "apac": tuple(f"rep-{n:02d}" for n in range(14, 17)),
}
CHANNELS = ("web", "paid_search", "email", "event", "referral")
OUTBOUND = "outbound"
"""Channel of customers won by an opportunity that sales sourced (no marketing channel)."""
SEGMENTS = ("smb", "mid_market", "enterprise")
STAGES = ("qualification", "discovery", "demo", "proposal", "negotiation")


@dataclass(frozen=True)
class Team:
    """How a regional team differs from the others (multipliers, 1.0 = typical)."""

    share: float  # of inbound demand (leads, signups, anonymous tickets)
    win: float  # win rate
    cycle: float  # sales pace: time to first contact and length of the sales cycle
    deal: float  # deal size
    support_pace: float  # support response and resolution times


TEAM: dict[str, Team] = {
    "emea": Team(share=0.38, win=1.0, cycle=1.0, deal=1.0, support_pace=1.0),
    "amer": Team(share=0.45, win=1.12, cycle=0.9, deal=1.15, support_pace=0.85),
    "apac": Team(share=0.17, win=0.85, cycle=1.2, deal=0.8, support_pace=1.35),
}


class Weights(Generic[T]):
    """A discrete distribution, drawn with one `random()` call."""

    def __init__(self, weights: Mapping[T, float]) -> None:
        self.values = tuple(weights)
        self.cumulative = tuple(accumulate(weights.values()))

    def pick(self, rng: Random) -> T:
        """One value, with probability proportional to its weight."""
        return rng.choices(self.values, cum_weights=self.cumulative)[0]


REGIONS: Weights[str] = Weights({team: TEAM[team].share for team in TEAMS})
SEGMENT_MIX: Weights[str] = Weights({"smb": 0.58, "mid_market": 0.31, "enterprise": 0.11})


def chance(rng: Random, probability: float) -> bool:
    """True with `probability`."""
    return rng.random() < probability


def around(rng: Random, median: float, spread: float = 0.5) -> float:
    """A log-normal draw: `median`, multiplied or divided by about e**spread one time in three."""
    return median * math.exp(rng.gauss(0.0, spread))


def poisson(rng: Random, mean: float) -> int:
    """A Poisson count (Knuth's method; normal approximation for large means)."""
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def money(amount: float, step: float = 1.0) -> float:
    """An amount rounded to `step` (prices and budgets are round numbers)."""
    return float(round(amount / step) * step)


class Ids:
    """Entity ids per kind, e.g. `lead-7-42`; the tag keeps runs and seeds apart."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self._counts: dict[str, int] = {}

    def new(self, kind: str) -> str:
        """The next id of `kind`."""
        count = self._counts.get(kind, 0) + 1
        self._counts[kind] = count
        return f"{kind}-{self.tag}-{count}"


@dataclass
class World:
    """Everything a lifecycle needs: randomness, the engine, the calendar, ids and volume."""

    rng: Random
    engine: Engine
    calendar: Calendar
    ids: Ids
    scale: float
    rep_pick: dict[str, Weights[str]]
    field_events: int = 0  # trade shows and field events held so far
    event_campaign: str | None = None  # the latest one: what new `event` leads come from
    rescaled: tuple[int, float] | None = None  # (from when, scale): the live demand

    def scale_at(self, at: int) -> float:
        """The volume multiplier of new work at `at`."""
        if self.rescaled is not None and at >= self.rescaled[0]:
            return self.rescaled[1]
        return self.scale

    def arrivals(self, at: int, per_day: float, zone: str, profile: Profile) -> Iterator[int]:
        """Arrival times after `at` of a source averaging `per_day` at scale 1 (none at 0)."""
        while (rate := per_day * self.scale_at(at)) > 0:
            arrival = self.calendar.next_arrival(self.rng, at, rate, zone, profile)
            if self.rescaled is not None and at < self.rescaled[0] <= arrival:
                at = self.rescaled[0]  # memoryless: draw again at the new rate from then on
                continue
            at = arrival
            yield at

    def later(self, at: int, median: float, zone: str, spread: float = 0.6) -> int:
        """About `median` seconds after `at` (at least a minute), in `zone`'s working time."""
        delay = max(MINUTE, int(around(self.rng, median, spread)))
        return self.calendar.working(self.rng, at + delay, zone)

    def rep(self, team: str) -> str:
        """A rep of `team`; busier reps get more of the work."""
        return self.rep_pick[team].pick(self.rng)

    def activity(self, at: int, kind: str, rep: str, team: str, **about: str | None) -> None:
        """Log a rep's call, email or meeting at `at`, about a lead or opportunity if given."""
        activity_id = self.ids.new("act")
        logged = record("activity.logged", activity_id=activity_id, kind=kind, rep=rep, team=team)
        logged.fields.update((name, value) for name, value in about.items() if value is not None)
        self.engine.schedule(at, logged)


def new_world(seed: int, scale: float, calendar: Calendar, tag: str) -> World:
    """An empty world for `seed`; reps get a fixed, seeded productivity."""
    rng = Random(f"crmkpi-simulate-{seed}-world")
    rep_pick = {
        team: Weights({rep: around(rng, 1.0, 0.25) for rep in reps}) for team, reps in REPS.items()
    }
    return World(rng, Engine(), calendar, Ids(tag), scale, rep_pick)
