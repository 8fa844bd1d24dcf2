"""Owned partitions the consumer stopped reading, found and read again.

Faust pauses every partition while the group rebalances and resumes them once its
recovery is done; after quick successive rebalances it can leave partitions paused for
good (faust-streaming issues 166 and 629: "partitions ... keep on lagging"). The worker
then owns them, looks healthy and never reads them again. This watch notices an owned
partition whose records wait on the broker while its state has not moved for
`stall_seconds` in a stable group, resumes it and reads it again from its state's next
offset: a wrong guess costs a re-read, whose records the state already covers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily

from kpis.metric_names import PARTITIONS_RESUMED
from streams.kafka.partitions import PartitionId
from streams.read.lag_probe import LagProbe
from streams.worker.assignment import Assignment
from streams.worker.group_consumer import GroupConsumer
from streams.worker.processor import Processor

log = logging.getLogger(__name__)
CHECK_EVERY_SECONDS = 5.0


class StallWatch:
    """Resumes owned partitions that lag without progress; a `Collector` of how often."""

    def __init__(
        self,
        processor: Processor,
        assignment: Assignment,
        consumer: GroupConsumer,
        probe: LagProbe,
        stall_seconds: float,
    ) -> None:
        self.processor = processor
        self.assignment = assignment
        self.consumer = consumer
        self.probe = probe
        self.stall_seconds = stall_seconds
        self.progress: dict[PartitionId, tuple[int, float]] = {}  # offset, unchanged since
        self.checked_at = 0.0
        self.resumed = 0

    async def tick(self) -> None:
        """Check now and then (the worker's housekeeping calls it every second)."""
        now = time.monotonic()
        if now - self.checked_at >= CHECK_EVERY_SECONDS:
            self.checked_at = now
            await self.check(now)

    async def check(self, now: float) -> None:
        """Resume and read again every owned partition stalled for `stall_seconds`."""
        if now - self.assignment.changed_at < self.stall_seconds:
            self.progress.clear()  # the group is still settling: judge from scratch
            return
        try:
            ends = await self.probe.end_offsets()
        except Exception:  # the broker is down: nothing can be judged
            return
        stalled = list(self._stalled(ends, now))
        if not stalled:
            return
        log.warning(
            "partitions not read for %.0fs although records wait: reading them again: %s",
            self.stall_seconds,
            ", ".join(str(source) for source in stalled),
        )
        await self.consumer.resume(stalled)
        for source in stalled:
            state = self.processor.states.get(source)
            if state is not None:
                await self.consumer.seek(source, state.offset + 1)
                self.progress[source] = (state.offset, now)
        self.resumed += len(stalled)

    def _stalled(self, ends: dict[str, int], now: float) -> Iterator[PartitionId]:
        states = self.processor.states
        self.progress = {s: seen for s, seen in self.progress.items() if s in states}
        for source, state in states.items():
            if source not in self.assignment.owned:
                continue
            seen = self.progress.get(source)
            if seen is None or seen[0] != state.offset:
                self.progress[source] = (state.offset, now)  # it moved: watch from now
                continue
            waiting = ends.get(str(source), 0) > state.offset + 1
            if waiting and now - seen[1] >= self.stall_seconds:
                yield source

    def collect(self) -> Iterator[CounterMetricFamily]:
        """The family, for a Prometheus registry (a `Collector`)."""
        yield CounterMetricFamily(
            PARTITIONS_RESUMED,
            "Owned partitions found lagging without progress and read again.",
            self.resumed,
        )
