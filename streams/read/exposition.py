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

from kpis import metric_names as m
from kpis import parts as p
from kpis.catalogue import CATALOGUE
from kpis.churn import at_risk_by_segment
from kpis.goals import GOAL_DIMENSIONS, period_bounds
from kpis.ledger import combine
from kpis.snapshot import PartSums, window_sums
from kpis.windows import CALENDAR_WINDOWS, NOW, WINDOWS
from streams.read.snapshot_reader import Snapshot, event_counts

HOUR_SECONDS = 3600


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
    return Share(window_sums(values, snapshot.watermark_us, snapshot.zone), accepted, rejected)


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
    for part, exported in m.PART_FAMILIES.items():
        name, dimension, divisor = exported.name, exported.dimension, exported.divisor
        documentation = exported.documentation
        if part in p.CURRENT_STATE_PARTS:
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
        m.RESOLUTION_HISTOGRAM,
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
    yield CounterMetricFamily(m.EVENTS_ACCEPTED, "Canonical events applied.", share.accepted)
    rejected = CounterMetricFamily(
        m.EVENTS_REJECTED, "Events sent to the dead-letter topic.", labels=["reason"]
    )
    for reason, count in share.rejected.items():
        rejected.add_metric([reason], count)
    yield rejected
    lag = GaugeMetricFamily(
        m.CONSUMER_LAG,
        "Source records not yet reflected in the KPIs, per partition.",
        labels=["partition"],
    )
    for partition, records in sorted(lag_by_partition.items()):
        lag.add_metric([partition], records)
    yield lag


def _goal_families(snapshot: Snapshot) -> Iterator[Metric]:
    """The goals' targets, and the calendar periods' bounds that pace is measured against."""
    target = GaugeMetricFamily(
        m.GOAL_TARGET,
        "Target of a goal (the goals file), in the KPI's unit; dimension labels: the goal's.",
        labels=["kpi", "window", *GOAL_DIMENSIONS],
    )
    for entry in snapshot.goals:
        goal = entry.goal
        labels = goal.labels
        target.add_metric(
            [goal.kpi, goal.window, *(labels.get(d, "") for d in GOAL_DIMENSIONS)], goal.target
        )
    yield target
    if snapshot.watermark_us is None:
        return
    start = GaugeMetricFamily(
        m.PERIOD_START,
        "Start of the calendar period containing the watermark (CRMKPI_TIMEZONE).",
        labels=["window"],
    )
    end = GaugeMetricFamily(
        m.PERIOD_END,
        "End of the calendar period containing the watermark (CRMKPI_TIMEZONE).",
        labels=["window"],
    )
    for window in CALENDAR_WINDOWS:
        first, last = period_bounds(window, snapshot.watermark_us, snapshot.zone)
        start.add_metric([window], first / 1_000_000)
        end.add_metric([window], last / 1_000_000)
    yield start
    yield end


def _combined_families(snapshot: Snapshot) -> Iterator[Metric]:
    yield from _kpi_families(snapshot)
    if snapshot.watermark_us is not None:
        yield GaugeMetricFamily(
            m.WATERMARK,
            "Largest occurred_at of all accepted events (the KPIs' 'now').",
            snapshot.watermark_us / 1_000_000,
        )
    if snapshot.lag_seconds is not None:
        yield GaugeMetricFamily(
            m.WATERMARK_LAG,
            "Seconds the watermark is behind the wall clock (live traffic: the age of the KPIs).",
            snapshot.lag_seconds,
        )
    yield from _goal_families(snapshot)
    yield GaugeMetricFamily(
        m.GROSS_MARGIN,
        "The gross margin customer lifetime value is computed with.",
        snapshot.gross_margin,
    )
    risk = GaugeMetricFamily(
        m.CUSTOMERS_AT_RISK,
        "Active customers with at least two distinct churn signals in the last 30 days.",
        labels=["segment"],
    )
    for segment, count in at_risk_by_segment(snapshot.churn_risks).items():
        risk.add_metric([segment], count)
    yield risk


def _health_families(worker: WorkerView) -> Iterator[Metric]:
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
