"""(e) Snapshot build, `/metrics` and `/kpis` rendering for a big state, in process.

The state is the one a worker holds after the throughput workload: every event
applied to the state of its source partition (Kafka's default partitioner over
the default partition count), each partition pruned as the worker prunes, and
published to an in-process store. No broker: this isolates the read path.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import orjson
from aiokafka.partitioner import murmur2

from bench.workload import KafkaRecord
from kpis.engine import PartitionState
from streams.config import Settings
from streams.read.exposition import render
from streams.read.snapshot_reader import Snapshot, SnapshotReader
from streams.read.store import MemoryStore, Position
from streams.read.worker_view import WorkerView


def source_partition(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2 of the key)."""
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions


LIVE_STEP_EVENTS = 200  # events applied between two reads in the live measure


def apply_records(
    states: dict[str, PartitionState], records: list[KafkaRecord], partitions: int
) -> None:
    """Every record applied to its source partition's state, as the worker applies it."""
    now_us = time.time_ns() // 1000
    for record in records:
        name = f"{record.topic}:{source_partition(record.key, partitions)}"
        state = states.get(name)
        if state is None:
            state = states[name] = PartitionState()
        state.apply_raw(record.value, now_us)
        state.offset += 1


def partition_states(records: list[KafkaRecord], partitions: int) -> dict[str, PartitionState]:
    """The states `records` leave, each pruned as the worker prunes."""
    states: dict[str, PartitionState] = {}
    apply_records(states, records, partitions)
    for state in states.values():
        state.ledger.prune()
    return states


async def publish_all(states: dict[str, PartitionState]) -> MemoryStore:
    store = MemoryStore()
    for state in states.values():
        state.ledger.take_changes()  # published whole below
    await publish_changes(store, states, full=True)
    return store


async def publish_changes(
    store: MemoryStore, states: dict[str, PartitionState], full: bool = False
) -> None:
    """Publish each state's changes since the last call (`full`: its whole values)."""
    for name, state in states.items():
        position = Position(state.offset, watermark_us=state.ledger.watermark_us)
        if full:
            await store.publish(name, position, list(state.ledger.values.items()), True)
        elif changes := state.ledger.take_changes():
            await store.publish(name, position, changes, False)


async def _timed_ms(work: Callable[[], Awaitable[object]], repeat: int) -> float:
    """The median time of `repeat` runs of `work`, in ms."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def _measure(
    store: MemoryStore,
    states: dict[str, PartitionState],
    live: list[KafkaRecord],
    partitions: int,
    repeat: int,
) -> dict[str, float]:
    gross_margin = Settings().gross_margin
    worker = WorkerView(frozenset(store.partitions), reporter=True)
    warm = SnapshotReader(store)
    biggest = max(store.partitions.items(), key=lambda item: len(item[1].values))

    async def snapshot(reader: SnapshotReader | None) -> Snapshot:
        snapshot, _ = await (reader or SnapshotReader(store)).read(None, gross_margin)
        return snapshot

    steps = iter(range(0, len(live), LIVE_STEP_EVENTS))

    async def live_step() -> None:
        start = next(steps)  # the next events applied and their changes published
        apply_records(states, live[start : start + LIVE_STEP_EVENTS], partitions)
        await publish_changes(store, states)
        await snapshot(warm)

    async def one_whole() -> None:
        name, view = biggest  # published whole again, as after a recovery
        position = Position(view.offset, watermark_us=view.watermark_us)
        await store.publish(name, position, list(view.values.items()), True)
        await snapshot(warm)

    async def metrics(reader: SnapshotReader | None) -> None:
        render(await snapshot(reader), {}, worker)

    async def kpis(reader: SnapshotReader | None) -> None:
        orjson.dumps((await snapshot(reader)).to_json())

    await snapshot(warm)
    return {
        "snapshot_cold_ms": await _timed_ms(lambda: snapshot(None), repeat),
        "snapshot_one_whole_ms": await _timed_ms(one_whole, repeat),
        "snapshot_live_step_ms": await _timed_ms(live_step, repeat),
        "snapshot_warm_ms": await _timed_ms(lambda: snapshot(warm), repeat),
        "metrics_cold_ms": await _timed_ms(lambda: metrics(None), repeat),
        "metrics_warm_ms": await _timed_ms(lambda: metrics(warm), repeat),
        "kpis_cold_ms": await _timed_ms(lambda: kpis(None), repeat),
        "kpis_warm_ms": await _timed_ms(lambda: kpis(warm), repeat),
        "metrics_bytes": len(render(await snapshot(warm), {}, worker)),
    }


def measure(records: list[KafkaRecord], repeat: int = 5, partitions: int = 6) -> dict[str, float]:
    """Times (median of `repeat`) to build a snapshot of the state `records` leave, and to
    answer `/metrics` and `/kpis` from it (snapshot included), with the state's size.

    Cold: a new reader, every partition summarized (as when all changed since the last
    read); warm: nothing changed; one whole: the biggest partition was published whole
    again (as after a recovery); live step: the next `LIVE_STEP_EVENTS` events were
    applied and their changes published, as a worker does between two reads.
    """
    held_back = LIVE_STEP_EVENTS * repeat
    states = partition_states(records[:-held_back], partitions)
    store = asyncio.run(publish_all(states))
    return {
        "events": len(records),
        "partitions": len(states),
        "part_keys": sum(len(state.ledger.values) for state in states.values()),
        "biggest_partition_keys": max(len(state.ledger.values) for state in states.values()),
        **asyncio.run(_measure(store, states, records[-held_back:], partitions, repeat)),
    }
