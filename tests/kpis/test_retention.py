"""State retention (KPIS.md "State retention"): what is held, `too_late`, ids, pruning, recovery."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import msgspec
import orjson
import pytest
from pydantic import ValidationError

from kpis import checkpoint as cp
from kpis import parts as p
from kpis import retention
from kpis.engine import PartitionState
from kpis.events import to_micros
from kpis.retention import DAY_US
from streams.config import Settings

START = datetime(2026, 1, 1, tzinfo=UTC)
NOW = to_micros(datetime(2026, 12, 1, tzinfo=UTC))
_ids = itertools.count()


def at(days: float) -> str:
    return (START + timedelta(days=days)).isoformat().replace("+00:00", "Z")


def event(type_: str, days: float, event_id: str | None = None, **fields: object) -> bytes:
    document = {"event_id": event_id or f"e{next(_ids)}", "type": type_, "occurred_at": at(days)}
    return orjson.dumps(document | fields)


def activity(days: float, event_id: str | None = None) -> bytes:
    """An event about no entity; also moves the watermark T."""
    return event("activity.logged", days, event_id, activity_id="a", kind="call", rep="r", team="t")


def outcome(state: PartitionState, raw: bytes) -> str:
    _, rejection = state.apply_raw(raw, NOW)
    return "accepted" if rejection is None else rejection.reason


OPP = {"amount": 10, "stage": "s", "rep": "r", "team": "t"}
TICKET = {"team": "t", "priority": "low"}


def test_a_closed_entity_is_forgotten_past_the_grace_period_an_open_one_is_held() -> None:
    state = PartitionState()
    for key in ("won", "open"):
        assert (
            outcome(state, event("opportunity.created", 0, opportunity_id=key, **OPP)) == "accepted"
        )
    assert outcome(state, event("opportunity.won", 1, opportunity_id="won")) == "accepted"
    assert outcome(state, activity(36.5)) == "accepted"  # T - G = day 1.5
    changed = event("opportunity.stage_changed", 0.5, opportunity_id="open", stage="x")
    assert outcome(state, changed) == "accepted"  # old, but about an open opportunity
    assert outcome(state, event("opportunity.lost", 0.5, opportunity_id="won")) == "too_late"
    assert outcome(state, event("opportunity.lost", 36, opportunity_id="won")) == "unknown_entity"


def test_a_closed_entity_within_the_grace_period_is_still_held() -> None:
    state = PartitionState()
    assert outcome(state, event("lead.created", 0, lead_id="l", channel="web")) == "accepted"
    assert outcome(state, event("lead.converted", 10, lead_id="l")) == "accepted"
    assert outcome(state, activity(44)) == "accepted"  # T - G = day 9: the lead's last is day 10
    assert outcome(state, event("lead.converted", 5, lead_id="l")) == "invalid_transition"
    contacted = event("lead.contacted", 5, lead_id="l", rep="r", team="t")
    assert outcome(state, contacted) == "accepted"  # old but held; its time is not the latest
    assert outcome(state, activity(45.5)) == "accepted"  # T - G = day 10.5
    assert outcome(state, event("lead.qualified", 45, lead_id="l")) == "unknown_entity"


def test_a_redelivery_is_duplicate_within_the_grace_period_and_too_late_past_it() -> None:
    state = PartitionState()
    assert outcome(state, activity(0, "a0")) == "accepted"
    assert outcome(state, event("ticket.opened", 0, "t0", ticket_id="t", **TICKET)) == "accepted"
    assert outcome(state, activity(34.9)) == "accepted"
    assert outcome(state, activity(0, "a0")) == "duplicate"
    assert outcome(state, activity(35.1)) == "accepted"
    assert outcome(state, activity(0, "a0")) == "too_late"  # before `duplicate`
    # the ticket is open, so held, and so are its ids, however old
    assert outcome(state, event("ticket.opened", 0, "t0", ticket_id="t", **TICKET)) == "duplicate"
    # an id no longer held is free again for a valid event
    assert outcome(state, activity(35, "a0")) == "accepted"


def test_a_forgotten_customer_subscribes_anew_and_its_old_ids_are_forgotten_with_it() -> None:
    state = PartitionState()
    subscribed = {"customer_id": "c", "segment": "smb", "channel": "web", "mrr": 5}
    assert outcome(state, event("customer.subscribed", 0, "s0", **subscribed)) == "accepted"
    assert outcome(state, event("customer.churned", 1, "c1", customer_id="c")) == "accepted"
    assert outcome(state, activity(36.5)) == "accepted"
    assert outcome(state, event("customer.subscribed", 36, "s1", **subscribed)) == "accepted"
    assert state.ledger.values[(p.ACTIVE_CUSTOMERS, "smb", 0, 0)] == 1
    assert outcome(state, event("customer.churned", 1, "c1", customer_id="x")) == "too_late"
    # about the new customer, held: not `too_late`; the old id went with the old customer
    old = event("customer.subscribed", 0, "s0", **subscribed)
    assert outcome(state, old) == "invalid_transition"


def test_a_forgotten_ticket_cannot_be_reopened_but_a_reopened_one_is_held() -> None:
    state = PartitionState()
    for key in ("closed", "reopened"):
        assert outcome(state, event("ticket.opened", 0, ticket_id=key, **TICKET)) == "accepted"
        assert outcome(state, event("ticket.resolved", 1, ticket_id=key)) == "accepted"
    assert outcome(state, event("ticket.reopened", 2, ticket_id="reopened")) == "accepted"
    assert outcome(state, activity(40)) == "accepted"
    assert outcome(state, event("ticket.reopened", 40, ticket_id="closed")) == "unknown_entity"
    assert outcome(state, event("ticket.resolved", 40, ticket_id="reopened")) == "accepted"


def history() -> list[bytes]:
    """Entities closed or not, ids re-delivered within and past the grace period, over 80 days."""
    lines: list[bytes] = []
    for day in range(80):
        lines.append(event("opportunity.created", day, f"oc{day}", opportunity_id=f"o{day}", **OPP))
        if day % 3:
            lines.append(event("opportunity.won", day + 0.5, f"ow{day}", opportunity_id=f"o{day}"))
        lines.append(event("ticket.opened", day, f"to{day}", ticket_id=f"t{day}", **TICKET))
        lines.append(event("ticket.resolved", day + 0.2, f"tr{day}", ticket_id=f"t{day}"))
        lines.append(activity(day + 0.3, f"a{day}"))
        for back in (3, 20, 34, 36, 50):  # re-deliveries of older events
            if day >= back:
                lines.append(activity(day - back + 0.3, f"a{day - back}"))
                lines.append(
                    event(
                        "ticket.resolved",
                        day - back + 0.2,
                        f"tr{day - back}",
                        ticket_id=f"t{day - back}",
                    )
                )
                lines.append(
                    event("opportunity.lost", day - back + 0.5, opportunity_id=f"o{day - back}")
                )
        if day >= 40:  # a ticket forgotten long ago reopened; a new one with the old key
            lines.append(event("ticket.reopened", day, ticket_id=f"t{day - 40}"))
            lines.append(event("ticket.opened", day, ticket_id=f"t{day - 40}", **TICKET))
    return lines


def run(lines: list[bytes], prune: bool) -> tuple[PartitionState, list[str]]:
    state = PartitionState()
    outcomes = []
    for raw in lines:
        outcomes.append(outcome(state, raw))
        if prune:
            state.prune()
        else:
            state.ledger.prune()
        cp.take_checkpoint(state)
    return state, outcomes


def test_pruning_frees_entities_and_ids_and_changes_no_judgement_and_no_kpi() -> None:
    lines = history()
    pruned, judged = run(lines, prune=True)
    kept, judged_unpruned = run(lines, prune=False)
    assert judged == judged_unpruned
    assert pruned.ledger.values == kept.ledger.values
    assert {"too_late", "duplicate", "unknown_entity", "accepted"} <= set(judged)
    assert len(pruned.entities) < len(kept.entities)
    assert len(pruned.event_ids) < len(kept.event_ids)
    swept = pruned.forgotten_before_us  # the last pass: what was not held then is gone
    assert swept is not None and pruned.horizon() - swept < 3 * DAY_US  # type: ignore[operator]
    assert all(retention.is_held(entity, swept) for entity in pruned.entities.values())
    # Passes wait for an eighth more entries than the last one left.
    assert len(pruned.entities) + len(pruned.event_ids) < pruned.forget_at
    held = {id(entity) for entity in pruned.entities.values()}
    for event_id, owner in pruned.event_ids.items():  # its time, or the entity it is about
        assert owner >= swept if isinstance(owner, int) else id(owner) in held, event_id


def test_a_state_recovered_mid_history_judges_like_the_original() -> None:
    lines = history()
    original = PartitionState()
    checkpoints = []
    for number, raw in enumerate(lines):
        outcome(original, raw)
        original.offset = number
        if number % 50 == 0 or number == len(lines) // 2:
            original.prune()
            checkpoints.append(cp.encode(cp.take_checkpoint(original)))
        if number == len(lines) // 2:
            break
    recovered = PartitionState()
    for raw in checkpoints:
        assert cp.restore(recovered, cp.decode(raw))
    assert recovered.ledger.values == original.ledger.values
    assert len(recovered.entities) > len(original.entities)  # forgotten ones came back ...
    rest = lines[len(lines) // 2 + 1 :]
    assert [outcome(recovered, raw) for raw in rest] == [outcome(original, raw) for raw in rest]
    assert recovered.ledger.values == original.ledger.values  # ... and changed nothing
    recovered.prune()
    original.prune()
    assert ids_of(recovered) == ids_of(original)


def ids_of(state: PartitionState) -> set[int]:
    return {event_id for event_id, _ in state.event_ids.items()}


def test_the_grace_period_is_35_days_by_default_and_never_below_31() -> None:
    assert Settings().grace_days == 35
    assert Settings(grace_days=31).grace_us() == 31 * 86_400_000_000
    with pytest.raises(ValidationError, match="grace_days"):
        Settings(grace_days=30)


def test_a_checkpoint_written_before_the_grace_period_is_held_for_g_after_it() -> None:
    won = ["Opportunity", 10_000_000, "s", "r", "t", None, 0, True]  # no `last_us`
    legacy = msgspec.msgpack.encode([7, to_micros(START), {"o": won}, ["old-id"], [], 0])
    state = PartitionState()
    assert cp.restore(state, cp.decode(legacy))
    assert outcome(state, activity(30)) == "accepted"
    assert outcome(state, activity(0.5, "old-id")) == "duplicate"
    assert (
        outcome(state, event("opportunity.lost", 0.5, opportunity_id="o")) == "invalid_transition"
    )
    assert outcome(state, activity(36)) == "accepted"
    assert outcome(state, activity(0.5, "old-id")) == "too_late"
    assert outcome(state, event("opportunity.lost", 0.5, opportunity_id="o")) == "too_late"


def test_an_id_is_a_duplicate_for_any_entity_while_the_entity_it_was_applied_to_is_held() -> None:
    state = PartitionState()
    assert outcome(state, event("opportunity.created", 0, "x", opportunity_id="a", **OPP)) == (
        "accepted"
    )
    assert outcome(state, event("opportunity.created", 0, opportunity_id="c", **OPP)) == "accepted"
    reused = event("opportunity.stage_changed", 1.5, "x", opportunity_id="c", stage="y")
    assert outcome(state, reused) == "duplicate"  # "x" was applied to `a`, still held
    assert outcome(state, event("opportunity.won", 1, opportunity_id="a")) == "accepted"
    assert outcome(state, activity(37)) == "accepted"  # T - G = day 2: `a` is forgotten
    assert outcome(state, reused) == "accepted"  # about `c`, still open


def test_a_checkpoint_written_before_digests_is_restored_with_its_ids_and_keys() -> None:
    opened = ["Opportunity", 10_000_000, "s", "r", "t", None, 0, False, 0]
    records = [["by-o", [0, "o", 0]], ["by-none", [to_micros(START), "", 0]]]
    legacy = msgspec.msgpack.encode([7, to_micros(START), {"o": opened}, records, [], 0])
    state = PartitionState()
    assert cp.restore(state, cp.decode(legacy))
    assert outcome(state, event("opportunity.lost", 0, "by-o", opportunity_id="o")) == "duplicate"
    assert outcome(state, activity(0, "by-none")) == "duplicate"
    assert outcome(state, event("opportunity.lost", 0.5, opportunity_id="o")) == "accepted"
