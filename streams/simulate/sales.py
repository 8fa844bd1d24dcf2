"""Sales: inbound leads through the funnel, opportunities through the stages, rep activity."""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

from streams.simulate.engine import Process, record
from streams.simulate.marketing import campaign_of
from streams.simulate.service import Customer, customer, unhappy_at_start
from streams.simulate.worktime import DAY, HOUR, MINUTE
from streams.simulate.world import (
    OUTBOUND,
    REPS,
    SEGMENT_MIX,
    STAGES,
    TEAM,
    Weights,
    World,
    around,
    chance,
    money,
    poisson,
)

LEADS_PER_DAY = 160.0
"""Inbound leads a day over all regions (weekly mean, scale 1)."""
OUTBOUND_PER_DAY = 5.0
"""Opportunities sales sources itself, without a lead or a marketing channel."""
PROSPECTING_PER_REP_DAY = 6.0
"""Calls and emails a rep logs that are about no lead or opportunity yet."""
SEQUENCE_SHARE = 0.25
"""Share of them that are emails of a sequence: a batch a rep sends, logged in one burst."""
SEQUENCE_EMAILS = 40.0
SEQUENCE_LOGGED_PER_SECOND = 8

LEAD_CHANNELS: Weights[str] = Weights(
    {"web": 0.34, "paid_search": 0.27, "email": 0.15, "event": 0.11, "referral": 0.13}
)
CONTACT_RATE = {"web": 0.72, "paid_search": 0.68, "email": 0.55, "event": 0.88, "referral": 0.92}
QUALIFY_RATE = {"web": 0.3, "paid_search": 0.25, "email": 0.18, "event": 0.36, "referral": 0.5}
CONVERT_RATE = 0.62
SPEED_TO_LEAD = 3 * HOUR

WIN_RATE = {"smb": 0.31, "mid_market": 0.25, "enterprise": 0.19}
CHANNEL_WIN = {"referral": 1.35, "event": 1.1, "web": 1.0, "paid_search": 0.9, "email": 0.9}
SOURCED_WIN = 0.85
CYCLE_DAYS = {"smb": 12.0, "mid_market": 28.0, "enterprise": 50.0}
DEAL_SIZE = {"smb": 7_200.0, "mid_market": 36_000.0, "enterprise": 150_000.0}
"""Median annual contract value per segment."""
STALLED_SHARE = 0.15
"""Lost deals that sit in the pipeline for long before being closed as no decision."""

OUTBOUND_SEGMENTS: Weights[str] = Weights({"smb": 0.3, "mid_market": 0.45, "enterprise": 0.25})
FIRST_TOUCH: Weights[str] = Weights({"call": 0.6, "email": 0.4})
DEAL_TOUCH: Weights[str] = Weights({"call": 0.35, "email": 0.45, "meeting": 0.2})
LOST_REASONS: Weights[str] = Weights(
    {"price": 0.24, "competitor": 0.26, "timing": 0.16, "no_budget": 0.12, "product_fit": 0.07}
)


@dataclass(frozen=True)
class Deal:
    """What an opportunity starts from: the account, who sells it and where it came from."""

    customer_id: str
    segment: str
    team: str
    rep: str
    channel: str | None
    lead_id: str | None = None
    stage: int = 0


def lead_source(world: World, team: str, at: int) -> Process:
    """Inbound leads of one region, busiest in its business hours."""
    per_day = LEADS_PER_DAY * TEAM[team].share
    for arrival in world.arrivals(at, per_day, team, "buyer"):
        yield arrival, None
        world.engine.spawn(lead(world, team, arrival))


def lead(world: World, team: str, at: int) -> Process:
    """A lead: created, then (some) contacted, qualified and converted into an opportunity."""
    rng = world.rng
    lead_id = world.ids.new("lead")
    channel = LEAD_CHANNELS.pick(rng)
    campaign_id = campaign_of(world, channel)
    yield at, record("lead.created", lead_id=lead_id, channel=channel, campaign_id=campaign_id)
    if not chance(rng, CONTACT_RATE[channel]):
        return
    rep = world.rep(team)
    at = world.later(at, SPEED_TO_LEAD * TEAM[team].cycle, team, spread=1.2)
    yield at, record("lead.contacted", lead_id=lead_id, rep=rep, team=team)
    qualified = chance(rng, QUALIFY_RATE[channel])
    world.activity(at, FIRST_TOUCH.pick(rng), rep, team, lead_id=lead_id)
    for _ in range(poisson(rng, 1.2 if qualified else 0.4)):
        world.activity(
            world.later(at, 2 * DAY, team, 0.8), FIRST_TOUCH.pick(rng), rep, team, lead_id=lead_id
        )
    if not qualified:
        if chance(rng, 0.1):  # another rep reaches out again: accepted, changes nothing
            again = world.later(at, 5 * DAY, team)
            yield again, record("lead.contacted", lead_id=lead_id, rep=world.rep(team), team=team)
        return
    at = world.later(at, 2 * DAY, team, 0.9)
    yield at, record("lead.qualified", lead_id=lead_id)
    if not chance(rng, CONVERT_RATE):
        return
    at = world.later(at, 1.5 * DAY, team, 0.9)
    account = world.ids.new("cust")
    shown = account if chance(rng, 0.65) else None
    yield at, record("lead.converted", lead_id=lead_id, customer_id=shown)
    attributed = channel if chance(rng, 0.85) else None
    deal = Deal(account, SEGMENT_MIX.pick(rng), team, rep, attributed, lead_id)
    world.engine.spawn(opportunity(world, deal, at + rng.randint(MINUTE, 20 * MINUTE)))


