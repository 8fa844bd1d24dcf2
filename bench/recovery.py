"""Recovery bytes and seconds after histories of two lengths, against the checkpoint bytes
in the log: `PYTHONPATH=$PWD python3 -m bench.recovery [DAYS ...]`.

A processor over the embedded broker's checkpoint topic applies a simulated history to
one source partition in fetches of 500 records, then a second checkpoint log recovers it.
The state itself grows with the history (event ids are kept forever until the grace
period of KPIS.md is built), so the figure to compare is recovery bytes per state byte.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer

from kpis import checkpoint as cp
from streams.config import Settings
from streams.kafka.broker import EmbeddedBroker, free_port
from streams.kafka.partitions import PartitionId
from streams.kafka.topics import Topics, ensure_topics
from streams.read.store import MemoryStore
from streams.simulate import simulate_history
from streams.worker.assignment import Assignment
from streams.worker.checkpoint_log import MAX_CHECKPOINT_BYTES, CheckpointLog
from streams.worker.processor import Processor
from streams.worker.record_applier import SourceRecord

SOURCE = PartitionId("crm.opportunities", 0)
FETCH = 500


class _CountingLog(CheckpointLog):
    """Counts the checkpoint bytes appended."""

    appended = 0

    async def append(
        self, checkpoints: list[tuple[PartitionId, cp.Checkpoint]]
    ) -> list[tuple[int, int]]:
        written = await super().append(checkpoints)
        self.appended += sum(size for _, size in written)
        return written


class _Record:
    def __init__(self, offset: int, value: bytes) -> None:
        self.offset, self.value = offset, value
        self.headers: list[tuple[str, bytes]] = []


async def measure(bootstrap: str, days: int) -> dict[str, float]:
    settings = Settings(kafka_bootstrap=bootstrap, partitions=1)
    topics = await ensure_topics(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_request_size=MAX_CHECKPOINT_BYTES
    )
    await producer.start()
    written = _CountingLog(settings, topics.checkpoints, producer)
    reader: CheckpointLog | None = None
    try:
        processor = Processor(Topics(), MemoryStore(), producer, written, Assignment(Topics()))
        lines = [line.encode() for line in simulate_history(7, days, start=_start(days))]
        for first in range(0, len(lines), FETCH):
            batch: list[SourceRecord] = [
                _Record(first + n, line) for n, line in enumerate(lines[first : first + FETCH])
            ]
            await processor.process({SOURCE: batch})
        state_bytes = len(cp.encode(cp.take_snapshot(processor.states[SOURCE])))
        reader = CheckpointLog(settings, topics.checkpoints, producer)
        started = time.monotonic()
        recovered = await reader.recover([SOURCE])
        seconds = time.monotonic() - started
        assert recovered[SOURCE].offset == len(lines) - 1
        ends = await reader.heads([SOURCE])
        return {
            "days": days,
            "events": len(lines),
            "checkpoint_records": ends[SOURCE],
            "state_bytes": state_bytes,
            "checkpoint_bytes": written.appended,
            "recovery_bytes": reader.read_bytes,
            "recovery_seconds": round(seconds, 3),
        }
    finally:
        for log in (written, reader):
            if log is not None:
                await log.close()
        await producer.stop()


def _start(days: int) -> datetime:
    """A start that ends the history now (events in the future are rejected)."""
    return datetime.fromtimestamp(time.time() - (days + 1) * 86400, UTC)


def main(days: list[int]) -> None:
    for length in days:
        with tempfile.TemporaryDirectory() as tmp:
            address = f"127.0.0.1:{free_port()}"
            with EmbeddedBroker(address, log_path=Path(tmp) / "tansu.log") as broker:
                print(asyncio.run(measure(broker.bootstrap, length)), flush=True)


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [30, 120])
