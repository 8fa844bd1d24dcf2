"""Dead-letter records: the original bytes, why they were rejected, when, and by whom."""

from __future__ import annotations

from dataclasses import dataclass

from kpis.events import Rejection

WORKER = "worker"  # rejections the worker already counted in its own state


@dataclass(frozen=True)
class DeadLetter:
    """One rejected record as it travels on the dead-letter topic."""

    value: bytes
    reason: str
    detail: str
    rejected_at: str
    origin: str
    source: str = ""  # topic:partition:offset of the rejected record, when it had one

    @classmethod
    def of(cls, value: bytes, rejection: Rejection, rejected_at: str, origin: str) -> DeadLetter:
        return cls(value, rejection.reason, rejection.detail, rejected_at, origin)

    def headers(self) -> list[tuple[str, bytes]]:
        """Kafka record headers carrying everything but the original bytes."""
        return [
            ("reason", self.reason.encode()),
            ("detail", self.detail.encode()),
            ("rejected_at", self.rejected_at.encode()),
            ("origin", self.origin.encode()),
            ("source", self.source.encode()),
        ]

    @classmethod
    def from_record(cls, value: bytes | None, headers: object) -> DeadLetter:
        """Read a dead letter back from a consumed record's value and headers."""
        fields = {key: raw.decode(errors="replace") for key, raw in _pairs(headers)}
        return cls(
            value or b"",
            fields.get("reason", "unknown"),
            fields.get("detail", ""),
            fields.get("rejected_at", ""),
            fields.get("origin", ""),
            fields.get("source", ""),
        )


def _pairs(headers: object) -> list[tuple[str, bytes]]:
    if isinstance(headers, dict):
        return [(str(key), bytes(value)) for key, value in headers.items()]
    if isinstance(headers, list | tuple):
        return [(str(key), bytes(value)) for key, value in headers]
    return []