def outbound_source(world: World, team: str, at: int) -> Process:
    """Opportunities a team's reps source themselves (no lead, no channel)."""
    per_day = OUTBOUND_PER_DAY * TEAM[team].share
    for arrival in world.arrivals(at, per_day, team, "office"):
        yield arrival, None
        segment = OUTBOUND_SEGMENTS.pick(world.rng)
        deal = Deal(world.ids.new("cust"), segment, team, world.rep(team), None)
        world.engine.spawn(opportunity(world, deal, arrival))


def prospecting(world: World, team: str, at: int) -> Process:
    """Cold calls and emails of a team's reps, in office hours; some as email sequences."""
    touches = len(REPS[team]) * PROSPECTING_PER_REP_DAY
    singles, sequences = touches * (1 - SEQUENCE_SHARE), touches * SEQUENCE_SHARE / SEQUENCE_EMAILS
    rng = world.rng
    for arrival in world.arrivals(at, singles + sequences, team, "office"):
        rep = world.rep(team)
        if chance(rng, sequences / (singles + sequences)):
            for sent in range(poisson(rng, SEQUENCE_EMAILS)):
                world.activity(arrival + sent // SEQUENCE_LOGGED_PER_SECOND, "email", rep, team)
        else:
            world.activity(arrival, FIRST_TOUCH.pick(rng), rep, team)
        yield arrival, None


def win_probability(deal: Deal) -> float:
    """Chance the deal is won: by segment, team and where it came from."""
    channel = CHANNEL_WIN.get(deal.channel or "", SOURCED_WIN)
    return min(0.9, WIN_RATE[deal.segment] * TEAM[deal.team].win * channel)


@dataclass(frozen=True)
class Outcome:
    """How a deal will end, drawn when it opens: won or lost, at which stage, after how long."""

    won: bool
    stages: int
    days: float
    stalled: bool

    @classmethod
    def draw(cls, rng: Random, deal: Deal, stages: int) -> Outcome:
        """Won deals go through every remaining stage; lost ones stop at any of them."""
        won = chance(rng, win_probability(deal))
        reached = stages if won else rng.randint(1, stages)
        days = around(rng, CYCLE_DAYS[deal.segment] * TEAM[deal.team].cycle, 0.5)
        days *= reached / len(STAGES)
        stalled = not won and chance(rng, STALLED_SHARE)
        return cls(won, reached, days * 2.5 + 20 if stalled else days, stalled)


def revised(rng: Random, amount: float, stage: str) -> float | None:
    """A new amount when scoping (proposal) or discounting (negotiation) changes it, else None."""
    if stage == "proposal" and chance(rng, 0.45):
        return money(amount * rng.uniform(0.75, 1.3), 100)
    if stage == "negotiation" and chance(rng, 0.35):
        return money(amount * rng.uniform(0.85, 0.99), 100)
    return None


def opportunity(world: World, deal: Deal, at: int, resume: int = 0) -> Process:
    """An opportunity from `deal.stage` to won (then a subscription) or lost.

    `resume` is where the simulated log starts: an opportunity already open then
    is created before it and moves on only after it.
    """
    rng = world.rng
    opportunity_id = world.ids.new("opp")
    amount = money(around(rng, DEAL_SIZE[deal.segment] * TEAM[deal.team].deal, 0.5), 100)
    stages = STAGES[deal.stage :]
    created = record(
        "opportunity.created",
        opportunity_id=opportunity_id,
        amount=amount,
        stage=stages[0],
        rep=deal.rep,
        team=deal.team,
        channel=deal.channel,
        lead_id=deal.lead_id,
    )
    yield at, created
    at = max(at, resume)
    outcome = Outcome.draw(rng, deal, len(stages))
    step = outcome.days * DAY / outcome.stages
    log_deal_activities(world, deal, opportunity_id, at, outcome.days)
    for stage in stages[1 : outcome.stages]:
        at = world.later(at, step, deal.team, 0.4)
        new_amount = revised(rng, amount, stage)
        amount = new_amount or amount
        changed = record(
            "opportunity.stage_changed",
            opportunity_id=opportunity_id,
            stage=stage,
            amount=new_amount,
        )
        yield at, changed
    at = world.later(at, step, deal.team, 0.4)
    if not outcome.won:
        yield (
            at,
            record(
                "opportunity.lost", opportunity_id=opportunity_id, reason=lost_reason(rng, outcome)
            ),
        )
        return
    final = money(amount * rng.uniform(0.9, 1.0), 100) if chance(rng, 0.3) else amount
    shown = final if final != amount or chance(rng, 0.5) else None
    yield at, record("opportunity.won", opportunity_id=opportunity_id, amount=shown)
    account = Customer(
        deal.customer_id,
        deal.segment,
        deal.channel or OUTBOUND,
        money(final / 12),
        deal.team,
        unhappy=unhappy_at_start(rng),
    )
    world.engine.spawn(customer(world, account, world.later(at, 2 * DAY, deal.team, 0.7)))


def lost_reason(rng: Random, outcome: Outcome) -> str | None:
    """Why a deal was lost, when the rep said so."""
    if outcome.stalled:
        return "no_decision"
    return LOST_REASONS.pick(rng) if chance(rng, 0.85) else None


def log_deal_activities(
    world: World, deal: Deal, opportunity_id: str, at: int, days: float
) -> None:
    """The rep's calls, emails and meetings over the life of an opportunity."""
    rng = world.rng
    for _ in range(min(30, poisson(rng, 2 + 0.25 * days))):
        when = world.calendar.working(rng, at + int(rng.uniform(0, days) * DAY), deal.team)
        world.activity(
            when, DEAL_TOUCH.pick(rng), deal.rep, deal.team, opportunity_id=opportunity_id
        )
