"""Prometheus text for a snapshot: computed on scrape, never on the event path.

KPI families mirror `/kpis` (the overall series has no dimension label).
Part families carry only per-dimension series, so any `sum by (...)` over
them is exact: ratios and means are recomputed from their parts in PromQL.

With several workers, Prometheus scrapes each of them and sums across them,
so every series must come from exactly one worker: a worker exports the
additive families (parts, the resolution histogram, event counts, lag) of the
source partitions assigned to it only, and only the reporter (one worker of
the group) exports the combined families (KPI values, watermark, customers at
risk). Health families describe the worker itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from kpis import formulas as f
from kpis import parts as p
from kpis.catalogue import CATALOGUE
from kpis.churn import at_risk_by_segment
from kpis.ledger import combine
from kpis.snapshot import PartSums, window_sums
from kpis.windows import NOW, WINDOWS
from streams.read.snapshot_reader import Snapshot, event_counts

HOUR_SECONDS = 3600
RETENTION_PARTS = {
    f.CUSTOMERS_AT_START: (
        "crmkpi_customers_at_window_start",
        "Customers acquired before the window start and not churned before it.",
        1,
    ),
    f.CUSTOMERS_CHURNED_IN_WINDOW: (
        "crmkpi_customers_churned_in_window",
        "Of those, the customers churned in the window.",
        1,
    ),
}
GAUGE_PARTS = (p.OPEN_PIPELINE_MICRO, p.ACTIVE_CUSTOMERS, p.MRR_MICRO)
PART_DIMENSIONS = {part: kpi.dimension for kpi in reversed(CATALOGUE) for part in kpi.parts}


@dataclass(frozen=True)
class WorkerView:
    """One worker of a group: which partitions it owns, whether it reports, its health."""

    owned: frozenset[str]  # `topic:partition` of the source partitions assigned to it
    reporter: bool  # exports the combined families; exactly one worker of the group does
    rebalances: int = 0
    last_flush: float | None = None
    processing_errors: int = 0
    dead_letters: Mapping[str, int] = field(default_factory=dict)
    collectors: tuple[Collector, ...] = ()  # the process's own families, e.g. ingest counts


@dataclass(frozen=True)
class Share:
    """The additive parts of some partitions, windowed at the combined watermark."""

    sums_by_window: dict[str, PartSums]
    accepted: int
    rejected: dict[str, int]


def owned_share(snapshot: Snapshot, owned: frozenset[str]) -> Share:
    """The parts of the `owned` partitions; summed over a group's workers, the snapshot's."""
    views = [view for name, view in snapshot.views.items() if name in owned]
    if len(views) == len(snapshot.views):
        return Share(snapshot.sums_by_window, snapshot.accepted, snapshot.rejected)
    values = combine(view.values for view in views)
    accepted, rejected = event_counts(values)
    # The combined watermark, not the owned partitions' own: the same windows in every worker.
    return Share(window_sums(values, snapshot.watermark_us), accepted, rejected)


def _kpi_families(snapshot: Snapshot) -> Iterator[Metric]:
    by_kpi: dict[str, list[tuple[str, dict[str, str], float]]] = {}
    for series in snapshot.kpis:
        if series.value is not None:
            by_kpi.setdefault(series.kpi, []).append((series.window, series.labels, series.value))
    for kpi in CATALOGUE:
        family = GaugeMetricFamily(
            kpi.metric,
            f"{kpi.title}: {kpi.description} The overall series has no {kpi.dimension} label.",
            labels=["window", kpi.dimension],
        )
        for window, labels, value in by_kpi.get(kpi.name, []):
            family.add_metric([window, labels.get(kpi.dimension, "")], value)
        yield family


def _part_families(sums_by_window: dict[str, PartSums]) -> Iterator[Metric]:
    exported = {**p.EXPORTED_PARTS, **RETENTION_PARTS}
    for part, (name, documentation, divisor) in exported.items():
        dimension = PART_DIMENSIONS[part]
        if part in GAUGE_PARTS:
            family = GaugeMetricFamily(name, documentation, labels=[dimension])
            for value_of_dimension, amount in sorted(sums_by_window[NOW].get(part, {}).items()):
                family.add_metric([value_of_dimension], amount / divisor)
        else:
            family = GaugeMetricFamily(name, documentation, labels=["window", dimension])
            for window in WINDOWS:
                by_value = sums_by_window[window.name].get(part, {})
                for value_of_dimension, amount in sorted(by_value.items()):
                    family.add_metric([window.name, value_of_dimension], amount / divisor)
        yield family


def _resolution_histogram(sums_by_window: dict[str, PartSums]) -> Metric:
    family = HistogramMetricFamily(
        "crmkpi_ticket_resolution_seconds",
        "Time from opening to first resolution of tickets first resolved in the window.",
        labels=["window", "team"],
    )
    for window in WINDOWS:
        sums = sums_by_window[window.name]
        for team, count in sorted(sums.get(p.TICKETS_FIRST_RESOLVED, {}).items()):
            buckets = [
                (str(bound * HOUR_SECONDS), sums.get(p.resolved_within(bound), {}).get(team, 0))
                for bound in p.RESOLUTION_BOUNDS_HOURS
            ]
            buckets.append(("+Inf", count))
            total_seconds = sums.get(p.RESOLUTION_US, {}).get(team, 0) / 1_000_000
            family.add_metric([window.name, team], buckets, total_seconds)
    return family


def _event_families(share: Share, lag_by_partition: dict[str, int]) -> Iterator[Metric]:
    accepted = CounterMetricFamily("crmkpi_events_accepted", "Canonical events applied.")
    accepted.add_metric([], share.accepted)
    yield accepted
    rejected = CounterMetricFamily(
        "crmkpi_events_rejected", "Events sent to the dead-letter topic.", labels=["reason"]
    )
    for reason, count in share.rejected.items():
        rejected.add_metric([reason], count)
    yield rejected
    lag = GaugeMetricFamily(
        "crmkpi_consumer_lag_records",
        "Source records not yet reflected in the KPIs, per partition.",
        labels=["partition"],
    )
    for partition, records in sorted(lag_by_partition.items()):
        lag.add_metric([partition], records)
    yield lag


def _combined_families(snapshot: Snapshot) -> Iterator[Metric]:
    yield from _kpi_families(snapshot)
    if snapshot.watermark_us is not None:
        watermark = GaugeMetricFamily(
            "crmkpi_watermark_timestamp_seconds",
            "Largest occurred_at of all accepted events (the KPIs' 'now').",
        )
        watermark.add_metric([], snapshot.watermark_us / 1_000_000)
        yield watermark
    risk = GaugeMetricFamily(
        "crmkpi_customers_at_risk",
        "Active customers with at least two distinct churn signals in the last 30 days.",
        labels=["segment"],
    )
    for segment, count in at_risk_by_segment(snapshot.churn_risks).items():
        risk.add_metric([segment], count)
    yield risk


def _health_families(worker: WorkerView) -> Iterator[Metric]:
    owned = GaugeMetricFamily(
        "crmkpi_partitions_assigned", "Source partitions assigned to this worker."
    )
    owned.add_metric([], len(worker.owned))
    yield owned
    rebalances = CounterMetricFamily(
        "crmkpi_rebalances", "Partition assignments this worker received since it started."
    )
    rebalances.add_metric([], worker.rebalances)
    yield rebalances
    if worker.last_flush is not None:
        flushed = GaugeMetricFamily(
            "crmkpi_last_flush_timestamp_seconds",
            "When this worker last made a batch durable (checkpointed and published).",
        )
        flushed.add_metric([], worker.last_flush)
        yield flushed
    errors = CounterMetricFamily(
        "crmkpi_processing_errors",
        "Records whose processing raised an error (dead-lettered as processing_error).",
    )
    errors.add_metric([], worker.processing_errors)
    yield errors
    letters = CounterMetricFamily(
        "crmkpi_dead_letters_written",
        "Records this worker wrote to the dead-letter topic since it started.",
        labels=["reason"],
    )
    for reason, count in sorted(worker.dead_letters.items()):
        letters.add_metric([reason], count)
    yield letters


class SnapshotCollector(Collector):
    """Yields the metric families of one snapshot, as seen by one worker (or by the only one)."""

    def __init__(
        self, snapshot: Snapshot, lag_by_partition: dict[str, int], worker: WorkerView | None
    ) -> None:
        self.snapshot = snapshot
        self.lag_by_partition = lag_by_partition
        self.worker = worker

    def collect(self) -> Iterator[Metric]:
        worker = self.worker
        if worker is None:
            share = owned_share(self.snapshot, frozenset(self.snapshot.views))
            lag = self.lag_by_partition
        else:
            share = owned_share(self.snapshot, worker.owned)
            lag = {name: n for name, n in self.lag_by_partition.items() if name in worker.owned}
        if worker is None or worker.reporter:
            yield from _combined_families(self.snapshot)
        yield from _part_families(share.sums_by_window)
        yield _resolution_histogram(share.sums_by_window)
        yield from _event_families(share, lag)
        if worker is not None:
            yield from _health_families(worker)
            for collector in worker.collectors:
                yield from collector.collect()


def render(
    snapshot: Snapshot, lag_by_partition: dict[str, int], worker: WorkerView | None = None
) -> bytes:
    """The Prometheus text exposition of a snapshot; `worker`: exported by one of a group."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot, lag_by_partition, worker))
    return generate_latest(registry)
