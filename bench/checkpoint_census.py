"""What a checkpoint log holds for a recovery of all its sources (bench/longhaul.py).

Appends a fence to each checkpoint partition and reads it whole up to there, with no
worker running (the next recovery reads these fences too: a few dozen bytes). It tells,
per source, its latest snapshot's bytes, the bytes of its changes after it and the size
of the state they rebuild (pruned, encoded as a snapshot); and what else a recovery of
every source reads from the smallest base of each checkpoint partition to its end:
records of sources before their own base (superseded) and fences.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from kpis import checkpoint as cp
from kpis.engine import PartitionState
from kpis.ledger import Ledger
from kpis.retention import ENTRY_KINDS
from streams.config import Settings
from streams.kafka.topics import Topics
from streams.worker.checkpoint_log import MAX_CHECKPOINT_BYTES
from streams.worker.checkpoint_reader import FENCE

Record = tuple[int, bytes, int, cp.Checkpoint | None]
"""A checkpoint-log record: offset, key, bytes (key and value), checkpoint (None: a fence)."""


@dataclass
class Census:
    """Bytes a recovery of every source reads, by what they are; and the state rebuilt."""

    snapshots: int = 0  # each source's latest snapshot (its base)
    changes: int = 0  # each source's changes after its base
    superseded: int = 0  # records of a source before its base, behind the smallest base
    fences: int = 0
    state: int = 0  # the rebuilt states, pruned as the worker prunes, encoded as snapshots
    ids_by_owner: Counter[str] = field(default_factory=Counter)  # held ids, by entity kind

    @property
    def reads(self) -> int:
        """What a recovery reads: the smallest base of each partition to its end."""
        return self.snapshots + self.changes + self.superseded + self.fences


def take(bootstrap: str, settings: Settings | None = None) -> Census:
    """The census of the checkpoint topic on `bootstrap` (no worker may write meanwhile)."""
    settings = settings or Settings(kafka_bootstrap=bootstrap)
    census = Census()
    for records in asyncio.run(_read_all(settings)).values():
        _count(census, records, settings)
    return census


async def _read_all(settings: Settings) -> dict[int, list[Record]]:
    """Every record of each checkpoint partition, up to a fence appended first (the end
    offsets Tansu reports can lag behind the records it serves; see `checkpoint_log`)."""
    tps = [TopicPartition(Topics().checkpoints, p) for p in range(settings.partitions)]
    producer = AIOKafkaProducer(**settings.kafka_options(), acks="all")
    now = (time.time_ns() // 1000).to_bytes(8, "big")  # valued as the workers' fences
    await producer.start()
    try:
        sent = [
            await producer.send(
                tp.topic,
                now,
                partition=tp.partition,
                key=f"{tp.partition}".encode() + FENCE + b"census",
            )
            for tp in tps
        ]
        fences = {
            tp: (await acknowledged).offset for tp, acknowledged in zip(tps, sent, strict=True)
        }
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        **settings.kafka_options(),
        enable_auto_commit=False,
        max_partition_fetch_bytes=MAX_CHECKPOINT_BYTES,
        fetch_max_bytes=MAX_CHECKPOINT_BYTES * 4,
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: dict[int, list[Record]] = {tp.partition: [] for tp in tps}
        reading = set(tps)
        while reading:
            for tp, batch in (await consumer.getmany(*reading, timeout_ms=1000)).items():
                for record in batch:
                    if record.offset >= fences[tp]:
                        reading.discard(tp)
                        break
                    key, value = record.key or b"", record.value or b""
                    checkpoint = None if FENCE in key else cp.decode(value)
                    size = len(key) + len(value)
                    records[tp.partition].append((record.offset, key, size, checkpoint))
        return records
    finally:
        await consumer.stop()


def _count(census: Census, records: list[Record], settings: Settings) -> None:
    """Add one checkpoint partition's records to the census."""
    if not records:
        return
    log_start = records[0][0]
    bases: dict[bytes, int] = {}
    for offset, key, _, checkpoint in records:
        if checkpoint is not None:
            base = offset if checkpoint.full else checkpoint.base
            bases[key] = base if base >= 0 else log_start
    start = min(bases.values(), default=log_start)
    states: dict[bytes, PartitionState] = {}
    for offset, key, size, checkpoint in records:
        if offset < start:
            continue
        if checkpoint is None:
            census.fences += size
        elif offset < bases[key]:
            census.superseded += size
        else:
            if checkpoint.full and offset == bases[key]:
                census.snapshots += size
            else:
                census.changes += size
            if key not in states:
                states[key] = _empty(settings, checkpoint.incarnation)
            cp.restore(states[key], checkpoint)
    for state in states.values():
        state.prune()  # what the worker held: it prunes once a day of watermark
        census.state += len(cp.encode(cp.take_snapshot(state)))
        census.ids_by_owner.update(
            "none" if isinstance(owner, int) else ENTRY_KINDS[type(owner)]
            for owner in state.event_ids.values()
        )


def _empty(settings: Settings, incarnation: int) -> PartitionState:
    state = PartitionState(
        churn_rules=settings.churn_rules(),
        ledger=Ledger(settings.zone()),
        grace_us=settings.grace_us(),
    )
    state.incarnation = incarnation
    return state
