"""The last period each review channel got, kept in the topic `crm.review_sent`.

One record per delivery: key `weekly:slack`, value `weekly:2026-W11`; the last record of a
key wins. The topic never expires records (a few a month), so a restarted or newly elected
reporter reads what was sent, whatever the store (memory or Redis). Records go to partition
0 only: one log, read in order.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.config import Settings

PARTITION = 0
READ_TIMEOUT_MS = 1000


def sent_key(kind: str, channel: str) -> str:
    """`weekly:slack`."""
    return f"{kind}:{channel}"


class SentLog:
    """Reads and appends the review-sent records."""

    def __init__(self, settings: Settings, topic: str, producer: AIOKafkaProducer) -> None:
        self.settings = settings
        self.topic = topic
        self.producer = producer

    async def read(self) -> dict[str, str]:
        """The last period id recorded for each key, reading the partition to its end."""
        partition = TopicPartition(self.topic, PARTITION)
        consumer = AIOKafkaConsumer(**self.settings.kafka_options(), enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign([partition])
            end = (await consumer.end_offsets([partition]))[partition]
            await consumer.seek_to_beginning(partition)
            sent: dict[str, str] = {}
            while await consumer.position(partition) < end:
                batches = await consumer.getmany(partition, timeout_ms=READ_TIMEOUT_MS)
                for record in batches.get(partition, []):
                    if record.key is not None and record.value is not None:
                        sent[record.key.decode()] = record.value.decode()
            return sent
        finally:
            await consumer.stop()

    async def record(self, key: str, period_id: str) -> None:
        """Append that `key` got `period_id` (acknowledged by the broker when it returns)."""
        await self.producer.send_and_wait(
            self.topic, period_id.encode(), key=key.encode(), partition=PARTITION
        )
