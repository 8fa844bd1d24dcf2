"""What a worker tells about itself: readiness (/readyz) and its view (/metrics)."""

from __future__ import annotations

from prometheus_client.registry import Collector

from kpis.retention import state_entries
from streams.read.lag_probe import LagProbe
from streams.read.store import Store
from streams.read.worker_view import Exports, WorkerView
from streams.worker.assignment import Assignment
from streams.worker.processor import Processor


class WorkerHealth:
    """The health of one worker of a group."""

    def __init__(
        self, store: Store, probe: LagProbe, assignment: Assignment, processor: Processor
    ) -> None:
        self.store = store
        self.probe = probe
        self.assignment = assignment
        self.processor = processor
        self.collectors: tuple[Collector, ...] = ()  # exported with its health, e.g. ingest counts
        self.exports: Exports = "owned"

    async def readiness(self) -> list[str]:
        """What keeps the worker from being ready; empty when it is."""
        problems = []
        if not await self.store.ping():
            problems.append("store unreachable")
        if self.processor.publisher.stale_since is not None:
            problems.append("store is behind (it was unreachable)")
        try:
            await self.probe.end_offsets()
        except Exception as error:
            problems.append(f"broker unreachable: {error}")
        if not self.assignment.owned:
            problems.append("no partitions assigned yet")
        return problems

    def view(self) -> WorkerView:
        """What this worker owns and its health, for /metrics."""
        processor = self.processor
        reporter = self.assignment.reporter if self.exports == "owned" else self.exports == "all"
        return WorkerView(
            frozenset(str(source) for source in self.assignment.owned),
            reporter,
            self.assignment.rebalances,
            processor.last_flush,
            processor.applier.processing_errors,
            dict(processor.applier.dead_letters),
            processor.last_recovery,
            self.collectors,
            state_entries(processor.states.values()),
            self.exports,
        )
