"""The producer SDK: validate canonical events and send each to its topic, keyed by entity.

Valid events go to their domain topic with their original bytes; rejected
lines go to the dead-letter topic with the reason (EVENTS.md), never dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import (
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from typing import Any, TypeVar

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from kpis.events import Envelope, Rejection, check_not_future, decode_event, format_time
from streams.config import Settings
from streams.errors import BrokerUnreachable, CrmkpiError
from streams.kafka.adapter import install_metadata_no_auto_create
from streams.kafka.dead_letters import DeadLetter
from streams.kafka.outcomes import Outcome, ProduceReport, rejected_event_id
from streams.kafka.sent_ids import SentIds
from streams.kafka.topics import Topics, ensure_topics

CHUNK = 10_000  # sends in flight before waiting for their delivery: bounds memory
LINGER_MS = 20
T = TypeVar("T")


class ProducerError(CrmkpiError):
    """The broker could not be reached or did not confirm a delivery."""


class CrmProducer:
    """An async context manager that validates and sends canonical events in batches."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        origin: str = "producer",
        request_timeout: float = 30.0,
        kafka: AIOKafkaProducer | None = None,
    ) -> None:
        """`kafka`: an already started client to share (its owner starts and stops it)."""
        self.settings = settings or Settings()
        self.origin = origin
        self.request_timeout = request_timeout
        self.topics = Topics(self.settings.topic_prefix)
        self.sent_ids = SentIds(self.settings.grace_us())  # only sent events consume an id
        self._pending: list[asyncio.Future[Any]] = []
        self._kafka: AIOKafkaProducer | None = kafka
        self._owns_kafka = kafka is None

    async def start(self) -> None:
        """Create missing topics and connect; `ProducerError` if the broker is unreachable."""
        if not self._owns_kafka:
            return
        install_metadata_no_auto_create()
        kafka = AIOKafkaProducer(
            **self.settings.kafka_options(),
            acks="all",
            linger_ms=LINGER_MS,
            enable_idempotence=False,  # the embedded broker has no transactions
            request_timeout_ms=int(self.request_timeout * 1000),
        )
        try:
            try:
                await self._guard(ensure_topics(self.settings), "cannot reach")
            except BrokerUnreachable as error:  # ensure_topics' own one-line error
                raise ProducerError(str(error)) from None
            await self._guard(kafka.start(), "cannot reach")
        except ProducerError:
            await kafka.stop()
            raise
        self._kafka = kafka

    async def stop(self) -> None:
        """Wait for every pending delivery, then disconnect."""
        if self._kafka is None:
            return
        try:
            await self.flush()
        finally:
            if self._owns_kafka:
                await self._kafka.stop()
                self._kafka = None

    async def __aenter__(self) -> CrmProducer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def send_line(self, raw: bytes) -> Outcome:
        """Validate and send one raw event, waiting for the broker to confirm it."""
        outcome = await self._submit(raw, _now_us())
        await self.flush()
        return outcome

    async def send_event(self, event: Mapping[str, object]) -> Outcome:
        """Serialise a dict event with orjson, then `send_line` it."""
        return await self.send_line(orjson.dumps(event))

    async def send_lines(
        self,
        lines: Iterable[bytes] | AsyncIterable[bytes],
        progress: Callable[[int], None] | None = None,
    ) -> ProduceReport:
        """Validate and send JSONL lines, confirmed in chunks; blank lines are skipped.

        `progress` is called with the number of lines handled so far, after each chunk.
        """
        report = ProduceReport()
        number = reported = 0
        async for raw in _aiter(lines):
            number += 1
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            report.count(number, await self._submit(line, _now_us()))
            if len(self._pending) >= CHUNK:
                await self.flush()
                if progress is not None:
                    progress(number)
                    reported = number
        await self.flush()
        if progress is not None and number != reported:
            progress(number)
        return report

    async def deliver(
        self,
        events: Sequence[tuple[Envelope, bytes]],
        dead_letters: Sequence[DeadLetter] = (),
    ) -> None:
        """Send validated events, each to its topic keyed by entity, and dead letters to the
        dead-letter topic, and wait for exactly these.

        For concurrent callers such as the ingest endpoint: only this call's deliveries
        are awaited, `ProducerError` if any is not confirmed within the request timeout.
        Duplicate ids are left to the worker: a CRM's retried delivery must be accepted.
        """
        kafka = self._client()

        async def send_all() -> None:
            sends = [
                await kafka.send(self.topics.for_event(event), raw, key=event.entity_id.encode())
                for event, raw in events
            ]
            sends += [
                await kafka.send(self.topics.dlq, letter.value, headers=letter.headers())
                for letter in dead_letters
            ]
            await asyncio.gather(*sends)

        await self._guard(send_all(), "delivery failed to")

    async def flush(self) -> None:
        """Wait until the broker confirmed every send so far; `ProducerError` if one failed."""
        pending, self._pending = self._pending, []
        if pending:
            await self._guard(asyncio.gather(*pending), "delivery failed to")

    async def _submit(self, raw: bytes, now_us: int) -> Outcome:
        """Queue one line on its domain topic or the dead-letter topic, without waiting."""
        kafka = self._client()
        try:
            event = decode_event(raw)
            t_us = check_not_future(event, now_us)
            if self.sent_ids.is_duplicate(event.event_id, t_us):
                raise Rejection("duplicate", f"event_id {event.event_id!r} was already sent")
        except Rejection as rejection:
            letter = DeadLetter.of(raw, rejection, format_time(now_us), self.origin)
            await self._queue(kafka.send(self.topics.dlq, raw, headers=letter.headers()))
            return Outcome(
                self.topics.dlq, rejected_event_id(raw), rejection.reason, rejection.detail
            )
        topic = self.topics.for_event(event)
        await self._queue(kafka.send(topic, raw, key=event.entity_id.encode()))
        self.sent_ids.add(event.event_id, t_us)
        return Outcome(topic, event.event_id)

    def _client(self) -> AIOKafkaProducer:
        if self._kafka is None:
            raise ProducerError("producer not started: use `async with CrmProducer(...)`")
        return self._kafka

    async def _queue(self, sending: Awaitable[asyncio.Future[Any]]) -> None:
        # aiokafka's send only waits while its buffer is full, up to its request timeout
        try:
            self._pending.append(await sending)
        except KafkaError as error:
            raise self._error("cannot send to", error) from None

    async def _guard(self, step: Awaitable[T], what: str) -> T:
        """Await a broker step for at most the request timeout, or raise `ProducerError`."""
        try:
            return await asyncio.wait_for(step, self.request_timeout)
        except (KafkaError, OSError, TimeoutError) as error:
            raise self._error(what, error) from None

    def _error(self, what: str, error: BaseException) -> ProducerError:
        if isinstance(error, TimeoutError):
            reason = f"no answer within {self.request_timeout:g} s"
        else:
            reason = str(error) or type(error).__name__
        return ProducerError(
            f"{what} the Kafka broker at {self.settings.kafka_bootstrap}: {reason} "
            "(is it running? set CRMKPI_KAFKA_BOOTSTRAP or --bootstrap)"
        )


async def _aiter(lines: Iterable[bytes] | AsyncIterable[bytes]) -> AsyncIterable[bytes]:
    if isinstance(lines, AsyncIterable):
        async for line in lines:
            yield line
    else:
        for line in lines:
            yield line


def _now_us() -> int:
    return time.time_ns() // 1000
