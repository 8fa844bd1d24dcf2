"""`crmkpi_ingest_requests_total{source, outcome}`: every ingest request, refused ones too.

Labels are bounded: `source` is a known source or `unknown`, `outcome` one of `OUTCOMES`;
never an id, a path or anything else a caller chooses.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest

from kpis.metric_names import INGEST_REQUESTS
from streams.http.ingest.sources import SOURCES

UNKNOWN_SOURCE = "unknown"
OUTCOMES = (
    "accepted",
    "unknown_source",
    "disabled",
    "unauthorized",
    "too_large",
    "busy",
    "slow_body",
    "bad_payload",
    "broker_unavailable",
    "bad_host",
)

_registry = CollectorRegistry(auto_describe=False)
_requests = Counter(
    INGEST_REQUESTS,
    "Webhook ingest requests by source and outcome (refused ones included).",
    ("source", "outcome"),
    registry=_registry,
)


def count(source: str, outcome: str) -> None:
    """One more request of `source` (a name from the path) with `outcome`."""
    _requests.labels(source if source in SOURCES else UNKNOWN_SOURCE, outcome).inc()


def exposition() -> bytes:
    """The counter in Prometheus text format, for /metrics."""
    return generate_latest(_registry)
