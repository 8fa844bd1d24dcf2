"""The company when the log starts: its customers and open pipeline, and the sources of new work."""

from __future__ import annotations

from collections.abc import Callable

from streams.simulate.engine import Process
from streams.simulate.marketing import spend_ledger
from streams.simulate.sales import Deal, lead_source, opportunity, outbound_source, prospecting
from streams.simulate.service import (
    PLANS,
    Customer,
    anonymous_tickets,
    chat_csat,
    customer,
    in_app_nps,
    subscription_mrr,
    unhappy_at_start,
)
from streams.simulate.worktime import DAY
from streams.simulate.world import (
    CHANNELS,
    OUTBOUND,
    REGIONS,
    SEGMENT_MIX,
    TEAM,
    TEAMS,
    Weights,
    World,
    chance,
)

BOOK_CUSTOMERS = 2_400
"""Customers already active when the log starts (scale 1)."""
BOOK_DAYS = 730
"""How far back the oldest of them subscribed."""
BOOK_OPPORTUNITIES = 320
"""Opportunities already open when the log starts, created up to 75 days before."""
SELF_SERVE_PER_DAY = 4.0
"""Small customers who subscribe online without talking to sales."""

BOOK_CHANNELS: Weights[str] = Weights(
    {"web": 0.25, "paid_search": 0.2, "email": 0.1, "event": 0.1, "referral": 0.15, OUTBOUND: 0.2}
)
SELF_SERVE_CHANNELS: Weights[str] = Weights(
    {"web": 0.55, "paid_search": 0.25, "referral": 0.1, "email": 0.1}
)


def self_serve(world: World, team: str, at: int) -> Process:
    """Small customers who pick a plan online and subscribe the same minute."""
    per_day = SELF_SERVE_PER_DAY * TEAM[team].share
    rng = world.rng
    for arrival in world.arrivals(at, per_day, team, "buyer"):
        yield arrival, None
        account = Customer(
            world.ids.new("cust"),
            "smb",
            SELF_SERVE_CHANNELS.pick(rng),
            PLANS.pick(rng),
            team,
            unhappy_at_start(rng),
        )
        world.engine.spawn(customer(world, account, arrival))


SOURCES: tuple[Callable[[World, str, int], Process], ...] = (
    lead_source,
    outbound_source,
    prospecting,
    self_serve,
    anonymous_tickets,
    chat_csat,
    in_app_nps,
)
"""Per team: where new leads, deals, activities, customers, tickets and surveys come from."""


def populate(world: World, begin: int) -> None:
    """The opening book before `begin`, and every source of new records from `begin` on."""
    for _ in range(round(BOOK_CUSTOMERS * world.scale)):
        existing_customer(world, begin)
    for _ in range(round(BOOK_OPPORTUNITIES * world.scale)):
        open_opportunity(world, begin)
    for team in TEAMS:
        for source in SOURCES:
            world.engine.spawn(source(world, team, begin))
    world.engine.spawn(spend_ledger(world, begin))


def existing_customer(world: World, begin: int) -> None:
    """A customer who subscribed before `begin`, skewed to recent (growth, and older churn)."""
    rng = world.rng
    team = REGIONS.pick(rng)
    segment = SEGMENT_MIX.pick(rng)
    account = Customer(
        world.ids.new("cust"),
        segment,
        BOOK_CHANNELS.pick(rng),
        subscription_mrr(rng, segment),
        team,
        unhappy_at_start(rng),
    )
    acquired = begin - DAY - int(rng.random() ** 1.6 * BOOK_DAYS * DAY)
    acquired = before(begin, world.calendar.working(rng, acquired, team))
    world.engine.spawn(customer(world, account, acquired, resume=begin))


def open_opportunity(world: World, begin: int) -> None:
    """An opportunity opened before `begin`, already at some stage, that continues from then."""
    rng = world.rng
    team = REGIONS.pick(rng)
    channel = rng.choice(CHANNELS) if chance(rng, 0.65) else None
    segment = SEGMENT_MIX.pick(rng)
    deal = Deal(
        world.ids.new("cust"), segment, team, world.rep(team), channel, stage=rng.randint(0, 3)
    )
    created = world.calendar.working(rng, begin - int(rng.uniform(1, 75) * DAY), team)
    world.engine.spawn(opportunity(world, deal, before(begin, created), resume=begin))


def before(begin: int, at: int) -> int:
    """`at`, or the same time of week a week earlier when working time moved it past `begin`."""
    return at - 7 * DAY if at >= begin else at
