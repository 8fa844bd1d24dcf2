"""How each anomaly line is made from a good record (EVENTS.md rejection reasons)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from random import Random

import orjson

from streams.simulate.engine import Record, record
from streams.simulate.world import CHANNELS, SEGMENTS, STAGES

REQUIRED: dict[str, tuple[str, ...]] = {
    "lead.created": ("lead_id", "channel"),
    "lead.contacted": ("lead_id", "rep", "team"),
    "lead.qualified": ("lead_id",),
    "lead.converted": ("lead_id",),
    "opportunity.created": ("opportunity_id", "amount", "stage", "rep", "team"),
    "opportunity.stage_changed": ("opportunity_id", "stage"),
    "opportunity.won": ("opportunity_id",),
    "opportunity.lost": ("opportunity_id",),
    "activity.logged": ("activity_id", "kind", "rep", "team"),
    "customer.subscribed": ("customer_id", "segment", "channel", "mrr"),
    "customer.renewed": ("customer_id",),
    "customer.churned": ("customer_id",),
    "ticket.opened": ("ticket_id", "team", "priority"),
    "ticket.replied": ("ticket_id", "author"),
    "ticket.resolved": ("ticket_id",),
    "ticket.reopened": ("ticket_id",),
    "survey.csat": ("response_id", "score", "team"),
    "survey.nps": ("response_id", "score", "segment"),
    "marketing.spend": ("spend_id", "channel", "amount"),
}
"""Required fields of each type besides the envelope's (EVENTS.md); the first is the entity key."""
ENVELOPE = ("event_id", "type", "occurred_at")
UNKNOWN_TYPES = (
    "lead.deleted",
    "opportunity.updated",
    "ticket.merged",
    "customer.paused",
    "survey.ces",
)
OUT_OF_RANGE = {"survey.csat": (0, 6, 7, 10), "survey.nps": (-1, 11, 12, 100)}
MONEY_FIELDS = ("amount", "mrr")

Payload = dict[str, object]


GARBLES: tuple[Callable[[Random, str], str], ...] = (
    lambda rng, line: line[: rng.randint(1, len(line) - 2)],  # cut short mid-write
    lambda rng, line: line.replace('","', '";"', 1),  # wrong separator
    lambda rng, line: line.replace('"', "'"),  # a Python repr instead of JSON
    lambda rng, line: line[:-1] + ",}",  # trailing comma
    lambda rng, line: line + line[: rng.randint(2, 30)],  # two writes run together
)


def garble(rng: Random, line: str) -> str:
    """A line no JSON parser accepts: cut short, or broken by a typical producer bug."""
    broken = rng.choice(GARBLES)(rng, line)
    if broken == line or _parses(broken):
        return line[: rng.randint(1, len(line) - 2)]  # a strict prefix of an object never parses
    return broken


