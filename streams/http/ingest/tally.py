"""`crmkpi_ingest_items_total{source, kind, result}`: every change a CRM sent, and its fate.

An operator sees which kinds arrive and are ignored (docs/ingest.md lists why), and
which are rejected or reported as upstream gaps. Counted per request, exported on scrape.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily

from kpis.metric_names import INGEST_ITEMS
from streams.http.ingest.items import Item


class ItemTally:
    """Counts of items by (source, kind, result) since the process started."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str]] = Counter()

    def count(self, source: str, items: Iterable[Item]) -> None:
        self.counts.update((source, item.kind, item.result) for item in items)

    def collect(self) -> Iterator[CounterMetricFamily]:
        """The family, for a Prometheus registry (a `Collector`)."""
        family = CounterMetricFamily(
            INGEST_ITEMS,
            "Changes received by POST /ingest/{source}, by kind and result "
            "(translated, ignored, rejected, gap).",
            labels=["source", "kind", "result"],
        )
        for (source, kind, result), total in sorted(self.counts.items()):
            family.add_metric([source, kind, result], total)
        yield family
