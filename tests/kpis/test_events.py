"""Canonical event validation (EVENTS.md): what is accepted and each rejection reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import orjson
import pytest

from kpis import checkpoint as cp
from kpis.engine import PartitionState
from kpis.events import (
    EVENT_TYPES,
    MAX_AMOUNT,
    Rejection,
    check_not_future,
    decode_event,
    to_micros,
)

CSAT = {
    "event_id": "e-1",
    "type": "survey.csat",
    "occurred_at": "2026-03-01T09:30:00+02:00",
    "response_id": "r-1",
    "score": 4,
    "team": "emea",
}


def reason_of(raw: bytes) -> str:
    with pytest.raises(Rejection) as caught:
        decode_event(raw)
    return caught.value.reason


def with_(**changes: object) -> bytes:
    return orjson.dumps({**CSAT, **changes})


def without(field: str) -> bytes:
    return orjson.dumps({k: v for k, v in CSAT.items() if k != field})


def test_a_valid_event_decodes_with_its_offset_and_ignores_unknown_fields() -> None:
    event = decode_event(with_(extra={"kept": True}))
    assert event.entity_id == "r-1"
    assert to_micros(event.occurred_at) == 1_772_350_200_000_000  # 07:30 UTC


def test_nineteen_event_types_each_with_a_domain() -> None:
    assert len(EVENT_TYPES) == 19
    assert {t.domain for t in EVENT_TYPES} == {
        "leads",
        "opportunities",
        "activities",
        "customers",
        "tickets",
        "surveys",
        "marketing",
    }


@pytest.mark.parametrize("raw", [b"{", b"", b"not json", b"\xff\xfe", b'{"a":1'])
def test_malformed_json_is_invalid_json(raw: bytes) -> None:
    assert reason_of(raw) == "invalid_json"


@pytest.mark.parametrize(
    "raw",
    [
        b"[1, 2]",
        b'"a string"',
        without("event_id"),
        without("team"),
        with_(type="survey.unknown"),
        with_(score=6),
        with_(score=0),
        with_(score=4.0),
        with_(score=True),
        with_(event_id=""),
        with_(event_id="x" * 129),
        with_(occurred_at="2026-03-01T09:30:00"),
        with_(occurred_at="yesterday"),
        with_(team=None),
        with_(team=7),
    ],
)
def test_schema_violations_are_schema(raw: bytes) -> None:
    assert reason_of(raw) == "schema"


def spend(amount: object, spend_id: str = "s") -> dict[str, object]:
    """A `marketing.spend` event of `amount`."""
    return {
        "event_id": spend_id,
        "type": "marketing.spend",
        "occurred_at": "2026-03-01T00:00:00Z",
        "spend_id": spend_id,
        "channel": "web",
        "amount": amount,
    }


def test_negative_amount_is_schema() -> None:
    assert reason_of(orjson.dumps(spend(-1))) == "schema"
    assert decode_event(orjson.dumps(spend(0))).entity_id == "s"


@pytest.mark.parametrize("amount", [1e12 + 1e-3, 1e300, 2**70])
def test_an_amount_over_a_trillion_is_schema(amount: float) -> None:
    """Found by fuzzing the webhooks: 1e300 was accepted, and its millionths, beyond 64
    bits, stopped the worker at its next checkpoint."""
    assert reason_of(json.dumps(spend(amount)).encode()) == "schema"  # orjson stops at 64 bits


def test_the_largest_amount_is_applied_and_checkpointed() -> None:
    state = PartitionState()
    for n in range(3):
        raw = orjson.dumps(spend(MAX_AMOUNT, f"s{n}"))
        assert state.apply_raw(raw, to_micros(datetime.now(UTC)))[1] is None
        state.offset = n
    restored = PartitionState()
    cp.restore(restored, cp.decode(cp.encode(cp.take_snapshot(state))))
    assert restored.ledger.values == state.ledger.values


def test_optional_null_counts_as_absent() -> None:
    event = decode_event(with_(customer_id=None))
    assert event.entity_id == "r-1"


def test_more_than_an_hour_after_the_wall_clock_is_future_timestamp() -> None:
    event = decode_event(with_(occurred_at="2026-03-01T10:00:00Z"))
    wall_clock = to_micros(event.occurred_at) - 3_600_000_000
    assert check_not_future(event, wall_clock) == to_micros(event.occurred_at)
    with pytest.raises(Rejection) as caught:
        check_not_future(event, wall_clock - 1)
    assert caught.value.reason == "future_timestamp"
