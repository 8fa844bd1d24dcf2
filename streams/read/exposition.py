"""Prometheus text for a snapshot: computed on scrape, never on the event path.

KPI families mirror `/kpis` (the overall series has no dimension label).
Part families carry only per-dimension series, so any `sum by (...)` over
them is exact: ratios and means are recomputed from their parts in PromQL.

With several workers, Prometheus scrapes each of them and sums across them,
so every series must come from exactly one worker: a worker exports the
additive families (parts, the resolution histogram, event counts, lag) of the
source partitions assigned to it only, and only the reporter (one worker of
the group) exports the combined families (KPI values, watermark, customers at
risk). Health families describe the worker itself. The workers of one `crmkpi up`
without Redis are scraped as one: its own process, which holds their store, exports
every family of every partition, and the others only their health (`WorkerView.exports`).

The KPI and part families, most of the text, change only when a partition does: an
`Exposition` keeps their text while the reader's derivation is the same, and renders the
rest (watermark, lag, goals, health) at every read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

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
from kpis.snapshot import KpiValue, PartSums, window_sums
from kpis.windows import CALENDAR_WINDOWS, NOW, WINDOWS
from streams.read.snapshot_reader import Snapshot, event_counts
from streams.read.worker_view import WorkerView, health_families

HOUR_SECONDS = 3600


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


def _kpi_families(kpis: list[KpiValue]) -> Iterator[Metric]:
    by_kpi: dict[str, list[tuple[str, dict[str, str], float]]] = {}
    for series in kpis:
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
    """The combined families but the KPIs' (`_derived_families`)."""
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


def _derived_families(share: Share, kpis: list[KpiValue] | None) -> Iterator[Metric]:
    """The families of what the reader derived: the KPIs' (`kpis`: of the reporter or the
    only worker), the parts and the resolution histogram."""
    if kpis is not None:
        yield from _kpi_families(kpis)
    yield from _part_families(share.sums_by_window)
    yield _resolution_histogram(share.sums_by_window)


def _read_families(
    snapshot: Snapshot, share: Share, lag: dict[str, int], worker: WorkerView | None
) -> Iterator[Metric]:
    """The families of one read: combined (without the KPIs), events and lag, health."""
    if worker is None or worker.reporter:
        yield from _combined_families(snapshot)
    yield from _event_families(share, lag)
    if worker is not None:
        yield from health_families(worker)
        for collector in worker.collectors:
            yield from collector.collect()


class _Families(Collector):
    """Families made once, as a registry collects them."""

    def __init__(self, families: Iterator[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return self.families


def _text(families: Iterator[Metric]) -> bytes:
    """The Prometheus text of some families."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry)


class Exposition:
    """Renders the snapshots of successive reads, keeping the text of the derived families
    while the derivation (the KPIs and window sums, by identity) is the same."""

    def __init__(self) -> None:
        self.derived: tuple[object, object] | None = None
        self.derived_text = b""

    def render(
        self, snapshot: Snapshot, lag_by_partition: dict[str, int], worker: WorkerView | None
    ) -> bytes:
        """The Prometheus text exposition of a snapshot; `worker`: exported by one of a group."""
        if worker is None or worker.exports == "all":
            share = owned_share(snapshot, frozenset(snapshot.views))
            lag = lag_by_partition
        else:
            exported = worker.owned if worker.exports == "owned" else frozenset()
            share = owned_share(snapshot, exported)
            lag = {name: n for name, n in lag_by_partition.items() if name in exported}
        reporter = worker is None or worker.reporter
        kpis, sums = snapshot.kpis if reporter else None, share.sums_by_window
        known = self.derived
        if known is None or known[0] is not kpis or known[1] is not sums:
            self.derived_text = _text(_derived_families(share, kpis))
            self.derived = kpis, sums
        return self.derived_text + _text(_read_families(snapshot, share, lag, worker))


def render(
    snapshot: Snapshot, lag_by_partition: dict[str, int], worker: WorkerView | None = None
) -> bytes:
    """The Prometheus text exposition of one snapshot; `worker`: exported by one of a group."""
    return Exposition().render(snapshot, lag_by_partition, worker)
