"""Bad input on purpose: the anomaly kinds of EVENTS.md, mixed into the log at set rates.

Anomalies never change the good records: every good record is still written
once, with the same bytes, whatever the rates. Anomaly lines are extra lines
with ids of their own (`...-x<n>`), except duplicates (byte copies, `stale_copy`
ones delivered again after the grace period) and late records (good records
written later than their time).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, fields
from heapq import heappop, heappush
from random import Random
from typing import Protocol

import orjson

from streams.simulate.corruption import LogState, Payload, break_schema, garble, ghost
from streams.simulate.engine import Record
from streams.simulate.worktime import DAY, HOUR, MINUTE

SOURCE = "simulator"
STATELESS = frozenset({"activity.logged", "survey.csat", "survey.nps", "marketing.spend"})
"""Types without entity state: a late one can never be out of order for its entity."""
LATE_MIN, LATE_MAX = MINUTE, 10 * DAY
STALE_MIN, STALE_MAX = 30 * DAY, 80 * DAY  # mostly past the default grace period (35 days)
EXTRA_KINDS = ("invalid_json", "schema", "future_timestamp", "unknown_entity", "invalid_transition")
"""Kinds that add a line of their own (each rejected for the reason of the same name)."""


@dataclass(frozen=True)
class Anomalies:
    """Probability, per good record, of each anomaly kind (0 = never).

    `late` applies to the records that can be late without breaking their entity's
    order: stateless ones and the last record of an entity's lifecycle. `stale_copy` is a
    copy of a record delivered again 30 to 80 days later (`too_late` once past the grace
    period, `duplicate` while its entity is still held).
    """

    duplicate: float = 0.0
    late: float = 0.0
    invalid_json: float = 0.0
    schema: float = 0.0
    future_timestamp: float = 0.0
    unknown_entity: float = 0.0
    invalid_transition: float = 0.0
    stale_copy: float = 0.0

    def __post_init__(self) -> None:
        for rate in fields(self):
            value = getattr(self, rate.name)
            if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                raise ValueError(f"Anomalies.{rate.name} = {value!r}: must be a rate in [0, 1]")

    @classmethod
    def none(cls) -> Anomalies:
        """A clean log."""
        return cls()

    @classmethod
    def default(cls) -> Anomalies:
        """A few per thousand of each kind, as a messy real integration would produce."""
        return cls(
            duplicate=0.005,
            late=0.004,
            invalid_json=0.002,
            schema=0.003,
            future_timestamp=0.001,
            unknown_entity=0.002,
            invalid_transition=0.002,
        )

    def any(self) -> bool:
        """Whether any kind has a non-zero rate."""
        return any(getattr(self, rate.name) > 0 for rate in fields(self))


NO_ANOMALIES = Anomalies.none()


class Clock(Protocol):
    """How simulated time is written: the text of a time, and a time far ahead of the wall clock."""

    def text(self, at: int) -> str: ...

    def future(self, rng: Random, at: int) -> int: ...


def late_lag(rng: Random) -> int:
    """How much later a late record is written: 1 minute to 10 days, log-uniform."""
    return int(LATE_MIN * math.exp(rng.random() * math.log(LATE_MAX / LATE_MIN)))


def duplicate_lag(rng: Random) -> int:
    """When a copy is re-delivered: mostly a quick retry, sometimes hours or days later."""
    draw = rng.random()
    if draw < 0.6:
        return rng.randint(1, 5 * MINUTE)
    if draw < 0.9:
        return rng.randint(5 * MINUTE, 6 * HOUR)
    return rng.randint(6 * HOUR, 4 * DAY)


class Log:
    """Turns the world's records into log lines: ids and times, and the anomalies drawn."""

    def __init__(self, anomalies: Anomalies, seed: int, clock: Clock, id_prefix: str, tag: str):
        self.anomalies = anomalies
        self.inject = anomalies.any()
        self.rng = Random(f"crmkpi-simulate-{seed}-anomalies")
        self.clock = clock
        self.id_prefix = id_prefix
        self.tag = tag
        self.written = 0
        self.extras = 0
        self.held: list[tuple[int, int, str, Record | None]] = []
        self.order = itertools.count()
        self.state = LogState()

    def payload(self, event_id: str, at: int, good: Record) -> Payload:
        """The JSON object of a record: envelope first, then its own fields."""
        return {
            "event_id": event_id,
            "type": good.type,
            "occurred_at": self.clock.text(at),
            "source": SOURCE,
            **good.fields,
        }

    def lines(self, at: int, good: Record, last: bool) -> list[tuple[int, str]]:
        """The lines written at log time `at` for a good record at `at`, each with its log time."""
        self.written += 1
        line = orjson.dumps(self.payload(f"{self.id_prefix}-{self.written}", at, good)).decode()
        if not self.inject:
            return [(at, line)]
        out = self._release(at)
        rng, rates = self.rng, self.anomalies
        if rng.random() < rates.late and (last or good.type in STATELESS):
            self._hold(at + late_lag(rng), line, good)
        else:
            self._write(at, line, good, out)
        for kind in EXTRA_KINDS:
            if rng.random() < getattr(rates, kind):
                extra = self._extra(kind, at, good)
                if extra is not None:
                    out.append((at, extra))
        return out

    def flush(self) -> list[tuple[int, str]]:
        """Everything still held back (late records, later copies), at the end of a history."""
        out: list[tuple[int, str]] = []
        while self.held:
            out.extend(self._release(self.held[0][0]))
        return out

    def _extra(self, kind: str, at: int, good: Record) -> str | None:
        """An anomaly line of `kind` made from the good record at `at` (None: no target yet)."""
        self.extras += 1
        rng = self.rng
        if kind == "unknown_entity":
            good = ghost(rng, self.tag, self.extras)
        elif kind == "invalid_transition":
            aimed = self.state.invalid_transition(rng)
            if aimed is None:
                return None
            good = aimed
        elif kind == "future_timestamp":
            at = self.clock.future(rng, at)
        payload = self.payload(f"{self.id_prefix}-x{self.extras}", at, good)
        if kind == "schema":
            payload = break_schema(rng, payload)
        line = orjson.dumps(payload).decode()
        return garble(rng, line) if kind == "invalid_json" else line

    def _write(self, at: int, line: str, good: Record, out: list[tuple[int, str]]) -> None:
        """Write a good line now; maybe deliver a copy of it again later."""
        out.append((at, line))
        self.state.observe(good)
        if self.rng.random() < self.anomalies.duplicate:
            heappush(self.held, (at + duplicate_lag(self.rng), next(self.order), line, None))
        if self.anomalies.stale_copy and self.rng.random() < self.anomalies.stale_copy:
            lag = self.rng.randint(STALE_MIN, STALE_MAX)
            heappush(self.held, (at + lag, next(self.order), line, None))

    def _hold(self, until: int, line: str, good: Record) -> None:
        heappush(self.held, (until, next(self.order), line, good))

    def _release(self, at: int) -> list[tuple[int, str]]:
        """Held lines due by `at`, in the order they fall due."""
        out: list[tuple[int, str]] = []
        while self.held and self.held[0][0] <= at:
            due, _, line, good = heappop(self.held)
            if good is None:
                out.append((due, line))
            else:
                self._write(due, line, good, out)
        return out
