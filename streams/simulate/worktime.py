"""Working time: when each team is at work and how busy each hour of its week is."""

from __future__ import annotations

from random import Random
from typing import Literal, Protocol

MINUTE = 60
HOUR = 3_600
DAY = 86_400
NEVER = 2**62
"""A time no run reaches."""

Profile = Literal["office", "buyer"]
"""`office`: reps and agents at work; `buyer`: prospects and customers, with evening tails."""

UTC_OFFSET_HOURS: dict[str, int] = {"emea": 1, "amer": -5, "apac": 8}
"""Winter UTC offsets of each team's home zone (Central Europe, US East, Singapore)."""

OPENING_HOUR = 8
CLOSING_HOUR = 18
AFTER_HOURS_SHARE = 0.1
"""Share of work done outside office hours rather than queued until the next morning."""

_HOURLY: dict[Profile, tuple[float, ...]] = {
    "office": (
        *(0.02, 0.01, 0.01, 0.01, 0.01, 0.03, 0.1, 0.35, 0.9, 1.3, 1.45, 1.4),
        *(1.0, 1.2, 1.4, 1.35, 1.2, 0.9, 0.5, 0.25, 0.15, 0.1, 0.06, 0.03),
    ),
    "buyer": (
        *(0.1, 0.06, 0.05, 0.05, 0.06, 0.12, 0.25, 0.5, 0.9, 1.2, 1.35, 1.35),
        *(1.15, 1.25, 1.3, 1.25, 1.1, 0.9, 0.7, 0.6, 0.55, 0.45, 0.3, 0.18),
    ),
}
_DAILY: dict[Profile, tuple[float, ...]] = {
    "office": (1.08, 1.06, 1.04, 1.0, 0.82, 0.06, 0.05),
    "buyer": (1.1, 1.05, 1.0, 0.97, 0.86, 0.3, 0.27),
}


def _week(profile: Profile) -> tuple[float, ...]:
    """Relative busyness of the 168 local hours of a week (Monday 00:00 first), mean 1."""
    raw = [day * hour for day in _DAILY[profile] for hour in _HOURLY[profile]]
    mean = sum(raw) / len(raw)
    return tuple(value / mean for value in raw)


WEEK: dict[Profile, tuple[float, ...]] = {"office": _week("office"), "buyer": _week("buyer")}
PEAK: dict[Profile, float] = {profile: max(hours) for profile, hours in WEEK.items()}


def hour_of_week(at: int, zone: str) -> int:
    """Local hour of the week in `zone` (0 = Monday 00:00) of a Unix time."""
    local = at + UTC_OFFSET_HOURS[zone] * HOUR
    weekday = (local // DAY + 3) % 7  # 1970-01-01 was a Thursday
    return weekday * 24 + local % DAY // HOUR


def next_opening(at: int, zone: str) -> int:
    """The first weekday 08:00 in `zone` strictly after `at`."""
    offset = UTC_OFFSET_HOURS[zone] * HOUR
    local = at + offset
    day = local // DAY
    while True:
        opening = day * DAY + OPENING_HOUR * HOUR
        if opening > local and (day + 3) % 7 < 5:
            return opening - offset
        day += 1


class Calendar(Protocol):
    """When things happen: arrival times of a source (`per_day` > 0) and a team's working time."""

    def next_arrival(
        self, rng: Random, at: int, per_day: float, zone: str, profile: Profile
    ) -> int: ...

    def working(self, rng: Random, at: int, zone: str) -> int: ...


class BusinessCalendar:
    """Real weeks: busy office hours, quiet nights and weekends, in each team's zone."""

    def next_arrival(
        self, rng: Random, at: int, per_day: float, zone: str, profile: Profile
    ) -> int:
        """Next arrival after `at` of a source averaging `per_day`, shaped by `profile`."""
        week, peak = WEEK[profile], PEAK[profile]
        rate = per_day * peak / DAY
        moment = float(at)
        while True:
            moment += rng.expovariate(rate)
            candidate = int(moment)
            if rng.random() * peak < week[hour_of_week(candidate, zone)]:
                return max(candidate, at + 1)

    def working(self, rng: Random, at: int, zone: str) -> int:
        """`at` if the team is at work then (or works late), else a bit after its next opening."""
        how = hour_of_week(at, zone)
        if how // 24 < 5 and OPENING_HOUR <= how % 24 < CLOSING_HOUR:
            return at
        if rng.random() < AFTER_HOURS_SHARE:
            return at
        # deferred work lands on the next working day, most of it in the morning
        span = (CLOSING_HOUR - OPENING_HOUR) * HOUR
        return next_opening(at, zone) + int(rng.triangular(0, span, span / 4))
