"""After the sale: subscriptions and renewals, support tickets, satisfaction surveys.

A minority of customers is unhappy: more and more urgent tickets, slow and
reopened resolutions, low CSAT, detractor NPS and a higher churn rate, so the
churn-risk signals of KPIS.md show up together on the same customers.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from random import Random

from streams.simulate.engine import Process, Step, record
from streams.simulate.worktime import DAY, HOUR, MINUTE
from streams.simulate.world import SEGMENTS, TEAM, Weights, World, around, chance, money, poisson

TERM_DAYS = {"smb": 30, "mid_market": 91, "enterprise": 365}
CHURN_PER_TERM = {"smb": (0.025, 0.2), "mid_market": (0.05, 0.3), "enterprise": (0.07, 0.4)}
"""Chance of churning during a term: (healthy, unhappy)."""
UNHAPPY_SHARE = 0.1
SOURING, RECOVERY = 0.04, 0.35
"""Chances, at each renewal, that a happy customer turns unhappy and the other way round."""

TICKETS_PER_MONTH = {"smb": 0.8, "mid_market": 1.8, "enterprise": 3.6}
UNHAPPY_TICKETS = 2.5
ANONYMOUS_TICKETS_PER_DAY = 22.0
"""Tickets from prospects and users not matched to a customer."""
CHAT_CSAT_PER_DAY = 8.0
IN_APP_NPS_PER_DAY = 3.0
NPS_EVERY_DAYS = 90.0

PRIORITY: dict[str, Weights[str]] = {
    "smb": Weights({"low": 0.3, "normal": 0.52, "high": 0.14, "urgent": 0.04}),
    "mid_market": Weights({"low": 0.25, "normal": 0.5, "high": 0.18, "urgent": 0.07}),
    "enterprise": Weights({"low": 0.18, "normal": 0.47, "high": 0.23, "urgent": 0.12}),
    "unhappy": Weights({"low": 0.1, "normal": 0.4, "high": 0.32, "urgent": 0.18}),
}
FIRST_RESPONSE = {"urgent": 0.5 * HOUR, "high": 1.5 * HOUR, "normal": 3 * HOUR, "low": 8 * HOUR}
RESOLUTION = {"urgent": 3 * HOUR, "high": 8 * HOUR, "normal": 16 * HOUR, "low": 36 * HOUR}
"""Median time from opening to first resolution per priority."""
REOPEN_WITHIN = 28 * DAY
"""How long a resolved ticket can be reopened: help desks close solved tickets for good within
weeks (Zendesk after 28 days at most), well before the monitor forgets a resolved ticket (the
grace period of KPIS.md, at least 31 days), so a clean history never reopens a forgotten one."""
AGENT_REPLIES: dict[bool, Weights[int]] = {
    False: Weights({0: 0.1, 1: 0.58, 2: 0.2, 3: 0.08, 4: 0.04}),
    True: Weights({1: 0.3, 2: 0.3, 3: 0.25, 4: 0.15}),
}
CSAT: dict[str, Weights[int]] = {
    "good": Weights({5: 0.6, 4: 0.26, 3: 0.07, 2: 0.04, 1: 0.03}),
    "slow": Weights({5: 0.3, 4: 0.3, 3: 0.2, 2: 0.1, 1: 0.1}),
    "unhappy": Weights({5: 0.15, 4: 0.25, 3: 0.2, 2: 0.2, 1: 0.2}),
}
DETRACTOR: Weights[int] = Weights({0: 0.04, 1: 0.03, 2: 0.05, 3: 0.08, 4: 0.12, 5: 0.28, 6: 0.4})
CHURN_REASONS: Weights[str] = Weights(
    {"price": 0.25, "competitor": 0.2, "product_fit": 0.2, "support": 0.1, "consolidation": 0.25}
)
PLANS: Weights[float] = Weights({49.0: 0.35, 99.0: 0.35, 199.0: 0.2, 399.0: 0.1})
MRR = {"smb": (350.0, 0.7), "mid_market": (3_000.0, 0.45), "enterprise": (12_500.0, 0.5)}


@dataclass(slots=True)
class Customer:
    """A paying account; lifecycles of its tickets and surveys read its current health."""

    id: str
    segment: str
    channel: str
    mrr: float
    team: str
    unhappy: bool
    active: bool = True


def unhappy_at_start(rng: Random) -> bool:
    """Whether a new customer starts out unhappy."""
    return chance(rng, UNHAPPY_SHARE)


def subscription_mrr(rng: Random, segment: str) -> float:
    """A plausible monthly recurring revenue for a customer of `segment`."""
    median, spread = MRR[segment]
    return max(29.0, money(around(rng, median, spread)))


def customer(world: World, account: Customer, at: int, resume: int = 0) -> Process:
    """Subscribe, then renew each term until (maybe) churning; tickets and surveys run alongside.

    A customer acquired before `resume` (the start of the log) is active from then on.
    """
    rng = world.rng
    subscribed = record(
        "customer.subscribed",
        customer_id=account.id,
        segment=account.segment,
        channel=account.channel,
        mrr=account.mrr,
    )
    yield at, subscribed
    since = max(at, resume)
    world.engine.spawn(ticket_stream(world, account, since))
    world.engine.spawn(nps_stream(world, account, since))
    term = TERM_DAYS[account.segment] * DAY
    renewal = at + term
    while renewal <= since:
        renewal += term
    while True:
        healthy, unhappy = CHURN_PER_TERM[account.segment]
        if chance(rng, unhappy if account.unhappy else healthy):
            # monthly plans are cancelled any day; contracts end at their renewal date
            when = rng.randint(since + 1, renewal) if account.segment == "smb" else renewal
            reason = CHURN_REASONS.pick(rng) if chance(rng, 0.8) else None
            yield when, record("customer.churned", customer_id=account.id, reason=reason)
            account.active = False
            return
        yield renewal, record("customer.renewed", customer_id=account.id, mrr=new_mrr(rng, account))
        account.unhappy = chance(rng, 1 - RECOVERY) if account.unhappy else chance(rng, SOURING)
        since, renewal = renewal, renewal + term


def new_mrr(rng: Random, account: Customer) -> float | None:
    """The MRR a renewal sets (expansion, contraction or a restated price), or None."""
    if not chance(rng, 0.25):
        return None
    if chance(rng, 0.2):
        return account.mrr
    grow = chance(rng, 0.35 if account.unhappy else 0.75)
    factor = rng.uniform(1.05, 1.4) if grow else rng.uniform(0.7, 0.95)
    account.mrr = max(29.0, money(account.mrr * factor))
    return account.mrr


def ticket_stream(world: World, account: Customer, at: int) -> Process:
    """The tickets a customer opens while active, more of them when unhappy."""
    while account.active:
        per_day = TICKETS_PER_MONTH[account.segment] / 30
        per_day *= UNHAPPY_TICKETS if account.unhappy else 1.0
        at = world.calendar.next_arrival(world.rng, at, per_day, account.team, "buyer")
        yield at, None
        if account.active:
            world.engine.spawn(ticket(world, account.team, account, at))


def anonymous_tickets(world: World, team: str, at: int) -> Process:
    """Tickets no customer is attached to (prospects, users on trial)."""
    per_day = ANONYMOUS_TICKETS_PER_DAY * TEAM[team].share
    for arrival in world.arrivals(at, per_day, team, "buyer"):
        yield arrival, None
        world.engine.spawn(ticket(world, team, None, arrival))


def ticket(world: World, team: str, owner: Customer | None, at: int) -> Process:
    """Opened, answered, resolved; some rated (CSAT); some reopened and resolved again."""
    rng = world.rng
    unhappy = owner is not None and owner.unhappy
    priority = PRIORITY["unhappy" if unhappy else owner.segment if owner else "smb"].pick(rng)
    ticket_id = world.ids.new("tkt")
    opened = record(
        "ticket.opened",
        ticket_id=ticket_id,
        customer_id=owner.id if owner else None,
        team=team,
        priority=priority,
    )
    yield at, opened
    troubled = unhappy and chance(rng, 0.6)
    pace = TEAM[team].support_pace * (2.2 if troubled else 1.0)
    target = at + int(around(rng, RESOLUTION[priority] * pace, 0.7))
    replies = AGENT_REPLIES[unhappy].pick(rng)
    resolved = yield from conversation(world, ticket_id, team, priority, at, replies, pace)
    resolved = agent_time(world, team, priority, max(resolved, target), 10 * MINUTE)
    yield resolved, record("ticket.resolved", ticket_id=ticket_id)
    slow = resolved - at > 4 * RESOLUTION[priority] or replies >= 3
    mood = "unhappy" if troubled else "slow" if slow else "good"
    rate_support(world, team, owner, ticket_id, resolved, mood)
    yield from reopenings(
        world, ticket_id, team, priority, resolved, pace, 0.32 if unhappy else 0.06
    )


def reopenings(
    world: World, ticket_id: str, team: str, priority: str, at: int, pace: float, chance_of: float
) -> Process:
    """A resolved ticket the customer reopens (with `chance_of`, within `REOPEN_WITHIN`),
    answered and resolved again."""
    rng = world.rng
    while chance(rng, chance_of):
        waited = int(around(rng, 20 * HOUR, 1.0))
        if waited > REOPEN_WITHIN:
            return  # closed for good by then
        at += waited
        yield at, record("ticket.reopened", ticket_id=ticket_id)
        replies = 1 + poisson(rng, 0.3)
        at = yield from conversation(world, ticket_id, team, priority, at, replies, pace)
        at = agent_time(world, team, priority, at, RESOLUTION[priority] * pace / 4)
        yield at, record("ticket.resolved", ticket_id=ticket_id)
        chance_of /= 3


def conversation(
    world: World, ticket_id: str, team: str, priority: str, at: int, replies: int, pace: float
) -> Generator[Step, None, int]:
    """Agent replies, with the customer answering in between; returns the time of the last one."""
    rng = world.rng
    for count in range(replies):
        if count and chance(rng, 0.6):
            at += int(around(rng, 3 * HOUR, 1.0))
            yield at, record("ticket.replied", ticket_id=ticket_id, author="customer")
        at = agent_time(world, team, priority, at, FIRST_RESPONSE[priority] * pace)
        yield at, record("ticket.replied", ticket_id=ticket_id, author="agent")
    if replies and chance(rng, 0.2):
        at += int(around(rng, 2 * HOUR, 1.0))
        yield at, record("ticket.replied", ticket_id=ticket_id, author="customer")
    return at


def agent_time(world: World, team: str, priority: str, at: int, median: float) -> int:
    """When an agent acts after `at`: urgent tickets around the clock, others in office hours."""
    if priority == "urgent":
        return at + max(MINUTE, int(around(world.rng, median, 0.6)))
    return world.later(at, median, team)


def rate_support(
    world: World, team: str, owner: Customer | None, ticket_id: str, at: int, mood: str
) -> None:
    """Maybe a CSAT response to a resolved ticket, hours later."""
    rng = world.rng
    if not chance(rng, 0.4 if mood == "unhappy" else 0.3):
        return
    answer = record(
        "survey.csat",
        response_id=world.ids.new("resp"),
        score=CSAT[mood].pick(rng),
        team=team,
        customer_id=owner.id if owner else None,
        ticket_id=ticket_id,
    )
    world.engine.schedule(at + int(around(rng, 3 * HOUR, 1.2)), answer)


def chat_csat(world: World, team: str, at: int) -> Process:
    """CSAT from chat sessions, tied to no ticket or customer."""
    per_day = CHAT_CSAT_PER_DAY * TEAM[team].share
    for arrival in world.arrivals(at, per_day, team, "buyer"):
        score = CSAT["good"].pick(world.rng)
        response_id = world.ids.new("resp")
        yield arrival, record("survey.csat", response_id=response_id, score=score, team=team)


def nps_score(rng: Random, segment: str, unhappy: bool) -> int:
    """0..10: promoters, passives and detractors by health (enterprise is harder to please)."""
    promoter, passive = (0.08, 0.22) if unhappy else (0.55, 0.3)
    if segment == "enterprise":
        promoter -= 0.06
    draw = rng.random()
    if draw < promoter:
        return rng.choice((9, 10))
    if draw < promoter + passive:
        return rng.choice((7, 8))
    return DETRACTOR.pick(rng)


def nps_stream(world: World, account: Customer, at: int) -> Process:
    """A relationship NPS survey about every quarter; unhappy customers answer more often."""
    rng = world.rng
    at += int(rng.uniform(0, NPS_EVERY_DAYS) * DAY)
    while True:
        at = world.calendar.working(rng, at, account.team)
        yield at, None
        if not account.active:
            return
        if chance(rng, 0.45 if account.unhappy else 0.28):
            answer = record(
                "survey.nps",
                response_id=world.ids.new("resp"),
                score=nps_score(rng, account.segment, account.unhappy),
                segment=account.segment,
                customer_id=account.id,
            )
            world.engine.schedule(at + int(around(rng, 6 * HOUR, 1.2)), answer)
        at += int(around(rng, NPS_EVERY_DAYS * DAY, 0.08))


def in_app_nps(world: World, team: str, at: int) -> Process:
    """Anonymous in-product NPS answers (segment known from the workspace, customer not)."""
    per_day = IN_APP_NPS_PER_DAY * TEAM[team].share
    rng = world.rng
    for arrival in world.arrivals(at, per_day, team, "buyer"):
        segment = rng.choice(SEGMENTS)
        score = nps_score(rng, segment, chance(rng, UNHAPPY_SHARE))
        response_id = world.ids.new("resp")
        yield arrival, record("survey.nps", response_id=response_id, score=score, segment=segment)
