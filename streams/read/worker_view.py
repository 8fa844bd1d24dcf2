"""A worker's description of itself (`WorkerView`) and the Prometheus families it exports:
what it owns, its rebalances, flushes, errors, dead letters, memory and recoveries."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kpis import metric_names as m

Exports = Literal["owned", "all", "none"]
"""Whose additive families a worker exports: its own partitions' (one of a group, each
scraped); every partition's (the `crmkpi up` process whose store its other workers relay
to: scraping it alone sees everything); none (those other workers)."""


@dataclass(frozen=True)
class WorkerView:
    """One worker of a group: which partitions it owns, whether it reports, its health."""

    owned: frozenset[str]  # `topic:partition` of the source partitions assigned to it
    reporter: bool  # exports the combined families; exactly one worker of the group does
    rebalances: int = 0
    last_flush: float | None = None
    processing_errors: int = 0
    dead_letters: Mapping[str, int] = field(default_factory=dict)
    recovery: tuple[float, int] | None = None  # the last one's seconds and checkpoint bytes
    collectors: tuple[Collector, ...] = ()  # the process's own families, e.g. ingest counts
    state_entries: Mapping[str, int] = field(default_factory=dict)  # held by its partitions
    exports: Exports = "owned"


def health_families(worker: WorkerView) -> Iterator[Metric]:
    """The families that describe the worker itself."""
    yield GaugeMetricFamily(
        m.PARTITIONS_ASSIGNED, "Source partitions assigned to this worker.", len(worker.owned)
    )
    yield CounterMetricFamily(
        m.REBALANCES,
        "Partition assignments this worker received since it started.",
        worker.rebalances,
    )
    if worker.last_flush is not None:
        yield GaugeMetricFamily(
            m.LAST_FLUSH,
            "When this worker last made a batch durable (checkpointed and published).",
            worker.last_flush,
        )
    yield CounterMetricFamily(
        m.PROCESSING_ERRORS,
        "Records whose processing raised an error (dead-lettered as processing_error).",
        worker.processing_errors,
    )
    letters = CounterMetricFamily(
        m.DEAD_LETTERS_WRITTEN,
        "Records this worker wrote to the dead-letter topic since it started.",
        labels=["reason"],
    )
    for reason, count in sorted(worker.dead_letters.items()):
        letters.add_metric([reason], count)
    yield letters
    entries = GaugeMetricFamily(
        m.STATE_ENTRIES,
        "What this worker's partitions hold in memory: event ids, entities by kind, KPI parts.",
        labels=["kind"],
    )
    for kind, count in worker.state_entries.items():
        entries.add_metric([kind], count)
    yield entries
    if worker.recovery is not None:
        seconds, read = worker.recovery
        yield GaugeMetricFamily(
            m.RECOVERY_SECONDS, "How long this worker's last recovery took.", seconds
        )
        yield GaugeMetricFamily(
            m.RECOVERY_BYTES, "Checkpoint bytes this worker's last recovery read.", read
        )
