"""A history much longer than the grace period, with re-deliveries past it, run in-process
through the engine partition by partition: every KPI and count equals the reference."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from aiokafka.partitioner import murmur2

from kpis import checkpoint as cp
from kpis.engine import PartitionState
from kpis.events import Rejection, decode_event
from streams.read.snapshot_reader import SnapshotReader
from streams.read.store import MemoryStore, Position
from streams.simulate import simulate_history
from streams.simulate.anomalies import Anomalies
from tests.reference import compare_snapshot, compute_reference
from tests.reference import murmur2 as reference_murmur2

PARTITIONS = 6
DAYS = 120


def source_of(line: str) -> str:
    """The source partition the producer sends a line to (the domain's topic, Kafka's default
    partitioner on the entity key); undecodable lines go anywhere."""
    try:
        event = decode_event(line.encode())
    except Rejection:
        return "crm.bad:0"
    partition = (murmur2(event.entity_id.encode()) & 0x7FFFFFFF) % PARTITIONS
    return f"crm.{event.domain}:{partition}"


async def test_a_history_four_times_the_grace_period_equals_the_reference() -> None:
    anomalies = replace(Anomalies.default(), stale_copy=0.003)
    lines = list(simulate_history(7, DAYS, anomalies=anomalies, scale=0.3))
    now = datetime.now(UTC)
    now_us = int(now.timestamp() * 1_000_000)
    states: dict[str, PartitionState] = {}
    checkpoints: dict[str, list[bytes]] = {}
    half = len(lines) // 2
    for number, line in enumerate(lines):
        source = source_of(line)
        state = states.setdefault(source, PartitionState())
        state.apply_raw(line.encode(), now_us)
        state.offset += 1
        if number % 500 == 0:  # as the worker's flush: prune, then checkpoint
            for name, each in states.items():
                each.prune()
                checkpoints.setdefault(name, []).append(cp.encode(cp.take_checkpoint(each)))
        if number == half:  # every partition restarts from its checkpoints mid-history
            for name, each in states.items():
                checkpoints[name].append(cp.encode(cp.take_checkpoint(each)))
                states[name] = recovered = PartitionState()
                for raw in checkpoints[name]:
                    cp.restore(recovered, cp.decode(raw))
    reference = compute_reference(lines, now, partitions=PARTITIONS)
    assert reference.rejected["too_late"] > 50 and reference.rejected["duplicate"] > 50
    store = MemoryStore()
    for name, state in states.items():
        position = Position(state.offset, watermark_us=state.ledger.watermark_us)
        await store.publish(name, position, list(state.ledger.values.items()), True)
    snapshot, _ = await SnapshotReader(store).read(None, 1.0)
    assert compare_snapshot(reference, snapshot.to_json()) == []
    held = sum(len(state.event_ids) for state in states.values())
    assert held < reference.accepted / 2  # ids of about G days of 120, plus open entities'


def test_the_reference_hashes_keys_like_kafka() -> None:
    keys = [f"sim-7-{kind}-{n}".encode()[: n % 23] for kind in ("c", "t") for n in range(200)]
    assert [reference_murmur2(key) & 0x7FFFFFFF for key in keys] == [
        murmur2(key) & 0x7FFFFFFF for key in keys
    ]
