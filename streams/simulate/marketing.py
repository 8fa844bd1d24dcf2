"""Marketing: daily spend per campaign, and the campaign a new lead is attributed to."""

from __future__ import annotations

from streams.simulate.engine import Process, record
from streams.simulate.worktime import DAY, HOUR, MINUTE
from streams.simulate.world import World, around, chance

ALWAYS_ON: tuple[tuple[str, str, float], ...] = (
    ("paid_search", "cmp-search-brand", 2_500.0),
    ("paid_search", "cmp-search-generic", 11_000.0),
    ("web", "cmp-web-content", 5_000.0),
    ("email", "cmp-email-nurture", 1_200.0),
    ("referral", "cmp-referral-partners", 3_500.0),
)
"""(channel, campaign, daily budget at scale 1) of campaigns that spend every day."""
NEWSLETTER = ("email", "cmp-email-newsletter", 6_000.0)
"""Sent on Tuesdays."""
EVENT_COST = 80_000.0
EVENT_CHANCE = 0.1
"""Chance that a weekday is the day of a trade show or field event the company pays for."""
PACING = (1.05, 1.05, 1.05, 1.05, 1.0, 0.55, 0.5)
"""Ad budgets by weekday: full on weekdays, throttled at weekends."""
SYNC_TIME = 23 * HOUR + 30 * MINUTE
"""Ad platforms report a day's totals shortly before midnight UTC."""

CAMPAIGNS: dict[str, tuple[tuple[str, ...], float]] = {
    "paid_search": (("cmp-search-brand", "cmp-search-generic"), 0.92),
    "email": (("cmp-email-nurture", "cmp-email-newsletter"), 0.8),
    "web": (("cmp-web-content",), 0.3),
    "referral": (("cmp-referral-partners",), 0.4),
}
"""Campaigns a lead of each channel may come from, and how often the CRM knows which."""


def campaign_of(world: World, channel: str) -> str | None:
    """The campaign a new lead of `channel` is attributed to, when known."""
    if channel == "event":
        return world.event_campaign if chance(world.rng, 0.9) else None
    campaigns, known = CAMPAIGNS[channel]
    return world.rng.choice(campaigns) if chance(world.rng, known) else None


def spend_ledger(world: World, at: int) -> Process:
    """One `marketing.spend` per campaign per day, from the UTC day containing `at` on."""
    day = at - at % DAY
    while True:
        for order, (channel, campaign, budget) in enumerate(budgets_of(world, day)):
            spent = record(
                "marketing.spend",
                spend_id=world.ids.new("spend"),
                channel=channel,
                amount=round(around(world.rng, budget * world.scale_at(day), 0.12), 2),
                campaign_id=campaign,
            )
            world.engine.schedule(day + SYNC_TIME + order * MINUTE, spent)
        day += DAY
        yield day, None


def budgets_of(world: World, day: int) -> list[tuple[str, str, float]]:
    """(channel, campaign, budget) of the campaigns spending on the UTC `day`."""
    weekday = (day // DAY + 3) % 7  # 1970-01-01 was a Thursday
    budgets = [(channel, name, budget * PACING[weekday]) for channel, name, budget in ALWAYS_ON]
    if weekday == 1:
        budgets.append(NEWSLETTER)
    if weekday < 5 and chance(world.rng, EVENT_CHANCE):
        world.field_events += 1
        world.event_campaign = f"cmp-event-{world.field_events}"
        budgets.append(("event", world.event_campaign, EVENT_COST))
    return budgets
