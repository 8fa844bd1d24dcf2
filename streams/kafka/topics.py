"""Topic names (EVENTS.md "Topics and keys") and their creation."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from kpis.events import DOMAINS, Envelope
from streams.config import Settings
from streams.errors import BrokerUnreachable


@dataclass(frozen=True)
class Topics:
    """The names of every topic crmkpi reads or writes, under one prefix."""

    prefix: str = "crm."

    @property
    def domains(self) -> tuple[str, ...]:
        """One topic per event domain: `crm.leads`, `crm.opportunities`, ..."""
        return tuple(self.prefix + domain for domain in DOMAINS)

    @property
    def dlq(self) -> str:
        return self.prefix + "dlq"

    @property
    def churn_signals(self) -> str:
        return self.prefix + "churn_signals"

    @property
    def checkpoints(self) -> str:
        """Where each source partition's state changes are written, atomically with its offset."""
        return self.prefix + "state_checkpoints"

    @property
    def review_sent(self) -> str:
        """The periods whose review each channel got (docs/review.md): a few records a month."""
        return self.prefix + "review_sent"

    @property
    def sources(self) -> tuple[str, ...]:
        """What the worker consumes: the domain topics and the dead-letter topic."""
        return (*self.domains, self.dlq)

    def for_event(self, event: Envelope) -> str:
        """The topic of an event's domain."""
        return self.prefix + event.domain


CHECKPOINT_CONFIG = {"retention.ms": "-1", "retention.bytes": "-1"}
"""Checkpoints are changes, read back from the start to recover: none may ever expire
(Kafka deletes records older than 7 days by default)."""


async def ensure_topics(settings: Settings) -> Topics:
    """Create every topic that does not exist yet, with the configured partition count."""
    topics = Topics(settings.topic_prefix)
    names = (*topics.sources, topics.churn_signals, topics.checkpoints, topics.review_sent)
    kept_forever = (topics.checkpoints, topics.review_sent)
    admin = AIOKafkaAdminClient(**settings.kafka_options())
    try:
        await admin.start()
    except KafkaError as error:
        raise BrokerUnreachable(
            f"cannot reach the Kafka broker at {settings.kafka_bootstrap}: {error} "
            "(is it running? set CRMKPI_KAFKA_BOOTSTRAP or --bootstrap)"
        ) from None
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name,
                num_partitions=settings.partitions,
                replication_factor=1,
                topic_configs=CHECKPOINT_CONFIG if name in kept_forever else {},
            )
            for name in names
            if name not in existing
        ]
        if missing:
            with suppress(TopicAlreadyExistsError):  # another process created them first
                await admin.create_topics(missing)
    finally:
        await admin.close()
    return topics
