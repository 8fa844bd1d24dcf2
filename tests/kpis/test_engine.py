"""Entity transitions of KPIS.md and exact restore from checkpoints (pure code)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import orjson
import pytest

from kpis import checkpoint as cp
from kpis.engine import PartitionState
from kpis.events import to_micros
from kpis.ledger import Ledger

NOW = to_micros(datetime(2026, 6, 1, tzinfo=UTC))
_ids = itertools.count()


def event(type_: str, at: str = "2026-03-01T09:00:00Z", **fields: object) -> bytes:
    return orjson.dumps({"event_id": f"e{next(_ids)}", "type": type_, "occurred_at": at, **fields})


def outcome(state: PartitionState, raw: bytes) -> str:
    _, rejection = state.apply_raw(raw, NOW)
    return "accepted" if rejection is None else rejection.reason


OPP = {"opportunity_id": "o", "amount": 10, "stage": "s", "rep": "r", "team": "t"}


def test_events_about_an_opportunity_never_created_are_unknown_entity() -> None:
    state = PartitionState()
    assert outcome(state, event("opportunity.won", opportunity_id="o")) == "unknown_entity"


def test_any_event_for_a_closed_opportunity_is_invalid_transition() -> None:
    state = PartitionState()
    assert outcome(state, event("opportunity.created", **OPP)) == "accepted"
    assert outcome(state, event("opportunity.lost", opportunity_id="o")) == "accepted"
    for kind in ("opportunity.won", "opportunity.lost"):
        assert outcome(state, event(kind, opportunity_id="o")) == "invalid_transition"
    changed = event("opportunity.stage_changed", opportunity_id="o", stage="x")
    assert outcome(state, changed) == "invalid_transition"
    assert outcome(state, event("opportunity.created", **OPP)) == "invalid_transition"


def test_a_rejected_event_does_not_consume_its_event_id() -> None:
    state = PartitionState()
    raw = orjson.dumps(
        {"event_id": "same", "type": "ticket.resolved", "occurred_at": "2026-03-01T00:00:00Z"}
        | {"ticket_id": "t"}
    )
    assert outcome(state, raw) == "unknown_entity"
    opened = {"ticket_id": "t", "team": "a", "priority": "low"}
    assert outcome(state, event("ticket.opened", **opened)) == "accepted"
    assert outcome(state, raw) == "accepted"
    assert outcome(state, raw) == "duplicate"


def test_ticket_transitions() -> None:
    state = PartitionState()
    opened = {"ticket_id": "t", "team": "a", "priority": "low"}
    assert outcome(state, event("ticket.opened", **opened)) == "accepted"
    assert outcome(state, event("ticket.reopened", ticket_id="t")) == "invalid_transition"
    assert outcome(state, event("ticket.resolved", ticket_id="t")) == "accepted"
    assert outcome(state, event("ticket.resolved", ticket_id="t")) == "invalid_transition"
    reply = event("ticket.replied", ticket_id="t", author="agent")
    assert outcome(state, reply) == "invalid_transition"
    assert outcome(state, event("ticket.reopened", ticket_id="t")) == "accepted"
    assert outcome(state, event("ticket.replied", ticket_id="t", author="agent")) == "accepted"


def test_lead_second_qualified_or_converted_is_invalid_but_contacts_are_not() -> None:
    state = PartitionState()
    assert outcome(state, event("lead.created", lead_id="l", channel="web")) == "accepted"
    for _ in range(2):
        contacted = event("lead.contacted", lead_id="l", rep="r", team="t")
        assert outcome(state, contacted) == "accepted"
    for kind in ("lead.qualified", "lead.converted"):
        assert outcome(state, event(kind, lead_id="l")) == "accepted"
        assert outcome(state, event(kind, lead_id="l")) == "invalid_transition"


def test_customer_events_after_churn_are_invalid_transition() -> None:
    state = PartitionState()
    subscribed = {"customer_id": "c", "segment": "smb", "channel": "web", "mrr": 5}
    assert outcome(state, event("customer.subscribed", **subscribed)) == "accepted"
    assert outcome(state, event("customer.churned", customer_id="c")) == "accepted"
    assert outcome(state, event("customer.renewed", customer_id="c")) == "invalid_transition"
    assert outcome(state, event("customer.churned", customer_id="c")) == "invalid_transition"
    assert outcome(state, event("customer.subscribed", **subscribed)) == "invalid_transition"


def test_stateless_events_are_never_unknown_entity() -> None:
    state = PartitionState()
    activity = {"activity_id": "a", "kind": "call", "rep": "r", "team": "t", "lead_id": "none"}
    assert outcome(state, event("activity.logged", **activity)) == "accepted"


@pytest.mark.parametrize("split", [1, 3, 7])
def test_restoring_checkpoints_in_order_rebuilds_the_same_state(split: int) -> None:
    lines = [
        event("opportunity.created", **OPP),
        event("opportunity.stage_changed", opportunity_id="o", stage="b", amount=30),
        event("survey.csat", response_id="r", score=5, team="t"),
        event("opportunity.won", at="2026-03-02T09:00:00Z", opportunity_id="o"),
        event("ticket.opened", ticket_id="t", team="a", priority="low"),
        event("ticket.resolved", at="2026-03-02T10:00:00Z", ticket_id="t"),
        event("ticket.reopened", at="2026-03-02T11:00:00Z", ticket_id="t"),
    ]
    live = PartitionState()
    checkpoints = []
    for offset, raw in enumerate(lines):
        live.apply_raw(raw, NOW)
        live.offset = offset
        if offset % split == split - 1 or offset == len(lines) - 1:
            checkpoints.append(cp.decode(cp.encode(cp.take_checkpoint(live))))
    recovered = PartitionState()
    for checkpoint in checkpoints + checkpoints[:1]:  # a stale one again changes nothing
        cp.restore(recovered, checkpoint)
    assert dict(recovered.entities.items()) == dict(live.entities.items())
    assert dict(recovered.event_ids.items()) == dict(live.event_ids.items())
    assert recovered.ledger.values == live.ledger.values
    assert recovered.offset == live.offset == len(lines) - 1


def test_checkpoints_of_another_incarnation_are_not_restored() -> None:
    """A worker that wrote on after the broker lost its logs cannot carry the lost history
    into the new incarnation."""
    old = PartitionState(incarnation=1)
    old.apply_raw(event("survey.csat", response_id="r", score=5, team="t"), NOW)
    old.offset = 40
    stale = cp.decode(cp.encode(cp.take_checkpoint(old)))
    recovered = PartitionState(incarnation=2)
    assert not cp.restore(recovered, stale)
    assert (recovered.offset, len(recovered.event_ids), recovered.ledger.values) == (-1, 0, {})


def test_a_snapshot_replaces_the_state_and_changes_apply_only_without_a_gap() -> None:
    live = PartitionState()
    changes = []
    for offset, (response, team) in enumerate([("r1", "a"), ("r2", "b"), ("r3", "c")]):
        live.apply_raw(event("survey.csat", response_id=response, score=5, team=team), NOW)
        live.offset = offset
        changes.append(cp.decode(cp.encode(cp.take_checkpoint(live, since=offset - 1))))
    snapshot = cp.decode(cp.encode(cp.take_snapshot(live)))
    assert snapshot.full and len(snapshot.event_ids) == 3
    stale = PartitionState()
    stale.apply_raw(event("survey.csat", response_id="other", score=1, team="z"), NOW)
    assert cp.restore(stale, snapshot)  # replaces what was there, not merged
    assert dict(stale.event_ids.items()) == dict(live.event_ids.items())
    assert stale.ledger.values == live.ledger.values
    recovered = PartitionState()
    assert not cp.restore(recovered, changes[1])  # follows offset 0, not applied yet
    assert cp.restore(recovered, changes[0]) and cp.restore(recovered, changes[1])
    assert recovered.offset == 1


def test_a_part_that_returns_to_zero_disappears() -> None:
    ledger = Ledger()
    ledger.add_gauge("p", "d", 5)
    ledger.add_gauge("p", "d", -5)
    assert ledger.values == {}
    assert ledger.take_changes() == [(("p", "d", 0, 0), 0)]


def test_a_part_added_to_is_taken_even_back_at_its_value() -> None:
    """Two owners during a rebalance: one's checkpoint, restored first, may hold a value from
    in between, which the other's changes must overwrite."""
    day = 86_400_000_000
    ledger = Ledger()
    ledger.advance_watermark(10 * day)
    ledger.add_windowed("p", "d", 10 * day, 1)
    ledger.add_gauge("g", "d", 2)
    first = dict(ledger.take_changes())
    assert len(first) == 4 and set(first.values()) == {1, 2}  # minute, hour, day; the gauge
    ledger.add_windowed("p", "d", 10 * day, 1)  # a first resolution, and its ticket reopened
    ledger.add_windowed("p", "d", 10 * day, -1)
    ledger.add_windowed("q", "d", 10 * day, 1)  # made and back to nothing
    ledger.add_windowed("q", "d", 10 * day, -1)
    ledger.add_gauge("g", "d", 3)
    ledger.add_gauge("g", "d", -3)
    again = dict(ledger.take_changes())
    made = {("q", "d", size, bucket): 0 for (_, _, size, bucket) in first if size}
    assert again == {**first, **made}


def test_a_bucket_made_and_expired_between_two_takes_is_not_taken() -> None:
    ledger = Ledger()
    day = 86_400_000_000
    ledger.advance_watermark(10 * day)
    ledger.add_windowed("p", "d", 10 * day, 1)  # a minute and an hour bucket
    taken = dict(ledger.take_changes())
    ledger.add_windowed("p", "d", 10 * day + 1, 1)  # the same buckets, taken before
    ledger.add_windowed("q", "d", 10 * day, 1)  # new buckets
    ledger.add_gauge("g", "d", 5)
    ledger.add_gauge("g", "d", -5)  # back to nothing: still taken (another owner may differ)
    ledger.advance_watermark(200 * day)  # past every retention
    ledger.prune()
    changes = dict(ledger.take_changes())
    assert changes == {**{key: 0 for key in taken}, ("g", "d", 0, 0): 0}
