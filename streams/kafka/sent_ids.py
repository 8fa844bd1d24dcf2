"""The event ids a producer sent, bounded by the grace period (KPIS.md, "State retention").

A producer rejects a repeated id as `duplicate` itself only when the worker surely would:
when the event and the one first sent with that id are both within `G` of the latest
event time this producer sent (a partition's watermark `T` is never past it, so neither
is older than `T - G`). An older repeat is sent on, and the worker judges it `duplicate` or
`too_late` with its partition's watermark. So ids older than `G` need not be kept here.
"""

from __future__ import annotations

from kpis.retention import DAY_US


class SentIds:
    """Ids with the time of the event first sent with them, within `G` of the latest."""

    def __init__(self, grace_us: int) -> None:
        self.grace_us = grace_us
        self.times: dict[str, int] = {}
        self.watermark_us: int | None = None
        self.pruned_day: int | None = None

    def is_duplicate(self, event_id: str, t_us: int) -> bool:
        """Whether an event is a repeat the worker would surely judge `duplicate`."""
        first_us = self.times.get(event_id)
        if first_us is None or self.watermark_us is None:
            return False
        limit_us = self.watermark_us - self.grace_us
        return min(first_us, t_us) >= limit_us

    def add(self, event_id: str, t_us: int) -> None:
        """Record a sent event (a repeat keeps the first time); drop what no judgement reads,
        once a day of event time."""
        self.times.setdefault(event_id, t_us)
        if self.watermark_us is None or t_us > self.watermark_us:
            self.watermark_us = t_us
        limit_us = self.watermark_us - self.grace_us
        if self.pruned_day != limit_us // DAY_US:
            self.pruned_day = limit_us // DAY_US
            self.times = {key: at for key, at in self.times.items() if at >= limit_us}
