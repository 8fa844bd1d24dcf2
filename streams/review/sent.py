"""`crmkpi_reviews_sent_total{channel, outcome}`: every review delivery, failed ones too.

Labels are bounded: `channel` is `slack` or `email`, `outcome` is `sent` or `failed`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest

from kpis.metric_names import REVIEWS_SENT

CHANNELS = ("slack", "email")
OUTCOMES = ("sent", "failed")

_registry = CollectorRegistry(auto_describe=False)
_sent = Counter(
    REVIEWS_SENT,
    "Periodic reviews delivered (or given up after retries) by channel.",
    ("channel", "outcome"),
    registry=_registry,
)
for _channel in CHANNELS:
    for _outcome in OUTCOMES:
        _sent.labels(_channel, _outcome)  # every series present from the start, at 0


def count(channel: str, sent: bool) -> None:
    """One more delivery to `channel`, sent or failed."""
    _sent.labels(channel, OUTCOMES[0] if sent else OUTCOMES[1]).inc()


def exposition() -> bytes:
    """The counter in Prometheus text format, for /metrics."""
    return generate_latest(_registry)
