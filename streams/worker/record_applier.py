"""Applying one source record to its partition's state, and dead-lettering what is rejected."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer

from kpis.engine import PartitionState
from kpis.events import Rejection, format_time
from streams.kafka.dead_letters import WORKER, DeadLetter
from streams.kafka.partitions import PartitionId

log = logging.getLogger(__name__)


class SourceRecord(Protocol):
    """The parts of a consumed record the processor needs (an aiokafka `ConsumerRecord`)."""

    @property
    def offset(self) -> int: ...

    @property
    def value(self) -> bytes | None: ...

    @property
    def headers(self) -> Any: ...


class RecordApplier:
    """Applies records (events, or dead letters read back) and sends the rejected ones to
    the dead-letter topic; counts what it wrote and the processing errors."""

    def __init__(self, producer: AIOKafkaProducer, dlq: str) -> None:
        self.producer = producer
        self.dlq = dlq
        self.processing_errors = 0
        self.dead_letters: Counter[str] = Counter()  # written since start, by reason

    def apply(
        self, state: PartitionState, source: PartitionId, record: SourceRecord, now_us: int
    ) -> DeadLetter | None:
        """Apply one record; the dead letter to send when it was rejected."""
        if source.topic == self.dlq:
            letter = DeadLetter.from_record(record.value or b"", record.headers)
            if letter.origin != WORKER:  # the worker counted its own rejections already
                state.count_rejection(letter.reason)
            return None  # never dead-lettered again
        value = record.value or b""
        try:
            _, rejection = state.apply_raw(value, now_us)
        except Exception as error:  # a bug must not stop the stream: count it and dead-letter
            log.exception("processing error at %s:%d", source, record.offset)
            self.processing_errors += 1
            rejection = Rejection("processing_error", repr(error))
            state.count_rejection(rejection.reason)
        if rejection is None:
            return None
        at = format_time(now_us)
        origin = f"{source}:{record.offset}"
        return DeadLetter(value, rejection.reason, rejection.detail, at, WORKER, origin)

    async def send(self, letters: list[DeadLetter]) -> None:
        """Send dead letters and wait until the broker has all."""
        sends = [
            await self.producer.send(self.dlq, letter.value, headers=letter.headers())
            for letter in letters
        ]
        if sends:
            await asyncio.gather(*sends)
        self.dead_letters.update(letter.reason for letter in letters)