def _parses(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def break_schema(rng: Random, payload: Payload) -> Payload:
    """The payload with one schema error: a missing or ill-typed field, a bad value or type."""
    kind = str(payload["type"])
    breakers: list[Callable[[Random, Payload], None]] = [_drop_field, _unknown_type, _wrong_type]
    if kind in OUT_OF_RANGE:
        breakers.append(_score_out_of_range)
    if any(name in payload for name in MONEY_FIELDS):
        breakers.append(_negative_money)
    broken = dict(payload)
    rng.choice(breakers)(rng, broken)
    return broken


def _drop_field(rng: Random, payload: Payload) -> None:
    del payload[rng.choice(ENVELOPE + REQUIRED[str(payload["type"])])]


def _unknown_type(rng: Random, payload: Payload) -> None:
    payload["type"] = rng.choice(UNKNOWN_TYPES)


def _wrong_type(rng: Random, payload: Payload) -> None:
    kind = str(payload["type"])
    name = rng.choice(("occurred_at", *REQUIRED[kind]))
    value = payload[name]
    if name == "occurred_at":
        payload[name] = 1_767_225_600  # epoch seconds instead of RFC 3339
    elif isinstance(value, str):
        payload[name] = [value] if rng.random() < 0.3 else len(value)
    else:
        payload[name] = str(value)


def _score_out_of_range(rng: Random, payload: Payload) -> None:
    payload["score"] = rng.choice(OUT_OF_RANGE[str(payload["type"])])


def _negative_money(rng: Random, payload: Payload) -> None:
    name = next(name for name in MONEY_FIELDS if name in payload)
    value = payload[name]
    payload[name] = -abs(float(value) if isinstance(value, int | float) else 0.0) - 1.0


GHOSTS: tuple[tuple[str, str, str, Payload], ...] = (
    ("lead.contacted", "lead_id", "lead", {"rep": "rep-01", "team": "emea"}),
    ("lead.qualified", "lead_id", "lead", {}),
    ("opportunity.stage_changed", "opportunity_id", "opp", {"stage": "proposal"}),
    ("opportunity.won", "opportunity_id", "opp", {}),
    ("customer.renewed", "customer_id", "cust", {}),
    ("customer.churned", "customer_id", "cust", {}),
    ("ticket.replied", "ticket_id", "tkt", {"author": "agent"}),
    ("ticket.resolved", "ticket_id", "tkt", {}),
    ("ticket.reopened", "ticket_id", "tkt", {}),
)
"""(type, entity key, id kind, other fields) of records about entities that never existed."""


def ghost(rng: Random, tag: str, number: int) -> Record:
    """A valid record about an entity id that is never created (`unknown_entity`)."""
    kind, key, id_kind, fields = rng.choice(GHOSTS)
    return record(kind, **{key: f"{id_kind}-{tag}-u{number}"}, **fields)


class LogState:
    """What the log has said so far about entities, so invalid transitions hit real ones.

    Keeps only recent entities: enough to aim at, bounded for endless live runs.
    """

    KEEP = 2_000

    def __init__(self) -> None:
        self.converted_leads: deque[str] = deque(maxlen=self.KEEP)
        self.opportunities: deque[str] = deque(maxlen=self.KEEP)
        self.closed_opportunities: deque[str] = deque(maxlen=self.KEEP)
        self.customers: deque[str] = deque(maxlen=self.KEEP)
        self.churned_customers: deque[str] = deque(maxlen=self.KEEP)
        self.ticket_resolved: dict[str, bool] = {}

    def observe(self, seen: Record) -> None:
        """Take in a record as it is written to the log."""
        kind, fields = seen.type, seen.fields
        if kind == "lead.converted":
            self.converted_leads.append(str(fields["lead_id"]))
        elif kind == "opportunity.created":
            self.opportunities.append(str(fields["opportunity_id"]))
        elif kind in ("opportunity.won", "opportunity.lost"):
            self.closed_opportunities.append(str(fields["opportunity_id"]))
        elif kind == "customer.subscribed":
            self.customers.append(str(fields["customer_id"]))
        elif kind == "customer.churned":
            self.churned_customers.append(str(fields["customer_id"]))
        elif kind.startswith("ticket.") and kind != "ticket.replied":
            self._observe_ticket(str(fields["ticket_id"]), kind)

    def _observe_ticket(self, ticket_id: str, kind: str) -> None:
        if kind == "ticket.opened":
            self.ticket_resolved[ticket_id] = False
            if len(self.ticket_resolved) > self.KEEP:
                del self.ticket_resolved[next(iter(self.ticket_resolved))]
        elif ticket_id in self.ticket_resolved:
            self.ticket_resolved[ticket_id] = kind == "ticket.resolved"

    def invalid_transition(self, rng: Random) -> Record | None:
        """A valid-looking record that the entity's current state forbids, if one can be aimed."""
        makers = [
            maker
            for maker, targets in (
                (_after_close, self.closed_opportunities),
                (_second_created, self.opportunities),
                (_after_churn, self.churned_customers),
                (_second_subscribed, self.customers),
                (_after_conversion, self.converted_leads),
            )
            if targets
        ]
        resolved = [ticket for ticket, done in self.ticket_resolved.items() if done][-50:]
        if not makers and not resolved:
            return None
        if resolved and (not makers or rng.random() < 0.3):
            return _while_resolved(rng, rng.choice(resolved))
        maker = rng.choice(makers)
        return maker(rng, self)


def _after_close(rng: Random, state: LogState) -> Record:
    target = rng.choice(state.closed_opportunities)
    kind = rng.choice(("opportunity.stage_changed", "opportunity.won", "opportunity.lost"))
    stage = rng.choice(STAGES) if kind == "opportunity.stage_changed" else None
    return record(kind, opportunity_id=target, stage=stage)


def _second_created(rng: Random, state: LogState) -> Record:
    return record(
        "opportunity.created",
        opportunity_id=rng.choice(state.opportunities),
        amount=12_000.0,
        stage="qualification",
        rep="rep-01",
        team="emea",
    )


def _after_churn(rng: Random, state: LogState) -> Record:
    kind = rng.choice(("customer.renewed", "customer.churned"))
    return record(kind, customer_id=rng.choice(state.churned_customers))


def _second_subscribed(rng: Random, state: LogState) -> Record:
    return record(
        "customer.subscribed",
        customer_id=rng.choice(state.customers),
        segment=rng.choice(SEGMENTS),
        channel=rng.choice(CHANNELS),
        mrr=99.0,
    )


def _after_conversion(rng: Random, state: LogState) -> Record:
    kind = rng.choice(("lead.qualified", "lead.converted"))
    return record(kind, lead_id=rng.choice(state.converted_leads))


def _while_resolved(rng: Random, ticket_id: str) -> Record:
    """A reply to (or a second resolution of) a resolved ticket that was not reopened."""
    if rng.random() < 0.7:
        return record(
            "ticket.replied", ticket_id=ticket_id, author=rng.choice(("agent", "customer"))
        )
    return record("ticket.resolved", ticket_id=ticket_id)
