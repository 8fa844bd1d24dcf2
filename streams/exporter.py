"""Prometheus text for a snapshot: computed on scrape, never on the event path."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kpis.catalogue import CATALOGUE
from streams.readers import Snapshot


class SnapshotCollector(Collector):
    """Yields the metric families of one snapshot."""

    def __init__(self, snapshot: Snapshot, lag_by_partition: dict[str, int]) -> None:
        self.snapshot = snapshot
        self.lag_by_partition = lag_by_partition

    def collect(self) -> Iterator[Metric]:
        snapshot = self.snapshot
        by_kpi: dict[str, list[tuple[str, dict[str, str], float]]] = {}
        for series in snapshot.kpis:
            if series.value is not None:
                by_kpi.setdefault(series.kpi, []).append(
                    (series.window, series.labels, series.value)
                )
        for kpi in CATALOGUE:
            family = GaugeMetricFamily(
                kpi.metric,
                f"{kpi.title}: {kpi.description} Overall series have no {kpi.dimension} label.",
                labels=["window", kpi.dimension],
            )
            for window, labels, value in by_kpi.get(kpi.name, []):
                family.add_metric([window, labels.get(kpi.dimension, "")], value)
            yield family
        accepted = CounterMetricFamily(
            "crmkpi_events_accepted", "Canonical events applied to the KPIs."
        )
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
        lag = GaugeMetricFamily(
            "crmkpi_consumer_lag_records",
            "Source records not yet reflected in the KPIs, per partition.",
            labels=["partition"],
        )
        for partition, records in sorted(self.lag_by_partition.items()):
            lag.add_metric([partition], records)
        yield lag


def render(snapshot: Snapshot, lag_by_partition: dict[str, int]) -> bytes:
    """The Prometheus text exposition of a snapshot."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot, lag_by_partition))
    return generate_latest(registry)
