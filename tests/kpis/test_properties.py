"""Properties of the pure KPI code (hypothesis): bounds, nulls, duplicates, independent order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from kpis.catalogue import KPIS_BY_NAME
from kpis.engine import PartitionState
from kpis.events import to_micros
from kpis.snapshot import KpiValue, evaluate

START = datetime(2026, 3, 1, tzinfo=UTC)
NOW_US = to_micros(datetime(2026, 6, 1, tzinfo=UTC))
RATES = {
    "lead_conversion_rate",
    "customer_retention_rate",
    "csat",
    "churn_rate",
    "marketing_conversion_rate",
    "first_contact_resolution_rate",
    "win_rate",
}
TEAMS = st.sampled_from(["emea", "amer", "apac"])
SEGMENTS = st.sampled_from(["smb", "enterprise"])
CHANNELS = st.sampled_from(["web", "email"])
# Within the grace period (35 days): past it, an event is `too_late` or not depending on order.
MINUTES = st.integers(min_value=0, max_value=60 * 24 * 34)


def at(minute: int) -> str:
    return (START + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")


@st.composite
def entity_histories(draw: st.DrawFn, index: int) -> list[bytes]:
    """The events of one independent entity, in its own valid order."""
    kind = draw(st.sampled_from(["csat", "nps", "ticket", "opportunity", "customer", "lead"]))
    key = f"{kind}-{index}"
    events: list[dict[str, object]] = []
    if kind == "csat":
        events.append(
            {
                "type": "survey.csat",
                "response_id": key,
                "team": draw(TEAMS),
                "score": draw(st.integers(1, 5)),
            }
        )
    elif kind == "nps":
        events.append(
            {
                "type": "survey.nps",
                "response_id": key,
                "segment": draw(SEGMENTS),
                "score": draw(st.integers(0, 10)),
            }
        )
    elif kind == "ticket":
        events.append(
            {"type": "ticket.opened", "ticket_id": key, "team": draw(TEAMS), "priority": "normal"}
        )
        for _ in range(draw(st.integers(0, 3))):
            events.append({"type": "ticket.replied", "ticket_id": key, "author": "agent"})
        events.append({"type": "ticket.resolved", "ticket_id": key})
        if draw(st.booleans()):
            events.append({"type": "ticket.reopened", "ticket_id": key})
    elif kind == "opportunity":
        events.append(
            {
                "type": "opportunity.created",
                "opportunity_id": key,
                "rep": "r",
                "team": draw(TEAMS),
                "stage": "new",
                "channel": draw(CHANNELS),
                "amount": draw(st.integers(0, 10_000)),
            }
        )
        events.append(
            {
                "type": draw(st.sampled_from(["opportunity.won", "opportunity.lost"])),
                "opportunity_id": key,
            }
        )
    elif kind == "customer":
        events.append(
            {
                "type": "customer.subscribed",
                "customer_id": key,
                "segment": draw(SEGMENTS),
                "channel": draw(CHANNELS),
                "mrr": draw(st.integers(0, 500)),
            }
        )
        if draw(st.booleans()):
            events.append({"type": "customer.churned", "customer_id": key})
    else:
        events.append({"type": "lead.created", "lead_id": key, "channel": draw(CHANNELS)})
        if draw(st.booleans()):
            events.append({"type": "lead.qualified", "lead_id": key})
        if draw(st.booleans()):
            events.append({"type": "lead.converted", "lead_id": key})
    times = iter(sorted(draw(st.lists(MINUTES, min_size=len(events), max_size=len(events)))))
    return [
        orjson.dumps({"event_id": f"{key}-{n}", "occurred_at": at(next(times)), **e})
        for n, e in enumerate(events)
    ]


histories = st.integers(1, 25).flatmap(
    lambda n: st.tuples(*(entity_histories(i) for i in range(n)))
)


def run(lines: list[bytes]) -> list[KpiValue]:
    state = PartitionState()
    for raw in lines:
        state.apply_raw(raw, NOW_US)
    return evaluate(state.ledger.values, state.ledger.watermark_us)


def interleave(entity_lines: tuple[list[bytes], ...], picks: list[int]) -> list[bytes]:
    queues = [list(lines) for lines in entity_lines]
    merged: list[bytes] = []
    pick = iter(picks)
    while any(queues):
        live = [q for q in queues if q]
        merged.append(live[next(pick, 0) % len(live)].pop(0))
    return merged


@settings(max_examples=60, deadline=None)
@given(histories)
def test_rates_are_fractions_and_nps_is_in_range(entity_lines: tuple[list[bytes], ...]) -> None:
    for series in run([raw for lines in entity_lines for raw in lines]):
        if series.value is None:
            continue
        if series.kpi in RATES:
            assert 0.0 <= series.value <= 1.0, series
        if series.kpi == "nps":
            assert -100.0 <= series.value <= 100.0, series


@settings(max_examples=60, deadline=None)
@given(histories, st.lists(st.integers(0, 100), max_size=200))
def test_order_of_independent_entities_does_not_matter(
    entity_lines: tuple[list[bytes], ...], picks: list[int]
) -> None:
    in_order = run([raw for lines in entity_lines for raw in lines])
    assert run(interleave(entity_lines, picks)) == in_order


@settings(max_examples=60, deadline=None)
@given(histories, st.integers(1, 3))
def test_duplicate_delivery_changes_nothing(
    entity_lines: tuple[list[bytes], ...], copies: int
) -> None:
    once = [raw for lines in entity_lines for raw in lines]
    again = [raw for raw in once for _ in range(copies + 1)]
    assert run(again) == run(once)


def test_zero_denominators_are_null_not_zero() -> None:
    for series in run([]):
        kpi = KPIS_BY_NAME[series.kpi]
        if kpi.unit in ("ratio", "nps", "days", "hours") or kpi.name in (
            "customer_acquisition_cost",
            "customer_lifetime_value",
        ):
            assert series.value is None, series
