"""Prometheus export: every KPI appears, and summing parts over a dimension gives the overall."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from kpis import metric_names as m
from kpis.catalogue import CATALOGUE
from kpis.engine import PartitionState
from kpis.metric_names import STATE_ENTRIES
from kpis.retention import state_entries
from streams.read.exposition import Exposition, render
from streams.read.snapshot_reader import SnapshotReader, read_snapshot
from streams.read.store import MemoryStore, Position
from streams.read.worker_view import WorkerView
from tests.kpis.test_properties import NOW_US

LINES = [
    b'{"event_id":"1","type":"survey.csat","occurred_at":"2026-03-01T09:00:00Z",'
    b'"response_id":"a","score":5,"team":"emea"}',
    b'{"event_id":"2","type":"survey.csat","occurred_at":"2026-03-01T09:10:00Z",'
    b'"response_id":"b","score":2,"team":"amer"}',
    b'{"event_id":"3","type":"survey.csat","occurred_at":"2026-03-01T09:20:00Z",'
    b'"response_id":"c","score":4,"team":"amer"}',
    b'{"event_id":"4","type":"ticket.opened","occurred_at":"2026-03-01T08:00:00Z",'
    b'"ticket_id":"t","team":"amer","priority":"low"}',
    b'{"event_id":"5","type":"ticket.resolved","occurred_at":"2026-03-01T09:30:00Z",'
    b'"ticket_id":"t"}',
]


async def exported() -> tuple[dict[str, list[tuple[dict[str, str], float]]], str]:
    state = PartitionState()
    for raw in LINES:
        state.apply_raw(raw, NOW_US)
    store = MemoryStore()
    await store.publish(
        "p:0",
        Position(4, watermark_us=state.ledger.watermark_us),
        list(state.ledger.values.items()),
        True,
    )
    snapshot, _ = await read_snapshot(store, None, 1.0)
    text = render(snapshot, {}).decode()
    families: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            families.setdefault(sample.name, []).append((sample.labels, sample.value))
    return families, text


async def test_every_kpi_has_a_family_even_when_its_value_is_null() -> None:
    _, text = await exported()
    for kpi in CATALOGUE:
        assert f"# TYPE {kpi.metric} gauge" in text


async def test_summing_parts_over_the_dimension_gives_the_overall_ratio() -> None:
    families, _ = await exported()

    def total(name: str) -> float:
        return sum(v for labels, v in families[name] if labels["window"] == "30d")

    overall = next(
        v
        for labels, v in families["crmkpi_csat_ratio"]
        if labels["window"] == "30d" and not labels.get("team")
    )
    assert total("crmkpi_csat_satisfied_responses") / total("crmkpi_csat_responses") == overall
    assert overall == 2 / 3


async def test_resolution_histogram_has_cumulative_buckets_in_seconds() -> None:
    families, _ = await exported()
    buckets = {
        labels["le"]: v
        for labels, v in families["crmkpi_ticket_resolution_seconds_bucket"]
        if labels["window"] == "30d"
    }
    # 1.5 h: above the 1 h bound, within 4 h and every larger bound.
    assert buckets["3600"] == 0
    assert buckets["14400"] == buckets["+Inf"] == 1


def samples(text: bytes, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
        if sample.name == name
    }


async def test_a_worker_exports_what_its_partitions_hold_by_kind() -> None:
    state = PartitionState()
    for raw in LINES:
        state.apply_raw(raw, NOW_US)
    snapshot, _ = await read_snapshot(MemoryStore(), None, 1.0)
    view = WorkerView(frozenset({"p:0"}), True, state_entries=state_entries([state, state]))
    exported = samples(render(snapshot, {}, view), STATE_ENTRIES)
    entries = {dict(labels)["kind"]: n for labels, n in exported.items()}
    parts = 2 * len(state.ledger.values)
    assert entries == {
        "event_ids": 10,
        "leads": 0,
        "opportunities": 0,
        "customers": 0,
        "tickets": 2,
        "parts": parts,
    }


async def test_a_worker_exports_its_last_recovery_s_seconds_and_bytes() -> None:
    snapshot, _ = await read_snapshot(MemoryStore(), None, 1.0)
    never = render(snapshot, {}, WorkerView(frozenset(), True)).decode()
    assert m.RECOVERY_SECONDS not in never
    text = render(snapshot, {}, WorkerView(frozenset(), True, recovery=(1.5, 4096))).decode()
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert (samples[m.RECOVERY_SECONDS], samples[m.RECOVERY_BYTES]) == (1.5, 4096)


async def test_an_exposition_renders_each_read_anew_but_unchanged_kpis_and_parts() -> None:
    """Reads of an unchanged store keep the KPI and part families' text, and never the lag;
    the first read after a partition changed renders them again."""
    state, store = PartitionState(), MemoryStore()
    reader, exposition = SnapshotReader(store), Exposition()

    async def publish(lines: list[bytes], offset: int) -> None:
        for raw in lines:
            state.apply_raw(raw, NOW_US)
        values = list(state.ledger.values.items())
        await store.publish(
            "p:0", Position(offset, watermark_us=state.ledger.watermark_us), values, True
        )

    await publish(LINES[:3], 2)
    first, _ = await reader.read(None, 1.0)
    text = exposition.render(first, {"p:0": 7}, None)
    assert text == render(first, {"p:0": 7})
    responses = samples(text, "crmkpi_csat_responses")
    assert sum(n for labels, n in responses.items() if ("window", "30d") in labels) == 3
    again, _ = await reader.read(None, 1.0)
    assert again.kpis is first.kpis  # nothing changed: the derivation is reused
    text = exposition.render(again, {"p:0": 0}, None)
    assert text == render(again, {"p:0": 0})
    assert samples(text, m.CONSUMER_LAG) == {(("partition", "p:0"),): 0}
    await publish(LINES[3:], 4)
    changed, _ = await reader.read(None, 1.0)
    text = exposition.render(changed, {}, None)
    assert text == render(changed, {})
    resolved = samples(text, "crmkpi_ticket_resolution_seconds_count")
    assert resolved[(("team", "amer"), ("window", "30d"))] == 1
