"""Several workers' /metrics: every series comes from exactly one worker, so sums are exact."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from kpis.engine import PartitionState
from streams.exporter import WorkerView, render
from streams.readers import read_snapshot
from streams.store import MemoryStore
from tests.test_exporter import LINES
from tests.test_properties import NOW_US

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: bytes) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
    }


async def test_part_series_summed_over_workers_equal_the_whole_and_one_worker_reports() -> None:
    store = MemoryStore()
    for name, lines in (("crm.surveys:0", LINES[:2]), ("crm.tickets:1", LINES[2:])):
        state = PartitionState()
        for raw in lines:
            state.apply_raw(raw, NOW_US)
        values = list(state.ledger.values.items())
        await store.publish(name, len(lines) - 1, state.ledger.watermark_us, values, True)
    snapshot, _ = await read_snapshot(store, None, 1.0)
    lag = {"crm.surveys:0": 0, "crm.tickets:1": 3}
    whole = samples(render(snapshot, lag))
    reporter = samples(render(snapshot, lag, WorkerView(frozenset({"crm.surveys:0"}), True)))
    other = samples(render(snapshot, lag, WorkerView(frozenset({"crm.tickets:1"}), False)))
    health = {"crmkpi_partitions_assigned", "crmkpi_rebalances_total"}
    health |= {"crmkpi_processing_errors_total"}
    summed: Samples = {}
    for worker in (reporter, other):
        for key, value in worker.items():
            if key[0] not in health:
                summed[key] = summed.get(key, 0.0) + value
    assert summed == whole
    assert any(name == "crmkpi_csat_ratio" for name, _ in reporter)
    assert not any(name == "crmkpi_csat_ratio" for name, _ in other)
    assert other[("crmkpi_consumer_lag_records", (("partition", "crm.tickets:1"),))] == 3
    assert ("crmkpi_consumer_lag_records", (("partition", "crm.tickets:1"),)) not in reporter
    assert reporter[("crmkpi_partitions_assigned", ())] == 1
