"""Prometheus text for a snapshot: computed on scrape, never on the event path.

KPI families mirror `/kpis` (the overall series has no dimension label).
Part families carry only per-dimension series, so any `sum by (...)` over
them is exact: ratios and means are recomputed from their parts in PromQL.
"""

from __future__ import annotations

from collections.abc import Iterator

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
from kpis.snapshot import PartSums
from kpis.windows import NOW, WINDOWS
from streams.readers import Snapshot

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


def _event_families(snapshot: Snapshot, lag_by_partition: dict[str, int]) -> Iterator[Metric]:
    accepted = CounterMetricFamily("crmkpi_events_accepted", "Canonical events applied.")
    accepted.add_metric([], snapshot.accepted)
    yield accepted
    rejected = CounterMetricFamily(
        "crmkpi_events_rejected", "Events sent to the dead-letter topic.", labels=["reason"]
    )
    for reason, count in snapshot.rejected.items():
        rejected.add_metric([reason], count)
    yield rejected
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
    lag = GaugeMetricFamily(
        "crmkpi_consumer_lag_records",
        "Source records not yet reflected in the KPIs, per partition.",
        labels=["partition"],
    )
    for partition, records in sorted(lag_by_partition.items()):
        lag.add_metric([partition], records)
    yield lag


class SnapshotCollector(Collector):
    """Yields the metric families of one snapshot."""

    def __init__(self, snapshot: Snapshot, lag_by_partition: dict[str, int]) -> None:
        self.snapshot = snapshot
        self.lag_by_partition = lag_by_partition

    def collect(self) -> Iterator[Metric]:
        yield from _kpi_families(self.snapshot)
        yield from _part_families(self.snapshot.sums_by_window)
        yield _resolution_histogram(self.snapshot.sums_by_window)
        yield from _event_families(self.snapshot, self.lag_by_partition)


def render(snapshot: Snapshot, lag_by_partition: dict[str, int]) -> bytes:
    """The Prometheus text exposition of a snapshot."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot, lag_by_partition))
    return generate_latest(registry)
