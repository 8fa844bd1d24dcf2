"""The Faust app of a worker: its consumer group and its Kafka clients' settings."""

from __future__ import annotations

from pathlib import Path

import faust

from streams.config import Settings
from streams.kafka.fetching import FETCH_PARTITION_BYTES, FETCH_RECORDS
from streams.worker.checkpoint_log import MAX_CHECKPOINT_BYTES


def faust_app(settings: Settings, datadir: Path) -> faust.App:
    """The Faust app of a worker: its consumer group and Kafka clients' settings."""
    return faust.App(
        settings.group_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=datadir,
        web_enabled=False,
        autodiscover=False,
        topic_partitions=settings.partitions,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_max_request_size=MAX_CHECKPOINT_BYTES,
        broker_max_poll_records=FETCH_RECORDS,
        consumer_max_fetch_size=FETCH_PARTITION_BYTES,
        # A SIGKILLed worker's partitions move after this long, not Kafka's default minute.
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=min(1.0, settings.session_timeout / 3),
        broker_rebalance_timeout=settings.session_timeout,
    )
