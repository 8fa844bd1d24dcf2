"""What became of produced lines: sent to a domain topic, or rejected to the dead-letter topic."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson


@dataclass(frozen=True)
class Outcome:
    """What became of one line: sent to its domain topic, or rejected to the dead-letter topic."""

    topic: str
    event_id: str | None
    reason: str | None = None  # None when the event was sent
    detail: str = ""

    @property
    def sent(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class Problem:
    """A rejected line of a batch: its 1-based line number, why, and its event id if known."""

    line: int
    reason: str
    detail: str
    event_id: str | None = None


@dataclass
class ProduceReport:
    """Counts of one `send_lines` call, and every rejected line."""

    sent: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def total_rejected(self) -> int:
        return sum(self.rejected.values())

    def count(self, number: int, outcome: Outcome) -> None:
        """Count the outcome of line `number` (1-based)."""
        if outcome.reason is None:
            self.sent += 1
            return
        self.rejected[outcome.reason] = self.rejected.get(outcome.reason, 0) + 1
        self.problems.append(Problem(number, outcome.reason, outcome.detail, outcome.event_id))


def rejected_event_id(raw: bytes) -> str | None:
    """The `event_id` of a rejected line, when it is a JSON object with a string one."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    event_id = value.get("event_id") if isinstance(value, dict) else None
    return event_id if isinstance(event_id, str) else None
