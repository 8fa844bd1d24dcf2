"""Announcing churn-risk changes on the `crm.churn_signals` topic.

Exactly one worker announces: the owner of partition 0 of the customers
topic. Records are keyed by customer and carry the customer's whole current
state, so a repeated announcement (after a restart) is harmless to readers.
"""

from __future__ import annotations

import orjson
from aiokafka import AIOKafkaProducer

from kpis.churn import ChurnRisk, risk_changes
from kpis.events import format_time


class ChurnAnnouncer:
    """Remembers what was announced and sends the differences."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self.producer = producer
        self.topic = topic
        self.announced: dict[str, ChurnRisk] = {}

    async def announce(self, risks: list[ChurnRisk], watermark_us: int | None) -> int:
        """Send every change since the last call; returns how many were sent."""
        changes = risk_changes(self.announced, risks)
        watermark = None if watermark_us is None else format_time(watermark_us)
        for risk, at_risk in changes:
            record = {
                "customer_id": risk.customer_id,
                "segment": risk.segment,
                "at_risk": at_risk,
                "signals": list(risk.signals) if at_risk else [],
                "watermark": watermark,
            }
            await self.producer.send_and_wait(
                self.topic, orjson.dumps(record), key=risk.customer_id.encode()
            )
            if at_risk:
                self.announced[risk.customer_id] = risk
            else:
                del self.announced[risk.customer_id]
        return len(changes)
