"""Judging the changes of one webhook body: each translated, ignored or refused.

Every translated event is checked against EVENTS.md. For a batched source a refused
change becomes a dead letter with its original bytes and the others go on; otherwise
the first refused change refuses the whole body (400) and nothing is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from kpis.events import Envelope, Rejection, check_not_future, decode_event, format_time
from streams.http.ingest.errors import BadPayload
from streams.http.ingest.items import GAP, REJECTED, Item
from streams.http.ingest.sources import Source
from streams.kafka.dead_letters import DeadLetter


@dataclass
class Judged:
    """The changes of one request: the events to send and the dead letters to write."""

    events: list[tuple[Envelope, bytes]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)

    def answer(self) -> dict[str, int]:
        results = [item.result for item in self.items]
        accepted = len(results) - results.count(REJECTED) - results.count(GAP)
        return {
            "events": len(self.events),
            "accepted": accepted,
            "rejected": results.count(REJECTED),
            "gaps": results.count(GAP),
        }


@dataclass(frozen=True)
class _Valid:
    """An item with its validated events; `problem` names the first invalid one."""

    item: Item
    events: list[tuple[Envelope, bytes]]
    problem: str = ""


def _first_event_numbers(items: list[Item]) -> list[int]:
    """The body-wide number of each item's first event, for error messages."""
    numbers, number = [], 1
    for item in items:
        numbers.append(number)
        number += len(item.events)
    return numbers


def _validated(item: Item, first_number: int, now_us: int) -> _Valid:
    """An item whose events are all valid (EVENTS.md), or the item refused by the first
    that is not."""
    events: list[tuple[Envelope, bytes]] = []
    for number, document in enumerate(item.events, start=first_number):
        raw = msgspec.json.encode(document)  # also integers over 64 bits, which orjson refuses
        try:
            event = decode_event(raw)
            check_not_future(event, now_us)
        except Rejection as rejection:
            event_id = document.get("event_id")
            refused = item.refused(rejection.reason, f"event {event_id}: {rejection.detail}")
            problem = f"event {number} ({event_id}): {rejection.reason}: {rejection.detail}"
            return _Valid(refused, [], problem)
        events.append((event, raw))
    return _Valid(item, events)


def _judged(source: Source, valid: list[_Valid], now: str) -> Judged:
    """The events to send and the dead letters to write; for a source that is not
    batched, the first refused change refuses the body."""
    judged = Judged(items=[v.item for v in valid])
    for v in valid:
        refusal = v.item.refusal
        if refusal is None:
            judged.events.extend(v.events)
        elif source.batched:
            origin = f"ingest/{source.name}"
            judged.dead_letters.append(
                DeadLetter(v.item.raw, refusal.reason, refusal.detail, now, origin)
            )
        else:
            raise BadPayload(v.problem or f"{refusal.reason}: {refusal.detail}")
    return judged


def judge(source: Source, items: list[Item], now_us: int) -> Judged:
    """The events and dead letters of a body's items, or the `BadPayload` refusing it."""
    try:
        numbers = _first_event_numbers(items)
        valid = [_validated(item, n, now_us) for item, n in zip(items, numbers, strict=True)]
    except RecursionError:  # msgspec's nesting limit, encoding
        raise BadPayload("body is nested too deeply") from None
    return _judged(source, valid, format_time(now_us))
