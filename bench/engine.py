"""The engine alone, in process: the worker's own cost an event, without Kafka or reads.

    PYTHONPATH=$PWD python3 -m bench.engine                  # 1,080 days, chunks of 3,000
    PYTHONPATH=$PWD python3 -m bench.engine --chunk 25000 --repeat 5

The history of `bench.catchup` (1,080 days at scale 0.17, seed 7, ending yesterday), each
event on its source partition (its domain topic, Kafka's default partitioner over the
default 6 partitions). Each partition's records are applied `--chunk` at a time, round
robin over the partitions, as fetches bring them to a worker catching up; after each chunk
the partition is pruned (a chunk spans days of the history, far past the worker's 10
minutes between prunes) and its checkpoint taken by the worker's snapshot policy and
encoded. No broker, no store, no reader: a repeatable figure for changes to the engine,
whose share of a real catch-up `bench.catchup --profile` shows.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Annotated

import typer

from bench import workload
from bench.catchup import DAYS, SCALE, SEED, history_ending_yesterday
from bench.snapshot import source_partition
from kpis import checkpoint as cp
from kpis.engine import PartitionState
from streams.kafka.partitions import PartitionId
from streams.kafka.topics import Topics
from streams.worker.snapshots import SnapshotPolicy

PARTITIONS = 6
CHUNK = 3_000  # records of one partition a fetch brings: about 1 MiB of events


@dataclass(frozen=True)
class Timing:
    """Seconds spent applying records and flushing (prune, checkpoint) over one run."""

    apply: float
    flush: float


def chunks(lines: list[bytes], chunk: int) -> list[tuple[PartitionId, list[bytes]]]:
    """Each partition's records `chunk` at a time, round robin over the partitions."""
    by_source: dict[PartitionId, list[bytes]] = {}
    for record in workload.keyed(lines, Topics()):
        source = PartitionId(record.topic, source_partition(record.key, PARTITIONS))
        by_source.setdefault(source, []).append(record.value)
    longest = max(map(len, by_source.values()))
    return [
        (source, records[start : start + chunk])
        for start in range(0, longest, chunk)
        for source, records in by_source.items()
        if start < len(records)
    ]


def run(batches: list[tuple[PartitionId, list[bytes]]]) -> Timing:
    """Apply every chunk to a fresh state per partition, flushing after each."""
    states: dict[PartitionId, PartitionState] = {}
    policy = SnapshotPolicy()
    log_offsets: dict[PartitionId, int] = {}
    now_us = time.time_ns() // 1000
    applying = flushing = 0.0
    for source, records in batches:
        state = states.setdefault(source, PartitionState())
        started = time.perf_counter()
        for raw in records:
            state.apply_raw(raw, now_us)
            state.offset += 1
        applied = time.perf_counter()
        state.prune()
        taken = policy.take(source, state)
        log_offsets[source] = log_offsets.get(source, -1) + 1
        policy.written(
            source, taken.checkpoint, log_offsets[source], len(cp.encode(taken.checkpoint))
        )
        applying += applied - started
        flushing += time.perf_counter() - applied
    return Timing(applying, flushing)


def main(
    days: Annotated[int, typer.Option(help="Days of history.")] = DAYS,
    chunk: Annotated[int, typer.Option(help="Records of one partition applied at once.")] = CHUNK,
    repeat: Annotated[int, typer.Option(help="Runs; the median is reported.")] = 3,
) -> None:
    lines = [line.encode() for line in history_ending_yesterday(SEED, days, SCALE)]
    batches = chunks(lines, chunk)
    timings = []
    for number in range(1, repeat + 1):
        timing = run(batches)
        timings.append(timing)
        print(
            f"run {number}: {1e6 * (timing.apply + timing.flush) / len(lines):.2f} µs an event "
            f"(applying {1e6 * timing.apply / len(lines):.2f}, "
            f"pruning and checkpoints {1e6 * timing.flush / len(lines):.2f})",
            flush=True,
        )
    apply = statistics.median(t.apply for t in timings)
    flush = statistics.median(t.flush for t in timings)
    print(
        f"{len(lines):,} events over {days} days, {len(batches):,} chunks of up to {chunk:,}: "
        f"median {1e6 * apply / len(lines):.2f} µs an event applying, "
        f"{1e6 * flush / len(lines):.2f} pruning and taking checkpoints"
    )


if __name__ == "__main__":
    typer.run(main)
